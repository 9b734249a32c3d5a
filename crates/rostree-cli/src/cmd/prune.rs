//! `ostree prune`: delete unreachable objects.

use anyhow::{Result, bail};
use rostree::repo::deltas::prune_static_deltas;
use rostree::repo::prune::{BranchRules, PruneOptions, prune};

use crate::{GlobalOptions, json, util};

/// Arguments of `prune`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…]")]
pub struct Args {
    /// Only display unreachable objects; don't delete
    #[arg(long = "no-prune")]
    no_prune: bool,
    /// Only compute reachability via refs
    #[arg(long = "refs-only")]
    refs_only: bool,
    /// Only traverse DEPTH parents for each commit (default: -1=infinite)
    #[arg(long, default_value_t = -1, allow_hyphen_values = true)]
    depth: i64,
    /// Specify a commit to delete
    #[arg(long = "delete-commit", value_name = "COMMIT")]
    delete_commit: Option<String>,
    /// Prune all commits older than the specified date
    #[arg(long = "keep-younger-than", value_name = "DATE")]
    keep_younger_than: Option<String>,
    /// Change the behavior of delete-commit and keep-younger-than to prune only static deltas
    #[arg(long = "static-deltas-only")]
    static_deltas_only: bool,
    /// Additionally retain BRANCH=DEPTH commits
    #[arg(long = "retain-branch-depth", value_name = "BRANCH=DEPTH")]
    retain_branch_depth: Vec<String>,
    /// Only prune BRANCH (may be specified multiple times)
    #[arg(long = "only-branch", value_name = "BRANCH")]
    only_branch: Vec<String>,
    /// Only traverse and delete commit objects
    #[arg(long = "commit-only")]
    commit_only: bool,
    /// Print the counts as JSON (rostree's own; docs/json.md)
    #[arg(long)]
    json: bool,
}

/// Parses `BRANCH=DEPTH` as upstream does: a leading integer, negative for all history.
fn parse_branch_depth(spec: &str) -> Result<(String, Option<u64>)> {
    let Some((branch, depth)) = spec.split_once('=') else {
        bail!("Invalid value {spec}, must specify BRANCH=DEPTH");
    };
    let Some(depth) = util::parse_leading_integer(depth) else {
        bail!("Invalid depth {depth}");
    };
    Ok((branch.to_owned(), u64::try_from(depth.value).ok()))
}

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    if args.delete_commit.is_some() && args.no_prune {
        bail!("Cannot specify both --delete-commit and --no-prune");
    }
    if args.static_deltas_only && args.delete_commit.is_none() {
        bail!(
            "--static-deltas-only requires --delete-commit; see \
             https://github.com/ostreedev/ostree/issues/1479"
        );
    }
    let keep_younger_than = match &args.keep_younger_than {
        Some(date) => Some(util::parse_timestamp(date)?),
        None => None,
    };
    let depths = args
        .retain_branch_depth
        .iter()
        .map(|spec| parse_branch_depth(spec))
        .collect::<Result<_>>()?;
    let branches = (keep_younger_than.is_some()
        || !args.retain_branch_depth.is_empty()
        || !args.only_branch.is_empty())
    .then(|| BranchRules {
        depths,
        only: args.only_branch.clone(),
        keep_younger_than,
    });
    let mut repo = global.open_repo()?;
    let mut delete_commits = Vec::new();
    if let Some(rev) = &args.delete_commit {
        let commit = repo.resolve_rev(rev)?;
        if args.static_deltas_only {
            prune_static_deltas(&repo, Some(&commit))?;
        } else {
            delete_commits.push(commit);
            // Upstream turns tombstones on when a commit is deleted explicitly.
            if repo.config().get_bool("core", "tombstone-commits")? != Some(true) {
                let mut config = repo.config().clone();
                config.set_bool("core", "tombstone-commits", true)?;
                repo.write_config(config)?;
            }
        }
    }
    let options = PruneOptions {
        refs_only: args.refs_only || branches.is_some(),
        depth: u64::try_from(args.depth).ok(),
        dry_run: args.no_prune,
        delete_commits,
        commit_only: args.commit_only,
        branches,
    };
    let interrupt = crate::progress::interrupt_flag();
    let progress = crate::progress::CountProgress::new();
    let outcome = prune(&repo, &progress, &interrupt, &options)?;
    progress.finish();
    if args.json {
        json::print(&serde_json::json!({
            "objects_total": outcome.total,
            "objects_deleted": outcome.deleted,
            "bytes_freed": outcome.freed,
            "dry_run": args.no_prune,
            "commit_only": args.commit_only,
        }))?;
        return Ok(0);
    }
    let mut out = if args.commit_only {
        format!("Total (commit only) objects: {}\n", outcome.total)
    } else {
        format!("Total objects: {}\n", outcome.total)
    };
    if outcome.deleted == 0 {
        out.push_str("No unreachable objects\n");
    } else if args.no_prune {
        out.push_str(&format!(
            "Would delete: {} objects, freeing {}\n",
            outcome.deleted,
            util::format_size(outcome.freed)
        ));
    } else {
        out.push_str(&format!(
            "Deleted {} objects, {} freed\n",
            outcome.deleted,
            util::format_size(outcome.freed)
        ));
    }
    util::write_stdout(out.as_bytes())?;
    Ok(0)
}
