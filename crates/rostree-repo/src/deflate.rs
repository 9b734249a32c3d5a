//! Raw deflate for archive objects, with one compressor and buffer per thread.
//!
//! Archive objects are compressed whole from memory, so a whole-buffer compressor
//! (libdeflate) does the job faster than a streaming zlib at the same level, and its output is
//! ordinary raw DEFLATE that any inflater, upstream's zlib included, reads.

use std::cell::RefCell;

use libdeflater::{CompressionLvl, Compressor};

struct State {
    level: u32,
    compressor: Compressor,
    out: Vec<u8>,
}

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
}

/// Compresses `payload` as raw deflate behind `prefix`, and hands the whole result to `f`.
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
                let lvl =
                    CompressionLvl::new(i32::try_from(level).unwrap_or(6)).unwrap_or_default();
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
        f(&state.out[..prefix.len() + n])
    })
}

/// DEFLATE cannot expand data by more than this factor, which bounds what a header may claim.
const MAX_RATIO: u64 = 1032;

/// Inflates raw DEFLATE data that must come to exactly `size` bytes.
pub fn inflate_exact(compressed: &[u8], size: u64) -> std::io::Result<Vec<u8>> {
    let invalid = |msg: String| std::io::Error::new(std::io::ErrorKind::InvalidData, msg);
    if size > (compressed.len() as u64 + 1).saturating_mul(MAX_RATIO) {
        return Err(invalid(format!(
            "header claims {size} bytes from {} compressed bytes",
            compressed.len()
        )));
    }
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

/// The length zlib's raw deflate at `level` gives `payload`: what upstream records as an
/// object's archived size in `ostree.sizes`, so it is computed with the same library.
pub fn zlib_compressed_len(level: u32, payload: &[u8]) -> u64 {
    use std::io::Write;
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(level));
    match enc.write_all(payload).and_then(|()| enc.finish()) {
        Ok(v) => v.len() as u64,
        Err(_) => payload.len() as u64,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

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
