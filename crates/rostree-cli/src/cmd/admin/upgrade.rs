//! `ostree admin upgrade`: pull the origin's ref and deploy it, keeping the merge deployment
//! as the rollback.

use std::sync::atomic::AtomicBool;

use anyhow::{Result, bail};
use rostree::sysroot::deploy::{DeployOptions, deploy_tree};
use rostree::sysroot::origin::{ORIGIN_GROUP, TRANSIENT_GROUP, refspec};
use rostree::sysroot::write::{WriteFlags, simple_write_deployment};

use super::SysrootPath;
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
    let stateroot = match (&args.os, sysroot.booted_deployment()) {
        (Some(os), _) => os.clone(),
        (None, Some(b)) => b.stateroot.clone(),
        (None, None) => bail!("Not currently booted into an OSTree system and no OS specified"),
    };
    if stateroot.is_empty() {
        bail!("Invalid empty osname");
    }
    let Some(merge) = sysroot.merge_deployment(&stateroot).cloned() else {
        bail!("No previous deployment for OS '{stateroot}'");
    };
    let Some(mut origin) = merge.origin.clone() else {
        bail!("No origin known for deployment {}", merge.name());
    };
    origin.remove_group(TRANSIENT_GROUP);
    origin.remove_key(ORIGIN_GROUP, "override-commit");
    origin.remove_key(ORIGIN_GROUP, "unlocked");
    if let Some(commit) = &args.override_commit {
        origin.set_string(ORIGIN_GROUP, "override-commit", commit)?;
    }
    let Some(spec) = refspec(&origin).map(str::to_owned) else {
        bail!("No origin/refspec in current deployment origin; cannot upgrade via ostree");
    };
    let (remote, branch) = match spec.split_once(':') {
        Some((r, b)) => (Some(r.to_owned()), b.to_owned()),
        None => (None, spec.clone()),
    };
    if !args.deploy_only
        && let Some(remote) = &remote
    {
        let repo = sysroot.repo();
        let config = repo.remote(remote)?;
        let (remote_spec, mut options) =
            rostree::pull_options(repo, &config, &rostree::TrustRoots::system())?;
        if !args.allow_downgrade {
            options.timestamp_check_from = Some(merge.checksum);
        }
        let target = args
            .override_commit
            .clone()
            .unwrap_or_else(|| branch.clone());
        let interrupt = AtomicBool::new(false);
        rostree::pull(
            repo,
            &remote_spec,
            &[target],
            &rostree::NoProgress,
            &interrupt,
            &options,
        )?;
    }
    if args.pull_only {
        return Ok(0);
    }
    let new_rev = match &args.override_commit {
        Some(c) => sysroot.repo().resolve_rev(c)?,
        None => sysroot.repo().resolve_rev(&spec)?,
    };
    if new_rev == merge.checksum {
        util::write_stdout(b"No update available.\n")?;
        return Ok(0);
    }
    if !args.allow_downgrade {
        let old = sysroot.repo().load_commit(&merge.checksum)?.timestamp;
        let new = sysroot.repo().load_commit(&new_rev)?.timestamp;
        if new < old {
            bail!(
                "Upgrade target revision '{new_rev}' with timestamp '{}' is chronologically older than current revision '{}' with timestamp '{}'; use --allow-downgrade to permit",
                ctime(new),
                merge.checksum,
                ctime(old)
            );
        }
    }
    if args.stage || std::env::var_os("OSTREE_EX_STAGE_DEPLOYMENTS").is_some() {
        bail!("Cannot stage deployment: Not currently booted into an OSTree system");
    }
    if args.reboot {
        bail!("Cannot reboot: Not currently booted into an OSTree system");
    }
    let options = DeployOptions {
        origin: Some(origin),
        kargs: None,
    };
    let progress = crate::progress::CountProgress::new();
    let outcome = deploy_tree(
        &sysroot,
        &stateroot,
        &new_rev,
        Some(&merge),
        &progress,
        &options,
    )?;
    super::deploy::DeployNotes::of(&outcome).print(&new_rev, true)?;
    let written = simple_write_deployment(
        &mut sysroot,
        outcome.deployment,
        Some(&merge),
        &progress,
        WriteFlags::default(),
    )?;
    util::write_stdout(format!("{}\n", written.summary()).as_bytes())?;
    super::deploy::print_freed(written.freed)?;
    Ok(0)
}

/// A Unix time as C's `%c` prints it in the C locale.
fn ctime(seconds: u64) -> String {
    chrono::DateTime::from_timestamp(seconds as i64, 0)
        .map(|t| t.format("%a %b %e %H:%M:%S %Y").to_string())
        .unwrap_or_default()
}
