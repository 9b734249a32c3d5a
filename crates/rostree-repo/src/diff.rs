//! Differences between two trees: commits in the repository, or a commit and a directory
//! on disk (hashed as `commit` would hash it, without writing anything).

use std::collections::{BTreeMap, HashSet};
use std::io::Read;

use cap_std::fs::Dir;
use rostree_core::object::{DirMeta, FileHeader, Xattrs, content_checksum};
use rostree_core::{Checksum, ObjectType};

use crate::error::{Error, IoContext, Result};
use crate::prune::Marker;
use crate::repo::Repo;
use crate::sys;

/// One side of a diff.
pub enum Side<'a> {
    /// A tree in the repository: (dirtree, dirmeta).
    Tree(Checksum, Checksum),
    /// A directory on disk.
    Dir(&'a Dir),
}

/// How files on disk are hashed.
#[derive(Clone, Debug, Default)]
pub struct DiffOptions {
    /// Owner recorded for files on disk (`--owner-uid`).
    pub owner_uid: Option<u32>,
    /// Group recorded for files on disk (`--owner-gid`).
    pub owner_gid: Option<u32>,
    /// Leave xattrs out when hashing files on disk (`--no-xattrs`).
    pub no_xattrs: bool,
}

/// The differences, each list in upstream's order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TreeDiff {
    /// Present on both sides with different content or metadata.
    pub modified: Vec<String>,
    /// Only on the left (a removed directory is listed once).
    pub removed: Vec<String>,
    /// Only on the right (an added directory is listed with everything in it).
    pub added: Vec<String>,
}

enum Entry {
    File(Checksum),
    RepoDir(Checksum, Checksum),
    DiskDir(Dir),
}

struct Differ<'a> {
    repo: &'a Repo,
    options: &'a DiffOptions,
}

impl Differ<'_> {
    /// Entries by name, files before directories, each group sorted, as upstream lists them.
    fn list(&self, side: &Side<'_>) -> Result<Vec<(String, Entry)>> {
        match side {
            Side::Tree(tree, _) => {
                let data = self.repo.load_metadata(ObjectType::DirTree, tree)?;
                let view = crate::repo::parse_dirtree(&data, tree)?;
                let mut out: Vec<(String, Entry)> = view
                    .files
                    .iter()
                    .map(|f| (f.name.to_owned(), Entry::File(f.checksum)))
                    .collect();
                out.extend(
                    view.dirs
                        .iter()
                        .map(|d| (d.name.to_owned(), Entry::RepoDir(d.tree, d.meta))),
                );
                Ok(out)
            }
            Side::Dir(dir) => {
                let mut files = BTreeMap::new();
                let mut dirs = BTreeMap::new();
                for entry in dir.entries().ctx("listing", "directory")? {
                    let entry = entry.ctx("listing", "directory")?;
                    let name = entry
                        .file_name()
                        .into_string()
                        .map_err(|name| Error::NonUtf8DiffName { name })?;
                    let st = sys::lstat_at(*dir, name.as_ref()).ctx("stat", &name)?;
                    match st.st_mode & 0o170000 {
                        0o040000 => {
                            let sub = sys::open_dir_nofollow(dir, &name).ctx("opening", &name)?;
                            dirs.insert(name, Entry::DiskDir(sub));
                        }
                        0o100000 | 0o120000 => {
                            let c = self.hash_file(dir, &name, &st)?;
                            files.insert(name, Entry::File(c));
                        }
                        _ => {
                            return Err(Error::UnsupportedFileType { name });
                        }
                    }
                }
                let mut out: Vec<_> = files.into_iter().collect();
                out.extend(dirs);
                Ok(out)
            }
        }
    }

    fn hash_file(&self, dir: &Dir, name: &str, st: &rustix::fs::Stat) -> Result<Checksum> {
        let symlink = st.st_mode & 0o170000 == 0o120000;
        let xattrs = if self.options.no_xattrs {
            Xattrs::new()
        } else {
            sys::link_xattrs(dir, name.as_ref()).ctx("reading xattrs of", name)?
        };
        let mut header = FileHeader {
            uid: self.options.owner_uid.unwrap_or(st.st_uid),
            gid: self.options.owner_gid.unwrap_or(st.st_gid),
            mode: st.st_mode,
            rdev: 0,
            symlink_target: String::new(),
            xattrs,
        };
        let mut payload = Vec::new();
        if symlink {
            let target = rustix::fs::readlinkat(dir, name, Vec::new()).ctx("reading link", name)?;
            header.symlink_target = target
                .into_string()
                .map_err(|_| Error::NonUtf8SymlinkTarget { path: name.into() })?;
        } else {
            let mut file = dir.open(name).ctx("opening", name)?;
            file.read_to_end(&mut payload).ctx("reading", name)?;
        }
        Ok(content_checksum(&header, &payload))
    }

    fn dirmeta_of(&self, dir: &Dir) -> Result<Checksum> {
        let fd = sys::readable_dir(dir).ctx("opening", "directory")?;
        let st = rustix::fs::fstat(&fd).ctx("stat", "directory")?;
        let xattrs = if self.options.no_xattrs {
            Xattrs::new()
        } else {
            sys::fd_xattrs(&fd).ctx("reading xattrs of", "directory")?
        };
        Ok(DirMeta {
            uid: self.options.owner_uid.unwrap_or(st.st_uid),
            gid: self.options.owner_gid.unwrap_or(st.st_gid),
            mode: st.st_mode,
            xattrs,
        }
        .checksum())
    }

    fn add_all(&self, side: &Side<'_>, prefix: &str, out: &mut Vec<String>) -> Result<()> {
        let entries = self.list(side)?;
        for (name, entry) in entries {
            let path = format!("{prefix}/{name}");
            out.push(path.clone());
            match entry {
                Entry::File(_) => {}
                Entry::RepoDir(t, m) => self.add_all(&Side::Tree(t, m), &path, out)?,
                Entry::DiskDir(d) => self.add_all(&Side::Dir(&d), &path, out)?,
            }
        }
        Ok(())
    }

    fn diff(&self, a: &Side<'_>, b: &Side<'_>, prefix: &str, out: &mut TreeDiff) -> Result<()> {
        let left = self.list(a)?;
        let right = self.list(b)?;
        let right_map: BTreeMap<&str, &Entry> =
            right.iter().map(|(n, e)| (n.as_str(), e)).collect();
        let left_names: std::collections::HashSet<&str> =
            left.iter().map(|(n, _)| n.as_str()).collect();
        for (name, l) in &left {
            let path = format!("{prefix}/{name}");
            match (l, right_map.get(name.as_str())) {
                (_, None) => out.removed.push(path),
                (Entry::File(x), Some(Entry::File(y))) => {
                    if x != y {
                        out.modified.push(path);
                    }
                }
                // A file turned directory (or back) is one modification, as upstream.
                (Entry::File(_), Some(_)) | (_, Some(Entry::File(_))) => out.modified.push(path),
                (ld, Some(rd)) => {
                    let (Some(ls), Some(rs)) = (side_of(ld), side_of(rd)) else {
                        continue;
                    };
                    // Same stored checksums: nothing below differs.
                    if let (Entry::RepoDir(t1, m1), Entry::RepoDir(t2, m2)) = (ld, rd)
                        && t1 == t2
                        && m1 == m2
                    {
                        continue;
                    }
                    if self.meta_of(ld)? != self.meta_of(rd)? {
                        out.modified.push(path.clone());
                    }
                    self.diff(&ls, &rs, &path, out)?;
                }
            }
        }
        for (name, r) in &right {
            if left_names.contains(name.as_str()) {
                continue;
            }
            let path = format!("{prefix}/{name}");
            out.added.push(path.clone());
            if let Some(side) = side_of(r) {
                self.add_all(&side, &path, &mut out.added)?;
            }
        }
        Ok(())
    }

    fn meta_of(&self, entry: &Entry) -> Result<Option<Checksum>> {
        Ok(match entry {
            Entry::RepoDir(_, m) => Some(*m),
            Entry::DiskDir(d) => Some(self.dirmeta_of(d)?),
            Entry::File(_) => None,
        })
    }
}

/// The directory an entry is, as a side to diff; `None` for files.
fn side_of(entry: &Entry) -> Option<Side<'_>> {
    match entry {
        Entry::RepoDir(t, m) => Some(Side::Tree(*t, *m)),
        Entry::DiskDir(d) => Some(Side::Dir(d)),
        Entry::File(_) => None,
    }
}

/// The differences from `a` to `b`.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::atomic::AtomicBool;
/// use cap_std::{ambient_authority, fs::Dir};
/// use rostree_repo::commit::{CommitOptions, TreeSource, commit};
/// use rostree_repo::diff::{DiffOptions, Side, diff_trees};
/// use rostree_repo::{InitOptions, Repo, RepoMode, progress::NoProgress};
///
/// let tmp = tempfile::tempdir()?;
/// std::fs::create_dir_all(tmp.path().join("tree/etc"))?;
/// std::fs::write(tmp.path().join("tree/etc/os-release"), "VERSION_ID=1\n")?;
/// std::fs::create_dir(tmp.path().join("repo"))?;
/// let repo_dir = Dir::open_ambient_dir(tmp.path().join("repo"), ambient_authority())?;
/// let options = InitOptions { mode: RepoMode::Archive, ..Default::default() };
/// let repo = Repo::init(repo_dir, tmp.path().join("repo"), &options)?;
/// let tree = Dir::open_ambient_dir(tmp.path().join("tree"), ambient_authority())?;
/// let sources = vec![TreeSource::Dir(tree, tmp.path().join("tree"))];
/// let options = CommitOptions { branch: Some("main".into()), ..Default::default() };
/// let outcome = commit(&repo, sources, &NoProgress, &AtomicBool::new(false), &options)?;
///
/// // The tree changes on disk; `ostree diff main tree` compares the commit with it.
/// std::fs::write(tmp.path().join("tree/etc/os-release"), "VERSION_ID=2\n")?;
/// std::fs::write(tmp.path().join("tree/etc/hostname"), "example\n")?;
/// let c = repo.load_commit(&outcome.checksum)?;
/// let tree = Dir::open_ambient_dir(tmp.path().join("tree"), ambient_authority())?;
/// let (old, new) = (Side::Tree(c.root_tree, c.root_meta), Side::Dir(&tree));
/// let diff = diff_trees(&repo, &old, &new, &DiffOptions::default())?;
/// assert_eq!(diff.modified, ["/etc/os-release"]);
/// assert_eq!(diff.added, ["/etc/hostname"]);
/// assert!(diff.removed.is_empty());
/// # Ok(()) }
/// ```
pub fn diff_trees(
    repo: &Repo,
    a: &Side<'_>,
    b: &Side<'_>,
    options: &DiffOptions,
) -> Result<TreeDiff> {
    let differ = Differ { repo, options };
    let mut out = TreeDiff::default();
    differ.diff(a, b, "", &mut out)?;
    Ok(out)
}

/// What `diff --stats` prints: the objects each commit reaches, and what they share.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectStats {
    /// Objects reachable from the first commit (itself, its trees and files).
    pub old_objects: usize,
    /// Objects reachable from the second.
    pub new_objects: usize,
    /// Objects reachable from both.
    pub common_objects: usize,
    /// Their size as stored, in bytes.
    pub common_size: u64,
}

/// Counts the objects two commits reach (without their history) and sizes those they share.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::atomic::AtomicBool;
/// use cap_std::{ambient_authority, fs::Dir};
/// use rostree_repo::commit::{CommitOptions, TreeSource, commit};
/// use rostree_repo::diff::object_stats;
/// use rostree_repo::{InitOptions, Repo, RepoMode, progress::NoProgress};
///
/// let tmp = tempfile::tempdir()?;
/// std::fs::create_dir_all(tmp.path().join("tree/etc"))?;
/// std::fs::write(tmp.path().join("tree/etc/hostname"), "example\n")?;
/// std::fs::create_dir(tmp.path().join("repo"))?;
/// let repo_dir = Dir::open_ambient_dir(tmp.path().join("repo"), ambient_authority())?;
/// let options = InitOptions { mode: RepoMode::Archive, ..Default::default() };
/// let repo = Repo::init(repo_dir, tmp.path().join("repo"), &options)?;
/// let interrupt = AtomicBool::new(false);
/// let mut commits = Vec::new();
/// for version in ["1", "2"] {
///     std::fs::write(tmp.path().join("tree/etc/os-release"), format!("VERSION_ID={version}\n"))?;
///     let tree = Dir::open_ambient_dir(tmp.path().join("tree"), ambient_authority())?;
///     let sources = vec![TreeSource::Dir(tree, tmp.path().join("tree"))];
///     let options = CommitOptions { branch: Some("main".into()), ..Default::default() };
///     commits.push(commit(&repo, sources, &NoProgress, &interrupt, &options)?.checksum);
/// }
///
/// // `ostree diff --stats main^ main`
/// let stats = object_stats(&repo, &commits[0], &commits[1])?;
/// // Each: the commit, two dirtrees, one dirmeta (shared by / and /etc), two files.
/// assert_eq!((stats.old_objects, stats.new_objects), (6, 6));
/// // Shared: the dirmeta and etc/hostname.
/// assert_eq!(stats.common_objects, 2);
/// # Ok(()) }
/// ```
pub fn object_stats(repo: &Repo, old: &Checksum, new: &Checksum) -> Result<ObjectStats> {
    let reach = |commit: &Checksum| -> Result<HashSet<(Checksum, ObjectType)>> {
        let mut marker = Marker::new(repo, false);
        marker.mark_commit(*commit, Some(0))?;
        Ok(marker.into_reachable())
    };
    let (old_set, new_set) = (reach(old)?, reach(new)?);
    let mut stats = ObjectStats {
        old_objects: old_set.len(),
        new_objects: new_set.len(),
        ..Default::default()
    };
    for (checksum, objtype) in old_set.intersection(&new_set) {
        let rel = checksum.relative_path(*objtype, repo.mode().is_archive());
        let st = sys::lstat_at(repo.objects_dir(), rel.as_ref())
            .ctx("stat", repo.object_path(*objtype, checksum))?;
        stats.common_objects += 1;
        stats.common_size += st.st_size as u64;
    }
    Ok(stats)
}
