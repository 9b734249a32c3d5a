//! The delta crate's error type.

use std::path::PathBuf;

use rostree_core::Checksum;

/// Errors from generating, reading and applying static deltas.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The repository failed (a missing object, a write).
    #[error(transparent)]
    Repo(#[from] rostree_repo::Error),
    /// A system call failed.
    #[error("{op} {}: {}", path.display(), rostree_repo::os_error_text(source))]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Delta bytes that do not parse, or operations that do not make sense.
    #[error("{0}")]
    Format(String),
    /// A part whose bytes are not the ones its superblock names (upstream's words).
    #[error("Checksum mismatch in static delta part; expected={expected} actual={actual}")]
    PartChecksum {
        /// The checksum in the superblock.
        expected: Checksum,
        /// What the part hashes to.
        actual: Checksum,
    },
    /// A part compressed in a way no reader knows.
    #[error("Invalid compression type '{0}'")]
    Compression(u8),
    /// Options or input that cannot be used.
    #[error("{0}")]
    Invalid(String),
    /// A signature that does not verify, or cannot be made.
    #[error("{0}")]
    Signature(String),
    /// `--inline` would make a superblock past the metadata size limit.
    #[error(
        "An inline delta superblock would take {size} bytes, past the {limit}-byte limit on \
         metadata: generate the delta without --inline"
    )]
    InlineTooLarge {
        /// The superblock's size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The caller interrupted the operation.
    #[error("Operation was cancelled")]
    Cancelled,
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds operation and path context to I/O results.
pub(crate) trait IoContext<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| Error::Io {
            op,
            path: path.into(),
            source,
        })
    }
}
