//! `ostree refs`: list, create and delete refs, collection refs and aliases.

use anyhow::{Context, Result, bail};
use rostree::Repo;
use rostree::core::ghash::{HashOrder, str_hash};
use rostree::core::refname::validate_collection_id;
use rostree::repo::RefKind;

use crate::{GlobalOptions, json, util};

/// Arguments of `refs`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] [PREFIX]")]
pub struct Args {
    /// Delete refs which match PREFIX, rather than listing them
    #[arg(long)]
    delete: bool,
    /// Do not remove the prefix from the refs
    #[arg(long)]
    list: bool,
    /// If used with --create, create an alias, otherwise just list aliases
    #[arg(short = 'A', long)]
    alias: bool,
    /// Create a new ref for an existing commit
    #[arg(long, value_name = "NEWREF")]
    create: Option<String>,
    /// Enable listing collection IDs for refs
    #[arg(short = 'c', long)]
    collections: bool,
    /// Overwrite existing refs when creating
    #[arg(long)]
    force: bool,
    /// Print the listing as JSON (rostree's own; docs/json.md)
    #[arg(long)]
    json: bool,
    /// Prefixes to list (or with --create, the commit)
    prefixes: Vec<String>,
}

/// One listed ref as JSON: the name as the text shows it, the full ref, its remote and
/// collection, and the commit it points to.
fn ref_json(
    repo: &Repo,
    shown: &str,
    full: &str,
    kind: &RefKind,
    name: &str,
) -> Result<serde_json::Value> {
    let (remote, collection_id) = match kind {
        RefKind::Local => (None, None),
        RefKind::Remote(r) => (Some(r.as_str()), None),
        RefKind::Mirror(id) => (None, Some(id.as_str())),
    };
    let checksum = match repo.read_ref(kind, name)? {
        Some(c) => c,
        None => repo.resolve_rev(full)?,
    };
    Ok(serde_json::json!({
        "name": shown,
        "ref": full,
        "remote": remote,
        "collection_id": collection_id,
        "checksum": checksum.to_hex(),
    }))
}

/// Every ref, local ones by name and remote ones as `remote:name`, in the order upstream
/// inserts them into its table: refs/heads depth first, then each remote, in directory order.
fn all_refs(repo: &Repo) -> Result<Vec<(String, RefKind, String)>> {
    Ok(repo
        .list_all_refs_unsorted()?
        .into_iter()
        .map(|r| (r.shown, r.kind, r.name))
        .collect())
}

/// Lines in the order upstream prints them: GLib hash-table order of `keys`, inserted in
/// the given order, each with its hash.
fn hash_order<T>(items: impl IntoIterator<Item = (u32, String, T)>) -> Vec<(String, T)> {
    let mut table = HashOrder::new();
    for (hash, key, value) in items {
        table.insert(key, value, hash);
    }
    table.into_entries()
}

fn create(repo: &Repo, args: &Args, new: &str) -> Result<i32> {
    let target = match args.prefixes.as_slice() {
        [] => bail!("You must specify a revision when creating a new ref"),
        [t] => t,
        _ => bail!("You must specify only 1 existing ref when creating a new ref"),
    };
    let (kind, name) = match new.split_once(':') {
        Some((id, name)) if args.collections => {
            validate_collection_id(id)?;
            // The repository's own collection is its heads, as upstream stores it.
            if repo.collection_id().as_deref() == Some(id) {
                (RefKind::Local, name)
            } else {
                (RefKind::Mirror(id.to_owned()), name)
            }
        }
        Some((remote, name)) => (RefKind::Remote(remote.to_owned()), name),
        None => (RefKind::Local, new),
    };
    // An alias may be repointed; a ref is replaced only with --force.
    let replacing_alias = args.alias && repo.list_aliases()?.contains_key(new);
    // With --collections upstream looks for `CID:REF` as a rev (a remote's ref), not in
    // the collection: an existing collection ref is overwritten, as there.
    let exists = if args.collections {
        repo.resolve_rev_optional(new)?.is_some()
    } else {
        repo.read_ref(&kind, name)?.is_some()
    };
    if !replacing_alias && !args.force && exists {
        bail!("--create specified but ref {new} already exists");
    }
    if args.alias {
        if let RefKind::Remote(remote) = &kind {
            bail!("Cannot create alias to remote ref: {remote}");
        }
        if repo.read_ref(&RefKind::Local, target)?.is_none() {
            bail!("Cannot create alias to non-existent ref: {target}");
        }
        repo.set_alias(new, target)?;
        return Ok(0);
    }
    let checksum = repo.resolve_rev(target)?;
    repo.set_ref(&kind, name, Some(&checksum))?;
    Ok(0)
}

fn list_collections(repo: &Repo, args: &Args) -> Result<i32> {
    for prefix in &args.prefixes {
        validate_collection_id(prefix).map_err(|e| anyhow::anyhow!("Listing refs: {e}"))?;
    }
    let mut out = String::new();
    let mut listed = Vec::new();
    for r in rostree::repo::collections::list_collection_refs(repo)? {
        let (id, name) = (r.collection_id, r.name);
        if !args.prefixes.is_empty() && !args.prefixes.contains(&id) {
            continue;
        }
        if args.delete {
            // As upstream: a collection's refs are its mirrors, or the heads for the
            // repository's own; remote refs stay.
            if !matches!(r.kind, RefKind::Remote(_)) {
                repo.set_ref(&r.kind, &name, None)?;
            }
            continue;
        }
        if args.json {
            let mut item = ref_json(repo, &name, &name, &r.kind, &name)?;
            item["collection_id"] = serde_json::json!(id);
            listed.push(item);
        }
        out.push_str(&format!("({id}, {name})\n"));
    }
    if args.json && !args.delete {
        json::print(&serde_json::json!({ "refs": listed }))?;
    } else {
        util::write_stdout(out.as_bytes())?;
    }
    Ok(0)
}

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    let repo = global.open_repo()?;
    if let Some(new) = &args.create {
        return create(&repo, &args, new);
    }
    if args.delete && args.prefixes.is_empty() {
        bail!("At least one PREFIX is required when deleting refs");
    }
    if args.collections {
        return list_collections(&repo, &args);
    }
    if args.alias {
        let aliases = repo.list_aliases()?;
        let mut out = String::new();
        let mut listed = Vec::new();
        let keys = all_refs(&repo)?
            .into_iter()
            .filter(|r| r.1 == RefKind::Local);
        for (name, ()) in
            hash_order(keys.map(|(shown, _, _)| (str_hash(shown.as_bytes()), shown, ())))
        {
            if let Some(target) = aliases.get(&name) {
                out.push_str(&format!("{name} -> {target}\n"));
                if args.json {
                    listed.push(serde_json::json!({
                        "name": name,
                        "target": target,
                        "checksum": repo.resolve_rev(&name)?.to_hex(),
                    }));
                }
            }
        }
        if args.json {
            json::print(&serde_json::json!({ "aliases": listed }))?;
        } else {
            util::write_stdout(out.as_bytes())?;
        }
        return Ok(0);
    }
    let refs = all_refs(&repo).context("Listing refs")?;
    let prefixes = if args.prefixes.is_empty() {
        vec![String::new()]
    } else {
        // `REMOTE:.` is all of the remote's refs, as `REMOTE:` (flatpak writes it so).
        args.prefixes
            .iter()
            .map(|p| match p.strip_suffix(":.") {
                Some(remote) => format!("{remote}:"),
                None => p.clone(),
            })
            .collect()
    };
    let mut out = String::new();
    let mut listed = Vec::new();
    for prefix in &prefixes {
        // Each prefix is its own listing upstream, with its own table.
        let mut keys = Vec::new();
        for (shown, kind, name) in &refs {
            let matched = prefix.is_empty()
                || shown == prefix
                || shown.starts_with(&format!("{prefix}/"))
                || (prefix.ends_with(':') && shown.starts_with(prefix.as_str()));
            if !matched {
                continue;
            }
            if args.delete {
                repo.set_ref(kind, name, None)?;
                continue;
            }
            // A prefix that is itself a ref shows its full name.
            let display =
                if args.list || prefix.is_empty() || prefix.ends_with(':') || shown == prefix {
                    shown.clone()
                } else if let Some((remote, _)) = prefix.split_once(':') {
                    // A remote's refs below a prefix keep the remote's name.
                    let rest = shown[prefix.len()..].trim_start_matches('/');
                    format!("{remote}:{rest}")
                } else {
                    shown[prefix.len()..].trim_start_matches('/').to_owned()
                };
            keys.push((str_hash(display.as_bytes()), display, (shown, kind, name)));
        }
        for (line, (shown, kind, name)) in hash_order(keys) {
            if args.json {
                listed.push(ref_json(&repo, &line, shown, kind, name)?);
            }
            out.push_str(&line);
            out.push('\n');
        }
    }
    if args.json && !args.delete {
        json::print(&serde_json::json!({ "refs": listed }))?;
    } else {
        util::write_stdout(out.as_bytes())?;
    }
    Ok(0)
}
