//! Errors as the C ABI hands them out: a code to branch on, a message in upstream's words
//! and the path involved, if any.
//!
//! The library's error enums are `#[non_exhaustive]` and nest (a pull error may carry a
//! repository error); [`Error::from_repo`] and its siblings pick the code from the innermost
//! variant that says more than "it failed".

use std::any::Any;
use std::ffi::{CStr, CString};
use std::fmt::Display;
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

/// What kind of failure an error is; a fallible call returns it as its status.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RostreeErrorCode {
    /// Anything not covered by a more specific code.
    Failed = 1,
    /// The operation was cancelled through its `RostreeCancellable`.
    Cancelled = 2,
    /// An argument was NULL where it may not be, not UTF-8 where it must be, or not valid.
    InvalidArgument = 3,
    /// A file, repository, ref, remote or object does not exist.
    NotFound = 4,
}

/// An error of a library call, ready to cross the C boundary.
#[derive(Debug)]
pub struct Error {
    code: RostreeErrorCode,
    message: CString,
    path: Option<CString>,
    object: Option<CString>,
}

/// Bytes as a C string, interior NULs (impossible in paths, rare in messages, commit texts
/// and names) dropped: every text handed to C goes through here.
pub(crate) fn c_string(bytes: impl Into<Vec<u8>>) -> CString {
    let mut bytes = bytes.into();
    bytes.retain(|b| *b != 0);
    CString::new(bytes).unwrap_or_default()
}

fn io_code(error: &std::io::Error) -> RostreeErrorCode {
    match error.kind() {
        std::io::ErrorKind::NotFound => RostreeErrorCode::NotFound,
        _ => RostreeErrorCode::Failed,
    }
}

/// The object a repository error is about, named as upstream names objects
/// (`CHECKSUM.TYPE`).
fn object_of(error: &rostree::repo::Error) -> Option<CString> {
    use rostree::repo::Error as E;
    match error {
        E::MissingObject { objtype, checksum }
        | E::Corrupt {
            objtype, checksum, ..
        } => Some(c_string(format!("{checksum}.{objtype}"))),
        _ => None,
    }
}

/// The code of a repository error, and the path it names.
fn classify_repo(error: &rostree::repo::Error) -> (RostreeErrorCode, Option<&Path>) {
    use rostree::repo::Error as E;
    match error {
        E::Io { path, source, .. } => (io_code(source), Some(path)),
        E::InvalidConfig { path, .. } => (RostreeErrorCode::Failed, Some(path)),
        E::Cancelled => (RostreeErrorCode::Cancelled, None),
        E::RefNotFound(_)
        | E::RemoteNotFound { .. }
        | E::MissingObject { .. }
        | E::NoSuchPath { .. } => (RostreeErrorCode::NotFound, None),
        E::RefName(_) | E::InvalidChecksum(_) | E::InvalidOptions(_) => {
            (RostreeErrorCode::InvalidArgument, None)
        }
        _ => (RostreeErrorCode::Failed, None),
    }
}

impl Error {
    /// An error with this code and message, about `path` when given.
    pub fn new(code: RostreeErrorCode, message: impl Display, path: Option<&Path>) -> Error {
        Error {
            code,
            message: c_string(message.to_string()),
            path: path.map(|p| c_string(p.as_os_str().as_bytes())),
            object: None,
        }
    }

    /// A caller's mistake.
    pub fn invalid_argument(message: impl Display) -> Error {
        Error::new(RostreeErrorCode::InvalidArgument, message, None)
    }

    /// A system call on `path` failed while `op` was being done.
    pub fn io(op: &str, path: &Path, error: &std::io::Error) -> Error {
        let message = format!(
            "{op} {}: {}",
            path.display(),
            rostree::repo::os_error_text(error)
        );
        Error::new(io_code(error), message, Some(path))
    }

    /// A repository error.
    pub fn from_repo(error: rostree::repo::Error) -> Error {
        let (code, path) = classify_repo(&error);
        Error {
            object: object_of(&error),
            ..Error::new(code, &error, path)
        }
    }

    /// A repository error met inside another (its message is replaced by the caller).
    fn from_repo_ref(error: &rostree::repo::Error) -> Error {
        let (code, path) = classify_repo(error);
        Error {
            object: object_of(error),
            ..Error::new(code, "", path)
        }
    }

    /// A signing or verification error.
    pub fn from_sign(error: rostree::sign::commit::Error) -> Error {
        match error {
            rostree::sign::commit::Error::Repo(inner) => Error::from_repo(inner),
            other => Error::new(RostreeErrorCode::Failed, &other, None),
        }
    }

    /// A static delta error.
    pub fn from_delta(error: rostree::delta::Error) -> Error {
        match error {
            rostree::delta::Error::Repo(inner) => Error::from_repo(inner),
            rostree::delta::Error::Cancelled => {
                Error::new(RostreeErrorCode::Cancelled, &error, None)
            }
            other => Error::new(RostreeErrorCode::Failed, &other, None),
        }
    }

    /// A pull error.
    pub fn from_pull(error: rostree::pull::Error) -> Error {
        use rostree::pull::Error as E;
        let (code, path) = match error {
            E::Repo(inner) => return Error::from_repo(inner),
            E::Delta(rostree::delta::Error::Repo(inner)) => return Error::from_repo(inner),
            ref e @ (E::Cancelled | E::Delta(rostree::delta::Error::Cancelled)) => {
                return Error::new(RostreeErrorCode::Cancelled, e, None);
            }
            E::Io {
                ref path,
                ref source,
            } => (io_code(source), Some(Path::new(path).to_owned())),
            E::Keys { ref path, .. } => (RostreeErrorCode::Failed, Some(path.clone())),
            E::NotInSummary { .. } | E::NoSuchRef { .. } | E::MissingObject { .. } => {
                (RostreeErrorCode::NotFound, None)
            }
            E::InvalidUrl { .. } | E::UnsupportedScheme { .. } => {
                (RostreeErrorCode::InvalidArgument, None)
            }
            _ => (RostreeErrorCode::Failed, None),
        };
        Error::new(code, &error, path.as_deref())
    }

    /// A sysroot error; `root` is the sysroot's path, which the paths in its errors are
    /// relative to.
    pub fn from_sysroot(error: rostree::sysroot::Error, root: &Path) -> Error {
        use rostree::sysroot::Error as E;
        // The message is the whole chain ("loading sysroot: opendir(ostree/repo): ..."); the
        // code and path come from the innermost error.
        let mut inner = &error;
        while let E::Context { source, .. } = inner {
            inner = source;
        }
        let classified = match inner {
            E::Io { path, error, .. } => Error::new(io_code(error), "", Some(&root.join(path))),
            E::Repo(e) => Error::from_repo_ref(e),
            E::RefspecNotFound { .. } => Error::new(RostreeErrorCode::NotFound, "", None),
            E::NoSuchDeployment { .. } => Error::invalid_argument(""),
            _ => Error::new(RostreeErrorCode::Failed, "", None),
        };
        Error {
            message: c_string(error.to_string()),
            ..classified
        }
    }

    /// An upgrade error; `root` is the sysroot's path.
    pub fn from_upgrade(error: rostree::upgrade::Error, root: &Path) -> Error {
        use rostree::upgrade::Error as E;
        match error {
            E::Sysroot(e) => Error::from_sysroot(e, root),
            E::Repo(e) => Error::from_repo(e),
            E::Pull(e) => Error::from_pull(*e),
            other => Error::new(RostreeErrorCode::Failed, &other, None),
        }
    }

    /// A panic caught at the boundary: a bug of the library, reported rather than unwound
    /// into C.
    pub fn from_panic(payload: Box<dyn Any + Send>) -> Error {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        Error::new(
            RostreeErrorCode::Failed,
            format!("internal error (panic): {what}"),
            None,
        )
    }

    /// Its code.
    pub fn code(&self) -> RostreeErrorCode {
        self.code
    }

    /// Its message.
    pub fn message(&self) -> &CStr {
        &self.message
    }

    /// The file or directory it is about, when it names one.
    pub fn path(&self) -> Option<&CStr> {
        self.path.as_deref()
    }

    /// The object it is about (`CHECKSUM.TYPE`, as `a1b2….commit`), when it names one.
    pub fn object(&self) -> Option<&CStr> {
        self.object.as_deref()
    }
}

impl Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message.to_string_lossy())
    }
}

impl std::error::Error for Error {}
