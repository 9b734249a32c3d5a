//! `ostree admin os-init` (`stateroot-init`): a new stateroot.

use anyhow::Result;

use super::SysrootPath;
use crate::util;

/// Arguments of `admin os-init`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] OSNAME")]
pub struct Args {
    /// The stateroot's name
    name: Option<String>,
}

/// Runs `admin os-init`.
pub fn run(args: Args, paths: &SysrootPath) -> Result<i32> {
    let sysroot = paths.load()?;
    let Some(name) = args.name else {
        return Err(super::usage("OSNAME must be specified"));
    };
    rostree::sysroot::init::init_stateroot(&sysroot, &name)?;
    util::write_stdout(format!("ostree/deploy/{name} initialized as OSTree root\n").as_bytes())?;
    Ok(0)
}
