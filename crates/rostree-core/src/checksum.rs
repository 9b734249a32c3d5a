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

/// A string that is not a checksum, in upstream's words (`Invalid rev …`, `Invalid
/// character …`): what commands print for checksums given to them or read from a remote.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct InvalidRev(pub String);

impl Checksum {
    /// Parses 64 lowercase hex digits as upstream validates a checksum string, with its
    /// error words: a wrong length shows the first 64 characters, newlines as spaces.
    pub fn parse_rev(text: &str) -> Result<Self, InvalidRev> {
        if text.len() != 64 {
            let shown: String = text
                .chars()
                .take(64)
                .map(|c| if c == '\n' { ' ' } else { c })
                .collect();
            return Err(InvalidRev(format!("Invalid rev {shown}")));
        }
        if let Some(c) = text
            .bytes()
            .find(|c| !matches!(c, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(InvalidRev(format!(
                "Invalid character '{c}' in rev '{text}'"
            )));
        }
        Checksum::from_hex(text).map_err(|e| InvalidRev(e.to_string()))
    }

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
        // Lowercase only, as upstream's object names are; one pass (every object listing
        // decodes thousands of names).
        let nibble = |b: u8| match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            _ => None,
        };
        let invalid = || InvalidChecksum(hex.to_owned());
        let digits = hex.as_bytes();
        if digits.len() != 64 {
            return Err(invalid());
        }
        let mut out = [0u8; 32];
        for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
            match (nibble(pair[0]), nibble(pair[1])) {
                (Some(high), Some(low)) => *byte = high << 4 | low,
                _ => return Err(invalid()),
            }
        }
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

    /// "Modified base64", as static delta names spell checksums: standard base64 with `_`
    /// for `/` and no padding (43 characters).
    pub fn to_mbase64(&self) -> String {
        let mut out = String::with_capacity(44);
        for chunk in self.0.chunks(3) {
            let mut group = [0u8; 3];
            group[..chunk.len()].copy_from_slice(chunk);
            let bits = u32::from_be_bytes([0, group[0], group[1], group[2]]);
            for i in 0..=chunk.len() {
                out.push(MBASE64[((bits >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }

    /// Parses the 43 characters of [`Checksum::to_mbase64`].
    pub fn from_mbase64(text: &str) -> Result<Self, InvalidChecksum> {
        let invalid = || InvalidChecksum(text.to_owned());
        if text.len() != 43 {
            return Err(invalid());
        }
        let mut bits: u32 = 0;
        let mut nbits = 0;
        let mut out = Vec::with_capacity(32);
        for c in text.bytes() {
            let value = MBASE64.iter().position(|&m| m == c).ok_or_else(invalid)?;
            bits = (bits << 6) | value as u32;
            nbits += 6;
            if nbits >= 8 {
                nbits -= 8;
                out.push((bits >> nbits) as u8);
                bits &= (1 << nbits) - 1;
            }
        }
        // 43 characters carry 258 bits: the last two must be zero in a canonical spelling.
        if bits != 0 {
            return Err(invalid());
        }
        Checksum::from_slice(&out).map_err(|_| invalid())
    }
}

const MBASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+_";

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
    fn mbase64_as_upstream_names_deltas() {
        // Pairs read off `ostree static-delta generate` output and its deltas/ directory.
        for (hex, mbase64) in [
            (
                "6decd26ddf56d84e88f0a65605be1b90e726ebd5b1783f4cf49dc965fc9620a1",
                "bezSbd9W2E6I8KZWBb4bkOcm69WxeD9M9J3JZfyWIKE",
            ),
            (
                "570c8bf544fdb671b343a96c477f0930fbe35f94238fb857f1537dd93a7b7ba1",
                "VwyL9UT9tnGzQ6lsR38JMPvjX5Qjj7hX8VN92Tp7e6E",
            ),
            (
                &"ff".repeat(32),
                "__________________________________________8",
            ),
        ] {
            let c = Checksum::from_hex(hex).expect("valid");
            assert_eq!(c.to_mbase64(), mbase64);
            assert_eq!(Checksum::from_mbase64(mbase64), Ok(c));
        }
        for bad in [
            "",
            "bezSbd9W2E6I8KZWBb4bkOcm69WxeD9M9J3JZfyWIK",
            "bezSbd9W2E6I8KZWBb4bkOcm69WxeD9M9J3JZfyWIK/",
            "__________________________________________9",
        ] {
            assert!(Checksum::from_mbase64(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rejects_bad_hex() {
        for bad in ["", "abc", &"A".repeat(64), &"g".repeat(64), &"0".repeat(65)] {
            assert!(Checksum::from_hex(bad).is_err(), "{bad}");
        }
        assert!(Checksum::from_slice(&[0; 31]).is_err());
    }
}
