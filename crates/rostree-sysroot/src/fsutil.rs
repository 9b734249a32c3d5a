//! Small file-system steps done the way a sysroot needs them: relative to directory handles,
//! never following what is in the way, and atomic where the bootloader could see them.

use std::io::Write;
use std::path::Path;

use cap_std::fs::DirBuilderExt;
use cap_std::fs::{Dir, DirBuilder};

use crate::error::{IoContext, Result};

/// `rm -rf name` inside `dir`: nothing there is fine.
pub(crate) fn remove_all(dir: &Dir, name: impl AsRef<Path>) -> Result<()> {
    let name = name.as_ref();
    match dir.symlink_metadata(name) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).io("fstatat", name),
        Ok(meta) if meta.is_dir() => dir.remove_dir_all(name).io("rm -rf", name),
        Ok(_) => dir.remove_file(name).io("unlinkat", name),
    }
}

/// `mkdir -p` with `mode` for every directory it makes (the umask applies, as upstream).
pub(crate) fn mkdir_p(dir: &Dir, name: impl AsRef<Path>, mode: u32) -> Result<()> {
    let name = name.as_ref();
    let mut builder = DirBuilder::new();
    builder.recursive(true).mode(mode);
    dir.create_dir_with(name, &builder).io("mkdirat", name)
}

/// Points the symlink `link` at `target`, replacing what was there in one rename.
pub(crate) fn replace_symlink(dir: &Dir, target: &str, link: &str) -> Result<()> {
    let tmp = format!("{link}.tmp");
    remove_all(dir, &tmp)?;
    dir.symlink(target, &tmp).io("symlinkat", &tmp)?;
    dir.rename(&tmp, dir, link).io("renameat", link)
}

/// Writes `name` as `data` by a rename over it, mode 0644; `durable` syncs the data first.
pub(crate) fn replace_file(dir: &Dir, name: &str, data: &[u8], durable: bool) -> Result<()> {
    let tmp = format!(".{name}.tmp");
    let mut file = dir.create(&tmp).io("openat", &tmp)?;
    file.write_all(data).io("write", &tmp)?;
    if durable {
        file.sync_data().io("fdatasync", &tmp)?;
    }
    drop(file);
    dir.rename(&tmp, dir, name).io("renameat", name)
}

/// Reads a symlink's target as text; `None` when there is no such link.
pub(crate) fn read_link_opt(dir: &Dir, name: &str) -> Result<Option<String>> {
    match dir.read_link_contents(name) {
        Ok(target) => Ok(Some(target.to_string_lossy().into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).io("readlinkat", name),
    }
}

/// Flushes the sysroot's file system and the one of `/boot` (when it is another).
pub(crate) fn sync_filesystems(root: &Dir) -> Result<()> {
    rustix::fs::syncfs(readable(root, "/")?).io("syncfs", "/")?;
    if let Ok(boot) = root.open_dir("boot") {
        rustix::fs::syncfs(readable(&boot, "boot")?).io("syncfs", "boot")?;
    }
    Ok(())
}

/// A descriptor of `dir` that system calls on the directory itself accept (a handle may
/// be `O_PATH`).
pub(crate) fn readable(dir: &Dir, shown: &str) -> Result<std::os::fd::OwnedFd> {
    rostree_repo::sys::readable_dir(dir).io("openat", shown)
}

/// Sets or clears the immutable attribute of a directory, where the file system has one
/// (and the caller may change it).
pub(crate) fn set_immutable(dir: &Dir, immutable: bool) -> Result<()> {
    use rustix::fs::IFlags;
    let dir = readable(dir, ".")?;
    let flags = match rustix::fs::ioctl_getflags(&dir) {
        Ok(f) => f,
        Err(rustix::io::Errno::NOTSUP | rustix::io::Errno::NOTTY | rustix::io::Errno::PERM) => {
            return Ok(());
        }
        Err(e) => return Err(e).io("ioctl(FS_IOC_GETFLAGS)", "."),
    };
    let wanted = match immutable {
        true => flags | IFlags::IMMUTABLE,
        false => flags - IFlags::IMMUTABLE,
    };
    if wanted == flags {
        return Ok(());
    }
    match rustix::fs::ioctl_setflags(&dir, wanted) {
        Ok(())
        | Err(rustix::io::Errno::NOTSUP | rustix::io::Errno::NOTTY | rustix::io::Errno::PERM) => {
            Ok(())
        }
        Err(e) => Err(e).io("ioctl(FS_IOC_SETFLAGS)", "."),
    }
}

/// Hard-links `source` of `from` as `name` in `to`, or copies it (mode and owner kept,
/// data synced) where a link cannot cross file systems or has too many links.
pub(crate) fn link_or_copy(from: &Dir, source: &Path, to: &Dir, name: &str) -> Result<()> {
    match rustix::fs::linkat(from, source, to, name, rustix::fs::AtFlags::empty()) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::XDEV | rustix::io::Errno::MLINK) => {
            copy_file(from, source, to, name)
        }
        Err(e) => Err(e).io("linkat", source),
    }
}

fn copy_file(from: &Dir, source: &Path, to: &Dir, name: &str) -> Result<()> {
    use cap_std::fs::MetadataExt;
    let mut src = from.open(source).io("openat", source)?;
    let meta = src.metadata().io("fstat", source)?;
    let tmp = format!(".{name}.tmp");
    let mut dst = to.create(&tmp).io("openat", &tmp)?;
    std::io::copy(&mut src, &mut dst).io("copy", &tmp)?;
    rustix::fs::fchown(
        &dst,
        Some(rustix::fs::Uid::from_raw(meta.uid())),
        Some(rustix::fs::Gid::from_raw(meta.gid())),
    )
    .io("fchown", &tmp)?;
    rustix::fs::fchmod(&dst, rustix::fs::Mode::from_raw_mode(meta.mode() & 0o7777))
        .io("fchmod", &tmp)?;
    dst.sync_data().io("fdatasync", &tmp)?;
    drop(dst);
    to.rename(&tmp, to, name).io("renameat", name)
}

/// Copies the directory `source` of `from` to `name` in `to`, replacing files there.
pub(crate) fn copy_tree_over(from: &Dir, source: &Path, to: &Dir, name: &str) -> Result<()> {
    mkdir_p(to, name, 0o700)?;
    let src = from.open_dir(source).io("opendir", source)?;
    let dst = to.open_dir(name).io("opendir", name)?;
    for entry in src.entries().io("readdir", source)? {
        let entry = entry.io("readdir", source)?;
        let child = entry.file_name().to_string_lossy().into_owned();
        let kind = entry.file_type().io("fstatat", source.join(&child))?;
        if kind.is_dir() {
            copy_tree_over(&src, Path::new(&child), &dst, &child)?;
        } else if kind.is_file() {
            remove_all(&dst, &child)?;
            copy_file(&src, Path::new(&child), &dst, &child)?;
        }
    }
    Ok(())
}

/// Opens the directory `path` below `dir`, following symlinks wherever they lead.
pub(crate) fn open_dir_following(dir: &Dir, path: &str) -> std::io::Result<Dir> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::openat(
        dir,
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    Ok(Dir::from_std_file(std::fs::File::from(fd)))
}
