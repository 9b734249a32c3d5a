//! OpenPGP signatures as upstream's GPG support makes them, checked in-process (no `gpg`).
//!
//! ```text
//! commit signatures   'ostree.gpgsigs': <[@ay [...], ...]> in the detached metadata, each a
//!                     binary detached signature packet over the commit object's bytes
//! summary signatures  the same key in summary.sig, over the summary's bytes
//! keyrings            binary (.gpg) or armored (.asc) transferable public keys, many a file
//! ```

use rostree_core::object::Metadata;

#[cfg(not(feature = "gpg"))]
mod disabled;
#[cfg(feature = "gpg")]
mod openpgp;

#[cfg(not(feature = "gpg"))]
pub use disabled::*;
#[cfg(feature = "gpg")]
pub use openpgp::*;

/// The detached-metadata key holding GPG signatures.
pub const METADATA_KEY: &str = "ostree.gpgsigs";

/// Why a keyring or a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Error(pub String);

/// A signature that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoodSignature {
    /// The fingerprint of the key (primary key) that made it, uppercase hex.
    pub fingerprint: String,
    /// Its long key ID, uppercase hex.
    pub key_id: String,
}

/// Adds `signature` to the `ostree.gpgsigs` of detached metadata (after any it has).
pub fn add_signature(metadata: &mut Metadata, signature: &[u8]) -> Result<(), Error> {
    crate::sigarray::append(metadata, METADATA_KEY, signature)
        .ok_or_else(|| Error("Invalid ostree.gpgsigs".into()))
}

/// Replaces the `ostree.gpgsigs` of detached metadata; with none, the key goes.
pub fn set_signatures(metadata: &mut Metadata, signatures: &[Vec<u8>]) {
    crate::sigarray::write(metadata, METADATA_KEY, signatures);
}

/// The GPG signatures in detached metadata (none when the key is absent).
pub fn signatures(metadata: &Metadata) -> Result<Vec<Vec<u8>>, Error> {
    crate::sigarray::read(metadata, METADATA_KEY)
        .ok_or_else(|| Error("Invalid ostree.gpgsigs".into()))
}

/// The OpenPGP keyblocks of a keybox file; framing it cannot follow ends the list.
pub fn keybox_blocks(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut at = 0usize;
    let u32_at = |pos: usize| -> Option<usize> {
        let bytes: [u8; 4] = data.get(pos..pos.checked_add(4)?)?.try_into().ok()?;
        usize::try_from(u32::from_be_bytes(bytes)).ok()
    };
    while let Some(len) = u32_at(at) {
        let Some(blob) = at.checked_add(len).and_then(|end| data.get(at..end)) else {
            break;
        };
        if len < 16 {
            break;
        }
        if blob[4] == 2 {
            let block = u32_at(at + 8)
                .zip(u32_at(at + 12))
                .and_then(|(off, n)| blob.get(off..off.checked_add(n)?));
            if let Some(block) = block {
                out.push(block);
            }
        }
        at += len;
    }
    out
}
