//! `rostree_repo_read_commit`, `rostree_repo_walk` and `rostree_repo_open_file`: reading
//! commits, their trees and their files.

use std::io::Read as _;

use super::*;
use crate::read::{Entry, EntryKind, FileReader, TreeWalker};

/// A commit, as `rostree_repo_read_commit` fills it in. Its strings belong to it: release
/// them with `rostree_commit_info_clear`.
#[repr(C)]
pub struct RostreeCommitInfo {
    /// Its checksum, hex.
    pub checksum: [c_char; ROSTREE_CHECKSUM_BUFSIZE],
    /// Its parent's checksum, hex; empty when it has none.
    pub parent: [c_char; ROSTREE_CHECKSUM_BUFSIZE],
    /// The one-line subject.
    pub subject: *mut c_char,
    /// The body (may be empty).
    pub body: *mut c_char,
    /// The `version` metadata; NULL when unset.
    pub version: *mut c_char,
    /// Seconds since the epoch, UTC.
    pub timestamp: u64,
}

/// Text for C to own.
fn owned_text(text: &str) -> *mut c_char {
    c_string(text).into_raw()
}

/// Reads the commit `rev` names into `*info`, as `ostree show` reads it.
///
/// # Safety
/// `repo` is an open repository; `rev` a NUL-terminated string; `info` valid for writing a
/// `RostreeCommitInfo` (whatever it held is overwritten, not freed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_repo_read_commit(
    repo: *const RostreeRepo,
    rev: *const c_char,
    info: *mut RostreeCommitInfo,
    error: *mut *mut RostreeError,
) -> c_int {
    // SAFETY: the caller's promises.
    unsafe {
        status(error, || {
            let info = out(info, "info")?;
            let commit = handle(repo, "repo")?.0.read_commit(c_text(rev, "rev")?)?;
            let mut filled = RostreeCommitInfo {
                checksum: [0; ROSTREE_CHECKSUM_BUFSIZE],
                parent: [0; ROSTREE_CHECKSUM_BUFSIZE],
                subject: owned_text(&commit.subject),
                body: owned_text(&commit.body),
                version: commit
                    .version
                    .as_deref()
                    .map_or(std::ptr::null_mut(), owned_text),
                timestamp: commit.timestamp,
            };
            write_checksum(filled.checksum.as_mut_ptr(), &commit.checksum);
            if let Some(parent) = &commit.parent {
                write_checksum(filled.parent.as_mut_ptr(), parent);
            }
            info.write(filled);
            Ok(())
        })
    }
}

/// Frees the strings of a `RostreeCommitInfo` and sets them to NULL; NULL is ignored, and
/// so is an info cleared before.
///
/// # Safety
/// `info` is NULL or a `RostreeCommitInfo` that `rostree_repo_read_commit` filled in (or
/// that was cleared since).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_commit_info_clear(info: *mut RostreeCommitInfo) {
    guard((), || {
        // SAFETY: the caller's promise.
        let Some(info) = (unsafe { info.as_mut() }) else {
            return;
        };
        for text in [&mut info.subject, &mut info.body, &mut info.version] {
            // SAFETY: each came from `CString::into_raw` (or is NULL, which this skips).
            unsafe { rostree_string_free(std::mem::replace(text, std::ptr::null_mut())) };
        }
    })
}

/// What a tree entry is.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RostreeEntryKind {
    /// A regular file.
    File = 1,
    /// A directory.
    Directory = 2,
    /// A symbolic link.
    Symlink = 3,
}

/// One entry of a commit's tree, as `ostree ls -C` shows it; valid until the next
/// `rostree_tree_walker_next` or `rostree_tree_walker_free` of its walker.
#[repr(C)]
pub struct RostreeTreeEntry {
    /// Its path in the commit, from `/`.
    pub path: *const c_char,
    /// What it is.
    pub kind: RostreeEntryKind,
    /// Permission bits (`st_mode & 07777`).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// A file's size in bytes (0 for directories and symlinks).
    pub size: u64,
    /// Its object, hex: a file's content object, a directory's dirtree.
    pub checksum: [c_char; ROSTREE_CHECKSUM_BUFSIZE],
    /// A symlink's target; NULL for the others.
    pub symlink_target: *const c_char,
}

/// A walk through a commit's tree. Thread-safety: use it from one thread at a time. It
/// keeps its repository open: it may outlive the `RostreeRepo` it came from.
pub struct RostreeTreeWalker {
    walker: TreeWalker,
    /// The entry last handed out and the strings it points to.
    current: Option<(RostreeTreeEntry, CString, Option<CString>)>,
}

/// Starts a walk through the tree of the commit `rev` names, below `path` (NULL: `/`;
/// symlinks on the way are followed within the commit): its entries, files first, then
/// each directory followed (when `recursive`) by all it holds, as `ostree ls -R` lists
/// them. A file's path gives that file alone. On success `*walker` is the walk, to free
/// with `rostree_tree_walker_free`.
///
/// # Safety
/// `repo` is an open repository; `rev` and `path` (or NULL) are NUL-terminated strings;
/// `walker` is valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_repo_walk(
    repo: *const RostreeRepo,
    rev: *const c_char,
    path: *const c_char,
    recursive: bool,
    walker: *mut *mut RostreeTreeWalker,
    error: *mut *mut RostreeError,
) -> c_int {
    // SAFETY: the caller's promises.
    unsafe {
        status(error, || {
            let walker = out(walker, "walker")?;
            let path = c_text_or_null(path, "path")?.unwrap_or("/");
            let walk = handle(repo, "repo")?
                .0
                .walk(c_text(rev, "rev")?, path, recursive)?;
            give(
                walker,
                RostreeTreeWalker {
                    walker: walk,
                    current: None,
                },
            );
            Ok(())
        })
    }
}

fn c_entry(entry: Entry) -> (RostreeTreeEntry, CString, Option<CString>) {
    let path = c_string(entry.path);
    let target = entry.symlink_target.map(c_string);
    let mut c = RostreeTreeEntry {
        path: path.as_ptr(),
        kind: match entry.kind {
            EntryKind::File => RostreeEntryKind::File,
            EntryKind::Directory => RostreeEntryKind::Directory,
            EntryKind::Symlink => RostreeEntryKind::Symlink,
        },
        mode: entry.mode,
        uid: entry.uid,
        gid: entry.gid,
        size: entry.size,
        checksum: [0; ROSTREE_CHECKSUM_BUFSIZE],
        symlink_target: target.as_ref().map_or(std::ptr::null(), |t| t.as_ptr()),
    };
    // SAFETY: the array is ROSTREE_CHECKSUM_BUFSIZE bytes.
    unsafe { write_checksum(c.checksum.as_mut_ptr(), &entry.checksum) };
    // The strings move with the tuple; their heap buffers, which the pointers name, stay.
    (c, path, target)
}

/// Moves the walk on: `*entry` is the next entry, or NULL when the walk is over.
///
/// # Safety
/// `walker` is a walk from `rostree_repo_walk`; `entry` is valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_tree_walker_next(
    walker: *mut RostreeTreeWalker,
    entry: *mut *const RostreeTreeEntry,
    error: *mut *mut RostreeError,
) -> c_int {
    // SAFETY: the caller's promises.
    unsafe {
        status(error, || {
            let entry = out(entry, "entry")?;
            let walker = walker
                .as_mut()
                .ok_or_else(|| Error::invalid_argument("walker is NULL"))?;
            walker.current = walker.walker.next_entry()?.map(c_entry);
            *entry = walker
                .current
                .as_ref()
                .map_or(std::ptr::null(), |(c, _, _)| c);
            Ok(())
        })
    }
}

/// Frees a walk (and the entry it last gave); NULL is ignored.
///
/// # Safety
/// `walker` is NULL or a walk from `rostree_repo_walk`, not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_tree_walker_free(walker: *mut RostreeTreeWalker) {
    // SAFETY: the caller's promise.
    guard((), || unsafe { take(walker) })
}

/// A file of a commit, open for reading. Thread-safety: use it from one thread at a time.
pub struct RostreeFileReader(FileReader);

/// Opens the file at `path` in the commit `rev` names (symlinks followed within the
/// commit), as `ostree cat` reads it: its contents stream, an archive object inflating as
/// it is read. A directory is `ROSTREE_ERROR_CODE_INVALID_ARGUMENT`. On success `*reader`
/// is the open file, to free with `rostree_file_reader_free`.
///
/// # Safety
/// `repo` is an open repository; `rev` and `path` are NUL-terminated strings; `reader` is
/// valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_repo_open_file(
    repo: *const RostreeRepo,
    rev: *const c_char,
    path: *const c_char,
    reader: *mut *mut RostreeFileReader,
    error: *mut *mut RostreeError,
) -> c_int {
    // SAFETY: the caller's promises.
    unsafe {
        status(error, || {
            let reader = out(reader, "reader")?;
            let file = handle(repo, "repo")?
                .0
                .open_file(c_text(rev, "rev")?, c_text(path, "path")?)?;
            give(reader, RostreeFileReader(file));
            Ok(())
        })
    }
}

/// The open file's size in bytes (0 for NULL).
///
/// # Safety
/// `reader` is NULL or an open file.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_file_reader_size(reader: *const RostreeFileReader) -> u64 {
    // SAFETY: the caller's promise.
    guard(0, || unsafe { reader.as_ref() }.map_or(0, |r| r.0.size()))
}

/// Reads up to `len` bytes of the file into `buf`; `*n_read` is how many (0 at the end).
///
/// # Safety
/// `reader` is an open file; `buf` is valid for writing `len` bytes; `n_read` is valid for
/// writing a `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_file_reader_read(
    reader: *mut RostreeFileReader,
    buf: *mut c_void,
    len: usize,
    n_read: *mut usize,
    error: *mut *mut RostreeError,
) -> c_int {
    // SAFETY: the caller's promises.
    unsafe {
        status(error, || {
            let n_read = out(n_read, "n_read")?;
            let buf = out(buf, "buf")?;
            let reader = reader
                .as_mut()
                .ok_or_else(|| Error::invalid_argument("reader is NULL"))?;
            let buf = std::slice::from_raw_parts_mut(buf.cast::<u8>(), len);
            let n = loop {
                match reader.0.read(buf) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    other => break other,
                }
            }
            .map_err(|e| Error::new(RostreeErrorCode::Failed, format!("read: {e}"), None))?;
            *n_read = n;
            Ok(())
        })
    }
}

/// Closes an open file; NULL is ignored.
///
/// # Safety
/// `reader` is NULL or an open file, not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_file_reader_free(reader: *mut RostreeFileReader) {
    // SAFETY: the caller's promise.
    guard((), || unsafe { take(reader) })
}
