//! Deleting objects no longer reachable.
//!
//! Reachability is computed first without blocking writers; then, under the exclusive lock,
//! the refs and commit objects are read again and anything that appeared in between is
//! added to the reachable set before a single object is removed.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use rostree_core::object::{CommitRef, DirTreeRef};
use rostree_core::{Checksum, ObjectType};

use crate::error::{Error, IoContext, Result};
use crate::repo::{RefKind, Repo};

/// Options of [`prune`].
#[derive(Clone, Debug, Default)]
pub struct PruneOptions {
    /// Reachability from refs only (`--refs-only`); otherwise every commit is a root.
    pub refs_only: bool,
    /// Parents to keep per ref (`--depth`); `None` keeps the whole history.
    pub depth: Option<u64>,
    /// Only report (`--no-prune`).
    pub dry_run: bool,
    /// Commits to delete first (`--delete-commit`).
    pub delete_commits: Vec<Checksum>,
}

/// What [`prune`] did (or, dry, would do).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PruneOutcome {
    /// Loose objects in the repository before pruning.
    pub total: u64,
    /// Objects deleted (or to delete).
    pub deleted: u64,
    /// Their size on disk in bytes.
    pub freed: u64,
}

/// Every loose object (sizes are looked up only for what gets deleted).
fn list_objects(repo: &Repo) -> Result<Vec<(Checksum, ObjectType)>> {
    let mut out = Vec::new();
    for b in 0..=255u8 {
        let prefix = format!("{b:02x}");
        let dir = match repo.objects_dir().open_dir(&prefix) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).ctx("opening", Path::new("objects").join(&prefix)),
        };
        for entry in dir
            .entries()
            .ctx("listing", Path::new("objects").join(&prefix))?
        {
            let entry = entry.ctx("listing", Path::new("objects").join(&prefix))?;
            let name = entry.file_name();
            let Some((rest, ext)) = name.to_str().and_then(|n| n.split_once('.')) else {
                continue;
            };
            // Detached metadata is not an object of its own to upstream: it goes with its
            // commit, and is not counted. Neither are tombstones.
            let objtype = match ext {
                "filez" => ObjectType::File,
                // Tombstones record deleted commits; prune keeps them.
                "commitmeta" | "tombstone-commit" => continue,
                other => match ObjectType::from_name(other) {
                    Some(t) => t,
                    None => continue,
                },
            };
            let Ok(checksum) = Checksum::from_hex(&format!("{prefix}{rest}")) else {
                continue;
            };
            out.push((checksum, objtype));
        }
    }
    Ok(out)
}

fn all_refs(repo: &Repo) -> Result<Vec<Checksum>> {
    let mut out: Vec<Checksum> = repo.list_refs(&RefKind::Local)?.into_values().collect();
    for remote in repo.list_ref_remotes()? {
        out.extend(repo.list_refs(&RefKind::Remote(remote))?.into_values());
    }
    for id in repo.list_ref_collections()? {
        out.extend(repo.list_refs(&RefKind::Mirror(id))?.into_values());
    }
    Ok(out)
}

struct Marker<'a> {
    repo: &'a Repo,
    reachable: HashSet<(Checksum, ObjectType)>,
}

impl Marker<'_> {
    /// Marks a commit and, up to `depth` parents, its history and trees.
    fn mark_commit(&mut self, commit: Checksum, depth: Option<u64>) -> Result<()> {
        let mut next = Some((commit, depth));
        while let Some((commit, remaining)) = next.take() {
            if !self.reachable.insert((commit, ObjectType::Commit)) {
                return Ok(());
            }
            let data = match self.repo.load_metadata(ObjectType::Commit, &commit) {
                Ok(d) => d,
                // A partial pull or an earlier prune can leave history incomplete.
                Err(Error::MissingObject { .. }) => return Ok(()),
                Err(e) => return Err(e),
            };
            let view = CommitRef::parse(&data).map_err(|e| Error::Corrupt {
                objtype: ObjectType::Commit,
                checksum: commit,
                reason: e.to_string(),
            })?;
            self.mark_tree(view.root_tree(), view.root_meta())?;
            if let Some(parent) = view.parent() {
                match remaining {
                    Some(0) => {}
                    Some(n) => next = Some((parent, Some(n - 1))),
                    None => next = Some((parent, None)),
                }
            }
        }
        Ok(())
    }

    fn mark_tree(&mut self, tree: Checksum, meta: Checksum) -> Result<()> {
        let mut pending = vec![(tree, meta)];
        while let Some((tree, meta)) = pending.pop() {
            self.reachable.insert((meta, ObjectType::DirMeta));
            if !self.reachable.insert((tree, ObjectType::DirTree)) {
                continue;
            }
            let data = match self.repo.load_metadata(ObjectType::DirTree, &tree) {
                Ok(d) => d,
                Err(Error::MissingObject { .. }) => continue,
                Err(e) => return Err(e),
            };
            let view = DirTreeRef::parse(&data).map_err(|e| Error::Corrupt {
                objtype: ObjectType::DirTree,
                checksum: tree,
                reason: e.to_string(),
            })?;
            for f in &view.files {
                self.reachable.insert((f.checksum, ObjectType::File));
            }
            pending.extend(view.dirs.iter().map(|d| (d.tree, d.meta)));
        }
        Ok(())
    }

    fn mark_roots(&mut self, options: &PruneOptions) -> Result<()> {
        let roots: Vec<Checksum> = if options.refs_only {
            all_refs(self.repo)?
        } else {
            list_objects(self.repo)?
                .into_iter()
                .filter(|(_, t)| *t == ObjectType::Commit)
                .map(|(c, _)| c)
                .collect()
        };
        let depth = if options.refs_only {
            options.depth
        } else {
            Some(0)
        };
        for root in roots {
            self.mark_commit(root, depth)?;
        }
        Ok(())
    }
}

/// Writes the tombstone of a deleted commit: `{'commit': <b'HEX'>}`, named after it.
fn write_tombstone(repo: &Repo, commit: &Checksum) -> Result<()> {
    let mut hex = commit.to_hex().into_bytes();
    hex.push(0);
    let mut meta = rostree_core::object::Metadata::new();
    meta.push("commit", rostree_core::gvariant::Value::Bytes(hex));
    let rel = commit.relative_path(ObjectType::TombstoneCommit, repo.mode().is_archive());
    let path = Path::new(&rel);
    if let Some(parent) = path.parent() {
        match repo.objects_dir().create_dir(parent) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).ctx("creating", Path::new("objects").join(parent)),
        }
    }
    crate::repo::write_atomic(
        repo.objects_dir(),
        path,
        &meta.to_bytes(),
        0o644,
        repo.fsync_enabled(),
    )
    .ctx(
        "writing",
        repo.object_path(ObjectType::TombstoneCommit, commit),
    )
}

fn tombstones_enabled(repo: &Repo) -> bool {
    repo.config()
        .get_bool("core", "tombstone-commits")
        .ok()
        .flatten()
        .unwrap_or(false)
}

fn remove(repo: &Repo, checksum: &Checksum, objtype: ObjectType) -> Result<()> {
    let rel = checksum.relative_path(objtype, repo.mode().is_archive());
    match repo.objects_dir().remove_file(&rel) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).ctx("deleting", repo.object_path(objtype, checksum)),
    }
}

/// Deletes what no root reaches.
pub fn prune(repo: &Repo, interrupt: &AtomicBool, options: &PruneOptions) -> Result<PruneOutcome> {
    for commit in &options.delete_commits {
        let refs = all_refs(repo)?;
        if refs.contains(commit) {
            return Err(Error::InvalidInput(format!(
                "Commit '{commit}' is referenced by a ref"
            )));
        }
    }
    let mut marker = Marker {
        repo,
        reachable: HashSet::new(),
    };
    if options.delete_commits.is_empty() {
        marker.mark_roots(options)?;
    }
    if interrupt.load(Ordering::Relaxed) {
        return Err(Error::Cancelled);
    }
    // Sweep under the exclusive lock, after catching up with whatever was written meanwhile.
    let _lock = repo.lock_exclusive()?;
    for commit in &options.delete_commits {
        if !repo.has_object(ObjectType::Commit, commit)? {
            return Err(Error::MissingObject {
                objtype: ObjectType::Commit,
                checksum: *commit,
            });
        }
        if !options.dry_run {
            remove(repo, commit, ObjectType::Commit)?;
            remove(repo, commit, ObjectType::CommitMeta)?;
            if tombstones_enabled(repo) {
                write_tombstone(repo, commit)?;
            }
        }
    }
    marker.mark_roots(options)?;
    let objects = list_objects(repo)?;
    let mut outcome = PruneOutcome {
        total: objects.len() as u64,
        ..Default::default()
    };
    for (checksum, objtype) in objects {
        if interrupt.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        if marker.reachable.contains(&(checksum, objtype)) {
            continue;
        }
        let rel = checksum.relative_path(objtype, repo.mode().is_archive());
        let size = match crate::sys::lstat_at(repo.objects_dir(), rel.as_ref()) {
            Ok(st) => st.st_size as u64,
            // Gone since the listing (another prune): nothing to do.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).ctx("stat", repo.object_path(objtype, &checksum)),
        };
        if !options.dry_run {
            remove(repo, &checksum, objtype)?;
            if objtype == ObjectType::Commit {
                remove(repo, &checksum, ObjectType::CommitMeta)?;
                if tombstones_enabled(repo) {
                    write_tombstone(repo, &checksum)?;
                }
            }
        }
        outcome.deleted += 1;
        outcome.freed += size;
    }
    if !options.dry_run && outcome.deleted > 0 && repo.fsync_enabled() {
        let fd = crate::sys::readable_dir(repo.objects_dir()).ctx("opening", "objects")?;
        rustix::fs::syncfs(&fd).ctx("syncing", "objects")?;
    }
    Ok(outcome)
}
