//! Paths in a commit's tree: what `ostree ls`, `cat` and `export --subpath` look up, and
//! the deployment code finds kernels by.

use rostree_core::{Checksum, ObjectType};

use crate::error::{Error, Result};
use crate::repo::Repo;

/// How many symlinks one lookup follows, as the kernel bounds it.
const MAX_LINK_HOPS: usize = 40;

/// The (dirtree, dirmeta) or content object at `path` in a commit's tree.
pub enum TreeEntry {
    /// A directory.
    Dir(Checksum, Checksum),
    /// A file or symlink.
    File(Checksum),
}

/// Finds `path` (absolute, `/`-separated, taken literally) below `root`.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # use std::sync::atomic::AtomicBool;
/// # use cap_std::{ambient_authority, fs::Dir};
/// # use rostree_repo::commit::{CommitOptions, TreeSource, commit};
/// # use rostree_repo::{InitOptions, Repo, RepoMode, progress::NoProgress};
/// # let tmp = tempfile::tempdir()?;
/// # std::fs::create_dir_all(tmp.path().join("tree/etc"))?;
/// # std::fs::write(tmp.path().join("tree/etc/os-release"), "ID=example\n")?;
/// # std::fs::create_dir(tmp.path().join("repo"))?;
/// # let repo_dir = Dir::open_ambient_dir(tmp.path().join("repo"), ambient_authority())?;
/// # let options = InitOptions { mode: RepoMode::Archive, ..Default::default() };
/// # let repo = Repo::init(repo_dir, tmp.path().join("repo"), &options)?;
/// # let tree = Dir::open_ambient_dir(tmp.path().join("tree"), ambient_authority())?;
/// # let sources = vec![TreeSource::Dir(tree, tmp.path().join("tree"))];
/// # let options = CommitOptions { branch: Some("main".into()), ..Default::default() };
/// # let interrupt = AtomicBool::new(false);
/// # commit(&repo, sources, &NoProgress, &interrupt, &options)?;
/// use rostree_repo::tree::{TreeEntry, lookup_path};
///
/// // `repo` holds `main`, a commit of a tree with /etc/os-release.
/// let commit = repo.load_commit(&repo.resolve_rev("main")?)?;
/// let root = (commit.root_tree, commit.root_meta);
/// assert!(matches!(lookup_path(&repo, root, "/etc")?, TreeEntry::Dir(..)));
/// assert!(matches!(lookup_path(&repo, root, "/etc/os-release")?, TreeEntry::File(_)));
/// assert!(lookup_path(&repo, root, "/etc/passwd").is_err());
/// # Ok(()) }
/// ```
pub fn lookup_path(repo: &Repo, root: (Checksum, Checksum), path: &str) -> Result<TreeEntry> {
    let relative = path.strip_prefix('/').unwrap_or(path);
    let mut current = TreeEntry::Dir(root.0, root.1);
    if relative.is_empty() {
        return Ok(current);
    }
    // What has been walked, for the message: upstream names the path up to the component
    // that is missing.
    let mut walked = String::new();
    for component in relative.split('/') {
        walked.push('/');
        walked.push_str(component);
        let TreeEntry::Dir(tree, _) = current else {
            // Upstream's words for a path that goes on below a file.
            return Err(Error::PathBelowFile { path: walked });
        };
        let data = repo.load_metadata(ObjectType::DirTree, &tree)?;
        let view = crate::repo::parse_dirtree(&data, &tree)?;
        current = if let Some(f) = view.files.iter().find(|f| f.name == component) {
            TreeEntry::File(f.checksum)
        } else if let Some(d) = view.dirs.iter().find(|d| d.name == component) {
            TreeEntry::Dir(d.tree, d.meta)
        } else {
            return Err(Error::NoSuchPath { path: walked });
        };
    }
    Ok(current)
}

/// Like [`lookup_path`], but symlinks met on the way (the last component's too) are
/// followed within the commit, as a chroot into it would: absolute targets start at its
/// root and `..` stops there.
pub fn lookup_path_following(
    repo: &Repo,
    root: (Checksum, Checksum),
    path: &str,
) -> Result<TreeEntry> {
    let mut path = path.to_owned();
    for _ in 0..MAX_LINK_HOPS {
        match first_link(repo, root, &path)? {
            None => return lookup_path(repo, root, &path),
            Some(next) => path = next,
        }
    }
    Err(Error::SymlinkLoop { path })
}

/// `path` with its first symlink component replaced by the link's target, `None` when no
/// component is a symlink.
fn first_link(repo: &Repo, root: (Checksum, Checksum), path: &str) -> Result<Option<String>> {
    let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let mut resolved = String::new();
    for (i, component) in components.iter().enumerate() {
        resolved.push('/');
        resolved.push_str(component);
        let TreeEntry::File(content) = lookup_path(repo, root, &resolved)? else {
            continue;
        };
        let (header, _) = repo.file_info(&content)?;
        if !header.is_symlink() {
            continue;
        }
        let mut next = resolve_link(&resolved, &header.symlink_target);
        for rest in &components[i + 1..] {
            next.push('/');
            next.push_str(rest);
        }
        return Ok(Some(next));
    }
    Ok(None)
}

/// A symlink's target resolved against the link's own path, inside the commit.
fn resolve_link(link_path: &str, target: &str) -> String {
    let mut parts: Vec<&str> = match target.starts_with('/') {
        true => Vec::new(),
        false => {
            let mut p: Vec<&str> = link_path.split('/').filter(|c| !c.is_empty()).collect();
            p.pop();
            p
        }
    };
    for component in target.split('/') {
        match component {
            "" | "." => {}
            // `..` at the root stays at the root, as in a chroot.
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::resolve_link;

    #[test]
    fn link_targets() {
        for (link, target, expected) in [
            ("/l", "a", "/a"),
            ("/d/l", "../a", "/a"),
            ("/d/l", "/etc/x", "/etc/x"),
            ("/d/l", "../../../a", "/a"),
            ("/d/l", "./b/./c", "/d/b/c"),
        ] {
            assert_eq!(resolve_link(link, target), expected, "{link} -> {target}");
        }
    }
}
