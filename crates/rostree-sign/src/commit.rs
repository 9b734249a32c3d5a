//! Signing and checking commits in a repository: the signature covers the commit object's
//! exact bytes and is kept in its detached metadata (`objects/XX/….commitmeta`).

use rostree_core::object::Metadata;
use rostree_core::{Checksum, ObjectType};
use rostree_repo::commit::CommitSigner;
use rostree_repo::{Repo, Transaction};

#[cfg(feature = "gpg")]
use crate::gnupg;
use crate::signapi::{self, SigningKey, Verifier};
use crate::{ed25519, gpg};

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
    /// A GPG key or signature was refused.
    #[error(transparent)]
    Gpg(#[from] gpg::Error),
    /// A signature of another type was refused.
    #[error(transparent)]
    Sign(#[from] signapi::Error),
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

/// Signs with `key` (`ostree sign`, `commit --sign`): after any signatures there are.
pub struct SignWith(pub SigningKey);

impl std::fmt::Debug for SignWith {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignWith(..)")
    }
}

impl CommitSigner for SignWith {
    fn sign(&self, commit: &[u8], detached: &mut Metadata) -> Result<(), BoxedError> {
        Ok(self.0.add_signature(detached, commit)?)
    }
}

#[cfg(feature = "gpg")]
/// Signs with a GPG key (`gpg-sign`, `commit --gpg-sign`); refuses a commit that already
/// carries a signature by that key, as upstream refuses it.
#[derive(Debug)]
pub struct GpgSignWith {
    /// The key as the user named it (for the refusal's words).
    pub key_id: String,
    /// The key.
    pub signer: gnupg::Signer,
}

#[cfg(feature = "gpg")]
impl CommitSigner for GpgSignWith {
    fn sign(&self, commit: &[u8], detached: &mut Metadata) -> Result<(), BoxedError> {
        Ok(add_gpg_signature(
            detached,
            commit,
            &self.key_id,
            &self.signer,
        )?)
    }
}

#[cfg(feature = "gpg")]
/// Adds `signer`'s signature over `commit` to `detached`, unless one by that key is there.
fn add_gpg_signature(
    detached: &mut Metadata,
    commit: &[u8],
    key_id: &str,
    signer: &gnupg::Signer,
) -> Result<(), gpg::Error> {
    let fingerprint = signer.fingerprint_hex();
    if gpg::signatures(detached)?
        .iter()
        .any(|sig| gpg::issued_by(sig, &fingerprint))
    {
        return Err(gpg::Error(format!(
            "Commit is already signed with GPG key {key_id}"
        )));
    }
    gpg::add_signature(detached, &signer.sign(commit, now_secs())?)
}

type BoxedError = Box<dyn std::error::Error + Send + Sync>;

/// Adds a signature by `key` to `commit` (after any it has).
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::atomic::AtomicBool;
/// use cap_std::{ambient_authority, fs::Dir};
/// use rostree_repo::commit::{CommitOptions, TreeSource, commit};
/// use rostree_repo::{InitOptions, Repo, RepoMode, progress::NoProgress};
/// use rostree_sign::commit::{sign_commit, verify_commit};
/// use rostree_sign::ed25519::{self, SecretKey};
/// use rostree_sign::signapi::{SigningKey, Verifier};
///
/// let tmp = tempfile::tempdir()?;
/// std::fs::create_dir_all(tmp.path().join("tree/etc"))?;
/// std::fs::write(tmp.path().join("tree/etc/os-release"), "ID=example\n")?;
/// std::fs::create_dir(tmp.path().join("repo"))?;
/// let repo_dir = Dir::open_ambient_dir(tmp.path().join("repo"), ambient_authority())?;
/// let options = InitOptions { mode: RepoMode::Archive, ..Default::default() };
/// let repo = Repo::init(repo_dir, tmp.path().join("repo"), &options)?;
/// let tree = Dir::open_ambient_dir(tmp.path().join("tree"), ambient_authority())?;
/// let sources = vec![TreeSource::Dir(tree, tmp.path().join("tree"))];
/// let options = CommitOptions { branch: Some("main".into()), ..Default::default() };
/// let tip = commit(&repo, sources, &NoProgress, &AtomicBool::new(false), &options)?.checksum;
///
/// // `ostree sign main SECRET-KEY`; a real key is read from base64 (`SecretKey::from_base64`).
/// let secret = SecretKey::from_seed(&[7; 32]);
/// sign_commit(&repo, &tip, &SigningKey::Ed25519(secret.clone()))?;
///
/// // `ostree sign --verify main PUBLIC-KEY`
/// let trusted = ed25519::Verifier { trusted: vec![secret.public()], revoked: vec![] };
/// let message = verify_commit(&repo, &tip, &[Verifier::Ed25519(trusted)])?;
/// assert!(message.starts_with("ed25519: Signature verified successfully"));
/// # Ok(()) }
/// ```
pub fn sign_commit(repo: &Repo, commit: &Checksum, key: &SigningKey) -> Result<(), Error> {
    let data = repo.load_metadata(ObjectType::Commit, commit)?;
    let mut metadata = detached(repo, commit)?;
    key.add_signature(&mut metadata, &data)?;
    write_detached(repo, commit, &metadata)
}

/// Removes the signatures of `commit` that `keys` accepts (of its type); returns how many
/// went.
pub fn delete_signatures(repo: &Repo, commit: &Checksum, keys: &Verifier) -> Result<usize, Error> {
    let data = repo.load_metadata(ObjectType::Commit, commit)?;
    let mut metadata = detached(repo, commit)?;
    let key = keys.sign_type().metadata_key();
    let all = crate::sigarray::read(&metadata, key)
        .ok_or_else(|| signapi::Error(format!("{key}: wrong type passed for verification")))?;
    let kept: Vec<Vec<u8>> = all
        .iter()
        .filter(|sig| !keys.accepts(&data, sig))
        .cloned()
        .collect();
    let removed = all.len() - kept.len();
    if removed > 0 {
        crate::sigarray::write(&mut metadata, key, &kept);
        write_detached(repo, commit, &metadata)?;
    }
    Ok(removed)
}

/// Checks `commit` (its bytes as stored, its signatures as detached) against
/// `verifiers`; returns upstream's message for the signature that verified.
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
/// # std::fs::create_dir(tmp.path().join("repo"))?;
/// # let repo_dir = Dir::open_ambient_dir(tmp.path().join("repo"), ambient_authority())?;
/// # let options = InitOptions { mode: RepoMode::Archive, ..Default::default() };
/// # let repo = Repo::init(repo_dir, tmp.path().join("repo"), &options)?;
/// # let tree = Dir::open_ambient_dir(tmp.path().join("tree"), ambient_authority())?;
/// # let sources = vec![TreeSource::Dir(tree, tmp.path().join("tree"))];
/// # let options = CommitOptions { branch: Some("main".into()), ..Default::default() };
/// # let tip = commit(&repo, sources, &NoProgress, &AtomicBool::new(false), &options)?.checksum;
/// use rostree_sign::commit::{sign_commit, verify_commit};
/// use rostree_sign::ed25519::{self, SecretKey};
/// use rostree_sign::signapi::{SigningKey, Verifier};
///
/// // `repo` holds the commit `tip`, signed here with one key.
/// let (key, other) = (SecretKey::from_seed(&[7; 32]), SecretKey::from_seed(&[8; 32]));
/// let verifier = |trusted: &SecretKey| {
///     Verifier::Ed25519(ed25519::Verifier { trusted: vec![trusted.public()], revoked: vec![] })
/// };
/// assert!(verify_commit(&repo, &tip, &[verifier(&key)]).is_err()); // not signed yet
/// sign_commit(&repo, &tip, &SigningKey::Ed25519(key.clone()))?;
///
/// let message = verify_commit(&repo, &tip, &[verifier(&key)])?;
/// assert_eq!(
///     message,
///     format!("ed25519: Signature verified successfully with key '{}'", key.public().to_hex()),
/// );
/// // Another key's signature would be needed for that key's verifier.
/// assert!(verify_commit(&repo, &tip, &[verifier(&other)]).is_err());
/// # Ok(()) }
/// ```
pub fn verify_commit(
    repo: &Repo,
    commit: &Checksum,
    verifiers: &[Verifier],
) -> Result<String, Error> {
    let data = repo.load_metadata(ObjectType::Commit, commit)?;
    let metadata = detached(repo, commit)?;
    Ok(signapi::verify_any(verifiers, &data, &metadata)?)
}

fn write_detached(repo: &Repo, commit: &Checksum, metadata: &Metadata) -> Result<(), Error> {
    let tx = Transaction::begin(repo)?;
    tx.write_metadata_as(ObjectType::CommitMeta, commit, &metadata.to_bytes())?;
    tx.commit()?;
    Ok(())
}

#[cfg(feature = "gpg")]
fn now_secs() -> u32 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    u32::try_from(secs).unwrap_or(u32::MAX)
}

#[cfg(feature = "gpg")]
/// Adds a GPG signature by `signer` (found as `key_id` names it) to `commit`. A commit that
/// already carries a signature by that key is refused, as upstream refuses it.
pub fn gpg_sign_commit(
    repo: &Repo,
    commit: &Checksum,
    key_id: &str,
    signer: &gnupg::Signer,
) -> Result<(), Error> {
    let data = repo.load_metadata(ObjectType::Commit, commit)?;
    let mut metadata = detached(repo, commit)?;
    add_gpg_signature(&mut metadata, &data, key_id, signer)?;
    write_detached(repo, commit, &metadata)
}

/// Removes the GPG signatures of `commit` whose issuer any of `key_ids` names; returns how
/// many went.
pub fn gpg_delete_signatures(
    repo: &Repo,
    commit: &Checksum,
    key_ids: &[String],
) -> Result<usize, Error> {
    let mut metadata = detached(repo, commit)?;
    let all = gpg::signatures(&metadata)?;
    let kept: Vec<Vec<u8>> = all
        .iter()
        .filter(|sig| !key_ids.iter().any(|id| gpg::issued_by(sig, id)))
        .cloned()
        .collect();
    let removed = all.len() - kept.len();
    if removed > 0 {
        gpg::set_signatures(&mut metadata, &kept);
        write_detached(repo, commit, &metadata)?;
    }
    Ok(removed)
}

fn read_summary_file(repo: &Repo) -> Result<Vec<u8>, Error> {
    match repo.dir().read("summary") {
        Ok(data) => Ok(data),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::Ed25519(ed25519::Error(
            "No summary file found".into(),
        ))),
        Err(e) => Err(Error::Repo(rostree_repo::Error::Io {
            op: "reading",
            path: repo.path().join("summary"),
            source: e,
        })),
    }
}

/// The signatures already in `summary.sig` (an empty `a{sv}` when there is none).
fn read_summary_signatures(repo: &Repo) -> Result<Metadata, Error> {
    match repo.dir().read("summary.sig") {
        Ok(data) => Metadata::from_bytes(&data)
            .map_err(|e| Error::Ed25519(ed25519::Error(format!("invalid summary.sig: {e}")))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Metadata::new()),
        Err(e) => Err(Error::Repo(rostree_repo::Error::Io {
            op: "reading",
            path: repo.path().join("summary.sig"),
            source: e,
        })),
    }
}

fn write_summary_signatures(repo: &Repo, metadata: &Metadata) -> Result<(), Error> {
    Ok(rostree_repo::summary::write_summary_signature(
        repo,
        &metadata.to_bytes(),
    )?)
}

#[cfg(feature = "gpg")]
/// Adds GPG signatures by `signers` over the repository's `summary` to `summary.sig`,
/// beside those it holds.
pub fn gpg_sign_summary(repo: &Repo, signers: &[gnupg::Signer]) -> Result<(), Error> {
    let summary = read_summary_file(repo)?;
    let mut metadata = read_summary_signatures(repo)?;
    for signer in signers {
        gpg::add_signature(&mut metadata, &signer.sign(&summary, now_secs())?)?;
    }
    write_summary_signatures(repo, &metadata)
}

/// Signs the repository's `summary` with `keys`: their signatures join those `summary.sig`
/// holds, each under its type's key.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use rostree_core::object::Metadata;
/// use rostree_repo::{InitOptions, Repo, summary::update_summary};
/// use rostree_sign::commit::{sign_summary, verify_summary};
/// use rostree_sign::ed25519::{self, SecretKey};
/// use rostree_sign::signapi::{SigningKey, Verifier};
///
/// let tmp = tempfile::tempdir()?;
/// let dir = cap_std::fs::Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority())?;
/// let mut repo = Repo::init(dir, tmp.path(), &InitOptions::default())?;
/// update_summary(&mut repo, &Metadata::new())?;
///
/// // `ostree summary --sign=SECRET-KEY --sign-type=ed25519`
/// let secret = SecretKey::from_seed(&[7; 32]);
/// sign_summary(&repo, &[SigningKey::Ed25519(secret.clone())])?;
///
/// // What a client pulling `summary` and `summary.sig` checks.
/// let summary = std::fs::read(tmp.path().join("summary"))?;
/// let signatures = std::fs::read(tmp.path().join("summary.sig"))?;
/// let trusted = ed25519::Verifier { trusted: vec![secret.public()], revoked: vec![] };
/// let message = verify_summary(&summary, &signatures, &[Verifier::Ed25519(trusted)])?;
/// assert!(message.starts_with("ed25519: Signature verified successfully"));
/// # Ok(()) }
/// ```
pub fn sign_summary(repo: &Repo, keys: &[SigningKey]) -> Result<(), Error> {
    let summary = read_summary_file(repo)?;
    let mut metadata = read_summary_signatures(repo)?;
    for key in keys {
        key.add_signature(&mut metadata, &summary)?;
    }
    write_summary_signatures(repo, &metadata)
}

/// Checks `summary` against the signatures of `signature_file` (a `summary.sig`). A file
/// that is no metadata holds no signature, as GVariant reads it upstream.
pub fn verify_summary(
    summary: &[u8],
    signature_file: &[u8],
    verifiers: &[Verifier],
) -> Result<String, signapi::Error> {
    let metadata = Metadata::from_bytes(signature_file).unwrap_or_default();
    signapi::verify_any(verifiers, summary, &metadata)
}
