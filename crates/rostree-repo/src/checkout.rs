//! Checking out a commit's tree into a directory.
//!
//! Content objects are hardlinked where the repository mode allows it (bare outside user
//! mode; bare-user in user mode; bare-user-only always) and copied otherwise, or when the
//! filesystem refuses the link. Everything is created relative to directory handles, with
//! names that dirtree validation has already proved free of `/`, `.` and `..`, and nothing
//! existing in the target is ever followed: a symlink in the way is an error or replaced,
//! never written through.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::io::{Seek, Write};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use cap_std::fs::Dir;
use rayon::prelude::*;
use rostree_core::object::{DirMeta, DirTree, DirTreeRef, FileHeader, MAX_TREE_DEPTH};
use rostree_core::{Checksum, ObjectType};
use rustix::fs::{AtFlags, Mode, OFlags};

use crate::content::{HashingReader, Payload};
use crate::error::{Error, IoContext, Result, TreeWalk};
use crate::progress::{Event, NoProgress, Progress};
use crate::repo::Repo;
use crate::{RepoMode, sys};

/// What to do with files that exist in the target already.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Overwrite {
    /// The target must not exist (the default).
    #[default]
    None,
    /// `--union`: keep directories, replace files.
    Union,
    /// `--union-add`: keep everything that exists, only add.
    UnionAdd,
    /// `--union-identical`: existing files must be the same object.
    UnionIdentical,
}

/// Options of [`checkout`].
#[derive(Clone, Debug, Default)]
pub struct CheckoutOptions {
    /// `-U`: leave ownership and xattrs alone, drop setuid/setgid.
    pub user_mode: bool,
    /// Handling of existing files.
    pub overwrite: Overwrite,
    /// `-H`: fail rather than copy when a hardlink is not possible.
    pub require_hardlinks: bool,
    /// `-C`: always copy.
    pub force_copy: bool,
    /// `-M`: directory modes masked to 0775.
    pub bareuseronly_dirs: bool,
    /// Paths (absolute within the commit) left out.
    pub skip: HashSet<String>,
    /// Make the checkout durable (`syncfs`) before returning.
    pub fsync: bool,
    /// `--whiteouts`: a file `.wh.NAME` removes `NAME` from the target instead of being
    /// checked out (Docker/OCI layers).
    pub whiteouts: bool,
    /// `--process-passthrough-whiteouts`: a file `.ostree-wh.NAME` becomes `NAME`, a 0:0
    /// character device (an overlayfs whiteout), with the file's permissions.
    pub passthrough_whiteouts: bool,
    /// A user-mode checkout of an archive repository keeps uncompressed copies of regular
    /// files in `uncompressed-objects-cache/` and hard-links them into the checkout, as
    /// upstream's CLI does unless `--disable-cache` (and the repository's
    /// `core.enable-uncompressed-cache` is not false).
    pub uncompressed_cache: bool,
}

/// Where uncompressed copies of an archive repository's files are kept:
/// `uncompressed-objects-cache/XX/REST.file`, as bare objects are named.
const UNCOMPRESSED_CACHE: &str = "uncompressed-objects-cache";

const WHITEOUT_PREFIX: &str = ".wh.";
const PASSTHROUGH_WHITEOUT_PREFIX: &str = ".ostree-wh.";

/// Counts of what a checkout did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckoutOutcome {
    /// Files hardlinked from the repository.
    pub hardlinked: u64,
    /// Files written as copies (reflinked ones included).
    pub copied: u64,
    /// Of those, the ones whose blocks are shared with the repository (FICLONE).
    pub reflinked: u64,
    /// Directories created.
    pub dirs: u64,
}

struct Context<'a> {
    repo: &'a Repo,
    options: CheckoutOptions,
    progress: &'a dyn Progress,
    interrupt: &'a AtomicBool,
    can_link: bool,
    hardlinked: AtomicU64,
    copied: AtomicU64,
    reflinked: AtomicU64,
    dirs: AtomicU64,
    dirmetas: std::sync::Mutex<std::collections::HashMap<Checksum, DirMeta>>,
    /// The uncompressed cache, when this checkout uses it.
    cache: Option<Dir>,
}

const S_IFMT: u32 = 0o170000;
const S_IFDIR: u32 = 0o040000;

/// Whether the mode can link objects into a checkout, as upstream decides it.
fn hardlink_rule(mode: RepoMode, user_mode: bool) -> std::result::Result<(), &'static str> {
    match (mode, user_mode) {
        (RepoMode::Bare, false) | (RepoMode::BareUser, true) | (RepoMode::BareUserOnly, _) => {
            Ok(())
        }
        (RepoMode::BareUser, false) => {
            Err("User repository mode requires user checkout mode to hardlink")
        }
        // Upstream's wording, for archive repos too.
        _ => Err("Bare repository mode cannot hardlink in user checkout mode"),
    }
}

impl<'a> Context<'a> {
    /// Checks the options against the repository mode.
    fn new(
        repo: &'a Repo,
        progress: &'a dyn Progress,
        interrupt: &'a AtomicBool,
        options: &CheckoutOptions,
    ) -> Result<Self> {
        let mut options = options.clone();
        // Nothing but a user checkout makes sense of a bare-user-only repository: upstream
        // makes every checkout of one a user checkout.
        if repo.mode() == RepoMode::BareUserOnly {
            options.user_mode = true;
        }
        if options.overwrite == Overwrite::UnionIdentical && !options.require_hardlinks {
            return Err(Error::InvalidOptions(
                "--union-identical requires --require-hardlinks",
            ));
        }
        let rule = hardlink_rule(repo.mode(), options.user_mode);
        if options.require_hardlinks
            && let Err(reason) = rule
        {
            return Err(Error::InvalidOptions(reason));
        }
        let cache_wanted = options.uncompressed_cache
            && options.user_mode
            && !options.force_copy
            && repo.mode() == RepoMode::Archive
            && repo.settings().enable_uncompressed_cache;
        let cache = if cache_wanted {
            match repo.dir().create_dir(UNCOMPRESSED_CACHE) {
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                    return Err(e).ctx("creating", repo.path().join(UNCOMPRESSED_CACHE));
                }
                _ => {}
            }
            Some(
                repo.dir()
                    .open_dir(UNCOMPRESSED_CACHE)
                    .ctx("opening", repo.path().join(UNCOMPRESSED_CACHE))?,
            )
        } else {
            None
        };
        let can_link = rule.is_ok() && !options.force_copy;
        Ok(Context {
            repo,
            options,
            progress,
            interrupt,
            cache,
            can_link,
            hardlinked: AtomicU64::new(0),
            copied: AtomicU64::new(0),
            reflinked: AtomicU64::new(0),
            dirs: AtomicU64::new(0),
            dirmetas: Default::default(),
        })
    }

    /// Counts a file checked out, and reports it.
    fn count_file(&self, linked: bool) {
        let count = if linked {
            &self.hardlinked
        } else {
            &self.copied
        };
        count.fetch_add(1, Ordering::Relaxed);
        self.progress.event(Event::FileCheckedOut { linked });
    }

    fn finish(&self, dir: &Dir, shown: &Path) -> Result<CheckoutOutcome> {
        if self.options.fsync {
            let fd = sys::readable_dir(dir).ctx("opening", shown)?;
            rustix::fs::syncfs(&fd).ctx("syncing", shown)?;
        }
        Ok(CheckoutOutcome {
            hardlinked: self.hardlinked.load(Ordering::Relaxed),
            copied: self.copied.load(Ordering::Relaxed),
            reflinked: self.reflinked.load(Ordering::Relaxed),
            dirs: self.dirs.load(Ordering::Relaxed),
        })
    }
}

/// Creates the checkout's top directory (mode 0700 until its metadata is applied); whether
/// it was new.
fn make_top_dir(parent: &Dir, name: &Path, exist_ok: bool) -> Result<(Dir, bool)> {
    let name_str = name.to_str().ok_or_else(|| Error::NonUtf8Target {
        path: name.to_owned(),
    })?;
    let created = match rustix::fs::mkdirat(parent, name_str, Mode::from_raw_mode(0o700)) {
        Ok(()) => true,
        Err(rustix::io::Errno::EXIST) if exist_ok => false,
        Err(e) => return Err(e).ctx("mkdirat", name),
    };
    let dir = sys::open_dir_nofollow(parent, name_str).ctx("opening", name)?;
    Ok((dir, created))
}

/// Refuses a hardlink-only checkout into another file system before anything is written,
/// in upstream's words: the destination (or, not there yet, its parent) against the repo.
fn check_same_device(repo: &Repo, parent: &Dir, name: &Path) -> Result<()> {
    let src = rustix::fs::fstat(repo.dir())
        .ctx("stat", repo.path())?
        .st_dev;
    let destination = match rustix::fs::statat(parent, name, AtFlags::empty()) {
        Ok(st) => st.st_dev,
        Err(rustix::io::Errno::NOENT) => rustix::fs::fstat(parent).ctx("stat", name)?.st_dev,
        Err(e) => return Err(e).ctx("stat", name),
    };
    if src != destination {
        return Err(Error::CrossDevice {
            path: name.to_owned(),
            src,
            destination,
        });
    }
    Ok(())
}

/// Checks out `tree`/`meta` (a commit root or a subdirectory of it) as `name` in `parent`.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::atomic::AtomicBool;
/// use cap_std::{ambient_authority, fs::Dir};
/// use rostree_repo::checkout::{CheckoutOptions, checkout};
/// use rostree_repo::commit::{CommitOptions, TreeSource, commit};
/// use rostree_repo::{InitOptions, Repo, RepoMode, progress::NoProgress};
///
/// let tmp = tempfile::tempdir()?;
/// std::fs::create_dir_all(tmp.path().join("tree/etc"))?;
/// std::fs::write(tmp.path().join("tree/etc/os-release"), "ID=example\n")?;
/// std::fs::create_dir(tmp.path().join("repo"))?;
/// let repo_dir = Dir::open_ambient_dir(tmp.path().join("repo"), ambient_authority())?;
/// let options = InitOptions { mode: RepoMode::Archive, ..Default::default() };
/// let repo = Repo::init(repo_dir, tmp.path().join("repo"), &options)?;
/// let tree = Dir::open_ambient_dir(tmp.path().join("tree"), ambient_authority())?;
/// let sources = vec![TreeSource::Dir(tree, tmp.path().join("tree"))];
/// let options = CommitOptions { branch: Some("main".into()), ..Default::default() };
/// let interrupt = AtomicBool::new(false);
/// let outcome = commit(&repo, sources, &NoProgress, &interrupt, &options)?;
///
/// // `ostree checkout -U main checkout`: a user-mode checkout, files owned by the caller.
/// let root = repo.load_commit(&outcome.checksum)?;
/// let target = Dir::open_ambient_dir(tmp.path(), ambient_authority())?;
/// let options = CheckoutOptions { user_mode: true, ..Default::default() };
/// let done = checkout(
///     &repo, (root.root_tree, root.root_meta), &target, "checkout".as_ref(), &NoProgress,
///     &interrupt, &options,
/// )?;
/// let text = std::fs::read_to_string(tmp.path().join("checkout/etc/os-release"))?;
/// assert_eq!(text, "ID=example\n");
/// assert_eq!(done.dirs, 2); // the root and etc/
/// # Ok(()) }
/// ```
pub fn checkout(
    repo: &Repo,
    (tree, meta): (Checksum, Checksum),
    parent: &Dir,
    name: &Path,
    progress: &dyn Progress,
    interrupt: &AtomicBool,
    options: &CheckoutOptions,
) -> Result<CheckoutOutcome> {
    if options.require_hardlinks {
        check_same_device(repo, parent, name)?;
    }
    let ctx = Context::new(repo, progress, interrupt, options)?;
    let (dir, created) = make_top_dir(parent, name, options.overwrite != Overwrite::None)?;
    // Directories recurse on worker threads; give them room for MAX_TREE_DEPTH.
    let pool = rayon::ThreadPoolBuilder::new()
        .stack_size(64 << 20)
        .build()
        .map_err(|source| Error::Threads { source })?;
    pool.install(|| ctx.checkout_dir(&dir, name, "", &tree, &meta, created))?;
    ctx.finish(&dir, name)
}

/// Checks out one file of a commit (`--subpath` naming a file) as `file_name` inside the
/// directory `name` in `parent`, which is created (mode 0700) unless it exists, as upstream.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # use std::sync::atomic::AtomicBool;
/// # use cap_std::{ambient_authority, fs::Dir};
/// # use rostree_repo::commit::{CommitOptions, TreeSource, commit};
/// # use rostree_repo::{InitOptions, Repo, RepoMode, progress::NoProgress};
/// # let tmp = tempfile::tempdir()?;
/// # std::fs::create_dir_all(tmp.path().join("tree/etc"))?;
/// # std::fs::write(tmp.path().join("tree/etc/os-release"), "ID=example\n")?;
/// # std::fs::create_dir(tmp.path().join("repo"))?;
/// # let repo_dir = Dir::open_ambient_dir(tmp.path().join("repo"), ambient_authority())?;
/// # let options = InitOptions { mode: RepoMode::Archive, ..Default::default() };
/// # let repo = Repo::init(repo_dir, tmp.path().join("repo"), &options)?;
/// # let tree = Dir::open_ambient_dir(tmp.path().join("tree"), ambient_authority())?;
/// # let sources = vec![TreeSource::Dir(tree, tmp.path().join("tree"))];
/// # let options = CommitOptions { branch: Some("main".into()), ..Default::default() };
/// # let interrupt = AtomicBool::new(false);
/// # commit(&repo, sources, &NoProgress, &interrupt, &options)?;
/// use rostree_repo::checkout::{CheckoutOptions, checkout_single_file};
/// use rostree_repo::tree::{TreeEntry, lookup_path};
///
/// // `repo` (archive mode) holds `main`, a commit of a tree with /etc/os-release.
/// let commit = repo.load_commit(&repo.resolve_rev("main")?)?;
/// let root = (commit.root_tree, commit.root_meta);
/// let TreeEntry::File(file) = lookup_path(&repo, root, "/etc/os-release")? else {
///     return Err("not a file".into());
/// };
/// // `ostree checkout -U --subpath=/etc/os-release main out`
/// let target = Dir::open_ambient_dir(tmp.path(), ambient_authority())?;
/// let options = CheckoutOptions { user_mode: true, ..Default::default() };
/// checkout_single_file(
///     &repo, &file, "os-release", &target, "out".as_ref(), &interrupt, &options,
/// )?;
/// assert_eq!(std::fs::read_to_string(tmp.path().join("out/os-release"))?, "ID=example\n");
/// # Ok(()) }
/// ```
pub fn checkout_single_file(
    repo: &Repo,
    checksum: &Checksum,
    file_name: &str,
    parent: &Dir,
    name: &Path,
    interrupt: &AtomicBool,
    options: &CheckoutOptions,
) -> Result<CheckoutOutcome> {
    rostree_core::object::validate_filename(file_name).map_err(|reason| {
        Error::InvalidFileName {
            name: file_name.to_owned(),
            reason,
        }
    })?;
    let ctx = Context::new(repo, &NoProgress, interrupt, options)?;
    let (dir, _) = make_top_dir(parent, name, true)?;
    ctx.checkout_file(&dir, &name.join(file_name), file_name, checksum)?;
    ctx.finish(&dir, name)
}

impl Context<'_> {
    fn check_interrupt(&self) -> Result<()> {
        if self.interrupt.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        Ok(())
    }

    /// Dirmetas repeat across a tree (most directories share a few), so each is read once.
    fn dirmeta(&self, checksum: &Checksum) -> Result<DirMeta> {
        if let Some(meta) = self
            .dirmetas
            .lock()
            .ok()
            .and_then(|m| m.get(checksum).cloned())
        {
            return Ok(meta);
        }
        let meta = self.repo.load_dirmeta(checksum)?;
        if let Ok(mut cache) = self.dirmetas.lock() {
            cache.insert(*checksum, meta.clone());
        }
        Ok(meta)
    }

    fn load_tree(&self, tree: &Checksum) -> Result<DirTree> {
        let data = self.repo.load_metadata(ObjectType::DirTree, tree)?;
        DirTreeRef::parse(&data)
            .map(|v| v.to_owned())
            .map_err(|e| Error::Corrupt {
                objtype: ObjectType::DirTree,
                checksum: *tree,
                reason: e.to_string(),
            })
    }

    /// Fills `dir` (at `path` in the commit) and then gives it its metadata, last, so that a
    /// read-only directory is still writable while it is filled.
    fn checkout_dir(
        &self,
        dir: &Dir,
        shown: &Path,
        path: &str,
        tree: &Checksum,
        meta: &Checksum,
        created: bool,
    ) -> Result<()> {
        self.check_interrupt()?;
        if path.matches('/').count() > MAX_TREE_DEPTH {
            return Err(Error::TooDeep {
                path: path.into(),
                walk: TreeWalk::Checkout,
            });
        }
        let listing = self.load_tree(tree)?;
        let dirmeta = self.dirmeta(meta)?;
        if dirmeta.mode & S_IFMT != S_IFDIR {
            return Err(Error::Corrupt {
                objtype: ObjectType::DirMeta,
                checksum: *meta,
                reason: "not a directory mode".into(),
            });
        }
        self.dirs.fetch_add(1, Ordering::Relaxed);
        // Whiteouts first, in order, so that what they remove is gone before anything of
        // this tree is written (upstream's sorted order does the same for all but names
        // sorting before `.`).
        let mut files = Vec::with_capacity(listing.files.len());
        for (name, checksum) in &listing.files {
            if self.options.skip.contains(&format!("{path}/{name}")) {
                continue;
            }
            let shown_file = shown.join(name);
            if self.options.whiteouts
                && let Some(target) = name.strip_prefix(WHITEOUT_PREFIX)
            {
                self.remove_whited_out(dir, &shown_file, target)?;
            } else if self.options.passthrough_whiteouts
                && let Some(target) = name.strip_prefix(PASSTHROUGH_WHITEOUT_PREFIX)
            {
                self.make_whiteout_device(dir, &shown_file, target, checksum)?;
            } else {
                files.push((shown_file, name, checksum));
            }
        }
        files
            .par_iter()
            .try_for_each(|(shown_file, name, checksum)| {
                self.checkout_file(dir, shown_file, name, checksum)
            })?;
        listing
            .dirs
            .par_iter()
            .try_for_each(|(name, sub_tree, sub_meta)| {
                let child = format!("{path}/{name}");
                if self.options.skip.contains(&child) {
                    return Ok(());
                }
                let child_shown = shown.join(name);
                let created =
                    match rustix::fs::mkdirat(dir, name.as_str(), Mode::from_raw_mode(0o700)) {
                        Ok(()) => true,
                        Err(rustix::io::Errno::EXIST)
                            if self.options.overwrite != Overwrite::None =>
                        {
                            false
                        }
                        Err(e) => return Err(e).ctx("mkdirat", &child_shown),
                    };
                // O_NOFOLLOW: a symlink where a directory goes is never entered.
                let sub = sys::open_dir_nofollow(dir, name).ctx("opening", &child_shown)?;
                self.checkout_dir(&sub, &child_shown, &child, sub_tree, sub_meta, created)
            })?;
        if created {
            self.apply_dirmeta(dir, shown, &dirmeta)?;
        }
        Ok(())
    }

    /// `.wh.NAME`: removes `NAME` (a whole directory, or a symlink itself, never what it
    /// points to) from the target.
    fn remove_whited_out(&self, dir: &Dir, shown: &Path, target: &str) -> Result<()> {
        if target.is_empty() || target == "." || target == ".." {
            return Err(Error::InvalidWhiteout {
                path: shown.to_owned(),
            });
        }
        let existing = match sys::lstat_at(dir, OsStr::new(target)) {
            Ok(st) => st,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).ctx("stat", shown.with_file_name(target)),
        };
        let removed = if existing.st_mode & S_IFMT == S_IFDIR {
            dir.remove_dir_all(target)
        } else {
            dir.remove_file(target)
        };
        removed.ctx("removing", shown.with_file_name(target))
    }

    /// `.ostree-wh.NAME`: creates `NAME` as a 0:0 character device with the file's
    /// permissions (and, outside user mode, its ownership and xattrs).
    fn make_whiteout_device(
        &self,
        dir: &Dir,
        shown: &Path,
        target: &str,
        checksum: &Checksum,
    ) -> Result<()> {
        if target.is_empty() || target == "." || target == ".." {
            return Err(Error::InvalidWhiteout {
                path: shown.to_owned(),
            });
        }
        let (header, _) = self.repo.file_info(checksum)?;
        let device = shown.with_file_name(target);
        rustix::fs::mknodat(
            dir,
            target,
            rustix::fs::FileType::CharacterDevice,
            Mode::from_raw_mode(header.mode & 0o7777),
            0,
        )
        .ctx("creating whiteout device", &device)?;
        if !self.options.user_mode {
            rustix::fs::chownat(
                dir,
                target,
                Some(rustix::fs::Uid::from_raw(header.uid)),
                Some(rustix::fs::Gid::from_raw(header.gid)),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .ctx("chown", &device)?;
            sys::set_link_xattrs(dir, OsStr::new(target), &header.xattrs)
                .ctx("setting xattrs of", &device)?;
        }
        // mknod's mode passed through the umask; the whiteout keeps the file's own.
        rustix::fs::chmodat(
            dir,
            target,
            Mode::from_raw_mode(header.mode & 0o7777),
            AtFlags::empty(),
        )
        .ctx("chmod", &device)?;
        Ok(())
    }

    fn apply_dirmeta(&self, dir: &Dir, shown: &Path, meta: &DirMeta) -> Result<()> {
        // Directories here come from open_dir_nofollow, so the handle is readable already.
        let fd = dir;
        let mut perms = meta.mode & 0o7777;
        if !self.options.user_mode {
            rustix::fs::fchown(
                fd,
                Some(rustix::fs::Uid::from_raw(meta.uid)),
                Some(rustix::fs::Gid::from_raw(meta.gid)),
            )
            .ctx("chown", shown)?;
            sys::set_fd_xattrs(fd, &meta.xattrs).ctx("setting xattrs of", shown)?;
        }
        // bare-user-only repositories never give a checkout world-writable (or setuid, …)
        // directories, as upstream.
        if self.options.bareuseronly_dirs || self.repo.mode() == RepoMode::BareUserOnly {
            perms &= 0o775;
        }
        rustix::fs::fchmod(fd, Mode::from_raw_mode(perms)).ctx("chmod", shown)?;
        set_zero_mtime(fd).ctx("setting mtime of", shown)
    }

    /// Makes room for `name` according to the overwrite policy; `false` means keep what is
    /// there.
    fn clear_target(
        &self,
        dir: &Dir,
        shown: &Path,
        name: &str,
        checksum: &Checksum,
    ) -> Result<bool> {
        let existing = match sys::lstat_at(dir, OsStr::new(name)) {
            Ok(st) => st,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
            Err(e) => return Err(e).ctx("stat", shown),
        };
        match self.options.overwrite {
            Overwrite::None => Err(Error::FileExists {
                path: shown.to_owned(),
            }),
            Overwrite::UnionAdd => Ok(false),
            Overwrite::Union | Overwrite::UnionIdentical => {
                if existing.st_mode & S_IFMT == S_IFDIR {
                    return Err(Error::DirectoryInTheWay {
                        path: shown.to_owned(),
                    });
                }
                if self.options.overwrite == Overwrite::UnionIdentical {
                    if self.is_identical(dir, shown, name, &existing, checksum)? {
                        return Ok(false);
                    }
                    // Upstream's words: the link that would have replaced it exists.
                    return Err(Error::NotIdentical {
                        checksum: *checksum,
                        name: name.to_owned(),
                        path: shown.to_owned(),
                    });
                }
                rustix::fs::unlinkat(dir, name, AtFlags::empty()).ctx("unlinking", shown)?;
                Ok(true)
            }
        }
    }

    /// Whether the file already at `name` is the object `checksum`, as upstream decides
    /// for `--union-identical`: a hard link to it, a symlink to the same target, or a file
    /// whose content checksum (xattrs left out where the repository keeps none,
    /// permissions canonical in bare-user-only) is the object's.
    fn is_identical(
        &self,
        dir: &Dir,
        shown: &Path,
        name: &str,
        existing: &rustix::fs::Stat,
        checksum: &Checksum,
    ) -> Result<bool> {
        let rel = checksum.relative_path(ObjectType::File, false);
        if let Ok(object) = sys::lstat_at(self.repo.objects_dir(), rel.as_ref())
            && object.st_dev == existing.st_dev
            && object.st_ino == existing.st_ino
        {
            return Ok(true);
        }
        let (header, _) = self.repo.file_info(checksum)?;
        let kind = existing.st_mode & S_IFMT;
        if header.is_symlink() {
            if kind != 0o120000 {
                return Ok(false);
            }
            let target =
                rustix::fs::readlinkat(dir, name, Vec::new()).ctx("reading link", shown)?;
            return Ok(target.as_bytes() == header.symlink_target.as_bytes());
        }
        if kind != 0o100000 {
            return Ok(false);
        }
        let bare_user_only = self.repo.mode() == RepoMode::BareUserOnly;
        let xattrs = if self.repo.xattrs_disabled() || bare_user_only {
            rostree_core::object::Xattrs::new()
        } else {
            sys::link_xattrs(dir, OsStr::new(name)).ctx("reading xattrs of", shown)?
        };
        let (uid, gid, mode) = if bare_user_only {
            (0, 0, existing.st_mode & (S_IFMT | 0o755))
        } else {
            (existing.st_uid, existing.st_gid, existing.st_mode)
        };
        let on_disk = FileHeader {
            uid,
            gid,
            mode,
            rdev: 0,
            symlink_target: String::new(),
            xattrs,
        };
        let data = dir.read(name).ctx("reading", shown)?;
        Ok(rostree_core::object::content_checksum(&on_disk, &data) == *checksum)
    }

    fn checkout_file(
        &self,
        dir: &Dir,
        shown: &Path,
        name: &str,
        checksum: &Checksum,
    ) -> Result<()> {
        self.check_interrupt()?;
        // Without a union there is nothing to clear: a name that exists fails the link or
        // the exclusive create below.
        if self.options.overwrite != Overwrite::None
            && !self.clear_target(dir, shown, name, checksum)?
        {
            return Ok(());
        }
        if self.can_link && self.linkable(checksum)? {
            let rel = checksum.relative_path(ObjectType::File, false);
            match rustix::fs::linkat(
                self.repo.objects_dir(),
                rel.as_str(),
                dir,
                name,
                AtFlags::empty(),
            ) {
                Ok(()) => {
                    self.count_file(true);
                    return Ok(());
                }
                Err(rustix::io::Errno::EXIST) => {
                    return Err(Error::FileExists {
                        path: shown.to_owned(),
                    });
                }
                Err(rustix::io::Errno::XDEV | rustix::io::Errno::MLINK)
                    if !self.options.require_hardlinks => {}
                Err(e) => return Err(e).ctx("hardlinking", shown),
            }
        }
        let (header, size) = self.repo.file_info(checksum)?;
        if self.link_from_cache(dir, shown, name, checksum, &header, size)? {
            self.count_file(true);
            return Ok(());
        }
        self.copy_file(dir, shown, name, checksum, &header)?;
        self.count_file(false);
        Ok(())
    }

    /// Hard-links the file from the uncompressed cache, filling the cache first; `false`
    /// when the cache is off or cannot serve (symlinks and empty files are not cached, and
    /// a link across devices is copied instead).
    fn link_from_cache(
        &self,
        dir: &Dir,
        shown: &Path,
        name: &str,
        checksum: &Checksum,
        header: &FileHeader,
        size: u64,
    ) -> Result<bool> {
        let Some(cache) = &self.cache else {
            return Ok(false);
        };
        if header.is_symlink() || size == 0 || header.mode & 0o400 == 0 {
            return Ok(false);
        }
        let cached = || self.repo.path().join(UNCOMPRESSED_CACHE);
        let prefix = checksum.prefix_dir();
        match cache.create_dir(&prefix) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                return Err(e).ctx("creating", cached().join(&prefix));
            }
            _ => {}
        }
        let sub = cache
            .open_dir(&prefix)
            .ctx("opening", cached().join(&prefix))?;
        let object = format!("{}.file", checksum.suffix_hex());
        if !sub.exists(&object) {
            // Written aside (checked as it is written), then given its name.
            let tmp = format!(".tmp-{}-{object}", std::process::id());
            let _ = sub.remove_file(&tmp);
            self.copy_file(
                &sub,
                &cached().join(&prefix).join(&tmp),
                &tmp,
                checksum,
                header,
            )?;
            match rustix::fs::renameat(&sub, tmp.as_str(), &sub, object.as_str()) {
                Ok(()) => {}
                Err(e) => {
                    let _ = sub.remove_file(&tmp);
                    return Err(e).ctx("renaming", cached().join(&prefix).join(&object));
                }
            }
        }
        match rustix::fs::linkat(&sub, object.as_str(), dir, name, AtFlags::empty()) {
            Ok(()) => Ok(true),
            Err(rustix::io::Errno::XDEV | rustix::io::Errno::MLINK) => Ok(false),
            Err(e) => Err(e).ctx("hardlinking", shown),
        }
    }

    /// Whether the object can be hardlinked into the checkout, from one `lstat` (and, in
    /// bare-user repos, one xattr): empty files are copied, since linking them would gather
    /// huge link counts on one inode, and bare-user symlinks are stored as regular files.
    fn linkable(&self, checksum: &Checksum) -> Result<bool> {
        let rel = checksum.relative_path(ObjectType::File, false);
        let path = || self.repo.object_path(ObjectType::File, checksum);
        let st = match sys::lstat_at(self.repo.objects_dir(), rel.as_ref()) {
            Ok(st) => st,
            // An object of the parent repository is copied out of it.
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    && self.repo.parent().is_some()
                    && self.repo.has_object(ObjectType::File, checksum)? =>
            {
                return Ok(false);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::MissingObject {
                    objtype: ObjectType::File,
                    checksum: *checksum,
                });
            }
            Err(e) => return Err(e).ctx("stat", path()),
        };
        match st.st_mode & S_IFMT {
            0o120000 => Ok(self.repo.mode() != RepoMode::BareUser),
            0o100000 if st.st_size > 0 => {
                // A user-mode checkout gives an unreadable file a copy its owner can read,
                // as upstream does: the object itself must stay as it is.
                let unreadable = |mode: u32| self.options.user_mode && mode & 0o400 == 0;
                if self.repo.mode() != RepoMode::BareUser {
                    return Ok(!unreadable(st.st_mode));
                }
                let (dir, name) = rel.split_at(2);
                let meta =
                    sys::path_xattr(self.repo.objects_dir(), dir, &name[1..], "user.ostreemeta")
                        .ctx("reading xattrs of", path())?
                        .and_then(|m| DirMeta::from_bytes(&m).ok())
                        .ok_or_else(|| Error::Corrupt {
                            objtype: ObjectType::File,
                            checksum: *checksum,
                            reason: "missing or invalid user.ostreemeta".into(),
                        })?;
                Ok(meta.mode & S_IFMT != 0o120000 && !unreadable(meta.mode))
            }
            _ => Ok(false),
        }
    }

    fn copy_file(
        &self,
        dir: &Dir,
        shown: &Path,
        name: &str,
        checksum: &Checksum,
        header: &FileHeader,
    ) -> Result<()> {
        let user = self.options.user_mode;
        if header.is_symlink() {
            rustix::fs::symlinkat(header.symlink_target.as_str(), dir, name)
                .ctx("symlink", shown)?;
            if !user {
                rustix::fs::chownat(
                    dir,
                    name,
                    Some(rustix::fs::Uid::from_raw(header.uid)),
                    Some(rustix::fs::Gid::from_raw(header.gid)),
                    AtFlags::SYMLINK_NOFOLLOW,
                )
                .ctx("chown", shown)?;
                sys::set_link_xattrs(dir, OsStr::new(name), &header.xattrs)
                    .ctx("setting xattrs of", shown)?;
            }
            return Ok(());
        }
        let fd: OwnedFd = rustix::fs::openat(
            dir,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .ctx("creating", shown)?;
        let mut file = std::fs::File::from(fd);
        // Copies are verified as they are written: an object whose content does not match
        // its name never reaches the checkout intact (the file is removed again).
        let (_, payload) = self.repo.open_content(checksum)?;
        let mut hasher = rostree_core::Hasher::new();
        hasher.update(&header.stream_header());
        let written = match payload {
            Payload::File(f) => {
                let mut source = HashingReader::new(f.into_std(), &mut hasher);
                // Bare objects hold just the content: where the filesystem can share their
                // blocks (FICLONE), nothing is written, and the content is only read to be
                // checked. Otherwise, or on any refusal, it is copied.
                let whole_file = source.get_mut().stream_position().is_ok_and(|p| p == 0);
                if whole_file && rustix::fs::ioctl_ficlone(&file, source.get_ref()).is_ok() {
                    self.reflinked.fetch_add(1, Ordering::Relaxed);
                    crate::copy::copy_wide(&mut source, &mut std::io::sink()).map(|_| ())
                } else {
                    crate::copy::copy_wide(&mut source, &mut file).map(|_| ())
                }
            }
            Payload::Bytes(b) => {
                hasher.update(b.get_ref());
                file.write_all(b.get_ref())
            }
            payload => {
                crate::copy::copy_wide(&mut HashingReader::new(payload, &mut hasher), &mut file)
                    .map(|_| ())
            }
        };
        if let Err(e) = written {
            let _ = rustix::fs::unlinkat(dir, name, AtFlags::empty());
            return Err(e).ctx("writing", shown);
        }
        let actual = hasher.finish();
        if actual != *checksum {
            let _ = rustix::fs::unlinkat(dir, name, AtFlags::empty());
            return Err(Error::ChecksumMismatch {
                objtype: ObjectType::File,
                expected: *checksum,
                actual,
            });
        }
        let mut perms = header.mode & 0o7777;
        if user {
            // User mode never creates setuid or setgid files, nor files their owner cannot
            // read, as upstream.
            perms &= !0o6000;
            perms |= 0o400;
        } else {
            rustix::fs::fchown(
                &file,
                Some(rustix::fs::Uid::from_raw(header.uid)),
                Some(rustix::fs::Gid::from_raw(header.gid)),
            )
            .ctx("chown", shown)?;
            sys::set_fd_xattrs(&file, &header.xattrs).ctx("setting xattrs of", shown)?;
        }
        // After chown, which clears setuid/setgid.
        rustix::fs::fchmod(&file, Mode::from_raw_mode(perms)).ctx("chmod", shown)?;
        Ok(())
    }
}

/// A reader that feeds what passes through it to a hasher.
fn set_zero_mtime(fd: impl std::os::fd::AsFd) -> std::io::Result<()> {
    let zero = rustix::fs::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    Ok(rustix::fs::futimens(
        fd,
        &rustix::fs::Timestamps {
            last_access: zero,
            last_modification: zero,
        },
    )?)
}
