//! The bootloaders' own configuration, written for a new loader `boot/loader.N` beside its
//! BLS entries: syslinux (`syslinux.cfg`), U-Boot (`uEnv.txt`) and GRUB 2 (through its
//! generator, which reads the entries), chosen by the repo's `sysroot.bootloader` or found
//! on `/boot` as upstream probes.

use std::path::{Path, PathBuf};

use crate::bls::BootEntry;
use crate::bootloader_config::{syslinux_config, uboot_config};
use crate::deployment::Deployment;
use crate::error::{Error, IoContext, Result};
use crate::fsutil::{remove_all, replace_file};
use crate::sysroot::{BootloaderChoice, Sysroot};

/// Writes the bootloader's own configuration for the new loader, if one is in use; returns
/// whether the bootloader switches atomically with `boot/loader`.
pub(crate) fn write_config(
    sysroot: &Sysroot,
    bootversion: u32,
    entries: &[BootEntry],
    deployments: &[Deployment],
) -> Result<bool> {
    let loader = format!("boot/loader.{bootversion}");
    let loader_dir = sysroot.dir.open_dir(&loader).io("opendir", &loader)?;
    let mut sorted = entries.to_vec();
    sorted.sort_by(crate::bls::compare_versions_desc);
    match detect_bootloader(sysroot) {
        None => Ok(false),
        Some(BootloaderChoice::Syslinux) => {
            let old = sysroot
                .dir
                .read_to_string("boot/syslinux/syslinux.cfg")
                .io("openat", "boot/syslinux/syslinux.cfg")?;
            let text = syslinux_config(&old, &sorted)?;
            replace_file(&loader_dir, "syslinux.cfg", text.as_bytes(), true)?;
            Ok(true)
        }
        Some(BootloaderChoice::Uboot) => {
            let tree_uenv = deployments
                .first()
                .map(|d| d.in_ostree().join("usr/lib/ostree-boot/uEnv.txt"))
                .and_then(|p| sysroot.ostree.read_to_string(p).ok());
            let text = uboot_config(&sorted, tree_uenv.as_deref())?;
            replace_file(&loader_dir, "uEnv.txt", text.as_bytes(), true)?;
            Ok(true)
        }
        Some(BootloaderChoice::Grub2) => match grub2_efi_dir(sysroot) {
            None => {
                let config = format!("boot/loader.{bootversion}/grub.cfg");
                run_grub2_generator(sysroot, bootversion, deployments, &config, false)?;
                Ok(true)
            }
            // EFI system partitions are FAT: no rename over a link, so upstream replaces
            // grub.cfg in place, keeping the previous one as grub.cfg.old.
            Some(vendor) => {
                let new = vendor.join("grub.cfg.new");
                remove_all(&sysroot.dir, &new)?;
                let new_text = new.to_string_lossy().into_owned();
                run_grub2_generator(sysroot, bootversion, deployments, &new_text, true)?;
                let (current, old) = (vendor.join("grub.cfg"), vendor.join("grub.cfg.old"));
                remove_all(&sysroot.dir, &old)?;
                sysroot
                    .dir
                    .copy(&current, &sysroot.dir, &old)
                    .io("copy", &old)?;
                remove_all(&sysroot.dir, &current)?;
                sysroot
                    .dir
                    .rename(&new, &sysroot.dir, &current)
                    .io("rename", &current)?;
                Ok(false)
            }
        },
        Some(other) => Err(Error::Refused(format!(
            "The {other:?} bootloader is not supported yet; set sysroot.bootloader to none"
        ))),
    }
}

/// Whether GRUB's BIOS configuration is there: `boot/grub/grub.cfg` or `boot/grub2/grub.cfg`,
/// a symlink into a loader counting even before that loader has one (as GIO counts it).
fn grub2_bios(sysroot: &Sysroot) -> bool {
    ["boot/grub/grub.cfg", "boot/grub2/grub.cfg"]
        .iter()
        .any(|p| sysroot.dir.symlink_metadata(p).is_ok())
}

/// Where GRUB's EFI configuration is (`boot/efi/EFI/<vendor>`, the vendor's directory with a
/// `grub.cfg`), when GRUB boots through EFI here rather than BIOS.
fn grub2_efi_dir(sysroot: &Sysroot) -> Option<PathBuf> {
    if grub2_bios(sysroot) {
        return None;
    }
    let efi = sysroot.dir.open_dir("boot/efi/EFI").ok()?;
    let mut vendors: Vec<_> = efi
        .entries()
        .ok()?
        .flatten()
        .filter(|e| e.file_name() != "BOOT" && e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name())
        .filter(|name| efi.exists(Path::new(name).join("grub.cfg")))
        .collect();
    vendors.sort();
    vendors
        .into_iter()
        .next()
        .map(|name| Path::new("boot/efi/EFI").join(name))
}

/// Where upstream finds `grub2-mkconfig`.
const GRUB2_MKCONFIG: &str = "/usr/sbin/grub2-mkconfig";

/// Writes `output` (relative to the sysroot) with GRUB's generator (`$OSTREE_GRUB2_EXEC`,
/// else `grub2-mkconfig`, run inside the first deployment when the sysroot is not the running
/// system), which reads the entries of `boot/loader.N`.
fn run_grub2_generator(
    sysroot: &Sysroot,
    bootversion: u32,
    deployments: &[Deployment],
    output: &str,
    efi: bool,
) -> Result<()> {
    let exec = std::env::var("OSTREE_GRUB2_EXEC").unwrap_or_else(|_| GRUB2_MKCONFIG.into());
    let config = std::path::absolute(sysroot.path.join(output)).io("realpath", output)?;
    let system_mkconfig = exec.ends_with(GRUB2_MKCONFIG);
    let chroot = match deployments.first() {
        Some(first)
            if system_mkconfig && sysroot.booted.is_none() && sysroot.path.parent().is_some() =>
        {
            Some(
                std::path::absolute(sysroot.path.join(first.path()))
                    .io("realpath", first.path())?,
            )
        }
        _ => None,
    };
    let mut command = match &chroot {
        Some(root) => {
            let mut c = std::process::Command::new("chroot");
            c.arg(root).arg(&exec);
            c
        }
        None => std::process::Command::new(&exec),
    };
    command
        .arg("-o")
        .arg(&config)
        .env("_OSTREE_GRUB2_BOOTVERSION", bootversion.to_string());
    if efi {
        command.env("_OSTREE_GRUB2_IS_EFI", "1");
    }
    if std::env::var_os("OSTREE_DEBUG_GRUB2").is_none() {
        command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
    }
    let status = command.status().io("spawn", &exec)?;
    if !status.success() {
        return Err(Error::Refused(format!(
            "{exec}: Child process exited with code {}",
            status.code().unwrap_or(-1)
        )));
    }
    let file = sysroot.dir.open(output).io("openat", output)?;
    file.sync_data().io("fdatasync", output)
}

/// The bootloader the repo's config names, or the one found on `/boot` as upstream probes.
fn detect_bootloader(sysroot: &Sysroot) -> Option<BootloaderChoice> {
    let dir = &sysroot.dir;
    match sysroot.bootloader {
        BootloaderChoice::None => None,
        BootloaderChoice::Auto => {
            if dir.symlink_metadata("boot/syslinux/syslinux.cfg").is_ok() {
                Some(BootloaderChoice::Syslinux)
            } else if grub2_bios(sysroot) || grub2_efi_dir(sysroot).is_some() {
                Some(BootloaderChoice::Grub2)
            } else if dir.symlink_metadata("boot/loader/uEnv.txt").is_ok() {
                Some(BootloaderChoice::Uboot)
            } else {
                None
            }
        }
        other => Some(other),
    }
}
