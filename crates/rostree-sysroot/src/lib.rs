//! OSTree sysroots: parallel-installed bootable roots, their bootloader entries and the
//! `/etc` merge, laid out on disk exactly as upstream ostree 2022.7 lays them out.
//!
//! ```text
//! SYSROOT/
//! ├── boot/
//! │   ├── loader -> loader.N            swapped by rename: the bootloader sees N or 1-N
//! │   ├── loader.N/entries/ostree-<i>-<stateroot>.conf   one BLS entry per deployment
//! │   ├── loader.N/{syslinux.cfg,uEnv.txt}               when that bootloader is in use
//! │   ├── boot -> .                     so `/boot/...` paths work from a /boot partition
//! │   └── ostree/<stateroot>-<bootcsum>/{vmlinuz-<kver>,initramfs-<kver>.img,...}
//! └── ostree/
//!     ├── repo/                         the system repository (bare); refs
//!     │                                 `ostree/<bootversion>/<subbootversion>/<i>` keep
//!     │                                 deployed commits from prune
//!     ├── boot.N -> boot.N.M            swapped when only the deployments' roots change
//!     ├── boot.N.M/<stateroot>/<bootcsum>/<bootserial> -> ../../../deploy/<stateroot>/deploy/<csum>.<serial>
//!     └── deploy/<stateroot>/
//!         ├── var/                      shared by every deployment of the stateroot
//!         └── deploy/<csum>.<serial>/   a hardlinked checkout of the commit, /etc merged
//!             deploy/<csum>.<serial>.origin   what it was deployed from (a key file)
//! ```
//!
//! A kernel argument `ostree=/ostree/boot.N/<stateroot>/<bootcsum>/<bootserial>` in each entry
//! names its deployment through the link farm, which is how the initramfs finds its root.

pub mod admin;
pub mod bls;
mod bootloader;
pub mod bootloader_config;
pub mod cleanup;
pub mod deploy;
mod deployment;
pub mod error;
pub mod etc_merge;
mod fsutil;
pub mod init;
pub mod kargs;
pub mod kernel;
pub mod lock;
pub mod merge_report;
pub mod origin;
pub mod osrelease;
pub mod staged;
pub mod status;
mod sysroot;
pub mod write;

pub use deployment::Deployment;
pub use error::{Error, Result};
pub use sysroot::{DebugFlags, Sysroot};
