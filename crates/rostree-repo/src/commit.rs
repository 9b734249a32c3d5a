//! Writing commits: from directories (in parallel), tar archives and existing refs, layered
//! in order, then the commit object and the ref.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use cap_std::fs::Dir;
use rayon::prelude::*;
use rostree_core::ghash::{HashOrder, str_hash};
use rostree_core::gvariant::{Type, Value};
use rostree_core::object::{
    Commit, DirMeta, FileHeader, MAX_TREE_DEPTH, Metadata, Xattrs, content_checksum,
};
use rostree_core::{Checksum, Hasher, ObjectType, varint};

use crate::error::{Error, IoContext, Result, TreeWalk};
use crate::mtree::{MutableTree, Node};
use crate::progress::{Event, Progress};
use crate::repo::{RefKind, Repo};
use crate::transaction::{Source, Transaction, TransactionStats};
use crate::{RepoMode, sys};

const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFDIR: u32 = 0o040000;

/// Files up to this size are read whole, hashed, and written from memory (faster for the
/// many small files of a tree); larger ones stream, so memory stays bounded.
const IN_MEMORY_LIMIT: u64 = 4 << 20;

/// How metadata is changed on the way into the repo.
#[derive(Clone, Debug, Default)]
pub struct CommitModifier {
    /// Record this owner instead of the file's.
    pub owner_uid: Option<u32>,
    /// Record this group instead of the file's.
    pub owner_gid: Option<u32>,
    /// Owner 0:0 and permissions masked with 0755, as upstream's `--canonical-permissions`.
    pub canonical_permissions: bool,
    /// Record no extended attributes.
    pub no_xattrs: bool,
    /// Per-path mode changes (paths start with `/`).
    pub stat_overrides: HashMap<String, StatOverride>,
    /// Paths (starting with `/`) left out of the commit.
    pub skip: HashSet<String>,
    /// Delete source files once committed.
    pub consume: bool,
    /// Take write permission away from executable files (`--mode-ro-executables`).
    pub mode_ro_executables: bool,
    /// Create directories a tar archive leaves out (`--tar-autocreate-parents`).
    pub tar_autocreate_parents: bool,
    /// Rewrite archive paths (`--tar-pathname-filter`).
    pub tar_pathname_filter: Option<crate::archive::PathnameFilter>,
}

/// What `--statoverride` does to one path. When a file has both, adding wins, as upstream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatOverride {
    /// `+N`: OR these bits into the mode.
    pub add: Option<u32>,
    /// `=N`: replace the permission bits.
    pub set: Option<u32>,
}

/// Reads a leading number as C's `strtod` would, truncated to an integer; 0 if there is none.
/// Upstream parses statoverride modes this way, so `+2048` (not `+04000`) adds setuid.
fn leading_decimal(text: &str) -> u32 {
    let end = text
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || ((c == '-' || c == '+') && i == 0)))
        .map_or(text.len(), |(i, _)| i);
    let number = (1..=end)
        .rev()
        .find_map(|n| text[..n].parse::<f64>().ok())
        .unwrap_or(0.0);
    // Negative values wrap as the C cast to an unsigned int does.
    (number.trunc() as i64) as u32
}

/// Parses a `--statoverride` file: lines of `[+=]MODE PATH`, MODE in decimal.
pub fn parse_statoverride(text: &str) -> Result<HashMap<String, StatOverride>> {
    let mut out: HashMap<String, StatOverride> = HashMap::new();
    for line in text.split('\n').filter(|l| !l.is_empty()) {
        let (mode, path) = line
            .split_once(' ')
            .ok_or_else(|| Error::InvalidStatoverride {
                line: line.to_owned(),
            })?;
        let entry = out.entry(path.to_owned()).or_default();
        match mode.strip_prefix('=') {
            Some(n) => entry.set = Some(leading_decimal(n)),
            None => entry.add = Some(leading_decimal(mode.strip_prefix('+').unwrap_or(mode))),
        }
    }
    Ok(out)
}

impl CommitModifier {
    /// Whether it changes anything of an entry (so that a stored tree must be rewritten).
    pub fn changes_anything(&self) -> bool {
        self.owner_uid.is_some()
            || self.owner_gid.is_some()
            || self.canonical_permissions
            || self.no_xattrs
            || self.mode_ro_executables
            || !self.stat_overrides.is_empty()
            || !self.skip.is_empty()
    }

    fn apply(
        &self,
        mode: RepoMode,
        path: &str,
        uid: u32,
        gid: u32,
        st_mode: u32,
        xattrs: Xattrs,
    ) -> (u32, u32, u32, Xattrs) {
        let mut uid = self.owner_uid.unwrap_or(uid);
        let mut gid = self.owner_gid.unwrap_or(gid);
        let mut st_mode = st_mode;
        let mut xattrs = if self.no_xattrs {
            Xattrs::new()
        } else {
            xattrs
        };
        // Overrides come first; canonicalization then masks their result, as upstream.
        if let Some(o) = self.stat_overrides.get(path) {
            match (o.add, o.set) {
                (Some(bits), _) => st_mode |= bits,
                (None, Some(bits)) => st_mode = (st_mode & S_IFMT) | bits,
                (None, None) => {}
            }
        }
        if self.mode_ro_executables && st_mode & S_IFMT == S_IFREG && st_mode & 0o111 != 0 {
            st_mode &= !0o222;
        }
        // bare-user-only repos canonicalize every commit, whether asked to or not.
        if self.canonical_permissions || mode == RepoMode::BareUserOnly {
            uid = 0;
            gid = 0;
            xattrs = Xattrs::new();
            if st_mode & S_IFMT != S_IFLNK {
                st_mode = (st_mode & S_IFMT) | (st_mode & 0o755);
            }
        }
        (uid, gid, st_mode, xattrs)
    }
}

/// One input layer of a commit.
pub enum TreeSource {
    /// A directory (`--tree=dir=`).
    Dir(Dir, PathBuf),
    /// A tar archive (`--tree=tar=`), possibly compressed by the caller.
    Tar(Box<dyn Read + Send>, PathBuf),
    /// The tree of an existing commit (`--tree=ref=`), through the modifier.
    Ref(String),
    /// The tree of an existing commit as it is, whatever the modifier (`--base`).
    Base(String),
}

/// What to put in the commit object.
#[derive(Clone, Debug, Default)]
pub struct CommitOptions {
    /// Branch to update.
    pub branch: Option<String>,
    /// Subject line.
    pub subject: String,
    /// Body.
    pub body: String,
    /// Seconds since the epoch (default: now).
    pub timestamp: Option<u64>,
    /// Parent: `None` means the branch's current commit.
    pub parent: Option<ParentSpec>,
    /// Commit metadata, in order.
    pub metadata: Metadata,
    /// Detached metadata to store beside the commit.
    pub detached_metadata: Metadata,
    /// Refs to bind the commit to (`ostree.ref-binding`), besides the branch.
    pub bind_refs: Vec<String>,
    /// Leave out `ostree.ref-binding`.
    pub no_bindings: bool,
    /// Add `ostree.sizes`.
    pub generate_sizes: bool,
    /// Metadata changes applied to every file.
    pub modifier: CommitModifier,
    /// Skip writing when the tree equals the parent's.
    pub skip_if_unchanged: bool,
    /// Reuse the checksums of files that are hardlinks to this repo's objects (checkouts).
    pub link_checkout_speedup: bool,
    /// `-I/--devino-canonical`: a file that is a hard link of an object is that object,
    /// whatever the modifier would change (implies `link_checkout_speedup`).
    pub devino_canonical: bool,
    /// Metadata keys copied from the parent commit (`--keep-metadata`).
    pub keep_metadata: Vec<String>,
    /// Record the kernel version (`ostree.linux`) and `ostree.bootable` (`--bootable`).
    pub bootable: bool,
    /// Signers whose signatures join the detached metadata inside the transaction, in
    /// order, before the branch moves (`--sign`, `--gpg-sign`).
    pub signers: Vec<std::sync::Arc<dyn CommitSigner>>,
}

/// Signs a commit inside its transaction, so that no ref ever names it unsigned: it is
/// given the commit object's bytes and the detached metadata so far, and adds its
/// signature there. Errors go back to the caller as [`Error::Signing`].
pub trait CommitSigner: Send + Sync + std::fmt::Debug {
    /// Adds a signature over `commit` (the object's exact bytes) to `detached`.
    fn sign(
        &self,
        commit: &[u8],
        detached: &mut Metadata,
    ) -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>>;
}

/// The parent of a new commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParentSpec {
    /// No parent (`--orphan` or `--parent=none`).
    None,
    /// This commit.
    Commit(Checksum),
}

/// The result of [`commit`].
#[derive(Clone, Debug)]
pub struct CommitOutcome {
    /// The new commit (or the unchanged parent with `skip_if_unchanged`).
    pub checksum: Checksum,
    /// Whether a new commit was written.
    pub written: bool,
    /// What the transaction wrote.
    pub stats: TransactionStats,
    /// Files taken from the dev/inode cache without being read (`Content Cache Hits`).
    pub devino_hits: u64,
}

/// Commits `sources` layered in order, then updates the branch.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::atomic::AtomicBool;
/// use cap_std::{ambient_authority, fs::Dir};
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
///
/// let tree = Dir::open_ambient_dir(tmp.path().join("tree"), ambient_authority())?;
/// let sources = vec![TreeSource::Dir(tree, tmp.path().join("tree"))];
/// let options = CommitOptions {
///     branch: Some("exampleos/stable".into()),
///     subject: "Release 1".into(),
///     timestamp: Some(1_700_000_000),
///     ..Default::default()
/// };
/// let outcome = commit(&repo, sources, &NoProgress, &AtomicBool::new(false), &options)?;
/// assert_eq!(repo.resolve_rev("exampleos/stable")?, outcome.checksum);
/// # Ok(()) }
/// ```
pub fn commit(
    repo: &Repo,
    sources: Vec<TreeSource>,
    progress: &dyn Progress,
    interrupt: &AtomicBool,
    options: &CommitOptions,
) -> Result<CommitOutcome> {
    if let Some(branch) = &options.branch {
        rostree_core::refname::parse_refspec(branch)?;
    }
    let parent = match &options.parent {
        Some(ParentSpec::None) => None,
        Some(ParentSpec::Commit(c)) => Some(*c),
        None => match &options.branch {
            Some(b) => {
                let (kind, name) = branch_ref(b)?;
                repo.read_ref(&kind, &name)?
            }
            None => None,
        },
    };
    if let Some(p) = &parent {
        // The parent must exist (upstream refuses a dangling parent too).
        repo.load_commit(p)?;
    }
    let tx = Transaction::begin(repo)?;
    // Upstream only records sizes in archive repos.
    let sizes = (options.generate_sizes && repo.mode().is_archive())
        .then(|| std::sync::Mutex::new(Vec::new()));
    let ctx = WriteContext {
        tx: &tx,
        modifier: &options.modifier,
        interrupt,
        progress,
        sizes: sizes.as_ref(),
        matched: Default::default(),
        devino_canonical: options.devino_canonical,
        devino_hits: std::sync::atomic::AtomicU64::new(0),
        devino: if (options.link_checkout_speedup || options.devino_canonical)
            && !repo.mode().is_archive()
        {
            Some(scan_devino(repo)?)
        } else {
            None
        },
    };
    // Directory import recurses once per level; give the workers room for MAX_TREE_DEPTH.
    let pool = rayon::ThreadPoolBuilder::new()
        .stack_size(64 << 20)
        .build()
        .map_err(|source| Error::Threads { source })?;
    let mut root = MutableTree::default();
    for source in sources {
        let layer = match source {
            TreeSource::Dir(dir, path) => pool.install(|| ctx.import_dir(&dir, &path, ""))?,
            TreeSource::Tar(reader, path) => ctx.import_tar(reader, &path)?,
            TreeSource::Base(rev) => {
                let c = repo.load_commit(&repo.resolve_rev(&rev)?)?;
                MutableTree::load(repo, &c.root_tree, &c.root_meta)?
            }
            TreeSource::Ref(rev) => {
                let c = repo.load_commit(&repo.resolve_rev(&rev)?)?;
                if ctx.modifier.changes_anything() {
                    // Every entry goes through the modifier, as upstream filters a tree
                    // it reads from the repository.
                    ctx.import_commit_tree(c.root_tree, c.root_meta, "")?
                } else {
                    MutableTree::load(repo, &c.root_tree, &c.root_meta)?
                }
            }
        };
        root.overlay(repo, layer)?;
    }
    ctx.check_unmatched()?;
    let devino_hits = ctx.devino_hits.load(Ordering::Relaxed);
    drop(ctx);
    if root.meta.is_none() {
        return Err(Error::EmptyTree);
    }
    progress.event(Event::Phase("writing trees"));
    let (root_tree, root_meta) = root.write(&tx)?;
    if options.skip_if_unchanged
        && let Some(p) = &parent
    {
        let pc = repo.load_commit(p)?;
        if pc.root_tree == root_tree && pc.root_meta == root_meta {
            let stats = tx.commit()?;
            return Ok(CommitOutcome {
                checksum: *p,
                written: false,
                stats,
                devino_hits,
            });
        }
    }
    let mut metadata = options.metadata.clone();
    if !options.keep_metadata.is_empty() {
        let Some(parent) = &parent else {
            return Err(Error::InvalidOptions(
                "Either --branch or --parent must be specified when using --keep-metadata",
            ));
        };
        let parent_meta = repo.load_commit(parent)?.metadata;
        for key in &options.keep_metadata {
            let value = parent_meta
                .get(key)
                .ok_or_else(|| Error::MissingMetadataKey {
                    key: key.clone(),
                    commit: *parent,
                })?;
            metadata.push(key.clone(), value.clone());
        }
    }
    if !options.no_bindings {
        // Upstream writes the binding even when it is empty (an orphan commit).
        let mut bindings: Vec<String> = options.branch.iter().cloned().collect();
        bindings.extend(options.bind_refs.iter().cloned());
        // Sorted, duplicates kept: upstream does not deduplicate them either.
        bindings.sort();
        metadata.push(
            "ostree.ref-binding",
            Value::Array(
                Type::String,
                bindings.into_iter().map(Value::String).collect(),
            ),
        );
        // A collection binding given as metadata takes precedence, as upstream allows.
        if let Some(id) = repo
            .collection_id()
            .filter(|_| metadata.get("ostree.collection-binding").is_none())
        {
            metadata.push("ostree.collection-binding", Value::String(id));
        }
    }
    if options.bootable {
        // Upstream adds the kernel keys through a GVariantDict over everything so far,
        // bindings included: keys become unique (the last value wins) and come out in GLib
        // hash-table order.
        let kver = find_kernel_version(&tx, &root_tree)?;
        let mut dict = HashOrder::new();
        for (key, value) in metadata.0 {
            let hash = str_hash(key.as_bytes());
            dict.insert(key, value, hash);
        }
        // Upstream inserts `ostree.bootable` before `ostree.linux`; with enough keys to resize
        // the table, that order shows.
        for (key, value) in [
            ("ostree.bootable", Value::Bool(true)),
            ("ostree.linux", Value::String(kver)),
        ] {
            dict.insert(key.to_owned(), value, str_hash(key.as_bytes()));
        }
        metadata = Metadata(dict.into_entries());
    }
    if let Some(sizes) = sizes {
        let mut entries = sizes.into_inner().unwrap_or_default();
        add_metadata_sizes(&tx, &root_tree, &root_meta, &mut entries)?;
        entries.sort_by_key(|a| a.0);
        entries.dedup_by(|a, b| a.0 == b.0 && a.3 == b.3);
        let values = entries
            .into_iter()
            .map(|(c, archived, unpacked, objtype)| {
                let mut e = c.as_bytes().to_vec();
                varint::write_varuint64(&mut e, archived);
                varint::write_varuint64(&mut e, unpacked);
                e.push(objtype as u8);
                Value::Bytes(e)
            })
            .collect();
        metadata.push(
            "ostree.sizes",
            Value::Array(Type::Array(Box::new(Type::Byte)), values),
        );
    }
    let timestamp = options.timestamp.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    });
    let commit = Commit {
        metadata,
        parent,
        related: Vec::new(),
        subject: options.subject.clone(),
        body: options.body.clone(),
        timestamp,
        root_tree,
        root_meta,
    };
    let commit_bytes = commit.to_bytes();
    let checksum = tx.write_metadata(ObjectType::Commit, &commit_bytes)?;
    // Signatures join the detached metadata given (or, without any, what an identical
    // commit made before already has), all staged before any ref moves.
    let mut detached = options.detached_metadata.clone();
    if !options.signers.is_empty()
        && detached.is_empty()
        && let Some(stored) = repo.load_commitmeta(&checksum)?
    {
        detached = Metadata::from_bytes(&stored).map_err(|e| Error::Corrupt {
            objtype: ObjectType::CommitMeta,
            checksum,
            reason: e.to_string(),
        })?;
    }
    for signer in &options.signers {
        signer
            .sign(&commit_bytes, &mut detached)
            .map_err(Error::Signing)?;
    }
    if !options.detached_metadata.is_empty() || !options.signers.is_empty() {
        tx.write_metadata_as(ObjectType::CommitMeta, &checksum, &detached.to_bytes())?;
    }
    progress.event(Event::Phase("syncing"));
    let refs = match &options.branch {
        Some(branch) => {
            let (kind, name) = branch_ref(branch)?;
            vec![(kind, name, checksum)]
        }
        None => Vec::new(),
    };
    let stats = tx.commit_with_refs(&refs)?;
    Ok(CommitOutcome {
        checksum,
        written: true,
        stats,
        devino_hits,
    })
}

/// The kernel version of a tree: the one directory of `usr/lib/modules/` with a `vmlinuz`.
fn find_kernel_version(tx: &Transaction<'_>, root: &Checksum) -> Result<String> {
    let read = |c: &Checksum| tx.load_metadata(ObjectType::DirTree, c);
    let parse = |c: &Checksum, data: &[u8]| parse_dirtree(c, data);
    let mut tree = *root;
    let mut walked = String::new();
    for component in ["usr", "lib", "modules"] {
        walked.push('/');
        walked.push_str(component);
        let listing = parse(&tree, &read(&tree)?)?;
        tree = listing
            .dirs
            .iter()
            .find(|d| d.0 == component)
            .map(|d| d.1)
            .ok_or_else(|| Error::NoSuchPath {
                path: walked.clone(),
            })?;
    }
    let modules = parse(&tree, &read(&tree)?)?;
    for (kver, sub, _) in &modules.dirs {
        let listing = parse(sub, &read(sub)?)?;
        if listing.files.iter().any(|f| f.0 == "vmlinuz") {
            return Ok(kver.clone());
        }
    }
    Err(Error::KernelNotFound)
}

/// Where a branch given as a refspec lives: `REMOTE:REF` under the remote, as upstream.
fn branch_ref(branch: &str) -> Result<(RefKind, String)> {
    let spec = rostree_core::refname::parse_refspec(branch)?;
    Ok(match spec.remote {
        Some(remote) => (RefKind::Remote(remote), spec.name),
        None => (RefKind::Local, spec.name),
    })
}

/// (checksum, archived size, unpacked size, type) entries of `ostree.sizes`.
type SizeEntry = (Checksum, u64, u64, ObjectType);

fn add_metadata_sizes(
    tx: &Transaction<'_>,
    root_tree: &Checksum,
    root_meta: &Checksum,
    out: &mut Vec<SizeEntry>,
) -> Result<()> {
    // Iterative, and each tree once: a hostile repo can nest or share subtrees deeply.
    let mut seen = HashSet::new();
    let mut pending = vec![(*root_tree, *root_meta)];
    while let Some((tree, meta)) = pending.pop() {
        if seen.insert((ObjectType::DirMeta, meta)) {
            let len = tx.load_metadata(ObjectType::DirMeta, &meta)?.len() as u64;
            out.push((meta, len, len, ObjectType::DirMeta));
        }
        if !seen.insert((ObjectType::DirTree, tree)) {
            continue;
        }
        let data = tx.load_metadata(ObjectType::DirTree, &tree)?;
        out.push((
            tree,
            data.len() as u64,
            data.len() as u64,
            ObjectType::DirTree,
        ));
        let view = parse_dirtree(&tree, &data)?;
        pending.extend(view.dirs.iter().map(|d| (d.1, d.2)));
    }
    Ok(())
}

fn parse_dirtree(checksum: &Checksum, data: &[u8]) -> Result<rostree_core::object::DirTree> {
    rostree_core::object::DirTreeRef::parse(data)
        .map(|v| v.to_owned())
        .map_err(|e| Error::Corrupt {
            objtype: ObjectType::DirTree,
            checksum: *checksum,
            reason: e.to_string(),
        })
}

struct WriteContext<'a, 'r> {
    tx: &'a Transaction<'r>,
    modifier: &'a CommitModifier,
    interrupt: &'a AtomicBool,
    progress: &'a dyn Progress,
    sizes: Option<&'a std::sync::Mutex<Vec<SizeEntry>>>,
    /// Statoverride and skip-list paths seen in the tree.
    matched: std::sync::Mutex<HashSet<String>>,
    /// (device, inode) of every content object, for `link_checkout_speedup`.
    devino: Option<HashMap<(u64, u64), Checksum>>,
    /// `devino_canonical`: the cache wins over the modifier.
    devino_canonical: bool,
    /// Files found in the cache.
    devino_hits: std::sync::atomic::AtomicU64,
}

impl WriteContext<'_, '_> {
    fn note_path(&self, path: &str) {
        if (self.modifier.stat_overrides.contains_key(path) || self.modifier.skip.contains(path))
            && let Ok(mut m) = self.matched.lock()
        {
            m.insert(path.to_owned());
        }
    }

    /// The object this file is a hardlink of, if the dev/inode cache knows it and nothing
    /// would change the metadata recorded for it.
    fn linked_object(&self, path: &str, st: &rustix::fs::Stat) -> Option<Checksum> {
        let cache = self.devino.as_ref()?;
        let m = self.modifier;
        if !self.devino_canonical
            && (m.owner_uid.is_some()
                || m.owner_gid.is_some()
                || m.canonical_permissions
                || m.no_xattrs
                || m.mode_ro_executables
                || m.stat_overrides.contains_key(path))
        {
            return None;
        }
        let found = cache.get(&(st.st_dev, st.st_ino)).copied();
        if found.is_some() {
            self.devino_hits.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// The content header of the file at `path`, after the modifier.
    fn file_header(
        &self,
        path: &str,
        st: &rustix::fs::Stat,
        xattrs: Xattrs,
        symlink_target: String,
    ) -> FileHeader {
        let (uid, gid, mode, xattrs) = self.apply(path, st.st_uid, st.st_gid, st.st_mode, xattrs);
        FileHeader {
            uid,
            gid,
            mode,
            rdev: 0,
            symlink_target,
            xattrs,
        }
    }

    /// Stores a content object (if new) and reports it.
    fn store(
        &self,
        checksum: &Checksum,
        header: &FileHeader,
        source: Source<'_>,
        bytes: u64,
    ) -> Result<()> {
        let written = self.tx.write_content_as(checksum, header, source)?;
        self.progress.event(Event::FileCommitted { bytes, written });
        Ok(())
    }

    /// A stored tree (of a commit given as `--tree=ref=`) with every entry passed through
    /// the modifier: content whose header changes is stored anew under its new checksum.
    fn import_commit_tree(
        &self,
        tree: Checksum,
        meta: Checksum,
        path: &str,
    ) -> Result<MutableTree> {
        self.check_interrupt()?;
        let repo = self.tx.repo();
        let dirmeta = repo.load_dirmeta(&meta)?;
        let shown = if path.is_empty() { "/" } else { path };
        let meta = self.write_dirmeta(
            shown,
            dirmeta.uid,
            dirmeta.gid,
            dirmeta.mode,
            dirmeta.xattrs,
        )?;
        let data = repo.load_metadata(ObjectType::DirTree, &tree)?;
        let view = crate::repo::parse_dirtree(&data, &tree)?;
        let mut entries = std::collections::BTreeMap::new();
        for file in &view.files {
            let child = format!("{path}/{}", file.name);
            if self.modifier.skip.contains(&child) {
                self.note_path(&child);
                continue;
            }
            let (header, _) = repo.file_info(&file.checksum)?;
            let (uid, gid, mode, xattrs) = self.apply(
                &child,
                header.uid,
                header.gid,
                header.mode,
                header.xattrs.clone(),
            );
            let changed = FileHeader {
                uid,
                gid,
                mode,
                rdev: header.rdev,
                symlink_target: header.symlink_target.clone(),
                xattrs,
            };
            let checksum = if changed == header {
                file.checksum
            } else {
                let (_, payload) = repo.open_content(&file.checksum)?;
                self.store_stream(&changed, payload)?
            };
            entries.insert(file.name.to_owned(), Node::File(checksum));
        }
        for dir in &view.dirs {
            let child = format!("{path}/{}", dir.name);
            if self.modifier.skip.contains(&child) {
                self.note_path(&child);
                continue;
            }
            let sub = self.import_commit_tree(dir.tree, dir.meta, &child)?;
            entries.insert(dir.name.to_owned(), Node::Dir(sub));
        }
        Ok(MutableTree {
            meta: Some(meta),
            entries,
        })
    }

    /// Applies the modifier to the entry at `path`, noting the path as seen.
    fn apply(
        &self,
        path: &str,
        uid: u32,
        gid: u32,
        mode: u32,
        xattrs: Xattrs,
    ) -> (u32, u32, u32, Xattrs) {
        self.note_path(path);
        self.modifier
            .apply(self.mode(), path, uid, gid, mode, xattrs)
    }

    fn check_unmatched(&self) -> Result<()> {
        let matched = self.matched.lock().map(|m| m.clone()).unwrap_or_default();
        for (kind, paths) in [
            (
                "statoverride",
                self.modifier.stat_overrides.keys().collect::<Vec<_>>(),
            ),
            ("skip-list", self.modifier.skip.iter().collect()),
        ] {
            let mut unmatched: Vec<String> = paths
                .into_iter()
                .filter(|p| !matched.contains(*p))
                .cloned()
                .collect();
            if !unmatched.is_empty() {
                unmatched.sort();
                return Err(Error::UnmatchedPaths {
                    kind,
                    paths: unmatched,
                });
            }
        }
        Ok(())
    }

    fn mode(&self) -> RepoMode {
        self.tx.repo().mode()
    }

    fn check_interrupt(&self) -> Result<()> {
        if self.interrupt.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        Ok(())
    }

    /// Stores a content object read once from `payload`, hashed (and its archived size
    /// counted, for `--generate-sizes`) on the way.
    fn store_stream(&self, header: &FileHeader, payload: impl Read) -> Result<Checksum> {
        let level = self.sizes.is_some().then(|| self.tx.zlib_level());
        let mut counting = crate::deflate::DeflatedLen::new(payload, level);
        let checksum = self.tx.write_content_stream(header, &mut counting)?;
        let (read, deflated) = counting.finish().map_err(|e| Error::Corrupt {
            objtype: ObjectType::File,
            checksum,
            reason: e.to_string(),
        })?;
        let unpacked = if header.is_symlink() {
            header.symlink_target.len() as u64
        } else {
            read
        };
        self.record_size(checksum, unpacked, header, deflated);
        Ok(checksum)
    }

    /// The length zlib gives `payload` at the repository's level, when sizes are recorded.
    fn deflated_len(&self, payload: &[u8]) -> u64 {
        if self.sizes.is_none() {
            return 0;
        }
        crate::deflate::zlib_compressed_len(self.tx.zlib_level(), &mut &payload[..])
            .unwrap_or(payload.len() as u64)
    }

    /// Records an object's size for `ostree.sizes`: `unpacked` and the `.filez` size from
    /// the payload's `deflated` length, as upstream's archive would hold it.
    fn record_size(&self, checksum: Checksum, unpacked: u64, header: &FileHeader, deflated: u64) {
        if let Some(sizes) = self.sizes {
            let head = header.archive_header(unpacked).len() as u64;
            let archived = if header.is_symlink() {
                head
            } else {
                head + deflated
            };
            if let Ok(mut s) = sizes.lock() {
                s.push((checksum, archived, unpacked, ObjectType::File));
            }
        }
    }

    fn write_dirmeta(
        &self,
        path: &str,
        uid: u32,
        gid: u32,
        mode: u32,
        xattrs: Xattrs,
    ) -> Result<Checksum> {
        let (uid, gid, mode, xattrs) = self.apply(path, uid, gid, mode, xattrs);
        let meta = DirMeta {
            uid,
            gid,
            mode,
            xattrs,
        };
        self.tx
            .write_metadata(ObjectType::DirMeta, &meta.to_bytes())
    }

    /// Commits the directory `dir` (at `path` inside the tree, "" for the root).
    fn import_dir(&self, dir: &Dir, display: &Path, path: &str) -> Result<MutableTree> {
        self.check_interrupt()?;
        if path.is_empty() && self.modifier.skip.contains("/") {
            // Skipping the root leaves nothing; the caller reports the empty tree.
            self.note_path("/");
            return Ok(MutableTree::default());
        }
        let shown = || display.join(path.trim_start_matches('/'));
        let st = rustix::fs::fstat(dir).ctx("stat", shown())?;
        let xattrs = if self.wants_xattrs() {
            sys::readable_dir(dir)
                .and_then(sys::fd_xattrs)
                .ctx("reading xattrs of", shown())?
        } else {
            Xattrs::new()
        };
        let meta = self.write_dirmeta(
            if path.is_empty() { "/" } else { path },
            st.st_uid,
            st.st_gid,
            st.st_mode,
            xattrs,
        )?;
        let mut names = Vec::new();
        for entry in dir.entries().ctx("listing", shown())? {
            let entry = entry.ctx("listing", shown())?;
            // Upstream's words (it prints the raw bytes; rostree escapes them).
            let name = entry
                .file_name()
                .into_string()
                .map_err(|name| Error::NonUtf8FileName { name, dir: shown() })?;
            names.push(name);
        }
        let children: Vec<(String, Option<Node>)> = names
            .into_par_iter()
            .map(|name| {
                let child_path = format!("{path}/{name}");
                if self.modifier.skip.contains(&child_path) {
                    self.note_path(&child_path);
                    return Ok((name, None));
                }
                let node = self.import_entry(dir, display, &name, &child_path)?;
                Ok((name, Some(node)))
            })
            .collect::<Result<_>>()?;
        let mut tree = MutableTree {
            meta: Some(meta),
            entries: Default::default(),
        };
        for (name, node) in children {
            if let Some(node) = node {
                tree.entries.insert(name, node);
            }
        }
        Ok(tree)
    }

    fn wants_xattrs(&self) -> bool {
        !self.modifier.no_xattrs
            && self.mode() != RepoMode::BareUserOnly
            && !self.tx.repo().xattrs_disabled()
    }

    fn import_entry(&self, dir: &Dir, display: &Path, name: &str, path: &str) -> Result<Node> {
        let shown = || display.join(path.trim_start_matches('/'));
        let st = sys::lstat_at(dir, name.as_ref()).ctx("stat", shown())?;
        match st.st_mode & S_IFMT {
            S_IFDIR => {
                if path.matches('/').count() > MAX_TREE_DEPTH {
                    return Err(Error::TooDeep {
                        path: shown(),
                        walk: TreeWalk::Commit,
                    });
                }
                let sub = sys::open_dir_nofollow(dir, name).ctx("opening", shown())?;
                let tree = self.import_dir(&sub, display, path)?;
                drop(sub);
                self.consume(dir, name, true, &shown)?;
                Ok(Node::Dir(tree))
            }
            S_IFLNK | S_IFREG if let Some(checksum) = self.linked_object(path, &st) => {
                self.consume(dir, name, false, &shown)?;
                Ok(Node::File(checksum))
            }
            S_IFLNK => {
                self.check_interrupt()?;
                let target =
                    rustix::fs::readlinkat(dir, name, Vec::new()).ctx("reading link", shown())?;
                let target = target
                    .into_string()
                    .map_err(|_| Error::NonUtf8SymlinkTarget { path: shown() })?;
                let xattrs = if self.wants_xattrs() {
                    sys::link_xattrs(dir, name.as_ref()).ctx("reading xattrs of", shown())?
                } else {
                    Xattrs::new()
                };
                let header = self.file_header(path, &st, xattrs, target);
                let checksum = content_checksum(&header, &[]);
                self.store(&checksum, &header, Source::Bytes(&[]), 0)?;
                // Upstream counts a symlink's target as its unpacked size.
                self.record_size(checksum, header.symlink_target.len() as u64, &header, 0);
                self.consume(dir, name, false, &shown)?;
                Ok(Node::File(checksum))
            }
            S_IFREG => {
                self.check_interrupt()?;
                // The name comes from readdir of `dir` (no `/`), and O_NOFOLLOW refuses a
                // symlink swapped in since the lstat, so a plain openat cannot escape.
                // O_NONBLOCK: a fifo swapped in since the lstat must not hang the commit.
                let mut file: std::fs::File = rustix::fs::openat(
                    dir,
                    name,
                    rustix::fs::OFlags::RDONLY
                        | rustix::fs::OFlags::NOFOLLOW
                        | rustix::fs::OFlags::NONBLOCK
                        | rustix::fs::OFlags::CLOEXEC,
                    rustix::fs::Mode::empty(),
                )
                .ctx("opening", shown())?
                .into();
                // Record what was opened, and only if it is the file that was listed.
                let st = rustix::fs::fstat(&file).ctx("stat", shown())?;
                if st.st_mode & S_IFMT != S_IFREG {
                    return Err(Error::UnsupportedFileType {
                        name: name.to_owned(),
                    });
                }
                let xattrs = if self.wants_xattrs() {
                    sys::fd_xattrs(&file).ctx("reading xattrs of", shown())?
                } else {
                    Xattrs::new()
                };
                let raw = FileHeader {
                    uid: st.st_uid,
                    gid: st.st_gid,
                    mode: st.st_mode,
                    rdev: 0,
                    symlink_target: String::new(),
                    xattrs: xattrs.clone(),
                };
                let header = self.file_header(path, &st, xattrs, String::new());
                let size = st.st_size as u64;
                if let Some(mode) = self.adoptable(&st, &raw, &header) {
                    // Hashed, then renamed into the repository rather than copied.
                    let mut hasher = Hasher::new();
                    hasher.update(&header.stream_header());
                    crate::copy::copy_wide(&mut file, &mut hasher).ctx("reading", shown())?;
                    let checksum = hasher.finish();
                    drop(file);
                    self.tx.adopt_file(dir, name, &checksum, mode)?;
                    self.progress.event(Event::FileCommitted {
                        bytes: size,
                        written: true,
                    });
                    return Ok(Node::File(checksum));
                }
                let checksum = if size <= IN_MEMORY_LIMIT {
                    with_read_buffer(|data| {
                        // One byte more than the size: the read that finds the end
                        // needs room.
                        data.reserve(size as usize + 1);
                        sys::read_to_end(&file, data).ctx("reading", shown())?;
                        let checksum = content_checksum(&header, data);
                        self.store(&checksum, &header, Source::Bytes(data), size)?;
                        self.record_size(
                            checksum,
                            data.len() as u64,
                            &header,
                            self.deflated_len(data),
                        );
                        Ok(checksum)
                    })?
                } else {
                    // Too big to hold: hash in one pass, then store from a second one.
                    let mut hasher = Hasher::new();
                    hasher.update(&header.stream_header());
                    let copied =
                        crate::copy::copy_wide(&mut file, &mut hasher).ctx("reading", shown())?;
                    let checksum = hasher.finish();
                    file.rewind().ctx("reading", shown())?;
                    self.store(&checksum, &header, Source::Reader(&mut file), size)?;
                    if self.sizes.is_some() {
                        file.rewind().ctx("reading", shown())?;
                        let deflated =
                            crate::deflate::zlib_compressed_len(self.tx.zlib_level(), &mut file)
                                .ctx("reading", shown())?;
                        self.record_size(checksum, copied, &header, deflated);
                    }
                    checksum
                };
                self.consume(dir, name, false, &shown)?;
                Ok(Node::File(checksum))
            }
            _ => Err(Error::UnsupportedFileType {
                name: name.to_owned(),
            }),
        }
    }

    /// Whether a file `--consume` would delete can be renamed into the repository as its
    /// object (upstream's adoption): in a bare repository when nothing changes its
    /// metadata, in bare-user-only always (with the mode to give it); on the repository's
    /// file system only. `Some(mode)` is the mode to set first, if any.
    fn adoptable(
        &self,
        st: &rustix::fs::Stat,
        raw: &FileHeader,
        header: &FileHeader,
    ) -> Option<Option<u32>> {
        if !self.modifier.consume || self.sizes.is_some() {
            return None;
        }
        let repo = self.tx.repo();
        let same_device =
            rustix::fs::fstat(repo.objects_dir()).is_ok_and(|o| o.st_dev == st.st_dev);
        if !same_device {
            return None;
        }
        match repo.mode() {
            RepoMode::Bare if raw == header => Some(None),
            RepoMode::BareUserOnly => Some(Some(header.mode & 0o755)),
            _ => None,
        }
    }

    fn consume(
        &self,
        dir: &Dir,
        name: &str,
        is_dir: bool,
        shown: &dyn Fn() -> PathBuf,
    ) -> Result<()> {
        if self.modifier.consume {
            if is_dir {
                dir.remove_dir(name).ctx("removing", shown())?;
            } else {
                dir.remove_file(name).ctx("removing", shown())?;
            }
        }
        Ok(())
    }

    /// Commits the entries of an archive (tar or cpio, see [`crate::archive`]) as one layer.
    fn import_tar(&self, reader: Box<dyn Read + Send>, display: &Path) -> Result<MutableTree> {
        // The root's metadata comes from the archive's `./` entry; without one the layer
        // has none, and a commit of it alone is empty, as upstream.
        let mut root = MutableTree::default();
        let mut by_path: HashMap<String, Checksum> = HashMap::new();
        let shown = display.display().to_string();
        crate::archive::for_each_entry(reader, &shown, &mut |entry| {
            self.import_archive_entry(entry, &shown, &mut root, &mut by_path)
        })?;
        if self.modifier.tar_autocreate_parents && root.meta.is_none() {
            root.meta = Some(self.write_dirmeta("/", 0, 0, S_IFDIR | 0o755, Xattrs::new())?);
        }
        Ok(root)
    }

    /// Adds one archive entry to the layer; `by_path` has the files stored so far, for
    /// hard links.
    fn import_archive_entry(
        &self,
        entry: crate::archive::Entry<'_>,
        display: &str,
        root: &mut MutableTree,
        by_path: &mut HashMap<String, Checksum>,
    ) -> Result<()> {
        use crate::archive::EntryKind;
        self.check_interrupt()?;
        let repo = self.tx.repo();
        let filter = |path: &str| match &self.modifier.tar_pathname_filter {
            Some(f) => f.apply(crate::archive::relative_path(path)),
            None => path.to_owned(),
        };
        let raw_path = filter(&entry.path);
        let components: Vec<String> = raw_path
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .map(str::to_owned)
            .collect();
        if components.iter().any(|c| c == "..") {
            return Err(Error::InvalidArchivePath {
                path: raw_path,
                archive: display.into(),
            });
        }
        if components.len() > MAX_TREE_DEPTH {
            return Err(Error::TooDeep {
                path: raw_path.into(),
                walk: TreeWalk::Archive,
            });
        }
        let tree_path = format!("/{}", components.join("/"));
        if self.modifier.skip.contains(&tree_path) {
            self.note_path(&tree_path);
            return Ok(());
        }
        let (uid, gid, perms, xattrs) = (entry.uid, entry.gid, entry.perms, entry.xattrs);
        let (parent_path, name) = match components.split_last() {
            Some((name, parent)) => (parent.to_vec(), name.clone()),
            None => {
                if matches!(entry.kind, EntryKind::Dir) {
                    root.meta = Some(self.write_dirmeta("/", uid, gid, S_IFDIR | perms, xattrs)?);
                }
                return Ok(());
            }
        };
        let parent_refs: Vec<&str> = parent_path.iter().map(String::as_str).collect();
        rostree_core::object::validate_filename(&name).map_err(|reason| {
            Error::InvalidFileName {
                name: name.clone(),
                reason,
            }
        })?;
        // Missing parents are an error unless asked for; then they are 0755 and owned
        // like the entry that needed them (the root included), as upstream.
        if self.modifier.tar_autocreate_parents && !root.has_dir(&parent_refs) {
            // Upstream gives every directory on the way, the root and existing ones
            // included, 0755 and the owner of the entry that needed them, as the archive
            // has it: no override, `--owner-*` or canonicalization touches them.
            let meta = DirMeta {
                uid,
                gid,
                mode: S_IFDIR | 0o755,
                xattrs: Xattrs::new(),
            };
            let meta = self
                .tx
                .write_metadata(ObjectType::DirMeta, &meta.to_bytes())?;
            root.ensure_dir_owned_by(repo, &parent_refs, meta)?;
        }
        let node = match entry.kind {
            EntryKind::Dir => {
                let meta = self.write_dirmeta(&tree_path, uid, gid, S_IFDIR | perms, xattrs)?;
                let parent = root.ensure_dir(repo, &parent_refs, None)?;
                match parent.entries.get_mut(&name) {
                    Some(Node::Dir(existing)) => {
                        existing.meta = Some(meta);
                        return Ok(());
                    }
                    _ => Node::Dir(MutableTree {
                        meta: Some(meta),
                        entries: Default::default(),
                    }),
                }
            }
            EntryKind::Symlink(target) => {
                let (uid, gid, mode, xattrs) =
                    self.apply(&tree_path, uid, gid, S_IFLNK | 0o777, xattrs);
                let fh = FileHeader {
                    uid,
                    gid,
                    mode,
                    rdev: 0,
                    symlink_target: target,
                    xattrs,
                };
                let c = self.tx.write_content(&fh, &[])?;
                self.record_size(c, fh.symlink_target.len() as u64, &fh, 0);
                by_path.insert(tree_path.clone(), c);
                Node::File(c)
            }
            EntryKind::HardLink(target) => {
                let target = filter(&target);
                let key = format!(
                    "/{}",
                    target
                        .split('/')
                        .filter(|c| !c.is_empty() && *c != ".")
                        .collect::<Vec<_>>()
                        .join("/")
                );
                let c = *by_path
                    .get(&key)
                    .ok_or_else(|| Error::UnknownHardLinkTarget {
                        target: target.clone(),
                        archive: display.into(),
                    })?;
                by_path.insert(tree_path.clone(), c);
                Node::File(c)
            }
            EntryKind::File(reader) => {
                let (uid, gid, mode, xattrs) =
                    self.apply(&tree_path, uid, gid, S_IFREG | perms, xattrs);
                let fh = FileHeader {
                    uid,
                    gid,
                    mode,
                    rdev: 0,
                    symlink_target: String::new(),
                    xattrs,
                };
                // Streamed from the archive; a failure to read it is the archive's fault.
                let mut read_error = None;
                let stored = self.store_stream(
                    &fh,
                    NoteReadError {
                        inner: reader,
                        error: &mut read_error,
                    },
                );
                let c = match (stored, read_error) {
                    (Err(_), Some(e)) => {
                        return Err(Error::ReadingArchive {
                            path: display.into(),
                            source: e,
                        });
                    }
                    (stored, _) => stored?,
                };
                by_path.insert(tree_path.clone(), c);
                Node::File(c)
            }
            EntryKind::Other => {
                return Err(Error::UnsupportedFileType { name: raw_path });
            }
        };
        let parent = root.ensure_dir(repo, &parent_refs, None)?;
        parent.entries.insert(name, node);
        Ok(())
    }
}

/// Maps (device, inode) to checksum for every content object, so that a tree checked out
/// with hardlinks can be committed without reading it.
fn scan_devino(repo: &Repo) -> Result<HashMap<(u64, u64), Checksum>> {
    repo.list_loose_objects("", |ext| ext == "file")?
        .into_par_iter()
        .map(|(checksum, _)| {
            let rel = checksum.relative_path(ObjectType::File, false);
            let st = sys::lstat_at(repo.objects_dir(), rel.as_ref())
                .ctx("stat", repo.object_path(ObjectType::File, &checksum))?;
            Ok(((st.st_dev, st.st_ino), checksum))
        })
        .collect()
}

thread_local! {
    static READ_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's (cleared) file buffer. Reusing it spares a fresh allocation,
/// and its page faults, for every file of a tree.
fn with_read_buffer<T>(f: impl FnOnce(&mut Vec<u8>) -> Result<T>) -> Result<T> {
    READ_BUFFER.with(|cell| {
        let mut buf = cell.borrow_mut();
        buf.clear();
        let out = f(&mut buf);
        if buf.capacity() > 4 * IN_MEMORY_LIMIT as usize / 8 {
            // Keep one large file from pinning its size in memory for the rest of the run.
            *buf = Vec::new();
        }
        out
    })
}

/// Passes reads through, keeping (a copy of) the first error for the caller.
struct NoteReadError<'e, R> {
    inner: R,
    error: &'e mut Option<std::io::Error>,
}

impl<R: Read> Read for NoteReadError<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            self.error
                .get_or_insert_with(|| std::io::Error::new(e.kind(), e.to_string()));
        })
    }
}
