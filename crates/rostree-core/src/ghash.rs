//! The iteration order of a GLib (2.74) `GHashTable` with string keys.
//!
//! Upstream prints refs, and orders `--bootable` commit metadata (built in a `GVariantDict`),
//! in hash-table order, so matching upstream byte for byte means reproducing it: `g_str_hash`,
//! the prime-modulo bucket choice, quadratic probing, and the in-place resize whose eviction
//! chains move entries in a particular order.

/// Moduli GLib uses for a table of `1 << shift` buckets.
const PRIMES: [u32; 31] = [
    1,
    2,
    3,
    7,
    13,
    31,
    61,
    127,
    251,
    509,
    1021,
    2039,
    4093,
    8191,
    16381,
    32749,
    65521,
    131_071,
    262_139,
    524_287,
    1_048_573,
    2_097_143,
    4_194_301,
    8_388_593,
    16_777_213,
    33_554_393,
    67_108_859,
    134_217_689,
    268_435_399,
    536_870_909,
    1_073_741_789,
];
const MIN_SHIFT: usize = 3;
const UNUSED: u32 = 0;
const TOMBSTONE: u32 = 1;

/// GLib's `g_str_hash` (djb2 over the bytes taken as signed chars).
pub fn str_hash(s: &[u8]) -> u32 {
    s.iter().fold(5381u32, |h, &b| {
        // GLib reads the string through a (signed) `char *`.
        h.wrapping_mul(33).wrapping_add(i32::from(b as i8) as u32)
    })
}

/// Keys (with values) in the order a `GHashTable` would iterate them.
#[derive(Debug, Clone)]
pub struct HashOrder<K, V> {
    shift: usize,
    hashes: Vec<u32>,
    slots: Vec<Option<(K, V)>>,
    nnodes: usize,
    noccupied: usize,
}

impl<K: PartialEq, V> Default for HashOrder<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: PartialEq, V> HashOrder<K, V> {
    /// An empty table of GLib's initial size.
    pub fn new() -> Self {
        let size = 1 << MIN_SHIFT;
        HashOrder {
            shift: MIN_SHIFT,
            hashes: vec![UNUSED; size],
            slots: (0..size).map(|_| None).collect(),
            nnodes: 0,
            noccupied: 0,
        }
    }

    fn size(&self) -> usize {
        1 << self.shift
    }

    fn first_bucket(&self, hash: u32) -> usize {
        (hash.wrapping_mul(11) % PRIMES[self.shift]) as usize
    }

    fn mask(&self) -> usize {
        self.size() - 1
    }

    /// Inserts `key` (whose hash is given); a key already present keeps its place and takes
    /// the new value, as `g_hash_table_insert` does.
    pub fn insert(&mut self, key: K, value: V, hash: u32) {
        let hash = hash.max(2);
        let mut i = self.first_bucket(hash);
        let mut step = 0;
        let mut tombstone = None;
        while self.hashes[i] != UNUSED {
            if self.hashes[i] == hash
                && let Some((k, v)) = &mut self.slots[i]
                && *k == key
            {
                *v = value;
                return;
            }
            if self.hashes[i] == TOMBSTONE && tombstone.is_none() {
                tombstone = Some(i);
            }
            step += 1;
            i = (i + step) & self.mask();
        }
        let i = tombstone.unwrap_or(i);
        let was_unused = self.hashes[i] == UNUSED;
        self.hashes[i] = hash;
        self.slots[i] = Some((key, value));
        self.nnodes += 1;
        if was_unused {
            self.noccupied += 1;
            self.maybe_resize();
        }
    }

    /// Removes `key` (whose hash is given), leaving a tombstone, as `g_hash_table_remove`
    /// does; returns whether it was there.
    pub fn remove(&mut self, key: &K, hash: u32) -> bool {
        let hash = hash.max(2);
        let mut i = self.first_bucket(hash);
        let mut step = 0;
        while self.hashes[i] != UNUSED {
            if self.hashes[i] == hash && self.slots[i].as_ref().is_some_and(|(k, _)| k == key) {
                self.hashes[i] = TOMBSTONE;
                self.slots[i] = None;
                self.nnodes -= 1;
                self.maybe_resize();
                return true;
            }
            step += 1;
            i = (i + step) & self.mask();
        }
        false
    }

    fn maybe_resize(&mut self) {
        let size = self.size();
        if (size > self.nnodes * 4 && size > 1 << MIN_SHIFT)
            || size <= self.noccupied + self.noccupied / 16
        {
            self.resize();
        }
    }

    fn resize(&mut self) {
        let old = self.size();
        // GLib sizes the table for nnodes * 1.333 (computed in floating point).
        let target = (self.nnodes as f64 * 1.333) as u64;
        let shift = (64 - target.leading_zeros() as usize).max(MIN_SHIFT);
        self.shift = shift;
        let new = self.size();
        if new > old {
            self.hashes.resize(new, UNUSED);
            self.slots.resize_with(new, || None);
        }
        let mut moved = vec![false; new.max(old)];
        for i in 0..old {
            let mut hash = self.hashes[i];
            if hash < 2 {
                self.hashes[i] = UNUSED;
                continue;
            }
            if moved[i] {
                continue;
            }
            self.hashes[i] = UNUSED;
            let mut entry = self.slots[i].take();
            // Place the entry, evicting whatever sits in its new bucket and placing that in
            // turn, as GLib's in-place resize does.
            loop {
                let mut step = 0;
                let mut j = self.first_bucket(hash);
                while moved[j] {
                    step += 1;
                    j = (j + step) & self.mask();
                }
                moved[j] = true;
                let replaced = self.hashes[j];
                self.hashes[j] = hash;
                if replaced < 2 {
                    self.slots[j] = entry;
                    break;
                }
                hash = replaced;
                entry = std::mem::replace(&mut self.slots[j], entry);
            }
        }
        if new < old {
            self.hashes.truncate(new);
            self.slots.truncate(new);
        }
        self.noccupied = self.nnodes;
    }

    /// The entries in iteration order.
    pub fn into_entries(self) -> Vec<(K, V)> {
        self.slots.into_iter().flatten().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(keys: &[&str]) -> Vec<String> {
        let mut table = HashOrder::new();
        for k in keys {
            table.insert((*k).to_owned(), (), str_hash(k.as_bytes()));
        }
        table.into_entries().into_iter().map(|(k, ())| k).collect()
    }

    #[test]
    fn matches_upstream_refs_listing() {
        // refs/heads as readdir listed it, and the order upstream `ostree refs` printed.
        let listed = order(&[
            "b", "q/r/s", "bar", "x2", "x3", "foo", "alpha", "héllo", "zeta", "x1", "main", "a/b",
            "a/c", "baz",
        ]);
        assert_eq!(
            listed,
            [
                "b", "héllo", "q/r/s", "foo", "x3", "baz", "x2", "zeta", "bar", "x1", "alpha",
                "main", "a/b", "a/c"
            ]
        );
    }

    #[test]
    fn replacing_keeps_position() {
        let mut table = HashOrder::new();
        for (k, v) in [("a", 1), ("b", 2), ("a", 3)] {
            table.insert(k, v, str_hash(k.as_bytes()));
        }
        let entries = table.into_entries();
        assert_eq!(entries.len(), 2);
        assert!(entries.contains(&("a", 3)));
    }

    #[test]
    fn str_hash_signed_bytes() {
        assert_eq!(str_hash(b""), 5381);
        assert_eq!(str_hash(b"a"), 5381 * 33 + 97);
        assert_eq!(str_hash(&[0xff]), (5381u32 * 33).wrapping_sub(1));
    }
}
