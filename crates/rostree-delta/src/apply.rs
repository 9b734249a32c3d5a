//! Applying static deltas: opening parts and building their objects in a transaction.
//!
//! Every object is checked against its name before it lands: metadata by its sha256,
//! content through the transaction's hashing writer, so a part cannot smuggle anything in
//! under a false name. Memory stays bounded whatever a part's size: payloads past a window
//! wait in unnamed files ([`crate::part`]), file content is copied in steps from the
//! payload or the read source, and bsdiff patches are applied as they are read.

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use cap_std::fs::Dir;
use rostree_core::object::{DirTreeRef, FileHeader, content_checksum};
use rostree_core::{Checksum, ObjectType};
use rostree_repo::progress::{Event, Progress};
use rostree_repo::transaction::Source;
use rostree_repo::{Payload, Repo, Transaction};

use crate::bsdiff::{Patcher, ReadAt};
use crate::error::{Error, IoContext, Result};
use crate::format::{PART_VERSION, PartHeader, Superblock, SuperblockFile};
use crate::ops::{Action, Blob, OpCounts, Piece, parse_ops};
pub use crate::part::{PartTables, Spool, open_part};

/// The largest metadata object (or symlink target) a part may carry: upstream's limit on
/// metadata objects.
const MAX_METADATA: u64 = crate::generate::MAX_METADATA_SIZE;

/// A part's tables and what its operations build.
fn read_actions(
    objects: &[(ObjectType, Checksum)],
    tables: &PartTables,
    payload: &Spool,
) -> Result<(Vec<Action>, OpCounts)> {
    let start = tables.blob.start;
    let mut checksum_at = |offset: u64| -> Result<Checksum> {
        let mut bytes = [0u8; 32];
        payload
            .read_exact_at(&mut bytes, start + offset)
            .ctx("reading", "a delta part")?;
        Ok(Checksum::from_array(bytes))
    };
    let blob = Blob {
        len: tables.blob.end - start,
        checksum_at: &mut checksum_at,
        n_modes: tables.modes.len(),
        n_xattrs: tables.xattrs.len(),
    };
    parse_ops(&tables.ops, objects, blob)
}

/// A part's operations and what they build, for `static-delta show`.
pub fn part_stats(objects: &[(ObjectType, Checksum)], payload: &Spool) -> Result<PartStats> {
    let tables = PartTables::read(payload)?;
    let (_, ops) = read_actions(objects, &tables, payload)?;
    Ok(PartStats {
        modes: tables.modes.len(),
        xattrs: tables.xattrs.len(),
        blob_size: tables.blob.end - tables.blob.start,
        ops_size: tables.ops.len(),
        ops,
    })
}

/// What a part holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartStats {
    /// Entries of its mode table.
    pub modes: usize,
    /// Entries of its xattr table.
    pub xattrs: usize,
    /// Bytes of its blob.
    pub blob_size: u64,
    /// Bytes of its operations.
    pub ops_size: usize,
    /// Its operations, counted.
    pub ops: OpCounts,
}

/// Whether the repository has every object a part builds (then it need not be fetched).
pub fn have_all_objects(repo: &Repo, objects: &[(ObjectType, Checksum)]) -> Result<bool> {
    for (objtype, checksum) in objects {
        if !repo.has_object(*objtype, checksum)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The repository's `tmp/`, where large payloads and inflated read sources wait.
pub fn tmp_dir(repo: &Repo) -> Result<Dir> {
    repo.dir()
        .open_dir("tmp")
        .ctx("opening", repo.path().join("tmp"))
}

fn mismatch(objtype: ObjectType, expected: Checksum, actual: Checksum) -> Error {
    rostree_repo::Error::ChecksumMismatch {
        objtype,
        expected,
        actual,
    }
    .into()
}

/// Bytes of the blob read into memory, for a metadata object or a symlink target.
fn small_range(payload: &Spool, blob_start: u64, range: std::ops::Range<u64>) -> Result<Vec<u8>> {
    let len = range.end - range.start;
    if len > MAX_METADATA {
        return Err(Error::Format(format!(
            "Delta object of {len} bytes past the {MAX_METADATA}-byte limit on metadata"
        )));
    }
    payload
        .read_range(blob_start + range.start..blob_start + range.end)
        .ctx("reading", "a delta part")
}

/// Builds a part's objects (its payload, opened) in `tx`. Objects already there are
/// skipped; every other one is checked against its name.
pub fn execute_part(
    tx: &Transaction<'_>,
    objects: &[(ObjectType, Checksum)],
    payload: &Spool,
) -> Result<()> {
    if objects.is_empty() {
        return Ok(());
    }
    let tables = PartTables::read(payload)?;
    let (actions, _) = read_actions(objects, &tables, payload)?;
    let tmp = tmp_dir(tx.repo())?;
    let blob_start = tables.blob.start;
    for action in actions {
        match action {
            Action::Metadata {
                objtype,
                checksum,
                data,
            } => {
                if tx.has_object(objtype, &checksum)? {
                    continue;
                }
                let bytes = small_range(payload, blob_start, data)?;
                let actual = Checksum::digest(&bytes);
                if actual != checksum {
                    return Err(mismatch(objtype, checksum, actual));
                }
                tx.write_metadata_as(objtype, &checksum, &bytes)?;
            }
            Action::Content {
                checksum,
                mode,
                xattrs,
                size,
                pieces,
            } => {
                if tx.has_object(ObjectType::File, &checksum)? {
                    continue;
                }
                let (uid, gid, mode) = tables.modes[mode];
                let mut header = FileHeader {
                    uid,
                    gid,
                    mode,
                    rdev: 0,
                    symlink_target: String::new(),
                    xattrs: tables.xattrs[xattrs].clone(),
                };
                if header.is_symlink() {
                    let [Piece::Blob(range)] = pieces.as_slice() else {
                        return Err(Error::Format(format!(
                            "Symlink {checksum} is not spliced whole"
                        )));
                    };
                    let target = small_range(payload, blob_start, range.clone())?;
                    header.symlink_target = String::from_utf8(target)
                        .map_err(|_| Error::Format(format!("Symlink {checksum}: not UTF-8")))?;
                    let actual = content_checksum(&header, &[]);
                    if actual != checksum {
                        return Err(mismatch(ObjectType::File, checksum, actual));
                    }
                    tx.write_content_as(&checksum, &header, Source::Bytes(&[]))?;
                    continue;
                }
                if !header.is_regular() {
                    return Err(Error::Format(format!(
                        "Content object {checksum} is neither a file nor a symlink"
                    )));
                }
                let mut reader = PiecesReader {
                    repo: tx.repo(),
                    tmp: &tmp,
                    payload,
                    blob_start,
                    pieces: pieces.into_iter(),
                    current: Current::Done,
                    remaining: size,
                    error: None,
                };
                tx.write_content_as(&checksum, &header, Source::Untrusted(&mut reader))?;
                if let Some(e) = reader.error.take() {
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}

/// Reads a file's content from its pieces, in order, opening read sources as they come.
struct PiecesReader<'a> {
    repo: &'a Repo,
    tmp: &'a Dir,
    payload: &'a Spool,
    blob_start: u64,
    pieces: std::vec::IntoIter<Piece>,
    current: Current<'a>,
    /// Bytes left of the size the operations declared; more is refused.
    remaining: u64,
    /// A failure the transaction's `io::Error` would hide.
    error: Option<Error>,
}

enum Current<'a> {
    /// Bytes at a position of the payload or of a bare read source.
    At {
        source: At<'a>,
        offset: u64,
        left: u64,
    },
    /// An archive read source, inflated as it is read.
    Stream {
        payload: Payload,
        left: u64,
    },
    Patch(Box<Patcher<Spool, &'a Spool>>),
    Done,
}

enum At<'a> {
    Payload(&'a Spool),
    File(std::fs::File),
}

impl PiecesReader<'_> {
    fn source(&self, object: &Checksum) -> Result<Payload> {
        let (header, payload) = self.repo.open_content(object)?;
        if !header.is_regular() {
            return Err(Error::Format(format!(
                "Delta read source {object} is not a regular file"
            )));
        }
        Ok(payload)
    }

    /// A read source whole, for bsdiff to read where its controls point: a bare object
    /// as it is, an archive object inflated into a spool.
    fn random_access_source(&self, object: &Checksum) -> Result<Spool> {
        let what = || format!("object {object}");
        Ok(match self.source(object)? {
            Payload::File(file) => {
                let file = file.into_std();
                let len = file.metadata().ctx("reading", what())?.len();
                Spool::File { file, len }
            }
            Payload::None => Spool::Memory(Vec::new()),
            Payload::Bytes(bytes) => Spool::Memory(bytes.into_inner()),
            mut payload => {
                let mut out = crate::part::SpoolWriter::new(Some(self.tmp), u64::MAX);
                rostree_repo::copy::copy_wide(&mut payload, &mut out).ctx("reading", what())?;
                out.finish()
            }
        })
    }

    fn next_piece(&mut self) -> Result<bool> {
        let Some(piece) = self.pieces.next() else {
            return Ok(false);
        };
        self.current = match piece {
            Piece::Blob(range) => Current::At {
                source: At::Payload(self.payload),
                offset: self.blob_start + range.start,
                left: range.end - range.start,
            },
            Piece::Source {
                object,
                offset,
                len,
            } => match self.source(&object)? {
                Payload::File(file) => Current::At {
                    source: At::File(file.into_std()),
                    offset,
                    left: len,
                },
                mut payload => {
                    // An archive source inflates from its start: what comes before the
                    // range is read past.
                    let skipped =
                        std::io::copy(&mut (&mut payload).take(offset), &mut std::io::sink())
                            .ctx("reading", format!("object {object}"))?;
                    if skipped != offset {
                        return Err(Error::Format(format!(
                            "Unexpected EOF reading object {object}"
                        )));
                    }
                    Current::Stream { payload, left: len }
                }
            },
            Piece::Patch { object, patch } => {
                let old = self.random_access_source(&object)?;
                let old_len = old.len();
                let range = self.blob_start + patch.start..self.blob_start + patch.end;
                Current::Patch(Box::new(Patcher::new(old, old_len, self.payload, range)))
            }
        };
        Ok(true)
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<usize> {
        let eof = || Error::Format("Unexpected EOF reading a delta read source".into());
        loop {
            let n = match &mut self.current {
                Current::At {
                    source,
                    offset,
                    left,
                } => {
                    let want = (*left).min(buf.len() as u64) as usize;
                    let n = match source {
                        _ if want == 0 => Ok(0),
                        At::Payload(spool) => spool.read_at(&mut buf[..want], *offset),
                        At::File(file) => file.read_at(&mut buf[..want], *offset),
                    }
                    .ctx("reading", "a delta read source")?;
                    if n == 0 && want > 0 {
                        return Err(eof());
                    }
                    *offset += n as u64;
                    *left -= n as u64;
                    n
                }
                Current::Stream { payload, left } => {
                    let want = (*left).min(buf.len() as u64) as usize;
                    let n = if want == 0 {
                        0
                    } else {
                        payload
                            .read(&mut buf[..want])
                            .ctx("reading", "a delta read source")?
                    };
                    if n == 0 && want > 0 {
                        return Err(eof());
                    }
                    *left -= n as u64;
                    n
                }
                Current::Patch(patcher) => {
                    // Never more than the declared size: a patch cannot run past it.
                    let want = (self.remaining.saturating_add(1)).min(buf.len() as u64) as usize;
                    patcher
                        .read(&mut buf[..want])
                        .map_err(|e| Error::Format(format!("bsdiff patch failed: {e}")))?
                }
                Current::Done => 0,
            };
            if n > 0 {
                if n as u64 > self.remaining {
                    return Err(Error::Format(
                        "Delta operations write more than the file's size".into(),
                    ));
                }
                self.remaining -= n as u64;
                return Ok(n);
            }
            if !self.next_piece()? {
                return Ok(0);
            }
        }
    }
}

impl Read for PiecesReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        match self.fill(buf) {
            Ok(n) => Ok(n),
            Err(e) => {
                let text = e.to_string();
                self.error = Some(e);
                Err(std::io::Error::other(text))
            }
        }
    }
}

/// Whether a delta must bring everything its commit needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Completeness {
    /// Applied offline: nothing can be fetched afterwards, so every object the commit
    /// reaches must be there.
    Required,
    /// Applied by a pull, which fetches what the delta left out (its fallbacks) afterwards.
    Fetched,
}

/// Checks that every object `superblock`'s parts build is one its commit reaches (walking
/// the trees in `tx` from the commit), and takes out of `tx` any that is not: a delta may
/// not fill a repository with objects nothing uses. With [`Completeness::Required`], every
/// object the commit reaches must be there too. Otherwise a tree the walk does not find
/// (left to be fetched) ends the check without a verdict.
pub fn check_needed(
    tx: &Transaction<'_>,
    superblock: &Superblock,
    completeness: Completeness,
) -> Result<()> {
    let commit = rostree_core::object::CommitRef::parse(&superblock.commit)
        .map_err(|e| Error::Format(format!("Delta commit {}: {e}", superblock.to)))?;
    let left_out = |objtype: ObjectType, checksum: Checksum| {
        Error::Format(format!(
            "Delta to {} leaves out {checksum}.{objtype}, which the commit needs",
            superblock.to
        ))
    };
    let mut reached: HashSet<(ObjectType, Checksum)> = HashSet::new();
    let mut trees = vec![(commit.root_tree(), commit.root_meta())];
    while let Some((tree, meta)) = trees.pop() {
        reached.insert((ObjectType::DirMeta, meta));
        if !reached.insert((ObjectType::DirTree, tree)) {
            continue;
        }
        if !tx.has_object(ObjectType::DirTree, &tree)? {
            return match completeness {
                Completeness::Required => Err(left_out(ObjectType::DirTree, tree)),
                Completeness::Fetched => Ok(()),
            };
        }
        let data = tx.load_metadata(ObjectType::DirTree, &tree)?;
        let view = DirTreeRef::parse(&data).map_err(|e| Error::Format(format!("{tree}: {e}")))?;
        for file in &view.files {
            reached.insert((ObjectType::File, file.checksum));
        }
        for dir in &view.dirs {
            trees.push((dir.tree, dir.meta));
        }
    }
    if completeness == Completeness::Required {
        for &(objtype, checksum) in &reached {
            if !tx.has_object(objtype, &checksum)? {
                return Err(left_out(objtype, checksum));
            }
        }
    }
    let unneeded: Vec<_> = superblock
        .parts
        .iter()
        .flat_map(|part| &part.objects)
        .filter(|object| !reached.contains(object))
        .collect();
    if let Some(&&(objtype, checksum)) = unneeded.first() {
        for (objtype, checksum) in &unneeded {
            tx.unstage(*objtype, checksum)?;
        }
        return Err(Error::Format(format!(
            "Delta builds {checksum}.{objtype}, which commit {} does not reach ({} such objects)",
            superblock.to,
            unneeded.len()
        )));
    }
    Ok(())
}

/// How a signed superblock is checked before a delta is applied offline.
pub enum SignatureCheck<'a> {
    /// Not checked (unless the repository's `core.sign-verify-deltas` demands it).
    None,
    /// Checked against these keys.
    Keys(&'a [rostree_sign::signapi::Verifier]),
}

/// Applies a delta stored in a directory (or given by its superblock file) to `tx`: the
/// to-commit and its detached metadata, then every part whose objects are not all there.
/// The delta must carry everything: one with fallbacks needs a remote.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # use std::sync::atomic::AtomicBool;
/// # use cap_std::{ambient_authority, fs::Dir};
/// # use rostree_repo::commit::{CommitOptions, TreeSource, commit};
/// # use rostree_repo::pull_local::{PullLocalOptions, pull_local};
/// # use rostree_repo::{InitOptions, Repo, RepoMode, progress::NoProgress};
/// # let tmp = tempfile::tempdir()?;
/// # let options = InitOptions { mode: RepoMode::Archive, ..Default::default() };
/// # let init = |name: &str| -> Result<Repo, Box<dyn std::error::Error>> {
/// #     std::fs::create_dir(tmp.path().join(name))?;
/// #     let dir = Dir::open_ambient_dir(tmp.path().join(name), ambient_authority())?;
/// #     Ok(Repo::init(dir, tmp.path().join(name), &options)?)
/// # };
/// # let (source, repo) = (init("source")?, init("repo")?);
/// # let interrupt = AtomicBool::new(false);
/// # std::fs::create_dir_all(tmp.path().join("tree/etc"))?;
/// # let mut commits = Vec::new();
/// # for version in ["1", "2"] {
/// #     let text = format!("VERSION_ID={version}\n");
/// #     std::fs::write(tmp.path().join("tree/etc/os-release"), text)?;
/// #     let tree = Dir::open_ambient_dir(tmp.path().join("tree"), ambient_authority())?;
/// #     let sources = vec![TreeSource::Dir(tree, tmp.path().join("tree"))];
/// #     let options = CommitOptions { branch: Some("main".into()), ..Default::default() };
/// #     commits.push(commit(&source, sources, &NoProgress, &interrupt, &options)?.checksum);
/// # }
/// # let refs = [("main".to_owned(), commits[0])];
/// # pull_local(&repo, &source, &refs, &NoProgress, &interrupt, &PullLocalOptions::default())?;
/// use rostree_core::ObjectType;
/// use rostree_delta::{GenerateOptions, apply::{SignatureCheck, apply_offline}, generate};
/// use rostree_repo::{Transaction, fsck::{FsckOptions, fsck}};
///
/// // `source` has two commits on `main`; `repo` has only the first. In `source`:
/// // `ostree static-delta generate --from=main^ --to=main --filename=delta/superblock`
/// std::fs::create_dir(tmp.path().join("delta"))?;
/// let mut options = GenerateOptions::new(Some(commits[0]), commits[1]);
/// options.output = Some(tmp.path().join("delta/superblock"));
/// generate(&source, &options, &NoProgress, &interrupt)?;
///
/// // `ostree --repo=repo static-delta apply-offline delta`
/// let tx = Transaction::begin(&repo)?;
/// let check = SignatureCheck::None;
/// apply_offline(&tx, &tmp.path().join("delta"), check, &NoProgress, &interrupt)?;
/// tx.commit()?;
/// assert!(repo.has_object(ObjectType::Commit, &commits[1])?);
/// // Every object the new commit reaches is there and intact.
/// assert!(fsck(&repo, &NoProgress, &interrupt, &FsckOptions::default())?.errors.is_empty());
/// # Ok(()) }
/// ```
pub fn apply_offline(
    tx: &Transaction<'_>,
    path: &Path,
    check: SignatureCheck<'_>,
    progress: &dyn Progress,
    interrupt: &AtomicBool,
) -> Result<()> {
    let repo = tx.repo();
    let (dir, superblock_name) = match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => (path.to_owned(), "superblock".to_owned()),
        Ok(_) => (
            path.parent().unwrap_or(Path::new(".")).to_owned(),
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ),
        Err(e) => return Err(e).ctx("opening", path),
    };
    let superblock_path = dir.join(&superblock_name);
    let data = std::fs::read(&superblock_path).ctx("reading", &superblock_path)?;
    let file = SuperblockFile::parse(&data)?;
    if file.is_signed() {
        let mandatory = repo.core_flag("sign-verify-deltas", false)?;
        match check {
            SignatureCheck::None if mandatory => {
                return Err(Error::Signature(
                    "Key is mandatory to check delta signature".into(),
                ));
            }
            SignatureCheck::None => {}
            SignatureCheck::Keys(verifiers) => {
                verify_superblock(&file, verifiers)?;
            }
        }
    }
    let superblock = Superblock::parse(&file.superblock)?;
    let name = rostree_repo::deltas::DeltaName {
        from: superblock.from,
        to: superblock.to,
    };
    if let Some(from) = &superblock.from
        && !repo.has_object(ObjectType::Commit, from)?
    {
        return Err(Error::Invalid(format!(
            "Commit {from}, which is the delta source, is not in repository"
        )));
    }
    if !tx.has_object(ObjectType::Commit, &superblock.to)? {
        write_commit(tx, &superblock, &name)?;
    }
    if !superblock.fallbacks.is_empty() {
        return Err(Error::Invalid(
            "Cannot execute delta offline: contains nonempty http fallback entries".into(),
        ));
    }
    let tmp = tmp_dir(repo)?;
    let mut todo = Vec::new();
    for (i, part) in superblock.parts.iter().enumerate() {
        check_version(part)?;
        if have_all_objects(repo, &part.objects)? {
            progress.event(Event::DeltaPart {
                objects: part.objects.len() as u64,
                bytes: part.compressed_size,
            });
            continue;
        }
        todo.push(i);
    }
    let mut opened = todo.into_iter().map(|i| {
        if interrupt.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        let part = &superblock.parts[i];
        let key = name.part_path(i as u32);
        let payload = match superblock.inline_part(&key) {
            Some(bytes) => open_part(&mut &bytes[..], None, part.uncompressed_size, Some(&tmp)),
            None => {
                let part_path = dir.join(i.to_string());
                let mut file =
                    std::fs::File::open(&part_path).ctx("Opening deltapart", &part_path)?;
                open_part(
                    &mut file,
                    Some(&part.checksum),
                    part.uncompressed_size,
                    Some(&tmp),
                )
            }
        };
        payload
            .map(|payload| (i, payload))
            .map_err(|e| Error::Format(format!("Executing delta part {i}: {e}")))
    });
    build_parts(tx, &superblock, &mut opened, progress)?;
    check_needed(tx, &superblock, Completeness::Required)
}

/// Builds the objects of parts as they are opened, in two stages that overlap: `opened`
/// yields each part hashed and decompressed (the costly half, on the calling thread, one
/// at a time, so one xz dictionary is in memory), while another thread builds the objects
/// of the one before. Stops at the first error of either.
pub fn build_parts(
    tx: &Transaction<'_>,
    superblock: &Superblock,
    opened: &mut dyn Iterator<Item = Result<(usize, Spool)>>,
    progress: &dyn Progress,
) -> Result<()> {
    let failed = AtomicBool::new(false);
    let (to_build, built) = std::sync::mpsc::sync_channel::<(usize, Spool)>(1);
    std::thread::scope(|scope| {
        let builder = scope.spawn(|| -> Result<()> {
            for (i, payload) in built {
                let part = &superblock.parts[i];
                let result = execute_part(tx, &part.objects, &payload)
                    .map_err(|e| Error::Format(format!("Executing delta part {i}: {e}")));
                if result.is_err() {
                    failed.store(true, Ordering::Relaxed);
                    return result;
                }
                progress.event(Event::DeltaPart {
                    objects: part.objects.len() as u64,
                    bytes: part.compressed_size,
                });
            }
            Ok(())
        });
        let mut result = Ok(());
        for next in opened {
            if failed.load(Ordering::Relaxed) {
                break;
            }
            match next {
                Ok(part) => {
                    if to_build.send(part).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        drop(to_build);
        let built = builder.join().expect("the builder thread does not panic");
        result.and(built)
    })
}

/// Refuses parts of a format newer than this reader knows.
pub fn check_version(part: &PartHeader) -> Result<()> {
    if part.version > PART_VERSION {
        return Err(Error::Format(format!(
            "Delta part has too new version {}",
            part.version
        )));
    }
    Ok(())
}

/// Stores the superblock's to-commit (checked against its name) and the detached metadata
/// it carries.
pub fn write_commit(
    tx: &Transaction<'_>,
    superblock: &Superblock,
    name: &rostree_repo::deltas::DeltaName,
) -> Result<()> {
    let actual = Checksum::digest(&superblock.commit);
    if actual != superblock.to {
        return Err(rostree_repo::Error::ChecksumMismatch {
            objtype: ObjectType::Commit,
            expected: superblock.to,
            actual,
        }
        .into());
    }
    if let Some(detached) = superblock.detached_metadata(&name.file("commitmeta")) {
        tx.write_metadata_as(ObjectType::CommitMeta, &superblock.to, &detached.to_bytes())?;
    }
    tx.write_metadata_as(ObjectType::Commit, &superblock.to, &superblock.commit)?;
    Ok(())
}

/// Checks a signed superblock with `verifiers`: one of them must find a good signature of
/// its type. Returns the verifier's message.
pub fn verify_superblock(
    file: &SuperblockFile,
    verifiers: &[rostree_sign::signapi::Verifier],
) -> Result<String> {
    let signatures = file
        .signatures
        .as_ref()
        .ok_or_else(|| Error::Signature("no signatures in static-delta".into()))?;
    for verifier in verifiers {
        let key = verifier.sign_type().metadata_key();
        if signatures.get(key).is_none() {
            return Err(Error::Signature(format!(
                "no signature for '{key}' in static-delta superblock"
            )));
        }
    }
    rostree_sign::signapi::verify_any(verifiers, &file.superblock, signatures)
        .map_err(|e| Error::Signature(e.to_string()))
}
