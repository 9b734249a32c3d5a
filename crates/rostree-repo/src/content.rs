//! Content objects as streams: a stored file's payload is read through [`Payload`], which
//! inflates archive objects as it is read, so no operation needs a whole file in memory.
//!
//! ```text
//! archive  objects/XX/….filez = u32 header length (BE) · 4 bytes padding
//!                               · (tuuuusa(ayay)) header, size first · raw DEFLATE payload
//! bare     objects/XX/….file  = the payload itself (metadata in inode and xattrs)
//! ```
//!
//! Small archive objects are still inflated in one call (libdeflate is faster than a
//! streaming zlib there); past [`INFLATE_AT_ONCE`] bytes they stream.

use std::io::{BufRead, Cursor, Read};

use cap_std::fs::File;
use rostree_core::Hasher;
use rostree_core::object::{ArchiveHeader, parse_archive_header};

/// Archive payloads up to this size are inflated whole; larger ones stream.
pub const INFLATE_AT_ONCE: u64 = 1 << 20;

/// The most an archive header may claim to take (headers hold a few xattrs, not megabytes).
const MAX_HEADER: usize = 1 << 24;

/// The payload of a content object being read.
pub enum Payload {
    /// A symlink: nothing to read.
    None,
    /// Bytes already in memory (small archive objects, inflated at once).
    Bytes(Cursor<Vec<u8>>),
    /// An open bare object, positioned at the payload start.
    File(File),
    /// An archive object inflated as it is read.
    Inflating(Box<Inflater<Box<dyn BufRead + Send>>>),
}

impl Payload {
    /// The payload's size in bytes (what is left to read of a fresh payload).
    pub fn size(&self) -> std::io::Result<u64> {
        Ok(match self {
            Payload::None => 0,
            Payload::Bytes(b) => b.get_ref().len() as u64,
            Payload::File(f) => f.metadata()?.len(),
            Payload::Inflating(i) => i.size(),
        })
    }

    /// Reads the whole payload into memory: for callers that need it whole (bsdiff, say).
    pub fn into_bytes(self) -> std::io::Result<Vec<u8>> {
        match self {
            Payload::None => Ok(Vec::new()),
            Payload::Bytes(b) => Ok(b.into_inner()),
            mut other => {
                let mut out = Vec::new();
                other.read_to_end(&mut out)?;
                Ok(out)
            }
        }
    }
}

impl Read for Payload {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Payload::None => Ok(0),
            Payload::Bytes(b) => b.read(buf),
            Payload::File(f) => f.read(buf),
            Payload::Inflating(i) => i.read(buf),
        }
    }
}

fn invalid(message: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message.into())
}

/// Reads raw DEFLATE from `inner` and gives exactly `size` bytes: a stream that ends early,
/// runs on, or is not DEFLATE is an [`std::io::ErrorKind::InvalidData`] error, worded as
/// GLib words it (what upstream reports).
pub struct Inflater<R> {
    inner: R,
    state: zlib_rs::Inflate,
    size: u64,
    produced: u64,
    ended: bool,
}

impl<R: BufRead> Inflater<R> {
    /// Inflates `inner`, which must come to `size` bytes.
    pub fn new(inner: R, size: u64) -> Self {
        Inflater {
            inner,
            // Raw DEFLATE, 32 KiB window. zlib-rs inflates about twice as fast as the
            // system's zlib; what comes out is the same.
            state: zlib_rs::Inflate::new(false, 15),
            size,
            produced: 0,
            ended: false,
        }
    }

    /// The size the payload must have.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// One step of inflating into `out`: how many bytes came out.
    fn step(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let input = self.inner.fill_buf()?;
        let at_eof = input.is_empty();
        let (in_before, out_before) = (self.state.total_in(), self.state.total_out());
        let status = self
            .state
            .decompress(input, out, zlib_rs::InflateFlush::NoFlush)
            .map_err(|_| invalid("Invalid compressed data"))?;
        let consumed = (self.state.total_in() - in_before) as usize;
        let produced = (self.state.total_out() - out_before) as usize;
        self.inner.consume(consumed);
        self.produced += produced as u64;
        if self.produced > self.size {
            return Err(invalid(format!(
                "header says {} bytes, payload has more",
                self.size
            )));
        }
        match status {
            zlib_rs::Status::StreamEnd => {
                self.ended = true;
                if self.produced != self.size {
                    return Err(invalid(format!(
                        "header says {} bytes, payload has {}",
                        self.size, self.produced
                    )));
                }
            }
            _ if consumed == 0 && produced == 0 && (at_eof || !out.is_empty()) => {
                return Err(invalid("Need more input"));
            }
            _ => {}
        }
        Ok(produced)
    }
}

impl<R: BufRead> Read for Inflater<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.ended || buf.is_empty() {
                return Ok(0);
            }
            let wanted = (self.size - self.produced).min(buf.len() as u64) as usize;
            if wanted == 0 {
                // All there: the stream must end now, with no byte more.
                let mut probe = [0u8; 1];
                self.step(&mut probe)?;
                continue;
            }
            let n = self.step(&mut buf[..wanted])?;
            if n > 0 {
                return Ok(n);
            }
        }
    }
}

/// Inflates a whole archive payload held in memory, which must come to `size` bytes, in one
/// call (for payloads up to [`INFLATE_AT_ONCE`]); errors in GLib's words.
pub fn inflate_whole(compressed: &[u8], size: u64) -> std::io::Result<Vec<u8>> {
    crate::deflate::inflate_exact(compressed, size)
}

/// Reads an archive object's header from the start of `reader`, leaving it at the
/// compressed payload.
pub fn read_archive_header(reader: &mut impl Read) -> std::io::Result<ArchiveHeader> {
    let mut head = vec![0u8; 8];
    reader.read_exact(&mut head)?;
    let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
    if len > MAX_HEADER {
        return Err(invalid("header too large"));
    }
    head.resize(8 + len, 0);
    reader.read_exact(&mut head[8..])?;
    let (archive, _) = parse_archive_header(&head).map_err(|e| invalid(e.to_string()))?;
    Ok(archive)
}

/// Opens an archive object held in `reader` (a `.filez` file or a fetched body): its header,
/// and its payload inflated as it is read.
pub fn open_archive<R: BufRead>(mut reader: R) -> std::io::Result<(ArchiveHeader, Inflater<R>)> {
    let archive = read_archive_header(&mut reader)?;
    let size = if archive.header.is_symlink() {
        0
    } else {
        archive.size
    };
    Ok((archive, Inflater::new(reader, size)))
}

/// A reader that hashes what passes through it.
pub struct HashingReader<'h, R> {
    inner: R,
    hasher: &'h mut Hasher,
    read: u64,
}

impl<'h, R: Read> HashingReader<'h, R> {
    /// Hashes into `hasher` what is read from `inner`.
    pub fn new(inner: R, hasher: &'h mut Hasher) -> Self {
        HashingReader {
            inner,
            hasher,
            read: 0,
        }
    }

    /// How many bytes passed.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    /// The reader inside.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The reader inside, mutably.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }
}

impl<R: Read> Read for HashingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

/// The content checksum of `header` and a payload read from `payload` to its end.
pub fn checksum_stream(
    header: &rostree_core::object::FileHeader,
    payload: &mut impl Read,
) -> std::io::Result<rostree_core::Checksum> {
    let mut hasher = Hasher::new();
    hasher.update(&header.stream_header());
    crate::copy::copy_wide(payload, &mut hasher)?;
    Ok(hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deflate(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut enc =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).expect("in memory");
        enc.finish().expect("in memory")
    }

    fn inflate(compressed: &[u8], size: u64, chunk: usize) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut inflater = Inflater::new(std::io::BufReader::with_capacity(7, compressed), size);
        let mut buf = vec![0u8; chunk];
        loop {
            let n = inflater.read(&mut buf)?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    #[test]
    fn inflates_exactly_the_size_it_is_told() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let compressed = deflate(&data);
        let size = data.len() as u64;
        for chunk in [1, 13, 4096, 1 << 20] {
            assert_eq!(inflate(&compressed, size, chunk).expect("valid"), data);
        }
        let short = inflate(&compressed, size + 1, 4096).expect_err("claims more");
        assert_eq!(
            short.to_string(),
            format!("header says {} bytes, payload has {size}", size + 1)
        );
        let long = inflate(&compressed, size - 1, 4096).expect_err("claims less");
        assert!(long.to_string().contains("payload has more"), "{long}");
        let truncated =
            inflate(&compressed[..compressed.len() / 2], size, 4096).expect_err("truncated stream");
        assert_eq!(truncated.to_string(), "Need more input");
        let mut garbage = compressed.clone();
        garbage[0] = 0xff;
        let bad = inflate(&garbage, size, 4096).expect_err("not deflate");
        assert_eq!(bad.to_string(), "Invalid compressed data");
        assert_eq!(inflate(&deflate(b""), 0, 16).expect("empty"), b"");
    }

    #[test]
    fn archive_objects_open_as_streams() {
        let header = rostree_core::object::FileHeader {
            uid: 0,
            gid: 0,
            mode: 0o100644,
            rdev: 0,
            symlink_target: String::new(),
            xattrs: Default::default(),
        };
        let payload = b"hello, streaming world\n".repeat(1000);
        let mut object = header.archive_header(payload.len() as u64);
        object.extend(deflate(&payload));
        let (archive, mut reader) = open_archive(&object[..]).expect("valid object");
        assert_eq!(archive.size, payload.len() as u64);
        let checksum = checksum_stream(&archive.header, &mut reader).expect("valid payload");
        assert_eq!(
            checksum,
            rostree_core::object::content_checksum(&header, &payload)
        );
    }
}
