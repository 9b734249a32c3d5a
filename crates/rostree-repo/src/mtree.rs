//! An in-memory tree being assembled for a commit. Subtrees taken unchanged from an
//! existing commit stay as checksums until something below them changes.

use std::collections::BTreeMap;

use rostree_core::object::{DirTree, validate_filename};
use rostree_core::{Checksum, ObjectType};

use crate::error::{Error, Result};
use crate::repo::Repo;
use crate::transaction::Transaction;

/// A node of a [`MutableTree`].
#[derive(Clone, Debug)]
pub enum Node {
    /// A content object.
    File(Checksum),
    /// A directory being built.
    Dir(MutableTree),
    /// A directory stored in the repo, not yet opened: (dirtree, dirmeta).
    Stored(Checksum, Checksum),
}

impl Node {
    /// The directory this node is, opened for editing.
    fn into_tree(self, repo: &Repo) -> Result<MutableTree> {
        match self {
            Node::Dir(tree) => Ok(tree),
            Node::Stored(t, m) => MutableTree::load(repo, &t, &m),
            Node::File(_) => Err(Error::Internal("a file is not a directory")),
        }
    }
}

/// A directory being built.
#[derive(Clone, Debug, Default)]
pub struct MutableTree {
    /// The dirmeta object; `None` until known.
    pub meta: Option<Checksum>,
    /// Children by name.
    pub entries: BTreeMap<String, Node>,
}

impl MutableTree {
    /// Opens a stored directory into an editable tree (one level).
    pub fn load(repo: &Repo, tree: &Checksum, meta: &Checksum) -> Result<Self> {
        let data = repo.load_metadata(ObjectType::DirTree, tree)?;
        let view = crate::repo::parse_dirtree(&data, tree)?;
        let mut entries = BTreeMap::new();
        for f in &view.files {
            entries.insert(f.name.to_owned(), Node::File(f.checksum));
        }
        for d in &view.dirs {
            entries.insert(d.name.to_owned(), Node::Stored(d.tree, d.meta));
        }
        Ok(MutableTree {
            meta: Some(*meta),
            entries,
        })
    }

    /// Lays `other` over this tree: files replace files, directories merge recursively, and
    /// a file and a directory of the same name conflict, as in upstream.
    pub fn overlay(&mut self, repo: &Repo, other: MutableTree) -> Result<()> {
        if other.meta.is_some() {
            self.meta = other.meta;
        }
        for (name, node) in other.entries {
            let merged = match (self.entries.remove(&name), node) {
                (None, node) => node,
                (Some(Node::File(_)), Node::File(c)) => Node::File(c),
                (Some(Node::Dir(_) | Node::Stored(..)), Node::File(_)) => {
                    return Err(Error::FileOverDirectory { name });
                }
                (Some(Node::File(_)), Node::Dir(_) | Node::Stored(..)) => {
                    return Err(Error::DirectoryOverFile { name });
                }
                (Some(mine), theirs) => {
                    let mut mine = mine.into_tree(repo)?;
                    mine.overlay(repo, theirs.into_tree(repo)?)?;
                    Node::Dir(mine)
                }
            };
            self.entries.insert(name, merged);
        }
        Ok(())
    }

    /// The directory at `path` (components). Missing directories are created with `create`
    /// as their dirmeta, or are an error when it is `None`.
    pub fn ensure_dir(
        &mut self,
        repo: &Repo,
        path: &[&str],
        create: Option<Checksum>,
    ) -> Result<&mut MutableTree> {
        self.ensure_dir_at(repo, path, 0, create)
    }

    fn ensure_dir_at(
        &mut self,
        repo: &Repo,
        path: &[&str],
        depth: usize,
        create: Option<Checksum>,
    ) -> Result<&mut MutableTree> {
        let Some(first) = path.get(depth) else {
            return Ok(self);
        };
        validate_filename(first).map_err(|reason| Error::InvalidFileName {
            name: (*first).to_owned(),
            reason,
        })?;
        if !self.entries.contains_key(*first) {
            // Upstream names just the missing component.
            let meta = create.ok_or_else(|| Error::NoSuchPath {
                path: (*first).to_owned(),
            })?;
            self.entries.insert(
                (*first).to_owned(),
                Node::Dir(MutableTree {
                    meta: Some(meta),
                    entries: BTreeMap::new(),
                }),
            );
        }
        let node = self
            .entries
            .get_mut(*first)
            .expect("inserted above when missing");
        if let Node::Stored(t, m) = node {
            *node = Node::Dir(MutableTree::load(repo, t, m)?);
        }
        match node {
            Node::Dir(dir) => dir.ensure_dir_at(repo, path, depth + 1, create),
            _ => Err(Error::NotADirectory {
                path: path[..=depth].join("/"),
            }),
        }
    }

    /// Creates the directories of `path` that are missing, and gives `meta` to every
    /// directory on the way, this one included: what upstream's tar import does when it has
    /// to create parents.
    pub fn ensure_dir_owned_by(
        &mut self,
        repo: &Repo,
        path: &[&str],
        meta: Checksum,
    ) -> Result<&mut MutableTree> {
        self.meta = Some(meta);
        let Some((first, rest)) = path.split_first() else {
            return Ok(self);
        };
        self.ensure_dir(repo, &[first], Some(meta))?
            .ensure_dir_owned_by(repo, rest, meta)
    }

    /// Whether every component of `path` is a directory here.
    pub fn has_dir(&self, path: &[&str]) -> bool {
        let Some((first, rest)) = path.split_first() else {
            return true;
        };
        match self.entries.get(*first) {
            Some(Node::Dir(sub)) => sub.has_dir(rest),
            // Below a stored directory nothing is loaded yet; it exists, and ensure_dir
            // decides about the rest.
            Some(Node::Stored(..)) => rest.is_empty(),
            _ => false,
        }
    }

    /// Writes the dirtree objects of every modified directory; returns (dirtree, dirmeta).
    pub fn write(&self, tx: &Transaction<'_>) -> Result<(Checksum, Checksum)> {
        let meta = self
            .meta
            .ok_or(Error::Internal("directory without metadata"))?;
        let mut tree = DirTree::default();
        for (name, node) in &self.entries {
            match node {
                Node::File(c) => tree.files.push((name.clone(), *c)),
                Node::Stored(t, m) => tree.dirs.push((name.clone(), *t, *m)),
                Node::Dir(sub) => {
                    let (t, m) = sub.write(tx)?;
                    tree.dirs.push((name.clone(), t, m));
                }
            }
        }
        let checksum = tx.write_metadata(ObjectType::DirTree, &tree.to_bytes())?;
        Ok((checksum, meta))
    }
}
