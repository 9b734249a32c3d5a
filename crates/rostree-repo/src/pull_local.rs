//! Copying commits from another local repository (`pull-local`).
//!
//! Metadata objects are copied as they are (each is hashed again on the way in by the
//! transaction's validation); content objects are read in the source's mode and written in
//! this repository's, in parallel. With `untrusted`, content is also re-hashed.

use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;
use rostree_core::object::content_checksum;
use rostree_core::{Checksum, ObjectType};

use crate::error::{Error, Result};
use crate::repo::{RefKind, Repo};
use crate::transaction::{Source, Transaction};

/// Options of [`pull_local`].
#[derive(Clone, Debug, Default)]
pub struct PullLocalOptions {
    /// Parents to fetch per commit; `None` for all (`--depth=-1`).
    pub depth: Option<u64>,
    /// Re-hash content objects read from the source (`--untrusted`).
    pub untrusted: bool,
    /// Write refs under this remote instead of locally (`--remote`).
    pub remote: Option<String>,
    /// Fetch only commit objects (`--commit-metadata-only`).
    pub commit_metadata_only: bool,
}

/// What [`pull_local`] imported.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PullLocalOutcome {
    /// Metadata objects new to this repository.
    pub metadata: u64,
    /// Content objects new to this repository.
    pub content: u64,
    /// Bytes of content written.
    pub content_bytes: u64,
}

/// Copies `refs` (name, commit) from `source` with the objects they need, then sets them.
pub fn pull_local(
    repo: &Repo,
    source: &Repo,
    refs: &[(String, Checksum)],
    interrupt: &AtomicBool,
    options: &PullLocalOptions,
) -> Result<PullLocalOutcome> {
    copy(repo, source, refs, true, interrupt, options)
}

/// Copies commits (the names are ignored) without writing any ref.
pub fn pull_local_commits(
    repo: &Repo,
    source: &Repo,
    commits: &[(String, Checksum)],
    interrupt: &AtomicBool,
    options: &PullLocalOptions,
) -> Result<PullLocalOutcome> {
    copy(repo, source, commits, false, interrupt, options)
}

fn copy(
    repo: &Repo,
    source: &Repo,
    refs: &[(String, Checksum)],
    set_refs: bool,
    interrupt: &AtomicBool,
    options: &PullLocalOptions,
) -> Result<PullLocalOutcome> {
    let tx = Transaction::begin(repo)?;
    let mut files = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (_, tip) in refs {
        let mut next = Some((*tip, options.depth));
        while let Some((commit, remaining)) = next.take() {
            if interrupt.load(Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
            if !seen.insert((commit, ObjectType::Commit)) {
                break;
            }
            let data = match source.load_metadata(ObjectType::Commit, &commit) {
                Ok(d) => d,
                // History the source does not have ends the walk, as upstream.
                Err(Error::MissingObject { .. }) if commit != *tip => break,
                Err(e) => return Err(e),
            };
            tx.write_metadata_as(ObjectType::Commit, &commit, &data)?;
            if let Some(meta) = source.load_commitmeta(&commit)? {
                tx.write_metadata_as(ObjectType::CommitMeta, &commit, &meta)?;
            }
            let view = crate::repo::parse_commit(&data, &commit)?;
            if !options.commit_metadata_only {
                copy_tree(
                    source,
                    &tx,
                    view.root_tree(),
                    view.root_meta(),
                    &mut seen,
                    &mut files,
                )?;
            }
            if let Some(parent) = view.parent() {
                next = match remaining {
                    Some(0) => None,
                    Some(n) => Some((parent, Some(n - 1))),
                    None => Some((parent, None)),
                };
            }
        }
    }
    files.par_iter().try_for_each(|checksum| -> Result<()> {
        if interrupt.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        if tx.has_object(ObjectType::File, checksum)? {
            return Ok(());
        }
        let (header, payload) = source.read_file(checksum)?;
        let data = payload.into_bytes().map_err(|e| Error::Corrupt {
            objtype: ObjectType::File,
            checksum: *checksum,
            reason: e.to_string(),
        })?;
        if options.untrusted && content_checksum(&header, &data) != *checksum {
            return Err(Error::Corrupt {
                objtype: ObjectType::File,
                checksum: *checksum,
                reason: "content does not match its checksum".into(),
            });
        }
        tx.write_content_as(checksum, &header, Source::Bytes(&data))?;
        Ok(())
    })?;
    let kind = match &options.remote {
        Some(remote) => RefKind::Remote(remote.clone()),
        None => RefKind::Local,
    };
    let ref_updates: Vec<_> = if set_refs {
        refs.iter()
            .map(|(name, c)| (kind.clone(), name.clone(), *c))
            .collect()
    } else {
        Vec::new()
    };
    let stats = tx.commit_with_refs(&ref_updates)?;
    Ok(PullLocalOutcome {
        metadata: stats.metadata_objects_written,
        content: stats.content_objects_written,
        content_bytes: stats.content_bytes_written,
    })
}

fn copy_tree(
    source: &Repo,
    tx: &Transaction<'_>,
    tree: Checksum,
    meta: Checksum,
    seen: &mut std::collections::HashSet<(Checksum, ObjectType)>,
    files: &mut Vec<Checksum>,
) -> Result<()> {
    let mut pending = vec![(tree, meta)];
    while let Some((tree, meta)) = pending.pop() {
        if seen.insert((meta, ObjectType::DirMeta)) {
            let data = source.load_metadata(ObjectType::DirMeta, &meta)?;
            tx.write_metadata_as(ObjectType::DirMeta, &meta, &data)?;
        }
        if !seen.insert((tree, ObjectType::DirTree)) {
            continue;
        }
        let data = source.load_metadata(ObjectType::DirTree, &tree)?;
        tx.write_metadata_as(ObjectType::DirTree, &tree, &data)?;
        let view = crate::repo::parse_dirtree(&data, &tree)?;
        for f in &view.files {
            if seen.insert((f.checksum, ObjectType::File)) {
                files.push(f.checksum);
            }
        }
        pending.extend(view.dirs.iter().map(|d| (d.tree, d.meta)));
    }
    Ok(())
}
