//! `ostree admin undeploy`: remove a deployment.

use anyhow::{Result, bail};
use rostree::sysroot::write::write_deployments;

use super::SysrootPath;
use crate::util;

/// Arguments of `admin undeploy`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] INDEX")]
pub struct Args {
    /// The deployment's index
    index: Option<String>,
}

/// `atoi`: leading digits (after an optional sign), 0 when there are none.
pub(crate) fn atoi(text: &str) -> i64 {
    let t = text.trim_start();
    let (sign, digits) = match t.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, t.strip_prefix('+').unwrap_or(t)),
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    sign * digits[..end].parse::<i64>().unwrap_or(0)
}

/// Runs `admin undeploy`.
pub fn run(args: Args, paths: &SysrootPath) -> Result<i32> {
    let (mut sysroot, _lock) = paths.load_locked()?;
    let Some(index) = args.index else {
        return Err(super::usage("INDEX must be specified"));
    };
    let index = super::indexed_deployment(&sysroot, atoi(&index))?.index;
    if sysroot
        .booted_deployment()
        .is_some_and(|b| b.index == index)
    {
        bail!("Cannot undeploy currently booted deployment {index}");
    }
    let mut list = sysroot.deployments().to_vec();
    let removed = list.remove(index);
    let written = write_deployments(&mut sysroot, list, &rostree::NoProgress, true)?;
    util::write_stdout(format!("{}\n", written.summary()).as_bytes())?;
    super::deploy::print_freed(written.freed)?;
    util::write_stdout(format!("Deleted deployment {}\n", removed.name()).as_bytes())?;
    Ok(0)
}
