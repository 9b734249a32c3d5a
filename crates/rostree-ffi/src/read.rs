//! Reading what a repository holds: commits (`ostree show`), the entries of their trees
//! (`ostree ls [-R]`) and file contents (`ostree cat`), streamed.

use std::io::Read;
use std::sync::Arc;

use rostree::core::object::{DirTree, DirTreeRef};
use rostree::repo::content::Payload;
use rostree::repo::tree::{TreeEntry, lookup_path_following};
use rostree::{Checksum, ObjectType, Repo};

use crate::errors::{Error, RostreeErrorCode};
use crate::repo::{Repository, Result, SharedRepo, read_shared};

/// A commit, as `ostree show` prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitInfo {
    /// Its checksum.
    pub checksum: Checksum,
    /// Its parent, if it has one.
    pub parent: Option<Checksum>,
    /// The one-line subject.
    pub subject: String,
    /// The body (may be empty).
    pub body: String,
    /// Seconds since the epoch, UTC.
    pub timestamp: u64,
    /// The `version` metadata, if set.
    pub version: Option<String>,
    /// The root directory's tree and metadata objects.
    pub root: (Checksum, Checksum),
}

/// What a tree entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link.
    Symlink,
}

/// One entry of a commit's tree, as `ostree ls -C` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Its path in the commit, from `/`.
    pub path: String,
    /// What it is.
    pub kind: EntryKind,
    /// Permission bits (`st_mode & 07777`).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// A file's size in bytes (0 for directories and symlinks).
    pub size: u64,
    /// Its object: a file's content object, a directory's dirtree.
    pub checksum: Checksum,
    /// A symlink's target.
    pub symlink_target: Option<String>,
}

impl Repository {
    /// The commit `rev` names.
    pub fn read_commit(&self, rev: &str) -> Result<CommitInfo> {
        let repo = self.read();
        let checksum = repo.resolve_rev(rev).map_err(Error::from_repo)?;
        let commit = repo.load_commit(&checksum).map_err(Error::from_repo)?;
        Ok(CommitInfo {
            checksum,
            parent: commit.parent,
            version: commit.metadata.get_str("version").map(str::to_owned),
            subject: commit.subject,
            body: commit.body,
            timestamp: commit.timestamp,
            root: (commit.root_tree, commit.root_meta),
        })
    }

    /// The entries below `path` in the commit `rev` names (all of them, depth first, when
    /// `recursive`; a file's path gives that file), read as they are walked.
    pub fn walk(&self, rev: &str, path: &str, recursive: bool) -> Result<TreeWalker> {
        let root = self.read_commit(rev)?.root;
        let repo = self.read();
        let start = lookup_path_following(&repo, root, path).map_err(Error::from_repo)?;
        let path = normalized(path);
        let mut walker = TreeWalker {
            repo: self.shared(),
            recursive,
            stack: Vec::new(),
            single: None,
        };
        match start {
            TreeEntry::Dir(tree, _) => walker.push(&repo, path, &tree)?,
            TreeEntry::File(_) => walker.single = Some((path, start)),
        }
        Ok(walker)
    }

    /// The contents of the file at `path` in the commit `rev` names (symlinks within the
    /// commit followed), read as they are needed: an archive object inflates as it is read.
    pub fn open_file(&self, rev: &str, path: &str) -> Result<FileReader> {
        let root = self.read_commit(rev)?.root;
        let repo = self.read();
        match lookup_path_following(&repo, root, path).map_err(Error::from_repo)? {
            TreeEntry::File(checksum) => {
                let (_, payload) = repo.open_content(&checksum).map_err(Error::from_repo)?;
                let size = payload
                    .size()
                    .map_err(|e| Error::io("reading", std::path::Path::new(path), &e))?;
                Ok(FileReader { payload, size })
            }
            TreeEntry::Dir(..) => Err(Error::new(
                RostreeErrorCode::InvalidArgument,
                format!("{path}: Is a directory"),
                None,
            )),
        }
    }
}

/// `path` with one leading `/` and none trailing (`/` for the root).
fn normalized(path: &str) -> String {
    let trimmed = path.trim_matches('/');
    format!("/{trimmed}")
}

/// The entries of a tree, read directory by directory as they are asked for: files first,
/// then each directory followed (when recursive) by what it holds, as `ostree ls -R`
/// orders them. It keeps the repository open, whatever becomes of the handle it came from.
pub struct TreeWalker {
    repo: SharedRepo,
    recursive: bool,
    /// The directories being listed, innermost last.
    stack: Vec<Frame>,
    /// A walk of one file: that file, not yet given.
    single: Option<(String, TreeEntry)>,
}

struct Frame {
    path: String,
    tree: DirTree,
    next_file: usize,
    next_dir: usize,
}

impl TreeWalker {
    fn push(&mut self, repo: &Repo, path: String, tree: &Checksum) -> Result<()> {
        if self.stack.len() > rostree::core::object::MAX_TREE_DEPTH {
            return Err(Error::new(
                RostreeErrorCode::Failed,
                format!("Directories nested too deeply at {path}"),
                None,
            ));
        }
        let data = repo
            .load_metadata(ObjectType::DirTree, tree)
            .map_err(Error::from_repo)?;
        let tree = DirTreeRef::parse(&data)
            .map_err(|e| {
                Error::new(
                    RostreeErrorCode::Failed,
                    format!("Corrupted dirtree object {tree}: {e}"),
                    None,
                )
            })?
            .to_owned();
        self.stack.push(Frame {
            path,
            tree,
            next_file: 0,
            next_dir: 0,
        });
        Ok(())
    }

    /// The next entry, `None` at the end.
    pub fn next_entry(&mut self) -> Result<Option<Entry>> {
        let shared = Arc::clone(&self.repo);
        let repo = read_shared(&shared);
        if let Some((path, entry)) = self.single.take() {
            return describe(&repo, path, &entry).map(Some);
        }
        while let Some(frame) = self.stack.last_mut() {
            let child = |parent: &str, name: &str| match parent {
                "/" => format!("/{name}"),
                parent => format!("{parent}/{name}"),
            };
            if let Some((name, checksum)) = frame.tree.files.get(frame.next_file) {
                let path = child(&frame.path, name);
                frame.next_file += 1;
                return describe(&repo, path, &TreeEntry::File(*checksum)).map(Some);
            }
            if let Some((name, tree, meta)) = frame.tree.dirs.get(frame.next_dir) {
                let (path, tree, meta) = (child(&frame.path, name), *tree, *meta);
                frame.next_dir += 1;
                let entry = describe(&repo, path.clone(), &TreeEntry::Dir(tree, meta))?;
                if self.recursive {
                    self.push(&repo, path, &tree)?;
                }
                return Ok(Some(entry));
            }
            self.stack.pop();
        }
        Ok(None)
    }
}

fn describe(repo: &Repo, path: String, entry: &TreeEntry) -> Result<Entry> {
    match entry {
        TreeEntry::Dir(tree, meta) => {
            let meta = repo.load_dirmeta(meta).map_err(Error::from_repo)?;
            Ok(Entry {
                path,
                kind: EntryKind::Directory,
                mode: meta.mode & 0o7777,
                uid: meta.uid,
                gid: meta.gid,
                size: 0,
                checksum: *tree,
                symlink_target: None,
            })
        }
        TreeEntry::File(checksum) => {
            let (header, size) = repo.file_info(checksum).map_err(Error::from_repo)?;
            let symlink = header.is_symlink();
            Ok(Entry {
                path,
                kind: match symlink {
                    true => EntryKind::Symlink,
                    false => EntryKind::File,
                },
                mode: header.mode & 0o7777,
                uid: header.uid,
                gid: header.gid,
                size: if symlink { 0 } else { size },
                checksum: *checksum,
                symlink_target: symlink.then_some(header.symlink_target),
            })
        }
    }
}

/// A file's contents, read as asked for.
pub struct FileReader {
    payload: Payload,
    size: u64,
}

impl FileReader {
    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }
}

impl Read for FileReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.payload.read(buf)
    }
}
