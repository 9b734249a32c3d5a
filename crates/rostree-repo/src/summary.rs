//! Writing the `summary` file: the refs with their commits, and repository metadata, for
//! clients that pull over HTTP.

use std::collections::BTreeMap;
use std::path::Path;

use rostree_core::ghash::{HashOrder, str_hash};
use rostree_core::gvariant::Value;
use rostree_core::object::{Metadata, Summary, SummaryRef};
use rostree_core::{Checksum, ObjectType};

use crate::error::{Error, IoContext, Result};
use crate::repo::{RefKind, Repo, write_atomic};

/// Builds the summary of the local refs. `additional` is the user's extra metadata
/// (`summary --add-metadata`); `now` is the last-modified time in seconds.
pub fn build_summary(repo: &Repo, additional: &Metadata, now: u64) -> Result<Summary> {
    // With a collection ID of its own, the repository lists its collection's refs (its
    // heads among them) as the refs, and the other collections' in the collection map;
    // without one, its heads, and every collection's refs in the map.
    let own_id = repo.collection_id();
    let mut refs = Vec::new();
    if own_id.is_none() {
        for (name, commit) in repo.list_refs(&RefKind::Local)? {
            refs.push((name, summary_entry(repo, &commit)?));
        }
    }
    let mut map: BTreeMap<String, BTreeMap<String, Checksum>> = BTreeMap::new();
    for r in crate::collections::list_collection_refs(repo)? {
        // A name met twice in one collection keeps its first commit.
        map.entry(r.collection_id)
            .or_default()
            .entry(r.name)
            .or_insert(r.commit);
    }
    let mut collection_map = Vec::new();
    for (id, names) in map {
        let mut entries = Vec::new();
        for (name, commit) in names {
            entries.push((name, summary_entry(repo, &commit)?));
        }
        if own_id.as_deref() == Some(id.as_str()) {
            refs.extend(entries);
        } else if !entries.is_empty() {
            collection_map.push((id, entries));
        }
    }
    // Upstream fills a GVariantDict seeded with the user's keys, so the stored order is GLib
    // hash-table order and a user key cannot duplicate one of these.
    let tombstones = repo.core_flag("tombstone-commits", false)?;
    let mut dict = HashOrder::new();
    let entries = additional.0.iter().cloned().chain([
        (
            "ostree.summary.last-modified".to_owned(),
            Value::Uint64(now.to_be()),
        ),
        (
            "ostree.summary.mode".to_owned(),
            Value::String(repo.mode().as_str().to_owned()),
        ),
        (
            "ostree.summary.tombstone-commits".to_owned(),
            Value::Bool(tombstones),
        ),
        (
            "ostree.summary.indexed-deltas".to_owned(),
            Value::Bool(true),
        ),
    ]);
    let collection_keys = own_id
        .map(|id| ("ostree.summary.collection-id".to_owned(), Value::String(id)))
        .into_iter()
        .chain((!collection_map.is_empty()).then(|| {
            (
                rostree_core::object::COLLECTION_MAP.to_owned(),
                rostree_core::object::collection_map_value(&collection_map),
            )
        }));
    // Listed unless `core.no-deltas-in-summary` keeps them to the indexes.
    let no_deltas = repo.core_flag("no-deltas-in-summary", false)?;
    let deltas = if no_deltas {
        Vec::new()
    } else {
        crate::deltas::list_static_deltas(repo)?
    };
    let delta_key = if deltas.is_empty() {
        None
    } else {
        Some((
            crate::deltas::STATIC_DELTAS_KEY.to_owned(),
            crate::deltas::deltas_dict(repo, &deltas)?,
        ))
    };
    let entries = entries.chain(collection_keys).chain(delta_key);
    for (key, value) in entries {
        let hash = str_hash(key.as_bytes());
        dict.insert(key, value, hash);
    }
    Ok(Summary {
        refs,
        metadata: Metadata(dict.into_entries()),
    })
}

/// A ref's summary entry: its commit's size, and its version and timestamp.
fn summary_entry(repo: &Repo, commit: &Checksum) -> Result<SummaryRef> {
    // Not hash-checked, as upstream: the summary describes the repository as it is.
    let data = repo.load_metadata_trusted(ObjectType::Commit, commit)?;
    let view = crate::repo::parse_commit(&data, commit)?;
    let mut metadata = Metadata::new();
    if let Some(version) = view.metadata().get_str("version") {
        metadata.push("ostree.commit.version", Value::String(version.to_owned()));
    }
    metadata.push(
        "ostree.commit.timestamp",
        Value::Uint64(view.timestamp().to_be()),
    );
    Ok(SummaryRef {
        commit_size: data.len() as u64,
        checksum: *commit,
        metadata,
    })
}

/// Regenerates `summary` (and drops a `summary.sig` that no longer matches it). The delta
/// indexes are rewritten with it, and `core.indexed-deltas=true` recorded, as upstream does.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::atomic::AtomicBool;
/// use cap_std::{ambient_authority, fs::Dir};
/// use rostree_core::{Checksum, gvariant::Value, object::Metadata};
/// use rostree_repo::commit::{CommitOptions, TreeSource, commit};
/// use rostree_repo::summary::{read_summary, update_summary};
/// use rostree_repo::{InitOptions, Repo, RepoMode, progress::NoProgress};
///
/// let tmp = tempfile::tempdir()?;
/// std::fs::create_dir_all(tmp.path().join("tree/etc"))?;
/// std::fs::write(tmp.path().join("tree/etc/os-release"), "ID=example\n")?;
/// std::fs::create_dir(tmp.path().join("repo"))?;
/// let repo_dir = Dir::open_ambient_dir(tmp.path().join("repo"), ambient_authority())?;
/// let options = InitOptions { mode: RepoMode::Archive, ..Default::default() };
/// let mut repo = Repo::init(repo_dir, tmp.path().join("repo"), &options)?;
/// let tree = Dir::open_ambient_dir(tmp.path().join("tree"), ambient_authority())?;
/// let sources = vec![TreeSource::Dir(tree, tmp.path().join("tree"))];
/// let options = CommitOptions { branch: Some("main".into()), ..Default::default() };
/// let tip = commit(&repo, sources, &NoProgress, &AtomicBool::new(false), &options)?.checksum;
///
/// // `ostree summary -u --add-metadata=title="'Example OS'"`
/// let mut additional = Metadata::new();
/// additional.push("title", Value::String("Example OS".into()));
/// let checksum = update_summary(&mut repo, &additional)?;
/// let Some((bytes, summary)) = read_summary(&repo)? else {
///     return Err("no summary written".into());
/// };
/// assert_eq!(Checksum::digest(&bytes), checksum);
/// assert_eq!(summary.refs.len(), 1);
/// assert_eq!((summary.refs[0].0.as_str(), summary.refs[0].1.checksum), ("main", tip));
/// assert_eq!(summary.metadata.get_str("title"), Some("Example OS"));
/// # Ok(()) }
/// ```
pub fn update_summary(repo: &mut Repo, additional: &Metadata) -> Result<Checksum> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let summary = build_summary(repo, additional, now)?;
    crate::deltas::reindex(repo, None)?;
    write_summary(repo, &summary)
}

/// Regenerates the summary after refs changed, when the repository asks for it
/// (`core.auto-update-summary`, or its older name `core.commit-update-summary`).
pub fn maybe_regenerate(repo: &Repo) -> Result<()> {
    if repo.core_flag("auto-update-summary", false)?
        || repo.core_flag("commit-update-summary", false)?
    {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let summary = build_summary(repo, &Metadata::new(), now)?;
        write_summary(repo, &summary)?;
    }
    Ok(())
}

/// Writes `summary` (atomically) and drops the `summary.sig` that signed the old one.
fn write_summary(repo: &Repo, summary: &Summary) -> Result<Checksum> {
    let bytes = summary.to_bytes();
    let _lock = repo.lock_shared()?;
    write_summary_files(repo, &bytes, None)?;
    Ok(Checksum::digest(&bytes))
}

/// Replaces `summary` and its signatures in the order that keeps them matching: the old
/// `summary.sig` goes first (it signs the old summary), the new `summary` replaces the old
/// one atomically, then `signature`, if any, lands atomically. A reader, or a crash at any
/// moment, sees a summary with its own signatures or with none, never another's.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use rostree_core::object::Metadata;
/// use rostree_repo::summary::{build_summary, write_summary_files, write_summary_signature};
/// use rostree_repo::{InitOptions, Repo};
///
/// let tmp = tempfile::tempdir()?;
/// let dir = cap_std::fs::Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority())?;
/// let repo = Repo::init(dir, tmp.path(), &InitOptions::default())?;
/// // A signature file from before, over some older summary.
/// write_summary_signature(&repo, &Metadata::new().to_bytes())?;
///
/// let summary = build_summary(&repo, &Metadata::new(), 1_700_000_000)?;
/// write_summary_files(&repo, &summary.to_bytes(), None)?;
/// assert_eq!(std::fs::read(tmp.path().join("summary"))?, summary.to_bytes());
/// // The old signatures went: they did not sign this summary.
/// assert!(!tmp.path().join("summary.sig").exists());
/// # Ok(()) }
/// ```
pub fn write_summary_files(repo: &Repo, summary: &[u8], signature: Option<&[u8]>) -> Result<()> {
    match repo.dir().remove_file("summary.sig") {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).ctx("removing", repo.path().join("summary.sig")),
    }
    write_atomic(
        repo.dir(),
        Path::new("summary"),
        summary,
        0o644,
        repo.fsync_enabled(),
    )
    .ctx("writing", repo.path().join("summary"))?;
    if let Some(signature) = signature {
        write_summary_signature(repo, signature)?;
    }
    Ok(())
}

/// Replaces `summary.sig` atomically, with signatures over the `summary` there now.
pub fn write_summary_signature(repo: &Repo, signature: &[u8]) -> Result<()> {
    write_atomic(
        repo.dir(),
        Path::new("summary.sig"),
        signature,
        0o644,
        repo.fsync_enabled(),
    )
    .ctx("writing", repo.path().join("summary.sig"))
}

/// Reads the local `summary` file, if there is one (the example of [`update_summary`]
/// reads back what it wrote).
pub fn read_summary(repo: &Repo) -> Result<Option<(Vec<u8>, Summary)>> {
    let bytes = match repo.dir().read("summary") {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).ctx("reading", repo.path().join("summary")),
    };
    let summary = Summary::from_bytes(&bytes).map_err(|source| Error::InvalidSummary {
        path: repo.path().join("summary"),
        source,
    })?;
    Ok(Some((bytes, summary)))
}

/// The ref a repository with a collection ID keeps its metadata history on, one commit per
/// summary update (upstream's `OSTREE_REPO_METADATA_REF`).
pub const METADATA_REF: &str = "ostree-metadata";

/// For a repository with a collection ID, commits `additional` as the next commit of
/// [`METADATA_REF`], as upstream's `summary -u` does: an empty tree (a root owned by 0:0,
/// mode 0755), the metadata bound to that ref and collection, made at `timestamp`. Returns
/// the commit, or `None` for a repository without a collection ID.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use rostree_core::{gvariant::Value, object::Metadata};
/// use rostree_repo::summary::{METADATA_REF, write_metadata_commit};
/// use rostree_repo::{InitOptions, Repo};
///
/// let tmp = tempfile::tempdir()?;
/// let dir = cap_std::fs::Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority())?;
/// let init = InitOptions { collection_id: Some("org.example.Os".into()), ..Default::default() };
/// let repo = Repo::init(dir, tmp.path(), &init)?;
///
/// let mut additional = Metadata::new();
/// additional.push("title", Value::String("Example OS".into()));
/// let Some(commit) = write_metadata_commit(&repo, &additional, 1_700_000_000, &[])? else {
///     return Err("the repository has a collection ID".into());
/// };
/// assert_eq!(repo.resolve_rev(METADATA_REF)?, commit);
/// assert_eq!(repo.load_commit(&commit)?.metadata.get_str("title"), Some("Example OS"));
/// # Ok(()) }
/// ```
pub fn write_metadata_commit(
    repo: &Repo,
    additional: &Metadata,
    timestamp: u64,
    signers: &[std::sync::Arc<dyn crate::commit::CommitSigner>],
) -> Result<Option<Checksum>> {
    let Some(collection_id) = repo.collection_id() else {
        return Ok(None);
    };
    let parent = repo.resolve_rev_optional(METADATA_REF)?;
    // A GVariantDict seeded with the user's keys, the bindings inserted after: GLib hash
    // order, the bindings replacing any user key of the same name.
    let mut dict = HashOrder::new();
    let bindings = [
        (
            "ostree.collection-binding".to_owned(),
            Value::String(collection_id.clone()),
        ),
        (
            "ostree.ref-binding".to_owned(),
            Value::Array(
                rostree_core::gvariant::Type::String,
                vec![Value::String(METADATA_REF.to_owned())],
            ),
        ),
    ];
    for (key, value) in additional.0.iter().cloned().chain(bindings) {
        let hash = str_hash(key.as_bytes());
        dict.insert(key, value, hash);
    }
    let tx = crate::Transaction::begin(repo)?;
    let root_meta = tx.write_metadata(
        ObjectType::DirMeta,
        &rostree_core::object::DirMeta {
            uid: 0,
            gid: 0,
            mode: 0o40755,
            xattrs: Default::default(),
        }
        .to_bytes(),
    )?;
    let root_tree = tx.write_metadata(
        ObjectType::DirTree,
        &rostree_core::object::DirTree::default().to_bytes(),
    )?;
    let commit = rostree_core::object::Commit {
        metadata: Metadata(dict.into_entries()),
        parent,
        related: Vec::new(),
        subject: String::new(),
        body: String::new(),
        timestamp,
        root_tree,
        root_meta,
    };
    let bytes = commit.to_bytes();
    let checksum = tx.write_metadata(ObjectType::Commit, &bytes)?;
    // Signed before the ref moves: the ref never names an unsigned commit.
    if !signers.is_empty() {
        let mut detached = Metadata::new();
        for signer in signers {
            signer.sign(&bytes, &mut detached).map_err(Error::Signing)?;
        }
        tx.write_metadata_as(ObjectType::CommitMeta, &checksum, &detached.to_bytes())?;
    }
    tx.commit_with_refs(&[(RefKind::Local, METADATA_REF.to_owned(), checksum)])?;
    Ok(Some(checksum))
}
