//! `ostree admin deploy`: check out a commit as a new deployment and boot it next.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use rostree::sysroot::deploy::{DeployOptions, deploy_tree};
use rostree::sysroot::kargs::KernelArgs;
use rostree::sysroot::origin::{origin_for_refspec, parse_origin};
use rostree::sysroot::write::{WriteFlags, simple_write_deployment};

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
            parse_origin(&text)?
        }
        None => origin_for_refspec(refspec),
    };
    let revision = match sysroot.repo().resolve_rev_optional(refspec)? {
        Some(r) => r,
        None => bail!("Refspec '{refspec}' not found"),
    };
    let merge = match args.no_merge {
        true => None,
        false => sysroot.merge_deployment(&stateroot).cloned(),
    };
    rostree::sysroot::cleanup::cleanup(&sysroot, false)
        .map_err(|e| e.context("Performing initial cleanup"))?;

    let kargs = if args.karg_none {
        Some(edit_kargs(KernelArgs::new(), &args)?)
    } else if args.karg_proc_cmdline {
        let cmdline = std::fs::read_to_string("/proc/cmdline").context("Reading /proc/cmdline")?;
        Some(edit_kargs(KernelArgs::from_proc_cmdline(&cmdline), &args)?)
    } else if !args.karg.is_empty() || !args.karg_append.is_empty() || args.karg_delete.is_some() {
        let start = merge
            .as_ref()
            .and_then(|m| m.bootconfig.get("options"))
            .map(KernelArgs::parse)
            .unwrap_or_default();
        Some(edit_kargs(start, &args)?)
    } else {
        None
    };
    if args.stage {
        if args.retain_pending || args.retain_rollback {
            bail!("--stage cannot currently be combined with --retain arguments");
        }
        if args.not_as_default {
            bail!("--stage cannot currently be combined with --not-as-default");
        }
    }
    let options = DeployOptions {
        origin: Some(origin),
        kargs,
    };
    if args.stage || args.lock_finalization {
        let progress = CountProgress::new();
        rostree::sysroot::staged::stage_tree(
            &mut sysroot,
            &stateroot,
            &revision,
            merge.as_ref(),
            &progress,
            &options,
        )?;
        if args.lock_finalization {
            rostree::sysroot::staged::lock_finalization(&sysroot, true)?;
        }
        return Ok(0);
    }
    let progress = match args.json {
        true => CountProgress::json(std::time::Duration::from_millis(500)),
        false => CountProgress::new(),
    };
    let outcome = deploy_tree(
        &sysroot,
        &stateroot,
        &revision,
        merge.as_ref(),
        &progress,
        &options,
    )?;
    let notes = DeployNotes::of(&outcome);
    notes.print(&revision, !args.json)?;
    let flags = WriteFlags {
        retain: args.retain,
        retain_pending: args.retain_pending,
        retain_rollback: args.retain_rollback,
        not_default: args.not_as_default,
        no_clean: true,
    };
    let name = outcome.deployment.name();
    let written = simple_write_deployment(
        &mut sysroot,
        outcome.deployment,
        merge.as_ref(),
        &progress,
        flags,
    )?;
    if !args.json {
        util::write_stdout(format!("{}\n", written.summary()).as_bytes())?;
    }
    let cleaned = rostree::sysroot::cleanup::cleanup(&sysroot, !args.no_prune)?;
    progress.finish();
    match args.json {
        true => progress.json_done(&format!(
            ",\"stateroot\":\"{}\",\"deployment\":\"{name}\",\"bootversion\":{},\"subbootversion\":{},\"bootconfig_swapped\":{},\"etc\":{{\"modified\":{},\"removed\":{},\"added\":{}}},\"freed\":{}",
            util::json_string(&stateroot),
            written.bootversion,
            written.subbootversion,
            written.bootconfig_swapped,
            notes.etc.map_or(0, |e| e.0),
            notes.etc.map_or(0, |e| e.1),
            notes.etc.map_or(0, |e| e.2),
            cleaned.freed
        )),
        false => print_freed(cleaned.freed)?,
    }
    Ok(0)
}

/// `--karg`, `--karg-append` and `--karg-delete` applied in that order.
fn edit_kargs(mut kargs: KernelArgs, args: &Args) -> Result<KernelArgs> {
    for arg in &args.karg {
        kargs.replace(arg);
    }
    for arg in &args.karg_append {
        kargs.append(arg);
    }
    if let Some(arg) = &args.karg_delete {
        kargs.delete(arg)?;
    }
    Ok(kargs)
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
    pub(crate) fn of(outcome: &rostree::sysroot::deploy::DeployOutcome) -> DeployNotes {
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
