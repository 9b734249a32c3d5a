//! `ostree show`: print a commit (or one of its metadata keys).

use anyhow::{Result, bail};
use rostree::core::gvariant::{Type, Value, print_text};
use rostree::core::object::Metadata;
use rostree::core::varint::read_varuint64;
use rostree::{Checksum, ObjectType};

use crate::{GlobalOptions, json, util};

/// Arguments of `show`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] OBJECT")]
pub struct Args {
    /// Print the value of a metadata key
    #[arg(long = "print-metadata-key", value_name = "KEY")]
    metadata_key: Option<String>,
    /// Print the value of a detached metadata key
    #[arg(long = "print-detached-metadata-key", value_name = "KEY")]
    detached_key: Option<String>,
    /// Show the "related" commits
    #[arg(long = "print-related")]
    print_related: bool,
    /// Memory map OBJECT (in this case a filename) to the GVariant type string
    #[arg(long = "print-variant-type", value_name = "TYPE")]
    print_variant_type: Option<String>,
    /// Show raw variant data
    #[arg(long)]
    raw: bool,
    /// Show the commit size metadata (`ostree.sizes`)
    #[arg(long = "print-sizes")]
    print_sizes: bool,
    /// Do not automatically convert variant data from big endian
    #[arg(short = 'B', long = "no-byteswap")]
    no_byteswap: bool,
    /// GPG verify commit signatures using the keys of remote NAME
    #[arg(long = "gpg-verify-remote", value_name = "NAME")]
    gpg_verify_remote: Option<String>,
    /// GPG Homedir to use when looking for keyrings
    #[arg(long = "gpg-homedir", value_name = "HOMEDIR")]
    gpg_homedir: Option<std::path::PathBuf>,
    /// Print the object as JSON (rostree's own; docs/json.md)
    #[arg(long)]
    json: bool,
    /// The ref or commit
    #[arg(value_name = "OBJECT")]
    rev: String,
}

/// How to print variants: upstream byte-swaps them for display unless `-B`.
fn show_variant(value: &Value, no_byteswap: bool) -> String {
    if no_byteswap {
        print_text(value, true)
    } else {
        util::print_variant(value)
    }
}

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    let repo = global.open_repo()?;
    if args.metadata_key.is_none()
        && args.detached_key.is_none()
        && !args.print_related
        && let Some(ty) = &args.print_variant_type
    {
        // OBJECT is a file here, read as a value of the type given, as upstream reads it
        // (without asking for normal form).
        let ty = Type::parse(ty).map_err(|e| anyhow::anyhow!("Invalid type '{ty}': {e}"))?;
        let data = std::fs::read(&args.rev)
            .map_err(|e| anyhow::anyhow!("openat({}): {}", args.rev, util::io_error_text(&e)))?;
        let value = Value::from_bytes_lenient(&ty, &data)?;
        util::write_stdout(format!("{}\n", util::print_variant(&value)).as_bytes())?;
        return Ok(0);
    }
    // A full checksum that is not a commit may name any other object.
    if let Ok(c) = Checksum::from_hex(&args.rev)
        && !repo.has_object(ObjectType::Commit, &c)?
    {
        return show_object(&repo, &c, &args);
    }
    let (checksum, commit) = util::resolve_commit(&repo, &args.rev)?;
    if args.json {
        return print_commit_json(&repo, &checksum, &commit, &args);
    }
    let print_key = |metadata: &Metadata, key: &str| -> Result<()> {
        match metadata.get(key) {
            Some(v) => {
                util::write_stdout(format!("{}\n", show_variant(v, args.no_byteswap)).as_bytes())
            }
            None => bail!("No such metadata key '{key}'"),
        }
    };
    if let Some(key) = &args.metadata_key {
        print_key(&commit.metadata, key)?;
    } else if let Some(key) = &args.detached_key {
        let detached = match repo.load_commitmeta(&checksum)? {
            Some(bytes) => Metadata::from_bytes(&bytes)?,
            None => bail!("No detached metadata for commit {checksum}"),
        };
        print_key(&detached, key)?;
    } else if args.print_related {
        let mut out = String::new();
        for (name, related) in &commit.related {
            out.push_str(&format!("{name} {related}\n"));
        }
        util::write_stdout(out.as_bytes())?;
    } else if args.print_sizes {
        util::write_stdout(print_sizes(&repo, &commit)?.as_bytes())?;
    } else if args.raw || args.no_byteswap {
        let mut out = format!(
            "commit {checksum}\n{}\n",
            show_variant(&commit.to_value(), args.no_byteswap)
        )
        .into_bytes();
        if !args.raw {
            // -B alone prints the unswapped variant, then the usual dump without its first line.
            let mut dump = Vec::new();
            util::print_commit(&mut dump, &checksum, &commit)?;
            let first_line = dump.iter().position(|&b| b == b'\n').map_or(0, |n| n + 1);
            out.extend_from_slice(&dump[first_line..]);
        }
        util::write_stdout(&out)?;
    } else {
        let mut out = Vec::new();
        util::print_commit(&mut out, &checksum, &commit)?;
        // As upstream, signatures are listed even unasked: checked with the keys of every
        // remote (and --gpg-homedir's), or of the one remote named.
        {
            let keyring = match &args.gpg_verify_remote {
                Some(name) => {
                    let remote = repo.remote(name)?;
                    crate::cmd::remote::remote_keyring(&repo, &remote)?
                }
                None => rostree::pull::remote::all_remotes_keys(
                    &repo,
                    args.gpg_homedir.as_deref(),
                    &rostree::pull::remote::TrustRoots::system(),
                )?,
            };
            let detached = match repo.load_commitmeta(&checksum)? {
                Some(bytes) => Metadata::from_bytes(&bytes)?,
                None => Metadata::new(),
            };
            let signatures = rostree::sign::gpg::signatures(&detached)?;
            let data = repo.load_metadata(ObjectType::Commit, &checksum)?;
            let reports = keyring.report(&data, &signatures);
            // After the commit's blank line; left out when there is no signature.
            if !reports.is_empty() {
                out.extend_from_slice(
                    format!(
                        "Found {} signature{}:\n\n{}\n",
                        reports.len(),
                        if reports.len() == 1 { "" } else { "s" },
                        reports.join("\n\n")
                    )
                    .as_bytes(),
                );
            }
        }
        util::write_stdout(&out)?;
    }
    Ok(0)
}

/// `show --json` of a commit: its facts and its detached metadata, or with
/// `--print-metadata-key` / `--print-detached-metadata-key` that one value.
fn print_commit_json(
    repo: &rostree::Repo,
    checksum: &Checksum,
    commit: &rostree::core::object::Commit,
    args: &Args,
) -> Result<i32> {
    let detached = match repo.load_commitmeta(checksum)? {
        Some(bytes) => Some(Metadata::from_bytes(&bytes)?),
        None => None,
    };
    let key_value = |metadata: Option<&Metadata>, key: &str| -> Result<i32> {
        let Some(value) = metadata.and_then(|m| m.get(key)) else {
            bail!("No such metadata key '{key}'");
        };
        json::print(&serde_json::json!({ "key": key, "value": json::variant(value) }))?;
        Ok(0)
    };
    if let Some(key) = &args.metadata_key {
        return key_value(Some(&commit.metadata), key);
    }
    if let Some(key) = &args.detached_key {
        let Some(detached) = &detached else {
            bail!("No detached metadata for commit {checksum}");
        };
        return key_value(Some(detached), key);
    }
    let mut object = json::commit(checksum, commit);
    if let serde_json::Value::Object(fields) = &mut object {
        fields.insert(
            "detached_metadata".into(),
            detached
                .as_ref()
                .map_or(serde_json::Value::Null, json::metadata),
        );
        fields.insert(
            "related".into(),
            commit
                .related
                .iter()
                .map(|(name, c)| serde_json::json!({ "name": name, "checksum": c.to_hex() }))
                .collect(),
        );
    }
    json::print(&object)?;
    Ok(0)
}

/// `show` of a dirtree, dirmeta or content object.
fn show_object(repo: &rostree::Repo, checksum: &Checksum, args: &Args) -> Result<i32> {
    for (objtype, ty) in [
        (ObjectType::DirTree, "(a(say)a(sayay))"),
        (ObjectType::DirMeta, "(uuua(ayay))"),
    ] {
        if !repo.has_object(objtype, checksum)? {
            continue;
        }
        if args.json {
            json::print(&serde_json::json!({
                "type": objtype.to_string(),
                "checksum": checksum.to_hex(),
            }))?;
            return Ok(0);
        }
        let mut out = format!("{objtype} {checksum}\n");
        if args.raw || args.no_byteswap {
            let data = repo.load_metadata(objtype, checksum)?;
            let value = Value::from_bytes(&Type::parse(ty)?, &data)?;
            out.push_str(&show_variant(&value, args.no_byteswap));
            out.push('\n');
        }
        util::write_stdout(out.as_bytes())?;
        return Ok(0);
    }
    // Upstream's bare-mode reader adds this prefix; its archive reader does not.
    let (header, size) = repo.file_info(checksum).map_err(|e| {
        if repo.mode().is_archive() {
            anyhow::Error::from(e)
        } else {
            anyhow::anyhow!("Opening content object {checksum}: {e}")
        }
    })?;
    if args.json {
        json::print(&serde_json::json!({
            "type": "file",
            "checksum": checksum.to_hex(),
            "file_type": if header.is_symlink() { "symlink" } else { "regular" },
            "size": size,
            "symlink_target": header.is_symlink().then_some(&header.symlink_target),
            "mode": header.mode & 0o7777,
            "uid": header.uid,
            "gid": header.gid,
            "xattrs": json::xattrs(&header.xattrs),
        }))?;
        return Ok(0);
    }
    let mut out = format!("Object: {checksum}\nType: file\n");
    if header.is_symlink() {
        out.push_str(&format!(
            "File Type: symlink\nTarget: {}\n",
            header.symlink_target
        ));
    } else {
        out.push_str(&format!("File Type: regular\nSize: {size}\n"));
    }
    out.push_str(&format!(
        "Mode: 0{:o}\nUid: {}\nGid: {}\nExtended Attributes: {{ {} }}\n",
        header.mode,
        header.uid,
        header.gid,
        print_text(&header.xattrs.to_value(), true)
    ));
    util::write_stdout(out.as_bytes())?;
    Ok(0)
}

/// The totals of `ostree.sizes`, and what of it this repo still lacks.
fn print_sizes(repo: &rostree::Repo, commit: &rostree::core::object::Commit) -> Result<String> {
    let Some(Value::Array(_, entries)) = commit.metadata.get("ostree.sizes") else {
        bail!("Failed to find ostree.sizes metadata key");
    };
    let (mut archived, mut unpacked, mut count) = (0u64, 0u64, 0u64);
    let (mut need_archived, mut need_unpacked, mut need_count) = (0u64, 0u64, 0u64);
    for entry in entries {
        let Some(bytes) = entry.as_bytes() else {
            continue;
        };
        let (Some(checksum), Some(rest)) = (bytes.get(..32), bytes.get(32..)) else {
            bail!("Invalid ostree.sizes entry");
        };
        let checksum = Checksum::from_slice(checksum)?;
        let (a, n) =
            read_varuint64(rest).ok_or_else(|| anyhow::anyhow!("Invalid ostree.sizes entry"))?;
        let (u, m) = read_varuint64(&rest[n..])
            .ok_or_else(|| anyhow::anyhow!("Invalid ostree.sizes entry"))?;
        // Entries from before the object type byte was added are content objects.
        let objtype = rest
            .get(n + m)
            .and_then(|&t| ObjectType::from_u8(t))
            .unwrap_or(ObjectType::File);
        archived = archived.saturating_add(a);
        unpacked = unpacked.saturating_add(u);
        count += 1;
        if !repo.has_object(objtype, &checksum)? {
            need_archived = need_archived.saturating_add(a);
            need_unpacked = need_unpacked.saturating_add(u);
            need_count += 1;
        }
    }
    Ok(format!(
        "Compressed size (needed/total): {}/{}\nUnpacked size (needed/total): {}/{}\n\
         Number of objects (needed/total): {need_count}/{count}\n",
        util::format_size(need_archived),
        util::format_size(archived),
        util::format_size(need_unpacked),
        util::format_size(unpacked),
    ))
}
