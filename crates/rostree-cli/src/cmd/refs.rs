//! `ostree refs`: list, create and delete refs.

use anyhow::{Result, bail};
use rostree::Repo;
use rostree::repo::RefKind;

use crate::{GlobalOptions, util};

/// Arguments of `refs`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Delete refs which match PREFIX, rather than listing them
    #[arg(long)]
    delete: bool,
    /// Do not remove the prefix from the refs
    #[arg(long)]
    list: bool,
    /// Create a new ref for an existing commit
    #[arg(long, value_name = "NEWREF")]
    create: Option<String>,
    /// Overwrite existing refs when creating
    #[arg(long)]
    force: bool,
    /// Prefixes to list (or with --create, the commit)
    prefixes: Vec<String>,
}

/// Every ref, local ones by name and remote ones as `remote:name`.
fn all_refs(repo: &Repo) -> Result<Vec<(String, RefKind, String)>> {
    let mut out = Vec::new();
    for (name, _) in repo.list_refs(&RefKind::Local)? {
        out.push((name.clone(), RefKind::Local, name));
    }
    for remote in repo.list_ref_remotes()? {
        for (name, _) in repo.list_refs(&RefKind::Remote(remote.clone()))? {
            out.push((
                format!("{remote}:{name}"),
                RefKind::Remote(remote.clone()),
                name,
            ));
        }
    }
    out.sort();
    Ok(out)
}

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    let repo = global.open_repo()?;
    if let Some(new) = &args.create {
        let [target] = args.prefixes.as_slice() else {
            bail!("--create requires specifying exactly one existing ref or commit");
        };
        let checksum = repo.resolve_rev(target)?;
        repo.load_commit(&checksum)?;
        let (kind, name) = match new.split_once(':') {
            Some((remote, name)) => (RefKind::Remote(remote.to_owned()), name),
            None => (RefKind::Local, new.as_str()),
        };
        if !args.force && repo.read_ref(&kind, name)?.is_some() {
            bail!("--create specified but ref {new} already exists");
        }
        repo.set_ref(&kind, name, Some(&checksum))?;
        return Ok(0);
    }
    if args.delete && args.prefixes.is_empty() {
        bail!("At least one PREFIX is required when deleting refs");
    }
    let refs = all_refs(&repo)?;
    let prefixes = if args.prefixes.is_empty() {
        vec![String::new()]
    } else {
        args.prefixes.clone()
    };
    let mut out = String::new();
    for prefix in &prefixes {
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
                    shown.as_str()
                } else {
                    shown[prefix.len()..].trim_start_matches('/')
                };
            if !display.is_empty() {
                out.push_str(display);
                out.push('\n');
            }
        }
    }
    util::write_stdout(out.as_bytes())?;
    Ok(0)
}
