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

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

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
