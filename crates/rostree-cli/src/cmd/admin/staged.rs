//! `ostree admin finalize-staged`, `boot-complete` and `lock-finalization`: the staged
//! deployment's life on a running system.

use anyhow::Result;
use rostree::sysroot::staged::{self, Finalized};

use super::SysrootPath;
use crate::util;

/// Arguments of `admin finalize-staged`.
#[derive(Debug, clap::Args)]
pub struct FinalizeArgs {}

/// Runs `admin finalize-staged` (at shutdown).
pub fn finalize(_args: FinalizeArgs, paths: &SysrootPath) -> Result<i32> {
    let (mut sysroot, _lock) = paths.load_locked()?;
    match staged::finalize_staged(&mut sysroot, &rostree::NoProgress)? {
        Finalized::NothingStaged => eprintln!("No deployment staged for finalization"),
        Finalized::Locked => eprintln!(
            "Not finalizing; found {}",
            rostree::sysroot::staged::BootEnv::system()
                .staged_lock_file()
                .display()
        ),
        Finalized::Done { written, .. } => {
            util::write_stdout(format!("{}\n", written.summary()).as_bytes())?;
        }
    }
    Ok(0)
}

/// Arguments of `admin boot-complete`.
#[derive(Debug, clap::Args)]
pub struct BootCompleteArgs {}

/// Runs `admin boot-complete` (at boot).
pub fn boot_complete(_args: BootCompleteArgs, paths: &SysrootPath) -> Result<i32> {
    let sysroot = paths.load()?;
    staged::boot_complete(&sysroot)?;
    Ok(0)
}

/// Arguments of `admin lock-finalization`.
#[derive(Debug, clap::Args)]
pub struct LockArgs {
    /// Unlock finalization
    #[arg(short = 'u', long)]
    unlock: bool,
}

/// Runs `admin lock-finalization`.
pub fn lock(args: LockArgs, paths: &SysrootPath) -> Result<i32> {
    let (sysroot, _lock) = paths.load_locked()?;
    staged::lock_finalization(&sysroot, !args.unlock)?;
    Ok(0)
}
