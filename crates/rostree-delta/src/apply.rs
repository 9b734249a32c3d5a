//! Applying static deltas: opening parts and building their objects in a transaction.
//!
//! Every object is checked against its name before it lands: metadata by its sha256,
//! content through the transaction's hashing writer, so a part cannot smuggle anything in
//! under a false name.

use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use rostree_core::object::{FileHeader, content_checksum};
use rostree_core::{Checksum, ObjectType};
use rostree_repo::progress::{Event, Progress};
use rostree_repo::transaction::Source;
use rostree_repo::{Payload, Repo, Transaction};

use crate::error::{Error, IoContext, Result};
use crate::format::{PART_VERSION, PartHeader, PartPayload, Superblock, SuperblockFile};
use crate::ops::{Action, OpCounts, Piece, parse_ops};

/// The most a part may inflate to beyond the sizes its header declares: its tables and
/// operations. A part that inflates further is refused rather than filling memory.
const PAYLOAD_SLACK: u64 = 64 << 20;

/// Reads a part file (compression byte and payload): checks its sha256 when `expected` is
/// given (inline parts are covered by their superblock instead) and returns the payload,
/// decompressed. `declared` is the header's uncompressed size, which bounds the output.
pub fn open_part(data: &[u8], expected: Option<&Checksum>, declared: u64) -> Result<Vec<u8>> {
    if let Some(expected) = expected {
        let actual = Checksum::digest(data);
        if actual != *expected {
            return Err(Error::PartChecksum {
                expected: *expected,
                actual,
            });
        }
    }
    let Some((&compression, payload)) = data.split_first() else {
        return Err(Error::Format(
            "Reading initial compression flag byte: empty delta part".into(),
        ));
    };
    match compression {
        0 => Ok(payload.to_vec()),
        b'x' => {
            let limit = declared.saturating_mul(2).saturating_add(PAYLOAD_SLACK);
            let mut out = Vec::new();
            lzma_rust2::XzReader::new(payload, true)
                .take(limit + 1)
                .read_to_end(&mut out)
                .map_err(|e| Error::Format(format!("Decompressing delta part: {e}")))?;
            if out.len() as u64 > limit {
                return Err(Error::Format(format!(
                    "Delta part inflates to more than {limit} bytes"
                )));
            }
            Ok(out)
        }
        other => Err(Error::Compression(other)),
    }
}

/// A decompressed payload and what its operations build.
fn read_payload<'a>(
    objects: &[(ObjectType, Checksum)],
    payload: &'a [u8],
) -> Result<(PartPayload<'a>, Vec<Action>, OpCounts)> {
    let parsed = PartPayload::parse(payload)?;
    let (actions, counts) = parse_ops(
        parsed.ops,
        objects,
        parsed.blob,
        parsed.modes.len(),
        parsed.xattrs.len(),
    )?;
    Ok((parsed, actions, counts))
}

/// A part's operations and what they build, for `static-delta show`.
pub fn part_stats(objects: &[(ObjectType, Checksum)], payload: &[u8]) -> Result<PartStats> {
    let (parsed, _, ops) = read_payload(objects, payload)?;
    Ok(PartStats {
        modes: parsed.modes.len(),
        xattrs: parsed.xattrs.len(),
        blob_size: parsed.blob.len(),
        ops_size: parsed.ops.len(),
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
    pub blob_size: usize,
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

/// Builds a part's objects (a decompressed payload) in `tx`. Objects already there are
/// skipped; every other one is checked against its name.
pub fn execute_part(
    tx: &Transaction<'_>,
    objects: &[(ObjectType, Checksum)],
    payload: &[u8],
) -> Result<()> {
    if objects.is_empty() {
        return Ok(());
    }
    let (parsed, actions, _) = read_payload(objects, payload)?;
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
                let bytes = &parsed.blob[data];
                let actual = Checksum::digest(bytes);
                if actual != checksum {
                    return Err(rostree_repo::Error::ChecksumMismatch {
                        objtype,
                        expected: checksum,
                        actual,
                    }
                    .into());
                }
                tx.write_metadata_as(objtype, &checksum, bytes)?;
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
                let (uid, gid, mode) = parsed.modes[mode];
                let mut header = FileHeader {
                    uid,
                    gid,
                    mode,
                    rdev: 0,
                    symlink_target: String::new(),
                    xattrs: parsed.xattrs[xattrs].clone(),
                };
                if header.is_symlink() {
                    let [Piece::Blob(range)] = pieces.as_slice() else {
                        return Err(Error::Format(format!(
                            "Symlink {checksum} is not spliced whole"
                        )));
                    };
                    header.symlink_target = String::from_utf8(parsed.blob[range.clone()].to_vec())
                        .map_err(|_| Error::Format(format!("Symlink {checksum}: not UTF-8")))?;
                    let actual = content_checksum(&header, &[]);
                    if actual != checksum {
                        return Err(rostree_repo::Error::ChecksumMismatch {
                            objtype: ObjectType::File,
                            expected: checksum,
                            actual,
                        }
                        .into());
                    }
                    tx.write_content_as(&checksum, &header, Source::Bytes(&[]))?;
                    continue;
                }
                if !header.is_regular() {
                    return Err(Error::Format(format!(
                        "Content object {checksum} is neither a file nor a symlink"
                    )));
                }
                let mut reader = PiecesReader::new(tx.repo(), parsed.blob, pieces, size);
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
    blob: &'a [u8],
    pieces: std::vec::IntoIter<Piece>,
    current: Current<'a>,
    /// Bytes left of the size the operations declared; more is refused.
    remaining: u64,
    /// A failure the transaction's `io::Error` would hide.
    error: Option<Error>,
}

enum Current<'a> {
    Slice(&'a [u8]),
    Owned(Vec<u8>, usize),
    File {
        file: std::fs::File,
        offset: u64,
        left: u64,
    },
    Stream {
        payload: Payload,
        left: u64,
    },
    Done,
}

impl<'a> PiecesReader<'a> {
    fn new(repo: &'a Repo, blob: &'a [u8], pieces: Vec<Piece>, size: u64) -> Self {
        PiecesReader {
            repo,
            blob,
            pieces: pieces.into_iter(),
            current: Current::Done,
            remaining: size,
            error: None,
        }
    }

    fn source(&self, object: &Checksum) -> Result<Payload> {
        let (header, payload) = self.repo.open_content(object)?;
        if !header.is_regular() {
            return Err(Error::Format(format!(
                "Delta read source {object} is not a regular file"
            )));
        }
        Ok(payload)
    }

    fn next_piece(&mut self) -> Result<bool> {
        let Some(piece) = self.pieces.next() else {
            return Ok(false);
        };
        self.current = match piece {
            Piece::Blob(range) => Current::Slice(&self.blob[range]),
            Piece::Source {
                object,
                offset,
                len,
            } => match self.source(&object)? {
                Payload::File(file) => Current::File {
                    file: file.into_std(),
                    offset,
                    left: len,
                },
                Payload::None => Current::Slice(&[]),
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
                let old = self
                    .source(&object)?
                    .into_bytes()
                    .ctx("reading", format!("object {object}"))?;
                let mut new = Vec::new();
                bsdiff::patch(&old, &mut &self.blob[patch], &mut new)
                    .map_err(|e| Error::Format(format!("bsdiff patch failed: {e}")))?;
                Current::Owned(new, 0)
            }
        };
        Ok(true)
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<usize> {
        loop {
            let n = match &mut self.current {
                Current::Slice(s) => {
                    let n = s.len().min(buf.len());
                    buf[..n].copy_from_slice(&s[..n]);
                    *s = &s[n..];
                    n
                }
                Current::Owned(v, pos) => {
                    let n = (v.len() - *pos).min(buf.len());
                    buf[..n].copy_from_slice(&v[*pos..*pos + n]);
                    *pos += n;
                    n
                }
                Current::File { file, offset, left } => {
                    let want = (*left).min(buf.len() as u64) as usize;
                    let n = if want == 0 {
                        0
                    } else {
                        file.read_at(&mut buf[..want], *offset)
                            .ctx("reading", "a delta read source")?
                    };
                    if n == 0 && want > 0 {
                        return Err(Error::Format(
                            "Unexpected EOF reading a delta read source".into(),
                        ));
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
                        return Err(Error::Format(
                            "Unexpected EOF reading a delta read source".into(),
                        ));
                    }
                    *left -= n as u64;
                    n
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
    for (i, part) in superblock.parts.iter().enumerate() {
        if interrupt.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        check_version(part)?;
        let done = Event::DeltaPart {
            objects: part.objects.len() as u64,
            bytes: part.compressed_size,
        };
        if have_all_objects(repo, &part.objects)? {
            progress.event(done);
            continue;
        }
        let key = name.part_path(i as u32);
        let payload = match superblock.inline_part(&key) {
            Some(bytes) => open_part(&bytes, None, part.uncompressed_size),
            None => {
                let part_path = dir.join(i.to_string());
                let bytes = std::fs::read(&part_path).ctx("Opening deltapart", &part_path)?;
                open_part(&bytes, Some(&part.checksum), part.uncompressed_size)
            }
        };
        payload
            .and_then(|payload| execute_part(tx, &part.objects, &payload))
            .map_err(|e| Error::Format(format!("Executing delta part {i}: {e}")))?;
        progress.event(done);
    }
    Ok(())
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
