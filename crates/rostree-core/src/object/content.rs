//! Content objects: a header `(uuuusa(ayay))` (uid, gid, mode, rdev, symlink target, xattrs;
//! integers big-endian) followed by the payload.
//!
//! ```text
//! checksum input / bare stream     archive .filez
//! +----------------------+         +----------------------+
//! | u32 BE header length |         | u32 BE header length |
//! | 4 zero bytes         |         | 4 zero bytes         |
//! | (uuuusa(ayay))       |         | (tuuuusa(ayay))      |  t = uncompressed size
//! | payload              |         | raw deflate payload  |
//! +----------------------+         +----------------------+
//! ```
//! The checksum is SHA-256 over the left form; symlinks have no payload (the target lives
//! in the header), and `.filez` files are named by that checksum, not their own bytes.

use crate::gvariant::Value;
use crate::{Checksum, Hasher};

use super::{ObjectError, Xattrs, be_u32, decode, invalid};

const KIND: &str = "file header";
const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;

/// The metadata of a content object.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FileHeader {
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Full `st_mode`, type bits included.
    pub mode: u32,
    /// Always 0 in practice (device nodes are not stored).
    pub rdev: u32,
    /// The target for symlinks, empty for regular files.
    pub symlink_target: String,
    /// Extended attributes, sorted by name.
    pub xattrs: Xattrs,
}

/// The header of an archive `.filez` object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveHeader {
    /// Uncompressed payload size.
    pub size: u64,
    /// The file metadata.
    pub header: FileHeader,
}

impl FileHeader {
    /// Whether this describes a regular file.
    pub fn is_regular(&self) -> bool {
        self.mode & S_IFMT == S_IFREG
    }

    /// Whether this describes a symlink.
    pub fn is_symlink(&self) -> bool {
        self.mode & S_IFMT == S_IFLNK
    }

    /// Checks that the header can be stored and read back: a regular file or symlink, a
    /// symlink target without NUL, xattr names that are not empty and have no NUL.
    pub fn validate(&self) -> Result<(), ObjectError> {
        Self::from_bytes(&self.to_bytes()).map(|_| ())?;
        if self.symlink_target.contains('\0') {
            return Err(invalid(KIND, "symlink target contains NUL"));
        }
        Ok(())
    }

    fn fields(&self) -> Vec<Value> {
        vec![
            Value::Uint32(self.uid.to_be()),
            Value::Uint32(self.gid.to_be()),
            Value::Uint32(self.mode.to_be()),
            Value::Uint32(self.rdev.to_be()),
            Value::String(self.symlink_target.clone()),
            self.xattrs.to_value(),
        ]
    }

    /// The `(uuuusa(ayay))` variant bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        Value::Tuple(self.fields()).to_bytes()
    }

    /// The header as it starts the checksummed stream: length, padding, variant.
    pub fn stream_header(&self) -> Vec<u8> {
        framed(self.to_bytes())
    }

    /// The header of an archive `.filez` object holding `size` uncompressed bytes.
    pub fn archive_header(&self, size: u64) -> Vec<u8> {
        let mut fields = vec![Value::Uint64(size.to_be())];
        fields.extend(self.fields());
        framed(Value::Tuple(fields).to_bytes())
    }

    /// Decodes the `(uuuusa(ayay))` variant.
    pub fn from_bytes(data: &[u8]) -> Result<Self, ObjectError> {
        let value = decode(KIND, "(uuuusa(ayay))", data)?;
        let Value::Tuple(f) = &value else {
            return Err(invalid(KIND, "not a tuple"));
        };
        Self::from_fields(&f[..])
    }

    fn from_fields(f: &[Value]) -> Result<Self, ObjectError> {
        let header = FileHeader {
            uid: be_u32(&f[0]),
            gid: be_u32(&f[1]),
            mode: be_u32(&f[2]),
            rdev: be_u32(&f[3]),
            symlink_target: f[4].as_str().unwrap_or_default().to_owned(),
            xattrs: Xattrs::from_value(KIND, &f[5])?,
        };
        if !header.is_regular() && !header.is_symlink() {
            return Err(invalid(
                KIND,
                format!(
                    "mode {:o} is neither a regular file nor a symlink",
                    header.mode
                ),
            ));
        }
        if header.is_symlink() && header.symlink_target.is_empty() {
            return Err(invalid(KIND, "symlink with an empty target"));
        }
        if header.is_regular() && !header.symlink_target.is_empty() {
            return Err(invalid(KIND, "regular file with a symlink target"));
        }
        Ok(header)
    }
}

fn framed(variant: Vec<u8>) -> Vec<u8> {
    let len = u32::try_from(variant.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(variant.len() + 8);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&variant);
    out
}

fn split_frame(data: &[u8]) -> Result<(&[u8], &[u8]), ObjectError> {
    if data.len() < 8 {
        return Err(invalid(KIND, "truncated header"));
    }
    let len = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
    if data[4..8] != [0; 4] {
        return Err(invalid(KIND, "non-zero header padding"));
    }
    let end = 8usize
        .checked_add(len)
        .filter(|&e| e <= data.len())
        .ok_or_else(|| invalid(KIND, "header length past the end"))?;
    Ok((&data[8..end], &data[end..]))
}

/// Splits a checksummed content stream into its header and payload.
///
/// ```
/// use rostree_core::object::{FileHeader, Xattrs, parse_stream_header};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let header = FileHeader {
///     uid: 0,
///     gid: 0,
///     mode: 0o100644,
///     rdev: 0,
///     symlink_target: String::new(),
///     xattrs: Xattrs::new(),
/// };
/// let mut stream = header.stream_header();
/// stream.extend_from_slice(b"hello\n");
///
/// let (parsed, payload) = parse_stream_header(&stream)?;
/// assert_eq!(parsed, header);
/// assert_eq!(payload, b"hello\n");
///
/// // A header length running past the end is refused.
/// assert!(parse_stream_header(&[0, 0, 0, 200, 0, 0, 0, 0]).is_err());
/// # Ok(())
/// # }
/// ```
pub fn parse_stream_header(data: &[u8]) -> Result<(FileHeader, &[u8]), ObjectError> {
    let (variant, payload) = split_frame(data)?;
    Ok((FileHeader::from_bytes(variant)?, payload))
}

/// Splits an archive `.filez` object into its header and compressed payload.
///
/// ```
/// use rostree_core::object::{FileHeader, Xattrs, parse_archive_header};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let header = FileHeader {
///     uid: 0,
///     gid: 0,
///     mode: 0o100755,
///     rdev: 0,
///     symlink_target: String::new(),
///     xattrs: Xattrs::new(),
/// };
/// let mut filez = header.archive_header(1234);
/// filez.extend_from_slice(b"deflated");
///
/// let (parsed, payload) = parse_archive_header(&filez)?;
/// assert_eq!(parsed.size, 1234);
/// assert_eq!(parsed.header, header);
/// assert_eq!(payload, b"deflated");
/// # Ok(())
/// # }
/// ```
pub fn parse_archive_header(data: &[u8]) -> Result<(ArchiveHeader, &[u8]), ObjectError> {
    let (variant, payload) = split_frame(data)?;
    let value = decode(KIND, "(tuuuusa(ayay))", variant)?;
    let Value::Tuple(f) = &value else {
        return Err(invalid(KIND, "not a tuple"));
    };
    let size = match f[0] {
        Value::Uint64(n) => u64::from_be(n),
        _ => 0,
    };
    let header = FileHeader::from_fields(&f[1..])?;
    Ok((ArchiveHeader { size, header }, payload))
}

/// The content checksum of a file with this header and payload (empty for symlinks).
///
/// ```
/// use rostree_core::object::{FileHeader, Xattrs, content_checksum};
///
/// // "hello\n", mode 0644, owned by root: the checksum upstream `ostree commit` gives it.
/// let header = FileHeader {
///     uid: 0,
///     gid: 0,
///     mode: 0o100644,
///     rdev: 0,
///     symlink_target: String::new(),
///     xattrs: Xattrs::new(),
/// };
/// assert_eq!(
///     content_checksum(&header, b"hello\n").to_hex(),
///     "44f778e59f0a4748d6b0c90a47347212a231c4ad1e8f7ea5c5dffc7749153a6b"
/// );
/// ```
pub fn content_checksum(header: &FileHeader, payload: &[u8]) -> Checksum {
    let mut hasher = Hasher::new();
    hasher.update(&header.stream_header());
    hasher.update(payload);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regular(mode: u32) -> FileHeader {
        FileHeader {
            uid: 0,
            gid: 0,
            mode,
            rdev: 0,
            symlink_target: String::new(),
            xattrs: Xattrs::new(),
        }
    }

    #[test]
    fn checksums_match_upstream() {
        // Values from upstream `ostree commit` of "hello\n" (0644) and a symlink to a.txt.
        assert_eq!(
            content_checksum(&regular(0o100644), b"hello\n").to_hex(),
            "44f778e59f0a4748d6b0c90a47347212a231c4ad1e8f7ea5c5dffc7749153a6b"
        );
        let link = FileHeader {
            mode: 0o120777,
            symlink_target: "a.txt".into(),
            ..regular(0)
        };
        assert_eq!(
            content_checksum(&link, b"").to_hex(),
            "f379a4b359f3e8deb971eef3e40a492fec37696c0169a600789f0bc62c43b535"
        );
        let empty = regular(0o100644);
        assert_eq!(
            content_checksum(&empty, b"").to_hex(),
            "cc700d46f407c6c5ab2d5dde474366a928b7398277e61162e7f8ec06f469f07e"
        );
        assert_eq!(empty.stream_header().len(), 26);
    }

    #[test]
    fn archive_header_round_trip() {
        let header = regular(0o100755);
        let mut data = header.archive_header(1234);
        data.extend_from_slice(b"compressed");
        let (parsed, rest) = parse_archive_header(&data).expect("parses");
        assert_eq!(parsed.size, 1234);
        assert_eq!(parsed.header, header);
        assert_eq!(rest, b"compressed");
    }

    #[test]
    fn rejects_bad_headers() {
        assert!(parse_stream_header(&[0, 0, 0, 200, 0, 0, 0, 0]).is_err());
        assert!(parse_stream_header(&[0, 0]).is_err());
        let dev = FileHeader {
            mode: 0o020644,
            ..regular(0)
        };
        assert!(parse_stream_header(&dev.stream_header()).is_err());
    }
}
