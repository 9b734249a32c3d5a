//! `ostree admin config-diff`: the local changes of `/etc` against the defaults.

use std::fmt::Write as _;

use anyhow::{Result, bail};

use super::SysrootPath;
use crate::util;

/// Arguments of `admin config-diff`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Use a different operating system root than the current one
    #[arg(long = "os", value_name = "OSNAME")]
    os: Option<String>,
    /// Print the changes as JSON (rostree's own; docs/json.md)
    #[arg(long)]
    json: bool,
}

/// Runs `admin config-diff`.
pub fn run(args: Args, paths: &SysrootPath) -> Result<i32> {
    let sysroot = paths.load()?;
    let deployment = match (&args.os, sysroot.booted_deployment()) {
        (None, Some(booted)) => booted.clone(),
        (None, None) => {
            bail!("Not currently booted into an OSTree system and no --os= argument given")
        }
        (Some(os), _) => match sysroot.merge_deployment(os) {
            Some(d) => d.clone(),
            None => bail!("No deployment for OS '{os}'"),
        },
    };
    let changes = rostree::sysroot::etc_merge::config_diff(&sysroot, &deployment)?;
    if args.json {
        let paths = |list: &Vec<std::path::PathBuf>| -> Vec<String> {
            list.iter().map(|p| p.display().to_string()).collect()
        };
        crate::json::print(&serde_json::json!({
            "stateroot": deployment.stateroot,
            "deployment": deployment.checksum.to_hex(),
            "modified": paths(&changes.modified),
            "removed": paths(&changes.removed),
            "added": paths(&changes.added),
        }))?;
        return Ok(0);
    }
    let mut out = String::new();
    for (mark, paths) in [
        ('M', &changes.modified),
        ('D', &changes.removed),
        ('A', &changes.added),
    ] {
        for path in paths {
            let _ = writeln!(out, "{mark}    {}", path.display());
        }
    }
    util::write_stdout(out.as_bytes())?;
    Ok(0)
}
