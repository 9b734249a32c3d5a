//! A part on its way to being applied, in bounded memory: hashed and decompressed as it
//! streams in, its payload kept in memory when small and in an unnamed file of the
//! repository's `tmp/` otherwise, then read by position.
//!
//! ```text
//! part file   [compression byte][xz stream, or the payload as it is]
//!                                   │ hashed whole (with the byte), decoded as it comes
//!                                   ▼
//! payload     [modes][xattr sets][blob ........................][ops][offsets]
//!              └─ read into memory ─┘ └ read where ops point ┘    └ in memory
//! ```
//!
//! The part's checksum is checked before a single operation runs, so nothing is built
//! from bytes its superblock does not vouch for.

use std::io::{Read, Write};
use std::ops::Range;

use cap_std::fs::Dir;
use rostree_core::gvariant::{Type, Value, array_children, tuple_spans, tuple_tail_len};
use rostree_core::object::Xattrs;
use rostree_core::{Checksum, Hasher};
use rostree_repo::content::HashingReader;

use crate::bsdiff::ReadAt;
use crate::error::{Error, IoContext, Result};

/// Payloads (and inflated read sources) up to this size stay in memory.
pub const MEMORY_WINDOW: u64 = 1 << 20;

/// The most memory an xz decoder may ask for (what xz's heaviest preset, 9, needs is
/// 65 MiB): a part asking for more is refused before anything is decoded.
const XZ_MEMORY_LIMIT_KIB: u32 = 80 << 10;

/// The most a part may inflate to beyond the sizes its header declares: its tables and
/// operations (upstream declares the sizes of the objects built, not of the payload).
const PAYLOAD_SLACK: u64 = 64 << 20;

/// The most the tables and the operations of one part may take in memory.
const TABLES_LIMIT: u64 = 64 << 20;

/// Bytes held in memory or, past [`MEMORY_WINDOW`], in an unnamed temporary file.
#[derive(Debug)]
pub enum Spool {
    /// In memory.
    Memory(Vec<u8>),
    /// In an unnamed file.
    File {
        /// The file.
        file: std::fs::File,
        /// Its length.
        len: u64,
    },
}

impl Spool {
    /// The length of the bytes.
    pub fn len(&self) -> u64 {
        match self {
            Spool::Memory(data) => data.len() as u64,
            Spool::File { len, .. } => *len,
        }
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes of `range`, read into memory (for the small parts of a payload).
    pub fn read_range(&self, range: Range<u64>) -> std::io::Result<Vec<u8>> {
        let mut out = vec![0; (range.end - range.start) as usize];
        self.read_exact_at(&mut out, range.start)?;
        Ok(out)
    }
}

impl ReadAt for Spool {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        match self {
            Spool::Memory(data) => data.as_slice().read_at(buf, offset),
            Spool::File { file, len } => {
                let n = buf.len().min(len.saturating_sub(offset) as usize);
                file.read_at(&mut buf[..n], offset)
            }
        }
    }
}

/// Collects bytes into a [`Spool`], moving them to a file in `tmp` when they outgrow the
/// window (and refusing more than `limit`).
pub struct SpoolWriter<'a> {
    tmp: Option<&'a Dir>,
    limit: u64,
    spool: Spool,
}

impl<'a> SpoolWriter<'a> {
    /// A writer spilling into `tmp` (kept in memory without one), taking up to `limit`.
    pub fn new(tmp: Option<&'a Dir>, limit: u64) -> Self {
        SpoolWriter {
            tmp,
            limit,
            spool: Spool::Memory(Vec::new()),
        }
    }

    /// The bytes written.
    pub fn finish(self) -> Spool {
        self.spool
    }
}

impl Write for SpoolWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.spool.len() + buf.len() as u64 > self.limit {
            return Err(std::io::Error::new(
                std::io::ErrorKind::FileTooLarge,
                format!("more than {} bytes", self.limit),
            ));
        }
        match &mut self.spool {
            Spool::Memory(data) if data.len() as u64 + buf.len() as u64 <= MEMORY_WINDOW => {
                data.extend_from_slice(buf);
            }
            Spool::Memory(data) => {
                let Some(tmp) = self.tmp else {
                    data.extend_from_slice(buf);
                    return Ok(buf.len());
                };
                let mut file = rostree_repo::scratch::unnamed_file(tmp)?;
                file.write_all(data)?;
                file.write_all(buf)?;
                let len = data.len() as u64 + buf.len() as u64;
                self.spool = Spool::File { file, len };
            }
            Spool::File { file, len } => {
                file.write_all(buf)?;
                *len += buf.len() as u64;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Reads a part file (compression byte and payload) from `source`: decompressed as it
/// comes into a [`Spool`] (in `tmp` past the window), hashed whole and checked against
/// `expected` when given (inline parts are covered by their superblock instead).
/// `declared` is the header's uncompressed size, which bounds the output.
pub fn open_part(
    source: &mut dyn Read,
    expected: Option<&Checksum>,
    declared: u64,
    tmp: Option<&Dir>,
) -> Result<Spool> {
    let mut hasher = Hasher::new();
    let mut input = HashingReader::new(
        std::io::BufReader::with_capacity(256 << 10, source),
        &mut hasher,
    );
    let mut compression = [0u8; 1];
    if input
        .read(&mut compression)
        .ctx("reading", "a delta part")?
        == 0
    {
        return Err(Error::Format(
            "Reading initial compression flag byte: empty delta part".into(),
        ));
    }
    let limit = declared.saturating_mul(2).saturating_add(PAYLOAD_SLACK);
    let mut out = SpoolWriter::new(tmp, limit);
    let copied = match compression[0] {
        0 => rostree_repo::copy::copy_wide(&mut input, &mut out),
        b'x' => {
            use std::io::BufRead;
            // Peeked, not consumed: the hash sees every byte either way.
            let head = input.get_mut().fill_buf().ctx("reading", "a delta part")?;
            // The blocks' checks are skipped only where the part's sha256 stands for them.
            match (expected, lzma2_dictionary(head)) {
                (Some(_), Some(_)) => decode_lzma2_blocks(&mut input, &mut out),
                _ => {
                    let mut xz =
                        lzma_rust2::XzReader::new_mem_limit(&mut input, true, XZ_MEMORY_LIMIT_KIB);
                    rostree_repo::copy::copy_wide(&mut xz, &mut out)
                }
            }
        }
        other => return Err(Error::Compression(other)),
    };
    // Whatever follows the compressed stream (or where decoding stopped) is hashed too:
    // the checksum covers the file, and a part that is not the one named is reported as
    // such rather than by where its bytes stopped making sense.
    rostree_repo::copy::copy_wide(&mut input, &mut std::io::sink())
        .ctx("reading", "a delta part")?;
    drop(input);
    if let Some(expected) = expected {
        let actual = hasher.finish();
        if actual != *expected {
            return Err(Error::PartChecksum {
                expected: *expected,
                actual,
            });
        }
    }
    copied.map_err(|e| match e.kind() {
        std::io::ErrorKind::FileTooLarge => {
            Error::Format(format!("Delta part inflates to more than {limit} bytes"))
        }
        _ => Error::Format(format!("Decompressing delta part: {e}")),
    })?;
    Ok(out.finish())
}

/// Bytes of each xz block's check, by check type (xz's file format, 2.1.1.2).
fn check_len(check_type: u8) -> u64 {
    match check_type {
        0 => 0,
        t => 4 << ((t - 1) / 3),
    }
}

/// Reads an xz block header's LZMA2 dictionary size: `Some` when the block has LZMA2 as its
/// only filter (what upstream's encoder and rostree's write), `None` for anything else.
fn block_dictionary(header: &[u8]) -> Option<u32> {
    let (&flags, mut rest) = header.split_first()?;
    if flags & 0x3F != 0 {
        return None;
    }
    let mut varint = || -> Option<u64> {
        let (value, len) = rostree_core::varint::read_varuint64(rest)?;
        rest = &rest[len..];
        Some(value)
    };
    if flags & 0x40 != 0 {
        varint()?;
    }
    if flags & 0x80 != 0 {
        varint()?;
    }
    let (id, props_len) = (varint()?, varint()?);
    let &props = rest.first()?;
    (id == 0x21 && props_len == 1 && props <= 40).then(|| {
        if props == 40 {
            u32::MAX
        } else {
            (2 | u32::from(props & 1)) << (props / 2 + 11)
        }
    })
}

/// The first block's LZMA2 dictionary size, from the first bytes of an xz stream, when the
/// fast path of [`decode_lzma2_blocks`] can read it.
fn lzma2_dictionary(head: &[u8]) -> Option<u32> {
    const MAGIC: &[u8] = &[0xFD, b'7', b'z', b'X', b'Z', 0];
    let stream_flags = head.get(6..8)?;
    if !head.starts_with(MAGIC) || stream_flags[0] != 0 || stream_flags[1] > 0x0F {
        return None;
    }
    let header_len = (usize::from(*head.get(12)?) + 1) * 4;
    let dict = block_dictionary(head.get(13..12 + header_len)?)?;
    (dict <= XZ_MEMORY_LIMIT_KIB << 10).then_some(dict)
}

fn xz_error(reason: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, reason.to_owned())
}

/// Decodes an xz stream of LZMA2 blocks into `out` without their checks (CRC64, about a
/// tenth of decoding): the part's sha256, taken over these very bytes, vouches for them.
/// The index and footer are left for the caller to hash.
fn decode_lzma2_blocks<R: Read>(
    input: &mut HashingReader<'_, R>,
    out: &mut impl Write,
) -> std::io::Result<u64> {
    let mut stream_header = [0u8; 12];
    input.read_exact(&mut stream_header)?;
    let check = check_len(stream_header[7]);
    let mut written = 0;
    loop {
        let mut size = [0u8; 1];
        input.read_exact(&mut size)?;
        if size[0] == 0 {
            // The index: no more blocks.
            return Ok(written);
        }
        let header_len = (u64::from(size[0]) + 1) * 4;
        let mut header = vec![0u8; header_len as usize - 1];
        input.read_exact(&mut header)?;
        let dict = block_dictionary(&header)
            .filter(|d| *d <= XZ_MEMORY_LIMIT_KIB << 10)
            .ok_or_else(|| xz_error("an xz block this reader does not take"))?;
        let start = input.bytes_read();
        let mut block = lzma_rust2::Lzma2Reader::new(&mut *input, dict, None);
        written += rostree_repo::copy::copy_wide(&mut block, out)?;
        let compressed = input.bytes_read() - start;
        let padding = (4 - (header_len + compressed) % 4) % 4;
        std::io::copy(&mut input.take(padding + check), &mut std::io::sink())?;
    }
}

/// A payload's tables and operations, in memory, and where its blob lies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartTables {
    /// File modes: (uid, gid, mode).
    pub modes: Vec<(u32, u32, u32)>,
    /// Extended attribute sets.
    pub xattrs: Vec<Xattrs>,
    /// Where the blob lies in the payload.
    pub blob: Range<u64>,
    /// The operations.
    pub ops: Vec<u8>,
}

fn ty(text: &str) -> Type {
    Type::parse(text).expect("the delta formats' types are valid")
}

fn invalid(reason: impl std::fmt::Display) -> Error {
    Error::Format(format!("delta part payload: {reason}"))
}

impl PartTables {
    /// Reads a payload's tables and operations (the blob stays where it is).
    pub fn read(payload: &Spool) -> Result<PartTables> {
        let members = ["a(uuu)", "aa(ayay)", "ay", "ay"].map(ty);
        let total = payload.len();
        let io = |e: std::io::Error| invalid(e);
        let tail_len = tuple_tail_len(&members, total) as u64;
        let tail = payload.read_range(total - tail_len..total).map_err(io)?;
        let spans = tuple_spans(&members, total, &tail).map_err(invalid)?;
        let (tables, ops) = (spans[0].start..spans[1].end, spans[3].clone());
        let held = (tables.end - tables.start) + (ops.end - ops.start);
        if held > TABLES_LIMIT {
            return Err(invalid(format!(
                "its tables and operations take {held} bytes, more than {TABLES_LIMIT}"
            )));
        }
        let table_bytes = payload.read_range(tables).map_err(io)?;
        let modes_bytes = &table_bytes[..spans[0].end as usize];
        let xattr_bytes = &table_bytes[spans[1].start as usize..];
        let modes = array_children(&ty("(uuu)"), modes_bytes)
            .map_err(invalid)?
            .into_iter()
            .map(|m| {
                let be = |i: usize| u32::from_be_bytes(m[i..i + 4].try_into().expect("4 bytes"));
                (be(0), be(4), be(8))
            })
            .collect();
        let xattr_ty = ty("a(ayay)");
        let xattrs = array_children(&xattr_ty, xattr_bytes)
            .map_err(invalid)?
            .into_iter()
            .map(|x| {
                let value = Value::from_bytes_lenient(&xattr_ty, x).map_err(invalid)?;
                Xattrs::from_value("delta xattrs", &value).map_err(|e| invalid(e.detail()))
            })
            .collect::<Result<_>>()?;
        Ok(PartTables {
            modes,
            xattrs,
            blob: spans[2].clone(),
            ops: payload.read_range(ops).map_err(io)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::encode_payload;

    fn tmp_dir() -> (tempfile::TempDir, Dir) {
        let tmp = tempfile::tempdir().expect("a temp dir");
        let dir = Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority())
            .expect("the temp dir opens");
        (tmp, dir)
    }

    fn xz(data: &[u8]) -> Vec<u8> {
        let mut out = vec![b'x'];
        let mut w = lzma_rust2::XzWriter::new(&mut out, lzma_rust2::XzOptions::with_preset(1))
            .expect("an xz writer");
        w.write_all(data).expect("compressing");
        w.finish().expect("compressing");
        out
    }

    #[test]
    fn payloads_are_read_in_memory_and_from_files() {
        let (_keep, dir) = tmp_dir();
        let xattrs = vec![Xattrs(vec![(b"user.a".to_vec(), b"v".to_vec())])];
        for blob_len in [4usize, 300, 70_000, 3 << 20] {
            let blob = crate::test_bytes(blob_len, 5);
            let payload = encode_payload(&[(0, 0, 0o100644)], &xattrs, &blob, b"ops");
            for file in [xz(&payload), [&[0u8][..], &payload].concat()] {
                let checksum = Checksum::digest(&file);
                let spool = open_part(&mut &file[..], Some(&checksum), 0, Some(&dir))
                    .expect("the part opens");
                assert_eq!(
                    matches!(spool, Spool::File { .. }),
                    payload.len() as u64 > MEMORY_WINDOW
                );
                let tables = PartTables::read(&spool).expect("the payload parses");
                assert_eq!(tables.modes, vec![(0, 0, 0o100644)]);
                assert_eq!(tables.xattrs, xattrs);
                assert_eq!(tables.ops, b"ops");
                assert_eq!(spool.read_range(tables.blob).expect("readable"), blob);
            }
        }
    }

    #[test]
    fn bad_parts_are_refused() {
        let payload = encode_payload(&[], &[], &[0; 1000], b"");
        let good = xz(&payload);
        let mut corrupt = good.clone();
        corrupt[20] ^= 1;
        // Inflates to far more than the header declares.
        let bomb = xz(&vec![0; (PAYLOAD_SLACK + 1) as usize]);
        let wrong = Checksum::digest(b"other");
        let cases: Vec<(&[u8], Option<&Checksum>, &str)> = vec![
            (b"", None, "empty delta part"),
            (b"z", None, "Invalid compression type '122'"),
            (
                &good,
                Some(&wrong),
                "Checksum mismatch in static delta part",
            ),
            (&corrupt, None, "Decompressing delta part"),
            (&good[..good.len() - 10], None, "Decompressing delta part"),
            (&bomb, None, "inflates to more than"),
        ];
        for (file, expected, words) in cases {
            let err = open_part(&mut &file[..], expected, 0, None).expect_err(words);
            assert!(err.to_string().contains(words), "{words}: {err}");
        }
        // Framing offsets pointing past the end.
        let err = PartTables::read(&Spool::Memory(vec![9, 9, 9])).expect_err("out of bounds");
        assert!(err.to_string().contains("delta part payload"), "{err}");
    }

    #[test]
    fn xz_streams_decode_through_either_path() {
        let payload = crate::test_bytes(3 << 20, 9);
        let one_block = xz(&payload);
        assert!(
            lzma2_dictionary(&one_block[1..]).is_some(),
            "the fast path takes it"
        );
        // Several blocks (each with its own header, padding and check).
        let mut options = lzma_rust2::XzOptions::with_preset(1);
        options.set_block_size(std::num::NonZeroU64::new(1 << 20));
        let mut blocks = vec![b'x'];
        let mut w = lzma_rust2::XzWriter::new(&mut blocks, options).expect("an xz writer");
        w.write_all(&payload).expect("compressing");
        w.finish().expect("compressing");
        for file in [one_block, blocks] {
            for expected in [Some(Checksum::digest(&file)), None] {
                let spool =
                    open_part(&mut &file[..], expected.as_ref(), 0, None).expect("the part opens");
                assert_eq!(spool.read_range(0..spool.len()).expect("readable"), payload);
            }
        }
        // Not xz at all: left to the full reader, which refuses it.
        assert_eq!(lzma2_dictionary(b"not xz data at all"), None);
    }
}
