//! `ostree rev-parse`: print the commit a revision names.

use anyhow::Result;

use crate::GlobalOptions;

/// Arguments of `rev-parse`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] REV")]
pub struct Args {
    /// If the repository has exactly one commit, then print it; any other case will result in an error
    #[arg(short = 'S', long)]
    single: bool,
    /// Print the commits as JSON (rostree's own; docs/json.md)
    #[arg(long)]
    json: bool,
    /// Revisions to resolve
    revs: Vec<String>,
}

/// `{"revs": [{"rev": ..., "checksum": ...}]}`.
fn print_json(resolved: &[(String, rostree::Checksum)]) -> Result<()> {
    let revs: Vec<serde_json::Value> = resolved
        .iter()
        .map(|(rev, c)| serde_json::json!({ "rev": rev, "checksum": c.to_hex() }))
        .collect();
    crate::json::print(&serde_json::json!({ "revs": revs }))
}

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    let repo = global.open_repo()?;
    if args.single {
        if !args.revs.is_empty() {
            return Err(crate::util::usage_error(
                "Cannot specify arguments with --single",
            ));
        }
        let commits = repo.commits_with_prefix("")?;
        let commit = match commits.as_slice() {
            [one] => one,
            [] => anyhow::bail!("No commit objects found"),
            _ => anyhow::bail!("Multiple commit objects found"),
        };
        if args.json {
            print_json(&[(String::new(), *commit)])?;
        } else {
            crate::util::write_stdout(format!("{commit}\n").as_bytes())?;
        }
        return Ok(0);
    }
    if args.revs.is_empty() {
        return Err(crate::util::usage_error("REV must be specified"));
    }
    let mut resolved = Vec::new();
    for rev in &args.revs {
        resolved.push((rev.clone(), repo.resolve_rev(rev)?));
    }
    if args.json {
        print_json(&resolved)?;
    } else {
        let out: String = resolved.iter().map(|(_, c)| format!("{c}\n")).collect();
        crate::util::write_stdout(out.as_bytes())?;
    }
    Ok(0)
}
