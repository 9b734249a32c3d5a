//! `ostree log`: a commit and its ancestors.

use anyhow::Result;
use rostree::repo::Error;

use crate::{GlobalOptions, util};

/// Arguments of `log`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] REV")]
pub struct Args {
    /// Show raw variant data
    #[arg(long)]
    raw: bool,
    /// The ref or commit to start at
    rev: String,
}

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    let repo = global.open_repo()?;
    let mut checksum = repo.resolve_rev(&args.rev)?;
    let mut out = Vec::new();
    loop {
        let commit = match repo.load_commit(&checksum) {
            Ok(c) => c,
            Err(Error::MissingObject { .. }) if !out.is_empty() => {
                out.extend_from_slice(b"<< History beyond this commit not fetched >>\n");
                break;
            }
            Err(e) => return Err(e.into()),
        };
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
    util::write_stdout(&out)?;
    Ok(0)
}
