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
use std::sync::{Arc, Mutex, mpsc};

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
            let plan = runtime.block_on(crate::deltas::plan(
                &content_fetcher,
                repo,
                &mut offered,
                &checks,
                &target,
                &mut fetched,
            ))?;
            if let crate::deltas::Plan::Delta(delta) = plan {
                deltas.push(*delta);
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
            let applied = apply_delta(
                &runtime,
                &content_fetcher,
                &tx,
                delta,
                interrupt,
                &mut delta_parts,
            );
            if let Err(e) = applied {
                let _ = tx.commit();
                return Err(e);
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

/// A remote's summary as [`fetch_summary`] got it.
#[derive(Clone, Debug)]
pub struct RemoteSummary {
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Parsed.
    pub summary: Summary,
    /// `summary.sig`, when the remote has one.
    pub signature: Option<Vec<u8>>,
}

/// Fetches a remote's summary file (`None` when it has none), for `remote refs` and
/// `remote summary`, checked as the remote's `gpg-verify-summary` and `sign-verify-summary`
/// ask (`verifier`, `gpg_keyring`), through `repo`'s summary cache (or the one under
/// `cache_dir`).
pub fn fetch_summary(
    repo: &Repo,
    remote: &str,
    cache_dir: Option<&std::path::Path>,
    url: &str,
    options: &FetchOptions,
    verifier: Option<&[rostree_sign::signapi::Verifier]>,
    gpg_keyring: Option<&rostree_sign::gpg::Keyring>,
) -> Result<Option<RemoteSummary>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Io {
            path: "starting the fetch runtime".into(),
            source: e,
        })?;
    let fetcher = runtime.block_on(remote_fetcher(url, options))?;
    let cache = SummaryCache::open(repo, cache_dir)?;
    let slot = CacheSlot {
        cache: &cache,
        remote,
        invalid_is_error: rostree_repo::summary_cache::invalid_cache_is_error(),
    };
    let checks = SummaryChecks {
        gpg: gpg_keyring,
        signapi: verifier,
    };
    Ok(runtime
        .block_on(crate::summary::fetch_summary(&fetcher, &slot, checks))?
        .map(|f| RemoteSummary {
            bytes: f.bytes.to_vec(),
            summary: f.summary,
            signature: f.signature.map(|s| s.to_vec()),
        }))
}

/// The commits to pull: `(ref name, commit)`, the name `None` for a commit asked by checksum.
/// With `mirror` and no refs given, also the remote's `summary` (and `summary.sig`) to copy.
async fn resolve_refs(
    fetcher: &Fetcher,
    slot: &CacheSlot<'_>,
    remote: &RemoteSpec,
    refs: &[String],
    options: &PullOptions,
    for_deltas: bool,
) -> Result<(Targets, Option<MirroredSummary>, Option<Summary>)> {
    // `REF@COMMIT` pulls that commit to the ref, without asking the remote.
    let names: Vec<&String> = refs
        .iter()
        .filter(|r| Checksum::from_hex(r).is_err() && !r.contains('@'))
        .collect();
    let checks = SummaryChecks {
        gpg: options.gpg_summary_keyring.as_deref(),
        signapi: options.summary_verifier.as_ref().map(|v| v.as_slice()),
    };
    // With deltas in use, the summary says which there are.
    let fetched = if !names.is_empty() || (options.mirror && refs.is_empty()) || for_deltas {
        crate::summary::fetch_summary(fetcher, slot, checks).await?
    } else {
        None
    };
    if refs.is_empty() {
        let Some(fetched) = fetched.filter(|_| options.mirror) else {
            return Err(Error::Invalid {
                what: "request".into(),
                reason: "No refs to pull: name some, or mirror a remote that has a summary".into(),
            });
        };
        let targets = fetched
            .summary
            .refs
            .iter()
            .map(|(name, r)| (Some(name.clone()), r.checksum))
            .collect();
        return Ok((
            targets,
            Some(MirroredSummary {
                bytes: fetched.bytes,
                signature: fetched.signature,
            }),
            Some(fetched.summary),
        ));
    }
    let summary = fetched.map(|f| f.summary);
    let mut out = Vec::new();
    for wanted in refs {
        if let Ok(commit) = Checksum::from_hex(wanted) {
            out.push((None, commit));
            continue;
        }
        if let Some((name, commit)) = wanted.rsplit_once('@') {
            let commit = rostree_repo::deltas::DeltaName::parse(commit)?.to;
            rostree_core::refname::validate_ref(name).map_err(|e| Error::Invalid {
                what: "ref".into(),
                reason: e.to_string(),
            })?;
            out.push((Some(name.to_owned()), commit));
            continue;
        }
        rostree_core::refname::validate_ref(wanted).map_err(|e| Error::Invalid {
            what: "ref".into(),
            reason: e.to_string(),
        })?;
        let no_such = || Error::NoSuchRef {
            remote: remote.name.clone(),
            name: wanted.clone(),
        };
        let commit = match &summary {
            Some(summary) => {
                summary
                    .get(wanted)
                    .ok_or_else(|| Error::NotInSummary {
                        name: wanted.clone(),
                    })?
                    .checksum
            }
            None => {
                let data = fetcher
                    .get(&format!("refs/heads/{wanted}"))
                    .await?
                    .ok_or_else(no_such)?;
                let text = String::from_utf8_lossy(&data);
                Checksum::parse_rev(text.trim_end()).map_err(|e| Error::BadRefFile {
                    collection_id: remote.collection_id.clone(),
                    name: wanted.clone(),
                    reason: e.to_string(),
                })?
            }
        };
        out.push((Some(wanted.clone()), commit));
    }
    Ok((out, None, summary))
}

/// What to pull: `(ref name, commit)`, the name `None` for a commit asked by checksum.
type Targets = Vec<(Option<String>, Checksum)>;

/// A remote's summary, copied by a mirror pull of all its refs.
struct MirroredSummary {
    bytes: Bytes,
    signature: Option<Bytes>,
}

/// Replaces the repository's summary (and its signature) with a mirrored one.
fn write_mirrored_summary(repo: &Repo, summary: &MirroredSummary) -> Result<()> {
    Ok(rostree_repo::summary::write_summary_files(
        repo,
        &summary.bytes,
        summary.signature.as_deref(),
    )?)
}

/// Fetches (or finds locally) `head` and its parents down to the depth asked; returns the
/// commits whose trees are still to fetch, with their root dirtree and dirmeta.
#[allow(clippy::too_many_arguments)]
async fn fetch_history(
    [fetcher, object_fetcher]: [&Fetcher; 2],
    tx: &Transaction<'_>,
    progress: &dyn Progress,
    collection_id: Option<&str>,
    ref_name: Option<&str>,
    floor: Option<Checksum>,
    head: Checksum,
    carried: &HashMap<Checksum, (Vec<u8>, Option<Vec<u8>>)>,
    options: &PullOptions,
    stats: &Stats,
    interrupt: &AtomicBool,
) -> Result<Vec<(Checksum, Checksum, Checksum)>> {
    let repo = tx.repo();
    let mut out = Vec::new();
    let mut next = Some((head, options.depth));
    while let Some((commit, remaining)) = next.take() {
        if interrupt.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        let partial = repo.commit_is_partial(&commit);
        // Detached metadata first, as upstream, and again for a commit already stored: it
        // carries the signatures, which may have changed since.
        // A commit a `--localcache-repo` holds comes from there with its detached
        // metadata, checked all the same.
        let cached = if tx.has_object(ObjectType::Commit, &commit)? {
            None
        } else if let Some((data, meta)) = carried.get(&commit) {
            // Carried by a delta's superblock; verified below as if fetched.
            Some((data.clone(), meta.clone()))
        } else {
            let mut found = None;
            for cache in &options.localcache {
                if cache.has_object(ObjectType::Commit, &commit)? {
                    let data = cache.load_metadata(ObjectType::Commit, &commit)?;
                    found = Some((data, cache.load_commitmeta(&commit)?));
                    break;
                }
            }
            found
        };
        let meta = match &cached {
            Some((_, meta)) => meta.clone().map(Bytes::from),
            None => {
                let meta = fetcher
                    .get(&object_path(ObjectType::CommitMeta, &commit))
                    .await?;
                // Asked for and answered, found or not: upstream counts it as fetched.
                stats.metadata.fetch_add(1, Ordering::Relaxed);
                progress.event(Event::ObjectsQueued(1));
                progress.event(Event::ObjectFetched {
                    bytes: meta.as_ref().map_or(0, |m| m.len() as u64),
                    metadata: true,
                });
                meta
            }
        };
        let verifying = options.gpg_keyring.is_some() || options.sign_verifier.is_some();
        let detached = match meta {
            Some(meta) => match Metadata::from_bytes(&meta) {
                Ok(parsed) => Some((meta, parsed)),
                Err(e) if verifying => {
                    return Err(corrupt(ObjectType::CommitMeta, commit, e.to_string()));
                }
                // Nothing needs it: unreadable detached metadata is left behind, where
                // upstream would store it as it came.
                Err(_) => None,
            },
            None => None,
        };
        let empty = Metadata::new();
        let signed = detached.as_ref().map_or(&empty, |(_, parsed)| parsed);
        let data = if tx.has_object(ObjectType::Commit, &commit)? {
            let data = tx.load_metadata(ObjectType::Commit, &commit)?;
            // A commit already here is checked again, as upstream does: the keys trusted
            // now (another remote's, say) must have signed it.
            verify_signatures(&data, commit, signed, options)?;
            if let Some((meta, _)) = &detached {
                tx.write_metadata_as(ObjectType::CommitMeta, &commit, meta)?;
            }
            data
        } else {
            let from_cache = cached.is_some();
            let data = match cached {
                Some((data, _)) => Some(Bytes::from(data)),
                None => {
                    object_fetcher
                        .get(&object_path(ObjectType::Commit, &commit))
                        .await?
                }
            };
            let Some(data) = data else {
                if commit == head {
                    return Err(Error::MissingObject {
                        objtype: ObjectType::Commit,
                        checksum: commit,
                    });
                }
                // History the remote does not have ends the walk.
                break;
            };
            check_hash(ObjectType::Commit, &commit, &data)?;
            CommitRef::parse(&data)
                .map_err(|e| corrupt(ObjectType::Commit, commit, e.to_string()))?;
            verify_signatures(&data, commit, signed, options)?;
            if !carried.contains_key(&commit) {
                stats.count(false, from_cache);
            }
            progress.event(Event::ObjectsQueued(1));
            progress.event(Event::ObjectFetched {
                bytes: data.len() as u64,
                metadata: true,
            });
            if let Some((meta, _)) = &detached {
                tx.write_metadata_as(ObjectType::CommitMeta, &commit, meta)?;
            }
            let data = data.to_vec();
            tx.write_metadata_as(ObjectType::Commit, &commit, &data)?;
            data
        };
        let view = CommitRef::parse(&data)
            .map_err(|e| corrupt(ObjectType::Commit, commit, e.to_string()))?;
        if commit == head
            && let Some(floor) = floor
        {
            let old = tx.load_metadata(ObjectType::Commit, &floor)?;
            let old = CommitRef::parse(&old)
                .map_err(|e| corrupt(ObjectType::Commit, floor, e.to_string()))?;
            if view.timestamp() < old.timestamp() {
                return Err(Error::Downgrade {
                    new: commit,
                    new_time: format_ctime(view.timestamp()),
                    old: floor,
                    old_time: format_ctime(old.timestamp()),
                });
            }
        }
        // The ref binding is checked on the commit the ref names; a remote's collection
        // binds every commit of its history.
        let bound_ref = ref_name.filter(|_| commit == head);
        if options.verify_bindings && (bound_ref.is_some() || collection_id.is_some()) {
            verify_bindings(&view.metadata(), collection_id, bound_ref).map_err(|e| {
                Error::Binding {
                    checksum: commit,
                    reason: e.to_string(),
                }
            })?;
        }
        // A commit stored complete before needs nothing more.
        let complete = repo.has_object(ObjectType::Commit, &commit)? && !partial;
        if !complete {
            out.push((commit, view.root_tree(), view.root_meta()));
        }
        if let Some(parent) = view.parent() {
            next = match remaining {
                Some(0) => None,
                Some(n) => Some((parent, Some(n - 1))),
                None => Some((parent, None)),
            };
        }
    }
    Ok(out)
}

/// Builds a delta's objects in `tx`: each part not already complete here, from the
/// superblock when inline, else fetched and checked against its checksum. Counts the parts
/// in `parts` (those complete here too, as upstream counts them).
fn apply_delta(
    runtime: &tokio::runtime::Runtime,
    fetcher: &Fetcher,
    tx: &Transaction<'_>,
    delta: &crate::deltas::Fetched,
    interrupt: &AtomicBool,
    parts: &mut u64,
) -> Result<()> {
    use rostree_delta::apply;
    for (i, part) in delta.superblock.parts.iter().enumerate() {
        if interrupt.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        apply::check_version(part)?;
        *parts += 1;
        if apply::have_all_objects(tx.repo(), &part.objects)? {
            continue;
        }
        let path = delta.name.part_path(i as u32);
        let payload = match delta.superblock.inline_part(&path) {
            // Covered by the superblock, itself checked by the summary or the commit's
            // signature, as upstream reasons.
            Some(bytes) => apply::open_part(&bytes, None, part.uncompressed_size)?,
            None => {
                let data = runtime
                    .block_on(fetcher.get(&path))?
                    .ok_or_else(|| Error::Invalid {
                        what: format!("static delta {}", delta.name),
                        reason: format!("part {path} is missing"),
                    })?;
                if data.len() as u64 != part.compressed_size {
                    return Err(Error::Invalid {
                        what: format!("static delta part {path}"),
                        reason: format!(
                            "{} bytes where its superblock says {}",
                            data.len(),
                            part.compressed_size
                        ),
                    });
                }
                apply::open_part(&data, Some(&part.checksum), part.uncompressed_size)?
            }
        };
        apply::execute_part(tx, &part.objects, &payload)?;
    }
    Ok(())
}

/// Checks a commit's signatures (in `signed`, its detached metadata) against the keys the
/// pull trusts: GPG and signapi, each when asked for.
fn verify_signatures(
    data: &[u8],
    commit: Checksum,
    signed: &Metadata,
    options: &PullOptions,
) -> Result<()> {
    if let Some(keyring) = &options.gpg_keyring {
        rostree_sign::gpg::signatures(signed)
            .and_then(|sigs| keyring.verify(data, &sigs))
            .map_err(|e| Error::GpgSignature {
                checksum: commit,
                reason: e.to_string(),
            })?;
    }
    if let Some(verifiers) = &options.sign_verifier {
        let known = verifiers
            .iter()
            .any(|v| signed.get(v.sign_type().metadata_key()).is_some());
        if !known {
            return Err(Error::Unsigned { checksum: commit });
        }
        rostree_sign::signapi::verify_any(verifiers, data, signed).map_err(|e| {
            Error::Signature {
                checksum: commit,
                reason: e.to_string(),
            }
        })?;
    }
    Ok(())
}

/// A metadata object, from the repository or fetched, checked and stored.
async fn ensure_metadata(
    fetcher: &Fetcher,
    tx: &Transaction<'_>,
    objtype: ObjectType,
    checksum: Checksum,
    stats: &Stats,
) -> Result<Vec<u8>> {
    if tx.has_object(objtype, &checksum)? {
        return Ok(tx.load_metadata(objtype, &checksum)?);
    }
    let data = fetcher
        .get(&object_path(objtype, &checksum))
        .await?
        .ok_or(Error::MissingObject { objtype, checksum })?;
    check_hash(objtype, &checksum, &data)?;
    let valid = match objtype {
        ObjectType::DirTree => DirTreeRef::parse(&data).map(|_| ()),
        _ => DirMeta::from_bytes(&data).map(|_| ()),
    };
    valid.map_err(|e| invalid_object(objtype, checksum, &e))?;
    tx.write_metadata_as(objtype, &checksum, &data)?;
    stats.metadata.fetch_add(1, Ordering::Relaxed);
    Ok(data.to_vec())
}

/// For `--subpath`: fetches the directories down to `subpath`, and returns what is missing
/// of what lies there (a whole subtree, or one file). A path the tree lacks yields nothing
/// more, as upstream.
async fn walk_subpath(
    fetcher: &Fetcher,
    tx: &Transaction<'_>,
    tree: Checksum,
    meta: Checksum,
    subpath: &str,
    stats: &Stats,
) -> Result<Vec<Item>> {
    ensure_metadata(fetcher, tx, ObjectType::DirMeta, meta, stats).await?;
    let components: Vec<&str> = subpath.split('/').filter(|c| !c.is_empty()).collect();
    let mut current = tree;
    for (i, name) in components.iter().enumerate() {
        let data = ensure_metadata(fetcher, tx, ObjectType::DirTree, current, stats).await?;
        let view = DirTreeRef::parse(&data)
            .map_err(|e| invalid_object(ObjectType::DirTree, current, &e))?;
        if let Some(file) = view.files.iter().find(|f| f.name == *name) {
            let missing =
                i + 1 == components.len() && !tx.has_object(ObjectType::File, &file.checksum)?;
            return Ok(missing
                .then_some(Item::File(file.checksum))
                .into_iter()
                .collect());
        }
        let Some(dir) = view.dirs.iter().find(|d| d.name == *name) else {
            return Ok(Vec::new());
        };
        ensure_metadata(fetcher, tx, ObjectType::DirMeta, dir.meta, stats).await?;
        current = dir.tree;
    }
    let depth = components.len();
    if tx.has_object(ObjectType::DirTree, &current)? {
        let data = tx.load_metadata(ObjectType::DirTree, &current)?;
        missing_children(tx, &data, current, depth)
    } else {
        Ok(vec![Item::DirTree(current, depth)])
    }
}

/// What a stored object leads to: the objects it names that the repository lacks. A dirtree
/// the repository has already is walked locally, since part of it may be missing. Trees
/// nested deeper than `MAX_TREE_DEPTH` are refused (upstream refuses them too).
fn missing_children(
    tx: &Transaction<'_>,
    tree_data: &[u8],
    tree: Checksum,
    depth: usize,
) -> Result<Vec<Item>> {
    let mut out = Vec::new();
    let mut pending = vec![(tree, tree_data.to_vec(), depth)];
    while let Some((tree, data, depth)) = pending.pop() {
        let view =
            DirTreeRef::parse(&data).map_err(|e| invalid_object(ObjectType::DirTree, tree, &e))?;
        for f in &view.files {
            if !tx.has_object(ObjectType::File, &f.checksum)? {
                out.push(Item::File(f.checksum));
            }
        }
        if !view.dirs.is_empty() && depth >= MAX_TREE_DEPTH {
            return Err(corrupt(
                ObjectType::DirTree,
                tree,
                format!(
                    "Exceeded maximum recursion: directories nested deeper than {MAX_TREE_DEPTH} levels"
                ),
            ));
        }
        for d in &view.dirs {
            if !tx.has_object(ObjectType::DirMeta, &d.meta)? {
                out.push(Item::DirMeta(d.meta));
            }
            if tx.has_object(ObjectType::DirTree, &d.tree)? {
                pending.push((
                    d.tree,
                    tx.load_metadata(ObjectType::DirTree, &d.tree)?,
                    depth + 1,
                ));
            } else {
                out.push(Item::DirTree(d.tree, depth + 1));
            }
        }
    }
    Ok(out)
}

/// Checks and stores one fetched object; returns what it leads to.
fn store(tx: &Transaction<'_>, item: Item, body: Body, options: &PullOptions) -> Result<Vec<Item>> {
    let (objtype, checksum) = item.name();
    let io = |e: std::io::Error| Error::Io {
        path: object_path(objtype, &checksum),
        source: e,
    };
    let (data, mut file) = match body {
        Body::Memory(data, held) => (Some((data, held)), None),
        Body::File(file, _) => (None, Some(file)),
    };
    match item {
        Item::File(c)
            if options.trusted_http
                && options.mirror
                && tx.repo().mode().is_archive()
                && !options.bareuseronly_files =>
        {
            // A mirror trusting its source copies archive objects as they came, as
            // upstream does: fsck is what checks them.
            match (&data, &mut file) {
                (Some((data, _)), _) => tx.write_filez_trusted(&c, &mut &data[..])?,
                (None, Some(file)) => tx.write_filez_trusted(&c, file)?,
                (None, None) => false,
            };
            Ok(Vec::new())
        }
        Item::File(c) => match (data, file) {
            (Some((data, _held)), _) => {
                let (archive, _) = rostree_core::object::parse_archive_header(&data)
                    .map_err(|e| corrupt(objtype, checksum, e.to_string()))?;
                if archive.size <= rostree_repo::content::INFLATE_AT_ONCE {
                    let (header, payload) = rostree_repo::decode_filez(&data)
                        .map_err(|e| corrupt(objtype, checksum, e))?;
                    store_content(tx, c, &header, &payload, options)?;
                } else {
                    store_filez_stream(tx, c, &data[..], options)?;
                }
                Ok(Vec::new())
            }
            (None, Some(file)) => {
                store_filez_stream(
                    tx,
                    c,
                    std::io::BufReader::with_capacity(128 << 10, file),
                    options,
                )?;
                Ok(Vec::new())
            }
            (None, None) => Ok(Vec::new()),
        },
        item => {
            // Metadata is parsed whole; it is bounded by the metadata size limit.
            let data = match (data, file) {
                (Some((data, _)), _) => data.to_vec(),
                (None, Some(mut file)) => {
                    let mut data = Vec::new();
                    std::io::Read::read_to_end(&mut file, &mut data).map_err(io)?;
                    data
                }
                (None, None) => Vec::new(),
            };
            store_metadata(tx, item, &data)
        }
    }
}

/// Checks and stores a fetched metadata object; returns what it leads to.
fn store_metadata(tx: &Transaction<'_>, item: Item, data: &[u8]) -> Result<Vec<Item>> {
    let (objtype, _) = item.name();
    match item {
        Item::DirMeta(c) => {
            check_hash(objtype, &c, data)?;
            DirMeta::from_bytes(data).map_err(|e| corrupt(objtype, c, e.to_string()))?;
            tx.write_metadata_as(objtype, &c, data)?;
            Ok(Vec::new())
        }
        Item::DirTree(c, depth) => {
            check_hash(objtype, &c, data)?;
            let children = missing_children(tx, data, c, depth)?;
            tx.write_metadata_as(objtype, &c, data)?;
            Ok(children)
        }
        Item::File(_) => Ok(Vec::new()),
    }
}

/// Stores a `.filez` object read from `object`, inflated, hashed and checked on the way
/// into its staging file: a large object never sits whole in memory.
fn store_filez_stream(
    tx: &Transaction<'_>,
    c: Checksum,
    object: impl std::io::BufRead,
    options: &PullOptions,
) -> Result<()> {
    let bad = |e: std::io::Error| corrupt(ObjectType::File, c, e.to_string());
    let (archive, mut payload) = rostree_repo::content::open_archive(object).map_err(bad)?;
    if options.bareuseronly_files {
        rostree_repo::transaction::validate_bareuseronly_mode(&c, &archive.header)?;
    }
    match tx.write_content_as(&c, &archive.header, Source::Untrusted(&mut payload)) {
        Err(rostree_repo::Error::Io { source, .. })
            if source.kind() == std::io::ErrorKind::InvalidData =>
        {
            Err(bad(source))
        }
        other => other.map(|_| ()).map_err(Error::from),
    }
}

/// Checks and stores a content object's header and payload.
fn store_content(
    tx: &Transaction<'_>,
    c: Checksum,
    header: &FileHeader,
    payload: &[u8],
    options: &PullOptions,
) -> Result<()> {
    check_content(c, header, payload, options)?;
    tx.write_content_as(&c, header, Source::Bytes(payload))?;
    Ok(())
}

/// Checks a content object's header and payload against its checksum and the options.
fn check_content(
    c: Checksum,
    header: &FileHeader,
    payload: &[u8],
    options: &PullOptions,
) -> Result<()> {
    let actual = content_checksum(header, payload);
    if actual != c {
        return Err(Error::ChecksumMismatch {
            objtype: ObjectType::File,
            expected: c,
            actual,
        });
    }
    if options.bareuseronly_files {
        rostree_repo::transaction::validate_bareuseronly_mode(&c, header)?;
    }
    Ok(())
}

/// Stores an object from a local cache repository (`--localcache-repo`), checked as if it
/// had been fetched; returns what it leads to and its size.
fn import_cached(
    tx: &Transaction<'_>,
    item: Item,
    options: &PullOptions,
) -> Result<(Vec<Item>, u64)> {
    let (objtype, checksum) = item.name();
    for cache in &options.localcache {
        if !cache.has_object(objtype, &checksum)? {
            continue;
        }
        if let Item::File(c) = item {
            let bad = |e: std::io::Error| corrupt(objtype, c, e.to_string());
            let (header, mut payload) = cache.open_content(&c)?;
            let size = payload.size().map_err(bad)?;
            if options.bareuseronly_files {
                rostree_repo::transaction::validate_bareuseronly_mode(&c, &header)?;
            }
            let actual =
                rostree_repo::content::checksum_stream(&header, &mut payload).map_err(bad)?;
            if actual != c {
                return Err(Error::ChecksumMismatch {
                    objtype: ObjectType::File,
                    expected: c,
                    actual,
                });
            }
            // Checked, it is shared as upstream imports it: linked when the repositories
            // store objects alike, else written anew.
            if !tx.link_object_from(cache, objtype, &c)? {
                let (header, mut payload) = cache.open_content(&c)?;
                tx.write_content_as(&c, &header, Source::Untrusted(&mut payload))?;
            }
            return Ok((Vec::new(), size));
        }
        let data = cache.load_metadata(objtype, &checksum)?;
        let children = store_metadata(tx, item, &data)?;
        return Ok((children, data.len() as u64));
    }
    Err(Error::MissingObject { objtype, checksum })
}

/// What fetched bodies may hold in memory together, all requests in flight counted.
const BODY_MEMORY: u64 = 16 << 20;

/// A stored object's result, sent from the storing threads to the fetching loop.
type Stored = Result<Vec<Item>>;

/// Fetches the trees below `roots` and what they lead to, storing on `threads` threads.
#[allow(clippy::too_many_arguments)]
fn fetch_objects(
    runtime: &tokio::runtime::Runtime,
    object_fetcher: &Arc<Fetcher>,
    tx: &Transaction<'_>,
    roots: Vec<Item>,
    progress: &dyn Progress,
    options: &PullOptions,
    stats: &Stats,
    interrupt: &AtomicBool,
) -> Result<()> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    // `None`: the object is in a local cache repository.
    // Bodies wait in memory up to the budget, and in unnamed files of `tmp/` past it.
    let spill = Spill {
        dir: Arc::new(tx.repo().dir().open_dir("tmp").map_err(|e| Error::Io {
            path: tx.repo().path().join("tmp").display().to_string(),
            source: e,
        })?),
        budget: MemoryBudget::new(BODY_MEMORY),
    };
    let (work_tx, work_rx) = mpsc::channel::<(Item, Option<Body>)>();
    let work_rx = Mutex::new(work_rx);
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<Stored>();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let done_tx = done_tx.clone();
            let work_rx = &work_rx;
            scope.spawn(move || {
                loop {
                    let next = match work_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok((item, data)) = next else { return };
                    let is_file = matches!(item, Item::File(_));
                    let stored = match data {
                        Some(body) => {
                            let len = body.len();
                            store(tx, item, body, options).map(|children| {
                                stats.count(is_file, false);
                                (children, len)
                            })
                        }
                        None => import_cached(tx, item, options).inspect(|_| {
                            stats.count(is_file, true);
                        }),
                    };
                    let result = stored.map(|(children, bytes)| {
                        progress.event(Event::ObjectFetched {
                            bytes,
                            metadata: !matches!(item, Item::File(_)),
                        });
                        children
                    });
                    if done_tx.send(result).is_err() {
                        return;
                    }
                }
            });
        }
        let result = runtime.block_on(drive(
            object_fetcher,
            &spill,
            roots,
            work_tx,
            done_tx,
            &mut done_rx,
            progress,
            options,
            interrupt,
        ));
        // The work channel closed with the driver: the storing threads end.
        result
    })
}

/// How many objects may be fetched or stored at once. Adaptive: starting at 16, each round
/// (as many completions as the limit) measures the rate; a round faster than the one before
/// raises the limit by half, a clearly slower one lowers it by a quarter. On a short link
/// the rate stops growing early (the CPU is the limit); on a long round trip it keeps
/// growing with the limit, up to 256, where upstream stays at 8.
struct Limit {
    current: usize,
    adaptive: bool,
    round_start: std::time::Instant,
    done_in_round: usize,
    last_rate: f64,
}

impl Limit {
    const START: usize = 16;
    const MIN: usize = 8;
    const MAX: usize = 256;

    fn new(fixed: Option<usize>) -> Limit {
        Limit {
            current: fixed.unwrap_or(Self::START).max(1),
            adaptive: fixed.is_none(),
            round_start: std::time::Instant::now(),
            done_in_round: 0,
            last_rate: 0.0,
        }
    }

    fn completed(&mut self) {
        if !self.adaptive {
            return;
        }
        self.done_in_round += 1;
        if self.done_in_round < self.current {
            return;
        }
        let elapsed = self.round_start.elapsed().as_secs_f64().max(1e-6);
        let rate = self.done_in_round as f64 / elapsed;
        if rate > self.last_rate * 1.1 {
            self.current = (self.current + self.current / 2).min(Self::MAX);
        } else if rate < self.last_rate * 0.7 {
            self.current = (self.current - self.current / 4).max(Self::MIN);
        }
        self.last_rate = rate;
        self.done_in_round = 0;
        self.round_start = std::time::Instant::now();
    }
}

/// Keeps up to `options.concurrency` objects fetching or storing, queueing what each stored
/// object leads to, until none is left.
#[allow(clippy::too_many_arguments)]
async fn drive(
    object_fetcher: &Arc<Fetcher>,
    spill: &Spill,
    roots: Vec<Item>,
    work_tx: mpsc::Sender<(Item, Option<Body>)>,
    done_tx: tokio::sync::mpsc::UnboundedSender<Stored>,
    done_rx: &mut tokio::sync::mpsc::UnboundedReceiver<Stored>,
    progress: &dyn Progress,
    options: &PullOptions,
    interrupt: &AtomicBool,
) -> Result<()> {
    // By object: a tree met at two depths (an empty directory, say) is fetched once.
    let mut seen: HashSet<(ObjectType, Checksum)> = HashSet::new();
    let mut pending: VecDeque<Item> = VecDeque::new();
    for item in roots {
        if seen.insert(item.name()) {
            pending.push_back(item);
        }
    }
    progress.event(Event::ObjectsQueued(pending.len() as u64));
    let mut in_flight = 0usize;
    let mut limit = Limit::new(options.concurrency);
    let mut tasks = tokio::task::JoinSet::new();
    // The pull fails with the first error. A bad or missing object does not stop the
    // others, so that a second pull has only it left to fetch; any other failure (the
    // server gone, an interrupt) stops new requests, and what is in flight still lands.
    let mut failure: Option<Error> = None;
    let mut stop = false;
    loop {
        if !stop && interrupt.load(Ordering::Relaxed) {
            failure.get_or_insert(Error::Cancelled);
            stop = true;
        }
        while !stop
            && in_flight < limit.current
            && let Some(item) = pending.pop_front()
        {
            in_flight += 1;
            let (objtype, checksum) = item.name();
            let mut cached = false;
            for cache in &options.localcache {
                cached |= cache.has_object(objtype, &checksum)?;
            }
            if cached {
                if work_tx.send((item, None)).is_err() {
                    return Err(Error::Cancelled);
                }
                continue;
            }
            // Every object comes from `contenturl` when there is one; only the summary,
            // refs and signatures come from `url`, as upstream splits them.
            let fetcher = Arc::clone(object_fetcher);
            let spill = spill.clone();
            let work_tx = work_tx.clone();
            let done_tx = done_tx.clone();
            tasks.spawn(async move {
                let (objtype, checksum) = item.name();
                let outcome = match fetcher
                    .get_object(&object_path(objtype, &checksum), &spill)
                    .await
                {
                    Ok(Some(data)) => {
                        // Stored by the thread pool, which reports back on `done_tx`.
                        if work_tx.send((item, Some(data))).is_ok() {
                            return;
                        }
                        Err(Error::Cancelled)
                    }
                    Ok(None) => Err(Error::MissingObject { objtype, checksum }),
                    Err(e) => Err(e),
                };
                let _ = done_tx.send(outcome);
            });
        }
        if in_flight == 0 {
            return failure.map_or(Ok(()), Err);
        }
        let Some(result) = done_rx.recv().await else {
            return Err(failure.unwrap_or(Error::Cancelled));
        };
        in_flight -= 1;
        limit.completed();
        // Finished fetch tasks are reaped as we go so the set stays small.
        while tasks.try_join_next().is_some() {}
        match result {
            Ok(children) => {
                let before = pending.len();
                for child in children {
                    if seen.insert(child.name()) {
                        pending.push_back(child);
                    }
                }
                if pending.len() > before {
                    progress.event(Event::ObjectsQueued((pending.len() - before) as u64));
                }
            }
            Err(e) => {
                stop |= !matches!(
                    e,
                    Error::Corrupt { .. }
                        | Error::ChecksumMismatch { .. }
                        | Error::MissingObject { .. }
                );
                failure.get_or_insert(e);
            }
        }
    }
}
