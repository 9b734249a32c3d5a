//! `ostree admin instutil`: installer helpers.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use rostree::sysroot::kargs::KernelArgs;
use rostree::sysroot::write::write_deployments;

use super::SysrootPath;
use crate::util;

/// The `admin instutil` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Set new kernel command line arguments (Not stable)
    SetKargs(SetKargsArgs),
}

/// Arguments of `admin instutil set-kargs`.
#[derive(Debug, clap::Args)]
pub struct SetKargsArgs {
    /// Import current /proc/cmdline
    #[arg(long = "import-proc-cmdline")]
    import_proc_cmdline: bool,
    /// Merge with previous command line
    #[arg(long)]
    merge: bool,
    /// Set kernel argument, like root=/dev/sda1; this overrides any earlier argument with the same name
    #[arg(long, value_name = "NAME=VALUE")]
    replace: Vec<String>,
    /// Append kernel argument; useful with e.g. console= that can be used multiple times
    #[arg(long, value_name = "NAME=VALUE")]
    append: Vec<String>,
    /// Kernel arguments appended as they are
    args: Vec<String>,
}

/// Runs an `admin instutil` subcommand.
pub fn run(command: Command, paths: &SysrootPath) -> Result<i32> {
    let Command::SetKargs(args) = command;
    let mut sysroot = paths.load()?;
    let Some(first) = sysroot.deployments().first().cloned() else {
        bail!("Unable to find a deployment in sysroot");
    };
    let mut kargs = if args.import_proc_cmdline {
        let cmdline = std::fs::read_to_string("/proc/cmdline").context("Reading /proc/cmdline")?;
        KernelArgs::from_proc_cmdline(&cmdline)
    } else if args.merge {
        KernelArgs::parse(first.bootconfig.get("options").unwrap_or_default())
    } else {
        KernelArgs::new()
    };
    for arg in &args.replace {
        kargs.replace(arg);
    }
    for arg in args.append.iter().chain(&args.args) {
        kargs.append(arg);
    }
    let mut list = sysroot.deployments().to_vec();
    list[0].bootconfig.set("options", &kargs.to_string());
    let written = write_deployments(&mut sysroot, list, &rostree::NoProgress, true)?;
    util::write_stdout(format!("{}\n", written.summary()).as_bytes())?;
    super::deploy::print_freed(written.freed)?;
    Ok(0)
}
