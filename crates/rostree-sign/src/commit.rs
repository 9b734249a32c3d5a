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
