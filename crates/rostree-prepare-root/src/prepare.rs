//! The mount sequence that turns a physical root into the deployment the kernel command
//! line names, in upstream's order (so that anything watching mounts sees the same steps).

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::{StatVfsMountFlags, statvfs};
use rustix::mount::{
    MountFlags, MountPropagationFlags, UnmountFlags, mount, mount_bind, mount_change, mount_move,
    mount_remount, unmount,
};

use crate::config::{CONFIG_PATHS, Config, parse_prepare_root_conf, repo_config_sysroot_readonly};
use crate::target::{ostree_karg, resolve_deployment};
use crate::{BOOTED_MARKER, Error, SYSROOT_READONLY_STAMP};

/// Where the transient `/etc` overlay keeps its changes (`[etc] transient`).
const TRANSIENT_ETC: &str = "/run/ostree/transient-etc";
/// Where the deployment waits while the physical root moves under it.
const SYSROOT_TMP: &str = "/sysroot.tmp";

/// What was prepared.
#[derive(Debug)]
pub struct Prepared {
    /// The deployment directory, as found under the physical root.
    pub deployment: PathBuf,
    /// The configuration applied.
    pub config: Config,
}

/// Prepares the deployment named by `ostree=` under the physical root mounted at `root`
/// (`/sysroot` from an initramfs; `/` when running as PID 1, which pivots instead).
pub fn prepare_root(root: &Path, pid1: bool) -> Result<Prepared, Error> {
    let mounted_proc = ensure_proc()?;
    let sysroot = std::fs::canonicalize(root).map_err(|e| Error::io("resolving", root, e))?;
    let cmdline = std::fs::read_to_string("/proc/cmdline")
        .map_err(|e| Error::io("reading", "/proc/cmdline", e))?;
    let target = ostree_karg(&cmdline).ok_or(Error::NoTarget)?;
    let deployment = resolve_deployment(&sysroot, target)?;
    // Checked before the first mount, so a tree that cannot boot changes nothing.
    for dir in ["usr", "etc", "var", "sysroot"] {
        if !deployment.join(dir).is_dir() {
            return Err(Error::NotBootable {
                deployment,
                missing: dir,
            });
        }
    }
    if mounted_proc {
        // Leave /proc as it was found.
        unmount("/proc", UnmountFlags::empty()).map_err(|e| Error::io("unmounting", "/proc", e))?;
    }
    let config = load_config(&sysroot)?;
    let writable = !statvfs(&sysroot)
        .map_err(|e| Error::io("statvfs", &sysroot, e))?
        .f_flag
        .contains(StatVfsMountFlags::RDONLY);

    // Switching root refuses shared mounts.
    mount_change(
        "/",
        MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
    )
    .map_err(|e| Error::io("making private", "/", e))?;
    // A mount of its own, so it can be moved; entered after, so the working directory is on
    // the bind mount and not on the root beneath it.
    mount_bind(&deployment, &deployment).map_err(|e| Error::io("bind-mounting", &deployment, e))?;
    std::env::set_current_dir(&deployment).map_err(|e| Error::io("entering", &deployment, e))?;

    if config.sysroot_readonly {
        if !writable {
            return Err(Error::RootNotWritable(sysroot));
        }
        touch(SYSROOT_READONLY_STAMP, 0o644)?;
    }
    // /boot on the root file system (its `loader` link is there) is seen at /boot.
    let loader = sysroot.join("boot/loader");
    if is_symlink(&loader) && Path::new("boot").is_dir() && !is_symlink(Path::new("boot")) {
        bind(sysroot.join("boot"), "boot")?;
    }
    if config.etc_transient {
        transient_etc()?;
    } else if config.sysroot_readonly {
        bind("etc", "etc")?;
        remount_bind("etc", MountFlags::empty())?;
    }
    if Path::new(".usr-ovl-work").exists() {
        // `admin unlock` left a writable overlay for /usr.
        if on_readonly_fs(".")? {
            mount_remount(".", MountFlags::empty(), "")
                .map_err(|e| Error::io("remounting writable", &deployment, e))?;
        }
        overlay(
            "usr",
            "lowerdir=usr,upperdir=.usr-ovl-upper,workdir=.usr-ovl-work",
        )?;
    } else {
        bind("usr", "usr")?;
        remount_bind("usr", MountFlags::RDONLY)?;
    }
    if config.sysroot_readonly {
        bind("../../var", "../../var")?;
        remount_bind("../../var", MountFlags::empty())?;
    }
    bind("../../var", "var")?;
    if !pid1 {
        // As upstream: a boot without /run is not stopped for its marker.
        if let Err(e) = touch(BOOTED_MARKER, 0o640) {
            eprintln!("warning: {e}");
        }
    }

    if sysroot == Path::new("/") {
        // The deployment is below `/`: moving `/` would take it along, so the two swap.
        rustix::process::pivot_root(".", "sysroot")
            .map_err(|e| Error::io("pivoting to", &deployment, e))?;
    } else {
        // Three moves, since the physical root cannot move below itself: the deployment
        // aside, the physical root into it, the deployment into the physical root's place.
        std::fs::create_dir(SYSROOT_TMP).map_err(|e| Error::io("creating", SYSROOT_TMP, e))?;
        mount_move(&deployment, SYSROOT_TMP)
            .map_err(|e| Error::io("moving the deployment to", SYSROOT_TMP, e))?;
        mount_move(&sysroot, "sysroot")
            .map_err(|e| Error::io("moving the physical root into", "sysroot", e))?;
        mount_move(".", &sysroot)
            .map_err(|e| Error::io("moving the deployment to", &sysroot, e))?;
        std::fs::remove_dir(SYSROOT_TMP).map_err(|e| Error::io("removing", SYSROOT_TMP, e))?;
        if config.sysroot_readonly {
            remount_bind("sysroot", MountFlags::RDONLY)?;
        }
    }
    // A mount under /var must not propagate into the stateroot seen through /sysroot.
    mount_change("sysroot", MountPropagationFlags::PRIVATE)
        .map_err(|e| Error::io("making private", "sysroot", e))?;
    Ok(Prepared { deployment, config })
}

/// Mounts /proc when it is not (run as PID 1 before anything); true if it did.
fn ensure_proc() -> Result<bool, Error> {
    if Path::new("/proc/cmdline").exists() {
        return Ok(false);
    }
    mount("proc", "/proc", "proc", MountFlags::SILENT, None)
        .map_err(|e| Error::io("mounting", "/proc", e))?;
    Ok(true)
}

/// The initramfs's `prepare-root.conf`, with `sysroot.readonly` also taken from the repo's
/// config as upstream before 2023.6 read it.
fn load_config(sysroot: &Path) -> Result<Config, Error> {
    let mut config = Config::default();
    for path in CONFIG_PATHS {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                config = parse_prepare_root_conf(&text).map_err(|message| Error::Config {
                    path: path.into(),
                    message,
                })?;
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io("reading", path, e)),
        }
    }
    let repo_config = sysroot.join("ostree/repo/config");
    match std::fs::read_to_string(&repo_config) {
        Ok(text) => config.sysroot_readonly |= repo_config_sysroot_readonly(&text),
        Err(e) => eprintln!(
            "Missing expected repo config: {}: {e}",
            repo_config.display()
        ),
    }
    Ok(config)
}

/// `/etc` as an overlay of the deployment's defaults (`usr/etc`) with its changes in /run.
fn transient_etc() -> Result<(), Error> {
    let upper = format!("{TRANSIENT_ETC}/upper");
    let work = format!("{TRANSIENT_ETC}/work");
    for (dir, mode) in [(TRANSIENT_ETC, 0o700), (&upper, 0o755), (&work, 0o755)] {
        std::fs::DirBuilder::new()
            .recursive(true)
            .create(dir)
            .map_err(|e| Error::io("creating", dir, e))?;
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(mode))
            .map_err(|e| Error::io("chmod", dir, e))?;
    }
    overlay(
        "etc",
        &format!("lowerdir=usr/etc,upperdir={upper},workdir={work}"),
    )
}

fn bind(source: impl AsRef<Path>, target: &str) -> Result<(), Error> {
    mount_bind(source.as_ref(), target).map_err(|e| Error::io("bind-mounting onto", target, e))
}

fn remount_bind(target: &str, flags: MountFlags) -> Result<(), Error> {
    let what = if flags.contains(MountFlags::RDONLY) {
        "remounting read-only"
    } else {
        "remounting writable"
    };
    mount_remount(target, MountFlags::BIND | MountFlags::SILENT | flags, "")
        .map_err(|e| Error::io(what, target, e))
}

fn overlay(target: &str, options: &str) -> Result<(), Error> {
    let options = std::ffi::CString::new(options)
        .map_err(|e| Error::io("mounting an overlay on", target, std::io::Error::other(e)))?;
    mount(
        "overlay",
        target,
        "overlay",
        MountFlags::SILENT,
        Some(options.as_c_str()),
    )
    .map_err(|e| Error::io("mounting an overlay on", target, e))
}

fn on_readonly_fs(path: &str) -> Result<bool, Error> {
    Ok(statvfs(path)
        .map_err(|e| Error::io("statvfs", path, e))?
        .f_flag
        .contains(StatVfsMountFlags::RDONLY))
}

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Creates an empty marker file (kept if it exists).
fn touch(path: &str, mode: u32) -> Result<(), Error> {
    if let Some(parent) = Path::new(path).parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io("creating", parent, e))?;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(mode)
        .open(path)
        .map(drop)
        .map_err(|e| Error::io("creating", path, e))
}
