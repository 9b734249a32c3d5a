//! The sysroot crate's error type: upstream's words, with the path or deployment involved.

use std::io;
use std::path::PathBuf;

/// Errors from sysroot operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A system call failed.
    #[error("{op}({}): {}", path.display(), rostree_repo::os_error_text(error))]
    Io {
        /// The call, as upstream names it ("opendir", "readlinkat", ...).
        op: &'static str,
        /// The path, relative to the sysroot.
        path: PathBuf,
        /// The underlying error (in the message already, so not a separate source).
        error: io::Error,
    },
    /// The system repository failed.
    #[error(transparent)]
    Repo(#[from] rostree_repo::Error),
    /// A key file (origin, repo config) failed.
    #[error(transparent)]
    KeyFile(#[from] rostree_core::keyfile::KeyFileError),
    /// Kernel arguments could not be edited.
    #[error(transparent)]
    Kargs(#[from] crate::kargs::KargsError),
    /// A bootloader configuration could not be generated.
    #[error(transparent)]
    BootloaderConfig(#[from] crate::bootloader_config::BootloaderConfigError),
    /// A refspec to deploy that names no commit of the system repository.
    #[error("Refspec '{refspec}' not found")]
    RefspecNotFound {
        /// The refspec.
        refspec: String,
    },
    /// A deployment index past the end of the list.
    #[error("Out of range deployment index {index}, expected < {count}")]
    NoSuchDeployment {
        /// The index asked for.
        index: usize,
        /// How many deployments there are.
        count: usize,
    },
    /// What upstream refuses, in its words (the message is all it carries).
    #[error("{0}")]
    Refused(String),
    /// An error with what was being done before it, as upstream prefixes them
    /// (`loading sysroot: `, `Preparing /etc: `, ...).
    #[error("{context}: {source}")]
    Context {
        /// What was being done.
        context: String,
        /// What went wrong.
        #[source]
        source: Box<Error>,
    },
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// This error, prefixed with what was being done.
    pub fn context(self, context: impl Into<String>) -> Error {
        Error::Context {
            context: context.into(),
            source: Box::new(self),
        }
    }
}

/// Attaches upstream's call name and the path to an I/O error.
pub(crate) trait IoContext<T> {
    fn io(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn io(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|error| Error::Io {
            op,
            path: path.into(),
            error,
        })
    }
}

impl<T> IoContext<T> for rustix::io::Result<T> {
    fn io(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|errno| Error::Io {
            op,
            path: path.into(),
            error: errno.into(),
        })
    }
}

/// Prefixes a result's error with what was being done.
pub(crate) trait WithContext<T> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: Into<Error>> WithContext<T> for std::result::Result<T, E> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| e.into().context(context()))
    }
}
