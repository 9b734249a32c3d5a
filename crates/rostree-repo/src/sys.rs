//! Small filesystem helpers over rustix: xattrs relative to a directory handle, and stat.
//!
//! Symlinks cannot be opened for xattr calls, so their xattrs are read through
//! `/proc/self/fd/<dirfd>/<name>` with the `l*xattr` calls, as libostree does.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use rostree_core::object::Xattrs;
use rustix::fs::{AtFlags, Stat, XattrFlags};

/// Opens the subdirectory `name` of `dir`, refusing to follow a symlink.
pub fn open_dir_nofollow(dir: &cap_std::fs::Dir, name: &str) -> io::Result<cap_std::fs::Dir> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    Ok(cap_std::fs::Dir::from_std_file(std::fs::File::from(fd)))
}

/// Reads the small file at `path` (relative, no `..`) below `dir` whole: the metadata
/// objects every walk loads by the thousand. Three system calls where `Dir::read` makes six
/// (it asks for the size and the position first); the path resolves beneath `dir` as
/// cap-std's would.
pub fn read_beneath(dir: &cap_std::fs::Dir, path: &str) -> io::Result<Vec<u8>> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
    let fd = match rustix::fs::openat2(dir, path, flags, Mode::empty(), resolve) {
        Ok(fd) => fd,
        // Kernels before 5.6: cap-std resolves beneath by itself.
        Err(rustix::io::Errno::NOSYS) => return dir.read(path),
        Err(e) => return Err(e.into()),
    };
    let mut data = Vec::with_capacity(16 << 10);
    read_to_end(&fd, &mut data)?;
    Ok(data)
}

/// Reads `fd` to its end, appending to `data`, which should have room for the size the
/// caller expects (more is made when the file has grown). Unlike `Read::read_to_end` on a
/// `File`, it does not ask for the size and position first: two system calls per file of
/// a tree committed.
pub fn read_to_end(fd: impl AsFd, data: &mut Vec<u8>) -> io::Result<()> {
    loop {
        if data.capacity() == data.len() {
            data.reserve(data.len().clamp(4096, 1 << 20));
        }
        match rustix::io::read(&fd, rustix::buffer::spare_capacity(data)) {
            Ok(0) => return Ok(()),
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// A readable descriptor for a directory handle. cap-std opens directories with `O_PATH`,
/// which `flistxattr` and `syncfs` refuse.
pub fn readable_dir(dir: &cap_std::fs::Dir) -> io::Result<std::os::fd::OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    Ok(rustix::fs::openat(
        dir,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// A file being created for an object: unnamed (`O_TMPFILE`) where the filesystem allows,
/// so that no partial file ever carries a name, else under a temporary name.
pub struct NewFile {
    file: std::fs::File,
    tmp_name: Option<String>,
}

impl NewFile {
    /// Creates the file in `dir`; `tmp_name` names it where `O_TMPFILE` is unsupported.
    pub fn create(dir: &cap_std::fs::Dir, tmp_name: impl FnOnce() -> String) -> io::Result<Self> {
        use rustix::fs::{Mode, OFlags};
        let mode = Mode::from_raw_mode(0o600);
        match rustix::fs::openat(
            dir,
            ".",
            OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC,
            mode,
        ) {
            Ok(fd) => Ok(NewFile {
                file: fd.into(),
                tmp_name: None,
            }),
            Err(
                rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::ISDIR | rustix::io::Errno::INVAL,
            ) => {
                let name = tmp_name();
                let fd = rustix::fs::openat(
                    dir,
                    name.as_str(),
                    OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::CLOEXEC,
                    mode,
                )?;
                Ok(NewFile {
                    file: fd.into(),
                    tmp_name: Some(name),
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The open file, for writing.
    pub fn file(&mut self) -> &mut std::fs::File {
        &mut self.file
    }

    /// Drops the file; one that got a temporary name in `created_in` is removed.
    pub fn discard(self, created_in: &cap_std::fs::Dir) {
        if let Some(tmp) = &self.tmp_name {
            let _ = rustix::fs::unlinkat(created_in, tmp.as_str(), AtFlags::empty());
        }
    }

    /// Gives the file (made in `created_in`) its final `name` in `dir`, on the same file
    /// system. Another writer having stored the same object under that name first is fine:
    /// objects are named by their content.
    pub fn publish(
        self,
        created_in: &cap_std::fs::Dir,
        dir: &cap_std::fs::Dir,
        name: &str,
    ) -> io::Result<()> {
        match self.tmp_name {
            None => {
                let proc = format!("/proc/self/fd/{}", self.file.as_raw_fd());
                match rustix::fs::linkat(
                    rustix::fs::CWD,
                    proc.as_str(),
                    dir,
                    name,
                    AtFlags::SYMLINK_FOLLOW,
                ) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => Ok(()),
                    Err(e) => Err(e.into()),
                }
            }
            Some(tmp) => Ok(rustix::fs::renameat(created_in, tmp.as_str(), dir, name)?),
        }
    }
}

/// `lstat` of `name` inside `dir`.
pub fn lstat_at(dir: impl AsFd, name: &OsStr) -> io::Result<Stat> {
    Ok(rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?)
}

fn proc_path(dir: BorrowedFd<'_>, name: &OsStr) -> PathBuf {
    let mut p = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
    p.push(name);
    p
}

fn collect_xattrs(
    list: impl Fn(&mut [u8]) -> rustix::io::Result<usize>,
    get: impl Fn(&OsStr, &mut [u8]) -> rustix::io::Result<usize>,
) -> io::Result<Xattrs> {
    let mut names = vec![0u8; 1024];
    loop {
        match list(&mut names) {
            Ok(n) => {
                names.truncate(n);
                break;
            }
            Err(rustix::io::Errno::RANGE) => names.resize(names.len() * 4, 0),
            Err(rustix::io::Errno::NOTSUP) => return Ok(Xattrs::new()),
            Err(e) => return Err(e.into()),
        }
    }
    let mut out = Vec::new();
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let mut value = vec![0u8; 256];
        loop {
            match get(OsStr::from_bytes(name), &mut value) {
                Ok(n) => {
                    value.truncate(n);
                    break;
                }
                Err(rustix::io::Errno::RANGE) => value.resize(value.len() * 4, 0),
                Err(e) => return Err(e.into()),
            }
        }
        // Upstream drops xattrs with empty values, so they change no checksum.
        if !value.is_empty() {
            out.push((name.to_vec(), value));
        }
    }
    Ok(Xattrs(out).sorted())
}

/// Every xattr of an open file or directory, sorted by name.
pub fn fd_xattrs(fd: impl AsFd) -> io::Result<Xattrs> {
    let fd = fd.as_fd();
    collect_xattrs(
        |buf| rustix::fs::flistxattr(fd, buf),
        |name, buf| rustix::fs::fgetxattr(fd, name, buf),
    )
}

/// Every xattr of `name` in `dir`, without following a symlink.
pub fn link_xattrs(dir: impl AsFd, name: &OsStr) -> io::Result<Xattrs> {
    let path = proc_path(dir.as_fd(), name);
    collect_xattrs(
        |buf| rustix::fs::llistxattr(&path, buf),
        |n, buf| rustix::fs::lgetxattr(&path, n, buf),
    )
}

/// Sets xattrs on an open file.
pub fn set_fd_xattrs(fd: impl AsFd, xattrs: &Xattrs) -> io::Result<()> {
    for (name, value) in &xattrs.0 {
        rustix::fs::fsetxattr(
            fd.as_fd(),
            OsStr::from_bytes(name),
            value,
            XattrFlags::empty(),
        )?;
    }
    Ok(())
}

/// Sets xattrs on `name` in `dir` without following a symlink.
pub fn set_link_xattrs(dir: impl AsFd, name: &OsStr, xattrs: &Xattrs) -> io::Result<()> {
    let path = proc_path(dir.as_fd(), name);
    for (n, value) in &xattrs.0 {
        rustix::fs::lsetxattr(&path, OsStr::from_bytes(n), value, XattrFlags::empty())?;
    }
    Ok(())
}

/// Reads one xattr of `name` in the subdirectory `sub` of `dir`, without opening the file.
pub fn path_xattr(
    dir: impl AsFd,
    sub: &str,
    name: &str,
    xattr: &str,
) -> io::Result<Option<Vec<u8>>> {
    let mut path = proc_path(dir.as_fd(), OsStr::new(sub));
    path.push(name);
    let mut value = vec![0u8; 256];
    loop {
        match rustix::fs::lgetxattr(&path, xattr, &mut value) {
            Ok(n) => {
                value.truncate(n);
                return Ok(Some(value));
            }
            Err(rustix::io::Errno::RANGE) => value.resize(value.len() * 4, 0),
            Err(rustix::io::Errno::NODATA) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Reads one xattr of an open file, `None` if it is absent.
pub fn fd_xattr(fd: impl AsFd, name: &str) -> io::Result<Option<Vec<u8>>> {
    let fd = fd.as_fd();
    let mut value = vec![0u8; 256];
    loop {
        match rustix::fs::fgetxattr(fd, name, &mut value) {
            Ok(n) => {
                value.truncate(n);
                return Ok(Some(value));
            }
            Err(rustix::io::Errno::RANGE) => value.resize(value.len() * 4, 0),
            Err(rustix::io::Errno::NODATA) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}
