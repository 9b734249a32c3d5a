//! `ostree fsck`: verify every object of every commit.

use anyhow::{Result, bail};
use rostree::repo::fsck::{FsckOptions, fsck};

use crate::{GlobalOptions, util};

/// Arguments of `fsck`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only print error messages
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Don't stop on first error
    #[arg(short = 'a', long)]
    all: bool,
    /// Remove corrupted objects
    #[arg(long)]
    delete: bool,
    /// Add tombstones for missing commits
    #[arg(long = "add-tombstones")]
    add_tombstones: bool,
    /// Verify ref bindings
    #[arg(long = "verify-bindings")]
    verify_bindings: bool,
    /// Verify back-references (implies --verify-bindings)
    #[arg(long = "verify-back-refs")]
    verify_back_refs: bool,
}

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    if args.add_tombstones || args.verify_bindings || args.verify_back_refs {
        bail!("--add-tombstones, --verify-bindings and --verify-back-refs are not supported yet");
    }
    let repo = global.open_repo()?;
    let mut out = String::new();
    if !args.quiet {
        out.push_str(
            "Validating refs...\nValidating refs in collections...\nEnumerating commits...\n",
        );
    }
    util::write_stdout(out.as_bytes())?;
    let interrupt = crate::progress::interrupt_flag();
    let options = FsckOptions {
        all: args.all,
        delete: args.delete,
    };
    let outcome = fsck(&repo, &interrupt, &options)?;
    let mut out = String::new();
    if !args.quiet {
        out.push_str(&format!(
            "Verifying content integrity of {} commit objects...\n",
            outcome.commits_verified
        ));
    }
    // Upstream's progress, as printed when stdout is not a terminal: first and last step.
    let n = outcome.objects;
    if let Some(first) = 100usize.checked_div(n) {
        out.push_str(&format!(
            "fsck objects (1/{n}) {first}%\nfsck objects ({n}/{n}) 100%\n"
        ));
    }
    if outcome.partial > 0 {
        out.push_str(&format!(
            "{} partial commits not verified\n",
            outcome.partial
        ));
    }
    let clean = outcome.errors.is_empty() && outcome.partial_from_fsck == 0;
    if clean {
        out.push_str(&format!(
            "object fsck of {} commits completed successfully - no errors found.\n",
            outcome.commits_verified
        ));
    }
    util::write_stdout(out.as_bytes())?;
    for line in &outcome.errors {
        eprintln!("{line}");
    }
    for commit in &outcome.marked_partial {
        eprintln!("Marking commit as partial: {commit}");
    }
    if !outcome.errors.is_empty() {
        bail!("Repository corruption encountered");
    }
    if outcome.partial_from_fsck > 0 {
        bail!(
            "{} partial commits from fsck-detected corruption",
            outcome.partial_from_fsck
        );
    }
    Ok(0)
}
