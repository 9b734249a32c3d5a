//! Errors of pulling and serving.

use rostree_core::{Checksum, ObjectType};

/// Why a pull (or the server) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The repository refused or failed an operation.
    #[error(transparent)]
    Repo(#[from] rostree_repo::Error),
    /// A URL rostree cannot fetch from.
    #[error("Invalid URL '{url}': {reason}")]
    InvalidUrl {
        /// The URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A URL of a scheme other than http, https and file (upstream's words).
    #[error("Invalid URI scheme in {url}")]
    UnsupportedScheme {
        /// The URL.
        url: String,
    },
    /// The server answered with an error status.
    #[error("Server returned HTTP {status} for {url}")]
    Status {
        /// The URL fetched.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The connection failed (after the retries).
    #[error("Fetching {url}: {reason}")]
    Transport {
        /// The URL fetched.
        url: String,
        /// What went wrong, from the HTTP client.
        reason: String,
    },
    /// The server sent (or announced) more than such a file may hold.
    #[error("URI {url} exceeded maximum size of {limit} bytes")]
    TooLarge {
        /// The URL fetched.
        url: String,
        /// The most accepted.
        limit: u64,
    },
    /// A file:// remote could not be read.
    #[error("Reading {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A ref the remote's summary does not list.
    #[error("No such branch '{name}' in repository summary")]
    NotInSummary {
        /// The ref.
        name: String,
    },
    /// A ref the remote does not have (no summary, and no `refs/heads` file): upstream's
    /// words for the file that is not there.
    #[error("Server returned HTTP 404")]
    NoSuchRef {
        /// The remote.
        remote: String,
        /// The ref.
        name: String,
    },
    /// A `refs/heads` file that does not hold a checksum (an HTML error page, say).
    #[error(
        "Fetching checksum for ref ({}, {name}): {reason}",
        collection_id.as_deref().unwrap_or("(empty)")
    )]
    BadRefFile {
        /// The remote's collection ID.
        collection_id: Option<String>,
        /// The ref.
        name: String,
        /// Why it is not a checksum.
        reason: String,
    },
    /// An object the server sent whose bytes do not hash to its name (upstream's words).
    #[error("Corrupted {objtype} object; checksum expected='{expected}' actual='{actual}'")]
    ChecksumMismatch {
        /// Its type.
        objtype: ObjectType,
        /// The name it was fetched under.
        expected: Checksum,
        /// What its bytes hash to.
        actual: Checksum,
    },
    /// An object the server sent that is not what its name says, or does not parse.
    #[error("Corrupted {objtype} object {checksum} from the remote: {reason}")]
    Corrupt {
        /// Its type.
        objtype: ObjectType,
        /// The name it was fetched under.
        checksum: Checksum,
        /// What is wrong.
        reason: String,
    },
    /// A metadata object that does not pass validation (upstream's words).
    #[error("{checksum}.{objtype}: {detail}")]
    InvalidObject {
        /// Its type.
        objtype: ObjectType,
        /// Its name.
        checksum: Checksum,
        /// What is wrong.
        detail: String,
    },
    /// An object the remote does not have.
    #[error("Server returned HTTP 404 for object {checksum}.{objtype}")]
    MissingObject {
        /// Its type.
        objtype: ObjectType,
        /// Its name.
        checksum: Checksum,
    },
    /// A commit that its ref should not point at (ref or collection binding).
    #[error("Commit {checksum}: {reason}")]
    Binding {
        /// The commit.
        checksum: Checksum,
        /// The binding that failed.
        reason: String,
    },
    /// Invalid remote content that is not an object (a summary, a ref file).
    #[error("Invalid {what} from the remote: {reason}")]
    Invalid {
        /// What it was.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// A commit with no signature of any type `sign-verify` accepts.
    #[error("No signatures found for commit {checksum}")]
    Unsigned {
        /// The commit.
        checksum: Checksum,
    },
    /// A commit without a valid signature from a trusted key (`sign-verify`).
    #[error("Can't verify commit {checksum}: {reason}")]
    Signature {
        /// The commit.
        checksum: Checksum,
        /// Why no signature was accepted.
        reason: String,
    },
    /// A commit without a valid GPG signature from a trusted key (`gpg-verify`).
    #[error("Commit {checksum}: {reason}")]
    GpgSignature {
        /// The commit.
        checksum: Checksum,
        /// Why no signature was accepted.
        reason: String,
    },
    /// A summary without a valid signature (`sign-verify-summary`).
    #[error("Can't verify summary: {reason}")]
    SummarySignature {
        /// Why.
        reason: String,
    },
    /// A commit older than the one it would replace (`--timestamp-check`).
    #[error(
        "Upgrade target revision '{new}' with timestamp '{new_time}' is chronologically older \
         than current revision '{old}' with timestamp '{old_time}'; use --allow-downgrade to \
         permit"
    )]
    Downgrade {
        /// The commit pulled.
        new: Checksum,
        /// Its time, as upstream prints it.
        new_time: String,
        /// The commit it would replace.
        old: Checksum,
        /// Its time.
        old_time: String,
    },
    /// A static delta could not be read or applied.
    #[error(transparent)]
    Delta(#[from] rostree_delta::Error),
    /// `--require-static-deltas`, and no delta reaches the commit.
    #[error("Static deltas required, but none found for {from} to {to}")]
    DeltasRequired {
        /// The commit (or ref) the delta would start from.
        from: String,
        /// The commit wanted.
        to: Checksum,
    },
    /// `--require-static-deltas`, and the remote lists no deltas at all.
    #[error(
        "Fetch configured to require static deltas, but no summary deltas or delta index found"
    )]
    NoDeltasOffered,
    /// `--require-static-deltas` into an archive repository, which deltas cannot fill.
    #[error("Can't use static deltas in an archive repo")]
    DeltasInArchive,
    /// A superblock whose sha256 is not the one the summary or index lists.
    #[error("Invalid checksum for static delta {name}")]
    DeltaChecksum {
        /// The delta.
        name: String,
    },
    /// A signed summary that does not list the superblock fetched.
    #[error(
        "GPG verification enabled, but no summary signatures found (use gpg-verify-summary=false \
         in remote config to disable)"
    )]
    UnsignedDelta,
    /// Interrupted by the caller.
    #[error("Operation was cancelled")]
    Cancelled,
    /// A remote's configuration cannot be used as it is.
    #[error("Remote \"{remote}\": {reason}")]
    RemoteConfig {
        /// The remote.
        remote: String,
        /// What is wrong.
        reason: String,
    },
    /// The remote is marked as not to be pulled from (`unconfigured-state`).
    #[error("Remote \"{remote}\" is not configured: {state}")]
    Unconfigured {
        /// The remote.
        remote: String,
        /// Why, as its config says.
        state: String,
    },
    /// Another tool fetches from this remote (`custom-backend`).
    #[error("Cannot fetch via libostree - remote '{remote}' uses custom backend '{backend}'")]
    CustomBackend {
        /// The remote.
        remote: String,
        /// The backend its config names.
        backend: String,
    },
    /// Trusted keys could not be read.
    #[error("{message}")]
    Keys {
        /// The keyring file or directory.
        path: std::path::PathBuf,
        /// What went wrong, in upstream's words where it has them.
        message: String,
    },
    /// Signing keys configured for a remote were refused.
    #[error(transparent)]
    SignConfig(#[from] rostree_sign::signapi::Error),
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
