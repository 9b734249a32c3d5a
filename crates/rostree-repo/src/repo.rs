//! Opening, creating and reading a repository.
//!
//! ```text
//! repo/
//! ├── config                 [core] repo_version=1, mode=...
//! ├── .lock                  OFD lock (fcntl F_OFD_SETLK, as upstream): shared while
//! │                          writing, exclusive for prune
//! ├── objects/ab/cdef….{commit,dirtree,dirmeta,file,filez,commitmeta,...}
//! ├── refs/heads/<ref>       64 hex digits + "\n"; "/" in a ref makes subdirectories
//! ├── refs/remotes/<remote>/<ref>
//! ├── refs/mirrors/<collection-id>/<ref>
//! ├── state/<commit>.commitpartial
//! ├── tmp/                   rostree-staging-* directories of open transactions;
//! │                          rostree-lock-turnstile (a waiting prune holds it); cache/
//! └── extensions/
//! ```

use std::collections::BTreeMap;
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cap_std::fs::{Dir, DirBuilder, File, OpenOptions};
use cap_std::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use rostree_core::ghash::{HashOrder, str_hash};
use rostree_core::keyfile::KeyFile;
use rostree_core::object::{
    Commit, CommitRef, DirMeta, DirTreeRef, FileHeader, Xattrs, parse_archive_header,
};
use rostree_core::{Checksum, ObjectType, refname};

use crate::content::{INFLATE_AT_ONCE, Inflater, Payload, read_archive_header};
use crate::error::{Error, IoContext, Result};
use crate::syscalls::LockKind;
use crate::{RepoMode, sys};

/// Options for [`Repo::init`].
#[derive(Clone, Debug)]
pub struct InitOptions {
    /// Storage mode.
    pub mode: RepoMode,
    /// `core.collection-id`, if any.
    pub collection_id: Option<String>,
}

impl Default for InitOptions {
    fn default() -> Self {
        InitOptions {
            mode: RepoMode::Bare,
            collection_id: None,
        }
    }
}

/// An open repository.
#[derive(Debug)]
pub struct Repo {
    path: PathBuf,
    dir: Dir,
    objects: Dir,
    mode: RepoMode,
    config: KeyFile,
    fsync: bool,
    /// `core.disable-xattrs`: extended attributes are neither read when committing nor
    /// read back from bare objects (upstream's switch for file systems without them).
    disable_xattrs: bool,
    /// `core.parent`: a repository whose objects, refs and remotes this one also sees.
    parent: Option<Box<Repo>>,
}

/// How deep `core.parent` chains may go (a loop of parents must not recurse forever).
const MAX_PARENT_DEPTH: usize = 16;

/// Archive objects up to this size are read whole (most are: a tree's files are small).
const READ_AT_ONCE: u64 = 256 << 10;

/// Decodes a `.filez` object (as archive repos store content, and as HTTP remotes serve it):
/// its header and its whole payload. The size a header claims is bounded by what DEFLATE can
/// expand to, so a hostile header cannot make this allocate without limit.
pub fn decode_filez(data: &[u8]) -> std::result::Result<(FileHeader, Vec<u8>), String> {
    let (archive, compressed) = parse_archive_header(data).map_err(|e| e.to_string())?;
    if archive.header.is_symlink() {
        return Ok((archive.header, Vec::new()));
    }
    let payload =
        crate::deflate::inflate_exact(compressed, archive.size).map_err(|e| e.to_string())?;
    Ok((archive.header, payload))
}

/// Parses a stored commit, naming it when it does not parse.
pub(crate) fn parse_commit<'a>(data: &'a [u8], checksum: &Checksum) -> Result<CommitRef<'a>> {
    CommitRef::parse(data).map_err(|e| Error::Corrupt {
        objtype: ObjectType::Commit,
        checksum: *checksum,
        reason: e.to_string(),
    })
}

/// Parses a stored dirtree, naming it when it does not parse.
pub(crate) fn parse_dirtree<'a>(data: &'a [u8], checksum: &Checksum) -> Result<DirTreeRef<'a>> {
    DirTreeRef::parse(data).map_err(|e| Error::Corrupt {
        objtype: ObjectType::DirTree,
        checksum: *checksum,
        reason: e.to_string(),
    })
}

/// A local or remote ref, as `ostree refs` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedRef {
    /// The name listed: `name`, or `remote:name`.
    pub shown: String,
    /// Where it is stored.
    pub kind: RefKind,
    /// Its name under that kind.
    pub name: String,
    /// The commit it points to.
    pub commit: Checksum,
}

impl Repo {
    /// Local refs, then each remote's, in directory order: the order upstream inserts them
    /// into the table it lists refs from.
    pub fn list_all_refs_unsorted(&self) -> Result<Vec<ListedRef>> {
        let mut out = Vec::new();
        // Both directories are part of a repository: upstream fails without them.
        for required in ["refs/heads", "refs/remotes"] {
            self.dir.open_dir(required).map_err(|e| Error::Io {
                op: "opendir",
                path: required.into(),
                source: e,
            })?;
        }
        for (name, commit) in self.list_refs_unsorted(&RefKind::Local)? {
            out.push(ListedRef {
                shown: name.clone(),
                kind: RefKind::Local,
                name,
                commit,
            });
        }
        for remote in self.list_ref_remotes()? {
            let kind = RefKind::Remote(remote.clone());
            for (name, commit) in self.list_refs_unsorted(&kind)? {
                out.push(ListedRef {
                    shown: format!("{remote}:{name}"),
                    kind: kind.clone(),
                    name,
                    commit,
                });
            }
        }
        Ok(out)
    }

    /// [`Repo::list_all_refs_unsorted`] in the order upstream walks that table (GLib hash
    /// order of the listed names), so that checks stop at the same ref as upstream's.
    pub fn list_all_refs_upstream_order(&self) -> Result<Vec<ListedRef>> {
        let mut table = HashOrder::new();
        for r in self.list_all_refs_unsorted()? {
            let hash = str_hash(r.shown.as_bytes());
            table.insert(r.shown.clone(), r, hash);
        }
        Ok(table.into_entries().into_iter().map(|(_, r)| r).collect())
    }
}

/// A held lock on the repo's `.lock` (an open-file-description lock, as upstream takes);
/// released on drop.
#[derive(Debug)]
pub struct RepoLock {
    _file: File,
    /// An exclusive lock also holds the turnstile.
    _turnstile: Option<File>,
    shared: bool,
}

impl Drop for RepoLock {
    fn drop(&mut self) {
        if self.shared {
            SHARED_LOCKS_HELD.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Shared repo locks this process holds (in any repo).
static SHARED_LOCKS_HELD: AtomicUsize = AtomicUsize::new(0);

/// Where a waiting prune stops new rostree writers (upstream's writers do not look).
const TURNSTILE: &str = "tmp/rostree-lock-turnstile";

/// Whether a ref lives locally, under a remote, or in a collection mirror.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RefKind {
    /// `refs/heads/<name>`.
    Local,
    /// `refs/remotes/<remote>/<name>`.
    Remote(String),
    /// `refs/mirrors/<collection-id>/<name>`.
    Mirror(String),
}

impl RefKind {
    fn dir(&self) -> PathBuf {
        match self {
            RefKind::Local => PathBuf::from("refs/heads"),
            RefKind::Remote(r) => Path::new("refs/remotes").join(r),
            RefKind::Mirror(c) => Path::new("refs/mirrors").join(c),
        }
    }
}

impl Repo {
    /// Creates a repository in `dir` (which may already exist and be empty). `path` is only
    /// used in messages.
    pub fn init(dir: Dir, path: impl Into<PathBuf>, options: &InitOptions) -> Result<Repo> {
        let path = path.into();
        if dir.try_exists("config").unwrap_or(false) && dir.try_exists("objects").unwrap_or(false) {
            // Upstream leaves an existing repository untouched, whatever mode is asked for.
            return Repo::open(dir, path);
        }
        let mut builder = DirBuilder::new();
        builder.mode(0o755);
        for sub in [
            "objects",
            "tmp",
            "tmp/cache",
            "extensions",
            "state",
            "refs",
            "refs/heads",
            "refs/mirrors",
            "refs/remotes",
        ] {
            match dir.create_dir_with(sub, &builder) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e).ctx("creating", path.join(sub)),
            }
        }
        let mut config = String::from("[core]\nrepo_version=1\n");
        config.push_str(&format!("mode={}\n", options.mode.as_str()));
        if let Some(id) = &options.collection_id {
            refname::validate_collection_id(id)?;
            config.push_str(&format!("collection-id={id}\n"));
        }
        write_atomic(&dir, Path::new("config"), config.as_bytes(), 0o644, true)
            .ctx("writing", path.join("config"))?;
        Repo::open(dir, path)
    }

    /// Opens the repository at `dir`.
    pub fn open(dir: Dir, path: impl Into<PathBuf>) -> Result<Repo> {
        Self::open_at_depth(dir, path.into(), 0)
    }

    fn open_at_depth(dir: Dir, path: PathBuf, depth: usize) -> Result<Repo> {
        let text = dir.read_to_string("config").map_err(|e| {
            Error::Config(format!(
                "Couldn't open repository {}: reading config: {e}",
                path.display()
            ))
        })?;
        let config = KeyFile::parse(&text)
            .map_err(|e| Error::Config(format!("Parsing {}/config: {e}", path.display())))?;
        let version = config
            .get_string("core", "repo_version")
            .ok()
            .flatten()
            .unwrap_or_default();
        if version != "1" {
            return Err(Error::Config(format!(
                "Invalid repository version '{version}' in {}/config",
                path.display()
            )));
        }
        let mode_name = config
            .get_string("core", "mode")
            .ok()
            .flatten()
            .unwrap_or_else(|| "bare".to_owned());
        let mode: RepoMode = mode_name.parse().map_err(Error::Config)?;
        let fsync = config
            .get_bool("core", "fsync")
            .ok()
            .flatten()
            .unwrap_or(true);
        let disable_xattrs = config
            .get_bool("core", "disable-xattrs")
            .map_err(|e| Error::Config(format!("Parsing {}/config: {e}", path.display())))?
            .unwrap_or(false);
        let objects = dir
            .open_dir("objects")
            .ctx("opening", path.join("objects"))?;
        // Upstream makes `tmp/` whenever it opens a repository it can write; one that has
        // lost it works again. A read-only one is read without.
        match dir.create_dir("tmp") {
            Ok(()) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::AlreadyExists
                    || e.kind() == std::io::ErrorKind::PermissionDenied
                    || e.raw_os_error() == Some(rustix::io::Errno::ROFS.raw_os_error()) => {}
            Err(e) => return Err(e).ctx("creating", path.join("tmp")),
        }
        let parent = match config
            .get_string("core", "parent")
            .map_err(|e| Error::Config(format!("Parsing {}/config: {e}", path.display())))?
        {
            Some(parent) if !parent.is_empty() => {
                if depth >= MAX_PARENT_DEPTH {
                    return Err(Error::Config(format!(
                        "{}: core.parent chains deeper than {MAX_PARENT_DEPTH} repositories",
                        path.display()
                    )));
                }
                // The parent is named by a path in the config, so it is opened from the
                // file system as a whole, as upstream does.
                let parent_path = PathBuf::from(parent);
                let parent_dir = Dir::open_ambient_dir(&parent_path, cap_std::ambient_authority())
                    .ctx("opening parent repository", &parent_path)?;
                Some(Box::new(Repo::open_at_depth(
                    parent_dir,
                    parent_path,
                    depth + 1,
                )?))
            }
            _ => None,
        };
        Ok(Repo {
            path,
            dir,
            objects,
            mode,
            config,
            fsync,
            disable_xattrs,
            parent,
        })
    }

    /// The repository of `core.parent`, if the config names one.
    pub fn parent(&self) -> Option<&Repo> {
        self.parent.as_deref()
    }

    /// Whether `core.disable-xattrs` is set.
    pub fn xattrs_disabled(&self) -> bool {
        self.disable_xattrs
    }

    /// The path given at open, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The repository root handle.
    pub fn dir(&self) -> &Dir {
        &self.dir
    }

    /// The `objects/` handle.
    pub fn objects_dir(&self) -> &Dir {
        &self.objects
    }

    /// The storage mode.
    pub fn mode(&self) -> RepoMode {
        self.mode
    }

    /// The parsed config.
    pub fn config(&self) -> &KeyFile {
        &self.config
    }

    /// Whether writes are made durable (`[core] fsync`, default true).
    pub fn fsync_enabled(&self) -> bool {
        self.fsync
    }

    /// Turns durability off for this handle (`--disable-fsync`).
    pub fn disable_fsync(&mut self) {
        self.fsync = false;
    }

    /// Replaces the config file atomically with `config` and keeps it.
    pub fn write_config(&mut self, config: KeyFile) -> Result<()> {
        write_atomic(
            &self.dir,
            Path::new("config"),
            config.to_data().as_bytes(),
            0o644,
            self.fsync,
        )
        .ctx("writing", self.path.join("config"))?;
        self.config = config;
        Ok(())
    }

    fn open_lock_file(&self, rel: &str) -> Result<File> {
        self.dir
            .open_with(
                rel,
                OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .mode(0o640),
            )
            .ctx("opening", self.path.join(rel))
    }

    /// Waits for `kind` of lock on `file`, up to upstream's `lock-timeout-secs` (default
    /// 300; -1 waits for as long as it takes).
    fn wait_for_lock(&self, file: &File, kind: LockKind) -> Result<()> {
        let timeout = self
            .config
            .get_raw("core", "lock-timeout-secs")
            .map(|v| v.trim().parse::<i64>())
            .transpose()
            .map_err(|_| Error::Config("Invalid core.lock-timeout-secs".into()))?
            .unwrap_or(300);
        let deadline = u64::try_from(timeout)
            .ok()
            .and_then(|secs| Instant::now().checked_add(Duration::from_secs(secs)));
        loop {
            match crate::syscalls::ofd_lock(file, kind) {
                Ok(()) => return Ok(()),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        && deadline.is_none_or(|d| Instant::now() < d) =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    return Err(Error::Config(format!(
                        "Locking repo {} timed out after {timeout} seconds",
                        self.path.display()
                    )));
                }
                Err(e) => return Err(e).ctx("locking", self.path.join(".lock")),
            }
        }
    }

    /// Takes the shared lock (held while a transaction writes). A prune waiting for the
    /// exclusive lock goes first: new writers queue behind it at the turnstile, so that a
    /// steady stream of overlapping transactions cannot starve it.
    pub fn lock_shared(&self) -> Result<RepoLock> {
        // A process that already holds a shared lock takes another without queueing: it
        // would otherwise wait for a prune that waits for it.
        let reentrant = SHARED_LOCKS_HELD.load(Ordering::SeqCst) > 0;
        let turnstile = if reentrant {
            None
        } else {
            let file = self.open_lock_file(TURNSTILE)?;
            self.wait_for_lock(&file, LockKind::Shared)?;
            Some(file)
        };
        let file = self.open_lock_file(".lock")?;
        self.wait_for_lock(&file, LockKind::Shared)?;
        drop(turnstile);
        SHARED_LOCKS_HELD.fetch_add(1, Ordering::SeqCst);
        Ok(RepoLock {
            _file: file,
            _turnstile: None,
            shared: true,
        })
    }

    /// Takes the exclusive lock (held while objects are deleted): first the turnstile, which
    /// stops new rostree writers, then `.lock` once the running transactions are done.
    pub fn lock_exclusive(&self) -> Result<RepoLock> {
        let turnstile = self.open_lock_file(TURNSTILE)?;
        self.wait_for_lock(&turnstile, LockKind::Exclusive)?;
        let file = self.open_lock_file(".lock")?;
        self.wait_for_lock(&file, LockKind::Exclusive)?;
        Ok(RepoLock {
            _file: file,
            _turnstile: Some(turnstile),
            shared: false,
        })
    }

    /// The path of an object relative to the repo, for messages.
    pub fn object_path(&self, objtype: ObjectType, checksum: &Checksum) -> PathBuf {
        Path::new("objects").join(checksum.relative_path(objtype, self.mode.is_archive()))
    }

    /// Whether the object is stored.
    pub fn has_object(&self, objtype: ObjectType, checksum: &Checksum) -> Result<bool> {
        if self.has_object_here(objtype, checksum)? {
            return Ok(true);
        }
        match &self.parent {
            Some(parent) => parent.has_object(objtype, checksum),
            None => Ok(false),
        }
    }

    /// Whether this repository itself (not its parent) holds the object.
    pub fn has_object_here(&self, objtype: ObjectType, checksum: &Checksum) -> Result<bool> {
        let rel = checksum.relative_path(objtype, self.mode.is_archive());
        match sys::lstat_at(&self.objects, rel.as_ref()) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e).ctx("checking", self.object_path(objtype, checksum)),
        }
    }

    /// Reads a metadata object's bytes, verifying they hash to its name (except commitmeta,
    /// which is named after its commit).
    pub fn load_metadata(&self, objtype: ObjectType, checksum: &Checksum) -> Result<Vec<u8>> {
        self.load_metadata_checked(objtype, checksum, true)
    }

    /// [`Repo::load_metadata`] without the hash check, for what trusts this repository as
    /// upstream trusts a local one (a `pull-local` without `--untrusted`).
    pub fn load_metadata_trusted(
        &self,
        objtype: ObjectType,
        checksum: &Checksum,
    ) -> Result<Vec<u8>> {
        self.load_metadata_checked(objtype, checksum, false)
    }

    fn load_metadata_checked(
        &self,
        objtype: ObjectType,
        checksum: &Checksum,
        verify: bool,
    ) -> Result<Vec<u8>> {
        match (
            self.load_metadata_here(objtype, checksum, verify),
            &self.parent,
        ) {
            (Err(Error::MissingObject { .. }), Some(parent)) => {
                parent.load_metadata_checked(objtype, checksum, verify)
            }
            (result, _) => result,
        }
    }

    fn load_metadata_here(
        &self,
        objtype: ObjectType,
        checksum: &Checksum,
        verify: bool,
    ) -> Result<Vec<u8>> {
        let rel = checksum.relative_path(objtype, self.mode.is_archive());
        let data = match self.objects.read(&rel) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::MissingObject {
                    objtype,
                    checksum: *checksum,
                });
            }
            Err(e) => return Err(e).ctx("reading", self.object_path(objtype, checksum)),
        };
        if verify && objtype != ObjectType::CommitMeta {
            let actual = Checksum::digest(&data);
            if actual != *checksum {
                return Err(Error::ChecksumMismatch {
                    objtype,
                    expected: *checksum,
                    actual,
                });
            }
        }
        Ok(data)
    }

    /// Where a commit's partial mark lives: `state/<commit>.commitpartial`, empty when a
    /// pull left the commit's tree incomplete, `f` when fsck found it damaged.
    pub fn partial_mark_path(commit: &Checksum) -> PathBuf {
        PathBuf::from(format!("state/{commit}.commitpartial"))
    }

    /// Whether the commit is marked partial (its tree may be incomplete).
    pub fn commit_is_partial(&self, commit: &Checksum) -> bool {
        self.dir.exists(Self::partial_mark_path(commit))
    }

    /// Marks the commit partial (a pull is about to fetch its tree, or fetched only it).
    pub fn mark_commit_partial(&self, commit: &Checksum) -> Result<()> {
        let path = Self::partial_mark_path(commit);
        self.dir
            .write(&path, b"")
            .ctx("writing", self.path.join(&path))
    }

    /// Removes the commit's partial mark (absent is fine).
    pub fn clear_commit_partial(&self, commit: &Checksum) -> Result<()> {
        let path = Self::partial_mark_path(commit);
        match self.dir.remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).ctx("deleting", self.path.join(&path)),
        }
    }

    /// Reads the detached metadata of a commit, if any.
    pub fn load_commitmeta(&self, commit: &Checksum) -> Result<Option<Vec<u8>>> {
        match self.load_metadata(ObjectType::CommitMeta, commit) {
            Ok(d) => Ok(Some(d)),
            Err(Error::MissingObject { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Loads and validates a commit.
    pub fn load_commit(&self, checksum: &Checksum) -> Result<Commit> {
        let data = self.load_metadata(ObjectType::Commit, checksum)?;
        CommitRef::parse(&data)
            .and_then(|c| c.to_owned())
            .map_err(|e| Error::Corrupt {
                objtype: ObjectType::Commit,
                checksum: *checksum,
                reason: e.to_string(),
            })
    }

    /// Loads and validates a dirmeta.
    pub fn load_dirmeta(&self, checksum: &Checksum) -> Result<DirMeta> {
        let data = self.load_metadata(ObjectType::DirMeta, checksum)?;
        DirMeta::from_bytes(&data).map_err(|e| Error::Corrupt {
            objtype: ObjectType::DirMeta,
            checksum: *checksum,
            reason: e.to_string(),
        })
    }

    /// Opens a content object: its header and a payload to read. The content is not
    /// re-hashed here; fsck does that.
    pub fn open_content(&self, checksum: &Checksum) -> Result<(FileHeader, Payload)> {
        match (self.open_content_here(checksum), &self.parent) {
            (Err(Error::MissingObject { .. }), Some(parent)) => parent.open_content(checksum),
            (result, _) => result,
        }
    }

    fn open_content_here(&self, checksum: &Checksum) -> Result<(FileHeader, Payload)> {
        let rel = checksum.relative_path(ObjectType::File, self.mode.is_archive());
        let path = || self.object_path(ObjectType::File, checksum);
        let missing = || Error::MissingObject {
            objtype: ObjectType::File,
            checksum: *checksum,
        };
        let corrupt = |reason: String| Error::Corrupt {
            objtype: ObjectType::File,
            checksum: *checksum,
            reason,
        };
        let not_found = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
        match self.mode {
            RepoMode::Archive => {
                let mut file = match self.objects.open(&rel) {
                    Ok(f) => f,
                    Err(e) if not_found(&e) => return Err(missing()),
                    Err(e) => return Err(e).ctx("reading", path()),
                };
                let len = file.metadata().ctx("stat", path())?.len();
                if len <= READ_AT_ONCE {
                    let mut data = Vec::with_capacity(len as usize);
                    file.read_to_end(&mut data).ctx("reading", path())?;
                    let (archive, compressed) =
                        parse_archive_header(&data).map_err(|e| corrupt(e.to_string()))?;
                    if archive.header.is_symlink() {
                        return Ok((archive.header, Payload::None));
                    }
                    if archive.size <= INFLATE_AT_ONCE {
                        let out = crate::deflate::inflate_exact(compressed, archive.size)
                            .map_err(|e| corrupt(e.to_string()))?;
                        return Ok((archive.header, Payload::Bytes(std::io::Cursor::new(out))));
                    }
                    crate::deflate::check_ratio(compressed.len() as u64, archive.size)
                        .map_err(|e| corrupt(e.to_string()))?;
                    let start = data.len() - compressed.len();
                    data.drain(..start);
                    let inflater = Inflater::new(
                        Box::new(std::io::Cursor::new(data)) as Box<dyn BufRead + Send>,
                        archive.size,
                    );
                    return Ok((archive.header, Payload::Inflating(Box::new(inflater))));
                }
                let mut reader = std::io::BufReader::with_capacity(128 << 10, file);
                let archive =
                    read_archive_header(&mut reader).map_err(|e| corrupt(e.to_string()))?;
                if archive.header.is_symlink() {
                    return Ok((archive.header, Payload::None));
                }
                crate::deflate::check_ratio(len, archive.size)
                    .map_err(|e| corrupt(e.to_string()))?;
                let inflater =
                    Inflater::new(Box::new(reader) as Box<dyn BufRead + Send>, archive.size);
                Ok((archive.header, Payload::Inflating(Box::new(inflater))))
            }
            RepoMode::BareSplitXattrs => Err(Error::Config(
                "Reading bare-split-xattrs repositories is not supported yet".into(),
            )),
            RepoMode::BareUser => {
                // bare-user objects are always regular files; anything else (a fifo would
                // block the open) is corruption.
                match sys::lstat_at(&self.objects, rel.as_ref()) {
                    Ok(st) if st.st_mode & 0o170000 == 0o100000 => {}
                    Ok(_) => return Err(corrupt("not a regular file".into())),
                    Err(e) if not_found(&e) => return Err(missing()),
                    Err(e) => return Err(e).ctx("stat", path()),
                }
                let mut file = match self.objects.open(&rel) {
                    Ok(f) => f,
                    Err(e) if not_found(&e) => return Err(missing()),
                    Err(e) => return Err(e).ctx("opening", path()),
                };
                let meta = sys::fd_xattr(&file, "user.ostreemeta")
                    .ctx("reading xattrs of", path())?
                    .ok_or_else(|| corrupt("missing user.ostreemeta xattr".into()))?;
                let meta = DirMeta::from_bytes(&meta).map_err(|e| corrupt(e.to_string()))?;
                let mut header = FileHeader {
                    uid: meta.uid,
                    gid: meta.gid,
                    mode: meta.mode,
                    rdev: 0,
                    symlink_target: String::new(),
                    xattrs: meta.xattrs,
                };
                if header.is_symlink() {
                    let mut target = Vec::new();
                    file.read_to_end(&mut target).ctx("reading", path())?;
                    if target.last() == Some(&0) {
                        target.pop();
                    }
                    header.symlink_target = String::from_utf8(target)
                        .map_err(|_| corrupt("symlink target is not UTF-8".into()))?;
                    return Ok((header, Payload::None));
                }
                Ok((header, Payload::File(file)))
            }
            RepoMode::Bare | RepoMode::BareUserOnly => {
                let st = match sys::lstat_at(&self.objects, rel.as_ref()) {
                    Ok(st) => st,
                    Err(e) if not_found(&e) => return Err(missing()),
                    Err(e) => return Err(e).ctx("reading", path()),
                };
                if !matches!(st.st_mode & 0o170000, 0o100000 | 0o120000) {
                    return Err(corrupt("neither a regular file nor a symlink".into()));
                }
                let bare = self.mode == RepoMode::Bare;
                let mut header = FileHeader {
                    uid: if bare { st.st_uid } else { 0 },
                    gid: if bare { st.st_gid } else { 0 },
                    mode: st.st_mode,
                    rdev: 0,
                    symlink_target: String::new(),
                    xattrs: Xattrs::new(),
                };
                if header.is_symlink() {
                    let target = rustix::fs::readlinkat(&self.objects, rel.as_str(), Vec::new())
                        .ctx("reading link", path())?;
                    header.symlink_target = target
                        .into_string()
                        .map_err(|_| corrupt("symlink target is not UTF-8".into()))?;
                    if bare && !self.disable_xattrs {
                        let (dir, name) = rel.split_at(2);
                        let sub = self.objects.open_dir(dir).ctx("opening", path())?;
                        header.xattrs = sys::link_xattrs(&sub, name[1..].as_ref())
                            .ctx("reading xattrs of", path())?;
                    }
                    return Ok((header, Payload::None));
                }
                let file = self.objects.open(&rel).ctx("opening", path())?;
                if bare && !self.disable_xattrs {
                    header.xattrs = sys::fd_xattrs(&file).ctx("reading xattrs of", path())?;
                }
                Ok((header, Payload::File(file)))
            }
        }
    }

    /// A content object's header and payload size, without reading the payload.
    pub fn file_info(&self, checksum: &Checksum) -> Result<(FileHeader, u64)> {
        if self.mode != RepoMode::Archive {
            let (header, payload) = self.open_content(checksum)?;
            let size = match payload {
                Payload::File(f) => f
                    .metadata()
                    .ctx("stat", self.object_path(ObjectType::File, checksum))?
                    .len(),
                _ => 0,
            };
            return Ok((header, size));
        }
        let rel = checksum.relative_path(ObjectType::File, true);
        let path = || self.object_path(ObjectType::File, checksum);
        let mut file = match self.objects.open(&rel) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(parent) = &self.parent {
                    return parent.file_info(checksum);
                }
                return Err(Error::MissingObject {
                    objtype: ObjectType::File,
                    checksum: *checksum,
                });
            }
            Err(e) => return Err(e).ctx("opening", path()),
        };
        let corrupt = |reason: String| Error::Corrupt {
            objtype: ObjectType::File,
            checksum: *checksum,
            reason,
        };
        let archive = read_archive_header(&mut file).map_err(|e| corrupt(e.to_string()))?;
        Ok((archive.header, archive.size))
    }

    /// Resolves a revision: a checksum, `REF`, `REMOTE:REF`, or any of those followed by `^`
    /// for the parent.
    pub fn resolve_rev(&self, rev: &str) -> Result<Checksum> {
        self.resolve_rev_optional(rev)?
            .ok_or_else(|| Error::RefNotFound(rev.to_owned()))
    }

    /// Like [`Repo::resolve_rev`], but `None` for a ref that does not exist.
    pub fn resolve_rev_optional(&self, rev: &str) -> Result<Option<Checksum>> {
        match (self.resolve_rev_here(rev)?, &self.parent) {
            (None, Some(parent)) => parent.resolve_rev_optional(rev),
            (found, _) => Ok(found),
        }
    }

    fn resolve_rev_here(&self, rev: &str) -> Result<Option<Checksum>> {
        // `REV^^^`: the base, then one parent per caret, in a loop (no recursion on input).
        let base = rev.trim_end_matches('^');
        let carets = rev.len() - base.len();
        if carets > 0 {
            let mut commit = self.resolve_rev(base)?;
            for _ in 0..carets {
                commit = self
                    .load_commit(&commit)?
                    .parent
                    .ok_or_else(|| Error::InvalidInput(format!("Commit {commit} has no parent")))?;
            }
            return Ok(Some(commit));
        }
        if let Ok(c) = Checksum::from_hex(rev) {
            return Ok(Some(c));
        }
        if rev
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            // Upstream takes a unique prefix of a stored commit's checksum before refs.
            let mut matches = self.commits_with_prefix(rev)?;
            if matches.len() > 1 {
                return Err(Error::InvalidInput(format!("Refspec {rev} not unique")));
            }
            if let Some(c) = matches.pop() {
                return Ok(Some(c));
            }
        }
        let spec = refname::parse_refspec(rev)?;
        if let Some(remote) = spec.remote {
            return self.read_ref(&RefKind::Remote(remote), &spec.name);
        }
        if let Some(c) = self.read_ref(&RefKind::Local, &spec.name)? {
            return Ok(Some(c));
        }
        // `origin/main` also finds refs/remotes/origin/main, and a bare name is looked for
        // under every remote, as upstream does.
        if let Some((remote, name)) = spec.name.split_once('/')
            && let Some(c) = self.read_ref(&RefKind::Remote(remote.to_owned()), name)?
        {
            return Ok(Some(c));
        }
        for remote in self.list_ref_remotes()? {
            if let Some(c) = self.read_ref(&RefKind::Remote(remote), &spec.name)? {
                return Ok(Some(c));
            }
        }
        Ok(None)
    }

    /// Stored commits whose hex checksum starts with `prefix`.
    pub fn commits_with_prefix(&self, prefix: &str) -> Result<Vec<Checksum>> {
        let mut out = Vec::new();
        if !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(out);
        }
        let dirs: Vec<String> = if prefix.len() >= 2 {
            vec![prefix[..2].to_owned()]
        } else {
            (0..=255u8)
                .map(|b| format!("{b:02x}"))
                .filter(|d| d.starts_with(prefix))
                .collect()
        };
        for dir in dirs {
            let sub = match self.objects.open_dir(&dir) {
                Ok(d) => d,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).ctx("opening", Path::new("objects").join(&dir)),
            };
            for entry in sub
                .entries()
                .ctx("listing", Path::new("objects").join(&dir))?
            {
                let entry = entry.ctx("listing", Path::new("objects").join(&dir))?;
                let name = entry.file_name();
                let Some(rest) = name.to_str().and_then(|n| n.strip_suffix(".commit")) else {
                    continue;
                };
                let hex = format!("{dir}{rest}");
                if hex.starts_with(prefix)
                    && let Ok(c) = Checksum::from_hex(&hex)
                {
                    out.push(c);
                }
            }
        }
        Ok(out)
    }

    /// Reads one ref file.
    pub fn read_ref(&self, kind: &RefKind, name: &str) -> Result<Option<Checksum>> {
        let path = kind.dir().join(name);
        match self.dir.read_to_string(&path) {
            Ok(text) => Checksum::from_hex(text.trim_end()).map(Some).map_err(|_| {
                Error::Config(format!("Invalid checksum in ref file {}", path.display()))
            }),
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    || e.kind() == std::io::ErrorKind::NotADirectory
                    || e.raw_os_error() == Some(rustix::io::Errno::ISDIR.raw_os_error()) =>
            {
                Ok(None)
            }
            Err(e) => Err(e).ctx("reading", path),
        }
    }

    /// `core.collection-id`, if set (a value that is not a string reads as unset).
    pub fn collection_id(&self) -> Option<String> {
        self.config()
            .get_string("core", "collection-id")
            .ok()
            .flatten()
    }

    /// Lists refs of one kind, by name.
    pub fn list_refs(&self, kind: &RefKind) -> Result<BTreeMap<String, Checksum>> {
        Ok(self.list_refs_unsorted(kind)?.into_iter().collect())
    }

    /// Lists refs of one kind in directory order (a depth-first walk in readdir order), the
    /// order upstream inserts them into the hash table it prints from.
    pub fn list_refs_unsorted(&self, kind: &RefKind) -> Result<Vec<(String, Checksum)>> {
        let mut out = Vec::new();
        let base = kind.dir();
        let dir = match self.dir.open_dir(&base) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e).ctx("opening", base),
        };
        self.collect_refs(&dir, &base, "", &mut out)?;
        Ok(out)
    }

    fn collect_refs(
        &self,
        dir: &Dir,
        base: &Path,
        prefix: &str,
        out: &mut Vec<(String, Checksum)>,
    ) -> Result<()> {
        for entry in dir.entries().ctx("listing", base.join(prefix))? {
            let entry = entry.ctx("listing", base.join(prefix))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let full = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            // Leftover temporary files and other names no ref can have are not refs.
            if refname::validate_ref(&name).is_err() {
                continue;
            }
            let ft = entry.file_type().ctx("stat", base.join(&full))?;
            if ft.is_dir() {
                let sub = dir.open_dir(&name).ctx("opening", base.join(&full))?;
                self.collect_refs(&sub, base, &full, out)?;
            } else if ft.is_file() || ft.is_symlink() {
                // A symlink is an alias and reads as the ref it points to. It is read from the
                // repository's root: its target climbs above the directory it sits in.
                let path = base.join(&full);
                let text = if ft.is_symlink() {
                    self.dir.read_to_string(&path)
                } else {
                    dir.read_to_string(&name)
                }
                .ctx("reading", &path)?;
                let c = Checksum::from_hex(text.trim_end()).map_err(|_| {
                    Error::Config(format!(
                        "Invalid checksum in ref file {}",
                        base.join(&full).display()
                    ))
                })?;
                out.push((full, c));
            }
        }
        Ok(())
    }

    /// Aliases: symlinks under `refs/heads/`, as (alias, target ref).
    pub fn list_aliases(&self) -> Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        let names = self.list_refs(&RefKind::Local)?;
        for name in names.keys() {
            let path = Path::new("refs/heads").join(name);
            if let Ok(target) = rustix::fs::readlinkat(&self.dir, &path, Vec::new()) {
                let target = target.to_string_lossy().into_owned();
                // Targets are relative to the alias's directory; upstream shows them without
                // the leading `../`.
                let shown = target.trim_start_matches("../").to_owned();
                out.insert(name.clone(), shown);
            }
        }
        Ok(out)
    }

    /// Makes `alias` a symlink to the local ref `target`.
    pub fn set_alias(&self, alias: &str, target: &str) -> Result<()> {
        refname::validate_ref(alias)?;
        refname::validate_ref(target)?;
        if self.read_ref(&RefKind::Local, target)?.is_none() {
            return Err(Error::RefNotFound(target.to_owned()));
        }
        let path = Path::new("refs/heads").join(alias);
        let depth = alias.matches('/').count();
        let link = format!("{}{target}", "../".repeat(depth));
        self.create_parents(&path)?;
        // Made aside and renamed over, so that an alias can be repointed.
        let tmp = Path::new("tmp").join(format!(
            "alias-{}-{}",
            std::process::id(),
            alias.replace('/', "_")
        ));
        let _ = self.dir.remove_file(&tmp);
        rustix::fs::symlinkat(link.as_str(), &self.dir, &tmp).ctx("creating alias", &tmp)?;
        rustix::fs::renameat(&self.dir, &tmp, &self.dir, &path).ctx("creating alias", &path)
    }

    /// The names of remotes that have refs under `refs/remotes/`.
    pub fn list_ref_remotes(&self) -> Result<Vec<String>> {
        self.subdir_names("refs/remotes")
    }

    /// The collection IDs that have refs under `refs/mirrors/`.
    pub fn list_ref_collections(&self) -> Result<Vec<String>> {
        self.subdir_names("refs/mirrors")
    }

    fn subdir_names(&self, path: &str) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let dir = match self.dir.open_dir(path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(names),
            Err(e) => return Err(e).ctx("opening", path),
        };
        for entry in dir.entries().ctx("listing", path)? {
            let entry = entry.ctx("listing", path)?;
            if entry.file_type().ctx("stat", path)?.is_dir() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        // Directory order, as upstream walks them.
        Ok(names)
    }

    /// Points a ref at `target` (or deletes it, for `None`), then regenerates the summary
    /// when the repository asks for that (`core.auto-update-summary`).
    pub fn set_ref(&self, kind: &RefKind, name: &str, target: Option<&Checksum>) -> Result<()> {
        self.set_ref_only(kind, name, target)?;
        crate::summary::maybe_regenerate(self)
    }

    /// Points a ref at `target`, or deletes it with `None`. Written atomically.
    /// [`Repo::set_ref`] without the summary (a transaction regenerates it once).
    pub(crate) fn set_ref_only(
        &self,
        kind: &RefKind,
        name: &str,
        target: Option<&Checksum>,
    ) -> Result<()> {
        refname::validate_ref(name)?;
        match kind {
            RefKind::Local => {}
            RefKind::Remote(remote) => refname::validate_remote(remote)?,
            RefKind::Mirror(id) => refname::validate_collection_id(id)?,
        }
        let path = kind.dir().join(name);
        match target {
            Some(c) => {
                self.create_parents(&path)?;
                // A directory in the way (left by refs `name/...` since deleted) goes, unless
                // it still holds refs, as upstream.
                if self.dir.symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                    if let Some(inner) = first_file_under(&self.dir, &path)? {
                        return Err(Error::InvalidInput(format!(
                            "Conflict: {name}/{inner} exists under {name} when attempting write"
                        )));
                    }
                    self.dir.remove_dir_all(&path).ctx("removing", &path)?;
                }
                write_atomic(
                    &self.dir,
                    &path,
                    format!("{c}\n").as_bytes(),
                    0o644,
                    self.fsync,
                )
                .ctx("writing", &path)
            }
            None => {
                if *kind == RefKind::Local
                    && let Some((alias, _)) = self
                        .list_aliases()?
                        .into_iter()
                        .find(|(a, t)| t == name && a != name)
                {
                    return Err(Error::InvalidInput(format!(
                        "Ref '{name}' has an active alias: '{alias}'"
                    )));
                }
                self.delete_ref_file(&path, name)
            }
        }
    }

    /// Creates the directories above a ref file (`a/b` in `refs/heads/a/b/c`).
    fn create_parents(&self, path: &Path) -> Result<()> {
        if let Some(parent) = path.parent() {
            let mut builder = DirBuilder::new();
            builder.recursive(true).mode(0o755);
            self.dir
                .create_dir_with(parent, &builder)
                .ctx("creating", parent)?;
        }
        Ok(())
    }

    fn delete_ref_file(&self, path: &Path, name: &str) -> Result<()> {
        match self.dir.remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(Error::RefNotFound(name.to_owned()))
            }
            Err(e) => Err(e).ctx("deleting", path),
        }
    }
}

/// Writes `data` to `path` in `dir` through a temporary file and a rename, so readers see the
/// old or the new content, never a mix.
pub(crate) fn write_atomic(
    dir: &Dir,
    path: &Path,
    data: &[u8],
    mode: u32,
    durable: bool,
) -> std::io::Result<()> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    // Unique per process and call, so that concurrent writers never share a temporary file;
    // the leading dot keeps it out of ref listings.
    let serial = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_file_name(format!(".{name}.tmp-{}-{serial}", std::process::id()));
    let result = (|| {
        let mut file = dir.open_with(
            &tmp,
            OpenOptions::new().write(true).create_new(true).mode(mode),
        )?;
        file.write_all(data)?;
        // The mode is meant exactly, whatever the umask.
        rustix::fs::fchmod(&file, rustix::fs::Mode::from_raw_mode(mode))?;
        if durable {
            file.sync_all()?;
        }
        drop(file);
        dir.rename(&tmp, dir, path)
    })();
    if result.is_err() {
        let _ = dir.remove_file(&tmp);
    }
    result
}

/// The first file (a ref) found below the directory `dir/path`, relative to it.
fn first_file_under(dir: &Dir, path: &Path) -> Result<Option<String>> {
    let sub = dir.open_dir(path).ctx("opening", path)?;
    for entry in sub.entries().ctx("reading", path)? {
        let entry = entry.ctx("reading", path)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().ctx("stat", path.join(&name))?.is_dir() {
            if let Some(inner) = first_file_under(&sub, Path::new(&name))? {
                return Ok(Some(format!("{name}/{inner}")));
            }
        } else {
            return Ok(Some(name));
        }
    }
    Ok(None)
}
