//! `ostree admin`: the deployments of a sysroot.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use clap::Subcommand;
use rostree::sysroot::{DebugFlags, Sysroot};

use crate::{GlobalOptions, util};

mod cleanup;
mod config_diff;
mod deploy;
mod init_fs;
mod instutil;
mod kargs;
mod os_init;
mod pin;
mod set_default;
mod set_origin;
mod staged;
mod status;
mod switch;
mod undeploy;
mod upgrade;

/// Arguments of `admin`, which every admin subcommand also takes.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Create a new OSTree sysroot at PATH
    #[arg(long, global = true, value_name = "PATH")]
    sysroot: Option<PathBuf>,
    /// Print the current deployment's directory and exit
    #[arg(long = "print-current-dir", global = true)]
    print_current_dir: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

/// The `admin` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Delete untagged deployments and repository objects
    Cleanup(cleanup::Args),
    /// Report failure of the last staged deployment's finalization
    BootComplete(staged::BootCompleteArgs),
    /// Diff current /etc configuration versus default
    ConfigDiff(config_diff::Args),
    /// Checkout revision REFSPEC as the new default deployment
    Deploy(deploy::Args),
    /// Finalize the staged deployment (at shutdown)
    FinalizeStaged(staged::FinalizeArgs),
    /// Initialize a root filesystem
    InitFs(init_fs::Args),
    /// Provide instutil commands, allow admin to change boot configuration and relabel selinux
    #[command(subcommand)]
    Instutil(instutil::Command),
    /// Change kernel arguments
    #[command(subcommand)]
    Kargs(kargs::Command),
    /// Prevent (or allow again) the staged deployment's finalization at shutdown
    LockFinalization(staged::LockArgs),
    /// Initialize empty state for given operating system
    OsInit(os_init::Args),
    /// Change the "pinning" state of a deployment
    Pin(pin::Args),
    /// Set the default deployment
    SetDefault(set_default::Args),
    /// Set Origin and create a new origin file
    SetOrigin(set_origin::Args),
    /// Initialize empty state for given operating system (the newer name of os-init)
    StaterootInit(os_init::Args),
    /// List deployments
    Status(status::Args),
    /// Construct new tree from REF and deploy it
    Switch(switch::Args),
    /// Delete deployment INDEX
    Undeploy(undeploy::Args),
    /// Construct new tree from current origin and deploy it, if it changed
    Upgrade(upgrade::Args),
}

/// Runs an admin subcommand.
pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    let paths = SysrootPath::new(args.sysroot);
    if args.print_current_dir {
        let sysroot = paths.load()?;
        let Some(first) = sysroot.deployments().first() else {
            bail!("Unable to find a deployment in sysroot");
        };
        let dir = std::path::absolute(&paths.path)?.join(first.path());
        util::write_stdout(format!("{}\n", dir.display()).as_bytes())?;
        return Ok(0);
    }
    let Some(command) = args.command else {
        return Err(util::UsageError {
            message: "No \"admin\" subcommand specified".into(),
            blank_line: false,
        }
        .into());
    };
    let _ = global;
    match command {
        Command::Cleanup(a) => cleanup::run(a, &paths),
        Command::BootComplete(a) => staged::boot_complete(a, &paths),
        Command::ConfigDiff(a) => config_diff::run(a, &paths),
        Command::FinalizeStaged(a) => staged::finalize(a, &paths),
        Command::LockFinalization(a) => staged::lock(a, &paths),
        Command::Deploy(a) => deploy::run(a, &paths),
        Command::InitFs(a) => init_fs::run(a),
        Command::Instutil(c) => instutil::run(c, &paths),
        Command::Kargs(c) => kargs::run(c, &paths),
        Command::OsInit(a) | Command::StaterootInit(a) => os_init::run(a, &paths),
        Command::Pin(a) => pin::run(a, &paths),
        Command::SetDefault(a) => set_default::run(a, &paths),
        Command::SetOrigin(a) => set_origin::run(a, &paths),
        Command::Status(a) => status::run(a, &paths),
        Command::Switch(a) => switch::run(a, &paths),
        Command::Undeploy(a) => undeploy::run(a, &paths),
        Command::Upgrade(a) => upgrade::run(a, &paths),
    }
}

/// Where the sysroot is: `--sysroot`, else `$OSTREE_SYSROOT`, else `/`.
pub(crate) struct SysrootPath {
    path: PathBuf,
}

impl SysrootPath {
    fn new(flag: Option<PathBuf>) -> SysrootPath {
        let path = flag
            .or_else(|| {
                std::env::var_os("OSTREE_SYSROOT")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| PathBuf::from("/"));
        SysrootPath { path }
    }

    /// Opens the sysroot, takes its lock (saying so when it has to wait, as upstream), and
    /// loads it; the lock is held until the guard is dropped.
    pub(crate) fn load_locked(&self) -> Result<(Sysroot, rostree::sysroot::lock::SysrootLock)> {
        let dir = Dir::open_ambient_dir(&self.path, ambient_authority())
            .with_context(|| format!("opendir({})", self.path.display()))?;
        let lock = rostree::sysroot::lock::lock(&dir, &|| {
            let _ = util::write_stdout(b"Waiting for sysroot lock...\n");
        })?;
        Ok((
            Sysroot::load(dir, &self.path, DebugFlags::from_env())?,
            lock,
        ))
    }

    /// Opens and loads the sysroot (no lock: commands that only read, and `os-init`).
    pub(crate) fn load(&self) -> Result<Sysroot> {
        let dir = Dir::open_ambient_dir(&self.path, ambient_authority())
            .with_context(|| format!("opendir({})", self.path.display()))?;
        Ok(Sysroot::load(dir, &self.path, DebugFlags::from_env())?)
    }
}

/// The deployment at `index`, refused in upstream's words when there is none.
pub(crate) fn indexed_deployment(
    sysroot: &Sysroot,
    index: i64,
) -> Result<rostree::sysroot::Deployment> {
    let count = sysroot.deployments().len();
    if index < 0 {
        bail!("Invalid index {index}");
    }
    match sysroot.deployments().get(index as usize) {
        Some(d) => Ok(d.clone()),
        None => bail!("Out of range deployment index {index}, expected < {count}"),
    }
}

/// Loads the sysroot at `path` (`remote add --sysroot`).
pub(crate) fn load_sysroot(path: &std::path::Path) -> Result<Sysroot> {
    SysrootPath::new(Some(path.to_owned())).load()
}

/// A usage error in upstream's words (the command's help first).
pub(crate) fn usage(message: &str) -> anyhow::Error {
    util::UsageError {
        message: message.into(),
        blank_line: true,
    }
    .into()
}
