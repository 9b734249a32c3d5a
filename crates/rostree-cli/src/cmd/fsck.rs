//! `ostree fsck`: verify every object of every commit.

use anyhow::{Result, bail};
use rostree::repo::fsck::{FsckOptions, fsck};
use rostree::repo::progress::{Event, Progress};
use rostree::repo::prune::write_tombstone;

use crate::{GlobalOptions, json, util};

/// Arguments of `fsck`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…]")]
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
    /// Print the report as JSON, without the progress lines (rostree's own; docs/json.md)
    #[arg(long)]
    json: bool,
}

/// Prints each phase as upstream does ("Validating refs..."), unless quiet.
struct PhaseLines {
    quiet: bool,
}

impl Progress for PhaseLines {
    fn event(&self, event: Event) {
        if self.quiet {
            return;
        }
        // A closed stdout shows when the final report is written.
        let _ = match event {
            Event::Phase(phase) => util::write_stdout(format!("{phase}...\n").as_bytes()),
            Event::VerifyingCommits(n) => util::write_stdout(
                format!("Verifying content integrity of {n} commit objects...\n").as_bytes(),
            ),
            _ => Ok(()),
        };
    }
}

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    let mut repo = global.open_repo()?;
    let interrupt = crate::progress::interrupt_flag();
    let options = FsckOptions {
        all: args.all,
        delete: args.delete,
        verify_bindings: args.verify_bindings,
        verify_back_refs: args.verify_back_refs,
        add_tombstones: args.add_tombstones,
    };
    let phases = PhaseLines {
        quiet: args.quiet || args.json,
    };
    let outcome = fsck(&repo, &phases, &interrupt, &options)?;
    let mut out = String::new();
    // Upstream's progress, as printed when stdout is not a terminal: first and last step.
    let n = outcome.objects;
    if let Some(first) = 100usize.checked_div(n) {
        out.push_str(&format!(
            "fsck objects (1/{n}) {first}%\nfsck objects ({n}/{n}) 100%\n"
        ));
    }
    if !outcome.missing_parents.is_empty() {
        // A tombstone says a commit was deleted on purpose; they are only read when enabled.
        if repo.config().get_bool("core", "tombstone-commits")? != Some(true) {
            let mut config = repo.config().clone();
            config.set_bool("core", "tombstone-commits", true)?;
            repo.write_config(config)?;
        }
        for parent in &outcome.missing_parents {
            out.push_str(&format!("Adding tombstone for commit {parent}\n"));
            write_tombstone(&repo, parent)?;
        }
    }
    if outcome.partial > 0 && !args.add_tombstones {
        out.push_str(&format!(
            "{} partial commits not verified\n",
            outcome.partial
        ));
    }
    let clean = outcome.errors.is_empty() && outcome.partial_from_fsck == 0;
    if args.json {
        let hex = |list: &mut dyn Iterator<Item = &rostree::Checksum>| -> Vec<String> {
            list.map(|c| c.to_hex()).collect()
        };
        json::print(&serde_json::json!({
            "ok": clean,
            "objects": outcome.objects,
            "commits_verified": outcome.commits_verified,
            "partial_commits": outcome.partial,
            "partial_commits_from_fsck": outcome.partial_from_fsck,
            "errors": outcome.errors,
            "marked_partial": hex(&mut outcome.marked_partial.iter()),
            "tombstones_added": hex(&mut outcome.missing_parents.iter()),
        }))?;
        out.clear();
    } else if clean {
        out.push_str(&format!(
            "object fsck of {} commits completed successfully - no errors found.\n",
            outcome.commits_verified
        ));
    }
    util::write_stdout(out.as_bytes())?;
    if !args.json {
        for line in &outcome.errors {
            eprintln!("{line}");
        }
        for commit in &outcome.marked_partial {
            eprintln!("Marking commit as partial: {commit}");
        }
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
