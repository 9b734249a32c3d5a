//! Writing the `summary` file: the refs with their commits, and repository metadata, for
//! clients that pull over HTTP.

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
    let mut refs = Vec::new();
    for (name, commit) in repo.list_refs(&RefKind::Local)? {
        // Not hash-checked, as upstream: the summary describes the repository as it is.
        let data = repo.load_metadata_trusted(ObjectType::Commit, &commit)?;
        let view = crate::repo::parse_commit(&data, &commit)?;
        let mut metadata = Metadata::new();
        if let Some(version) = view.metadata().get_str("version") {
            metadata.push("ostree.commit.version", Value::String(version.to_owned()));
        }
        metadata.push(
            "ostree.commit.timestamp",
            Value::Uint64(view.timestamp().to_be()),
        );
        refs.push((
            name,
            SummaryRef {
                commit_size: data.len() as u64,
                checksum: commit,
                metadata,
            },
        ));
    }
    // Upstream fills a GVariantDict seeded with the user's keys, so the stored order is GLib
    // hash-table order and a user key cannot duplicate one of these.
    let tombstones = repo
        .config()
        .get_bool("core", "tombstone-commits")
        .ok()
        .flatten()
        .unwrap_or(false);
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
    for (key, value) in entries {
        let hash = str_hash(key.as_bytes());
        dict.insert(key, value, hash);
    }
    Ok(Summary {
        refs,
        metadata: Metadata(dict.into_entries()),
    })
}

/// Regenerates `summary` (and drops a `summary.sig` that no longer matches it). Also records
/// `core.indexed-deltas=true`, as upstream does.
pub fn update_summary(repo: &mut Repo, additional: &Metadata) -> Result<Checksum> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let summary = build_summary(repo, additional, now)?;
    if repo
        .config()
        .get_bool("core", "indexed-deltas")
        .ok()
        .flatten()
        != Some(true)
    {
        let mut config = repo.config().clone();
        config
            .set_bool("core", "indexed-deltas", true)
            .map_err(|e| Error::Config(e.to_string()))?;
        repo.write_config(config)?;
    }
    write_summary(repo, &summary)
}

/// Regenerates the summary after refs changed, when the repository asks for it
/// (`core.auto-update-summary`, or its older name `core.commit-update-summary`).
pub fn maybe_regenerate(repo: &Repo) -> Result<()> {
    let enabled = |key: &str| repo.config().get_bool("core", key).ok().flatten() == Some(true);
    if enabled("auto-update-summary") || enabled("commit-update-summary") {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let summary = build_summary(repo, &Metadata::new(), now)?;
        write_summary(repo, &summary)?;
    }
    Ok(())
}

/// Writes `summary` (atomically) and removes the `summary.sig` that signed the old one.
fn write_summary(repo: &Repo, summary: &Summary) -> Result<Checksum> {
    let bytes = summary.to_bytes();
    let _lock = repo.lock_shared()?;
    write_atomic(
        repo.dir(),
        Path::new("summary"),
        &bytes,
        0o644,
        repo.fsync_enabled(),
    )
    .ctx("writing", repo.path().join("summary"))?;
    match repo.dir().remove_file("summary.sig") {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).ctx("removing", repo.path().join("summary.sig")),
    }
    Ok(Checksum::digest(&bytes))
}

/// Reads the local `summary` file, if there is one.
pub fn read_summary(repo: &Repo) -> Result<Option<(Vec<u8>, Summary)>> {
    let bytes = match repo.dir().read("summary") {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).ctx("reading", repo.path().join("summary")),
    };
    let summary = Summary::from_bytes(&bytes)
        .map_err(|e| Error::Config(format!("Invalid summary file: {e}")))?;
    Ok(Some((bytes, summary)))
}
