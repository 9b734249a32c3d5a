//! `ostree cat`: print files from a commit.

use std::io::Read;

use anyhow::{Result, bail};

use super::tree::{Entry, lookup_following};
use crate::{GlobalOptions, util};

/// Arguments of `cat`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] COMMIT PATH...")]
pub struct Args {
    /// The ref or commit
    rev: String,
    /// Paths inside the commit
    #[arg(required = true)]
    paths: Vec<String>,
}

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    let repo = global.open_repo()?;
    let (_, commit) = util::resolve_commit(&repo, &args.rev)?;
    for path in &args.paths {
        let Entry::File(checksum) =
            lookup_following(&repo, (commit.root_tree, commit.root_meta), path)?
        else {
            // Upstream words it so, without the path.
            bail!("Can't open directory");
        };
        let (header, payload) = repo.open_content(&checksum)?;
        if header.is_symlink() {
            continue;
        }
        // Streamed: an archive object inflates as it is written out.
        let mut payload = payload;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = payload.read(&mut buf)?;
            if n == 0 {
                break;
            }
            util::write_stdout(&buf[..n])?;
        }
    }
    Ok(0)
}
