//! `ostree admin set-default`: make a deployment the default boot (a rollback, say).

use anyhow::Result;
use rostree::sysroot::admin::set_default;

use super::SysrootPath;
use crate::util;

/// Arguments of `admin set-default`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] INDEX")]
pub struct Args {
    /// The deployment's index
    index: Option<String>,
}

/// Runs `admin set-default`.
pub fn run(args: Args, paths: &SysrootPath) -> Result<i32> {
    let (mut sysroot, _lock) = paths.load_locked()?;
    let Some(index) = args.index else {
        return Err(super::usage("INDEX must be specified"));
    };
    let target = super::indexed_deployment(&sysroot, super::undeploy::atoi(&index))?;
    let written = set_default(&mut sysroot, target.index)?;
    util::write_stdout(format!("{}\n", written.summary()).as_bytes())?;
    super::deploy::print_freed(written.freed)?;
    Ok(0)
}
