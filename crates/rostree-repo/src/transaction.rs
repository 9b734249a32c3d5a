//! Transactions: objects are written into a staging directory and moved into `objects/`
//! only when the transaction commits.
//!
//! ```text
//! tmp/staging-<boot-id>-<random>/     upstream's layout and names
//! ├── ab/cdef….file        new objects, named as they will be in objects/
//! └── ab/.tmp-N             files being written
//! tmp/staging-<boot-id>-<random>-lock
//!                          held (an exclusive OFD lock, as upstream takes it) for the
//!                          transaction's life; a staging directory whose lock is free
//!                          belongs to no one
//! ```
//! Commit makes the data durable once for all objects (one `syncfs`), renames them into
//! `objects/`, then fsyncs the touched directories; refs are written after that by the
//! caller, so a ref never points at an object a crash could lose. Dropping a transaction
//! without committing removes the staging directory.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use cap_std::fs::{Dir, DirBuilder, OpenOptions};
use cap_std::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use rayon::prelude::*;
use rostree_core::object::{DirMeta, FileHeader, content_checksum};
use rostree_core::{Checksum, ObjectType};
use rustix::fs::{AtFlags, Timestamps};

use crate::config::MinFreeSpace;
use crate::content::HashingReader;
use crate::error::{Error, IoContext, Result};
use crate::flusher::Flusher;
use crate::repo::{Repo, RepoLock};
use crate::{RepoMode, sys};

/// Objects of at least this many bytes on disk have their writeback started as soon as
/// they are complete, to overlap the disk with the rest of the transaction.
const EARLY_WRITEBACK_FROM: u64 = 1 << 20;

/// Counts of what a transaction wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TransactionStats {
    /// Metadata objects the transaction was asked to store, new or not.
    pub metadata_objects_total: u64,
    /// Content objects the transaction was asked to store, new or not.
    pub content_objects_total: u64,
    /// Metadata objects newly written.
    pub metadata_objects_written: u64,
    /// Content objects newly written.
    pub content_objects_written: u64,
    /// Bytes of regular files' content newly written, uncompressed, as upstream counts them
    /// (objects linked in from another repository are not written).
    pub content_bytes_written: u64,
}

/// An open transaction on a repository.
pub struct Transaction<'r> {
    repo: &'r Repo,
    /// When it began: staging directories of this boot older than that and free are
    /// abandoned (see `remove_abandoned_staging`).
    begun: std::time::SystemTime,
    /// Held (not read) for the transaction's life: the staging directory is in use.
    _staging_lock: std::fs::File,
    staging_lock_path: PathBuf,
    _lock: RepoLock,
    staging: Dir,
    staging_path: PathBuf,
    subdirs: Vec<std::sync::OnceLock<Dir>>,
    staged: Mutex<HashSet<(ObjectType, Checksum)>>,
    tmp_counter: AtomicU64,
    zlib_level: u32,
    metadata_total: AtomicU64,
    content_total: AtomicU64,
    metadata_written: AtomicU64,
    content_written: AtomicU64,
    content_bytes: AtomicU64,
    free_space: Option<FreeSpaceBudget>,
    /// Starts writeback early when the repository is synced at all.
    flusher: Option<Flusher>,
    committed: bool,
}

/// What a transaction may still write before the filesystem's free space falls under the
/// repo's `min-free-space-percent` or `min-free-space-size`, counted in blocks as upstream
/// counts it.
struct FreeSpaceBudget {
    remaining_blocks: AtomicU64,
    block_size: u64,
    /// The setting, as upstream's messages name it.
    setting: String,
}

/// The budget the repo's settings allow now, by upstream's rules: a size, when set, wins over
/// the percentage (default 3; 0 turns the check off); root counts the blocks the filesystem
/// keeps for root as free, others only what they may use. A budget already spent fails no
/// transaction here: metadata is never charged, only content objects are.
fn free_space_budget(repo: &Repo) -> Result<Option<FreeSpaceBudget>> {
    let setting = repo.settings().min_free_space;
    if setting == MinFreeSpace::Off {
        return Ok(None);
    }
    let stat = rustix::fs::fstatvfs(repo.objects_dir()).ctx("statvfs", repo.path())?;
    let (reserved, setting) = match setting {
        MinFreeSpace::Off => return Ok(None),
        MinFreeSpace::Megabytes(mb) => (
            mb.saturating_mul(1 << 20),
            format!("min-free-space-size {mb}MB"),
        ),
        MinFreeSpace::Percent(percent) => {
            let total = stat.f_blocks.saturating_mul(stat.f_frsize);
            (
                total / 100 * u64::from(percent),
                format!("min-free-space-percent '{percent}%'"),
            )
        }
    };
    if reserved == 0 {
        return Ok(None);
    }
    let block_size = stat.f_bsize.max(1);
    let free_blocks = match rustix::process::getuid().is_root() {
        true => stat.f_bfree,
        false => stat.f_bavail,
    };
    Ok(Some(FreeSpaceBudget {
        remaining_blocks: AtomicU64::new(free_blocks.saturating_sub(reserved / block_size)),
        block_size,
        setting,
    }))
}

/// Where the payload of a content object comes from.
pub enum Source<'a> {
    /// Bytes in memory.
    Bytes(&'a [u8]),
    /// A reader producing exactly the payload.
    Reader(&'a mut dyn Read),
    /// A reader producing a payload that claims to be the object (from a static delta, say):
    /// hashed as it is stored, and refused as corrupted when it is not what it claims.
    Untrusted(&'a mut dyn Read),
    /// A reader producing a payload from a source trusted to hold the object (a trusted
    /// local repository): copied as it comes, not hashed.
    Trusted(&'a mut dyn Read),
}

/// Staging directories, as upstream names them (`staging-<boot-id>-<random>`).
const STAGING_PREFIX: &str = "staging-";
/// Their lock files, beside them.
const LOCK_SUFFIX: &str = "-lock";
/// Staging directories of older rostree versions (locked with flock on the directory).
const OLD_STAGING_PREFIXES: [&str; 2] = ["rostree-staging-", "rostree-staging.init-"];

/// Removes the staging directories of this boot that transactions before this one left
/// (one that failed, its lock file gone), as upstream takes them over: those made before
/// `begun` whose lock is free. Upstream makes a directory before it locks it; by the time a
/// transaction that began after it commits, its maker holds the lock.
fn remove_abandoned_staging(tmp: &Dir, prefix: &str, ours: &str, begun: std::time::SystemTime) {
    let Ok(entries) = tmp.entries() else { return };
    for entry in entries.flatten() {
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let older = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.into_std() < begun);
        if name == ours
            || !name.starts_with(prefix)
            || name.ends_with(LOCK_SUFFIX)
            || !older
            || !entry.file_type().is_ok_and(|t| t.is_dir())
        {
            continue;
        }
        let lock_name = format!("{name}{LOCK_SUFFIX}");
        if let Ok(Some(lock)) = lock_staging(tmp, &lock_name) {
            let _ = tmp.remove_dir_all(&name);
            let _ = tmp.remove_file(&lock_name);
            drop(lock);
        }
    }
}

/// Takes the exclusive lock of a staging directory's lock file, creating it; `None` when
/// another process holds it. The file is checked to still be there once locked (its owner
/// may have removed it meanwhile).
fn lock_staging(tmp: &Dir, lock_name: &str) -> std::io::Result<Option<std::fs::File>> {
    let file = tmp
        .open_with(
            lock_name,
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .mode(0o600),
        )?
        .into_std();
    match crate::syscalls::ofd_lock(&file, crate::syscalls::LockKind::Exclusive) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(None),
        Err(e) => return Err(e),
    }
    if std::os::unix::fs::MetadataExt::nlink(&file.metadata()?) == 0 {
        return Ok(None);
    }
    Ok(Some(file))
}

/// Removes staging directories whose lock is free and that are of an earlier boot or a
/// minute old: their process died (or failed on purpose, see `OSTREE_REPO_TEST_ERROR`).
/// Upstream would reuse such a directory; rostree starts over. Best effort: what cannot be
/// examined is left for the next time.
fn remove_stale_staging(repo: &Repo) {
    let this_boot = format!("{STAGING_PREFIX}{}-", boot_id());
    let Ok(tmp) = repo.dir().open_dir("tmp") else {
        return;
    };
    let Ok(entries) = tmp.entries() else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let young = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.into_std().elapsed().ok())
            .is_none_or(|age| age < std::time::Duration::from_secs(60));
        if OLD_STAGING_PREFIXES.iter().any(|p| name.starts_with(p)) {
            if name.starts_with(OLD_STAGING_PREFIXES[1]) && young {
                continue;
            }
            if let Ok(dir) = tmp.open_dir(name)
                && let Ok(fd) = sys::readable_dir(&dir)
                && rustix::fs::flock(&fd, rustix::fs::FlockOperation::NonBlockingLockExclusive)
                    .is_ok()
            {
                let _ = tmp.remove_dir_all(name);
            }
            continue;
        }
        if !name.starts_with(STAGING_PREFIX) || name.ends_with(LOCK_SUFFIX) {
            continue;
        }
        // Upstream makes its staging directory before it locks it: one this young of this
        // boot may be another process's, between the two.
        if (young && name.starts_with(&this_boot)) || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let lock_name = format!("{name}{LOCK_SUFFIX}");
        if let Ok(Some(lock)) = lock_staging(&tmp, &lock_name) {
            let _ = tmp.remove_dir_all(name);
            let _ = tmp.remove_file(&lock_name);
            drop(lock);
        }
    }
}

/// The boot's ID, which names staging directories: `$OSTREE_BOOTID` when set (upstream's
/// override), else the kernel's.
fn boot_id() -> String {
    if let Some(id) = std::env::var("OSTREE_BOOTID")
        .ok()
        .filter(|id| !id.is_empty())
    {
        return id;
    }
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "noboot".to_owned())
}

fn random_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    // Six characters, as upstream's mkdtemp template gives.
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut n = h.finish();
    (0..6)
        .map(|_| {
            let c = ALPHABET[(n % ALPHABET.len() as u64) as usize] as char;
            n /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

/// Whether `OSTREE_REPO_TEST_ERROR` asks a transaction to fail just before it commits
/// (`pre-commit`, or `all`), as upstream's debug switch: it leaves the staging directory
/// as a crash would.
fn pre_commit_error_requested() -> bool {
    std::env::var("OSTREE_REPO_TEST_ERROR").is_ok_and(|flags| {
        flags
            .split([',', ':', ';', ' ', '\t'])
            .any(|f| f.eq_ignore_ascii_case("pre-commit") || f.eq_ignore_ascii_case("all"))
    })
}

impl<'r> Transaction<'r> {
    /// Starts a transaction: takes the shared lock and creates a staging directory.
    ///
    /// A commit written object by object (what [`commit`](crate::commit::commit) does for
    /// a whole tree), then made visible with its ref:
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use rostree_core::ObjectType;
    /// use rostree_core::object::{Commit, DirMeta, DirTree, FileHeader, Metadata};
    /// use rostree_repo::{InitOptions, RefKind, Repo, RepoMode, Transaction};
    ///
    /// let tmp = tempfile::tempdir()?;
    /// let dir = cap_std::fs::Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority())?;
    /// let init = InitOptions { mode: RepoMode::Archive, ..Default::default() };
    /// let repo = Repo::init(dir, tmp.path(), &init)?;
    ///
    /// let tx = Transaction::begin(&repo)?;
    /// let header = FileHeader {
    ///     uid: 0, gid: 0, mode: 0o100644, rdev: 0,
    ///     symlink_target: String::new(), xattrs: Default::default(),
    /// };
    /// let file = tx.write_content(&header, b"ID=example\n")?;
    /// let tree = DirTree { files: vec![("os-release".into(), file)], dirs: vec![] };
    /// let tree = tx.write_metadata(ObjectType::DirTree, &tree.to_bytes())?;
    /// let meta = DirMeta { uid: 0, gid: 0, mode: 0o40755, xattrs: Default::default() };
    /// let meta = tx.write_metadata(ObjectType::DirMeta, &meta.to_bytes())?;
    /// let commit = Commit {
    ///     metadata: Metadata::new(), parent: None, related: vec![],
    ///     subject: "Release 1".into(), body: String::new(), timestamp: 1_700_000_000,
    ///     root_tree: tree, root_meta: meta,
    /// };
    /// let commit = tx.write_metadata(ObjectType::Commit, &commit.to_bytes())?;
    /// assert!(!repo.has_object(ObjectType::Commit, &commit)?); // staged, not yet visible
    ///
    /// let stats = tx.commit_with_refs(&[(RefKind::Local, "main".into(), commit)])?;
    /// assert_eq!((stats.metadata_objects_written, stats.content_objects_written), (3, 1));
    /// assert_eq!(repo.resolve_rev("main")?, commit);
    /// # Ok(()) }
    /// ```
    pub fn begin(repo: &'r Repo) -> Result<Self> {
        if repo.mode() == RepoMode::BareSplitXattrs {
            // Upstream 2022.7 refuses these writes too (the format is experimental there).
            return Err(Error::WriteUnsupported { mode: repo.mode() });
        }
        let lock = repo.lock_shared()?;
        let begun = std::time::SystemTime::now();
        remove_stale_staging(repo);
        // The lock is taken before the directory exists, so that no other process can ever
        // see it unlocked and take it for a leftover.
        let tmp = repo
            .dir()
            .open_dir("tmp")
            .ctx("opening", repo.path().join("tmp"))?;
        let prefix = format!("{STAGING_PREFIX}{}-", boot_id());
        let (name, staging_lock) = loop {
            let name = format!("{prefix}{}", random_suffix());
            let lock_name = format!("{name}{LOCK_SUFFIX}");
            let lock_path = repo.path().join("tmp").join(&lock_name);
            let Some(staging_lock) = lock_staging(&tmp, &lock_name).ctx("locking", &lock_path)?
            else {
                continue;
            };
            let mut builder = DirBuilder::new();
            builder.mode(0o755);
            match tmp.create_dir_with(&name, &builder) {
                Ok(()) => break (name, staging_lock),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e).ctx("creating", repo.path().join("tmp").join(&name)),
            }
        };
        let staging_path = PathBuf::from("tmp").join(&name);
        let staging_lock_path = PathBuf::from("tmp").join(format!("{name}{LOCK_SUFFIX}"));
        let staging = repo
            .dir()
            .open_dir(&staging_path)
            .ctx("opening", repo.path().join(&staging_path))?;
        let free_space = free_space_budget(repo)?;
        let flusher = match repo.fsync_enabled() {
            true => Flusher::start(sys::readable_dir(&staging).ctx("opening", &staging_path)?),
            false => None,
        };
        Ok(Transaction {
            begun,
            free_space,
            flusher,
            _staging_lock: staging_lock,
            staging_lock_path,
            repo,
            _lock: lock,
            staging,
            staging_path,
            subdirs: (0..256).map(|_| std::sync::OnceLock::new()).collect(),
            staged: Mutex::new(HashSet::new()),
            tmp_counter: AtomicU64::new(0),
            zlib_level: repo.settings().zlib_level,
            metadata_total: AtomicU64::new(0),
            content_total: AtomicU64::new(0),
            metadata_written: AtomicU64::new(0),
            content_written: AtomicU64::new(0),
            content_bytes: AtomicU64::new(0),
            committed: false,
        })
    }

    /// The deflate level of archive objects (`[archive] zlib-level`, 1 to 9, default 6).
    pub fn zlib_level(&self) -> u32 {
        self.zlib_level
    }

    /// The repository being written.
    pub fn repo(&self) -> &'r Repo {
        self.repo
    }

    fn is_staged(&self, objtype: ObjectType, checksum: &Checksum) -> bool {
        self.staged
            .lock()
            .map(|s| s.contains(&(objtype, *checksum)))
            .unwrap_or(false)
    }

    /// Whether the object is stored or already staged.
    pub fn has_object(&self, objtype: ObjectType, checksum: &Checksum) -> Result<bool> {
        Ok(self.is_staged(objtype, checksum) || self.repo.has_object(objtype, checksum)?)
    }

    fn subdir(&self, checksum: &Checksum) -> Result<&Dir> {
        let slot = &self.subdirs[usize::from(checksum.as_bytes()[0])];
        if let Some(dir) = slot.get() {
            return Ok(dir);
        }
        let prefix = checksum.prefix_dir();
        let mut builder = DirBuilder::new();
        builder.mode(0o755);
        match self.staging.create_dir_with(&prefix, &builder) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).ctx("creating", self.staging_path.join(&prefix)),
        }
        let dir = self
            .staging
            .open_dir(&prefix)
            .ctx("opening", self.staging_path.join(&prefix))?;
        // Another thread may have won the race; either handle names the same directory.
        Ok(slot.get_or_init(|| dir))
    }

    fn tmp_name(&self) -> String {
        format!(".tmp-{}", self.tmp_counter.fetch_add(1, Ordering::Relaxed))
    }

    /// Moves `objects` from staging into `objects/`. A staged `XX/` directory holding none of
    /// `held_back` moves in whole where `objects/XX` does not exist yet.
    fn move_into_place(
        &self,
        objects: &[(ObjectType, Checksum)],
        held_back: &[(ObjectType, Checksum)],
    ) -> Result<()> {
        let repo = self.repo;
        let mut by_prefix: std::collections::BTreeMap<String, Vec<(ObjectType, Checksum)>> =
            Default::default();
        for entry in objects {
            by_prefix
                .entry(entry.1.prefix_dir())
                .or_default()
                .push(*entry);
        }
        let held_prefixes: HashSet<String> =
            held_back.iter().map(|(_, c)| c.prefix_dir()).collect();
        by_prefix
            .into_par_iter()
            .try_for_each(|(prefix, objects)| -> Result<()> {
                // The staged directory holds only complete objects under their final names.
                if !held_prefixes.contains(&prefix) {
                    match rustix::fs::renameat_with(
                        &self.staging,
                        prefix.as_str(),
                        repo.objects_dir(),
                        prefix.as_str(),
                        rustix::fs::RenameFlags::NOREPLACE,
                    ) {
                        Ok(()) => return Ok(()),
                        Err(rustix::io::Errno::EXIST | rustix::io::Errno::NOTEMPTY) => {}
                        Err(e) => {
                            return Err(e)
                                .ctx("moving into place", PathBuf::from("objects").join(&prefix));
                        }
                    }
                }
                let mut builder = DirBuilder::new();
                builder.mode(0o755);
                match repo.objects_dir().create_dir_with(&prefix, &builder) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => {
                        return Err(e).ctx("creating", PathBuf::from("objects").join(&prefix));
                    }
                }
                let from_dir = self
                    .staging
                    .open_dir(&prefix)
                    .ctx("opening", self.staging_path.join(&prefix))?;
                let to_dir = repo
                    .objects_dir()
                    .open_dir(&prefix)
                    .ctx("opening", PathBuf::from("objects").join(&prefix))?;
                for (objtype, checksum) in objects {
                    let name = self.final_name(objtype, &checksum);
                    from_dir
                        .rename(&name, &to_dir, &name)
                        .ctx("moving into place", repo.object_path(objtype, &checksum))?;
                }
                Ok(())
            })
    }

    fn final_name(&self, objtype: ObjectType, checksum: &Checksum) -> String {
        format!(
            "{}.{}",
            checksum.suffix_hex(),
            objtype.extension(self.repo.mode().is_archive())
        )
    }

    /// Takes a content object of `bytes` from the free-space budget (in whole blocks, one more
    /// than its size fills), or fails as upstream does when it would eat into the space the
    /// repo keeps free.
    fn charge(&self, bytes: u64) -> Result<()> {
        if let Some(flusher) = &self.flusher {
            flusher.staged(bytes);
        }
        let Some(budget) = &self.free_space else {
            return Ok(());
        };
        let blocks = bytes / budget.block_size + 1;
        let taken =
            budget
                .remaining_blocks
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                    left.checked_sub(blocks)
                });
        if taken.is_err() {
            return Err(Error::NoSpace(format!(
                "{} would be exceeded, at least {} requested",
                budget.setting,
                rostree_core::size::format_size(bytes)
            )));
        }
        Ok(())
    }

    fn mark_staged(&self, objtype: ObjectType, checksum: Checksum) {
        if let Ok(mut s) = self.staged.lock() {
            s.insert((objtype, checksum));
        }
    }

    /// Takes an object this transaction staged back out of it, as if never written (a
    /// static delta's object its commit does not need). Objects already stored are kept.
    pub fn unstage(&self, objtype: ObjectType, checksum: &Checksum) -> Result<()> {
        let removed = match self.staged.lock() {
            Ok(mut s) => s.remove(&(objtype, *checksum)),
            Err(_) => return Err(Error::Internal("transaction state poisoned")),
        };
        if removed {
            let rel = checksum.relative_path(objtype, self.repo.mode().is_archive());
            self.staging
                .remove_file(&rel)
                .ctx("removing", self.staging_path.join(&rel))?;
        }
        Ok(())
    }

    /// Stores a metadata object (already in normal form); returns its checksum.
    pub fn write_metadata(&self, objtype: ObjectType, data: &[u8]) -> Result<Checksum> {
        let checksum = Checksum::digest(data);
        self.write_metadata_as(objtype, &checksum, data)?;
        Ok(checksum)
    }

    /// Stores a metadata object under a given name (detached metadata is named after its
    /// commit, not its content).
    pub fn write_metadata_as(
        &self,
        objtype: ObjectType,
        checksum: &Checksum,
        data: &[u8],
    ) -> Result<()> {
        self.metadata_total.fetch_add(1, Ordering::Relaxed);
        if objtype != ObjectType::CommitMeta && self.has_object(objtype, checksum)? {
            return Ok(());
        }
        // Nothing goes into the repo that would not read back: upstream validates metadata
        // it is asked to write too.
        if let Some(ty) = objtype.variant_type() {
            let ty = rostree_core::gvariant::Type::parse(ty)
                .expect("the type strings of metadata objects parse");
            rostree_core::gvariant::Value::from_bytes(&ty, data).map_err(|source| {
                Error::InvalidMetadataObject {
                    objtype,
                    checksum: *checksum,
                    source,
                }
            })?;
        }
        self.stage_bytes(objtype, checksum, data)?;
        self.metadata_written.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Stages an object whose stored bytes are `data` as they are, mode 0644.
    fn stage_bytes(&self, objtype: ObjectType, checksum: &Checksum, data: &[u8]) -> Result<()> {
        if let Some(flusher) = &self.flusher {
            flusher.staged(data.len() as u64);
        }
        self.stage_with(objtype, checksum, |file| file.write_all(data))
    }

    /// Stages an object whose bytes `fill` writes, as they are, mode 0644.
    fn stage_with(
        &self,
        objtype: ObjectType,
        checksum: &Checksum,
        fill: impl FnOnce(&mut cap_std::fs::File) -> std::io::Result<()>,
    ) -> Result<()> {
        let sub = self.subdir(checksum)?;
        let name = self.final_name(objtype, checksum);
        let tmp = self.tmp_name();
        let path = || self.staging_path.join(checksum.prefix_dir()).join(&name);
        let mut file = sub
            .open_with(
                &tmp,
                OpenOptions::new().write(true).create_new(true).mode(0o644),
            )
            .ctx("creating", path())?;
        if let Err(e) = fill(&mut file) {
            let _ = sub.remove_file(&tmp);
            return Err(e).ctx("writing", path());
        }
        // 0644 whatever the umask, so that an archive repo can be served by another user.
        rustix::fs::fchmod(&file, rustix::fs::Mode::from_raw_mode(0o644)).ctx("chmod", path())?;
        drop(file);
        sub.rename(&tmp, sub, &name).ctx("renaming", path())?;
        self.mark_staged(objtype, *checksum);
        Ok(())
    }

    /// Stores an archive repository's content object as its `.filez` bytes come from
    /// `object`, neither inflated nor hashed: for a mirror that trusts its source (`pull
    /// --mirror --http-trusted`), as upstream copies such objects. Returns whether it was new.
    pub fn write_filez_trusted(&self, checksum: &Checksum, object: &mut dyn Read) -> Result<bool> {
        if !self.repo.mode().is_archive() {
            return Err(Error::InvalidOptions(
                "Only archive repositories take content objects as they are",
            ));
        }
        self.content_total.fetch_add(1, Ordering::Relaxed);
        if self.has_object(ObjectType::File, checksum)? {
            return Ok(false);
        }
        let mut payload = 0;
        let mut stored = 0;
        self.stage_with(ObjectType::File, checksum, |file| {
            stored = crate::copy::copy_wide(object, file)?;
            // The header's size is what upstream counts as content written.
            file.rewind()?;
            payload = crate::content::read_archive_header(file).map_or(0, |a| a.size);
            Ok(())
        })?;
        self.charge(stored)?;
        self.content_written.fetch_add(1, Ordering::Relaxed);
        self.content_bytes.fetch_add(payload, Ordering::Relaxed);
        Ok(true)
    }

    /// Gives this repository `source`'s object by a hard link, as upstream imports between
    /// local repositories: possible when both hold objects alike (the same mode, any
    /// metadata object, or a bare-user regular file going to bare-user-only) and they share
    /// a file system. Returns `false` when it cannot be linked (the caller copies instead);
    /// `true` when the object is here now. The caller checks the object first when the
    /// source is not trusted, and copies detached metadata itself.
    pub fn link_object_from(
        &self,
        source: &Repo,
        objtype: ObjectType,
        checksum: &Checksum,
    ) -> Result<bool> {
        if self.has_object(objtype, checksum)? {
            return Ok(true);
        }
        let (from, to) = (source.mode(), self.repo.mode());
        let alike = from == to
            || objtype.is_meta()
            || (from == RepoMode::BareUser && to == RepoMode::BareUserOnly);
        if !alike || objtype == ObjectType::CommitMeta {
            return Ok(false);
        }
        let rel = checksum.relative_path(objtype, from.is_archive());
        if from != to && objtype == ObjectType::File {
            // A bare-user symlink is stored as a regular file; bare-user-only keeps real
            // symlinks, so only regular files can be shared.
            let (header, _) = source.file_info(checksum)?;
            if header.is_symlink() {
                return Ok(false);
            }
        }
        let sub = self.subdir(checksum)?;
        let name = self.final_name(objtype, checksum);
        match rustix::fs::linkat(
            source.objects_dir(),
            rel.as_str(),
            sub,
            name.as_str(),
            AtFlags::empty(),
        ) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            // Another file system, too many links, or links not allowed: copy instead.
            Err(rustix::io::Errno::XDEV | rustix::io::Errno::MLINK | rustix::io::Errno::PERM) => {
                return Ok(false);
            }
            Err(e) => {
                return Err(e).ctx(
                    "linking",
                    self.staging_path.join(checksum.prefix_dir()).join(&name),
                );
            }
        }
        self.mark_staged(objtype, *checksum);
        if objtype.is_meta() {
            self.metadata_total.fetch_add(1, Ordering::Relaxed);
            self.metadata_written.fetch_add(1, Ordering::Relaxed);
        } else {
            self.content_total.fetch_add(1, Ordering::Relaxed);
            self.content_written.fetch_add(1, Ordering::Relaxed);
        }
        Ok(true)
    }

    /// Takes the regular file `name` of `dir` (on this repository's file system) as the
    /// content object `checksum` by renaming it into place, as upstream "adopts" files a
    /// commit with `--consume` would delete anyway: the caller has checked that the file as
    /// it is is the object (in bare-user-only after `chmod` to `mode`, when given). The file
    /// is gone from `dir` afterwards, adopted or, when the object exists already, removed.
    pub fn adopt_file(
        &self,
        dir: &Dir,
        name: &str,
        checksum: &Checksum,
        mode: Option<u32>,
    ) -> Result<()> {
        self.content_total.fetch_add(1, Ordering::Relaxed);
        let shown = || self.staging_path.join(checksum.prefix_dir()).join(name);
        if self.has_object(ObjectType::File, checksum)? {
            dir.remove_file(name).ctx("removing", shown())?;
            return Ok(());
        }
        if let Some(mode) = mode {
            let file = dir.open(name).ctx("opening", shown())?;
            rustix::fs::fchmod(&file, rustix::fs::Mode::from_raw_mode(mode))
                .ctx("chmod", shown())?;
        }
        let sub = self.subdir(checksum)?;
        let final_name = self.final_name(ObjectType::File, checksum);
        let size = dir.symlink_metadata(name).ctx("stat", shown())?.len();
        self.charge(size)?;
        dir.rename(name, sub, &final_name)
            .ctx("renaming", shown())?;
        self.mark_staged(ObjectType::File, *checksum);
        self.content_written.fetch_add(1, Ordering::Relaxed);
        self.content_bytes.fetch_add(size, Ordering::Relaxed);
        Ok(())
    }

    /// Reads a metadata object from the repo or, if this transaction wrote it, from staging.
    pub fn load_metadata(&self, objtype: ObjectType, checksum: &Checksum) -> Result<Vec<u8>> {
        match self.repo.load_metadata(objtype, checksum) {
            Err(Error::MissingObject { .. }) => self.read_staged(objtype, checksum),
            other => other,
        }
    }

    /// Reads back a metadata object staged by this transaction.
    pub fn read_staged(&self, objtype: ObjectType, checksum: &Checksum) -> Result<Vec<u8>> {
        if !self.is_staged(objtype, checksum) {
            return Err(Error::MissingObject {
                objtype,
                checksum: *checksum,
            });
        }
        let path = PathBuf::from(checksum.prefix_dir()).join(self.final_name(objtype, checksum));
        self.staging
            .read(&path)
            .ctx("reading", self.staging_path.join(&path))
    }

    /// Stores a content object, hashing it first; returns its checksum.
    pub fn write_content(&self, header: &FileHeader, payload: &[u8]) -> Result<Checksum> {
        let checksum = content_checksum(header, payload);
        self.write_content_as(&checksum, header, Source::Bytes(payload))?;
        Ok(checksum)
    }

    /// Stores a content object whose checksum the caller computed; returns whether it was
    /// new. Nothing is written if the object exists already.
    pub fn write_content_as(
        &self,
        checksum: &Checksum,
        header: &FileHeader,
        source: Source<'_>,
    ) -> Result<bool> {
        self.content_total.fetch_add(1, Ordering::Relaxed);
        if self.has_object(ObjectType::File, checksum)? {
            return Ok(false);
        }
        self.store_content(Some(checksum), header, source)
            .map(|(_, new)| new)
    }

    /// Stores a content object read from `payload`, hashed as it is written (one pass, never
    /// whole in memory): returns its checksum. An object already there is left as it is.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::io::Read;
    /// use rostree_core::object::FileHeader;
    /// use rostree_repo::{InitOptions, Repo, RepoMode, Transaction};
    ///
    /// let tmp = tempfile::tempdir()?;
    /// let dir = cap_std::fs::Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority())?;
    /// let init = InitOptions { mode: RepoMode::Archive, ..Default::default() };
    /// let repo = Repo::init(dir, tmp.path(), &init)?;
    /// let header = FileHeader {
    ///     uid: 0, gid: 0, mode: 0o100644, rdev: 0,
    ///     symlink_target: String::new(), xattrs: Default::default(),
    /// };
    /// // 8 MiB from a reader: compressed and hashed as it comes, never whole in memory.
    /// let mut zeros = std::io::repeat(0).take(8 << 20);
    /// let tx = Transaction::begin(&repo)?;
    /// let checksum = tx.write_content_stream(&header, &mut zeros)?;
    /// tx.commit()?;
    ///
    /// let (_, payload) = repo.open_content(&checksum)?;
    /// assert_eq!(payload.size()?, 8 << 20);
    /// # Ok(()) }
    /// ```
    pub fn write_content_stream(
        &self,
        header: &FileHeader,
        payload: &mut dyn Read,
    ) -> Result<Checksum> {
        self.content_total.fetch_add(1, Ordering::Relaxed);
        if header.is_symlink() {
            let checksum = content_checksum(header, &[]);
            if !self.has_object(ObjectType::File, &checksum)? {
                self.store_content(Some(&checksum), header, Source::Bytes(&[]))?;
            }
            return Ok(checksum);
        }
        self.store_content(None, header, Source::Trusted(payload))
            .map(|(checksum, _)| checksum)
    }

    /// Writes a content object into staging. With `expected` unknown, the file is written
    /// unnamed at the staging root and named once its checksum is; returns the checksum and
    /// whether the object is new.
    fn store_content(
        &self,
        expected: Option<&Checksum>,
        header: &FileHeader,
        source: Source<'_>,
    ) -> Result<(Checksum, bool)> {
        header
            .validate()
            .map_err(|source| Error::InvalidContentHeader {
                checksum: expected.copied(),
                source,
            })?;
        // bare-user-only promises no setuid/setgid/sticky or world-writable content.
        let check_mode = |checksum: &Checksum| {
            if self.repo.mode() != RepoMode::BareUserOnly {
                return Ok(());
            }
            validate_bareuseronly_mode(checksum, header).map_err(|mut e| {
                if let Error::InvalidContentMode { writing, .. } = &mut e {
                    *writing = true;
                }
                e
            })
        };
        if let Some(checksum) = expected {
            check_mode(checksum)?;
        }
        let mode = self.repo.mode();
        let shown = |checksum: Option<&Checksum>| match checksum {
            Some(c) => self
                .staging_path
                .join(c.prefix_dir())
                .join(self.final_name(ObjectType::File, c)),
            None => self.staging_path.join("(new content object)"),
        };
        // A streamed payload is hashed again as it is stored: a file that changed since the
        // caller hashed it must not be stored under the old checksum.
        let mut verifying = None;
        // The payload's own size, which upstream counts as "content written".
        let mut payload_size = 0;
        let untrusted = matches!(source, Source::Untrusted(_));
        let mut hasher = rostree_core::Hasher::new();
        hasher.update(&header.stream_header());
        let verify = matches!(source, Source::Reader(_) | Source::Untrusted(_));
        let source = match source {
            Source::Reader(reader) | Source::Untrusted(reader) | Source::Trusted(reader) => {
                Source::Reader(verifying.insert(HashingReader::new(reader, &mut hasher)))
            }
            Source::Bytes(bytes) => {
                payload_size = bytes.len() as u64;
                Source::Bytes(bytes)
            }
        };
        let (checksum, written) =
            if header.is_symlink() && matches!(mode, RepoMode::Bare | RepoMode::BareUserOnly) {
                let checksum = *expected.ok_or_else(|| {
                    Error::InvalidOptions("A symlink's checksum is known before it is written")
                })?;
                let path = || shown(Some(&checksum));
                let sub = self.subdir(&checksum)?;
                let tmp = self.tmp_name();
                rustix::fs::symlinkat(header.symlink_target.as_str(), sub, tmp.as_str())
                    .ctx("creating symlink", path())?;
                if mode == RepoMode::Bare {
                    rustix::fs::chownat(
                        sub,
                        tmp.as_str(),
                        Some(rustix::fs::Uid::from_raw(header.uid)),
                        Some(rustix::fs::Gid::from_raw(header.gid)),
                        AtFlags::SYMLINK_NOFOLLOW,
                    )
                    .ctx("changing owner of", path())?;
                    sys::set_link_xattrs(sub, OsStr::new(&tmp), &header.xattrs)
                        .ctx("setting xattrs of", path())?;
                }
                let name = self.final_name(ObjectType::File, &checksum);
                sub.rename(&tmp, sub, &name).ctx("renaming", path())?;
                (checksum, 0)
            } else {
                let created_in = match expected {
                    Some(c) => self.subdir(c)?,
                    None => &self.staging,
                };
                let mut file = sys::NewFile::create(created_in, || self.tmp_name())
                    .ctx("creating", shown(expected))?;
                let written = match mode {
                    RepoMode::Archive => self.write_archive(file.file(), header, source),
                    mode => self.write_bare_file(mode, file.file(), header, source),
                };
                let written = match written {
                    Ok(n) => n,
                    Err(e) => {
                        file.discard(created_in);
                        return Err(e).ctx("writing", shown(expected));
                    }
                };
                if let Some(read) = verifying.map(|v| v.bytes_read()) {
                    payload_size += read;
                }
                let actual = hasher.finish();
                let checksum = match expected {
                    Some(expected) if verify && actual != *expected => {
                        file.discard(created_in);
                        if untrusted {
                            return Err(Error::ChecksumMismatch {
                                objtype: ObjectType::File,
                                expected: *expected,
                                actual,
                            });
                        }
                        return Err(Error::ChangedWhileCommitted {
                            path: shown(Some(expected)),
                            checksum: *expected,
                        });
                    }
                    Some(expected) => *expected,
                    None => {
                        if let Err(e) = check_mode(&actual) {
                            file.discard(created_in);
                            return Err(e);
                        }
                        if self.has_object(ObjectType::File, &actual)? {
                            file.discard(created_in);
                            return Ok((actual, false));
                        }
                        actual
                    }
                };
                // Small objects are left to the final syncfs, which writes them in one
                // batch: starting each one's writeback costs a wakeup of the flusher and
                // a context switch per object.
                if self.repo.fsync_enabled() && written >= EARLY_WRITEBACK_FROM {
                    crate::syscalls::start_writeback(file.file());
                }
                let sub = self.subdir(&checksum)?;
                let name = self.final_name(ObjectType::File, &checksum);
                file.publish(created_in, sub, &name)
                    .ctx("linking", shown(Some(&checksum)))?;
                (checksum, written)
            };
        // Charged once its size is known; over budget, the transaction fails and its staging
        // directory goes with it.
        self.charge(written)?;
        self.mark_staged(ObjectType::File, checksum);
        self.content_written.fetch_add(1, Ordering::Relaxed);
        if !header.is_symlink() {
            self.content_bytes
                .fetch_add(payload_size, Ordering::Relaxed);
        }
        Ok((checksum, true))
    }

    fn write_archive(
        &self,
        file: &mut std::fs::File,
        header: &FileHeader,
        source: Source<'_>,
    ) -> std::io::Result<u64> {
        rustix::fs::fchmod(&*file, rustix::fs::Mode::from_raw_mode(0o644))?;
        if header.is_symlink() {
            let head = header.archive_header(0);
            file.write_all(&head)?;
            return Ok(head.len() as u64);
        }
        let reader = match source {
            Source::Bytes(payload) => {
                let head = header.archive_header(payload.len() as u64);
                return crate::deflate::with_compressed(self.zlib_level, &head, payload, |data| {
                    file.write_all(data)?;
                    Ok(data.len() as u64)
                });
            }
            Source::Reader(r) | Source::Untrusted(r) | Source::Trusted(r) => r,
        };
        // The header leads with the payload's size, which a stream tells only at its end: a
        // header of the same length goes first, and the real one over it once the size is
        // known (the size is a fixed-width field).
        let placeholder = header.archive_header(0);
        file.write_all(&placeholder)?;
        let size = crate::deflate::compress_stream(self.zlib_level, reader, &mut *file)?;
        let head = header.archive_header(size);
        if head.len() != placeholder.len() {
            return Err(std::io::Error::other("archive header changed length"));
        }
        std::os::unix::fs::FileExt::write_all_at(&*file, &head, 0)?;
        file.stream_position()
    }

    fn write_bare_file(
        &self,
        mode: RepoMode,
        file: &mut std::fs::File,
        header: &FileHeader,
        source: Source<'_>,
    ) -> std::io::Result<u64> {
        let written = if header.is_symlink() {
            // bare-user stores a symlink as a regular file holding the target and a NUL.
            let mut data = header.symlink_target.as_bytes().to_vec();
            data.push(0);
            file.write_all(&data)?;
            data.len() as u64
        } else {
            match source {
                Source::Bytes(b) => {
                    file.write_all(b)?;
                    b.len() as u64
                }
                Source::Reader(r) | Source::Untrusted(r) | Source::Trusted(r) => {
                    crate::copy::copy_wide(r, file)?
                }
            }
        };
        let perms = header.mode & 0o7777;
        match mode {
            RepoMode::Bare => {
                rustix::fs::fchown(
                    &*file,
                    Some(rustix::fs::Uid::from_raw(header.uid)),
                    Some(rustix::fs::Gid::from_raw(header.gid)),
                )?;
                // chown clears setuid/setgid, so the mode goes on after it.
                rustix::fs::fchmod(&*file, rustix::fs::Mode::from_raw_mode(perms))?;
                sys::set_fd_xattrs(&*file, &header.xattrs)?;
            }
            RepoMode::BareUserOnly => {
                rustix::fs::fchmod(&*file, rustix::fs::Mode::from_raw_mode(perms))?;
            }
            RepoMode::BareUser | RepoMode::BareSplitXattrs | RepoMode::Archive => {
                let stored = if header.is_symlink() {
                    0o644
                } else {
                    (perms & 0o775) | 0o400
                };
                rustix::fs::fchmod(&*file, rustix::fs::Mode::from_raw_mode(stored))?;
                let meta = DirMeta {
                    uid: header.uid,
                    gid: header.gid,
                    mode: header.mode,
                    xattrs: header.xattrs.clone(),
                };
                rustix::fs::fsetxattr(
                    &*file,
                    "user.ostreemeta",
                    &meta.to_bytes(),
                    rustix::fs::XattrFlags::empty(),
                )?;
            }
        }
        rustix::fs::futimens(&*file, &zero_timestamps())?;
        Ok(written)
    }

    /// Makes every staged object durable and moves it into `objects/`.
    pub fn commit(self) -> Result<TransactionStats> {
        self.commit_with_refs(&[])
    }

    /// Makes every staged object durable, moves it into `objects/`, then points `refs` at
    /// their targets, all before the repo lock is released: a prune waiting for the
    /// exclusive lock then sees the new commit referenced.
    pub fn commit_with_refs(
        self,
        refs: &[(crate::repo::RefKind, String, Checksum)],
    ) -> Result<TransactionStats> {
        self.commit_completing(&[], refs)
    }

    /// As [`commit_with_refs`](Self::commit_with_refs), and between the objects and the
    /// refs, drops the partial marks (`state/<commit>.commitpartial`) of `completed`: a
    /// process killed at any point leaves no ref naming a commit marked incomplete.
    pub fn commit_completing(
        mut self,
        completed: &[Checksum],
        refs: &[(crate::repo::RefKind, String, Checksum)],
    ) -> Result<TransactionStats> {
        let repo = self.repo;
        if pre_commit_error_requested() {
            // As upstream leaves it: the staging directory stays, its lock file goes with
            // the lock (released and unlinked, as libglnx releases a lock file).
            self.committed = true;
            let _ = repo.dir().remove_file(&self.staging_lock_path);
            return Err(Error::InjectedFailure(
                "OSTREE_REPO_TEST_ERROR_PRE_COMMIT specified",
            ));
        }
        let staged: Vec<(ObjectType, Checksum)> = match self.staged.lock() {
            Ok(mut s) => s.drain().collect(),
            Err(_) => return Err(Error::Internal("transaction state poisoned")),
        };
        if let Some(flusher) = &mut self.flusher {
            flusher.stop();
        }
        if repo.fsync_enabled() && !staged.is_empty() {
            let fd = sys::readable_dir(&self.staging).ctx("opening", &self.staging_path)?;
            rustix::fs::syncfs(&fd).ctx("syncing", &self.staging_path)?;
        }
        // Commit objects go last: a process killed half-way must not leave a commit in
        // objects/ whose tree is still in staging (fsck would call it corrupt). Renames
        // into different objects/XX directories do not contend, so each directory's batch
        // runs on its own worker.
        let (commits, others): (Vec<_>, Vec<_>) = staged
            .iter()
            .copied()
            .partition(|(objtype, _)| *objtype == ObjectType::Commit);
        self.move_into_place(&others, &commits)?;
        self.move_into_place(&commits, &[])?;
        // A commit written again (pulled back after a prune) is no longer deleted.
        for (_, commit) in &commits {
            let rel = commit.relative_path(ObjectType::TombstoneCommit, repo.mode().is_archive());
            match repo.objects_dir().remove_file(&rel) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).ctx("removing", Path::new("objects").join(&rel)),
            }
        }
        if repo.fsync_enabled() && !staged.is_empty() {
            // One syncfs commits every rename in a single journal transaction, where an
            // fsync per objects/XX directory would commit the journal 256 times.
            let fd = sys::readable_dir(repo.objects_dir()).ctx("opening", "objects")?;
            rustix::fs::syncfs(&fd).ctx("syncing", "objects")?;
        }
        for commit in completed {
            repo.clear_commit_partial(commit)?;
        }
        for (kind, name, target) in refs {
            repo.set_ref_only(kind, name, Some(target))?;
        }
        if !refs.is_empty() {
            crate::summary::maybe_regenerate(repo)?;
        }
        self.committed = true;
        self.cleanup();
        if let Ok(tmp) = repo.dir().open_dir("tmp") {
            let ours = self
                .staging_path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let prefix = format!("{STAGING_PREFIX}{}-", boot_id());
            remove_abandoned_staging(&tmp, &prefix, &ours, self.begun);
        }
        Ok(TransactionStats {
            metadata_objects_total: self.metadata_total.load(Ordering::Relaxed),
            content_objects_total: self.content_total.load(Ordering::Relaxed),
            metadata_objects_written: self.metadata_written.load(Ordering::Relaxed),
            content_objects_written: self.content_written.load(Ordering::Relaxed),
            content_bytes_written: self.content_bytes.load(Ordering::Relaxed),
        })
    }

    fn cleanup(&self) {
        // Best effort: a leftover staging dir is harmless and removed by the next cleanup.
        // The lock file goes last, while still held.
        let _ = self.repo.dir().remove_dir_all(&self.staging_path);
        let _ = self.repo.dir().remove_file(&self.staging_lock_path);
    }
}

/// Refuses content a bare-user-only repository cannot hold: setuid, setgid, sticky or
/// world-writable files (upstream's words). Symlinks are always fine.
pub fn validate_bareuseronly_mode(checksum: &Checksum, header: &FileHeader) -> Result<()> {
    let extra = header.mode & 0o7777 & !0o775;
    if !header.is_symlink() && extra != 0 {
        return Err(Error::InvalidContentMode {
            checksum: *checksum,
            mode: header.mode,
            bits: extra,
            writing: false,
        });
    }
    Ok(())
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if !self.committed {
            self.cleanup();
        }
    }
}

fn zero_timestamps() -> Timestamps {
    let zero = rustix::fs::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: zero,
        last_modification: zero,
    }
}
