//! `ostree summary`: write or show the summary file.

use std::sync::Arc;

use anyhow::{Result, bail};
use rostree::core::gvariant::{Type, Value, parse_text, print_text};
use rostree::core::object::Metadata;
use rostree::repo::commit::CommitSigner;
use rostree::repo::summary::{read_summary, update_summary, write_metadata_commit};

use crate::{GlobalOptions, json, util};

/// Arguments of `summary`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…]")]
pub struct Args {
    /// Update the summary
    #[arg(short = 'u', long)]
    update: bool,
    /// View the local summary file
    #[arg(short = 'v', long)]
    view: bool,
    /// View the raw bytes of the summary file
    #[arg(long)]
    raw: bool,
    /// Additional metadata field to add to the summary
    #[arg(short = 'm', long = "add-metadata", value_name = "KEY=VALUE")]
    add_metadata: Vec<String>,
    /// GPG Key ID to sign the summary with
    #[arg(long = "gpg-sign", value_name = "KEY-ID")]
    gpg_sign: Vec<String>,
    /// GPG Homedir to use when looking for keyrings
    #[arg(long = "gpg-homedir", value_name = "HOMEDIR")]
    gpg_homedir: Option<String>,
    /// Key ID to sign the summary with
    #[arg(long = "sign", value_name = "KEY-ID")]
    sign: Vec<String>,
    /// Signature type to use (defaults to 'ed25519')
    #[arg(long = "sign-type", value_name = "NAME", default_value = "ed25519")]
    sign_type: String,
    /// View the summary as JSON (implies --view; rostree's own; docs/json.md)
    #[arg(long)]
    json: bool,
}

/// `YYYY-MM-DDTHH:MM:SS+00`, as upstream's summary view prints times.
fn iso_time(secs: u64) -> String {
    util::format_date(secs)
        .replace(' ', "T")
        .replace("T+0000", "+00")
}

fn be_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Uint64(v) => Some(u64::from_be(*v)),
        _ => None,
    }
}

fn view(bytes: &[u8], summary: &rostree::core::object::Summary) -> String {
    let _ = bytes;
    let mut out = String::new();
    // The refs, then those of the collection map, each named with its collection ID when
    // there is one, as upstream's view prints them.
    let own_id = summary.metadata.get_str("ostree.summary.collection-id");
    for (name, r) in &summary.refs {
        ref_block(&mut out, own_id, name, r);
    }
    for (id, refs) in summary.collection_map() {
        for (name, r) in &refs {
            ref_block(&mut out, Some(&id), name, r);
        }
    }
    for (key, value) in &summary.metadata.0 {
        let line = match key.as_str() {
            "ostree.summary.mode" => format!(
                "Repository Mode (ostree.summary.mode): {}",
                value.as_str().unwrap_or_default()
            ),
            "ostree.summary.last-modified" => format!(
                "Last-Modified (ostree.summary.last-modified): {}",
                be_u64(value).map(iso_time).unwrap_or_default()
            ),
            "ostree.summary.expires" => format!(
                "Expires (ostree.summary.expires): {}",
                be_u64(value).map(iso_time).unwrap_or_default()
            ),
            "ostree.summary.collection-id" => format!(
                "Collection ID (ostree.summary.collection-id): {}",
                value.as_str().unwrap_or_default()
            ),
            "ostree.summary.collection-map" => {
                "Collection Map (ostree.summary.collection-map): (printed above)".to_owned()
            }
            "ostree.static-deltas" => format!(
                "Static Deltas (ostree.static-deltas): {}",
                print_text(value, false)
            ),
            "ostree.summary.tombstone-commits" => format!(
                "Has Tombstone Commits (ostree.summary.tombstone-commits): {}",
                if matches!(value, Value::Bool(true)) {
                    "Yes"
                } else {
                    "No"
                }
            ),
            // Printed without type annotations, as upstream does here.
            other => format!("{other}: {}", print_text(value, false)),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// One ref of a summary: name (with its collection), commit size and checksum, then its
/// metadata in stored order, the known keys named.
fn ref_block(
    out: &mut String,
    collection_id: Option<&str>,
    name: &str,
    r: &rostree::core::object::SummaryRef,
) {
    match collection_id {
        Some(id) => out.push_str(&format!("* ({id}, {name})\n")),
        None => out.push_str(&format!("* {name}\n")),
    }
    out.push_str(&format!(
        "    Latest Commit ({}):\n      {}\n",
        util::format_size(r.commit_size),
        r.checksum
    ));
    for (key, value) in &r.metadata.0 {
        let line = match key.as_str() {
            "ostree.commit.timestamp" => format!(
                "Timestamp (ostree.commit.timestamp): {}",
                be_u64(value).map(iso_time).unwrap_or_default()
            ),
            "ostree.commit.version" => format!(
                "Version (ostree.commit.version): {}",
                value.as_str().unwrap_or_default()
            ),
            other => format!("{other}: {}", print_text(value, false)),
        };
        out.push_str(&format!("    {line}\n"));
    }
    out.push('\n');
}

/// A summary as JSON (`summary --view --json`, `remote summary --json`): every ref, those
/// of the collection map with their collection ID, and the metadata, times in both forms.
pub fn json(summary: &rostree::core::object::Summary) -> serde_json::Value {
    use serde_json::{Map, Value};
    let own_id = summary.metadata.get_str("ostree.summary.collection-id");
    let mut refs: Vec<Value> = summary
        .refs
        .iter()
        .map(|(name, r)| ref_json(own_id, name, r))
        .collect();
    for (id, map) in summary.collection_map() {
        refs.extend(map.iter().map(|(name, r)| ref_json(Some(&id), name, r)));
    }
    let mut object = Map::new();
    object.insert("refs".into(), Value::Array(refs));
    for (field, key) in [
        ("last_modified", "ostree.summary.last-modified"),
        ("expires", "ostree.summary.expires"),
    ] {
        json::insert_optional_time(
            &mut object,
            field,
            summary.metadata.get(key).and_then(be_u64),
        );
    }
    object.insert("metadata".into(), summary_metadata_json(&summary.metadata));
    Value::Object(object)
}

/// Metadata as JSON, the big-endian times as plain numbers; the collection map is left
/// out (its refs are listed with the others).
fn summary_metadata_json(metadata: &Metadata) -> serde_json::Value {
    let mut object = serde_json::Map::new();
    for (key, value) in &metadata.0 {
        let value = match key.as_str() {
            "ostree.summary.collection-map" => continue,
            "ostree.summary.last-modified"
            | "ostree.summary.expires"
            | "ostree.commit.timestamp" => {
                be_u64(value).map_or(serde_json::Value::Null, |t| t.into())
            }
            _ => json::variant(value),
        };
        object.insert(key.clone(), value);
    }
    serde_json::Value::Object(object)
}

fn ref_json(
    collection_id: Option<&str>,
    name: &str,
    r: &rostree::core::object::SummaryRef,
) -> serde_json::Value {
    let mut object = serde_json::Map::new();
    object.insert("name".into(), name.into());
    object.insert("collection_id".into(), collection_id.into());
    object.insert("checksum".into(), r.checksum.to_hex().into());
    object.insert("commit_size".into(), r.commit_size.into());
    json::insert_optional_time(
        &mut object,
        "timestamp",
        r.metadata.get("ostree.commit.timestamp").and_then(be_u64),
    );
    object.insert(
        "version".into(),
        r.metadata.get_str("ostree.commit.version").into(),
    );
    object.insert("metadata".into(), summary_metadata_json(&r.metadata));
    serde_json::Value::Object(object)
}

/// A summary as `summary -v` (or, `raw`, `--raw`) prints it; `remote summary` too.
pub fn show(bytes: &[u8], summary: &rostree::core::object::Summary, raw: bool) -> Result<String> {
    Ok(if raw {
        let ty = Type::parse("(a(s(taya{sv}))a{sv})")?;
        let value = Value::from_bytes(&ty, bytes)?;
        format!("{}\n", util::print_variant(&value))
    } else {
        view(bytes, summary)
    })
}

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    let sign_keys = crate::cmd::sign::signing_keys(&args.sign_type, &args.sign)?;
    let homedir = args.gpg_homedir.as_deref().map(std::path::Path::new);
    let gpg_signers = args
        .gpg_sign
        .iter()
        .map(|id| rostree::sign::gnupg::Signer::find(homedir, id))
        .collect::<Result<Vec<_>, _>>()?;
    let mut repo = global.open_repo()?;
    if args.update {
        // The ostree-metadata commit is signed as the summary is: GPG keys first.
        let mut metadata_signers: Vec<Arc<dyn CommitSigner>> = Vec::new();
        for (id, signer) in args.gpg_sign.iter().zip(&gpg_signers) {
            metadata_signers.push(Arc::new(rostree::sign::commit::GpgSignWith {
                key_id: id.clone(),
                signer: signer.clone(),
            }));
        }
        for key in &sign_keys {
            metadata_signers.push(Arc::new(rostree::sign::commit::SignWith(key.clone())));
        }
        let mut additional = Metadata::new();
        for kv in &args.add_metadata {
            let Some((k, v)) = kv.split_once('=') else {
                bail!("Missing '=' in KEY=VALUE metadata '{kv}'");
            };
            additional.push(k, parse_text(v, None)?);
        }
        // A repository with a collection ID records each update as a commit of its
        // `ostree-metadata` ref, signed as the summary is.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let timestamp = util::source_date_epoch()?.unwrap_or(now);
        write_metadata_commit(&repo, &additional, timestamp, &metadata_signers)?;
        update_summary(&mut repo, &additional)?;
    }
    if !gpg_signers.is_empty() {
        rostree::sign::commit::gpg_sign_summary(&repo, &gpg_signers)?;
    }
    if !sign_keys.is_empty() {
        rostree::sign::commit::sign_summary(&repo, &sign_keys)?;
    }
    if args.view || args.raw || args.json {
        let Some((bytes, summary)) = read_summary(&repo)? else {
            bail!("No summary file found");
        };
        if args.json {
            json::print(&json(&summary))?;
        } else {
            util::write_stdout(show(&bytes, &summary, args.raw)?.as_bytes())?;
        }
    } else if !args.update && sign_keys.is_empty() && gpg_signers.is_empty() {
        bail!("No option specified; use -u to update summary");
    }
    Ok(0)
}
