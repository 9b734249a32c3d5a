//! Signing and checking commits in a repository: the signature covers the commit object's
//! exact bytes and is kept in its detached metadata (`objects/XX/….commitmeta`).

use rostree_core::object::Metadata;
use rostree_core::{Checksum, ObjectType};
use rostree_repo::{Repo, Transaction};

use crate::ed25519;

/// Why signing or checking failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing the repository failed.
    #[error(transparent)]
    Repo(#[from] rostree_repo::Error),
    /// A key, a signature or the detached metadata was refused.
    #[error(transparent)]
    Ed25519(#[from] ed25519::Error),
    /// The detached metadata does not parse.
    #[error("Commit {commit}: invalid detached metadata: {reason}")]
    Metadata {
        /// The commit.
        commit: Checksum,
        /// What is wrong.
        reason: String,
    },
}

fn detached(repo: &Repo, commit: &Checksum) -> Result<Metadata, Error> {
    match repo.load_commitmeta(commit)? {
        Some(data) => Metadata::from_bytes(&data).map_err(|e| Error::Metadata {
            commit: *commit,
            reason: e.to_string(),
        }),
        None => Ok(Metadata::new()),
    }
}

/// Adds an Ed25519 signature by `key` to `commit` (after any it has).
pub fn sign_commit(repo: &Repo, commit: &Checksum, key: &ed25519::SecretKey) -> Result<(), Error> {
    let data = repo.load_metadata(ObjectType::Commit, commit)?;
    let mut metadata = detached(repo, commit)?;
    ed25519::add_signature(&mut metadata, &key.sign(&data))?;
    let tx = Transaction::begin(repo)?;
    tx.write_metadata_as(ObjectType::CommitMeta, commit, &metadata.to_bytes())?;
    tx.commit()?;
    Ok(())
}

/// Removes the Ed25519 signatures of `commit` that `keys` made; returns how many went.
pub fn delete_signatures(
    repo: &Repo,
    commit: &Checksum,
    keys: &[ed25519::PublicKey],
) -> Result<usize, Error> {
    let data = repo.load_metadata(ObjectType::Commit, commit)?;
    let mut metadata = detached(repo, commit)?;
    let all = ed25519::signatures(&metadata)?;
    let kept: Vec<Vec<u8>> = all
        .iter()
        .filter(|sig| !keys.iter().any(|k| k.verifies(&data, sig)))
        .cloned()
        .collect();
    let removed = all.len() - kept.len();
    if removed > 0 {
        if kept.is_empty() {
            metadata.remove(ed25519::METADATA_KEY);
        } else {
            ed25519::set_signatures(&mut metadata, &kept);
        }
        let tx = Transaction::begin(repo)?;
        tx.write_metadata_as(ObjectType::CommitMeta, commit, &metadata.to_bytes())?;
        tx.commit()?;
    }
    Ok(removed)
}

/// Checks `commit` against `verifier` (its bytes as stored, its signatures as detached);
/// returns the key that signed it.
pub fn verify_commit(
    repo: &Repo,
    commit: &Checksum,
    verifier: &ed25519::Verifier,
) -> Result<ed25519::PublicKey, Error> {
    let data = repo.load_metadata(ObjectType::Commit, commit)?;
    let metadata = detached(repo, commit)?;
    Ok(verifier.verify(&data, &ed25519::signatures(&metadata)?)?)
}

/// Signs the repository's `summary` with `keys`: `summary.sig` becomes an `a{sv}` holding
/// their signatures under `ostree.sign.ed25519`.
pub fn sign_summary(repo: &Repo, keys: &[ed25519::SecretKey]) -> Result<(), Error> {
    let summary = match repo.dir().read("summary") {
        Ok(data) => data,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::Ed25519(ed25519::Error(
                "No summary file found".into(),
            )));
        }
        Err(e) => {
            return Err(Error::Repo(rostree_repo::Error::Io {
                op: "reading",
                path: repo.path().join("summary"),
                source: e,
            }));
        }
    };
    let mut metadata = Metadata::new();
    for key in keys {
        ed25519::add_signature(&mut metadata, &key.sign(&summary))?;
    }
    repo.dir()
        .write("summary.sig", metadata.to_bytes())
        .map_err(|e| {
            Error::Repo(rostree_repo::Error::Io {
                op: "writing",
                path: repo.path().join("summary.sig"),
                source: e,
            })
        })
}

/// Checks `summary` against the ed25519 signatures of `signature_file` (a `summary.sig`).
pub fn verify_summary(
    summary: &[u8],
    signature_file: &[u8],
    verifier: &ed25519::Verifier,
) -> Result<ed25519::PublicKey, ed25519::Error> {
    let metadata = Metadata::from_bytes(signature_file)
        .map_err(|e| ed25519::Error(format!("invalid summary.sig: {e}")))?;
    verifier.verify(summary, &ed25519::signatures(&metadata)?)
}
