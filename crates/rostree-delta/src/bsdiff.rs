//! bsdiff patches in the stream form upstream's parts carry (Matthew Endsley's: no header,
//! blocks of a 24-byte control, then diff bytes, then extra bytes), made over a suffix
//! array built by divsufsort, which is many times faster on large files than the
//! Larsson–Sadakane sort of the original.
//!
//! Each control holds three 8-byte sign-magnitude little-endian numbers: bytes to add to
//! the old file (the diff bytes follow), bytes to copy as they are (the extra bytes follow),
//! and how far to move in the old file afterwards.

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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_bytes as data;

    fn apply(old: &[u8], patch: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        bsdiff::patch(old, &mut &patch[..], &mut out).expect("the patch applies");
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
}
