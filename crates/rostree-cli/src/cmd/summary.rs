//! `ostree summary`: write or show the summary file.

use anyhow::{Result, bail};
use rostree::core::gvariant::{Type, Value, parse_text, print_text};
use rostree::core::object::Metadata;
use rostree::repo::summary::{read_summary, update_summary};

use crate::{GlobalOptions, util};

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
    for (name, r) in &summary.refs {
        out.push_str(&format!(
            "* {name}\n    Latest Commit ({}):\n      {}\n",
            util::format_size(r.commit_size),
            r.checksum
        ));
        if let Some(v) = r.metadata.get_str("ostree.commit.version") {
            out.push_str(&format!("    Version (ostree.commit.version): {v}\n"));
        }
        if let Some(t) = r.metadata.get("ostree.commit.timestamp").and_then(be_u64) {
            out.push_str(&format!(
                "    Timestamp (ostree.commit.timestamp): {}\n",
                iso_time(t)
            ));
        }
        out.push('\n');
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
        let mut additional = Metadata::new();
        for kv in &args.add_metadata {
            let Some((k, v)) = kv.split_once('=') else {
                bail!("Missing '=' in KEY=VALUE metadata '{kv}'");
            };
            additional.push(k, parse_text(v, None)?);
        }
        update_summary(&mut repo, &additional)?;
    }
    if !gpg_signers.is_empty() {
        rostree::sign::commit::gpg_sign_summary(&repo, &gpg_signers)?;
    }
    if !sign_keys.is_empty() {
        rostree::sign::commit::sign_summary(&repo, &sign_keys)?;
    }
    if args.view || args.raw {
        let Some((bytes, summary)) = read_summary(&repo)? else {
            bail!("No summary file found");
        };
        util::write_stdout(show(&bytes, &summary, args.raw)?.as_bytes())?;
    } else if !args.update && sign_keys.is_empty() && gpg_signers.is_empty() {
        bail!("No option specified; use -u to update summary");
    }
    Ok(0)
}
