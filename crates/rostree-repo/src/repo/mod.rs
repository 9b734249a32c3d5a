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

use crate::config::{LockTimeout, RepoConfig};
use crate::content::{INFLATE_AT_ONCE, Inflater, Payload, read_archive_header};
use crate::error::{Error, IoContext, Result};
use crate::remotes_dir::RemotesDir;
use crate::syscalls::LockKind;
use crate::{RepoMode, sys};

mod lock;
mod loose;
mod objects;
mod refs;

pub use lock::RepoLock;
pub use objects::decode_filez;
pub(crate) use objects::{parse_commit, parse_dirtree};
pub use refs::{ListedRef, RefKind};

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
    /// The settings of `config`, read once at open (and again when it is written).
    settings: RepoConfig,
    fsync: bool,
    /// `core.disable-xattrs`: extended attributes are neither read when committing nor
    /// read back from bare objects (upstream's switch for file systems without them).
    disable_xattrs: bool,
    /// `core.parent`: a repository whose objects, refs and remotes this one also sees.
    parent: Option<Box<Repo>>,
    /// The remotes directory attached (a system repository's `/etc/ostree/remotes.d`).
    remotes_dir: Option<RemotesDir>,
    /// Whether this is the system's repository.
    system: bool,
}

/// How deep `core.parent` chains may go (a loop of parents must not recurse forever).
const MAX_PARENT_DEPTH: usize = 16;

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

impl Repo {
    /// Creates a repository in `dir` (which may already exist and be empty). `path` is only
    /// used in messages.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use rostree_repo::{InitOptions, Repo, RepoMode};
    ///
    /// let tmp = tempfile::tempdir()?;
    /// let dir = cap_std::fs::Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority())?;
    /// let options = InitOptions { mode: RepoMode::BareUser, collection_id: None };
    /// Repo::init(dir, tmp.path(), &options)?;
    ///
    /// // Opened again, as `ostree --repo=PATH` would.
    /// let dir = cap_std::fs::Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority())?;
    /// let repo = Repo::open(dir, tmp.path())?;
    /// assert_eq!(repo.mode(), RepoMode::BareUser);
    /// assert!(repo.list_refs(&rostree_repo::RefKind::Local)?.is_empty());
    /// # Ok(()) }
    /// ```
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
        let (config, settings) =
            RepoConfig::parse(&text).map_err(|source| Error::InvalidConfig {
                path: path.join("config"),
                source,
            })?;
        let (mode, fsync, disable_xattrs) =
            (settings.mode, settings.fsync, settings.disable_xattrs);
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
        let parent = match &settings.parent {
            Some(parent) => {
                if depth >= MAX_PARENT_DEPTH {
                    return Err(Error::Config(format!(
                        "{}: core.parent chains deeper than {MAX_PARENT_DEPTH} repositories",
                        path.display()
                    )));
                }
                // The parent is named by a path in the config, so it is opened from the
                // file system as a whole, as upstream does.
                let parent_path = parent.clone();
                let parent_dir = Dir::open_ambient_dir(&parent_path, cap_std::ambient_authority())
                    .ctx("opening parent repository", &parent_path)?;
                Some(Box::new(Repo::open_at_depth(
                    parent_dir,
                    parent_path,
                    depth + 1,
                )?))
            }
            None => None,
        };
        Ok(Repo {
            path,
            dir,
            objects,
            mode,
            config,
            settings,
            fsync,
            disable_xattrs,
            parent,
            remotes_dir: None,
            system: false,
        })
    }

    /// Whether this is the directory `other` (same device and inode): how a repository
    /// opened by its path is found to be the system's `/ostree/repo`, as upstream finds it.
    pub fn is_dir(&self, other: &Dir) -> bool {
        use cap_std::fs::MetadataExt as _;
        match (self.dir.dir_metadata(), other.dir_metadata()) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }

    /// Whether this is the system's repository (see [`Repo::attach_remotes_dir`]).
    pub fn is_system(&self) -> bool {
        self.system
    }

    /// The remotes directory attached, if any.
    pub fn remotes_dir(&self) -> Option<&RemotesDir> {
        self.remotes_dir.as_ref()
    }

    pub(crate) fn remotes_dir_mut(&mut self) -> Option<&mut RemotesDir> {
        self.remotes_dir.as_mut()
    }

    pub(crate) fn set_remotes_dir(&mut self, dir: RemotesDir, system: bool) {
        self.remotes_dir = Some(dir);
        self.system = system;
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
        // A remote of the remotes directory is changed there, never shadowed here.
        if let Some(dir) = &self.remotes_dir {
            for group in config.groups() {
                if group.starts_with("remote \"")
                    && let Some(file) = dir.file_of(group)
                {
                    return Err(Error::RemoteInFile {
                        group: group.to_owned(),
                        path: dir.path().join(&file.name),
                    });
                }
            }
        }
        write_atomic(
            &self.dir,
            Path::new("config"),
            config.to_data().as_bytes(),
            0o644,
            self.fsync,
        )
        .ctx("writing", self.path.join("config"))?;
        // What was written is what the next open reads; here it takes effect for what the
        // settings do not fix for the life of the handle (the mode, the parent).
        if let Ok(settings) = RepoConfig::from_keyfile(&config) {
            self.settings = RepoConfig {
                mode: self.settings.mode,
                parent: self.settings.parent.clone(),
                ..settings
            };
        }
        self.config = config;
        Ok(())
    }

    /// A `[core]` switch read when it is used, as upstream reads those it does not read at
    /// open (`tombstone-commits`, `auto-update-summary`, ...): `default` when unset, refused
    /// in upstream's words when it is not a boolean.
    pub fn core_flag(&self, key: &str, default: bool) -> Result<bool> {
        self.config
            .get_bool("core", key)
            .map(|v| v.unwrap_or(default))
            .map_err(|_| Error::InvalidConfig {
                path: self.path.join("config"),
                source: crate::config::ConfigError::NotBoolean(key.to_owned()),
            })
    }

    /// The settings of the repository's config, as upstream reads them at open.
    pub fn settings(&self) -> &RepoConfig {
        &self.settings
    }

    /// `core.collection-id`, if set.
    pub fn collection_id(&self) -> Option<String> {
        self.settings.collection_id.clone()
    }
}
