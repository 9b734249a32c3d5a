//! Walking a commit's tree by path, shared by `ls` and `cat`.

use anyhow::{Result, bail};
use rostree::core::object::{DirTree, DirTreeRef};
use rostree::{Checksum, ObjectType, Repo};

/// What a path in a commit names: a directory (dirtree, dirmeta) or a content object.
pub use rostree::repo::checkout::TreeEntry as Entry;

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
    Ok(rostree::repo::checkout::lookup_path(repo, root, path)?)
}

/// Resolves a symlink's target against the link's own path, inside the commit.
fn resolve_link(link_path: &str, target: &str) -> String {
    let mut parts: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        let mut p: Vec<&str> = link_path.split('/').filter(|c| !c.is_empty()).collect();
        p.pop();
        p
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

/// Like [`lookup`], but follows symlinks (also in the last component) within the commit.
pub fn lookup_following(repo: &Repo, root: (Checksum, Checksum), path: &str) -> Result<Entry> {
    let mut path = path.to_owned();
    // The same bound on link hops as the kernel's.
    for _ in 0..40 {
        let mut resolved = String::new();
        let mut followed = false;
        let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        for (i, component) in components.iter().enumerate() {
            resolved.push('/');
            resolved.push_str(component);
            if let Entry::File(c) = lookup(repo, root, &resolved)? {
                let (header, _) = repo.file_info(&c)?;
                if header.is_symlink() {
                    let mut next = resolve_link(&resolved, &header.symlink_target);
                    for rest in &components[i + 1..] {
                        next.push('/');
                        next.push_str(rest);
                    }
                    path = next;
                    followed = true;
                    break;
                }
            }
        }
        if !followed {
            return lookup(repo, root, &path);
        }
    }
    bail!("Too many levels of symbolic links: {path}")
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
