//! Walking a commit's tree by path, shared by `ls` and `cat`.

use anyhow::Result;
use rostree::core::object::{DirTree, DirTreeRef};
use rostree::{Checksum, ObjectType, Repo};

/// What a path in a commit names: a directory (dirtree, dirmeta) or a content object.
pub use rostree::repo::tree::TreeEntry as Entry;

/// Loads and parses a dirtree.
pub fn load_dirtree(repo: &Repo, checksum: &Checksum) -> Result<DirTree> {
    let data = repo.load_metadata(ObjectType::DirTree, checksum)?;
    let view = DirTreeRef::parse(&data)
        .map_err(|e| anyhow::anyhow!("Corrupted dirtree object {checksum}: {e}"))?;
    Ok(view.to_owned())
}

/// Finds `path` (absolute, `/`-separated, taken literally: `/d/`, `//d` and `./d` name
/// nothing, as upstream) under the root of a commit.
pub fn lookup(repo: &Repo, root: (Checksum, Checksum), path: &str) -> Result<Entry> {
    Ok(rostree::repo::tree::lookup_path(repo, root, path)?)
}

/// Like [`lookup`], but follows symlinks (also in the last component) within the commit.
pub fn lookup_following(repo: &Repo, root: (Checksum, Checksum), path: &str) -> Result<Entry> {
    Ok(rostree::repo::tree::lookup_path_following(
        repo, root, path,
    )?)
}
