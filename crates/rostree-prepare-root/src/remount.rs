//! Early in the booted system (`rostree-remount.service`, before local file systems): the
//! mounts prepare-root left, adjusted to what the OS asked for, as upstream's
//! `ostree-remount` does. `/sysroot` follows `/` (writable unless `sysroot.readonly`
//! stamped it), `/etc` and `/var` are made writable when they are bind mounts of their own.

use std::path::Path;

use rustix::fs::{StatVfsMountFlags, statvfs};
use rustix::mount::{MountFlags, MountPropagationFlags, mount_change, mount_remount};

use crate::{BOOTED_MARKER, Error, SYSROOT_READONLY_STAMP};

/// One remount done, for the log.
#[derive(Debug, PartialEq, Eq)]
pub struct Remounted {
    /// The mount point.
    pub path: &'static str,
    /// Whether it is now writable.
    pub writable: bool,
}

/// Adjusts `/sysroot`, `/etc` and `/var` of the running system.
pub fn remount() -> Result<Vec<Remounted>, Error> {
    // The generator normally writes it; written again in case there was none.
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(BOOTED_MARKER);
    // systemd makes `/` shared again; a mount under /var must not appear in the stateroot.
    if let Err(e) = mount_change(
        "/sysroot",
        MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
    ) {
        eprintln!("warning: making /sysroot private: {e}");
    }
    let mut done = Vec::new();
    // A read-only `/` stays so: nothing is made writable behind its back.
    if readonly("/").unwrap_or(false) {
        return Ok(done);
    }
    let sysroot_readonly = std::fs::remove_file(SYSROOT_READONLY_STAMP).is_ok();
    let mut wanted = vec![("/sysroot", !sysroot_readonly)];
    if sysroot_readonly {
        wanted.push(("/etc", true));
    }
    wanted.push(("/var", true));
    for (path, writable) in wanted {
        if remount_one(path, writable)? {
            done.push(Remounted { path, writable });
        }
    }
    Ok(done)
}

/// Remounts `path` writable or read-only when it is a mount point in the other state;
/// false when there was nothing to do.
fn remount_one(path: &'static str, writable: bool) -> Result<bool, Error> {
    // A symlink points into /sysroot: no mount of its own.
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_symlink() => {}
        _ => return Ok(false),
    }
    let Ok(currently_readonly) = readonly(path) else {
        return Ok(false);
    };
    if currently_readonly != writable {
        return Ok(false);
    }
    let flags = if writable {
        MountFlags::SILENT
    } else {
        MountFlags::SILENT | MountFlags::RDONLY
    };
    match mount_remount(path, flags, "") {
        Ok(()) => Ok(true),
        // Not a mount point: it follows the file system it is on, as it should.
        Err(rustix::io::Errno::INVAL) => Ok(false),
        Err(e) => Err(Error::io(
            if writable {
                "remounting writable"
            } else {
                "remounting read-only"
            },
            Path::new(path),
            e,
        )),
    }
}

fn readonly(path: &str) -> rustix::io::Result<bool> {
    Ok(statvfs(path)?.f_flag.contains(StatVfsMountFlags::RDONLY))
}
