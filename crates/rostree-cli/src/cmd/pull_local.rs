//! `ostree pull-local`: copy commits from another local repository.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use rostree::Repo;
use rostree::core::Checksum;
use rostree::repo::RefKind;
use rostree::repo::pull_local::{PullLocalOptions, pull_local, pull_local_commits};

use crate::{GlobalOptions, util};

/// Arguments of `pull-local`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Fetch only the commit metadata
    #[arg(long = "commit-metadata-only")]
    commit_metadata_only: bool,
    /// Add REMOTE to refspec
    #[arg(long, value_name = "REMOTE")]
    remote: Option<String>,
    /// Do not invoke fsync()
    #[arg(long = "disable-fsync")]
    disable_fsync: bool,
    /// Verify checksums of local sources (always enabled for HTTP pulls)
    #[arg(long)]
    untrusted: bool,
    /// GPG verify commits (must specify --remote)
    #[arg(long = "gpg-verify")]
    gpg_verify: bool,
    /// GPG verify summary (must specify --remote)
    #[arg(long = "gpg-verify-summary")]
    gpg_verify_summary: bool,
    /// Traverse DEPTH parents (-1=infinite) (default: 0)
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    depth: i64,
    /// The repository to copy from
    source: PathBuf,
    /// Refs or commits to copy (default: every ref)
    refs: Vec<String>,
}

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    if args.gpg_verify || args.gpg_verify_summary {
        bail!("GPG verification is not supported yet (issue #5)");
    }
    let mut repo = global.open_repo()?;
    if args.disable_fsync {
        repo.disable_fsync();
    }
    let dir = Dir::open_ambient_dir(&args.source, ambient_authority())
        .with_context(|| format!("opening {}", args.source.display()))?;
    let source = Repo::open(dir, &args.source)?;
    let refs: Vec<(String, Checksum)> = if args.refs.is_empty() {
        source.list_refs(&RefKind::Local)?.into_iter().collect()
    } else {
        let mut out = Vec::new();
        for name in &args.refs {
            // A checksum is copied without a ref.
            if let Ok(c) = name.parse::<Checksum>() {
                out.push((String::new(), c));
                continue;
            }
            match source.read_ref(&RefKind::Local, name)? {
                Some(c) => out.push((name.clone(), c)),
                None => bail!("No such branch '{name}' in repository"),
            }
        }
        out
    };
    let options = PullLocalOptions {
        depth: u64::try_from(args.depth).ok(),
        untrusted: args.untrusted,
        remote: args.remote.clone(),
        commit_metadata_only: args.commit_metadata_only,
    };
    let interrupt = crate::progress::interrupt_flag();
    let named: Vec<_> = refs
        .iter()
        .filter(|(n, _)| !n.is_empty())
        .cloned()
        .collect();
    let unnamed: Vec<_> = refs.iter().filter(|(n, _)| n.is_empty()).cloned().collect();
    let mut total = rostree::repo::pull_local::PullLocalOutcome::default();
    for (batch, with_refs) in [(named, true), (unnamed, false)] {
        if batch.is_empty() {
            continue;
        }
        let outcome = if with_refs {
            pull_local(&repo, &source, &batch, &interrupt, &options)?
        } else {
            pull_local_commits(&repo, &source, &batch, &interrupt, &options)?
        };
        total.metadata += outcome.metadata;
        total.content += outcome.content;
        total.content_bytes += outcome.content_bytes;
    }
    util::write_stdout(
        format!(
            "{} metadata, {} content objects imported; {} content written\n",
            total.metadata,
            total.content,
            util::format_size(total.content_bytes)
        )
        .as_bytes(),
    )?;
    Ok(0)
}
