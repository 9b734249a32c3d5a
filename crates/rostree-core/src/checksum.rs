//! SHA-256 checksums, the names of every OSTree object.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::ObjectType;

/// A SHA-256 checksum. Printed and parsed as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Checksum([u8; 32]);

/// A string or byte slice that is not a checksum.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("invalid checksum {0:?}")]
pub struct InvalidChecksum(pub String);

impl Checksum {
    /// Wraps 32 raw bytes.
    pub const fn from_array(bytes: [u8; 32]) -> Self {
        Checksum(bytes)
    }

    /// Takes exactly 32 raw bytes, as stored inside objects.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, InvalidChecksum> {
        <[u8; 32]>::try_from(bytes)
            .map(Checksum)
            .map_err(|_| InvalidChecksum(format!("{} raw bytes", bytes.len())))
    }

    /// Parses 64 hex digits (lowercase, as OSTree writes them).
    pub fn from_hex(hex: &str) -> Result<Self, InvalidChecksum> {
        let invalid = || InvalidChecksum(hex.to_owned());
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(invalid());
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex, &mut out).map_err(|_| invalid())?;
        Ok(Checksum(out))
    }

    /// The SHA-256 of `data`.
    pub fn digest(data: &[u8]) -> Self {
        Checksum(Sha256::digest(data).into())
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The object's path relative to `objects/`: `ab/cdef….ext`. Archive repos store content
    /// objects as `.filez`.
    pub fn relative_path(&self, objtype: ObjectType, archive: bool) -> String {
        let hex = self.to_hex();
        format!("{}/{}.{}", &hex[..2], &hex[2..], objtype.extension(archive))
    }

    /// The hex digits naming the `objects/` subdirectory.
    pub fn prefix_dir(&self) -> String {
        hex::encode(&self.0[..1])
    }

    /// The part of the loose file name after the two-digit directory, without extension.
    pub fn suffix_hex(&self) -> String {
        hex::encode(&self.0[1..])
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Checksum({})", self.to_hex())
    }
}

impl FromStr for Checksum {
    type Err = InvalidChecksum;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Checksum::from_hex(s)
    }
}

/// Incremental SHA-256, for checksums taken over streams.
#[derive(Clone, Default)]
pub struct Hasher(Sha256);

impl Hasher {
    /// A fresh hasher.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The checksum of everything fed.
    pub fn finish(self) -> Checksum {
        Checksum(self.0.finalize().into())
    }
}

impl std::io::Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_paths() {
        let hex = "b16725118a1d5aab24b2bcc316cc8e6c2840cee6ac4ade9a9b75a5282748d1f0";
        let c: Checksum = hex.parse().expect("valid");
        assert_eq!(c.to_string(), hex);
        assert_eq!(
            c.relative_path(ObjectType::Commit, true),
            "b1/6725118a1d5aab24b2bcc316cc8e6c2840cee6ac4ade9a9b75a5282748d1f0.commit"
        );
        assert_eq!(
            c.relative_path(ObjectType::File, true),
            "b1/6725118a1d5aab24b2bcc316cc8e6c2840cee6ac4ade9a9b75a5282748d1f0.filez"
        );
    }

    #[test]
    fn rejects_bad_hex() {
        for bad in ["", "abc", &"A".repeat(64), &"g".repeat(64), &"0".repeat(65)] {
            assert!(Checksum::from_hex(bad).is_err(), "{bad}");
        }
        assert!(Checksum::from_slice(&[0; 31]).is_err());
    }
}
