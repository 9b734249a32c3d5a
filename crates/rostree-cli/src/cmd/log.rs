//! `ostree log`: a commit and its ancestors.

use anyhow::Result;
use rostree::repo::Error;

use crate::{GlobalOptions, json, util};

/// Arguments of `log`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] REV")]
pub struct Args {
    /// Show raw variant data
    #[arg(long)]
    raw: bool,
    /// Print the commits as JSON (rostree's own; docs/json.md)
    #[arg(long)]
    json: bool,
    /// The ref or commit to start at
    rev: String,
}

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    let repo = global.open_repo()?;
    let mut checksum = repo.resolve_rev(&args.rev)?;
    let mut out = Vec::new();
    let mut commits = Vec::new();
    let mut shown = 0usize;
    let mut history_complete = true;
    loop {
        let commit = match repo.load_commit(&checksum) {
            Ok(c) => c,
            Err(Error::MissingObject { .. }) if shown > 0 => {
                out.extend_from_slice(b"<< History beyond this commit not fetched >>\n");
                history_complete = false;
                break;
            }
            Err(e) => return Err(e.into()),
        };
        shown += 1;
        if args.json {
            commits.push(json::commit(&checksum, &commit));
        }
        if args.raw {
            out.extend_from_slice(
                format!(
                    "commit {checksum}\n{}\n",
                    util::print_variant(&commit.to_value())
                )
                .as_bytes(),
            );
        } else {
            util::print_commit(&mut out, &checksum, &commit)?;
        }
        match commit.parent {
            Some(p) => checksum = p,
            None => break,
        }
    }
    if args.json {
        json::print(&serde_json::json!({
            "commits": commits,
            "history_complete": history_complete,
        }))?;
    } else {
        util::write_stdout(&out)?;
    }
    Ok(0)
}
