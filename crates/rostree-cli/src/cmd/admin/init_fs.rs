//! `ostree admin init-fs`: lay out an empty sysroot.

use std::path::PathBuf;

use anyhow::{Context, Result};
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use rostree::sysroot::init::{InitFsOptions, init_fs};

/// Arguments of `admin init-fs`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] PATH")]
pub struct Args {
    /// Only create /boot and /ostree
    #[arg(long)]
    modern: bool,
    /// The new sysroot
    path: Option<PathBuf>,
}

/// Runs `admin init-fs`.
pub fn run(args: Args) -> Result<i32> {
    let Some(path) = args.path else {
        return Err(super::usage("PATH must be specified"));
    };
    let dir = Dir::open_ambient_dir(&path, ambient_authority())
        .with_context(|| format!("opendir({})", path.display()))?;
    init_fs(
        &dir,
        &path,
        &InitFsOptions {
            modern: args.modern,
        },
    )?;
    Ok(0)
}
