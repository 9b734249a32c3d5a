//! `ostree admin switch`: follow another ref (or remote) from now on, and deploy it.

use anyhow::{Result, bail};
use rostree::repo::RefKind;
use rostree::sysroot::origin::origin_for_refspec;
use rostree::upgrade::{PullFlags, Upgrader};

use super::SysrootPath;
use crate::progress::{CountProgress, interrupt_flag};
use crate::util;

/// Arguments of `admin switch`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] REF")]
pub struct Args {
    /// Use a different operating system root than the current one
    #[arg(long = "os", value_name = "OSNAME")]
    os: Option<String>,
    /// Reboot after switching trees
    #[arg(short = 'r', long)]
    reboot: bool,
    /// REMOTE:REF, REF (of the current remote) or REMOTE: (the current ref of another remote)
    refspec: Option<String>,
}

/// Runs `admin switch`.
pub fn run(args: Args, paths: &SysrootPath) -> Result<i32> {
    let Some(wanted) = args.refspec else {
        return Err(super::usage("REF must be specified"));
    };
    let (mut sysroot, _lock) = paths.load_locked()?;
    super::upgrade::refuse_reboot_unless_booted(args.reboot, &sysroot)?;
    let mut upgrader = Upgrader::new(&sysroot, args.os.as_deref(), true)?;
    let old = upgrader.refspec();
    let (old_remote, old_ref) = match old.split_once(':') {
        Some((r, b)) => (Some(r.to_owned()), b.to_owned()),
        None => (None, old.clone()),
    };
    let (new_remote, new_ref) = match wanted.strip_suffix(':') {
        Some(remote) => (Some(remote.to_owned()), old_ref.clone()),
        None => match wanted.split_once(':') {
            Some((r, b)) => (Some(r.to_owned()), b.to_owned()),
            None => (None, wanted.clone()),
        },
    };
    let new = match new_remote.or(old_remote.clone()) {
        Some(remote) => format!("{remote}:{new_ref}"),
        None => new_ref,
    };
    if new == old {
        bail!("Old and new refs are equal: {new}");
    }
    upgrader.set_origin(origin_for_refspec(&new))?;
    let progress = CountProgress::new();
    // There is no order in time between two refs.
    let flags = PullFlags {
        allow_older: true,
        synthetic: false,
    };
    upgrader.pull(&sysroot, &progress, &interrupt_flag(), flags)?;
    let (outcome, written) = upgrader.deploy(&mut sysroot, &progress)?;
    progress.finish();
    super::deploy::DeployNotes::of(&outcome).print(&outcome.deployment.checksum, true)?;
    util::write_stdout(format!("{}\n", written.summary()).as_bytes())?;
    super::deploy::print_freed(written.freed)?;
    // The ref followed before goes, as upstream drops it.
    let shown = old_remote.as_deref().unwrap_or("(null)");
    util::write_stdout(format!("Deleting ref '{shown}:{old_ref}'\n").as_bytes())?;
    let kind = match old_remote {
        Some(r) => RefKind::Remote(r),
        None => RefKind::Local,
    };
    sysroot.repo().set_ref(&kind, &old_ref, None)?;
    if args.reboot {
        return super::upgrade::reboot();
    }
    Ok(0)
}
