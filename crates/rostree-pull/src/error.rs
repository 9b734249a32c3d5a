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
    /// A ref the remote does not have (no summary, and no `refs/heads` file).
    #[error("No such branch '{name}' in remote {remote}")]
    NoSuchRef {
        /// The remote.
        remote: String,
        /// The ref.
        name: String,
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
    /// An object the remote does not have.
    #[error("Object {checksum}.{objtype} not found on the remote")]
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
    /// Interrupted by the caller.
    #[error("Operation was cancelled")]
    Cancelled,
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
