//! Pulling commits from a remote repository into a local one.
//!
//! ```text
//! remote (archive layout)              local
//! summary             refs and their commits (or refs/heads/<ref> without one)
//! objects/XX/….commitmeta, .commit  →  fetched first, one commit after another (depth)
//! objects/XX/….dirtree, .dirmeta    →  state/<commit>.commitpartial while the tree is
//! objects/XX/….filez                   incomplete; removed once the transaction is in
//!                                      refs/remotes/<remote>/<ref> (refs/heads with mirror)
//! ```
//!
//! Requests run concurrently on a small async runtime; every object is checked (re-hashed,
//! parsed, its names validated) and stored by a pool of threads while more are in flight.
//! Nothing is fetched twice and nothing already in the repository is fetched at all. The
//! number of objects fetched or being stored at once is bounded, which bounds memory.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use rostree_core::datetime::format_ctime;
use rostree_core::object::{
    CommitRef, DirMeta, DirTreeRef, FileHeader, MAX_TREE_DEPTH, Metadata, Summary,
    content_checksum, verify_bindings,
};
use rostree_core::{Checksum, ObjectType};
use rostree_repo::progress::{Event, Progress};
use rostree_repo::transaction::{Source, Transaction};
use rostree_repo::{RefKind, Repo};

use crate::body::{Body, MemoryBudget, Spill};
use crate::error::{Error, Result};
use crate::fetch::{FetchOptions, Fetcher};
use crate::summary::{CacheSlot, SummaryChecks};
use rostree_repo::summary_cache::SummaryCache;

/// Where to pull from.
#[derive(Clone, Debug)]
pub struct RemoteSpec {
    /// The remote's name: refs land under `refs/remotes/<name>/`.
    pub name: String,
    /// Its URL (`http://`, `https://`, `file://`, or `mirrorlist=URL` of a list of them).
    pub url: String,
    /// Where content objects come from, when not from `url` (`contenturl`).
    pub contenturl: Option<String>,
    /// The collection the remote's commits must be bound to (`collection-id`).
    pub collection_id: Option<String>,
}

/// Options of [`pull`].
#[derive(Clone, Debug)]
pub struct PullOptions {
    /// Parents to fetch below each commit (`--depth`); `None` for all history.
    pub depth: Option<u64>,
    /// Refs to set to given commits, pulled instead of `refs` without asking the remote
    /// what they name (a `find-remotes --pull` knows the commits already).
    pub pinned: Vec<(String, Checksum)>,
    /// Write refs as local branches, and with no refs given take all of them (`--mirror`).
    pub mirror: bool,
    /// Fetch commit objects only (`--commit-metadata-only`).
    pub commit_metadata_only: bool,
    /// Check that each ref's commit names the ref in its bindings (on unless
    /// `--disable-verify-bindings`).
    pub verify_bindings: bool,
    /// Only these paths of each commit's tree (`--subpath`); the commits stay partial.
    pub subpaths: Vec<String>,
    /// When set, every commit fetched must carry a signature (of a type of the list) by one
    /// of these keys
    /// (`sign-verify`), checked before anything of its tree is fetched.
    pub sign_verifier: Option<Arc<Vec<rostree_sign::signapi::Verifier>>>,
    /// When set (`gpg-verify`), every commit fetched must carry a GPG signature by one of
    /// these keys, checked before anything of its tree is fetched.
    pub gpg_keyring: Option<Arc<rostree_sign::gpg::Keyring>>,
    /// When set (`gpg-verify-summary`), `summary.sig` must hold a GPG signature of the
    /// summary by one of these keys.
    pub gpg_summary_keyring: Option<Arc<rostree_sign::gpg::Keyring>>,
    /// When set, the summary must carry a signature by one of these keys in
    /// `summary.sig` (`sign-verify-summary`).
    pub summary_verifier: Option<Arc<Vec<rostree_sign::signapi::Verifier>>>,
    /// Repositories to take objects from before asking the remote (`--localcache-repo`).
    pub localcache: Vec<Arc<Repo>>,
    /// Refuse content a bare-user-only repository could not hold: setuid, setgid, sticky
    /// or world-writable files (`--bareuseronly-files`).
    pub bareuseronly_files: bool,
    /// Refuse a ref's new commit when it is older than the commit the ref has now
    /// (`--timestamp-check`).
    pub timestamp_check: bool,
    /// Refuse new commits older than this one (`--timestamp-check-from-rev`).
    pub timestamp_check_from: Option<Checksum>,
    /// Objects fetched or being stored at once: a fixed number, or `None` to adapt it to
    /// the link (more while that raises the rate, as on a long round trip).
    pub concurrency: Option<usize>,
    /// How requests are made.
    pub fetch: FetchOptions,
    /// Where signed summaries are cached, instead of the repository's `tmp/cache`
    /// (`--cache-dir`).
    pub cache_dir: Option<std::path::PathBuf>,
    /// Whether static deltas are used where the remote offers them.
    pub static_deltas: StaticDeltas,
    /// Only report what the deltas would fetch (`--dry-run`; deltas must be required).
    pub dry_run: bool,
    /// Trust the HTTP source (`--http-trusted`): a mirror into an archive repository then
    /// copies content objects as they come, without hashing them.
    pub trusted_http: bool,
}

/// How a pull uses static deltas.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StaticDeltas {
    /// Where the remote offers them (not from local remotes, nor into archive repos).
    #[default]
    Allow,
    /// Never (`--disable-static-deltas`).
    Disable,
    /// Always: a commit no delta reaches is an error (`--require-static-deltas`).
    Require,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            depth: Some(0),
            mirror: false,
            commit_metadata_only: false,
            verify_bindings: true,
            subpaths: Vec::new(),
            sign_verifier: None,
            summary_verifier: None,
            gpg_keyring: None,
            gpg_summary_keyring: None,
            localcache: Vec::new(),
            bareuseronly_files: false,
            timestamp_check: false,
            timestamp_check_from: None,
            concurrency: None,
            fetch: FetchOptions::default(),
            cache_dir: None,
            pinned: Vec::new(),
            static_deltas: StaticDeltas::Allow,
            dry_run: false,
            trusted_http: false,
        }
    }
}

/// What [`pull`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PullOutcome {
    /// Metadata objects fetched.
    pub metadata_fetched: u64,
    /// Content objects fetched.
    pub content_fetched: u64,
    /// Metadata objects taken from `--localcache-repo` repositories.
    pub metadata_local: u64,
    /// Content objects taken from `--localcache-repo` repositories.
    pub content_local: u64,
    /// Bytes received from the remote (summary, signatures and objects).
    pub bytes_fetched: u64,
    /// Bytes of content stored (compressed in an archive repository).
    pub content_bytes_written: u64,
    /// Whether the remote was a local directory (`file://`), imported from rather than
    /// fetched, as upstream words it.
    pub remote_is_local: bool,
    /// The refs set, with their commits.
    pub refs: Vec<(String, Checksum)>,
    /// Static delta parts fetched (or found complete here).
    pub delta_parts: u64,
    /// With `dry_run`: what the deltas would fetch.
    pub dry_run: Option<crate::deltas::DeltaTotals>,
}

/// An object to fetch after the commits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Item {
    /// A dirtree, and how deep it lies below the commit's root.
    DirTree(Checksum, usize),
    DirMeta(Checksum),
    File(Checksum),
}

impl Item {
    fn name(self) -> (ObjectType, Checksum) {
        match self {
            Item::DirTree(c, _) => (ObjectType::DirTree, c),
            Item::DirMeta(c) => (ObjectType::DirMeta, c),
            Item::File(c) => (ObjectType::File, c),
        }
    }
}

/// Where the remote keeps an object (archive layout: content as `.filez`).
fn object_path(objtype: ObjectType, checksum: &Checksum) -> String {
    format!("objects/{}", checksum.relative_path(objtype, true))
}

fn corrupt(objtype: ObjectType, checksum: Checksum, reason: impl Into<String>) -> Error {
    Error::Corrupt {
        objtype,
        checksum,
        reason: reason.into(),
    }
}

fn invalid_object(
    objtype: ObjectType,
    checksum: Checksum,
    e: &rostree_core::object::ObjectError,
) -> Error {
    Error::InvalidObject {
        objtype,
        checksum,
        detail: e.detail(),
    }
}

/// Checks that metadata bytes hash to their name.
fn check_hash(objtype: ObjectType, checksum: &Checksum, data: &[u8]) -> Result<()> {
    let actual = Checksum::digest(data);
    if actual != *checksum {
        return Err(Error::ChecksumMismatch {
            objtype,
            expected: *checksum,
            actual,
        });
    }
    Ok(())
}

/// Pulls `refs` (ref names, or commit checksums that set no ref) from `remote` into `repo`.
/// With no refs and `mirror`, every ref of the remote's summary is pulled.
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
/// # let init = |name: &str, mode| -> Result<Repo, Box<dyn std::error::Error>> {
/// #     std::fs::create_dir(tmp.path().join(name))?;
/// #     let dir = Dir::open_ambient_dir(tmp.path().join(name), ambient_authority())?;
/// #     let options = InitOptions { mode, ..Default::default() };
/// #     Ok(Repo::init(dir, tmp.path().join(name), &options)?)
/// # };
/// # let source = init("source", RepoMode::Archive)?;
/// # let repo = init("repo", RepoMode::BareUser)?;
/// # let tree = Dir::open_ambient_dir(tmp.path().join("tree"), ambient_authority())?;
/// # let sources = vec![TreeSource::Dir(tree, tmp.path().join("tree"))];
/// # let options = CommitOptions { branch: Some("main".into()), ..Default::default() };
/// # let interrupt = AtomicBool::new(false);
/// # let tip = commit(&source, sources, &NoProgress, &interrupt, &options)?.checksum;
/// use rostree_pull::pull::{PullOptions, RemoteSpec, pull};
///
/// // `source` (archive) holds `main`. `ostree --repo=repo pull origin main`, where
/// // `origin` is `file://` + source, without signature checks:
/// let remote = RemoteSpec {
///     name: "origin".into(),
///     url: format!("file://{}", tmp.path().join("source").display()),
///     contenturl: None,
///     collection_id: None,
/// };
/// let refs = ["main".to_owned()];
/// let options = PullOptions::default();
/// let outcome = pull(&repo, &remote, &refs, &NoProgress, &interrupt, &options)?;
/// assert!(outcome.remote_is_local);
/// assert_eq!(repo.resolve_rev("origin:main")?, tip);
/// # Ok(()) }
/// ```
pub fn pull(
    repo: &Repo,
    remote: &RemoteSpec,
    refs: &[String],
    progress: &dyn Progress,
    interrupt: &AtomicBool,
    options: &PullOptions,
) -> Result<PullOutcome> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Io {
            path: "starting the pull runtime".into(),
            source: e,
        })?;
    let fetcher = Arc::new(runtime.block_on(remote_fetcher(&remote.url, &options.fetch))?);
    let content_fetcher = match &remote.contenturl {
        Some(contenturl) => Arc::new(runtime.block_on(remote_fetcher(contenturl, &options.fetch))?),
        None => Arc::clone(&fetcher),
    };
    // A local remote (`file://`) is a repository of any mode: its objects are imported
    // from it as from a local cache repository, which is how upstream pulls from one.
    let with_source;
    let options = match content_fetcher.local_root() {
        Some(root) => {
            let dir = cap_std::fs::Dir::open_ambient_dir(root, cap_std::ambient_authority())
                .map_err(|e| Error::Io {
                    path: root.display().to_string(),
                    source: e,
                })?;
            let source = Repo::open(dir, root.to_owned())?;
            let mut local = options.clone();
            local.localcache.insert(0, Arc::new(source));
            with_source = local;
            &with_source
        }
        None => options,
    };
    progress.event(Event::Phase("Resolving refs"));
    let cache = SummaryCache::open(repo, options.cache_dir.as_deref())?;
    let slot = CacheSlot {
        cache: &cache,
        remote: &remote.name,
        invalid_is_error: rostree_repo::summary_cache::invalid_cache_is_error(),
    };
    // Deltas are not used from local remotes (unless required, for testing them), nor into
    // archive repositories (their operations build bare files), nor for commits alone.
    let require = options.static_deltas == StaticDeltas::Require;
    if require && repo.mode().is_archive() {
        return Err(Error::DeltasInArchive);
    }
    let use_deltas = options.static_deltas != StaticDeltas::Disable
        && (require || content_fetcher.local_root().is_none())
        && !repo.mode().is_archive()
        && !options.commit_metadata_only;
    // Deltas need the summary's list, unless the remote's config says it keeps indexes
    // (then a pull of commits alone needs no summary, as upstream).
    let needs_summary = refs
        .iter()
        .any(|r| Checksum::from_hex(r).is_err() && !r.contains('@'))
        || (options.mirror && refs.is_empty());
    let mut indexed_by_config = false;
    if use_deltas
        && !needs_summary
        && options.pinned.is_empty()
        && let Some(config) = runtime.block_on(fetcher.get("config"))?
    {
        let text = String::from_utf8_lossy(&config);
        indexed_by_config = rostree_core::keyfile::KeyFile::parse(&text)
            .ok()
            .and_then(|k| k.get_bool("core", "indexed-deltas").ok().flatten())
            == Some(true);
    }
    let (targets, mirrored_summary, summary) = if options.pinned.is_empty() {
        runtime.block_on(resolve_refs(
            &fetcher,
            &slot,
            remote,
            refs,
            options,
            use_deltas && !indexed_by_config,
        ))?
    } else {
        let pinned = options.pinned.iter().map(|(n, c)| (Some(n.clone()), *c));
        (pinned.collect(), None, None)
    };
    let mut offered = crate::deltas::Offered {
        indexed: indexed_by_config,
        ..Default::default()
    };
    if let Some(summary) = &summary {
        offered.add_dict(&summary.metadata)?;
        offered.in_summary = !offered.known.is_empty();
        offered.indexed |= matches!(
            summary.metadata.get("ostree.summary.indexed-deltas"),
            Some(rostree_core::gvariant::Value::Bool(true))
        );
    }
    if require && !offered.indexed && !offered.in_summary {
        return Err(Error::NoDeltasOffered);
    }
    // Upstream's "transferred" figure counts what the pull fetched after the summary and
    // the config.
    let transferred = || {
        let content = if Arc::ptr_eq(&fetcher, &content_fetcher) {
            0
        } else {
            content_fetcher.bytes_transferred()
        };
        fetcher.bytes_transferred() + content
    };
    let before = transferred();
    let stats = Stats::default();
    // A mirror keeps a remote's refs under their collection when the remote names one
    // (its heads when that is the repository's own collection), as upstream does.
    let kind = match (options.mirror, &remote.collection_id) {
        (true, Some(id)) if repo.collection_id().as_deref() != Some(id.as_str()) => {
            RefKind::Mirror(id.clone())
        }
        (true, _) => RefKind::Local,
        (false, _) => RefKind::Remote(remote.name.clone()),
    };
    let mut deltas = Vec::new();
    if use_deltas {
        progress.event(Event::Phase("Looking for static deltas"));
        let checks = crate::deltas::Checks {
            require,
            summary_signed: options.gpg_summary_keyring.is_some() && summary.is_some(),
        };
        let mut fetched = 0;
        for (name, head) in &targets {
            let local = match name {
                Some(name) => repo.read_ref(&kind, name)?,
                None => None,
            };
            let target = crate::deltas::Target {
                ref_name: name.as_deref(),
                local,
                to: *head,
            };
            let planned = runtime.block_on(crate::deltas::plan(
                &content_fetcher,
                repo,
                &mut offered,
                &checks,
                &target,
                &mut fetched,
            ));
            let plan = match planned {
                Ok(plan) => plan,
                Err(e) if require || matches!(e, Error::Cancelled) => return Err(e),
                // Objects are checked against the commit whatever a delta says: fetching
                // them one by one is always safe.
                Err(e) => {
                    progress.event(Event::Warning(format!(
                        "no usable static delta to {head}, fetching its objects instead: {e}"
                    )));
                    crate::deltas::Plan::Objects
                }
            };
            if let crate::deltas::Plan::Delta(delta) = plan {
                deltas.push(Arc::<crate::deltas::Fetched>::from(delta));
            }
        }
        stats.metadata.fetch_add(fetched, Ordering::Relaxed);
    }
    if options.dry_run {
        let mut totals = crate::deltas::DeltaTotals::default();
        for delta in &deltas {
            let t = crate::deltas::totals(repo, &delta.superblock)?;
            totals.parts += t.parts;
            totals.parts_here += t.parts_here;
            totals.size += t.size;
            totals.size_here += t.size_here;
            totals.usize += t.usize;
        }
        return Ok(PullOutcome {
            dry_run: Some(totals),
            ..PullOutcome::default()
        });
    }
    // The commits the deltas carry, with their detached metadata: not fetched again.
    let carried: HashMap<Checksum, (Vec<u8>, Option<Vec<u8>>)> = deltas
        .iter()
        .map(|d| {
            let detached = d
                .superblock
                .detached_metadata(&d.name.file("commitmeta"))
                .map(|m| m.to_bytes());
            (d.superblock.to, (d.superblock.commit.clone(), detached))
        })
        .collect();
    let tx = Transaction::begin(repo)?;
    progress.event(Event::Phase("Fetching commits"));
    let mut found_all = Vec::new();
    let mut partial = Vec::new();
    for (name, head) in &targets {
        // The commit a new one must not be older than.
        let floor = match (&options.timestamp_check_from, name) {
            (Some(rev), _) => Some(*rev),
            (None, Some(name)) if options.timestamp_check => repo.read_ref(&kind, name)?,
            _ => None,
        };
        let found = runtime.block_on(fetch_history(
            [&fetcher, &content_fetcher],
            &tx,
            progress,
            remote.collection_id.as_deref(),
            name.as_deref(),
            floor,
            *head,
            &carried,
            options,
            &stats,
            interrupt,
        ))?;
        partial.extend(found.iter().map(|(commit, _, _)| *commit));
        found_all.extend(found);
    }
    // Marked before anything of their trees is stored, so that an interrupted pull leaves
    // commits that fsck and the next pull know to be incomplete.
    for commit in &partial {
        repo.mark_commit_partial(commit)?;
    }
    let mut delta_parts = 0;
    if !deltas.is_empty() {
        progress.event(Event::Phase("Applying static deltas"));
        for delta in &deltas {
            let applied = delta::apply_delta(
                &runtime,
                &content_fetcher,
                &tx,
                delta,
                progress,
                interrupt,
                &mut delta_parts,
            );
            match applied {
                Ok(()) => {}
                // What was built is kept, so that running the pull again fetches only the
                // rest; no ref moves.
                Err(e) if require || matches!(e, Error::Cancelled) => {
                    let _ = tx.commit();
                    return Err(e);
                }
                // The objects the delta did not bring are fetched one by one below, as
                // for a remote without deltas.
                Err(e) => progress.event(Event::Warning(format!(
                    "static delta {} failed, fetching its objects instead: {e}",
                    delta.name
                ))),
            }
        }
    }
    let mut roots = Vec::new();
    for (_, tree, meta) in found_all {
        if options.commit_metadata_only {
            continue;
        }
        if !options.subpaths.is_empty() {
            for subpath in &options.subpaths {
                roots.extend(runtime.block_on(walk_subpath(
                    &content_fetcher,
                    &tx,
                    tree,
                    meta,
                    subpath,
                    &stats,
                ))?);
            }
            continue;
        }
        // A tree stored in part (an earlier pull that failed, or a delta) is walked locally.
        if !tx.has_object(ObjectType::DirMeta, &meta)? {
            roots.push(Item::DirMeta(meta));
        }
        if tx.has_object(ObjectType::DirTree, &tree)? {
            let data = tx.load_metadata(ObjectType::DirTree, &tree)?;
            roots.extend(missing_children(&tx, &data, tree, 0)?);
        } else {
            roots.push(Item::DirTree(tree, 0));
        }
    }
    progress.event(Event::Phase("Fetching objects"));
    let fetched = fetch_objects(
        &runtime,
        &content_fetcher,
        &tx,
        roots,
        progress,
        options,
        &stats,
        interrupt,
    );
    if let Err(e) = fetched {
        // What was fetched and checked is kept (the commits stay marked partial), so that
        // running the pull again fetches only the rest. No ref moves.
        let _ = tx.commit();
        return Err(e);
    }
    let updates: Vec<_> = targets
        .iter()
        .filter_map(|(name, c)| name.as_ref().map(|n| (kind.clone(), n.clone(), *c)))
        .collect();
    // Commits fetched without (all of) their trees stay partial, as upstream leaves them.
    let completed = if !options.commit_metadata_only && options.subpaths.is_empty() {
        partial
    } else {
        Vec::new()
    };
    let written = tx.commit_completing(&completed, &updates)?;
    if let Some(summary) = &mirrored_summary {
        write_mirrored_summary(repo, summary)?;
    }
    Ok(PullOutcome {
        metadata_fetched: stats.metadata.load(Ordering::Relaxed),
        content_fetched: stats.content.load(Ordering::Relaxed),
        metadata_local: stats.metadata_local.load(Ordering::Relaxed),
        content_local: stats.content_local.load(Ordering::Relaxed),
        // A local remote is imported from, not transferred (upstream shows no figure).
        bytes_fetched: if fetcher.is_local() {
            0
        } else {
            transferred().saturating_sub(before)
        },
        content_bytes_written: written.content_bytes_written,
        remote_is_local: fetcher.is_local(),
        delta_parts,
        dry_run: None,
        refs: targets
            .into_iter()
            .filter_map(|(n, c)| n.map(|n| (n, c)))
            .collect(),
    })
}

#[derive(Default)]
struct Stats {
    metadata: AtomicU64,
    content: AtomicU64,
    metadata_local: AtomicU64,
    content_local: AtomicU64,
}

impl Stats {
    /// Counts one object stored, fetched or from a local cache repository.
    fn count(&self, is_file: bool, local: bool) {
        let counter = match (is_file, local) {
            (false, false) => &self.metadata,
            (true, false) => &self.content,
            (false, true) => &self.metadata_local,
            (true, true) => &self.content_local,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A fetcher for what a remote's `url` (or `contenturl`) stands for: the repository at
/// that URL; with `mirrorlist=LIST`, the mirrors the list names (one URL a line; blank
/// lines and `#` comments skipped), each file asked of them in turn; with `metalink=URL`,
/// the directory of the first summary the metalink names that matches its size and digest.
pub(crate) async fn remote_fetcher(url: &str, options: &FetchOptions) -> Result<Fetcher> {
    let invalid = |reason: String| Error::InvalidUrl {
        url: url.to_owned(),
        reason,
    };
    // One file at a URL, named whole.
    let fetch_one = |file_url: &str| {
        let file_url = file_url.to_owned();
        async move {
            let (base, file) = file_url
                .rsplit_once('/')
                .ok_or_else(|| invalid(format!("no file in {file_url}")))?;
            Fetcher::new(base, options.clone())?
                .get(file)
                .await?
                .ok_or_else(|| invalid(format!("Server returned HTTP 404 for {file_url}")))
        }
    };
    if let Some(list_url) = url.strip_prefix("mirrorlist=") {
        let list = fetch_one(list_url).await?;
        let mirrors: Vec<String> = String::from_utf8_lossy(&list)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect();
        if mirrors.is_empty() {
            return Err(invalid("the mirror list names no mirror".into()));
        }
        return Fetcher::with_mirrors(&mirrors, options.clone());
    }
    if let Some(metalink_url) = url.strip_prefix("metalink=") {
        let xml = fetch_one(metalink_url).await?;
        let link = crate::metalink::parse(&String::from_utf8_lossy(&xml), "summary")
            .map_err(|e| invalid(e.to_string()))?;
        let mut last_error = String::new();
        for target in &link.urls {
            let checked = match fetch_one(target).await {
                Ok(data) => link.verify(&data),
                Err(e) => Err(e.to_string()),
            };
            match checked {
                Ok(()) => {
                    let base = target.rsplit_once('/').map_or(target.as_str(), |(b, _)| b);
                    return Fetcher::new(base, options.clone());
                }
                Err(e) => last_error = e,
            }
        }
        return Err(invalid(format!(
            "Exhausted {} metalink targets, last error: {last_error}",
            link.urls.len()
        )));
    }
    Fetcher::new(url, options.clone())
}

mod delta;
mod engine;
mod history;
mod refs;
mod walk;

use engine::*;
use history::*;
use walk::*;

use refs::*;
pub use refs::{RemoteSummary, fetch_summary};
