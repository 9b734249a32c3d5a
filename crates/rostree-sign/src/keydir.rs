//! Directories of trusted keys, held open.
//!
//! ```text
//! /etc/ostree/                      /usr/share/ostree/
//! ├── trusted.ed25519               ├── trusted.ed25519
//! ├── trusted.ed25519.d/*           ├── trusted.ed25519.d/*
//! ├── revoked.ed25519               ├── revoked.ed25519(.d/*)
//! └── revoked.ed25519.d/*           └── trusted.gpg.d/*.gpg, *.asc   (GPG keyrings)
//! ```
//!
//! Files are opened relative to the directory's handle and symlinks in it are followed
//! wherever they point, as upstream follows them (key files are often links into
//! `/usr/share/keyrings`).

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use cap_std::fs::Dir;
use rustix::fs::{Mode, OFlags};

/// A directory of keys, open, with the path it is shown as in messages.
#[derive(Debug)]
pub struct KeyDir {
    /// The directory.
    pub dir: Dir,
    /// Its path, for messages.
    pub path: PathBuf,
}

impl KeyDir {
    /// Opens the directory at `path` (from the process's view of the filesystem); `None`
    /// when there is no directory there.
    pub fn open(path: impl Into<PathBuf>) -> Option<KeyDir> {
        let path = path.into();
        let dir = Dir::open_ambient_dir(&path, cap_std::ambient_authority()).ok()?;
        Some(KeyDir { dir, path })
    }

    /// A second handle to the same directory.
    pub fn try_clone(&self) -> std::io::Result<KeyDir> {
        Ok(KeyDir {
            dir: self.dir.try_clone()?,
            path: self.path.clone(),
        })
    }

    /// Where `name` in this directory is shown.
    pub fn shown(&self, name: impl AsRef<Path>) -> PathBuf {
        self.path.join(name)
    }

    /// The contents of the regular file `name` (symlinks followed); `None` when there is
    /// no such file, or it is not a regular file.
    pub fn read(&self, name: impl AsRef<Path>) -> std::io::Result<Option<Vec<u8>>> {
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY;
        let fd = match rustix::fs::openat(self.dir.as_fd(), name.as_ref(), flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let mut file = std::fs::File::from(fd);
        if !file.metadata()?.is_file() {
            return Ok(None);
        }
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut data)?;
        Ok(Some(data))
    }

    /// The names of the entries of the subdirectory `name` (of this directory itself when
    /// empty), in name order; `None` when there is no such directory.
    pub fn list(&self, name: impl AsRef<Path>) -> std::io::Result<Option<Vec<String>>> {
        let name = name.as_ref();
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let at = if name.as_os_str().is_empty() {
            Path::new(".")
        } else {
            name
        };
        let fd = match rustix::fs::openat(self.dir.as_fd(), at, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let mut names = Vec::new();
        for entry in rustix::fs::Dir::read_from(&fd)? {
            let entry = entry?;
            let entry_name = entry.file_name().to_string_lossy();
            if entry_name != "." && entry_name != ".." {
                names.push(entry_name.into_owned());
            }
        }
        names.sort();
        Ok(Some(names))
    }
}

/// Upstream's directories of ed25519 keys that exist: `/etc/ostree`, then
/// `/usr/share/ostree`.
pub fn system_ed25519_dirs() -> Vec<KeyDir> {
    ["/etc/ostree", "/usr/share/ostree"]
        .into_iter()
        .filter_map(KeyDir::open)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_files_and_lists_through_the_handle() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let keys = tmp.path().join("keys");
        std::fs::create_dir_all(keys.join("trusted.ed25519.d")).expect("mkdir");
        std::fs::write(keys.join("trusted.ed25519.d/b"), "B\n").expect("write");
        std::fs::write(tmp.path().join("outside"), "A\n").expect("write");
        // A link out of the directory, by absolute path, is followed.
        std::os::unix::fs::symlink(tmp.path().join("outside"), keys.join("trusted.ed25519.d/a"))
            .expect("symlink");
        let dir = KeyDir::open(&keys).expect("open");
        assert_eq!(
            dir.list("trusted.ed25519.d").expect("list"),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
        assert_eq!(
            dir.read("trusted.ed25519.d/a").expect("read"),
            Some(b"A\n".to_vec())
        );
        assert_eq!(dir.read("trusted.ed25519").expect("read"), None);
        assert_eq!(dir.read("trusted.ed25519.d").expect("read"), None);
        assert_eq!(dir.list("missing.d").expect("list"), None);
        assert!(KeyDir::open(tmp.path().join("missing")).is_none());
    }
}
