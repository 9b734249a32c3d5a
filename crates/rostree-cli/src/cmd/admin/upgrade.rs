//! `ostree admin upgrade`: pull the origin's ref and deploy it, keeping the merge deployment
//! as the rollback (the work is `rostree::upgrade::Upgrader`'s).

use anyhow::{Result, bail};
use rostree::sysroot::origin::ORIGIN_GROUP;
use rostree::upgrade::{PullFlags, Upgrader, without_transient_state};

use super::SysrootPath;
use crate::progress::{CountProgress, interrupt_flag};
use crate::util;

/// Arguments of `admin upgrade`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Use a different operating system root than the current one
    #[arg(long = "os", value_name = "OSNAME")]
    os: Option<String>,
    /// Reboot after a successful upgrade
    #[arg(short = 'r', long)]
    reboot: bool,
    /// Permit deployment of chronologically older trees
    #[arg(long = "allow-downgrade")]
    allow_downgrade: bool,
    /// Deploy CHECKSUM instead of the latest tree
    #[arg(long = "override-commit", value_name = "CHECKSUM")]
    override_commit: Option<String>,
    /// Do not create a new deployment, just download
    #[arg(long = "pull-only")]
    pull_only: bool,
    /// Do not download latest ostree and AppStream data, only deploy
    #[arg(long = "deploy-only")]
    deploy_only: bool,
    /// Complete deployment at OS shutdown
    #[arg(long)]
    stage: bool,
    /// Print progress (objects pulled, then files deployed) and the outcome as JSON Lines on
    /// stdout (rostree's own)
    #[arg(long)]
    json: bool,
}

/// Runs `admin upgrade`.
pub fn run(args: Args, paths: &SysrootPath) -> Result<i32> {
    if args.pull_only && args.deploy_only {
        bail!("Cannot simultaneously specify --pull-only and --deploy-only");
    }
    if args.pull_only && args.reboot {
        bail!("Cannot simultaneously specify --pull-only and --reboot");
    }
    let (mut sysroot, _lock) = paths.load_locked()?;
    refuse_reboot_unless_booted(args.reboot, &sysroot)?;
    let mut upgrader = Upgrader::new(&sysroot, args.os.as_deref(), false)?;
    let mut origin = without_transient_state(upgrader.origin());
    if let Some(commit) = &args.override_commit {
        origin.set_string(ORIGIN_GROUP, "override-commit", commit)?;
    }
    upgrader.set_origin(origin)?;
    let progress = match args.json {
        true => CountProgress::json(std::time::Duration::from_millis(500)),
        false => CountProgress::new(),
    };
    let flags = PullFlags {
        allow_older: args.allow_downgrade,
        synthetic: args.deploy_only,
    };
    let changed = match upgrader.pull(&sysroot, &progress, &interrupt_flag(), flags) {
        Ok(changed) => changed,
        Err(e) => {
            // What a failed --pull-only left half-fetched goes before the next try.
            if args.pull_only {
                let _ = rostree::sysroot::cleanup::cleanup(&sysroot, true);
            }
            return Err(e.into());
        }
    };
    if !changed {
        progress.finish();
        match args.json {
            true => progress.json_done(&upgrade_done(false, false, false)),
            false => util::write_stdout(b"No update available.\n")?,
        }
        return Ok(0);
    }
    if args.pull_only {
        if args.json {
            progress.finish();
            progress.json_done(&upgrade_done(true, false, false));
        }
        return Ok(0);
    }
    if args.stage || std::env::var_os("OSTREE_EX_STAGE_DEPLOYMENTS").is_some() {
        upgrader.stage(&mut sysroot, &progress)?;
        progress.finish();
        if args.json {
            progress.json_done(&upgrade_done(true, true, false));
        }
        return Ok(0);
    }
    let (outcome, written) = upgrader.deploy(&mut sysroot, &progress)?;
    progress.finish();
    super::deploy::DeployNotes::of(&outcome).print(&outcome.deployment.checksum, !args.json)?;
    if args.json {
        let mut fields = upgrade_done(true, false, true);
        fields.extend([
            ("deployment", outcome.deployment.name().into()),
            ("bootversion", written.bootversion.into()),
            ("subbootversion", written.subbootversion.into()),
            ("freed", written.freed.into()),
        ]);
        progress.json_done(&fields);
    } else {
        util::write_stdout(format!("{}\n", written.summary()).as_bytes())?;
        super::deploy::print_freed(written.freed)?;
    }
    if args.reboot {
        return reboot();
    }
    Ok(0)
}

/// `--reboot` after a successful upgrade or switch: the system reboots into it, as upstream
/// has systemd do it.
pub(crate) fn reboot() -> Result<i32> {
    use std::os::unix::process::CommandExt;
    let error = std::process::Command::new("systemctl").arg("reboot").exec();
    bail!("Failed to execute systemctl reboot: {error}")
}

/// `--reboot` means a running system to reboot: refused before anything changes otherwise.
pub(crate) fn refuse_reboot_unless_booted(
    reboot: bool,
    sysroot: &rostree::sysroot::Sysroot,
) -> Result<()> {
    if reboot && sysroot.booted_deployment().is_none() {
        bail!("Cannot reboot: Not currently booted into an OSTree system");
    }
    Ok(())
}

/// The fields every `done` line of `upgrade --json` has.
fn upgrade_done(changed: bool, staged: bool, deployed: bool) -> Vec<crate::progress::Field> {
    vec![
        ("changed", changed.into()),
        ("staged", staged.into()),
        ("deployed", deployed.into()),
    ]
}
