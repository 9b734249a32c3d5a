//! `ostree diff`: compare two commits, or a commit and a directory.

use std::path::Path;

use anyhow::{Context, Result};
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use rostree::Repo;
use rostree::repo::diff::{DiffOptions, Side, TreeDiff, diff_trees, object_stats};

use crate::{GlobalOptions, json, util};

/// Arguments of `diff`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] REV_OR_DIR REV_OR_DIR")]
pub struct Args {
    /// Print various statistics
    #[arg(long)]
    stats: bool,
    /// Print filesystem diff
    #[arg(long = "fs-diff")]
    fs_diff: bool,
    /// Skip output of extended attributes
    #[arg(long = "no-xattrs")]
    no_xattrs: bool,
    /// Use file ownership user id for local files
    #[arg(long = "owner-uid")]
    owner_uid: Option<u32>,
    /// Use file ownership group id for local files
    #[arg(long = "owner-gid")]
    owner_gid: Option<u32>,
    /// Print the changes (and with --stats the counts) as JSON (rostree's own; docs/json.md)
    #[arg(long)]
    json: bool,
    /// The old revision or directory (with one argument: its parent is the old one)
    old: String,
    /// The new revision or directory
    new: Option<String>,
}

/// Upstream reads an argument starting with `/` or `.` as a directory, anything else as a rev.
fn is_dir_arg(arg: &str) -> bool {
    arg.starts_with('/') || arg.starts_with('.')
}

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    let repo = global.open_repo()?;
    let (old, new) = match &args.new {
        Some(new) => (args.old.clone(), new.clone()),
        None => (format!("{}^", args.old), args.old.clone()),
    };
    // The file list is the default; --stats alone prints only the statistics.
    let changes = if args.fs_diff || !args.stats {
        Some(fs_diff(&repo, &args, &old, &new)?)
    } else {
        None
    };
    // The file list goes out first: statistics of a directory then fail after it, as
    // upstream's do.
    if let (Some(diff), false) = (&changes, args.json) {
        util::write_stdout(
            file_list(diff, args.new.as_deref().is_some_and(is_dir_arg)).as_bytes(),
        )?;
    }
    let stats = if args.stats {
        let (old, new) = (repo.resolve_rev(&old)?, repo.resolve_rev(&new)?);
        Some(object_stats(&repo, &old, &new)?)
    } else {
        None
    };
    if args.json {
        let paths = |pick: fn(&TreeDiff) -> &Vec<String>| changes.as_ref().map(|d| pick(d).clone());
        json::print(&serde_json::json!({
            "modified": paths(|d| &d.modified),
            "removed": paths(|d| &d.removed),
            "added": paths(|d| &d.added),
            "stats": stats.map(|s| serde_json::json!({
                "old_objects": s.old_objects,
                "new_objects": s.new_objects,
                "common_objects": s.common_objects,
                "common_size": s.common_size,
            })),
        }))?;
    } else if let Some(stats) = stats {
        util::write_stdout(
            format!(
                "[A] Object Count: {}\n[B] Object Count: {}\nCommon Object Count: {}\n\
                 Common Object Size: {}\n",
                stats.old_objects,
                stats.new_objects,
                stats.common_objects,
                util::format_size(stats.common_size)
            )
            .as_bytes(),
        )?;
    }
    Ok(0)
}

/// The changed paths as upstream's `ostree_diff_print` prints them: paths added from a
/// directory without their leading `/`.
fn file_list(diff: &TreeDiff, added_from_dir: bool) -> String {
    let mut out = String::new();
    for path in &diff.modified {
        out.push_str(&format!("M    {path}\n"));
    }
    for path in &diff.removed {
        out.push_str(&format!("D    {path}\n"));
    }
    for path in &diff.added {
        let shown = if added_from_dir {
            path.trim_start_matches('/')
        } else {
            path
        };
        out.push_str(&format!("A    {shown}\n"));
    }
    out
}

/// The changed paths between `old` and `new`, each a rev or a directory.
fn fs_diff(repo: &Repo, args: &Args, old: &str, new: &str) -> Result<TreeDiff> {
    let mut dirs = Vec::new();
    let mut trees = Vec::new();
    for arg in [old, new] {
        if is_dir_arg(arg) {
            dirs.push(
                Dir::open_ambient_dir(Path::new(arg), ambient_authority())
                    .with_context(|| format!("opening {arg}"))?,
            );
            trees.push(None);
        } else {
            let (_, commit) = util::resolve_commit(repo, arg)?;
            trees.push(Some((commit.root_tree, commit.root_meta)));
        }
    }
    let mut dir_iter = dirs.iter();
    let mut sides = Vec::new();
    for tree in &trees {
        sides.push(match tree {
            Some((t, m)) => Side::Tree(*t, *m),
            None => Side::Dir(
                dir_iter
                    .next()
                    .expect("one directory per directory argument"),
            ),
        });
    }
    let options = DiffOptions {
        owner_uid: args.owner_uid,
        owner_gid: args.owner_gid,
        no_xattrs: args.no_xattrs,
    };
    Ok(diff_trees(repo, &sides[0], &sides[1], &options)?)
}
