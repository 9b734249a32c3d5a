//! Deleting objects no longer reachable.
//!
//! Reachability is computed first without blocking writers; then, under the exclusive lock,
//! the refs and commit objects are read again and anything that appeared in between is
//! added to the reachable set before a single object is removed.
//!
//! ```text
//! objects/XX/….commit        deleted when unreachable, with its .commitmeta,
//!                            state/<commit>.commitpartial, and a .tombstone-commit left
//!                            behind when core.tombstone-commits is set
//! deltas/FF/FROM-TO/         static deltas (names in modified base64) whose TO commit is
//! deltas/TT/TO/              gone are deleted with it
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;
use rostree_core::{Checksum, ObjectType};

use crate::deltas::prune_static_deltas;
use crate::error::{Error, IoContext, Result};
use crate::progress::{Event, Progress};
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
    /// Only commits are traversed, counted and deleted (`--commit-only`).
    pub commit_only: bool,
    /// Per-branch rules; when set, reachability comes from refs only.
    pub branches: Option<BranchRules>,
}

/// Which history each ref keeps (`--retain-branch-depth`, `--only-branch`,
/// `--keep-younger-than`). Refs are named as listed: `name`, or `remote:name`.
#[derive(Clone, Debug, Default)]
pub struct BranchRules {
    /// Parents kept for these refs (`None`: all of them).
    pub depths: BTreeMap<String, Option<u64>>,
    /// When not empty, only these refs are pruned; every other keeps its whole history.
    pub only: Vec<String>,
    /// Refs without a depth of their own keep the commits at least this recent (Unix time)
    /// that follow their head, and the head whatever its age.
    pub keep_younger_than: Option<u64>,
}

impl BranchRules {
    /// The depth set for a ref, if any: its own, or the whole history for a ref outside
    /// [`BranchRules::only`].
    fn depth_of(&self, name: &str) -> Option<Option<u64>> {
        match self.depths.get(name) {
            Some(depth) => Some(*depth),
            None if !self.only.is_empty() && !self.only.iter().any(|o| o == name) => Some(None),
            None => None,
        }
    }
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
fn list_objects(repo: &Repo, commit_only: bool) -> Result<Vec<(Checksum, ObjectType)>> {
    // Detached metadata is not an object of its own to upstream: it goes with its commit,
    // and is not counted. Tombstones record deleted commits; prune keeps them.
    let keep = |ext: &str| match commit_only {
        true => ext == "commit",
        false => !matches!(ext, "commitmeta" | "tombstone-commit"),
    };
    let out = repo
        .list_loose_objects("", keep)?
        .into_iter()
        .filter_map(|(checksum, ext)| {
            let objtype = match ext {
                "filez" => ObjectType::File,
                other => ObjectType::from_name(other)?,
            };
            Some((checksum, objtype))
        })
        .collect();
    Ok(out)
}

/// What a dirtree names: its files' content objects, its subdirectories' (dirtree, dirmeta).
type TreeObjects = (Vec<Checksum>, Vec<(Checksum, Checksum)>);

/// Local and remote refs, named as `refs` lists them (`name`, `remote:name`).
fn branch_refs(repo: &Repo) -> Result<Vec<(String, Checksum)>> {
    let mut out: Vec<(String, Checksum)> = repo.list_refs(&RefKind::Local)?.into_iter().collect();
    for remote in repo.list_ref_remotes()? {
        let refs = repo.list_refs(&RefKind::Remote(remote.clone()))?;
        out.extend(refs.into_iter().map(|(n, c)| (format!("{remote}:{n}"), c)));
    }
    Ok(out)
}

/// Collection refs (`refs/mirrors`), named `(collection-id, name)` as upstream's messages do.
fn mirror_refs(repo: &Repo) -> Result<Vec<(String, Checksum)>> {
    let mut out = Vec::new();
    for id in repo.list_ref_collections()? {
        let refs = repo.list_refs(&RefKind::Mirror(id.clone()))?;
        out.extend(refs.into_iter().map(|(n, c)| (format!("({id}, {n})"), c)));
    }
    Ok(out)
}

/// Marks what commits reach.
pub(crate) struct Marker<'a> {
    repo: &'a Repo,
    /// Only commits are marked (`--commit-only`).
    commit_only: bool,
    reachable: HashSet<(Checksum, ObjectType)>,
    /// The most parents each commit has been walked with (`None`: all).
    walked: HashMap<Checksum, Option<u64>>,
}

impl<'a> Marker<'a> {
    pub(crate) fn new(repo: &'a Repo, commit_only: bool) -> Self {
        Marker {
            repo,
            commit_only,
            reachable: HashSet::new(),
            walked: HashMap::new(),
        }
    }

    pub(crate) fn into_reachable(self) -> HashSet<(Checksum, ObjectType)> {
        self.reachable
    }

    fn load_commit(&self, commit: &Checksum) -> Result<Option<Vec<u8>>> {
        match self.repo.load_metadata(ObjectType::Commit, commit) {
            Ok(d) => Ok(Some(d)),
            // A partial pull or an earlier prune can leave history incomplete.
            Err(Error::MissingObject { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Marks the commits from `head` on, down its parents, while they are at least as recent
    /// as `limit`; the head itself whatever its age.
    fn mark_younger(&mut self, head: Checksum, limit: u64) -> Result<()> {
        self.mark_commit(head, Some(0))?;
        let mut next = Some(head);
        while let Some(commit) = next.take() {
            let Some(data) = self.load_commit(&commit)? else {
                break;
            };
            let view = crate::repo::parse_commit(&data, &commit)?;
            if view.timestamp() < limit {
                break;
            }
            self.mark_commit(commit, Some(0))?;
            next = view.parent();
        }
        Ok(())
    }

    /// Marks a commit and, up to `depth` parents, its history and trees.
    pub(crate) fn mark_commit(&mut self, commit: Checksum, depth: Option<u64>) -> Result<()> {
        let mut next = Some((commit, depth));
        while let Some((commit, remaining)) = next.take() {
            // A commit seen before is walked again only when this walk goes deeper, so that
            // the result does not depend on the order of the refs.
            let first_visit = self.reachable.insert((commit, ObjectType::Commit));
            match self.walked.get(&commit) {
                Some(None) => return Ok(()),
                Some(Some(before)) if remaining.is_some_and(|r| r <= *before) => return Ok(()),
                _ => {}
            }
            self.walked.insert(commit, remaining);
            let Some(data) = self.load_commit(&commit)? else {
                return Ok(());
            };
            let view = crate::repo::parse_commit(&data, &commit)?;
            if first_visit && !self.commit_only {
                self.mark_tree(view.root_tree(), view.root_meta())?;
            }
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

    /// Marks a tree and all below it, one level at a time, each level's dirtrees loaded
    /// on every core.
    fn mark_tree(&mut self, tree: Checksum, meta: Checksum) -> Result<()> {
        let mut level = vec![(tree, meta)];
        while !level.is_empty() {
            let unseen: Vec<Checksum> = level
                .into_iter()
                .filter_map(|(tree, meta)| {
                    self.reachable.insert((meta, ObjectType::DirMeta));
                    self.reachable
                        .insert((tree, ObjectType::DirTree))
                        .then_some(tree)
                })
                .collect();
            let repo = self.repo;
            let listed: Vec<Option<TreeObjects>> = unseen
                .par_iter()
                .map(|tree| match repo.load_metadata(ObjectType::DirTree, tree) {
                    Ok(data) => {
                        let view = crate::repo::parse_dirtree(&data, tree)?;
                        let files = view.files.iter().map(|f| f.checksum).collect();
                        let dirs = view.dirs.iter().map(|d| (d.tree, d.meta)).collect();
                        Ok(Some((files, dirs)))
                    }
                    Err(Error::MissingObject { .. }) => Ok(None),
                    Err(e) => Err(e),
                })
                .collect::<Result<_>>()?;
            level = Vec::new();
            for (files, dirs) in listed.into_iter().flatten() {
                for checksum in files {
                    self.reachable.insert((checksum, ObjectType::File));
                }
                level.extend(dirs);
            }
        }
        Ok(())
    }

    fn mark_roots(&mut self, options: &PruneOptions) -> Result<()> {
        if let Some(rules) = &options.branches {
            for (name, head) in branch_refs(self.repo)? {
                match (rules.depth_of(&name), rules.keep_younger_than) {
                    (Some(depth), _) => self.mark_commit(head, depth)?,
                    (None, Some(limit)) => self.mark_younger(head, limit)?,
                    (None, None) => self.mark_commit(head, options.depth)?,
                }
            }
            // Upstream forgets collection refs here and deletes what only they reach.
            for (_, head) in mirror_refs(self.repo)? {
                self.mark_commit(head, options.depth)?;
            }
            return Ok(());
        }
        let roots: Vec<Checksum> = if options.refs_only {
            let mut refs = branch_refs(self.repo)?;
            refs.extend(mirror_refs(self.repo)?);
            refs.into_iter().map(|(_, c)| c).collect()
        } else {
            list_objects(self.repo, true)?
                .into_iter()
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
pub fn write_tombstone(repo: &Repo, commit: &Checksum) -> Result<()> {
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

fn tombstones_enabled(repo: &Repo) -> Result<bool> {
    repo.core_flag("tombstone-commits", false)
}

fn remove(repo: &Repo, checksum: &Checksum, objtype: ObjectType) -> Result<()> {
    let rel = checksum.relative_path(objtype, repo.mode().is_archive());
    match repo.objects_dir().remove_file(&rel) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).ctx("deleting", repo.object_path(objtype, checksum)),
    }
}

/// Removes a commit with what goes with it: detached metadata, the partial-pull marker,
/// and (when the repo keeps them) a tombstone in its place.
fn remove_commit(repo: &Repo, commit: &Checksum, tombstones: bool) -> Result<()> {
    // The commit before its marker: a prune killed in between leaves a stray marker, never
    // an incomplete commit that no longer says so.
    remove(repo, commit, ObjectType::Commit)?;
    remove(repo, commit, ObjectType::CommitMeta)?;
    repo.clear_commit_partial(commit)?;
    if tombstones {
        write_tombstone(repo, commit)?;
    }
    Ok(())
}

/// Deletes what no root reaches.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::atomic::AtomicBool;
/// use cap_std::{ambient_authority, fs::Dir};
/// use rostree_core::ObjectType;
/// use rostree_repo::commit::{CommitOptions, TreeSource, commit};
/// use rostree_repo::prune::{PruneOptions, prune};
/// use rostree_repo::{InitOptions, Repo, RepoMode, progress::NoProgress};
///
/// let tmp = tempfile::tempdir()?;
/// std::fs::create_dir_all(tmp.path().join("tree/etc"))?;
/// std::fs::create_dir(tmp.path().join("repo"))?;
/// let repo_dir = Dir::open_ambient_dir(tmp.path().join("repo"), ambient_authority())?;
/// let options = InitOptions { mode: RepoMode::Archive, ..Default::default() };
/// let repo = Repo::init(repo_dir, tmp.path().join("repo"), &options)?;
/// let interrupt = AtomicBool::new(false);
/// let mut commits = Vec::new();
/// for version in ["1", "2"] {
///     std::fs::write(tmp.path().join("tree/etc/os-release"), format!("VERSION_ID={version}\n"))?;
///     let tree = Dir::open_ambient_dir(tmp.path().join("tree"), ambient_authority())?;
///     let sources = vec![TreeSource::Dir(tree, tmp.path().join("tree"))];
///     let options = CommitOptions { branch: Some("main".into()), ..Default::default() };
///     commits.push(commit(&repo, sources, &NoProgress, &interrupt, &options)?.checksum);
/// }
///
/// // `ostree prune --refs-only --depth=0`: only the commit `main` points at is kept.
/// let options = PruneOptions { refs_only: true, depth: Some(0), ..Default::default() };
/// let outcome = prune(&repo, &NoProgress, &interrupt, &options)?;
/// // The first commit, its two dirtrees (/ and /etc) and its os-release.
/// assert_eq!(outcome.deleted, 4);
/// assert!(!repo.has_object(ObjectType::Commit, &commits[0])?);
/// assert!(repo.has_object(ObjectType::Commit, &commits[1])?);
/// # Ok(()) }
/// ```
pub fn prune(
    repo: &Repo,
    progress: &dyn Progress,
    interrupt: &AtomicBool,
    options: &PruneOptions,
) -> Result<PruneOutcome> {
    if !options.delete_commits.is_empty() {
        let mut refs = branch_refs(repo)?;
        refs.extend(mirror_refs(repo)?);
        for commit in &options.delete_commits {
            if let Some((name, _)) = refs.iter().find(|(_, c)| c == commit) {
                return Err(Error::CommitReferenced {
                    commit: *commit,
                    name: name.clone(),
                });
            }
        }
    }
    if let Some(rules) = &options.branches {
        let refs = branch_refs(repo)?;
        for name in &rules.only {
            if !refs.iter().any(|(n, _)| n == name) {
                return Err(Error::RefNotFound(name.clone()));
            }
        }
    }
    progress.event(Event::Phase("Finding reachable objects"));
    let mut marker = Marker::new(repo, options.commit_only);
    if options.delete_commits.is_empty() {
        marker.mark_roots(options)?;
    }
    if interrupt.load(Ordering::Relaxed) {
        return Err(Error::Cancelled);
    }
    // Read before anything goes, so that a config refused stops the prune at its start.
    let tombstones = tombstones_enabled(repo)?;
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
            remove_commit(repo, commit, tombstones)?;
        }
    }
    marker.mark_roots(options)?;
    let mut objects = list_objects(repo, options.commit_only)?;
    // Commits first: a prune killed half-way must not leave a commit whose tree it has
    // already deleted (fsck would call the repo corrupt).
    objects.sort_by_key(|(_, objtype)| *objtype != ObjectType::Commit);
    let mut outcome = PruneOutcome {
        total: objects.len() as u64,
        ..Default::default()
    };
    progress.event(Event::Phase("Deleting unreachable objects"));
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
            if objtype == ObjectType::Commit {
                remove_commit(repo, &checksum, tombstones)?;
            } else {
                remove(repo, &checksum, objtype)?;
            }
        }
        outcome.deleted += 1;
        outcome.freed += size;
        progress.event(Event::ObjectPruned { bytes: size });
    }
    if !options.dry_run {
        prune_static_deltas(repo, None)?;
        crate::summary_cache::prune_repo_cache(repo)?;
        if outcome.deleted > 0 && repo.fsync_enabled() {
            let fd = crate::sys::readable_dir(repo.objects_dir()).ctx("opening", "objects")?;
            rustix::fs::syncfs(&fd).ctx("syncing", "objects")?;
        }
    }
    Ok(outcome)
}
