//! Booting an OSTree deployment: the initramfs side (`rostree-prepare-root`, a drop-in for
//! upstream's `ostree-prepare-root`) and the early-boot side (`rostree-remount`, for
//! upstream's `ostree-remount`).
//!
//! The initramfs mounts the physical root at `/sysroot` and runs
//! `rostree-prepare-root /sysroot`. Afterwards `/sysroot` is the deployment, ready for
//! `switch_root`:
//!
//! ```text
//! before                                  after
//! /sysroot            physical root       /sysroot            the deployment (bind mount)
//!   ostree/boot.1 -> boot.1.0               usr               read-only bind mount
//!   ostree/deploy/os/var                    etc               the deployment's, writable
//!   ostree/deploy/os/deploy/<c>.0           var               bind of ostree/deploy/os/var
//!                                           sysroot           the physical root
//!                                           boot              bind of sysroot/boot, when
//!                                                             /boot is on the root
//! /run/ostree-booted                      written: "this boot is an OSTree deployment"
//! ```
//!
//! Run as PID 1 (no initramfs), the root is `/` itself: the deployment is pivoted to `/`
//! and `/sbin/init` executed.
//!
//! Configuration, as upstream 2023.6+ reads it: `prepare-root.conf` in the initramfs
//! (`[sysroot] readonly`, `[etc] transient`), and `[sysroot] readonly=true` in the repo's
//! config.

pub mod config;
pub mod prepare;
pub mod remount;
pub mod target;

use std::path::PathBuf;

/// Why a deployment could not be prepared. Every case stops the boot with this message.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No `ostree=` on the kernel command line.
    #[error("no OSTree target: the kernel command line has no ostree=/ostree/boot.N/... argument")]
    NoTarget,
    /// `ostree=` names something outside `/ostree/`.
    #[error("OSTree target {0:?} is outside /ostree (expected ostree=/ostree/boot.N/...)")]
    TargetOutside(String),
    /// The target exists but is not the symbolic link `admin deploy` writes.
    #[error("OSTree target is not a symbolic link: {}", .0.display())]
    NotALink(PathBuf),
    /// Following the target's links never ends.
    #[error("OSTree target {} is a symlink loop", .0.display())]
    Loop(PathBuf),
    /// The target resolves to something that is not a deployment directory.
    #[error(
        "OSTree target {target} resolves to {}, which is not a deployment \
         (ostree/deploy/STATEROOT/deploy/CHECKSUM.SERIAL)",
        resolved.display()
    )]
    NotADeployment {
        /// The `ostree=` value.
        target: String,
        /// Where it led.
        resolved: PathBuf,
    },
    /// The deployment lacks a directory every bootable tree has.
    #[error("deployment {} has no /{missing} directory: not a bootable OSTree tree", deployment.display())]
    NotBootable {
        /// The deployment.
        deployment: PathBuf,
        /// The directory it lacks.
        missing: &'static str,
    },
    /// `prepare-root.conf` does not parse.
    #[error("{}: {message}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// `sysroot.readonly` needs the physical root mounted writable at this point.
    #[error("sysroot.readonly=true requires {} to be writable at this point", .0.display())]
    RootNotWritable(PathBuf),
    /// A system call failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// On what.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl Error {
    fn io(
        what: &'static str,
        path: impl Into<PathBuf>,
        source: impl Into<std::io::Error>,
    ) -> Error {
        Error::Io {
            what,
            path: path.into(),
            source: source.into(),
        }
    }
}

/// Where this boot's marker goes, which tells `ostree admin` (rostree's and upstream's)
/// that the system was booted into a deployment.
pub const BOOTED_MARKER: &str = "/run/ostree-booted";
/// Left for `rostree-remount` when the root is to stay read-only (`sysroot.readonly`).
pub const SYSROOT_READONLY_STAMP: &str = "/run/ostree-sysroot-ro.stamp";
/// When present, `/var` is bind-mounted in the initramfs (upstream's systemd builds leave
/// it to a generator otherwise; rostree always mounts it, like upstream's builds without).
pub const INITRAMFS_MOUNT_VAR: &str = "/run/ostree/initramfs-mount-var";

/// Stops the boot with `error`: its message on the console, then an emergency shell on
/// this terminal, if the initramfs has one. The caller exits with failure afterwards.
pub fn emergency(program: &str, error: &dyn std::fmt::Display) {
    let message = format!("{program}: error: {error}\n");
    eprint!("{message}");
    // The kernel log reaches the console even when stderr does not.
    if let Ok(mut kmsg) = std::fs::OpenOptions::new().write(true).open("/dev/kmsg") {
        let _ = std::io::Write::write_all(&mut kmsg, message.as_bytes());
    }
    let shell = "/bin/sh";
    if std::path::Path::new(shell).exists() {
        eprintln!("{program}: starting an emergency shell; exit it to continue");
        if let Err(e) = std::process::Command::new(shell).arg("-i").status() {
            eprintln!("{program}: could not run {shell}: {e}");
        }
    }
}
