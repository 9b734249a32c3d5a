//! Checking a repository: every object reachable from every commit is read back, re-hashed
//! and structurally validated, in parallel.
//!
//! ```text
//! state/<commit>.commitpartial   empty: commit pulled partially, skipped
//!                                "f":   fsck found it corrupt, skipped and reported
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;
use rostree_core::gvariant::Value;
use rostree_core::object::{
    COLLECTION_BINDING, CommitRef, DirMeta, DirTreeRef, content_checksum, ref_bindings,
    verify_bindings,
};
use rostree_core::{Checksum, ObjectType};

use crate::content::Payload;
use crate::error::{Error, IoContext, Result};
use crate::progress::{Event, Progress};
use crate::repo::{RefKind, Repo};

/// Options of [`fsck`].
#[derive(Clone, Debug, Default)]
pub struct FsckOptions {
    /// Report every corrupt object instead of stopping at the first (`--all`).
    pub all: bool,
    /// Remove corrupt objects and mark their commits partial (`--delete`; implies `all`).
    pub delete: bool,
    /// Check that each ref's commit names the ref in its bindings (`--verify-bindings`).
    pub verify_bindings: bool,
    /// Also check that each ref a commit binds to points back to it (`--verify-back-refs`;
    /// implies `verify_bindings`).
    pub verify_back_refs: bool,
    /// Collect the parents missing from commits' histories (`--add-tombstones`).
    pub add_tombstones: bool,
}

/// What [`fsck`] found.
#[derive(Clone, Debug, Default)]
pub struct FsckOutcome {
    /// Commits whose content was verified.
    pub commits_verified: usize,
    /// Distinct objects checked (commits included).
    pub objects: usize,
    /// Commits skipped because they are partial.
    pub partial: usize,
    /// Of those, the ones an earlier fsck marked.
    pub partial_from_fsck: usize,
    /// One line per corrupt object found, as upstream words it.
    pub errors: Vec<String>,
    /// Commits marked partial by this run (`delete`).
    pub marked_partial: Vec<Checksum>,
    /// Parents named by stored commits but not stored themselves (`add_tombstones`).
    pub missing_parents: BTreeSet<Checksum>,
}

/// Every loose commit object in the repository.
fn list_commits(repo: &Repo) -> Result<Vec<Checksum>> {
    let mut out: Vec<Checksum> = repo
        .list_loose_objects("", |ext| ext == "commit")?
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    out.sort();
    Ok(out)
}

/// The commit's partial state: `None`, or `Some(true)` when fsck marked it.
fn partial_state(repo: &Repo, commit: &Checksum) -> Result<Option<bool>> {
    let path = Repo::partial_mark_path(commit);
    match repo.dir().read(&path) {
        Ok(data) => Ok(Some(data.first() == Some(&b'f'))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).ctx("reading", path),
    }
}

/// Checks one ref's commit: stored (or partial), and with `verify`, bound to the ref.
fn check_ref_commit(
    repo: &Repo,
    commit: &Checksum,
    collection_id: Option<&str>,
    name: &str,
    verify: bool,
) -> Result<()> {
    if !repo.has_object(ObjectType::Commit, commit)? {
        if partial_state(repo, commit)?.is_some() {
            return Ok(());
        }
        return Err(Error::RefCommitMissing {
            collection_id: collection_id.map(str::to_owned),
            name: name.to_owned(),
            commit: *commit,
        });
    }
    if verify {
        let data = repo.load_metadata(ObjectType::Commit, commit)?;
        let view = crate::repo::parse_commit(&data, commit)?;
        verify_bindings(&view.metadata(), collection_id, Some(name)).map_err(|source| {
            Error::InvalidBindings {
                commit: *commit,
                source,
            }
        })?;
    }
    Ok(())
}

/// Checks that every ref a commit binds to points back to it (`--verify-back-refs`).
fn check_back_refs(repo: &Repo, commit: &Checksum, view: &CommitRef<'_>) -> Result<()> {
    let metadata = view.metadata();
    let Some(refs) = ref_bindings(&metadata) else {
        return Ok(());
    };
    let collection = match metadata.get(COLLECTION_BINDING) {
        Some(Value::String(id)) => Some(id.as_str()),
        _ => None,
    };
    let own_collection = repo.collection_id();
    for name in refs {
        let target = match collection {
            Some(id) => {
                let kind = if own_collection.as_deref() == Some(id) {
                    RefKind::Local
                } else {
                    RefKind::Mirror(id.to_owned())
                };
                repo.read_ref(&kind, name)?
            }
            None => repo.resolve_rev_optional(name)?,
        };
        match target {
            None => {
                return Err(Error::BoundRefMissing {
                    commit: *commit,
                    collection_id: collection.map(str::to_owned),
                    name: name.to_owned(),
                });
            }
            Some(target) if target != *commit => {
                return Err(Error::BoundRefMismatch {
                    commit: *commit,
                    collection_id: collection.map(str::to_owned),
                    name: name.to_owned(),
                    target,
                });
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Checks the refs, then every object of every complete commit.
/// Its phases are reported as [`Event::Phase`]: "Validating refs", "Validating refs in
/// collections", "Enumerating commits".
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::atomic::AtomicBool;
/// use rostree_repo::fsck::{FsckOptions, fsck};
/// use rostree_repo::{InitOptions, Repo, progress::NoProgress};
///
/// let tmp = tempfile::tempdir()?;
/// let dir = cap_std::fs::Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority())?;
/// let repo = Repo::init(dir, tmp.path(), &InitOptions::default())?;
/// let outcome = fsck(&repo, &NoProgress, &AtomicBool::new(false), &FsckOptions::default())?;
/// assert!(outcome.errors.is_empty());
/// # Ok(()) }
/// ```
pub fn fsck(
    repo: &Repo,
    progress: &dyn Progress,
    interrupt: &AtomicBool,
    options: &FsckOptions,
) -> Result<FsckOutcome> {
    let all = options.all || options.delete;
    let verify_bindings = options.verify_bindings || options.verify_back_refs;
    // Refs must parse, name stored commits and, when asked, be named by their bindings.
    progress.event(Event::Phase("Validating refs"));
    for r in repo.list_all_refs_upstream_order()? {
        check_ref_commit(repo, &r.commit, None, &r.name, verify_bindings)?;
    }
    progress.event(Event::Phase("Validating refs in collections"));
    for r in crate::collections::list_collection_refs(repo)? {
        check_ref_commit(
            repo,
            &r.commit,
            Some(&r.collection_id),
            &r.name,
            verify_bindings,
        )?;
    }
    progress.event(Event::Phase("Enumerating commits"));
    let mut outcome = FsckOutcome::default();
    // Dirtrees found corrupt while walking (hash-checked as they are read).
    let mut tree_problems = Vec::new();
    // Every object reached, with what refers to it (dirtrees, or the commit for a root),
    // so that a problem names every commit it affects, as upstream's report does.
    let mut objects: BTreeMap<ObjectKey, Vec<ObjectKey>> = BTreeMap::new();
    for commit in list_commits(repo)? {
        if interrupt.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        // Upstream names the object a failed check was on.
        let data = repo
            .load_metadata(ObjectType::Commit, &commit)
            .map_err(|e| match e {
                Error::ChecksumMismatch { .. } => Error::FsckFailed {
                    report: format!("fsck {commit}.commit: {e}"),
                },
                e => e,
            })?;
        let view = crate::repo::parse_commit(&data, &commit)?;
        if options.verify_back_refs {
            check_back_refs(repo, &commit, &view)?;
        }
        if options.add_tombstones
            && let Some(parent) = view.parent()
            && !repo.has_object(ObjectType::Commit, &parent)?
            && !repo.has_object(ObjectType::TombstoneCommit, &parent)?
        {
            outcome.missing_parents.insert(parent);
        }
        match partial_state(repo, &commit)? {
            Some(from_fsck) => {
                outcome.partial += 1;
                outcome.partial_from_fsck += usize::from(from_fsck);
                continue;
            }
            None => outcome.commits_verified += 1,
        }
        let commit_key = (commit, ObjectType::Commit);
        objects.entry(commit_key).or_default();
        // The tree walk is iterative and reads each dirtree once; a dirtree met again only
        // gains a referrer.
        let mut pending = vec![(view.root_tree(), view.root_meta(), commit_key)];
        while let Some((tree, meta, parent)) = pending.pop() {
            add_referrer(&mut objects, (meta, ObjectType::DirMeta), parent);
            let tree_key = (tree, ObjectType::DirTree);
            let seen = objects.contains_key(&tree_key);
            add_referrer(&mut objects, tree_key, parent);
            if seen {
                continue;
            }
            // A missing dirtree ends the check, with or without --all, as upstream: nothing
            // below it can be enumerated. A corrupt one is reported after the walk, naming
            // every commit that reaches it, like any corrupt object.
            let data = match repo.load_metadata(ObjectType::DirTree, &tree) {
                Ok(d) => d,
                Err(e @ (Error::Corrupt { .. } | Error::ChecksumMismatch { .. })) => {
                    let reason = match e {
                        Error::Corrupt { reason, .. } => reason,
                        e => e.to_string(),
                    };
                    tree_problems.push((tree, ObjectType::DirTree, Problem::Corrupt(reason)));
                    continue;
                }
                Err(e) => return Err(e),
            };
            let listing = match DirTreeRef::parse(&data) {
                Ok(v) => v.to_owned(),
                Err(e) => {
                    // Upstream names the object twice: once checking it, once validating.
                    let reason = format!("{tree}.dirtree: {}", e.detail());
                    tree_problems.push((tree, ObjectType::DirTree, Problem::Corrupt(reason)));
                    continue;
                }
            };
            for (_, file) in &listing.files {
                add_referrer(&mut objects, (*file, ObjectType::File), tree_key);
            }
            pending.extend(listing.dirs.iter().map(|(_, t, m)| (*t, *m, tree_key)));
        }
    }
    outcome.objects = objects.len();
    progress.event(Event::VerifyingCommits(outcome.commits_verified as u64));
    // Dirtrees were read (and hash-checked) during the walk; the rest is checked here.
    let mut checked: Vec<(Checksum, ObjectType, Problem)> = objects
        .par_iter()
        .filter(|((_, t), _)| *t != ObjectType::DirTree)
        .filter_map(|((object, objtype), _)| {
            let problem = if interrupt.load(Ordering::Relaxed) {
                Some(Problem::Corrupt("interrupted".to_owned()))
            } else {
                check_object(repo, object, *objtype).err()
            };
            problem.map(|p| (*object, *objtype, p))
        })
        .collect();
    if interrupt.load(Ordering::Relaxed) {
        return Err(Error::Cancelled);
    }
    checked.splice(0..0, tree_problems);
    let mut corrupt_commits = BTreeSet::new();
    for (object, objtype, problem) in checked {
        let affected = commits_reaching(&objects, (object, objtype));
        let commits = affected
            .iter()
            .map(Checksum::to_hex)
            .collect::<Vec<_>>()
            .join(", ");
        let reason = match problem {
            // A missing object always marks its commits partial and the check goes on, as
            // upstream does: the commits can be completed by pulling them again.
            Problem::Missing => {
                outcome.errors.push(format!(
                    "Object missing in commits {commits}: {object}.{objtype}"
                ));
                corrupt_commits.extend(affected);
                continue;
            }
            Problem::Corrupt(reason) => reason,
        };
        let line = match objtype {
            ObjectType::File => {
                format!("In commits {commits}: fsck content object {object}: {reason}")
            }
            other => {
                format!("In commits {commits}: fsck {object}.{other}: {reason}")
            }
        };
        if !all {
            return Err(Error::FsckFailed { report: line });
        }
        outcome.errors.push(line);
        if options.delete {
            remove_object(repo, &object, objtype)?;
            corrupt_commits.extend(affected);
        }
    }
    for commit in corrupt_commits {
        let path = Repo::partial_mark_path(&commit);
        repo.dir().write(&path, b"f").ctx("writing", &path)?;
        outcome.marked_partial.push(commit);
    }
    outcome.marked_partial.sort();
    Ok(outcome)
}

/// An object's name and type.
type ObjectKey = (Checksum, ObjectType);

fn add_referrer(
    objects: &mut BTreeMap<ObjectKey, Vec<ObjectKey>>,
    object: ObjectKey,
    referrer: ObjectKey,
) {
    let referrers = objects.entry(object).or_default();
    if !referrers.contains(&referrer) {
        referrers.push(referrer);
    }
}

/// The commits whose trees reach `object`, found by walking its referrers up.
fn commits_reaching(
    objects: &BTreeMap<ObjectKey, Vec<ObjectKey>>,
    object: ObjectKey,
) -> BTreeSet<Checksum> {
    let mut commits = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut pending = vec![object];
    while let Some(key) = pending.pop() {
        if !seen.insert(key) {
            continue;
        }
        if key.1 == ObjectType::Commit {
            commits.insert(key.0);
        }
        if let Some(referrers) = objects.get(&key) {
            pending.extend(referrers.iter().copied());
        }
    }
    commits
}

fn remove_object(repo: &Repo, object: &Checksum, objtype: ObjectType) -> Result<()> {
    let rel = object.relative_path(objtype, repo.mode().is_archive());
    match repo.objects_dir().remove_file(&rel) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).ctx("deleting", repo.object_path(objtype, object)),
    }
}

/// Why an object failed its check.
enum Problem {
    /// Not in the repository.
    Missing,
    /// Present but wrong; the reason.
    Corrupt(String),
}

impl From<Error> for Problem {
    fn from(e: Error) -> Self {
        match e {
            Error::MissingObject { .. } => Problem::Missing,
            other => Problem::Corrupt(other.to_string()),
        }
    }
}

/// Re-reads one object and checks it hashes to its name and parses.
fn check_object(
    repo: &Repo,
    object: &Checksum,
    objtype: ObjectType,
) -> std::result::Result<(), Problem> {
    match objtype {
        ObjectType::File => {
            // The line already names the object: only what is wrong follows, as upstream.
            let (header, payload) = repo.open_content(object).map_err(|e| match e {
                Error::Corrupt { reason, .. } => Problem::Corrupt(reason),
                e => Problem::from(e),
            })?;
            let actual = match payload {
                Payload::Bytes(data) => content_checksum(&header, data.get_ref()),
                mut payload => crate::content::checksum_stream(&header, &mut payload)
                    .map_err(|e| Problem::Corrupt(e.to_string()))?,
            };
            if actual != *object {
                return Err(Problem::Corrupt(format!(
                    "Corrupted file object; checksum expected='{object}' actual='{actual}'"
                )));
            }
            Ok(())
        }
        ObjectType::DirMeta => {
            let data = repo.load_metadata(objtype, object)?;
            DirMeta::from_bytes(&data)
                .map(|_| ())
                .map_err(|e| Problem::Corrupt(format!("{object}.dirmeta: {}", e.detail())))
        }
        other => repo
            .load_metadata(other, object)
            .map(|_| ())
            .map_err(Problem::from),
    }
}
