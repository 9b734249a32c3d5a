//! `ostree admin deploy`: check out a commit as a new deployment and boot it next.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use rostree::sysroot::admin::{DeployRequest, KargEdits, KargsBase, deploy};
use rostree::sysroot::deploy::DeployOutcome;
use rostree::sysroot::origin::parse_origin;
use rostree::sysroot::write::WriteFlags;

use super::SysrootPath;
use crate::progress::CountProgress;
use crate::util;

/// Arguments of `admin deploy`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] REFSPEC")]
pub struct Args {
    /// Use a different operating system root than the current one
    #[arg(long = "os", alias = "stateroot", value_name = "OSNAME")]
    os: Option<String>,
    /// Specify origin file
    #[arg(long = "origin-file", value_name = "FILENAME")]
    origin_file: Option<PathBuf>,
    /// Don't prune the repo when done
    #[arg(long = "no-prune")]
    no_prune: bool,
    /// Do not apply configuration (/etc and kernel arguments) from booted deployment
    #[arg(long = "no-merge")]
    no_merge: bool,
    /// Do not delete previous deployments
    #[arg(long)]
    retain: bool,
    /// Do not delete pending deployments
    #[arg(long = "retain-pending")]
    retain_pending: bool,
    /// Do not delete rollback deployments
    #[arg(long = "retain-rollback")]
    retain_rollback: bool,
    /// Append rather than prepend new deployment
    #[arg(long = "not-as-default")]
    not_as_default: bool,
    /// Complete deployment at OS shutdown
    #[arg(long)]
    stage: bool,
    /// Prevent automatic deployment finalization on shutdown
    #[arg(long = "lock-finalization")]
    lock_finalization: bool,
    /// Import current /proc/cmdline
    #[arg(long = "karg-proc-cmdline")]
    karg_proc_cmdline: bool,
    /// Set kernel argument, like root=/dev/sda1; this overrides any earlier argument with the same name
    #[arg(long = "karg", value_name = "NAME=VALUE")]
    karg: Vec<String>,
    /// Append kernel argument; useful with e.g. console= that can be used multiple times
    #[arg(long = "karg-append", value_name = "NAME=VALUE")]
    karg_append: Vec<String>,
    /// Do not import kernel arguments
    #[arg(long = "karg-none")]
    karg_none: bool,
    /// Delete kernel argument if exists
    #[arg(long = "karg-delete", value_name = "NAME=VALUE")]
    karg_delete: Option<String>,
    /// Print progress and the outcome as JSON Lines on stdout (rostree's own)
    #[arg(long)]
    json: bool,
    /// The commit to deploy
    refspec: Option<String>,
}

/// Runs `admin deploy`.
pub fn run(args: Args, paths: &SysrootPath) -> Result<i32> {
    let (mut sysroot, _lock) = paths.load_locked()?;
    let Some(refspec) = args.refspec.as_deref() else {
        return Err(super::usage("REF/REV must be specified"));
    };
    if args.karg_proc_cmdline && args.karg_none {
        return Err(super::usage(
            "Can't specify both --karg-proc-cmdline and --karg-none",
        ));
    }
    if args.karg_none && args.karg_delete.is_some() {
        return Err(super::usage(
            "Can't specify both --karg-none and --karg-delete",
        ));
    }
    if args.no_merge && args.karg_delete.is_some() {
        return Err(super::usage(
            "Can't specify both --no-merge and --karg-delete",
        ));
    }
    let stateroot = match (&args.os, sysroot.booted_deployment()) {
        (Some(os), _) => os.clone(),
        (None, Some(booted)) => booted.stateroot.clone(),
        (None, None) => bail!(
            "Looking for booted deployment: Not currently booted into an OSTree system and no --os= argument given"
        ),
    };
    let origin = match &args.origin_file {
        Some(path) => {
            // GLib's key file loader reports only why the file could not be read.
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!(rostree::repo::os_error_text(&e)))?;
            Some(parse_origin(&text)?)
        }
        None => None,
    };
    let base = if args.karg_none {
        KargsBase::Empty
    } else if args.karg_proc_cmdline {
        let cmdline = std::fs::read_to_string("/proc/cmdline").context("Reading /proc/cmdline")?;
        KargsBase::ProcCmdline(cmdline)
    } else {
        KargsBase::Merge
    };
    if args.stage {
        if args.retain_pending || args.retain_rollback {
            bail!("--stage cannot currently be combined with --retain arguments");
        }
        if args.not_as_default {
            bail!("--stage cannot currently be combined with --not-as-default");
        }
    }
    let request = DeployRequest {
        origin,
        merge: !args.no_merge,
        kargs: KargEdits {
            base,
            replace: args.karg,
            append: args.karg_append,
            delete: args.karg_delete,
        },
        write: WriteFlags {
            retain: args.retain,
            retain_pending: args.retain_pending,
            retain_rollback: args.retain_rollback,
            not_default: args.not_as_default,
            no_clean: false,
        },
        stage: args.stage,
        lock_finalization: args.lock_finalization,
        prune: !args.no_prune,
        ..DeployRequest::new(stateroot, refspec)
    };
    let progress = match args.json {
        true => CountProgress::json(std::time::Duration::from_millis(500)),
        false => CountProgress::new(),
    };
    let report = deploy(&mut sysroot, &request, &progress)?;
    let Some(written) = &report.written else {
        // Staged: written into the bootloader's list at shutdown.
        if args.json {
            progress.finish();
            progress.json_done(&[
                ("stateroot", request.stateroot.as_str().into()),
                ("deployment", report.outcome.deployment.name().into()),
                ("staged", true.into()),
            ]);
        }
        return Ok(0);
    };
    let notes = DeployNotes::of(&report.outcome);
    notes.print(&report.revision, !args.json)?;
    if !args.json {
        util::write_stdout(format!("{}\n", written.summary()).as_bytes())?;
    }
    progress.finish();
    match args.json {
        true => {
            let (modified, removed, added) = notes.etc.unwrap_or_default();
            progress.json_done(&[
                ("stateroot", request.stateroot.as_str().into()),
                ("deployment", report.outcome.deployment.name().into()),
                ("staged", false.into()),
                ("bootversion", written.bootversion.into()),
                ("subbootversion", written.subbootversion.into()),
                ("bootconfig_swapped", written.bootconfig_swapped.into()),
                (
                    "etc",
                    serde_json::json!({"modified": modified, "removed": removed, "added": added}),
                ),
                ("freed", report.freed.into()),
            ]);
        }
        false => print_freed(report.freed)?,
    }
    Ok(0)
}

/// What deploying says on the way: `/var` content left out, `/etc` changes carried over,
/// the first relabeling of `/var`.
pub(crate) struct DeployNotes {
    ignored_var: Vec<String>,
    /// Modified, removed and added paths of the /etc merge.
    etc: Option<(usize, usize, usize)>,
    relabeled_var: bool,
}

impl DeployNotes {
    pub(crate) fn of(outcome: &DeployOutcome) -> DeployNotes {
        let etc = outcome.etc_merge.as_ref().map(|m| {
            let c = &m.carried;
            (c.modified.len(), c.removed.len(), c.added.len())
        });
        DeployNotes {
            ignored_var: outcome.ignored_var.clone(),
            etc,
            relabeled_var: outcome.relabeled_var,
        }
    }

    /// Prints them as upstream does: the notes on stderr, the rest on stdout unless that
    /// carries JSON (`stdout` false).
    pub(crate) fn print(&self, revision: &rostree::Checksum, stdout: bool) -> Result<()> {
        for name in &self.ignored_var {
            eprintln!(
                "note: Deploying commit {revision} which contains content in /var/{name} that will be ignored."
            );
        }
        if !stdout {
            return Ok(());
        }
        if let Some((modified, removed, added)) = self.etc {
            util::write_stdout(
                format!(
                    "Copying /etc changes: {modified} modified, {removed} removed, {added} added\n"
                )
                .as_bytes(),
            )?;
        }
        if self.relabeled_var {
            util::write_stdout(b"Relabeling /var (no stamp file 'var/.ostree-selabeled' found)\n")?;
        }
        Ok(())
    }
}

/// Upstream's report of a prune that freed something.
pub(crate) fn print_freed(freed: u64) -> Result<()> {
    if freed > 0 {
        let size = rostree::core::size::format_size(freed);
        util::write_stdout(format!("Freed objects: {size}\n").as_bytes())?;
    }
    Ok(())
}
