//! The repository crate's error type.

use std::io;
use std::path::PathBuf;

use rostree_core::{Checksum, ObjectType};

use crate::mode::RepoMode;

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
    /// A broken invariant of the library itself (a bug, never bad input).
    #[error("internal error: {0}")]
    Internal(&'static str),

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

    /// `REV^` of a commit that has no parent.
    #[error("Commit {commit} has no parent")]
    NoParent {
        /// The commit.
        commit: Checksum,
    },
    /// A checksum prefix that more than one stored commit starts with.
    #[error("Refspec {rev} not unique")]
    AmbiguousRev {
        /// The prefix given.
        rev: String,
    },
    /// A ref file that does not hold a checksum.
    #[error("Invalid checksum in ref file {}", path.display())]
    InvalidRefFile {
        /// The ref file, relative to the repository.
        path: PathBuf,
    },
    /// A ref that cannot be written because refs exist below its name (`name/...`).
    #[error("Conflict: {name}/{inner} exists under {name} when attempting write")]
    RefConflict {
        /// The ref being written.
        name: String,
        /// The path of a ref below it, relative to `name`.
        inner: String,
    },
    /// A ref that cannot be deleted while an alias points to it.
    #[error("Ref '{name}' has an active alias: '{alias}'")]
    RefHasAlias {
        /// The ref being deleted.
        name: String,
        /// An alias of it.
        alias: String,
    },
    /// Content of a repository mode rostree cannot read yet.
    #[error("Reading {mode} repositories is not supported yet")]
    ReadUnsupported {
        /// The repository's mode.
        mode: RepoMode,
    },
    /// A repository mode rostree refuses to write (upstream too).
    #[error("Writing to {mode} repositories is not supported")]
    WriteUnsupported {
        /// The repository's mode.
        mode: RepoMode,
    },
    /// Metadata given to write that is not a valid object of its type.
    #[error("Refusing to write invalid {objtype} object: {source}")]
    InvalidMetadataObject {
        /// The object's type.
        objtype: ObjectType,
        /// The name it was to be stored under.
        checksum: Checksum,
        /// Why it does not decode.
        #[source]
        source: rostree_core::gvariant::Error,
    },
    /// A content object's header (mode, xattrs, symlink target) that is not valid.
    #[error("Refusing to write content object: {source}")]
    InvalidContentHeader {
        /// The name it was to be stored under, when known before it is hashed.
        checksum: Option<Checksum>,
        /// What is wrong.
        #[source]
        source: rostree_core::object::ObjectError,
    },
    /// A content object a bare-user-only repository cannot hold: setuid, setgid, sticky or
    /// world-writable.
    #[error(
        "{}Content object {checksum}: invalid mode 0{mode:o} with bits 0{bits:04o}",
        if *writing { "Writing content object: " } else { "" }
    )]
    InvalidContentMode {
        /// The object.
        checksum: Checksum,
        /// Its mode.
        mode: u32,
        /// The bits that are not allowed.
        bits: u32,
        /// Whether it was refused while being written into the repository (upstream's
        /// message then begins `Writing content object: `).
        writing: bool,
    },
    /// A file whose bytes no longer hashed to the checksum computed before it was stored.
    #[error("{} changed while it was being committed", path.display())]
    ChangedWhileCommitted {
        /// Where the object was being staged.
        path: PathBuf,
        /// The checksum it had.
        checksum: Checksum,
    },
    /// Options that cannot be used together (or with this repository), in upstream's words.
    #[error("{0}")]
    InvalidOptions(&'static str),
    /// A checkout target that exists, with no overwrite mode that allows replacing it.
    #[error("{}: File exists", path.display())]
    FileExists {
        /// The file, as the checkout shows it.
        path: PathBuf,
    },
    /// `--union-identical`: a file in the target that is not the object checked out there.
    #[error(
        "Hardlinking {} to {name}: File exists",
        checksum.relative_path(ObjectType::File, false)
    )]
    NotIdentical {
        /// The object.
        checksum: Checksum,
        /// The file's name in its directory.
        name: String,
        /// The file, as the checkout shows it.
        path: PathBuf,
    },
    /// A union checkout of a file where the target has a directory.
    #[error("Cannot replace directory with file: {}", path.display())]
    DirectoryInTheWay {
        /// The directory, as the checkout shows it.
        path: PathBuf,
    },
    /// A hardlink-only checkout into another file system than the repository's.
    #[error("Unable to do hardlink checkout across devices (src={src} destination={destination})")]
    CrossDevice {
        /// The checkout target.
        path: PathBuf,
        /// The repository's device.
        src: u64,
        /// The target's device.
        destination: u64,
    },
    /// A whiteout file (`.wh.NAME`, `.ostree-wh.NAME`) naming nothing removable.
    #[error("Invalid whiteout '{}'", path.display())]
    InvalidWhiteout {
        /// The whiteout file, as the checkout shows it.
        path: PathBuf,
    },
    /// Directories nested deeper than [`rostree_core::object::MAX_TREE_DEPTH`] levels.
    #[error("{}", too_deep_message(*walk, path))]
    TooDeep {
        /// Where: a path in the commit, the directory being committed, or an archive's
        /// entry.
        path: PathBuf,
        /// What was walking the tree.
        walk: TreeWalk,
    },
    /// A path that names nothing in a tree.
    #[error("No such file or directory: {path}")]
    NoSuchPath {
        /// The path as far as it was walked (for a tree being committed, the missing
        /// component alone, as upstream names it).
        path: String,
    },
    /// A path that goes on below a file in a tree being committed.
    #[error("Not a directory: {path}")]
    NotADirectory {
        /// The path, up to the file.
        path: String,
    },
    /// A layer of a commit that puts a file where another layer has a directory.
    #[error("Can't replace directory with file: {name}")]
    FileOverDirectory {
        /// The entry's name.
        name: String,
    },
    /// A layer of a commit that puts a directory where another layer has a file.
    #[error("Can't replace file with directory: {name}")]
    DirectoryOverFile {
        /// The entry's name.
        name: String,
    },
    /// A file that is neither a regular file, a symlink nor a directory (a fifo, a device,
    /// a socket) in a tree being committed or compared.
    #[error("Not a regular file or symlink: {name}")]
    UnsupportedFileType {
        /// Its name (for an archive's entry, its path in the archive).
        name: String,
    },
    /// A symlink whose target is not UTF-8.
    #[error("Invalid UTF-8 in symlink target of {}", path.display())]
    NonUtf8SymlinkTarget {
        /// The symlink.
        path: PathBuf,
    },
    /// A file name that is not UTF-8 in a directory being committed.
    #[error("Invalid UTF-8 in filename {} under {}", name.to_string_lossy(), dir.display())]
    NonUtf8FileName {
        /// The name.
        name: std::ffi::OsString,
        /// The directory.
        dir: PathBuf,
    },
    /// `--keep-metadata` of a key the parent commit does not have.
    #[error("Missing metadata key '{key}' from commit '{commit}'")]
    MissingMetadataKey {
        /// The key.
        key: String,
        /// The parent commit.
        commit: Checksum,
    },
    /// An archive (tar, cpio) that could not be read.
    #[error("Reading tar {}: {source}", path.display())]
    ReadingArchive {
        /// The archive.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// An archive entry whose path climbs out of the tree (`..`).
    #[error("Invalid path {path:?} in tar {}", archive.display())]
    InvalidArchivePath {
        /// The entry's path.
        path: String,
        /// The archive.
        archive: PathBuf,
    },
    /// An archive's hard link to a file that did not come before it.
    #[error("Hard link to unknown file {target} in tar")]
    UnknownHardLinkTarget {
        /// The link's target.
        target: String,
        /// The archive.
        archive: PathBuf,
    },
    /// An archive (`export`) that could not be written.
    #[error("Writing tar: {source}")]
    WritingArchive {
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// `prune --delete-commit` of a commit a ref points at.
    #[error("Commit '{commit}' is referenced by '{name}'")]
    CommitReferenced {
        /// The commit.
        commit: Checksum,
        /// The ref.
        name: String,
    },
    /// A ref whose commit is not stored (nor partial).
    #[error(
        "Loading commit for ref {}: No such metadata object {commit}.commit",
        ref_shown(collection_id.as_deref(), name)
    )]
    RefCommitMissing {
        /// The ref's collection ID, for a collection ref.
        collection_id: Option<String>,
        /// The ref.
        name: String,
        /// The commit it points at.
        commit: Checksum,
    },
    /// A commit whose ref or collection bindings do not include what led to it.
    #[error("Commit {commit}: {source}")]
    InvalidBindings {
        /// The commit.
        commit: Checksum,
        /// What does not match.
        #[source]
        source: rostree_core::object::BindingError,
    },
    /// `fsck --verify-back-refs`: a ref a commit binds to that does not exist.
    #[error(
        "{} in bindings for commit {commit} does not exist",
        binding_shown(collection_id.as_deref(), name)
    )]
    BoundRefMissing {
        /// The commit.
        commit: Checksum,
        /// The collection ID it binds to, if any.
        collection_id: Option<String>,
        /// The ref.
        name: String,
    },
    /// `fsck --verify-back-refs`: a ref a commit binds to that points at another commit.
    #[error(
        "{} in bindings for commit {commit} does not resolve to that commit",
        binding_shown(collection_id.as_deref(), name)
    )]
    BoundRefMismatch {
        /// The commit.
        commit: Checksum,
        /// The collection ID it binds to, if any.
        collection_id: Option<String>,
        /// The ref.
        name: String,
        /// The commit the ref points at.
        target: Checksum,
    },
    /// A static delta that does not exist.
    #[error("Can't find delta {name}")]
    DeltaNotFound {
        /// The delta.
        name: crate::deltas::DeltaName,
    },
    /// A `--tar-pathname-filter` that is not `REGEX,REPLACEMENT` with a valid regex.
    #[error("{}", match source {
        None => "Missing ',' in --tar-pathname-filter".to_owned(),
        Some(e) => format!("--tar-pathname-filter: {e}"),
    })]
    InvalidTarFilter {
        /// The filter as given.
        spec: String,
        /// Why the regex was refused (none: no comma).
        #[source]
        source: Option<regex::Error>,
    },
    /// A tar entry's path that is not UTF-8.
    #[error("Invalid UTF-8 in a path in tar {archive}")]
    NonUtf8ArchivePath {
        /// The archive, as shown.
        archive: String,
    },
    /// A tar link entry (`kind`: "symlink" or "hardlink") without a target.
    #[error("{kind} without target in tar: {path}")]
    LinkWithoutTarget {
        /// What kind of link.
        kind: &'static str,
        /// The entry's path.
        path: String,
    },
    /// A tar link entry whose target is not UTF-8.
    #[error("Invalid UTF-8 in {kind} target of {path}")]
    NonUtf8LinkTarget {
        /// What kind of link.
        kind: &'static str,
        /// The entry's path.
        path: String,
    },
    /// A setting of a remote being added that cannot be written to a key file.
    #[error("Remote \"{remote}\": {key}: {source}")]
    InvalidRemoteSetting {
        /// The remote.
        remote: String,
        /// The key.
        key: String,
        /// Why (boxed: it is large, and rare).
        #[source]
        source: Box<rostree_core::keyfile::KeyFileError>,
    },
    /// fsck found a problem, and was not asked to go on (`--all`): upstream's line for it.
    #[error("{report}")]
    FsckFailed {
        /// The problem, in upstream's words.
        report: String,
    },
    /// A line of a `--statoverride` file without the space between mode and path.
    #[error("Malformed statoverride file (no space found)")]
    InvalidStatoverride {
        /// The line.
        line: String,
    },
    /// The worker threads of an operation could not be started.
    #[error("Starting worker threads: {source}")]
    Threads {
        /// Why.
        #[source]
        source: rayon::ThreadPoolBuildError,
    },
    /// A commit of nothing (no directory, tree or archive gave a root).
    #[error("Can't commit an empty tree")]
    EmptyTree,
    /// `--bootable` for a tree without a kernel.
    #[error("Failed to find kernel in /usr/lib/modules")]
    KernelNotFound,
    /// A checkout target whose name is not UTF-8.
    #[error("Invalid UTF-8 in checkout target")]
    NonUtf8Target {
        /// The target.
        path: PathBuf,
    },
    /// A file name a tree may not hold (empty, `.`, `..`, with a `/`), in upstream's words.
    #[error("{reason}")]
    InvalidFileName {
        /// The name.
        name: String,
        /// Why, as upstream words it.
        reason: String,
    },
    /// A path in a commit that goes on below a file (upstream's words name nothing more).
    #[error("Not a directory")]
    PathBelowFile {
        /// The path, up to the file.
        path: String,
    },
    /// A path in a commit whose symlinks lead round in a loop (or through too many links).
    #[error("Too many levels of symbolic links: {path}")]
    SymlinkLoop {
        /// The path as the last link made it.
        path: String,
    },
    /// A checksum given as text that is not one, in upstream's words.
    #[error(transparent)]
    InvalidChecksum(#[from] rostree_core::InvalidRev),
    /// A file name in a directory being compared that is not UTF-8.
    #[error("Invalid UTF-8 in file name {name:?}")]
    NonUtf8DiffName {
        /// The name.
        name: std::ffi::OsString,
    },
    /// A failure a test asked for through the environment (as upstream's
    /// `OSTREE_REPO_TEST_ERROR=pre-commit`).
    #[error("{0}")]
    InjectedFailure(&'static str),
    /// A `summary` file that does not decode.
    #[error("Invalid summary file: {source}")]
    InvalidSummary {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rostree_core::object::ObjectError,
    },
}

/// What was walking a tree that went deeper than allowed ([`Error::TooDeep`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TreeWalk {
    /// A checkout (the path is in the commit).
    Checkout,
    /// A commit of a directory (the path is on disk).
    Commit,
    /// A commit of an archive (the path is the entry's).
    Archive,
}

fn too_deep_message(walk: TreeWalk, path: &std::path::Path) -> String {
    let max = rostree_core::object::MAX_TREE_DEPTH;
    let path = path.display();
    match walk {
        TreeWalk::Checkout => format!("Directories nested too deeply at {path}"),
        TreeWalk::Commit => format!("Directories nested deeper than {max} levels at {path}"),
        TreeWalk::Archive => format!("Path nested deeper than {max} levels in tar: {path}"),
    }
}

/// A ref as fsck names it: `(COLLECTION, REF)` for a collection ref.
fn ref_shown(collection_id: Option<&str>, name: &str) -> String {
    match collection_id {
        Some(id) => format!("({id}, {name})"),
        None => name.to_owned(),
    }
}

/// A ref a commit binds to, as upstream's fsck names it.
fn binding_shown(collection_id: Option<&str>, name: &str) -> String {
    match collection_id {
        Some(id) => format!("Collection\u{2013}ref ({id}, {name})"),
        None => format!("Ref \u{2018}{name}\u{2019}"),
    }
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

#[cfg(test)]
mod tests;
