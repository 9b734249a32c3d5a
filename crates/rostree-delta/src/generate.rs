//! Generating static deltas, as `ostree static-delta generate` does.
//!
//! The objects the to-commit reaches and the from-commit does not go into parts, in
//! upstream's order: metadata, then files paired with a similar file of the from-commit
//! (by name and size) as chunk copies or bsdiff patches, then whole files, then symlinks. Files larger than
//! the fallback size are left for plain fetches. A modified file that shares at least half
//! its chunks with its old version copies them (rollsum); otherwise it is patched. Parts are planned first, then built and
//! compressed in parallel, one per core; each holds at most about `max_chunk_size` bytes.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use cap_std::fs::Dir;
use rayon::prelude::*;
use rostree_core::gvariant::Value;
use rostree_core::object::{CommitRef, DirTreeRef, Metadata, Xattrs};
use rostree_core::varint::write_varuint64;
use rostree_core::{Checksum, ObjectType};
use rostree_repo::Repo;
use rostree_repo::deltas::DeltaName;
use rostree_repo::progress::{Event, Progress};

use crate::error::{Error, IoContext, Result};
use crate::format::{
    Endianness, EndiannessSource, Fallback, PartHeader, Superblock, write_payload,
};
use crate::ops::op;
use crate::part::{Spool, SpoolWriter};

/// How far a file's size may differ from another's for the two to count as versions of
/// one file (percent).
const SIMILARITY_PERCENT: u64 = 30;
/// How parts are compressed: xz's preset 2 with an 8 MiB dictionary. Upstream uses preset
/// 8 (a 32 MiB dictionary): on a Debian tree's update that compresses at about 1 MB/s per
/// core with 340 MB of encoder memory per part. Preset 2 compresses four to five times as
/// fast in 60 MB, its parts about 9% larger, which rostree's grouping of objects more
/// than makes up for (the benchmark's delta row: smaller than upstream's). Any preset
/// reads back the same: the choice is in no checksum.
const XZ_PRESET: u32 = 2;
/// See [`XZ_PRESET`].
const XZ_DICT_SIZE: u32 = 8 << 20;

/// Options of [`generate`], with upstream's defaults.
pub struct GenerateOptions {
    /// The commit the delta starts from; `None` for a delta from nothing.
    pub from: Option<Checksum>,
    /// The commit it builds.
    pub to: Checksum,
    /// Files larger than this (bytes) are fetched on their own; 0 keeps all in parts.
    pub min_fallback_size: u64,
    /// Parts hold about this many bytes at most.
    pub max_chunk_size: u64,
    /// Pairs of files larger than this together are not bsdiffed.
    pub max_bsdiff_size: u64,
    /// Patch modified files with bsdiff.
    pub bsdiff: bool,
    /// Put the parts inside the superblock, for a one-file delta.
    pub inline: bool,
    /// The byte order of part headers and fallbacks.
    pub endianness: Endianness,
    /// Write the superblock to this file and the parts beside it, instead of into the
    /// repository's `deltas/`.
    pub output: Option<PathBuf>,
    /// Keys the superblock metadata starts with.
    pub metadata: Metadata,
    /// Keys to sign the superblock with (a signed wrapper when any).
    pub signing_keys: Vec<rostree_sign::signapi::SigningKey>,
    /// The generation time to record; now when `None`.
    pub timestamp: Option<u64>,
}

impl GenerateOptions {
    /// A delta from `from` (or nothing) to `to`, with the defaults.
    pub fn new(from: Option<Checksum>, to: Checksum) -> Self {
        GenerateOptions {
            from,
            to,
            min_fallback_size: 4_000_000,
            max_chunk_size: 32_000_000,
            max_bsdiff_size: 128_000_000,
            bsdiff: true,
            inline: false,
            endianness: Endianness::host(),
            output: None,
            metadata: Metadata::new(),
            signing_keys: Vec::new(),
            timestamp: None,
        }
    }
}

/// One part made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartSummary {
    /// Objects it builds.
    pub objects: usize,
    /// Its file's size.
    pub compressed: u64,
    /// The size of the objects it builds.
    pub uncompressed: u64,
}

/// What [`generate`] made.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GenerateOutcome {
    /// Files of the to-commit paired with a similar file of the from-commit.
    pub modified: usize,
    /// New metadata objects (the to-commit, which the superblock carries, among them).
    pub new_metadata: usize,
    /// New regular files.
    pub new_regular: usize,
    /// New symlinks.
    pub new_symlinks: usize,
    /// Files written as chunks of similar files, and what those chunks hold.
    pub rollsum: usize,
    /// The bytes the rollsum chunks copy.
    pub rollsum_size: u64,
    /// Files written as bsdiff patches.
    pub bsdiff: usize,
    /// Files left for plain fetches.
    pub fallbacks: usize,
    /// The parts.
    pub parts: Vec<PartSummary>,
    /// What the objects in parts take as loose objects.
    pub loose_size: u64,
}

/// What a commit reaches: metadata in walk order, and files with the names they have.
struct Reachable {
    meta: Vec<(ObjectType, Checksum)>,
    files: Vec<Checksum>,
    names: HashMap<Checksum, Vec<String>>,
}

fn walk(repo: &Repo, commit: &Checksum) -> Result<Reachable> {
    let data = repo.load_metadata(ObjectType::Commit, commit)?;
    let view = CommitRef::parse(&data).map_err(|e| Error::Format(e.to_string()))?;
    let mut out = Reachable {
        meta: vec![(ObjectType::Commit, *commit)],
        files: Vec::new(),
        names: HashMap::new(),
    };
    let mut seen: HashSet<(ObjectType, Checksum)> = HashSet::new();
    let mut pending = vec![(view.root_tree(), view.root_meta())];
    while let Some((tree, meta)) = pending.pop() {
        if seen.insert((ObjectType::DirMeta, meta)) {
            out.meta.push((ObjectType::DirMeta, meta));
        }
        if !seen.insert((ObjectType::DirTree, tree)) {
            continue;
        }
        out.meta.push((ObjectType::DirTree, tree));
        let data = repo.load_metadata(ObjectType::DirTree, &tree)?;
        let listing = DirTreeRef::parse(&data).map_err(|e| Error::Format(e.to_string()))?;
        for file in &listing.files {
            let names = out.names.entry(file.checksum).or_default();
            if names.is_empty() {
                out.files.push(file.checksum);
            }
            names.push(file.name.to_owned());
        }
        for dir in listing.dirs.iter().rev() {
            pending.push((dir.tree, dir.meta));
        }
    }
    Ok(out)
}

/// A regular file with its size and names, as upstream's similarity search sees it.
struct SizeNames<'a> {
    checksum: Checksum,
    size: u64,
    names: &'a [String],
}

/// Whether a file may be worth patching: not empty, not already compressed.
fn delta_candidate(s: &SizeNames<'_>) -> bool {
    s.size > 0
        && !s.names.iter().any(|name| {
            name.rsplit_once('.')
                .is_some_and(|(_, ext)| ext == "xz" || ext == "bz2")
        })
}

/// Whether two name lists share a name; fuzzy, they share the part before the first `.`.
fn names_intersect(a: &[String], b: &[String], fuzzy: bool) -> bool {
    a.iter().any(|x| {
        b.iter().any(|y| match (fuzzy, x.find('.'), y.find('.')) {
            (true, Some(i), Some(j)) if i == j && j > 0 => x[..i] == y[..j],
            _ => x == y,
        })
    })
}

/// Pairs new regular files with a file of the from-commit of the same name and a size
/// within 30% (exact names first, then names alike before the dot), as upstream does.
fn similar_files(to: &[SizeNames<'_>], from: &[SizeNames<'_>]) -> Vec<(Checksum, Checksum)> {
    let mut pairs = Vec::new();
    let mut lower = 0usize;
    for t in to {
        if !delta_candidate(t) {
            continue;
        }
        let min = t.size * (100 - SIMILARITY_PERCENT) / 100;
        let max = t.size * (100 + SIMILARITY_PERCENT) / 100;
        'fuzzy: for fuzzy in [false, true] {
            let mut j = lower;
            while j < from.len() {
                let f = &from[j];
                j += 1;
                if !delta_candidate(f) {
                    continue;
                }
                if f.size < min {
                    lower += 1;
                    continue;
                }
                if f.size > max {
                    break;
                }
                if names_intersect(f.names, t.names, fuzzy) {
                    pairs.push((t.checksum, f.checksum));
                    break 'fuzzy;
                }
            }
        }
    }
    pairs
}

/// An object as a part builds it.
#[derive(Clone, Debug)]
enum Item {
    Metadata(ObjectType, Checksum),
    /// Chunks copied from a file of the from-commit, the rest from the blob.
    Rollsum {
        to: Checksum,
        from: Checksum,
        matches: crate::rollsum::Matches,
    },
    Bsdiff {
        to: Checksum,
        from: Checksum,
    },
    Whole(Checksum),
}

/// Whether `file` is built from chunks of another already.
fn items_have(items: &[(Item, u64)], file: &Checksum) -> bool {
    items
        .iter()
        .any(|(item, _)| matches!(item, Item::Rollsum { to, .. } if to == file))
}

/// The size a loose object takes in the repository.
fn storage_size(repo: &Repo, objtype: ObjectType, checksum: &Checksum) -> Result<u64> {
    let rel = checksum.relative_path(objtype, repo.mode().is_archive());
    match repo.objects_dir().symlink_metadata(&rel) {
        Ok(m) => Ok(m.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match repo.parent() {
            Some(parent) => storage_size(parent, objtype, checksum),
            None => Err(rostree_repo::Error::MissingObject {
                objtype,
                checksum: *checksum,
            }
            .into()),
        },
        Err(e) => Err(e).ctx("stat", repo.object_path(objtype, checksum)),
    }
}

/// A content object's size as upstream counts it in a part: the file's, or for a symlink
/// what the repository reports (its target's length in bare repositories, 0 in archives).
fn content_size(repo: &Repo, checksum: &Checksum) -> Result<(bool, u64)> {
    let (header, size) = repo.file_info(checksum)?;
    if header.is_symlink() {
        let size = if repo.mode().is_archive() {
            0
        } else {
            header.symlink_target.len() as u64
        };
        return Ok((true, size));
    }
    Ok((false, size))
}

/// A part being built.
#[derive(Default)]
struct PartBuilder {
    objects: Vec<(ObjectType, Checksum)>,
    modes: Vec<(u32, u32, u32)>,
    mode_index: HashMap<(u32, u32, u32), usize>,
    xattrs: Vec<Xattrs>,
    xattr_index: HashMap<Vec<u8>, usize>,
    blob: Vec<u8>,
    ops: Vec<u8>,
    uncompressed: u64,
    loose: u64,
}

impl PartBuilder {
    fn tables(&mut self, header: &rostree_core::object::FileHeader) -> (usize, usize) {
        let mode = (header.uid, header.gid, header.mode);
        let next = self.modes.len();
        let m = *self.mode_index.entry(mode).or_insert(next);
        if m == next {
            self.modes.push(mode);
        }
        let key = header.xattrs.to_bytes();
        let next = self.xattrs.len();
        let x = *self.xattr_index.entry(key).or_insert(next);
        if x == next {
            self.xattrs.push(header.xattrs.clone());
        }
        (m, x)
    }

    /// Appends `data` to the blob and an operation writing it.
    fn blob_write(&mut self, data: &[u8]) {
        let offset = self.blob.len() as u64;
        self.blob.extend_from_slice(data);
        self.op(op::WRITE, &[data.len() as u64, offset]);
    }

    fn op(&mut self, code: u8, args: &[u64]) {
        self.ops.push(code);
        for a in args {
            write_varuint64(&mut self.ops, *a);
        }
    }

    fn add(&mut self, repo: &Repo, item: Item) -> Result<()> {
        match item {
            Item::Metadata(objtype, checksum) => {
                let data = repo.load_metadata(objtype, &checksum)?;
                self.loose += data.len() as u64;
                self.uncompressed += data.len() as u64;
                self.objects.push((objtype, checksum));
                let offset = self.blob.len() as u64;
                self.blob.extend_from_slice(&data);
                self.op(op::OPEN_SPLICE_AND_CLOSE, &[data.len() as u64, offset]);
            }
            Item::Whole(checksum) => {
                let (symlink, counted) = content_size(repo, &checksum)?;
                self.loose += storage_size(repo, ObjectType::File, &checksum)?;
                self.uncompressed += counted;
                self.objects.push((ObjectType::File, checksum));
                let (header, payload) = repo.open_content(&checksum)?;
                let (m, x) = self.tables(&header);
                let data = if symlink {
                    header.symlink_target.into_bytes()
                } else {
                    payload
                        .into_bytes()
                        .ctx("reading", repo.object_path(ObjectType::File, &checksum))?
                };
                let offset = self.blob.len() as u64;
                self.blob.extend_from_slice(&data);
                self.op(
                    op::OPEN_SPLICE_AND_CLOSE,
                    &[m as u64, x as u64, data.len() as u64, offset],
                );
            }
            Item::Rollsum { to, from, matches } => {
                let (header, payload) = repo.open_content(&to)?;
                let new = payload
                    .into_bytes()
                    .ctx("reading", repo.object_path(ObjectType::File, &to))?;
                self.uncompressed += new.len() as u64;
                self.objects.push((ObjectType::File, to));
                let (m, x) = self.tables(&header);
                let source = self.blob.len() as u64;
                self.blob.extend_from_slice(from.as_bytes());
                self.op(op::OPEN, &[m as u64, x as u64, new.len() as u64]);
                let mut written = 0u64;
                let mut from_blob = true;
                for chunk in &matches.matches {
                    let prefix = chunk.to_start - written;
                    if prefix > 0 {
                        if !from_blob {
                            self.op(op::UNSET_READ_SOURCE, &[]);
                            from_blob = true;
                        }
                        self.blob_write(&new[written as usize..chunk.to_start as usize]);
                        written += prefix;
                    }
                    if from_blob {
                        self.op(op::SET_READ_SOURCE, &[source]);
                        from_blob = false;
                    }
                    self.op(op::WRITE, &[chunk.len, chunk.from_start]);
                    written += chunk.len;
                }
                if !from_blob {
                    self.op(op::UNSET_READ_SOURCE, &[]);
                }
                if (written as usize) < new.len() {
                    self.blob_write(&new[written as usize..]);
                }
                self.op(op::CLOSE, &[]);
            }
            Item::Bsdiff { to, from } => {
                let (header, payload) = repo.open_content(&to)?;
                let new = payload
                    .into_bytes()
                    .ctx("reading", repo.object_path(ObjectType::File, &to))?;
                let old = repo
                    .open_content(&from)?
                    .1
                    .into_bytes()
                    .ctx("reading", repo.object_path(ObjectType::File, &from))?;
                self.uncompressed += new.len() as u64;
                self.objects.push((ObjectType::File, to));
                let (m, x) = self.tables(&header);
                self.op(op::SET_READ_SOURCE, &[self.blob.len() as u64]);
                self.blob.extend_from_slice(from.as_bytes());
                self.op(op::OPEN, &[m as u64, x as u64, new.len() as u64]);
                let patch = crate::bsdiff::diff(&old, &new)
                    .map_err(|e| Error::Format(format!("bsdiff generation failed: {e}")))?;
                self.op(op::BSPATCH, &[self.blob.len() as u64, patch.len() as u64]);
                self.blob.extend_from_slice(&patch);
                self.op(op::CLOSE, &[]);
                self.op(op::UNSET_READ_SOURCE, &[]);
            }
        }
        Ok(())
    }

    /// The part file (`x` and the xz-compressed payload, compressed as it is written,
    /// into a file of `tmp` past the memory window), with its header.
    fn finish(self, tmp: &Dir) -> Result<(Spool, PartHeader, u64)> {
        let failed = |e: std::io::Error| Error::Format(format!("Compressing delta part: {e}"));
        let mut out = Hashing {
            inner: SpoolWriter::new(Some(tmp), u64::MAX),
            hasher: rostree_core::Hasher::new(),
        };
        out.write_all(b"x").map_err(failed)?;
        let mut options = lzma_rust2::XzOptions::with_preset(XZ_PRESET);
        options.lzma_options.dict_size = XZ_DICT_SIZE;
        let mut writer = lzma_rust2::XzWriter::new(&mut out, options).map_err(failed)?;
        write_payload(
            &mut writer,
            &self.modes,
            &self.xattrs,
            &self.blob,
            &self.ops,
        )
        .map_err(failed)?;
        writer.finish().map_err(failed)?;
        let checksum = out.hasher.finish();
        let file = out.inner.finish();
        let header = PartHeader {
            version: crate::format::PART_VERSION,
            checksum,
            compressed_size: file.len(),
            uncompressed_size: self.uncompressed,
            objects: self.objects,
        };
        Ok((file, header, self.loose))
    }
}

/// Hashes what passes through to `inner`.
struct Hashing<W> {
    inner: W,
    hasher: rostree_core::Hasher,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Splits the items into parts of about `max_chunk` bytes each, in order, by the sizes
/// they will have (a patch counted at its file's size).
fn plan_parts(items: Vec<(Item, u64)>, max_chunk: u64) -> Vec<Vec<Item>> {
    let mut parts: Vec<Vec<Item>> = vec![Vec::new()];
    let mut size = 0u64;
    for (item, item_size) in items {
        let current = parts.last_mut().expect("there is always a part");
        let full = match item {
            // Upstream starts a new part for a patch once the part is over the limit.
            Item::Bsdiff { .. } | Item::Rollsum { .. } => size > max_chunk,
            _ => size.saturating_add(item_size) > max_chunk,
        };
        if !current.is_empty() && full {
            parts.push(Vec::new());
            size = 0;
        }
        parts.last_mut().expect("there is always a part").push(item);
        size = size.saturating_add(item_size);
    }
    parts
}

/// Writes `data` as `name` in `dir`, replacing what is there only once it is complete.
fn write_replace(
    dir: &Dir,
    name: &str,
    data: &mut dyn Read,
    shown: &std::path::Path,
) -> Result<()> {
    let tmp = format!(".{name}.tmp-{}", std::process::id());
    let path = shown.join(name);
    let mut file = dir.create(&tmp).ctx("writing", &path)?;
    rostree_repo::copy::copy_wide(data, &mut file).ctx("writing", &path)?;
    rustix::fs::fchmod(&file, rustix::fs::Mode::from_raw_mode(0o644))
        .map_err(std::io::Error::from)
        .ctx("chmod", &path)?;
    drop(file);
    dir.rename(&tmp, dir, name).ctx("renaming", &path)
}

/// Reads a spool from its start.
struct SpoolReader<'a> {
    spool: &'a Spool,
    at: u64,
}

impl Read for SpoolReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = crate::bsdiff::ReadAt::read_at(self.spool, buf, self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

/// Upstream's limit on a metadata object's size (`OSTREE_MAX_METADATA_SIZE`), which a
/// superblock must keep to be fetched.
pub const MAX_METADATA_SIZE: u64 = 10 << 20;

/// Generates a static delta from `options.from` (or nothing) to `options.to` and writes it
/// (into the repository's `deltas/`, or as `options.output`).
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::atomic::AtomicBool;
/// use cap_std::{ambient_authority, fs::Dir};
/// use rostree_delta::{GenerateOptions, generate};
/// use rostree_repo::commit::{CommitOptions, TreeSource, commit};
/// use rostree_repo::deltas::{DeltaName, list_static_deltas};
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
/// let tip = commit(&repo, sources, &NoProgress, &interrupt, &options)?.checksum;
///
/// // `ostree static-delta generate --empty --to=main`: everything `main` needs, in one delta.
/// let outcome = generate(&repo, &GenerateOptions::new(None, tip), &NoProgress, &interrupt)?;
/// // The commit, its dirtrees (/ and /etc) and dirmeta; one file; all in one part.
/// assert_eq!((outcome.new_metadata, outcome.new_regular, outcome.parts.len()), (4, 1, 1));
/// assert_eq!(list_static_deltas(&repo)?, [DeltaName { from: None, to: tip }]);
/// # Ok(()) }
/// ```
pub fn generate(
    repo: &Repo,
    options: &GenerateOptions,
    progress: &dyn Progress,
    interrupt: &AtomicBool,
) -> Result<GenerateOutcome> {
    progress.event(Event::Phase("Finding new objects"));
    let to_commit = repo.load_metadata(ObjectType::Commit, &options.to)?;
    let to = walk(repo, &options.to)?;
    let from = match &options.from {
        Some(from) => Some(walk(repo, from)?),
        None => None,
    };
    let (from_meta, from_files): (HashSet<_>, HashSet<_>) = match &from {
        Some(f) => (
            f.meta.iter().copied().collect(),
            f.files.iter().copied().collect(),
        ),
        None => Default::default(),
    };
    let mut outcome = GenerateOutcome::default();
    let new_meta: Vec<_> = to
        .meta
        .iter()
        .filter(|m| !from_meta.contains(m))
        .copied()
        .collect();
    outcome.new_metadata = new_meta.len();
    let mut new_regular = Vec::new();
    let mut new_symlinks = Vec::new();
    let mut sizes = HashMap::new();
    for file in to.files.iter().filter(|f| !from_files.contains(f)) {
        let (symlink, size) = content_size(repo, file)?;
        sizes.insert(*file, size);
        if symlink {
            new_symlinks.push(*file);
        } else {
            new_regular.push(*file);
        }
    }
    outcome.new_regular = new_regular.len();
    outcome.new_symlinks = new_symlinks.len();

    let mut patched: HashMap<Checksum, Checksum> = HashMap::new();
    let mut rolled: HashMap<Checksum, (Checksum, crate::rollsum::Matches)> = HashMap::new();
    if let Some(from) = &from {
        let mut from_sizes = Vec::new();
        for file in &from.files {
            let (header, size) = repo.file_info(file)?;
            if header.is_regular() {
                from_sizes.push(SizeNames {
                    checksum: *file,
                    size,
                    names: &from.names[file],
                });
            }
        }
        from_sizes.sort_by_key(|s| s.size);
        let mut to_sizes: Vec<_> = new_regular
            .iter()
            .map(|c| SizeNames {
                checksum: *c,
                size: sizes[c],
                names: &to.names[c],
            })
            .collect();
        to_sizes.sort_by_key(|s| s.size);
        let pairs = similar_files(&to_sizes, &from_sizes);
        outcome.modified = pairs.len();
        // Rollsum first; bsdiff where too little is shared; decided in parallel.
        let decided: Vec<Option<(Checksum, Checksum, Option<crate::rollsum::Matches>)>> = pairs
            .par_iter()
            .map(|&(to_file, from_file)| {
                if interrupt.load(Ordering::Relaxed) {
                    return Err(Error::Cancelled);
                }
                // Only sources every client can read: a bare-user client whose parent is a
                // bare repository may not be able to read the others.
                let (from_header, from_size) = repo.file_info(&from_file)?;
                if from_header.mode & 0o004 == 0 {
                    return Ok(None);
                }
                let read = |c: &Checksum| {
                    repo.open_content(c)?
                        .1
                        .into_bytes()
                        .ctx("reading", repo.object_path(ObjectType::File, c))
                };
                let matches = crate::rollsum::matches(&read(&from_file)?, &read(&to_file)?);
                if matches.worth_it() {
                    return Ok(Some((to_file, from_file, Some(matches))));
                }
                let fits = sizes[&to_file].saturating_add(from_size) <= options.max_bsdiff_size;
                Ok((options.bsdiff && fits).then_some((to_file, from_file, None)))
            })
            .collect::<Result<_>>()?;
        for (to_file, from_file, matches) in decided.into_iter().flatten() {
            match matches {
                Some(matches) => {
                    outcome.rollsum += 1;
                    outcome.rollsum_size += matches.size;
                    rolled.insert(to_file, (from_file, matches));
                }
                None => {
                    patched.insert(to_file, from_file);
                }
            }
        }
    }
    outcome.bsdiff = patched.len();

    // The superblock carries the to-commit itself.
    let mut items: Vec<(Item, u64)> = Vec::new();
    for (objtype, checksum) in &new_meta {
        if *objtype == ObjectType::Commit && *checksum == options.to {
            continue;
        }
        let size = storage_size(repo, *objtype, checksum)?;
        items.push((Item::Metadata(*objtype, *checksum), size));
    }
    for file in &new_regular {
        if let Some((from, matches)) = rolled.remove(file) {
            let item = Item::Rollsum {
                to: *file,
                from,
                matches,
            };
            items.push((item, sizes[file]));
        }
    }
    for file in &new_regular {
        if let Some(from) = patched.get(file) {
            items.push((
                Item::Bsdiff {
                    to: *file,
                    from: *from,
                },
                sizes[file],
            ));
        }
    }
    let mut fallbacks = Vec::new();
    for file in &new_regular {
        if patched.contains_key(file) || items_have(&items, file) {
            continue;
        }
        let size = sizes[file];
        if options.min_fallback_size > 0 && size > options.min_fallback_size {
            fallbacks.push(Fallback {
                objtype: ObjectType::File,
                checksum: *file,
                compressed_size: storage_size(repo, ObjectType::File, file)?,
                uncompressed_size: size,
            });
            continue;
        }
        items.push((Item::Whole(*file), size));
    }
    outcome.fallbacks = fallbacks.len();
    for link in &new_symlinks {
        items.push((Item::Whole(*link), sizes[link]));
    }

    let plans = plan_parts(items, options.max_chunk_size);
    progress.event(Event::Phase("Building parts"));
    let tmp = crate::apply::tmp_dir(repo)?;
    let built: Vec<(Spool, PartHeader, u64)> = plans
        .into_par_iter()
        .map(|plan| {
            let mut part = PartBuilder::default();
            for item in plan {
                if interrupt.load(Ordering::Relaxed) {
                    return Err(Error::Cancelled);
                }
                part.add(repo, item)?;
            }
            let built = part.finish(&tmp)?;
            progress.event(Event::DeltaPart {
                objects: built.1.objects.len() as u64,
                bytes: built.1.compressed_size,
            });
            Ok(built)
        })
        .collect::<Result<_>>()?;

    let name = DeltaName {
        from: options.from,
        to: options.to,
    };
    let mut metadata = options.metadata.clone();
    let mut parts = Vec::new();
    let mut part_files = Vec::new();
    let parts_size: u64 = built
        .iter()
        .map(|(_, header, _)| header.compressed_size)
        .sum();
    if options.inline && parts_size > MAX_METADATA_SIZE {
        // Refused before the parts are read into memory; the superblock would be larger.
        return Err(Error::InlineTooLarge {
            size: parts_size,
            limit: MAX_METADATA_SIZE,
        });
    }
    for (i, (file, header, loose)) in built.into_iter().enumerate() {
        outcome.parts.push(PartSummary {
            objects: header.objects.len(),
            compressed: header.compressed_size,
            uncompressed: header.uncompressed_size,
        });
        outcome.loose_size += loose;
        if options.inline {
            let bytes = file
                .read_range(0..file.len())
                .ctx("reading", repo.path().join("tmp"))?;
            let (compression, payload) = bytes.split_first().expect("a part file is not empty");
            metadata.push(
                name.part_path(i as u32),
                Value::Tuple(vec![
                    Value::Byte(*compression),
                    Value::Bytes(payload.to_vec()),
                ]),
            );
        } else {
            part_files.push((i.to_string(), file));
        }
        parts.push(header);
    }
    if let Some(detached) = repo.load_commitmeta(&options.to)? {
        let detached = Metadata::from_bytes(&detached).map_err(|e| Error::Format(e.detail()))?;
        metadata.push(name.file("commitmeta"), detached.to_value());
    }
    let timestamp = options.timestamp.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    });
    let superblock = Superblock {
        metadata,
        timestamp,
        from: options.from,
        to: options.to,
        commit: to_commit,
        parts,
        fallbacks,
        endianness: options.endianness,
        endianness_source: EndiannessSource::Recorded,
    }
    .to_bytes()?;
    let bytes = if options.signing_keys.is_empty() {
        superblock
    } else {
        let mut signatures = Metadata::new();
        for key in &options.signing_keys {
            key.add_signature(&mut signatures, &superblock)
                .map_err(|e| Error::Signature(e.to_string()))?;
        }
        crate::format::SuperblockFile::signed_bytes(&superblock, &signatures)
    };
    if options.inline && bytes.len() as u64 > MAX_METADATA_SIZE {
        // Nothing is written: a pull could not fetch it (the superblock is metadata).
        return Err(Error::InlineTooLarge {
            size: bytes.len() as u64,
            limit: MAX_METADATA_SIZE,
        });
    }
    let (dir, shown, superblock_name) = match &options.output {
        Some(path) => {
            let parent = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
                _ => PathBuf::from("."),
            };
            let base = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .ok_or_else(|| Error::Invalid("Invalid 'filename' parameter".into()))?;
            let dir = Dir::open_ambient_dir(&parent, cap_std::ambient_authority())
                .ctx("opening", &parent)?;
            (dir, parent, base)
        }
        None => {
            let rel = name.dir();
            repo.dir()
                .create_dir_all(&rel)
                .ctx("creating", repo.path().join(&rel))?;
            let dir = repo
                .dir()
                .open_dir(&rel)
                .ctx("opening", repo.path().join(&rel))?;
            (dir, repo.path().join(&rel), "superblock".to_owned())
        }
    };

    for (file_name, file) in &part_files {
        let mut reader = SpoolReader { spool: file, at: 0 };
        write_replace(&dir, file_name, &mut reader, &shown)?;
    }
    write_replace(&dir, &superblock_name, &mut &bytes[..], &shown)?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn similar_files_pair_by_name_then_fuzzy_name_within_size() {
        let c = |s: &[u8]| Checksum::digest(s);
        let (a_names, b_names, x_names) =
            (names(&["libfoo.so.1"]), names(&["data"]), names(&["a.xz"]));
        let (a2_names, d_names) = (names(&["libfoo.so.2"]), names(&["data"]));
        let from = vec![
            SizeNames {
                checksum: c(b"a"),
                size: 100,
                names: &a_names,
            },
            SizeNames {
                checksum: c(b"b"),
                size: 1000,
                names: &b_names,
            },
            SizeNames {
                checksum: c(b"x"),
                size: 1000,
                names: &x_names,
            },
        ];
        let to = vec![
            SizeNames {
                checksum: c(b"a2"),
                size: 120,
                names: &a2_names,
            },
            SizeNames {
                checksum: c(b"d"),
                size: 2000,
                names: &d_names,
            },
        ];
        // libfoo.so.2 matches libfoo.so.1 fuzzily; data doubled in size is too different.
        assert_eq!(similar_files(&to, &from), vec![(c(b"a2"), c(b"a"))]);
    }

    #[test]
    fn parts_split_at_the_chunk_size() {
        let c = Checksum::digest(b"x");
        let items = vec![
            (Item::Whole(c), 60),
            (Item::Whole(c), 60),
            (Item::Whole(c), 10),
            (Item::Whole(c), 200),
        ];
        let sizes: Vec<usize> = plan_parts(items, 100).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![1, 2, 1]);
    }
}
