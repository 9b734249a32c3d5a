//! `ostree admin kargs`: change the kernel arguments of the deployments.

use anyhow::Result;
use clap::Subcommand;
use rostree::sysroot::kargs::KernelArgs;
use rostree::sysroot::write::rewrite_entry_options;

use super::SysrootPath;

/// The `admin kargs` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Modify the kernel arguments of the deployments' entries in place
    EditInPlace(EditArgs),
}

/// Arguments of `admin kargs edit-in-place`.
#[derive(Debug, clap::Args)]
pub struct EditArgs {
    /// Append a kernel argument unless its key is there already
    #[arg(long = "append-if-missing", value_name = "NAME=VALUE")]
    append_if_missing: Vec<String>,
}

/// Runs an `admin kargs` subcommand.
pub fn run(command: Command, paths: &SysrootPath) -> Result<i32> {
    let Command::EditInPlace(args) = command;
    let (sysroot, _lock) = paths.load_locked()?;
    if sysroot.deployments().is_empty() {
        anyhow::bail!("Unable to find a deployment in sysroot");
    }
    for d in sysroot.deployments() {
        let mut kargs = KernelArgs::parse(d.bootconfig.get("options").unwrap_or_default());
        for arg in &args.append_if_missing {
            kargs.append_if_missing(arg);
        }
        rewrite_entry_options(&sysroot, d, &kargs)?;
    }
    Ok(0)
}
