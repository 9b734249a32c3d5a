//! Finding the chunks a new version of a file shares with the old one, as upstream's
//! generator does before it tries bsdiff.
//!
//! Both files are cut where a rolling checksum (bup's, over a 64-byte window) has its low
//! 13 bits set, so that cuts follow content rather than offsets (chunks of about 8 KiB, at
//! most 32 KiB); chunks of the new file whose bytes equal a chunk of the old one are copied
//! from it instead of shipped.
//!
//! Chunks are looked up by a CRC-32 keyed as upstream keys them: over the first `len` bytes
//! of the file, not of the chunk (upstream hashes from the start of the buffer). A chunk is
//! then found only when both files also begin alike for its length, so the choice between
//! chunk copies and bsdiff is upstream's for the same files; the bytes are compared whole
//! either way.

use std::collections::HashMap;

const WINDOW: usize = 64;
const BLOB_BITS: u32 = 13;
const BLOB_SIZE: u32 = 1 << BLOB_BITS;
const CHAR_OFFSET: u32 = 31;
/// Chunks are cut at this size at the latest.
const CHUNK_MAX: usize = 8192 * 4;

/// The offset after the first cut point of `buf`, or 0 when there is none.
fn find_cut(buf: &[u8]) -> usize {
    let mut s1: u32 = WINDOW as u32 * CHAR_OFFSET;
    let mut s2: u32 = (WINDOW * (WINDOW - 1)) as u32 * CHAR_OFFSET;
    let mut window = [0u8; WINDOW];
    let mut at = 0usize;
    for (count, &add) in buf.iter().enumerate() {
        let drop = window[at];
        s1 = s1
            .wrapping_add(u32::from(add))
            .wrapping_sub(u32::from(drop));
        s2 = s2
            .wrapping_add(s1)
            .wrapping_sub(WINDOW as u32 * (u32::from(drop) + CHAR_OFFSET));
        window[at] = add;
        at = (at + 1) % WINDOW;
        if s2 & (BLOB_SIZE - 1) == BLOB_SIZE - 1 {
            return count + 1;
        }
    }
    0
}

/// The chunks of `buf` as (start, length), by CRC-32.
fn chunks(buf: &[u8]) -> HashMap<u32, Vec<(usize, usize)>> {
    let mut out: HashMap<u32, Vec<(usize, usize)>> = HashMap::new();
    let mut start = 0;
    let mut rolling = true;
    while start < buf.len() {
        let remaining = buf.len() - start;
        let len = if rolling {
            match find_cut(&buf[start..]) {
                0 => {
                    // No more cut points: fixed-size chunks to the end.
                    rolling = false;
                    remaining.min(CHUNK_MAX)
                }
                n => n.min(CHUNK_MAX),
            }
        } else {
            remaining.min(CHUNK_MAX)
        };
        let crc = crc32fast::hash(&buf[..len]);
        out.entry(crc).or_default().push((start, len));
        start += len;
    }
    out
}

/// A chunk of the new file found in the old one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Match {
    /// Its length.
    pub len: u64,
    /// Where it starts in the new file.
    pub to_start: u64,
    /// Where it starts in the old file.
    pub from_start: u64,
}

/// What the new file shares with the old one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Matches {
    /// The shared chunks, in the new file's order.
    pub matches: Vec<Match>,
    /// Chunks of the new file.
    pub total: u64,
    /// Chunks of the new file found in the old one.
    pub found: u64,
    /// The bytes those chunks hold.
    pub size: u64,
}

impl Matches {
    /// Whether enough is shared (half the chunks, as upstream asks) for copying chunks to
    /// beat a patch.
    pub fn worth_it(&self) -> bool {
        self.total > 0 && self.found * 100 / self.total >= 50
    }
}

/// Finds the chunks of `to` that `from` has too.
pub fn matches(from: &[u8], to: &[u8]) -> Matches {
    let from_chunks = chunks(from);
    let to_chunks = chunks(to);
    let mut out = Matches::default();
    for (crc, list) in &to_chunks {
        out.total += list.len() as u64;
        let Some(candidates) = from_chunks.get(crc) else {
            continue;
        };
        for &(to_start, len) in list {
            let same = candidates
                .iter()
                .find(|&&(f, l)| l == len && from[f..f + l] == to[to_start..to_start + len]);
            if let Some(&(from_start, _)) = same {
                out.found += 1;
                out.size += len as u64;
                out.matches.push(Match {
                    len: len as u64,
                    to_start: to_start as u64,
                    from_start: from_start as u64,
                });
            }
        }
    }
    out.matches.sort_by_key(|m| m.to_start);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_bytes as data;

    #[test]
    fn appended_bytes_leave_the_rest_shared() {
        let old = data(200_000, 1);
        let mut new = old.clone();
        new.extend_from_slice(&[0; 40]);
        let m = matches(&old, &new);
        assert!(m.worth_it(), "{} of {}", m.found, m.total);
        // Chunks tile the new file in order without overlapping.
        let mut end = 0;
        for c in &m.matches {
            assert!(c.to_start >= end);
            let (t, f, l) = (c.to_start as usize, c.from_start as usize, c.len as usize);
            assert_eq!(new[t..t + l], old[f..f + l]);
            end = c.to_start + c.len;
        }
    }

    #[test]
    fn a_prepended_header_goes_to_bsdiff_as_upstream() {
        // Upstream's keys cover the file's beginning, which the header changed.
        let old = data(200_000, 1);
        let mut new = b"aheader\n".to_vec();
        new.extend_from_slice(&old);
        assert!(!matches(&old, &new).worth_it());
    }

    #[test]
    fn unrelated_files_share_nothing() {
        let m = matches(&data(100_000, 1), &data(100_000, 2));
        assert!(!m.worth_it());
        assert!(m.matches.is_empty());
    }

    #[test]
    fn chunks_cover_the_file_and_stay_small() {
        let buf = data(300_000, 3);
        let mut all: Vec<(usize, usize)> = chunks(&buf).into_values().flatten().collect();
        all.sort();
        let mut at = 0;
        for (start, len) in all {
            assert_eq!(start, at);
            assert!(len <= CHUNK_MAX && len > 0);
            at += len;
        }
        assert_eq!(at, buf.len());
    }
}
