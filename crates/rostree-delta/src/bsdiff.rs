//! bsdiff patches in the stream form upstream's parts carry (Matthew Endsley's: no header,
//! blocks of a 24-byte control, then diff bytes, then extra bytes), made over a suffix
//! array built by divsufsort, which is many times faster on large files than the
//! Larsson–Sadakane sort of the original.
//!
//! Each control holds three 8-byte sign-magnitude little-endian numbers: bytes to add to
//! the old file (the diff bytes follow), bytes to copy as they are (the extra bytes follow),
//! and how far to move in the old file afterwards.
//!
//! [`Patcher`] applies a patch as its output is read, with the old file and the patch read
//! where they are needed: memory stays at one buffer whatever the files' sizes (upstream
//! holds the old file, the patch and the whole new file).

use std::io::Read;

/// The length of the common prefix of two slices.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// The longest match of a prefix of `target` among the suffixes of `old` (`sa` sorted),
/// as (position in `old`, length).
fn longest_match(sa: &[i32], old: &[u8], target: &[u8]) -> (usize, usize) {
    if sa.is_empty() {
        return (0, 0);
    }
    let at = |i: usize| sa[i] as usize;
    let (mut lo, mut hi) = (0usize, sa.len() - 1);
    while hi - lo >= 2 {
        let mid = lo + (hi - lo) / 2;
        let suffix = &old[at(mid)..];
        let n = suffix.len().min(target.len());
        if suffix[..n] < target[..n] {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let low = common_prefix(&old[at(lo)..], target);
    let high = common_prefix(&old[at(hi)..], target);
    if low > high {
        (at(lo), low)
    } else {
        (at(hi), high)
    }
}

fn put_number(out: &mut Vec<u8>, value: i64) {
    let magnitude = value.unsigned_abs();
    let sign = if value < 0 { 1u64 << 63 } else { 0 };
    out.extend_from_slice(&(magnitude | sign).to_le_bytes());
}

/// A patch that turns `old` into `new`. Files over 2 GiB are refused (the suffix array
/// holds 32-bit positions).
pub fn diff(old: &[u8], new: &[u8]) -> Result<Vec<u8>, String> {
    if old.len() >= i32::MAX as usize || new.len() >= i32::MAX as usize {
        return Err("bsdiff: files of 2 GiB or more are not diffed".into());
    }
    let mut sa = vec![0i32; old.len()];
    if !old.is_empty() {
        divsufsort::sort_in_place(old, &mut sa);
    }
    let mut out = Vec::new();
    let old_at =
        |i: isize| -> Option<u8> { usize::try_from(i).ok().and_then(|i| old.get(i).copied()) };
    let (mut scan, mut len, mut pos) = (0usize, 0usize, 0usize);
    let (mut last_scan, mut last_pos, mut last_offset) = (0usize, 0usize, 0isize);
    while scan < new.len() {
        // Find the next place where a match beats what the current offset gives by more
        // than 8 bytes (or is as good and nonempty).
        let mut old_score = 0usize;
        scan += len;
        let mut scored = scan;
        while scan < new.len() {
            (pos, len) = longest_match(&sa, old, &new[scan..]);
            while scored < scan + len {
                if old_at(scored as isize + last_offset) == Some(new[scored]) {
                    old_score += 1;
                }
                scored += 1;
            }
            if (len == old_score && len != 0) || len > old_score + 8 {
                break;
            }
            if old_at(scan as isize + last_offset) == Some(new[scan]) {
                old_score = old_score.saturating_sub(1);
            }
            scan += 1;
        }
        if len == old_score && scan != new.len() {
            continue;
        }
        // How far the previous match extends forwards, and this one backwards, while more
        // than half their bytes agree.
        let mut forward = 0usize;
        {
            let (mut same, mut best) = (0isize, 0isize);
            let mut i = 0usize;
            while last_scan + i < scan && last_pos + i < old.len() {
                if old[last_pos + i] == new[last_scan + i] {
                    same += 1;
                }
                i += 1;
                if same * 2 - i as isize > best * 2 - forward as isize {
                    best = same;
                    forward = i;
                }
            }
        }
        let mut backward = 0usize;
        if scan < new.len() {
            let (mut same, mut best) = (0isize, 0isize);
            let mut i = 1usize;
            while scan >= last_scan + i && pos >= i {
                if old[pos - i] == new[scan - i] {
                    same += 1;
                }
                if same * 2 - i as isize > best * 2 - backward as isize {
                    best = same;
                    backward = i;
                }
                i += 1;
            }
        }
        // Where the two overlap, split them where the fewest bytes differ.
        if last_scan + forward > scan - backward {
            let overlap = last_scan + forward - (scan - backward);
            let (mut score, mut best, mut split) = (0isize, 0isize, 0usize);
            for i in 0..overlap {
                if new[last_scan + forward - overlap + i] == old[last_pos + forward - overlap + i] {
                    score += 1;
                }
                if new[scan - backward + i] == old[pos - backward + i] {
                    score -= 1;
                }
                if score > best {
                    best = score;
                    split = i + 1;
                }
            }
            forward = forward + split - overlap;
            backward -= split;
        }
        let extra_start = last_scan + forward;
        let extra_len = scan - backward - extra_start;
        put_number(&mut out, forward as i64);
        put_number(&mut out, extra_len as i64);
        put_number(
            &mut out,
            (pos as i64 - backward as i64) - (last_pos + forward) as i64,
        );
        out.extend(
            new[last_scan..last_scan + forward]
                .iter()
                .zip(&old[last_pos..last_pos + forward])
                .map(|(n, o)| n.wrapping_sub(*o)),
        );
        out.extend_from_slice(&new[extra_start..extra_start + extra_len]);
        last_scan = scan - backward;
        last_pos = pos - backward;
        last_offset = pos as isize - scan as isize;
    }
    Ok(out)
}

/// Bytes read by position: a patch's old file and the part holding the patch.
pub trait ReadAt {
    /// Reads into `buf` from `offset`; fewer bytes (or none) only at the end.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize>;

    /// Fills `buf` from `offset`; an error if the data ends first.
    fn read_exact_at(&self, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
        while !buf.is_empty() {
            let n = self.read_at(buf, offset)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            buf = &mut buf[n..];
            offset += n as u64;
        }
        Ok(())
    }
}

impl<T: ReadAt + ?Sized> ReadAt for &T {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        (**self).read_at(buf, offset)
    }
}

impl ReadAt for [u8] {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.len());
        let n = buf.len().min(self.len() - start);
        buf[..n].copy_from_slice(&self[start..start + n]);
        Ok(n)
    }
}

impl ReadAt for std::fs::File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(self, buf, offset)
    }
}

/// The most bytes one read of a [`Patcher`] produces (its scratch buffer's size).
const PATCH_STEP: usize = 256 << 10;

/// A patch applied as it is read: the old file's bytes are read where the controls point,
/// the patch's in order from `patch[start..end]`.
pub struct Patcher<O, P> {
    old: O,
    old_len: u64,
    patch: P,
    patch_pos: u64,
    patch_end: u64,
    old_pos: i64,
    diff_left: u64,
    extra_left: u64,
    seek: i64,
    scratch: Vec<u8>,
}

fn corrupt(reason: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("Corrupt bsdiff patch: {reason}"),
    )
}

impl<O: ReadAt, P: ReadAt> Patcher<O, P> {
    /// A patch at `patch[range]` of `old`, which is `old_len` bytes long.
    pub fn new(old: O, old_len: u64, patch: P, range: std::ops::Range<u64>) -> Self {
        Patcher {
            old,
            old_len,
            patch,
            patch_pos: range.start,
            patch_end: range.end,
            old_pos: 0,
            diff_left: 0,
            extra_left: 0,
            seek: 0,
            scratch: Vec::new(),
        }
    }

    fn patch_bytes(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
        if buf.len() as u64 > self.patch_end - self.patch_pos {
            return Err(corrupt("it ends inside a block"));
        }
        self.patch.read_exact_at(buf, self.patch_pos)?;
        self.patch_pos += buf.len() as u64;
        Ok(())
    }

    /// Adds the old file's bytes from the current position to `buf`, where it has them.
    fn add_old(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
        let start = self.old_pos.clamp(0, self.old_len as i64) as u64;
        let end = self
            .old_pos
            .saturating_add(buf.len() as i64)
            .clamp(0, self.old_len as i64) as u64;
        if start < end {
            let at = (start as i64 - self.old_pos) as usize;
            let n = (end - start) as usize;
            self.scratch.resize(n, 0);
            self.old.read_exact_at(&mut self.scratch, start)?;
            for (b, o) in buf[at..at + n].iter_mut().zip(&self.scratch) {
                *b = b.wrapping_add(*o);
            }
        }
        self.old_pos = self.old_pos.saturating_add(buf.len() as i64);
        Ok(())
    }

    fn next_control(&mut self) -> std::io::Result<bool> {
        if self.patch_pos == self.patch_end {
            return Ok(false);
        }
        let mut control = [0u8; 24];
        self.patch_bytes(&mut control)?;
        let number = |i: usize| -> i64 {
            let raw = u64::from_le_bytes(control[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
            let magnitude = (raw & !(1 << 63)) as i64;
            if raw >> 63 == 1 {
                -magnitude
            } else {
                magnitude
            }
        };
        let (diff, extra, seek) = (number(0), number(1), number(2));
        if diff < 0 || extra < 0 {
            return Err(corrupt("a negative length"));
        }
        self.old_pos = self
            .old_pos
            .checked_add(self.seek)
            .ok_or_else(|| corrupt("a seek out of range"))?;
        (self.diff_left, self.extra_left, self.seek) = (diff as u64, extra as u64, seek);
        Ok(true)
    }
}

impl<O: ReadAt, P: ReadAt> Read for Patcher<O, P> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let step = buf.len().min(PATCH_STEP);
        loop {
            if self.diff_left > 0 {
                let n = step.min(usize::try_from(self.diff_left).unwrap_or(usize::MAX));
                self.patch_bytes(&mut buf[..n])?;
                self.add_old(&mut buf[..n])?;
                self.diff_left -= n as u64;
                return Ok(n);
            }
            if self.extra_left > 0 {
                let n = step.min(usize::try_from(self.extra_left).unwrap_or(usize::MAX));
                self.patch_bytes(&mut buf[..n])?;
                self.extra_left -= n as u64;
                return Ok(n);
            }
            if step == 0 || !self.next_control()? {
                return Ok(0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_bytes as data;

    fn apply(old: &[u8], patch: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        Patcher::new(old, old.len() as u64, patch, 0..patch.len() as u64)
            .read_to_end(&mut out)
            .expect("the patch applies");
        out
    }

    #[test]
    fn patches_rebuild_the_new_file() {
        let base = data(100_000, 7);
        let mut edited = base.clone();
        edited.splice(500..500, b"inserted bytes".iter().copied());
        edited[40_000] ^= 0xff;
        edited.truncate(90_000);
        edited.extend_from_slice(&data(3000, 9));
        let cases: Vec<(Vec<u8>, Vec<u8>)> = vec![
            (base.clone(), edited),
            (Vec::new(), b"all new".to_vec()),
            (base.clone(), Vec::new()),
            (base.clone(), base.clone()),
            (b"abc".to_vec(), b"abd".to_vec()),
            (data(5000, 1), data(5000, 2)),
        ];
        for (old, new) in cases {
            let patch = diff(&old, &new).expect("diff");
            assert_eq!(apply(&old, &patch), new);
        }
    }

    #[test]
    fn small_edits_make_patches_of_zeros() {
        // The diff bytes of matched regions are zero where nothing changed, which is what
        // the part compression then squeezes away.
        let old = data(200_000, 3);
        let mut new = old.clone();
        new[1000] ^= 1;
        new.extend_from_slice(&[0; 40]);
        let patch = diff(&old, &new).expect("diff");
        let nonzero = patch.iter().filter(|&&b| b != 0).count();
        assert!(nonzero < 100, "{nonzero} nonzero bytes");
    }

    #[test]
    fn patches_read_the_old_file_only_where_it_has_bytes() {
        // One block adding 4 bytes at old position -2 (after a seek back), then 2 extra.
        let mut patch = Vec::new();
        for (diff, extra, seek) in [(0i64, 0i64, -2i64), (4, 2, 0)] {
            put_number(&mut patch, diff);
            put_number(&mut patch, extra);
            put_number(&mut patch, seek);
            patch.extend(std::iter::repeat_n(1u8, diff as usize + extra as usize));
        }
        // Old positions -2 and -1 are outside: the diff bytes stand as they are.
        assert_eq!(apply(&[10, 20], &patch), vec![1, 1, 11, 21, 1, 1]);
    }

    #[test]
    fn corrupt_patches_are_refused() {
        let mut negative = Vec::new();
        put_number(&mut negative, -1);
        put_number(&mut negative, 0);
        put_number(&mut negative, 0);
        let mut long = Vec::new();
        put_number(&mut long, 1 << 40);
        put_number(&mut long, 0);
        put_number(&mut long, 0);
        long.extend_from_slice(&[0; 100]);
        let cases: [(&[u8], &str); 3] = [
            (&[0; 10], "it ends inside a block"),
            (&negative, "a negative length"),
            (&long, "it ends inside a block"),
        ];
        for (patch, words) in cases {
            let mut out = Vec::new();
            let err = Patcher::new(&b"old"[..], 3, patch, 0..patch.len() as u64)
                .read_to_end(&mut out)
                .expect_err("must be refused");
            assert!(err.to_string().contains(words), "{words}: {err}");
        }
    }
}
