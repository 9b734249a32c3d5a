//! Raw deflate for archive objects, with one compressor and buffer per thread.
//!
//! The compression level is in no checksum, so rostree is free to choose how it compresses,
//! as long as any inflater (upstream's zlib included) reads the result and the repository
//! stays the size upstream's would be. Measured on Debian minbase (5,329 files, 203 MB,
//! bench/README.md), against zlib at upstream's default level 6 (6.5 s on one core):
//!
//! | compressor | size vs zlib 6 | one core |
//! |---|---:|---:|
//! | libdeflate 4 | 1.004 | 1.9 s |
//! | libdeflate 5 | 0.993 | 2.1 s |
//! | libdeflate 6 | 0.990 | 2.4 s |
//! | zlib-rs 6 | 1.009 | 3.5 s |
//!
//! and on the five files over 4 MiB of the larger tree (99 MB, zlib 6: 2.7 s):
//!
//! | compressor | size vs zlib 6 | one core |
//! |---|---:|---:|
//! | zlib-rs 4 | 1.024 | 1.0 s |
//! | zlib-rs 5 | 1.007 | 1.1 s |
//! | zlib-rs 6 | 1.003 | 1.3 s |
//!
//! Objects up to a few MiB are compressed whole from memory by libdeflate, at
//! [`libdeflate_level`] of the configured zlib level: two below it, which keeps the size
//! within half a percent of zlib's at the same setting for a fraction of the time. Larger
//! payloads stream: libdeflate cannot join pieces into one stream, so zlib-rs compresses them
//! in 1 MiB chunks on every core ([`compress_stream`]), one level below the configured one
//! (within 1% of zlib's size).

use std::cell::RefCell;
use std::io::{Read, Write};

use rayon::prelude::*;

use libdeflater::{CompressionLvl, Compressor};

struct State {
    level: u32,
    compressor: Compressor,
    out: Vec<u8>,
}

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
}

/// The libdeflate level that stands for zlib's `level` (`core.zlib-level`, upstream's
/// default 6): two below it, not under 1.
pub fn libdeflate_level(level: u32) -> i32 {
    i32::try_from(level.saturating_sub(2).max(1)).unwrap_or(1)
}

/// Compresses `payload` as raw deflate behind `prefix`, and hands the whole result to `f`.
/// `level` is zlib's (see [`libdeflate_level`]).
pub fn with_compressed<T>(
    level: u32,
    prefix: &[u8],
    payload: &[u8],
    f: impl FnOnce(&[u8]) -> std::io::Result<T>,
) -> std::io::Result<T> {
    STATE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let state = match slot.as_mut() {
            Some(s) if s.level == level => s,
            _ => {
                let lvl = CompressionLvl::new(libdeflate_level(level)).unwrap_or_default();
                slot.insert(State {
                    level,
                    compressor: Compressor::new(lvl),
                    out: Vec::new(),
                })
            }
        };
        let bound = state.compressor.deflate_compress_bound(payload.len());
        state.out.clear();
        state.out.resize(prefix.len() + bound, 0);
        state.out[..prefix.len()].copy_from_slice(prefix);
        let n = state
            .compressor
            .deflate_compress(payload, &mut state.out[prefix.len()..])
            .map_err(|e| std::io::Error::other(format!("deflate: {e:?}")))?;
        let result = f(&state.out[..prefix.len() + n]);
        if state.out.capacity() > 4 * CHUNK {
            // One large file must not pin its size in memory for the rest of the run.
            state.out = Vec::new();
        }
        result
    })
}

/// DEFLATE cannot expand data by more than this factor, which bounds what a header may claim.
const MAX_RATIO: u64 = 1032;

/// Refuses a `size` that `compressed` bytes of DEFLATE cannot expand to.
pub fn check_ratio(compressed: u64, size: u64) -> std::io::Result<()> {
    if size > (compressed + 1).saturating_mul(MAX_RATIO) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("header claims {size} bytes from {compressed} compressed bytes"),
        ));
    }
    Ok(())
}

/// Inflates raw DEFLATE data that must come to exactly `size` bytes.
pub fn inflate_exact(compressed: &[u8], size: u64) -> std::io::Result<Vec<u8>> {
    let invalid = |msg: String| std::io::Error::new(std::io::ErrorKind::InvalidData, msg);
    check_ratio(compressed.len() as u64, size)?;
    let len = usize::try_from(size).map_err(|_| invalid(format!("size {size} too large")))?;
    let mut out = vec![0u8; len];
    let n = libdeflater::Decompressor::new()
        .deflate_decompress(compressed, &mut out)
        .map_err(|e| match e {
            libdeflater::DecompressionError::BadData => invalid(bad_data_reason(compressed)),
            other => invalid(format!("{other:?}")),
        })?;
    if n != len {
        return Err(invalid(format!(
            "header says {size} bytes, payload has {n}"
        )));
    }
    Ok(out)
}

/// Why data libdeflate refused is bad, in GLib's words (what upstream reports): a stream
/// that stops before its last block "Need more input", anything else "Invalid compressed
/// data". Only run on data already refused, so its cost does not matter.
fn bad_data_reason(compressed: &[u8]) -> String {
    let mut inflater = flate2::Decompress::new(false);
    let mut sink = vec![0u8; 64 << 10];
    loop {
        let consumed = inflater.total_in() as usize;
        let before = (inflater.total_in(), inflater.total_out());
        match inflater.decompress(
            &compressed[consumed..],
            &mut sink,
            flate2::FlushDecompress::None,
        ) {
            Err(_) => return "Invalid compressed data".into(),
            Ok(flate2::Status::StreamEnd) => return "Invalid compressed data".into(),
            Ok(_) if (inflater.total_in(), inflater.total_out()) == before => {
                return "Need more input".into();
            }
            Ok(_) => {}
        }
    }
}

/// The length zlib's raw deflate at `level` gives the payload `payload` reads: what
/// upstream records as an object's archived size in `ostree.sizes`, so it is computed with
/// the same library, in one stream.
pub fn zlib_compressed_len(level: u32, payload: &mut impl Read) -> std::io::Result<u64> {
    let mut enc = flate2::write::DeflateEncoder::new(Counter(0), flate2::Compression::new(level));
    crate::copy::copy_wide(payload, &mut enc)?;
    Ok(enc.finish()?.0)
}

/// A reader passing `inner` through that counts, when asked to, what zlib's raw deflate at
/// a level makes of it: an archived size for `ostree.sizes` from the one pass that stores.
pub struct DeflatedLen<R> {
    inner: R,
    read: u64,
    encoder: Option<flate2::write::DeflateEncoder<Counter>>,
}

impl<R: Read> DeflatedLen<R> {
    /// Passes `inner` through, counting at `level` if it is given.
    pub fn new(inner: R, level: Option<u32>) -> Self {
        DeflatedLen {
            inner,
            read: 0,
            encoder: level.map(|level| {
                flate2::write::DeflateEncoder::new(Counter(0), flate2::Compression::new(level))
            }),
        }
    }

    /// How many bytes were read, and their deflated length (0 when not counting).
    pub fn finish(self) -> std::io::Result<(u64, u64)> {
        match self.encoder {
            Some(encoder) => Ok((self.read, encoder.finish()?.0)),
            None => Ok((self.read, 0)),
        }
    }
}

impl<R: Read> Read for DeflatedLen<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if let Some(encoder) = &mut self.encoder {
            encoder.write_all(&buf[..n])?;
        }
        Ok(n)
    }
}

/// A writer that only counts.
struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How much of a stream one compressing thread takes at a time.
const CHUNK: usize = 1 << 20;
/// What DEFLATE may refer back to: each chunk is primed with this much of the one before.
const WINDOW: usize = 32 << 10;

/// Compresses what `payload` reads as one raw DEFLATE stream into `out`, on every thread of
/// the pool (as pigz does: each 1 MiB chunk is compressed apart by zlib-rs one below zlib's
/// `level`, primed with the 32 KiB before it, and ends byte-aligned with a sync flush, so
/// the pieces join into an ordinary stream). Memory stays at two chunks per thread whatever
/// the size. Returns how many bytes were read.
pub fn compress_stream(
    level: u32,
    payload: &mut dyn Read,
    out: &mut dyn Write,
) -> std::io::Result<u64> {
    let batch = rayon::current_num_threads().clamp(1, 8);
    let mut total = 0u64;
    let mut tail: Vec<u8> = Vec::new();
    loop {
        let mut chunks: Vec<Vec<u8>> = Vec::with_capacity(batch);
        let mut last = false;
        while chunks.len() < batch && !last {
            let mut chunk = vec![0u8; CHUNK];
            let n = read_full(payload, &mut chunk)?;
            chunk.truncate(n);
            // A short read is the end; a full one may be too, which only the next tells.
            last = n < CHUNK;
            if n > 0 || chunks.is_empty() {
                chunks.push(chunk);
            }
        }
        let compressed: Vec<std::io::Result<Vec<u8>>> = chunks
            .par_iter()
            .enumerate()
            .map(|(i, chunk)| {
                let dictionary = match i {
                    0 => &tail[..],
                    _ => window_of(&chunks[i - 1]),
                };
                compress_chunk(level, dictionary, chunk, last && i + 1 == chunks.len())
            })
            .collect();
        for piece in compressed {
            out.write_all(&piece?)?;
        }
        total += chunks.iter().map(|c| c.len() as u64).sum::<u64>();
        if last {
            return Ok(total);
        }
        if let Some(end) = chunks.last() {
            tail = window_of(end).to_vec();
        }
    }
}

fn window_of(chunk: &[u8]) -> &[u8] {
    &chunk[chunk.len().saturating_sub(WINDOW)..]
}

/// Reads until `buf` is full or the stream ends; how much was read.
fn read_full(reader: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// One chunk as raw DEFLATE: sync-flushed (byte-aligned, not final) unless it is the last.
fn compress_chunk(
    level: u32,
    dictionary: &[u8],
    chunk: &[u8],
    last: bool,
) -> std::io::Result<Vec<u8>> {
    let failed = |e: zlib_rs::DeflateError| std::io::Error::other(format!("deflate: {e:?}"));
    let level = i32::try_from(level.saturating_sub(1).max(1)).unwrap_or(5);
    let mut state = zlib_rs::Deflate::new(level, false, 15);
    if !dictionary.is_empty() {
        state.set_dictionary(dictionary).map_err(failed)?;
    }
    let flush = match last {
        true => zlib_rs::DeflateFlush::Finish,
        false => zlib_rs::DeflateFlush::SyncFlush,
    };
    // Room for the whole chunk at once (a sync flush adds a few bytes to the bound).
    let mut out = vec![0u8; zlib_rs::compress_bound(chunk.len()) + 64];
    loop {
        let (read, written) = (state.total_in() as usize, state.total_out() as usize);
        if written == out.len() {
            out.resize(out.len() * 2, 0);
        }
        let status = state
            .compress(&chunk[read..], &mut out[written..], flush)
            .map_err(failed)?;
        let done = state.total_in() as usize == chunk.len();
        let room_left = (state.total_out() as usize) < out.len();
        match status {
            zlib_rs::Status::StreamEnd => break,
            // A flush is complete once the compressor stops short of the room it had.
            _ if !last && done && room_left => break,
            _ => {}
        }
    }
    out.truncate(state.total_out() as usize);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_data_is_named_as_glib_names_it() {
        // Text with some repetition, as files have: several deflate blocks' worth.
        let payload: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("line {} of {}\n", i % 977, i / 13).into_bytes())
            .collect();
        let compressed = with_compressed(6, b"", &payload, |d| Ok(d.to_vec())).expect("compress");
        let size = payload.len() as u64;
        let truncated = &compressed[..compressed.len() / 2];
        let err = inflate_exact(truncated, size).expect_err("truncated");
        assert_eq!(err.to_string(), "Need more input");
        let mut garbage = compressed.clone();
        garbage[0] = 0xff;
        let err = inflate_exact(&garbage, size).expect_err("garbage");
        assert_eq!(err.to_string(), "Invalid compressed data");
    }

    #[test]
    fn inflate_refuses_impossible_sizes() {
        let data = with_compressed(6, b"", b"hello", |d| Ok(d.to_vec())).expect("compress");
        assert_eq!(inflate_exact(&data, 5).expect("inflate"), b"hello");
        assert!(inflate_exact(&data, 4).is_err());
        assert!(inflate_exact(&data, 6).is_err());
        assert!(inflate_exact(&data, u64::MAX).is_err());
        assert!(inflate_exact(b"\xff\xff", 3).is_err());
    }

    #[test]
    fn parallel_chunks_join_into_one_stream() {
        let text: Vec<u8> = (0..400_000u32)
            .flat_map(|i| format!("entry {} value {}\n", i % 1013, i / 7).into_bytes())
            .collect();
        for payload in [&b""[..], b"x", &text[..CHUNK], &text[..]] {
            let mut out = Vec::new();
            let read = compress_stream(6, &mut &payload[..], &mut out).expect("compress");
            assert_eq!(read, payload.len() as u64);
            let mut back = Vec::new();
            flate2::read::DeflateDecoder::new(&out[..])
                .read_to_end(&mut back)
                .expect("inflate");
            assert_eq!(back, payload);
            assert_eq!(
                inflate_exact(&out, payload.len() as u64).expect("libdeflate reads it too"),
                payload
            );
            // Priming keeps the ratio close to one stream's by the same compressor.
            let single = compress_chunk(6, b"", payload, true)
                .expect("one stream")
                .len();
            assert!(
                out.len() <= single + single / 100 + 16,
                "{} vs {single}",
                out.len()
            );
        }
    }

    #[test]
    fn round_trips_through_zlib() {
        for payload in [&b""[..], b"hello", &vec![7u8; 300_000][..]] {
            let out = with_compressed(6, b"HDR", payload, |d| Ok(d.to_vec())).expect("compress");
            assert_eq!(&out[..3], b"HDR");
            let mut back = Vec::new();
            flate2::read::DeflateDecoder::new(&out[3..])
                .read_to_end(&mut back)
                .expect("inflate");
            assert_eq!(back, payload);
        }
    }
}
