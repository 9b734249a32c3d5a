//! Choosing and fetching static deltas during a pull, as upstream decides.
//!
//! The remote names its deltas in the summary (`ostree.static-deltas`) or in per-commit
//! indexes (`delta-indexes/`, when the summary says `ostree.summary.indexed-deltas`).
//! Without either, a pull of a ref probes for a delta from the commit the ref has here,
//! and any other pull for a delta from nothing. A delta from a commit the repository holds
//! complete is preferred (the newest such); one from nothing is used only when the ref is
//! new here. Everything a delta leaves out (its fallbacks) is fetched as plain objects.

use std::collections::HashMap;

use rostree_core::object::{CommitRef, Metadata};
use rostree_core::{Checksum, ObjectType};
use rostree_delta::{Superblock, SuperblockFile};
use rostree_repo::Repo;
use rostree_repo::deltas::{DeltaName, STATIC_DELTAS_KEY, index_path};

use crate::error::{Error, Result};
use crate::fetch::Fetcher;

/// The deltas a remote offers, as far as the pull knows them.
#[derive(Debug, Default)]
pub(crate) struct Offered {
    /// Deltas with the sha256 of their superblocks.
    pub known: HashMap<DeltaName, Checksum>,
    /// Whether the summary listed any.
    pub in_summary: bool,
    /// Whether the remote keeps delta indexes.
    pub indexed: bool,
}

impl Offered {
    /// Adds the deltas of an `ostree.static-deltas` dictionary (summary or index).
    pub fn add_dict(&mut self, metadata: &Metadata) -> Result<()> {
        let Some(value) = metadata.get(STATIC_DELTAS_KEY) else {
            return Ok(());
        };
        let deltas = Metadata::from_value(value).ok_or_else(|| Error::Invalid {
            what: "static delta list".into(),
            reason: "not an a{sv}".into(),
        })?;
        for (name, digest) in deltas.0 {
            let name = DeltaName::parse(&name)?;
            let digest = digest
                .as_bytes()
                .and_then(|b| Checksum::from_slice(b).ok())
                .ok_or_else(|| Error::Invalid {
                    what: "static delta list".into(),
                    reason: format!("Invalid checksum variant for {name}"),
                })?;
            self.known.insert(name, digest);
        }
        Ok(())
    }
}

/// How one commit is to be pulled.
pub(crate) enum Plan {
    /// Object by object.
    Objects,
    /// Through this delta.
    Delta(Box<Fetched>),
}

/// A delta's superblock, fetched and checked.
pub(crate) struct Fetched {
    /// Its name.
    pub name: DeltaName,
    /// The superblock.
    pub superblock: Superblock,
}

/// What the caller knows of one pull target.
pub(crate) struct Target<'a> {
    /// The ref pulled, if a ref.
    pub ref_name: Option<&'a str>,
    /// The commit the ref has here now.
    pub local: Option<Checksum>,
    /// The commit wanted.
    pub to: Checksum,
}

/// The checks a superblock must pass.
pub(crate) struct Checks {
    /// `--require-static-deltas`: no delta is an error.
    pub require: bool,
    /// The summary was GPG-verified: a superblock it does not list is refused.
    pub summary_signed: bool,
}

fn complete(repo: &Repo, commit: &Checksum) -> Result<bool> {
    Ok(repo.has_object(ObjectType::Commit, commit)? && !repo.commit_is_partial(commit))
}

fn required_error(from: &str, to: &Checksum) -> Error {
    Error::DeltasRequired {
        from: from.to_owned(),
        to: *to,
    }
}

/// Decides how to pull `target`, fetching the delta index and the superblock it needs.
/// `fetched` counts the metadata files fetched (indexes, superblocks).
pub(crate) async fn plan(
    fetcher: &Fetcher,
    repo: &Repo,
    offered: &mut Offered,
    checks: &Checks,
    target: &Target<'_>,
    fetched: &mut u64,
) -> Result<Plan> {
    if offered.indexed {
        if let Some(data) = fetcher.get(&index_path(&target.to)).await? {
            *fetched += 1;
            let index = Metadata::from_bytes(&data).map_err(|e| Error::Invalid {
                what: "delta index".into(),
                reason: e.detail(),
            })?;
            offered.add_dict(&index)?;
        }
        return from_offered(fetcher, repo, offered, checks, target, fetched).await;
    }
    if offered.in_summary {
        return from_offered(fetcher, repo, offered, checks, target, fetched).await;
    }
    // No list of deltas: for a ref, try one from what the ref has here when that is
    // complete; otherwise one from nothing.
    let mut from = None;
    if target.ref_name.is_some() {
        from = target.local;
        if let Some(local) = &from
            && !complete(repo, local)?
        {
            from = None;
        }
        if from == Some(target.to) {
            return Ok(Plan::Objects);
        }
    }
    let name = DeltaName {
        from,
        to: target.to,
    };
    superblock(fetcher, offered, checks, name, fetched).await
}

/// Picks among the deltas the remote lists: the newest complete local commit with a delta
/// to the target, else one from nothing when the ref is new here.
async fn from_offered(
    fetcher: &Fetcher,
    repo: &Repo,
    offered: &Offered,
    checks: &Checks,
    target: &Target<'_>,
    fetched: &mut u64,
) -> Result<Plan> {
    if complete(repo, &target.to)? {
        return Ok(Plan::Objects);
    }
    let mut scratch = false;
    let mut best: Option<(u64, Checksum)> = None;
    for name in offered.known.keys().filter(|n| n.to == target.to) {
        let Some(from) = name.from else {
            scratch = true;
            continue;
        };
        if !complete(repo, &from)? {
            continue;
        }
        let data = repo.load_metadata(ObjectType::Commit, &from)?;
        let timestamp = CommitRef::parse(&data)
            .map_err(|e| Error::Corrupt {
                objtype: ObjectType::Commit,
                checksum: from,
                reason: e.to_string(),
            })?
            .timestamp();
        if best.is_none_or(|(t, _)| timestamp > t) {
            best = Some((timestamp, from));
        }
    }
    let from = match (best, scratch) {
        (Some((_, from)), _) => Some(from),
        // A ref that exists here is likely a few commits behind: objects cost less than a
        // delta from nothing.
        (None, true) if target.local.is_some() => return Ok(Plan::Objects),
        (None, true) => None,
        (None, false) if checks.require => {
            return Err(required_error(target.ref_name.unwrap_or(""), &target.to));
        }
        (None, false) => return Ok(Plan::Objects),
    };
    superblock(
        fetcher,
        offered,
        checks,
        DeltaName {
            from,
            to: target.to,
        },
        fetched,
    )
    .await
}

/// Fetches and checks a superblock; objects when the remote has none (unless required).
async fn superblock(
    fetcher: &Fetcher,
    offered: &Offered,
    checks: &Checks,
    name: DeltaName,
    fetched: &mut u64,
) -> Result<Plan> {
    let Some(data) = fetcher.get(&name.superblock_path()).await? else {
        if checks.require {
            let from = name.from.map_or("(null)".to_owned(), |c| c.to_hex());
            return Err(required_error(&from, &name.to));
        }
        return Ok(Plan::Objects);
    };
    *fetched += 1;
    let expected = offered.known.get(&name);
    if checks.summary_signed && expected.is_none() {
        return Err(Error::UnsignedDelta);
    }
    if let Some(expected) = expected
        && Checksum::digest(&data) != *expected
    {
        return Err(Error::DeltaChecksum {
            name: name.to_string(),
        });
    }
    let file = SuperblockFile::parse(&data)?;
    let superblock = Superblock::parse(&file.superblock)?;
    if superblock.to != name.to || superblock.from != name.from {
        return Err(Error::Invalid {
            what: format!("static delta {name}"),
            reason: "its superblock names other commits".into(),
        });
    }
    Ok(Plan::Delta(Box::new(Fetched { name, superblock })))
}

/// What a delta would fetch, in upstream's dry-run figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeltaTotals {
    /// Parts and fallbacks.
    pub parts: u64,
    /// Of those, already here.
    pub parts_here: u64,
    /// Their size.
    pub size: u64,
    /// Of that, already here.
    pub size_here: u64,
    /// Their uncompressed size.
    pub usize: u64,
}

/// Counts what `superblock` would fetch into `repo`.
pub(crate) fn totals(repo: &Repo, superblock: &Superblock) -> Result<DeltaTotals> {
    let mut t = DeltaTotals::default();
    for f in &superblock.fallbacks {
        t.parts += 1;
        t.size += f.compressed_size;
        t.usize += f.uncompressed_size;
        if repo.has_object(f.objtype, &f.checksum)? {
            t.size_here += f.compressed_size;
        }
    }
    for part in &superblock.parts {
        t.parts += 1;
        t.size += part.compressed_size;
        t.usize += part.uncompressed_size;
        if rostree_delta::apply::have_all_objects(repo, &part.objects)? {
            t.parts_here += 1;
            t.size_here += part.compressed_size;
        }
    }
    Ok(t)
}
