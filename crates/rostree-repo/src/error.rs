//! The repository crate's error type.

use std::io;
use std::path::PathBuf;

use rostree_core::{Checksum, ObjectType};

/// Errors from repository operations. Each carries what was being done and to what.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A system call failed.
    #[error("{op} {}: {}", path.display(), os_error_text(source))]
    Io {
        /// What was being done ("opening", "writing", ...).
        op: &'static str,
        /// The path involved, relative to the repo or absolute.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The repo's free-space floor (or the disk) would be crossed.
    #[error("{0}")]
    NoSpace(String),
    /// The directory is not a repository, or its config is unusable.
    #[error("{0}")]
    Config(String),
    /// The repository's config holds what upstream refuses to open it with.
    #[error("{source}")]
    InvalidConfig {
        /// The config file.
        path: PathBuf,
        /// What is wrong, in upstream's words.
        source: crate::config::ConfigError,
    },
    /// The repository's lock was not free within `lock-timeout-secs`.
    #[error("Locking repo {} timed out after {seconds} seconds", path.display())]
    LockTimeout {
        /// The repository.
        path: PathBuf,
        /// How long was waited.
        seconds: u64,
    },
    /// A stored object is malformed or does not match its name.
    #[error("Corrupted {objtype} object {checksum}: {reason}")]
    Corrupt {
        /// The object's type.
        objtype: ObjectType,
        /// The object's name.
        checksum: Checksum,
        /// What is wrong.
        reason: String,
    },
    /// A stored object whose bytes do not hash to its name (upstream's words).
    #[error("Corrupted {objtype} object; checksum expected='{expected}' actual='{actual}'")]
    ChecksumMismatch {
        /// The object's type.
        objtype: ObjectType,
        /// The object's name.
        expected: Checksum,
        /// What its bytes hash to.
        actual: Checksum,
    },
    /// An object that should exist does not.
    #[error("{}", missing_message(*objtype, checksum))]
    MissingObject {
        /// The object's type.
        objtype: ObjectType,
        /// The object's name.
        checksum: Checksum,
    },
    /// A ref or revision that does not resolve.
    #[error("Refspec '{0}' not found")]
    RefNotFound(String),
    /// An invalid ref, remote or refspec name.
    #[error(transparent)]
    RefName(#[from] rostree_core::refname::RefNameError),
    /// Input (a tree to commit, an option value) that cannot be used.
    #[error("{0}")]
    InvalidInput(String),

    /// No remote of that name.
    #[error("Remote \"{name}\" not found")]
    RemoteNotFound {
        /// The name asked for.
        name: String,
    },

    /// `remote add` of a remote that exists.
    #[error("Remote configuration for \"{name}\" already exists: {location}")]
    RemoteExists {
        /// Its name.
        name: String,
        /// Where it is defined: a file, or `(in config)`.
        location: String,
    },

    /// A remote defined by two files (or a file and the repository's config).
    #[error("Multiple specifications found for remote \"{name}\"")]
    RemoteDefinedTwice {
        /// Its name.
        name: String,
    },

    /// A config write that would define again a remote of the remotes directory.
    #[error("Remote \"{}\" already defined in {}", group.trim_start_matches("remote \"").trim_end_matches('"'), path.display())]
    RemoteInFile {
        /// Its config group.
        group: String,
        /// The file that defines it.
        path: PathBuf,
    },

    /// A key file (a remotes `.conf` file) that is not one.
    #[error("{}: {source}", path.display())]
    InvalidKeyFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rostree_core::keyfile::KeyFileError,
    },
    /// `--statoverride` or `--skip-list` paths that named nothing in the tree.
    #[error("Unmatched {kind} paths")]
    UnmatchedPaths {
        /// `statoverride` or `skip-list`.
        kind: &'static str,
        /// The paths, sorted.
        paths: Vec<String>,
    },
    /// The operation was interrupted by the caller.
    #[error("Operation was cancelled")]
    Cancelled,
    /// A signer of a commit (see [`crate::commit::CommitSigner`]) refused or failed.
    #[error(transparent)]
    Signing(Box<dyn std::error::Error + Send + Sync>),
}

/// An OS error as `strerror` words it (as upstream's messages have it), without Rust's
/// ` (os error N)`.
pub fn os_error_text(err: &io::Error) -> String {
    let text = err.to_string();
    match text.rfind(" (os error") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

fn missing_message(objtype: ObjectType, checksum: &Checksum) -> String {
    // Upstream's wording, which scripts may match.
    if objtype.is_meta() {
        format!("No such metadata object {checksum}.{objtype}")
    } else {
        format!("Couldn't find file object '{checksum}'")
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds operation and path context to I/O results.
pub(crate) trait IoContext<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T, E: Into<io::Error>> IoContext<T> for std::result::Result<T, E> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::Io {
            op,
            path: path.into(),
            source: e.into(),
        })
    }
}
