//! The OSTree on-disk repository: open and create repositories in every mode, read and write
//! objects and refs, and write commits inside transactions.
//!
//! Every function works on directory handles ([`cap_std::fs::Dir`]); nothing here resolves a
//! path against the process's working directory or root.

pub mod archive;
pub mod checkout;
pub mod collections;
pub mod commit;
pub mod config;
pub mod content;
pub mod copy;
mod deflate;
pub mod deltas;
pub mod diff;
mod error;
pub mod export;
mod flusher;
pub mod fsck;
mod mode;
pub mod mtree;
pub mod progress;
pub mod prune;
pub mod pull_local;
pub mod remote;
pub mod remotes_dir;
mod repo;
pub mod scratch;
pub mod summary;
pub mod summary_cache;
pub mod sys;
mod syscalls;
pub mod transaction;
pub mod tree;

pub use content::Payload;
pub use error::{Error, Result, TreeWalk, os_error_text};
pub use mode::RepoMode;
pub use repo::{InitOptions, ListedRef, RefKind, Repo, RepoLock, decode_filez};
pub use transaction::{Transaction, TransactionStats};

/// Every xattr of the file at `path`, not following a final symlink, sorted by name.
pub fn read_path_xattrs(path: &std::path::Path) -> std::io::Result<rostree_core::object::Xattrs> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    let name = path.file_name().unwrap_or(path.as_os_str());
    let dir = std::fs::File::open(parent)?;
    sys::link_xattrs(&dir, name)
}
