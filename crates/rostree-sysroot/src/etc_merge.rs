//! The 3-way `/etc` merge: the machine's changes to its `/etc` (the merge deployment's
//! `etc` against its `usr/etc` defaults) carried into a new deployment's `etc`.

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use cap_std::fs::Dir;
use rostree_repo::sys;
use rustix::fs::{FileType, Gid, Mode, Uid};

use crate::error::{Error, IoContext, Result, WithContext};
use crate::merge_report::MergeReport;

/// What changed in `/etc` against its defaults, as relative paths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EtcChanges {
    /// Present in both, different.
    pub modified: Vec<PathBuf>,
    /// Removed from the defaults (a removed directory counts once).
    pub removed: Vec<PathBuf>,
    /// Not in the defaults (a directory's contents each count too).
    pub added: Vec<PathBuf>,
}

/// Compares `defaults` (`usr/etc`) with `current` (`etc`), ignoring xattrs as upstream does.
pub(crate) fn diff(defaults: &Dir, current: &Dir) -> Result<EtcChanges> {
    let mut changes = EtcChanges::default();
    diff_dir(defaults, current, Path::new(""), &mut changes)?;
    Ok(changes)
}

pub(crate) fn sorted_names(dir: &Dir, shown: &Path) -> Result<Vec<std::ffi::OsString>> {
    let mut names = Vec::new();
    for entry in dir.entries().io("readdir", shown)? {
        names.push(entry.io("readdir", shown)?.file_name());
    }
    names.sort();
    Ok(names)
}

fn diff_dir(a: &Dir, b: &Dir, rel: &Path, changes: &mut EtcChanges) -> Result<()> {
    let a_names = sorted_names(a, rel)?;
    for name in &a_names {
        let path = rel.join(name);
        let sa = sys::lstat_at(a, name).io("fstatat", &path)?;
        let sb = match sys::lstat_at(b, name) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                changes.removed.push(path);
                continue;
            }
            Err(e) => return Err(e).io("fstatat", &path),
        };
        let (ta, tb) = (
            FileType::from_raw_mode(sa.st_mode),
            FileType::from_raw_mode(sb.st_mode),
        );
        if ta != tb {
            changes.modified.push(path);
            continue;
        }
        let same_meta =
            sa.st_mode == sb.st_mode && sa.st_uid == sb.st_uid && sa.st_gid == sb.st_gid;
        match ta {
            FileType::Directory => {
                if !same_meta {
                    changes.modified.push(path.clone());
                }
                let da = sys::open_dir_nofollow(a, &name.to_string_lossy()).io("opendir", &path)?;
                let db = sys::open_dir_nofollow(b, &name.to_string_lossy()).io("opendir", &path)?;
                diff_dir(&da, &db, &path, changes)?;
            }
            FileType::Symlink => {
                let la = a.read_link_contents(name).io("readlinkat", &path)?;
                let lb = b.read_link_contents(name).io("readlinkat", &path)?;
                if !same_meta || la != lb {
                    changes.modified.push(path);
                }
            }
            FileType::RegularFile => {
                if !same_meta || sa.st_size != sb.st_size || !same_bytes(a, b, name, &path)? {
                    changes.modified.push(path);
                }
            }
            _ => {
                if !same_meta || sa.st_rdev != sb.st_rdev {
                    changes.modified.push(path);
                }
            }
        }
    }
    for name in sorted_names(b, rel)? {
        if a_names.binary_search(&name).is_ok() {
            continue;
        }
        let path = rel.join(&name);
        changes.added.push(path.clone());
        let sb = sys::lstat_at(b, &name).io("fstatat", &path)?;
        if FileType::from_raw_mode(sb.st_mode) == FileType::Directory {
            let db = sys::open_dir_nofollow(b, &name.to_string_lossy()).io("opendir", &path)?;
            add_all(&db, &path, changes)?;
        }
    }
    Ok(())
}

/// Every entry under an added directory, parents before children.
fn add_all(dir: &Dir, rel: &Path, changes: &mut EtcChanges) -> Result<()> {
    for name in sorted_names(dir, rel)? {
        let path = rel.join(&name);
        changes.added.push(path.clone());
        let st = sys::lstat_at(dir, &name).io("fstatat", &path)?;
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            let sub = sys::open_dir_nofollow(dir, &name.to_string_lossy()).io("opendir", &path)?;
            add_all(&sub, &path, changes)?;
        }
    }
    Ok(())
}

fn same_bytes(a: &Dir, b: &Dir, name: &OsStr, shown: &Path) -> Result<bool> {
    let mut fa = a.open(name).io("openat", shown)?;
    let mut fb = b.open(name).io("openat", shown)?;
    let (mut ba, mut bb) = (vec![0u8; 64 << 10], vec![0u8; 64 << 10]);
    loop {
        let na = read_full(&mut fa, &mut ba).io("read", shown)?;
        let nb = read_full(&mut fb, &mut bb).io("read", shown)?;
        if na != nb || ba[..na] != bb[..nb] {
            return Ok(false);
        }
        if na == 0 {
            return Ok(true);
        }
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Applies `changes` of the merge deployment's `etc` (`from`) to the new one's (`to`):
/// removals first, then modified and added paths copied over.
pub(crate) fn apply(from: &Dir, to: &Dir, changes: &EtcChanges) -> Result<()> {
    for path in &changes.removed {
        crate::fsutil::remove_all(to, path)?;
    }
    for path in changes.modified.iter().chain(&changes.added) {
        copy_config_path(from, to, path)?;
    }
    Ok(())
}

fn copy_config_path(from: &Dir, to: &Dir, path: &Path) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        ensure_parents(from, to, parent)?;
    }
    let src = sys::lstat_at(from, path.as_os_str()).io("fstatat", path)?;
    let src_is_dir = FileType::from_raw_mode(src.st_mode) == FileType::Directory;
    match sys::lstat_at(to, path.as_os_str()) {
        Ok(dst) if FileType::from_raw_mode(dst.st_mode) == FileType::Directory => {
            if !src_is_dir {
                return Err(Error::Refused(format!(
                    "Modified config file newly defaults to directory '{}', cannot merge",
                    path.display()
                )));
            }
            return Ok(());
        }
        Ok(_) => to.remove_file(path).io("unlinkat", path)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).io("fstatat", path),
    }
    copy_entry(from, to, path)
}

/// Makes the missing directories of `parent` in `to` like those of `from`.
fn ensure_parents(from: &Dir, to: &Dir, parent: &Path) -> Result<()> {
    let mut sofar = PathBuf::new();
    for part in parent.components() {
        sofar.push(part);
        match sys::lstat_at(to, sofar.as_os_str()) {
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                make_dir_like(from, to, &sofar)?;
            }
            Err(e) => return Err(e).io("fstatat", &sofar),
        }
    }
    Ok(())
}

fn make_dir_like(from: &Dir, to: &Dir, path: &Path) -> Result<()> {
    rustix::fs::mkdirat(to, path, Mode::from_raw_mode(0o700)).io("mkdirat", path)?;
    let src = sys::lstat_at(from, path.as_os_str()).io("fstatat", path)?;
    // Directory handles may be O_PATH; owners, modes and xattrs need readable descriptors.
    let src_dir = from.open_dir(path).io("opendir", path)?;
    let dst_dir = to.open_dir(path).io("opendir", path)?;
    let src_fd = sys::readable_dir(&src_dir).io("openat", path)?;
    let dst_fd = sys::readable_dir(&dst_dir).io("openat", path)?;
    copy_owner_mode_xattrs(&src_fd, &dst_fd, &src, path)
}

fn copy_owner_mode_xattrs(
    src: impl std::os::fd::AsFd,
    dst: impl std::os::fd::AsFd,
    st: &rustix::fs::Stat,
    path: &Path,
) -> Result<()> {
    rustix::fs::fchown(
        &dst,
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
    )
    .io("fchown", path)?;
    rustix::fs::fchmod(&dst, Mode::from_raw_mode(st.st_mode & 0o7777)).io("fchmod", path)?;
    let xattrs = sys::fd_xattrs(&src).io("flistxattr", path)?;
    sys::set_fd_xattrs(&dst, &xattrs).io("fsetxattr", path)
}

/// Copies one entry (a directory with everything in it) as it is: modes, owners and xattrs
/// kept, symlinks copied as symlinks, special files left out.
fn copy_entry(from: &Dir, to: &Dir, path: &Path) -> Result<()> {
    let st = sys::lstat_at(from, path.as_os_str()).io("fstatat", path)?;
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => {
            make_dir_like(from, to, path)?;
            let src = from.open_dir(path).io("opendir", path)?;
            for name in sorted_names(&src, path)? {
                copy_entry(from, to, &path.join(name))?;
            }
            Ok(())
        }
        FileType::Symlink => {
            let target = from.read_link_contents(path).io("readlinkat", path)?;
            rustix::fs::symlinkat(target.as_os_str().as_bytes(), to, path).io("symlinkat", path)?;
            rustix::fs::chownat(
                to,
                path,
                Some(Uid::from_raw(st.st_uid)),
                Some(Gid::from_raw(st.st_gid)),
                rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
            )
            .io("fchownat", path)?;
            let xattrs = sys::link_xattrs(from, path.as_os_str()).io("llistxattr", path)?;
            sys::set_link_xattrs(to, path.as_os_str(), &xattrs).io("lsetxattr", path)
        }
        FileType::RegularFile => {
            let mut src = from.open(path).io("openat", path)?;
            let mut dst = to.create(path).io("openat", path)?;
            std::io::copy(&mut src, &mut dst).io("copy", path)?;
            copy_owner_mode_xattrs(&src, &dst, &st, path)
        }
        // Sockets, fifos and devices have no place in a merged /etc.
        _ => Ok(()),
    }
}

/// Merges the merge deployment `merge_root`'s `/etc` changes into `new_root`'s `etc`.
pub(crate) fn merge(merge_root: &Dir, new_root: &Dir) -> Result<MergeReport> {
    let within = || "During /etc merge".to_owned();
    let (Ok(defaults), Ok(current)) = (merge_root.open_dir("usr/etc"), merge_root.open_dir("etc"))
    else {
        return Ok(MergeReport::default());
    };
    let changes = diff(&defaults, &current)
        .context(|| "While computing configuration diff".to_owned())
        .context(within)?;
    let target = new_root
        .open_dir("etc")
        .io("opendir", "etc")
        .context(within)?;
    apply(&current, &target, &changes).context(within)?;
    let new_defaults = new_root.open_dir("usr/etc").ok();
    MergeReport::new(changes, &defaults, new_defaults.as_ref())
}

/// `admin config-diff`: the local changes of `deployment`'s `/etc` against its defaults.
pub fn config_diff(sysroot: &crate::Sysroot, deployment: &crate::Deployment) -> Result<EtcChanges> {
    let root = sysroot
        .ostree
        .open_dir(deployment.in_ostree())
        .io("opendir", deployment.path())?;
    let defaults = root.open_dir("usr/etc").io("opendir", "usr/etc")?;
    let current = root.open_dir("etc").io("opendir", "etc")?;
    diff(&defaults, &current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cap_std::ambient_authority;

    fn dir(path: &Path) -> Dir {
        Dir::open_ambient_dir(path, ambient_authority()).expect("open")
    }

    #[test]
    fn changes_are_found_and_carried_over() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let t = tmp.path();
        for (path, data) in [
            ("old/usr/etc/kept", "same\n"),
            ("old/usr/etc/edited", "default\n"),
            ("old/usr/etc/gone", "x\n"),
            ("old/usr/etc/gonedir/f", "x\n"),
            ("old/etc/kept", "same\n"),
            ("old/etc/edited", "local\n"),
            ("old/etc/newdir/sub/f", "mine\n"),
            ("new/etc/kept", "same\n"),
            ("new/etc/edited", "new default\n"),
            ("new/etc/gone", "x\n"),
            ("new/etc/gonedir/f", "x\n"),
        ] {
            let p = t.join(path);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, data).expect("write");
        }
        std::os::unix::fs::symlink("/nonexistent", t.join("old/etc/dangling")).expect("symlink");
        let changes = merge(&dir(&t.join("old")), &dir(&t.join("new")))
            .expect("merged")
            .carried;
        let p = |s: &str| PathBuf::from(s);
        assert_eq!(changes.modified, vec![p("edited")]);
        assert_eq!(changes.removed, vec![p("gone"), p("gonedir")]);
        assert_eq!(
            changes.added,
            vec![
                p("dangling"),
                p("newdir"),
                p("newdir/sub"),
                p("newdir/sub/f")
            ]
        );
        let read = |s: &str| std::fs::read_to_string(t.join("new/etc").join(s)).expect("read");
        assert_eq!(read("edited"), "local\n");
        assert_eq!(read("newdir/sub/f"), "mine\n");
        assert!(!t.join("new/etc/gone").exists());
        assert!(!t.join("new/etc/gonedir").exists());
        assert_eq!(
            std::fs::read_link(t.join("new/etc/dangling")).expect("a link"),
            p("/nonexistent")
        );
    }

    #[test]
    fn a_file_where_the_new_default_is_a_directory_is_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let t = tmp.path();
        for (path, data) in [
            ("old/usr/etc/x", "a\n"),
            ("old/etc/x", "b\n"),
            ("new/etc/x/f", "c\n"),
        ] {
            let p = t.join(path);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, data).expect("write");
        }
        let err = merge(&dir(&t.join("old")), &dir(&t.join("new"))).expect_err("refused");
        assert_eq!(
            err.to_string(),
            "During /etc merge: Modified config file newly defaults to directory 'x', cannot merge"
        );
    }
}
