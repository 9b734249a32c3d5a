//! Walking a commit's tree by path, shared by `ls` and `cat`.

use anyhow::{Result, bail};
use rostree::core::object::{DirTree, DirTreeRef};
use rostree::{Checksum, ObjectType, Repo};

/// What a path in a commit names.
pub enum Entry {
    /// A directory: (dirtree, dirmeta).
    Dir(Checksum, Checksum),
    /// A content object.
    File(Checksum),
}

/// Loads and parses a dirtree.
pub fn load_dirtree(repo: &Repo, checksum: &Checksum) -> Result<DirTree> {
    let data = repo.load_metadata(ObjectType::DirTree, checksum)?;
    let view = DirTreeRef::parse(&data)
        .map_err(|e| anyhow::anyhow!("Corrupted dirtree object {checksum}: {e}"))?;
    Ok(view.to_owned())
}

/// Finds `path` (absolute, `/`-separated) under the root of a commit.
pub fn lookup(repo: &Repo, root: (Checksum, Checksum), path: &str) -> Result<Entry> {
    let mut current = Entry::Dir(root.0, root.1);
    // Paths are taken literally, as upstream does: `/d/`, `//d` and `./d` name nothing.
    let relative = path.strip_prefix('/').unwrap_or(path);
    let components: Vec<&str> = if relative.is_empty() {
        Vec::new()
    } else {
        relative.split('/').collect()
    };
    if components
        .iter()
        .any(|c| c.is_empty() || *c == "." || *c == "..")
    {
        bail!("No such file or directory: {path}");
    }
    for component in components {
        let Entry::Dir(tree, _) = current else {
            bail!("No such file or directory: {path}");
        };
        let DirTree { files, dirs } = load_dirtree(repo, &tree)?;
        current = if let Some((_, c)) = files.iter().find(|(n, _)| n == component) {
            Entry::File(*c)
        } else if let Some((_, t, m)) = dirs.iter().find(|(n, _, _)| n == component) {
            Entry::Dir(*t, *m)
        } else {
            bail!("No such file or directory: {path}");
        };
    }
    Ok(current)
}
