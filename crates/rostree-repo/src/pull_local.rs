//! Copying commits from another local repository (`pull-local`), as upstream imports
//! between local repositories: an object both repositories hold alike (same mode, any
//! metadata, bare-user files into bare-user-only) is hard-linked when they share a file
//! system; others are read in the source's mode and written in this one's, in parallel.
//! With `untrusted`, every object is hashed before it is taken. Commits whose trees are not
//! copied (`commit_metadata_only`) stay marked partial, as a pull leaves them.

use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;
use rostree_core::object::{FileHeader, verify_bindings};
use rostree_core::{Checksum, ObjectType};

use crate::error::{Error, Result};
use crate::progress::{Event, Progress};
use crate::repo::{RefKind, Repo};
use crate::transaction::{Source, Transaction, validate_bareuseronly_mode};

/// Options of [`pull_local`].
#[derive(Clone, Debug)]
pub struct PullLocalOptions {
    /// Parents to fetch per commit; `None` for all (`--depth=-1`).
    pub depth: Option<u64>,
    /// Hash every object read from the source (`--untrusted`).
    pub untrusted: bool,
    /// Write refs under this remote instead of locally (`--remote`).
    pub remote: Option<String>,
    /// Write refs as this collection's, in `refs/mirrors/` (`create-usb`).
    pub mirror_collection: Option<String>,
    /// Fetch only commit objects (`--commit-metadata-only`).
    pub commit_metadata_only: bool,
    /// Refuse files a bare-user-only repository could not hold (`--bareuseronly-files`).
    pub bareuseronly_files: bool,
    /// Check that a ref's commit names the ref in its bindings (on unless
    /// `--disable-verify-bindings`).
    pub verify_bindings: bool,
}

impl Default for PullLocalOptions {
    fn default() -> Self {
        PullLocalOptions {
            depth: Some(0),
            untrusted: false,
            remote: None,
            mirror_collection: None,
            commit_metadata_only: false,
            bareuseronly_files: false,
            verify_bindings: true,
        }
    }
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
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::atomic::AtomicBool;
/// use cap_std::{ambient_authority, fs::Dir};
/// use rostree_repo::commit::{CommitOptions, TreeSource, commit};
/// use rostree_repo::pull_local::{PullLocalOptions, pull_local};
/// use rostree_repo::{InitOptions, Repo, RepoMode, progress::NoProgress};
///
/// let tmp = tempfile::tempdir()?;
/// std::fs::create_dir_all(tmp.path().join("tree/etc"))?;
/// std::fs::write(tmp.path().join("tree/etc/os-release"), "ID=example\n")?;
/// let options = InitOptions { mode: RepoMode::Archive, ..Default::default() };
/// let init = |name: &str| -> Result<Repo, Box<dyn std::error::Error>> {
///     std::fs::create_dir(tmp.path().join(name))?;
///     let dir = Dir::open_ambient_dir(tmp.path().join(name), ambient_authority())?;
///     Ok(Repo::init(dir, tmp.path().join(name), &options)?)
/// };
/// let (source, repo) = (init("source")?, init("repo")?);
/// let tree = Dir::open_ambient_dir(tmp.path().join("tree"), ambient_authority())?;
/// let sources = vec![TreeSource::Dir(tree, tmp.path().join("tree"))];
/// let options = CommitOptions { branch: Some("main".into()), ..Default::default() };
/// let interrupt = AtomicBool::new(false);
/// let tip = commit(&source, sources, &NoProgress, &interrupt, &options)?.checksum;
///
/// // `ostree --repo=repo pull-local source main`
/// let refs = [("main".to_owned(), tip)];
/// let outcome = pull_local(&repo, &source, &refs, &NoProgress, &interrupt, &PullLocalOptions::default())?;
/// assert_eq!(repo.resolve_rev("main")?, tip);
/// assert_eq!(outcome.content, 1); // etc/os-release
/// # Ok(()) }
/// ```
pub fn pull_local(
    repo: &Repo,
    source: &Repo,
    refs: &[(String, Checksum)],
    progress: &dyn Progress,
    interrupt: &AtomicBool,
    options: &PullLocalOptions,
) -> Result<PullLocalOutcome> {
    copy(repo, source, refs, true, progress, interrupt, options)
}

/// Copies commits (the names are ignored) without writing any ref.
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
/// # let options = InitOptions { mode: RepoMode::Archive, ..Default::default() };
/// # let init = |name: &str| -> Result<Repo, Box<dyn std::error::Error>> {
/// #     std::fs::create_dir(tmp.path().join(name))?;
/// #     let dir = Dir::open_ambient_dir(tmp.path().join(name), ambient_authority())?;
/// #     Ok(Repo::init(dir, tmp.path().join(name), &options)?)
/// # };
/// # let (source, repo) = (init("source")?, init("repo")?);
/// # let tree = Dir::open_ambient_dir(tmp.path().join("tree"), ambient_authority())?;
/// # let sources = vec![TreeSource::Dir(tree, tmp.path().join("tree"))];
/// # let options = CommitOptions { branch: Some("main".into()), ..Default::default() };
/// # let interrupt = AtomicBool::new(false);
/// # commit(&source, sources, &NoProgress, &interrupt, &options)?;
/// use rostree_core::ObjectType;
/// use rostree_repo::pull_local::{PullLocalOptions, pull_local_commits};
///
/// // `source` holds `main`, a commit with one file; `repo` is empty (both archive mode).
/// let tip = source.resolve_rev("main")?;
/// let commits = [(String::new(), tip)];
/// pull_local_commits(&repo, &source, &commits, &NoProgress, &interrupt, &PullLocalOptions::default())?;
/// assert!(repo.has_object(ObjectType::Commit, &tip)?);
/// assert!(repo.resolve_rev_optional("main")?.is_none()); // no ref written
/// # Ok(()) }
/// ```
pub fn pull_local_commits(
    repo: &Repo,
    source: &Repo,
    commits: &[(String, Checksum)],
    progress: &dyn Progress,
    interrupt: &AtomicBool,
    options: &PullLocalOptions,
) -> Result<PullLocalOutcome> {
    copy(repo, source, commits, false, progress, interrupt, options)
}

fn copy(
    repo: &Repo,
    source: &Repo,
    refs: &[(String, Checksum)],
    set_refs: bool,
    progress: &dyn Progress,
    interrupt: &AtomicBool,
    options: &PullLocalOptions,
) -> Result<PullLocalOutcome> {
    let tx = Transaction::begin(repo)?;
    let mut files = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut completed = Vec::new();
    let source_collection = source.collection_id();
    for (name, tip) in refs {
        let mut next = Some((*tip, options.depth));
        while let Some((commit, remaining)) = next.take() {
            if interrupt.load(Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
            if !seen.insert((commit, ObjectType::Commit)) {
                break;
            }
            let loaded = if options.untrusted {
                source.load_metadata(ObjectType::Commit, &commit)
            } else {
                source.load_metadata_trusted(ObjectType::Commit, &commit)
            };
            let data = match loaded {
                Ok(d) => d,
                // History the source does not have ends the walk, as upstream.
                Err(Error::MissingObject { .. }) if commit != *tip => break,
                Err(e) => return Err(e),
            };
            let view = crate::repo::parse_commit(&data, &commit)?;
            // As over HTTP: the ref asked for binds the commit it names, and a source with a
            // collection ID binds every commit of the history.
            let bound_ref = (set_refs && commit == *tip).then_some(name.as_str());
            if options.verify_bindings && (bound_ref.is_some() || source_collection.is_some()) {
                verify_bindings(&view.metadata(), source_collection.as_deref(), bound_ref)
                    .map_err(|source| Error::InvalidBindings { commit, source })?;
            }
            let complete_before =
                tx.has_object(ObjectType::Commit, &commit)? && !repo.commit_is_partial(&commit);
            import_metadata(&tx, source, ObjectType::Commit, &commit, options.untrusted)?;
            if let Some(meta) = source.load_commitmeta(&commit)? {
                tx.write_metadata_as(ObjectType::CommitMeta, &commit, &meta)?;
            }
            if !complete_before {
                // Marked before its tree is copied: a copy cut short leaves the commit
                // known incomplete, and one of the commit alone leaves it so on purpose.
                repo.mark_commit_partial(&commit)?;
            }
            if !options.commit_metadata_only {
                copy_tree(
                    source,
                    &tx,
                    view.root_tree(),
                    view.root_meta(),
                    options.untrusted,
                    &mut seen,
                    &mut files,
                )?;
                completed.push(commit);
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
    progress.event(Event::ObjectsQueued(files.len() as u64));
    files.par_iter().try_for_each(|checksum| -> Result<()> {
        if interrupt.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        let bytes = import_file(&tx, source, checksum, options)?;
        progress.event(Event::ObjectFetched {
            bytes,
            metadata: false,
        });
        Ok(())
    })?;
    let kind = match (&options.remote, &options.mirror_collection) {
        (Some(remote), _) => RefKind::Remote(remote.clone()),
        // The repository's own collection is its heads.
        (None, Some(id)) if repo.collection_id().as_deref() != Some(id.as_str()) => {
            RefKind::Mirror(id.clone())
        }
        (None, _) => RefKind::Local,
    };
    let ref_updates: Vec<_> = if set_refs {
        refs.iter()
            .map(|(name, c)| (kind.clone(), name.clone(), *c))
            .collect()
    } else {
        Vec::new()
    };
    let stats = tx.commit_completing(&completed, &ref_updates)?;
    Ok(PullLocalOutcome {
        metadata: stats.metadata_objects_written,
        content: stats.content_objects_written,
        content_bytes: stats.content_bytes_written,
    })
}

/// Takes a content object of `source` into the transaction: linked when it can be, else
/// copied; returns the payload bytes copied (0 when linked or already there).
fn import_file(
    tx: &Transaction<'_>,
    source: &Repo,
    checksum: &Checksum,
    options: &PullLocalOptions,
) -> Result<u64> {
    if tx.has_object(ObjectType::File, checksum)? {
        return Ok(0);
    }
    // Read (and hashed) first when that is asked for; then linked if it can be.
    let checked = if options.bareuseronly_files || options.untrusted {
        let (header, payload) = source.open_content(checksum)?;
        if options.bareuseronly_files {
            validate_bareuseronly_mode(checksum, &header)?;
        }
        Some((header, payload))
    } else {
        None
    };
    let mismatch = || Error::Corrupt {
        objtype: ObjectType::File,
        checksum: *checksum,
        reason: "content does not match its checksum".into(),
    };
    // Copied as a stream; from an untrusted source hashed on the way, and refused when
    // it is not what its name says.
    let copy = |header: FileHeader, mut payload: crate::Payload| -> Result<u64> {
        let size = payload.size().unwrap_or(0);
        let source = if options.untrusted {
            Source::Untrusted(&mut payload)
        } else {
            Source::Trusted(&mut payload)
        };
        match tx.write_content_as(checksum, &header, source) {
            Err(Error::ChecksumMismatch { .. }) => Err(mismatch()),
            other => other.map(|_| size),
        }
    };
    match checked {
        // Checked first (hashed, when the source is not trusted), then linked if it can
        // be, as upstream imports.
        Some((header, mut payload)) => {
            if options.untrusted {
                let actual =
                    crate::content::checksum_stream(&header, &mut payload).map_err(|e| {
                        Error::Corrupt {
                            objtype: ObjectType::File,
                            checksum: *checksum,
                            reason: e.to_string(),
                        }
                    })?;
                if actual != *checksum {
                    return Err(mismatch());
                }
                if tx.link_object_from(source, ObjectType::File, checksum)? {
                    return Ok(0);
                }
                let (header, payload) = source.open_content(checksum)?;
                return copy(header, payload);
            }
            if tx.link_object_from(source, ObjectType::File, checksum)? {
                return Ok(0);
            }
            copy(header, payload)
        }
        None if tx.link_object_from(source, ObjectType::File, checksum)? => Ok(0),
        None => {
            let (header, payload) = source.open_content(checksum)?;
            copy(header, payload)
        }
    }
}

/// Takes a metadata object of `source`: linked when possible, else copied; with
/// `untrusted`, hashed first.
fn import_metadata(
    tx: &Transaction<'_>,
    source: &Repo,
    objtype: ObjectType,
    checksum: &Checksum,
    untrusted: bool,
) -> Result<()> {
    if tx.has_object(objtype, checksum)? {
        return Ok(());
    }
    // Reading it hash-checks it.
    let data = if untrusted {
        Some(source.load_metadata(objtype, checksum)?)
    } else {
        None
    };
    if tx.link_object_from(source, objtype, checksum)? {
        return Ok(());
    }
    let data = match data {
        Some(data) => data,
        None => source.load_metadata_trusted(objtype, checksum)?,
    };
    tx.write_metadata_as(objtype, checksum, &data)
}

fn copy_tree(
    source: &Repo,
    tx: &Transaction<'_>,
    tree: Checksum,
    meta: Checksum,
    untrusted: bool,
    seen: &mut std::collections::HashSet<(Checksum, ObjectType)>,
    files: &mut Vec<Checksum>,
) -> Result<()> {
    let mut pending = vec![(tree, meta)];
    while let Some((tree, meta)) = pending.pop() {
        if seen.insert((meta, ObjectType::DirMeta)) {
            import_metadata(tx, source, ObjectType::DirMeta, &meta, untrusted)?;
        }
        if !seen.insert((tree, ObjectType::DirTree)) {
            continue;
        }
        import_metadata(tx, source, ObjectType::DirTree, &tree, untrusted)?;
        let data = tx.load_metadata(ObjectType::DirTree, &tree)?;
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
