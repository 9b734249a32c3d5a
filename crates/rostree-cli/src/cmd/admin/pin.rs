//! `ostree admin pin`: keep a deployment whatever is deployed after it.

use anyhow::{Result, bail};
use rostree::sysroot::write::write_origin;

use super::SysrootPath;
use crate::util;

/// Arguments of `admin pin`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] INDEX")]
pub struct Args {
    /// Unset pin
    #[arg(short = 'u', long)]
    unpin: bool,
    /// The deployments' indexes
    indexes: Vec<String>,
}

/// Runs `admin pin`.
pub fn run(args: Args, paths: &SysrootPath) -> Result<i32> {
    let (mut sysroot, _lock) = paths.load_locked()?;
    if args.indexes.is_empty() {
        return Err(super::usage("INDEX must be specified"));
    }
    for text in &args.indexes {
        let index = match text.as_str() {
            "booted" | "pending" | "rollback" => index_of_kind(&sysroot, text)?,
            _ => parse_index(text)?,
        };
        let count = sysroot.deployments().len() as u64;
        if index >= count {
            bail!("Out of range deployment index {index}, expected < {count}");
        }
        let deployment = sysroot.deployments()[index as usize].clone();
        let word = if args.unpin { "unpinned" } else { "pinned" };
        if deployment.is_pinned() != args.unpin {
            util::write_stdout(format!("Deployment {text} is already {word}\n").as_bytes())?;
            continue;
        }
        let origin = deployment.origin.clone().unwrap_or_default();
        let origin = rostree::sysroot::origin::set_pinned(&origin, !args.unpin);
        write_origin(&mut sysroot, &deployment, &origin)?;
        util::write_stdout(format!("Deployment {text} is now {word}\n").as_bytes())?;
    }
    Ok(0)
}

/// The index of the booted, pending or rollback deployment (upstream 2023's names).
fn index_of_kind(sysroot: &rostree::sysroot::Sysroot, kind: &str) -> Result<u64> {
    let booted = sysroot.booted_deployment();
    let (pending, rollback) = match booted {
        Some(b) => sysroot.pending_and_rollback(&b.stateroot),
        None => (None, None),
    };
    let index = match kind {
        "booted" => booted.map(|b| b.index),
        "pending" => pending,
        _ => rollback,
    };
    match index {
        Some(i) => Ok(i as u64),
        None => bail!("Deployment type not found: {kind}"),
    }
}

/// `strtoull` base 10, refusing trailing text as upstream does.
fn parse_index(text: &str) -> Result<u64> {
    let digits = text.trim_start();
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    if end < digits.len() {
        bail!("Invalid index: {text}");
    }
    if end == 0 {
        return Ok(0);
    }
    match digits.parse::<u64>() {
        Ok(n) => Ok(n),
        Err(_) => bail!("Index too large: {text}"),
    }
}
