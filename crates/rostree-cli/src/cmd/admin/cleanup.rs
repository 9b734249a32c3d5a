//! `ostree admin cleanup`: remove what no deployment needs.

use anyhow::Result;

use super::SysrootPath;

/// Arguments of `admin cleanup`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `admin cleanup`.
pub fn run(_args: Args, paths: &SysrootPath) -> Result<i32> {
    let (sysroot, _lock) = paths.load_locked()?;
    let outcome = rostree::sysroot::cleanup::cleanup(&sysroot, true)?;
    super::deploy::print_freed(outcome.freed)?;
    Ok(0)
}
