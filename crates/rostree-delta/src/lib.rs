//! Static deltas: how upstream ships an update in a few large files instead of one request
//! per object.
//!
//! A delta from commit FROM (or from nothing) to commit TO is a superblock naming its
//! parts and fallbacks, and the parts, each a compressed payload of operations that build
//! objects from its blob, from objects of FROM, or by bsdiff patches of them:
//!
//! ```text
//! deltas/FF/ROM-TO/
//! ├── superblock   the to-commit, the parts' checksums, sizes and objects, the fallbacks
//! ├── 0            'x' + xz( (modes, xattr sets, blob, operations) )
//! └── 1 …
//! ```
//!
//! [`format`](mod@format) and [`ops`] read and write the bytes without I/O; [`generate`](mod@generate) makes deltas
//! from a repository; [`part`] opens parts in bounded memory; [`apply`] builds their
//! objects in a transaction, checking each.
//! Where the repository keeps them is `rostree_repo::deltas`.

pub mod apply;
pub mod bsdiff;
mod error;
pub mod format;
pub mod generate;
pub mod ops;
pub mod part;
pub mod rollsum;

pub use error::{Error, Result};
pub use format::{Endianness, Superblock, SuperblockFile};
pub use generate::{GenerateOptions, GenerateOutcome, generate};

/// Reproducible pseudo-random bytes for the unit tests.
#[cfg(test)]
pub(crate) fn test_bytes(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect()
}
