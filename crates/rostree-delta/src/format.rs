//! The bytes of a static delta, without I/O: superblock, part headers, fallbacks, signed
//! superblocks and part payloads.
//!
//! ```text
//! superblock  (a{sv}tayay(a{sv}aya(say)sstayay)aya(uayttay)a(yaytt))
//!              │    │ │ │  └ the to-commit, whole     │  │         └ fallbacks: objtype,
//!              │    │ │ └ to checksum                  │  │           checksum, sizes
//!              │    │ └ from checksum (empty: none)    │  └ parts: version, sha256,
//!              │    └ generation time (big-endian)     │    sizes, 33-byte object names
//!              └ metadata: user keys, then             └ always empty
//!                ostree.endianness, inline parts, detached commit metadata
//! signed      (taya{sv})  "OSTSGNDT", the superblock bytes, {ostree.sign.<type>: aay}
//! part file   one compression byte (0 or 'x' for xz), then the payload
//! payload     (a(uuu)aa(ayay)ayay)  modes (big-endian), xattr sets, blob, operations
//!             (read by `part`, which need not hold it whole)
//! ```
//!
//! The version and sizes of part headers and fallbacks are in the generator's byte order,
//! which `ostree.endianness` records (`l` or `B`); deltas without it are judged by their
//! sizes, as upstream does.

use rostree_core::gvariant::{Type, Value, array_children, tuple_children};
use rostree_core::object::Metadata;
use rostree_core::{Checksum, ObjectType};

use crate::error::{Error, Result};

/// The superblock's GVariant type.
pub const SUPERBLOCK_TYPE: &str = "(a{sv}tayay(a{sv}aya(say)sstayay)aya(uayttay)a(yaytt))";
/// A part payload's GVariant type.
pub const PAYLOAD_TYPE: &str = "(a(uuu)aa(ayay)ayay)";
/// A signed superblock's GVariant type.
pub const SIGNED_TYPE: &str = "(taya{sv})";
/// The magic number a signed superblock starts with ("OSTSGNDT", big-endian).
pub const SIGNED_MAGIC: u64 = 0x4F53_5453_474E_4454;
/// The metadata key recording the byte order of part headers and fallbacks.
pub const ENDIANNESS_KEY: &str = "ostree.endianness";
/// The only part format version there is.
pub const PART_VERSION: u32 = 0;
/// Bytes of one object name in a part header: the type and the checksum.
const OBJECT_NAME_LEN: usize = 33;

fn ty(text: &str) -> Type {
    Type::parse(text).expect("the delta formats' types are valid")
}

fn invalid(what: &str, reason: impl std::fmt::Display) -> Error {
    Error::Format(format!("{what}: {reason}"))
}

/// The byte order of a delta's part headers and fallbacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endianness {
    /// Little-endian (`l`).
    Little,
    /// Big-endian (`B`).
    Big,
}

impl Endianness {
    /// This machine's order, which the generator uses unless told otherwise.
    pub fn host() -> Endianness {
        if cfg!(target_endian = "big") {
            Endianness::Big
        } else {
            Endianness::Little
        }
    }

    /// The other order.
    pub fn swapped(self) -> Endianness {
        match self {
            Endianness::Little => Endianness::Big,
            Endianness::Big => Endianness::Little,
        }
    }

    /// The character `ostree.endianness` holds.
    pub fn as_char(self) -> u8 {
        match self {
            Endianness::Little => b'l',
            Endianness::Big => b'B',
        }
    }

    // GVariant stores numbers little-endian; a big-endian delta's are byte-swapped there.
    fn u32(self, stored: u32) -> u32 {
        match self {
            Endianness::Little => stored,
            Endianness::Big => stored.swap_bytes(),
        }
    }

    fn u64(self, stored: u64) -> u64 {
        match self {
            Endianness::Little => stored,
            Endianness::Big => stored.swap_bytes(),
        }
    }
}

/// A part as the superblock describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartHeader {
    /// The part format's version (0).
    pub version: u32,
    /// The sha256 of the part file.
    pub checksum: Checksum,
    /// The part file's size.
    pub compressed_size: u64,
    /// The sum of the sizes of the objects it builds.
    pub uncompressed_size: u64,
    /// The objects it builds, in the order its operations build them.
    pub objects: Vec<(ObjectType, Checksum)>,
}

/// An object the delta does not carry: fetched as a plain object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fallback {
    /// Its type.
    pub objtype: ObjectType,
    /// Its checksum.
    pub checksum: Checksum,
    /// Its size as stored in an archive repository.
    pub compressed_size: u64,
    /// Its content's size.
    pub uncompressed_size: u64,
}

/// How a delta's byte order was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndiannessSource {
    /// Recorded in `ostree.endianness`.
    Recorded,
    /// Guessed from the sizes (deltas made before the key existed).
    Heuristic,
    /// Neither: an unknown `ostree.endianness`, or nothing to guess from; read as little.
    Invalid,
}

/// A parsed superblock.
#[derive(Clone, Debug, PartialEq)]
pub struct Superblock {
    /// Its metadata dictionary (user keys, `ostree.endianness`, inline parts, detached
    /// commit metadata).
    pub metadata: Metadata,
    /// When it was generated, in seconds since the epoch.
    pub timestamp: u64,
    /// The commit it starts from; `None` for a delta from nothing.
    pub from: Option<Checksum>,
    /// The commit it builds.
    pub to: Checksum,
    /// The to-commit object's bytes.
    pub commit: Vec<u8>,
    /// Its parts.
    pub parts: Vec<PartHeader>,
    /// Objects to fetch on their own.
    pub fallbacks: Vec<Fallback>,
    /// The byte order of part headers and fallbacks.
    pub endianness: Endianness,
    /// How that order was found.
    pub endianness_source: EndiannessSource,
}

fn checksum_of(what: &str, bytes: &[u8]) -> Result<Checksum> {
    Checksum::from_slice(bytes).map_err(|_| invalid(what, "not a 32-byte checksum"))
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes(b.try_into().expect("a u slice is 4 bytes"))
}

fn le_u64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b.try_into().expect("a t slice is 8 bytes"))
}

/// Parses a part header's object list: 33-byte records of type and checksum.
pub fn parse_object_names(data: &[u8]) -> Result<Vec<(ObjectType, Checksum)>> {
    if !data.len().is_multiple_of(OBJECT_NAME_LEN) {
        return Err(Error::Format(format!(
            "Invalid checksum array length {}",
            data.len()
        )));
    }
    data.chunks_exact(OBJECT_NAME_LEN)
        .map(|rec| {
            let objtype = ObjectType::from_u8(rec[0])
                .ok_or_else(|| Error::Format(format!("Invalid object type '{}'", rec[0])))?;
            Ok((objtype, checksum_of("part object", &rec[1..])?))
        })
        .collect()
}

/// Encodes a part header's object list.
pub fn encode_object_names(objects: &[(ObjectType, Checksum)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(objects.len() * OBJECT_NAME_LEN);
    for (objtype, checksum) in objects {
        out.push(*objtype as u8);
        out.extend_from_slice(checksum.as_bytes());
    }
    out
}

struct RawPart {
    version: u32,
    checksum: Checksum,
    compressed: u64,
    uncompressed: u64,
    objects: Vec<(ObjectType, Checksum)>,
}

impl Superblock {
    /// Parses an unsigned superblock.
    pub fn parse(data: &[u8]) -> Result<Superblock> {
        let members = [
            "a{sv}",
            "t",
            "ay",
            "ay",
            "(a{sv}aya(say)sstayay)",
            "ay",
            "a(uayttay)",
            "a(yaytt)",
        ]
        .map(ty);
        let sb = "delta superblock";
        let children = tuple_children(&members, data).map_err(|e| invalid(sb, e))?;
        let metadata = Metadata::from_bytes(children[0]).map_err(|e| invalid(sb, e.detail()))?;
        let timestamp =
            u64::from_be_bytes(children[1].try_into().map_err(|_| invalid(sb, "time"))?);
        let from = match children[2] {
            [] => None,
            bytes => Some(checksum_of("delta from commit", bytes)?),
        };
        let to = checksum_of("delta to commit", children[3])?;
        let commit = children[4].to_vec();
        let part_ty = ty("(uayttay)");
        let part_members = ["u", "ay", "t", "t", "ay"].map(ty);
        let mut raw_parts = Vec::new();
        for part in array_children(&part_ty, children[6]).map_err(|e| invalid(sb, e))? {
            let f = tuple_children(&part_members, part).map_err(|e| invalid(sb, e))?;
            raw_parts.push(RawPart {
                version: le_u32(f[0]),
                checksum: checksum_of("delta part", f[1])?,
                compressed: le_u64(f[2]),
                uncompressed: le_u64(f[3]),
                objects: parse_object_names(f[4])?,
            });
        }
        let fallback_ty = ty("(yaytt)");
        let fallback_members = ["y", "ay", "t", "t"].map(ty);
        let mut raw_fallbacks = Vec::new();
        for entry in array_children(&fallback_ty, children[7]).map_err(|e| invalid(sb, e))? {
            let f = tuple_children(&fallback_members, entry).map_err(|e| invalid(sb, e))?;
            let objtype = ObjectType::from_u8(f[0][0])
                .ok_or_else(|| Error::Format(format!("Invalid object type '{}'", f[0][0])))?;
            raw_fallbacks.push((
                objtype,
                checksum_of("delta fallback", f[1])?,
                le_u64(f[2]),
                le_u64(f[3]),
            ));
        }
        let (endianness, endianness_source) = match metadata.get(ENDIANNESS_KEY) {
            Some(Value::Byte(b'l')) => (Endianness::Little, EndiannessSource::Recorded),
            Some(Value::Byte(b'B')) => (Endianness::Big, EndiannessSource::Recorded),
            Some(_) => (Endianness::host(), EndiannessSource::Invalid),
            None => guess_endianness(&raw_parts),
        };
        let parts = raw_parts
            .into_iter()
            .map(|p| PartHeader {
                version: endianness.u32(p.version),
                checksum: p.checksum,
                compressed_size: endianness.u64(p.compressed),
                uncompressed_size: endianness.u64(p.uncompressed),
                objects: p.objects,
            })
            .collect();
        let fallbacks = raw_fallbacks
            .into_iter()
            .map(|(objtype, checksum, c, u)| Fallback {
                objtype,
                checksum,
                compressed_size: endianness.u64(c),
                uncompressed_size: endianness.u64(u),
            })
            .collect();
        Ok(Superblock {
            metadata,
            timestamp,
            from,
            to,
            commit,
            parts,
            fallbacks,
            endianness,
            endianness_source,
        })
    }

    /// Encodes it, numbers in `self.endianness`, with `ostree.endianness` set accordingly
    /// (after the other metadata, as upstream puts it).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let e = self.endianness;
        let mut metadata = self.metadata.clone();
        metadata.remove(ENDIANNESS_KEY);
        let mut entries = Vec::new();
        // Upstream writes user keys, then the byte order, then inline parts and detached
        // metadata; all but user keys are named after the delta's directory.
        let (user, generated): (Vec<_>, Vec<_>) = metadata
            .0
            .into_iter()
            .partition(|(k, _)| !k.starts_with("deltas/"));
        entries.extend(user);
        entries.push((ENDIANNESS_KEY.to_owned(), Value::Byte(e.as_char())));
        entries.extend(generated);
        let commit_ty = ty("(a{sv}aya(say)sstayay)");
        let commit = Value::from_bytes(&commit_ty, &self.commit)
            .map_err(|e| invalid("delta to commit", e))?;
        let parts = self
            .parts
            .iter()
            .map(|p| {
                Value::Tuple(vec![
                    Value::Uint32(e.u32(p.version)),
                    Value::Bytes(p.checksum.as_bytes().to_vec()),
                    Value::Uint64(e.u64(p.compressed_size)),
                    Value::Uint64(e.u64(p.uncompressed_size)),
                    Value::Bytes(encode_object_names(&p.objects)),
                ])
            })
            .collect();
        let fallbacks = self
            .fallbacks
            .iter()
            .map(|f| {
                Value::Tuple(vec![
                    Value::Byte(f.objtype as u8),
                    Value::Bytes(f.checksum.as_bytes().to_vec()),
                    Value::Uint64(e.u64(f.compressed_size)),
                    Value::Uint64(e.u64(f.uncompressed_size)),
                ])
            })
            .collect();
        let value = Value::Tuple(vec![
            Metadata(entries).to_value(),
            Value::Uint64(self.timestamp.to_be()),
            Value::Bytes(self.from.map(|c| c.as_bytes().to_vec()).unwrap_or_default()),
            Value::Bytes(self.to.as_bytes().to_vec()),
            commit,
            Value::Bytes(Vec::new()),
            Value::Array(ty("(uayttay)"), parts),
            Value::Array(ty("(yaytt)"), fallbacks),
        ]);
        Ok(value.to_bytes())
    }

    /// An inline part's file bytes (compression byte and payload), when the superblock
    /// carries it under `key` (the part's path).
    pub fn inline_part(&self, key: &str) -> Option<Vec<u8>> {
        match self.metadata.get(key)? {
            Value::Tuple(f) => match (f.first(), f.get(1)) {
                (Some(Value::Byte(c)), Some(Value::Bytes(payload))) => {
                    let mut out = Vec::with_capacity(payload.len() + 1);
                    out.push(*c);
                    out.extend_from_slice(payload);
                    Some(out)
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// The detached commit metadata the superblock carries under `key`.
    pub fn detached_metadata(&self, key: &str) -> Option<Metadata> {
        Metadata::from_value(self.metadata.get(key)?)
    }
}

/// Upstream's guess for deltas without `ostree.endianness`: a part "compressed" to more
/// than 1.2 times its size, or an average object over 4 GiB, means the numbers are swapped.
fn guess_endianness(parts: &[RawPart]) -> (Endianness, EndiannessSource) {
    let host = Endianness::host();
    let (mut total_size, mut total_objects) = (0u64, 0u64);
    for p in parts {
        total_size = total_size.saturating_add(p.compressed);
        total_objects += p.objects.len() as u64;
        if p.compressed > p.uncompressed && p.compressed as f64 / p.uncompressed as f64 > 1.2 {
            return (host.swapped(), EndiannessSource::Heuristic);
        }
    }
    if total_objects > 0 && total_size / total_objects > u64::from(u32::MAX) {
        return (host.swapped(), EndiannessSource::Heuristic);
    }
    (host, EndiannessSource::Invalid)
}

/// A superblock file, signed or not.
#[derive(Clone, Debug)]
pub struct SuperblockFile {
    /// The superblock's bytes (inside the signed wrapper when signed).
    pub superblock: Vec<u8>,
    /// The signatures, when signed: the wrapper's dictionary (`ostree.sign.<type>` keys).
    pub signatures: Option<Metadata>,
}

impl SuperblockFile {
    /// Reads a superblock file: a signed wrapper when it starts with the magic number,
    /// otherwise a plain superblock.
    pub fn parse(data: &[u8]) -> Result<SuperblockFile> {
        if data.len() >= 8
            && u64::from_be_bytes(data[..8].try_into().expect("8 bytes")) == SIGNED_MAGIC
        {
            let members = ["t", "ay", "a{sv}"].map(ty);
            if let Ok(children) = tuple_children(&members, data) {
                let signatures = Metadata::from_bytes(children[2])
                    .map_err(|e| invalid("signed delta superblock", e.detail()))?;
                return Ok(SuperblockFile {
                    superblock: children[1].to_vec(),
                    signatures: Some(signatures),
                });
            }
        }
        Ok(SuperblockFile {
            superblock: data.to_vec(),
            signatures: None,
        })
    }

    /// Whether any signature (an `ostree.sign.` key) is there.
    pub fn is_signed(&self) -> bool {
        self.signatures
            .as_ref()
            .is_some_and(|m| m.0.iter().any(|(k, _)| k.starts_with("ostree.sign.")))
    }

    /// Encodes a signed wrapper around `superblock`.
    pub fn signed_bytes(superblock: &[u8], signatures: &Metadata) -> Vec<u8> {
        Value::Tuple(vec![
            Value::Uint64(SIGNED_MAGIC.to_be()),
            Value::Bytes(superblock.to_vec()),
            signatures.to_value(),
        ])
        .to_bytes()
    }
}

/// Encodes a part payload: its modes, xattr sets, blob and operations.
pub fn encode_payload(
    modes: &[(u32, u32, u32)],
    xattrs: &[rostree_core::object::Xattrs],
    blob: &[u8],
    ops: &[u8],
) -> Vec<u8> {
    let mut out = Vec::new();
    write_payload(&mut out, modes, xattrs, blob, ops).expect("writing to memory cannot fail");
    out
}

/// Writes a part payload as [`encode_payload`] encodes it, without a copy of the blob:
/// the members one after the other (none needs padding: only the first is aligned, to 4,
/// at offset 0), then the framing offsets of the first three, last first, in the width
/// the whole payload's size calls for.
pub fn write_payload(
    out: &mut dyn std::io::Write,
    modes: &[(u32, u32, u32)],
    xattrs: &[rostree_core::object::Xattrs],
    blob: &[u8],
    ops: &[u8],
) -> std::io::Result<()> {
    let mut mode_bytes = Vec::with_capacity(modes.len() * 12);
    for (uid, gid, mode) in modes {
        for n in [uid, gid, mode] {
            mode_bytes.extend_from_slice(&n.to_be_bytes());
        }
    }
    let xattr_bytes =
        Value::Array(ty("a(ayay)"), xattrs.iter().map(|x| x.to_value()).collect()).to_bytes();
    let ends = [
        mode_bytes.len(),
        mode_bytes.len() + xattr_bytes.len(),
        mode_bytes.len() + xattr_bytes.len() + blob.len(),
    ];
    let body = (ends[2] + ops.len()) as u64;
    let width = [1usize, 2, 4, 8]
        .into_iter()
        .find(|w| {
            let total = body + 3 * *w as u64;
            total < 1u64.checked_shl(8 * *w as u32).unwrap_or(u64::MAX)
        })
        .expect("8-byte offsets fit any size");
    out.write_all(&mode_bytes)?;
    out.write_all(&xattr_bytes)?;
    out.write_all(blob)?;
    out.write_all(ops)?;
    for end in ends.iter().rev() {
        out.write_all(&(*end as u64).to_le_bytes()[..width])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(endianness: Endianness) -> Superblock {
        let commit = rostree_core::object::Commit {
            metadata: Metadata::new(),
            parent: None,
            related: Vec::new(),
            subject: "s".into(),
            body: String::new(),
            timestamp: 1_700_000_000,
            root_tree: Checksum::digest(b"tree"),
            root_meta: Checksum::digest(b"meta"),
        };
        let bytes = commit.to_bytes();
        Superblock {
            metadata: Metadata(vec![("user".into(), Value::Bool(true))]),
            timestamp: 42,
            from: Some(Checksum::digest(b"from")),
            to: Checksum::digest(&bytes),
            commit: bytes,
            parts: vec![PartHeader {
                version: 0,
                checksum: Checksum::digest(b"part"),
                compressed_size: 123,
                uncompressed_size: 456,
                objects: vec![(ObjectType::DirTree, Checksum::digest(b"a"))],
            }],
            fallbacks: vec![Fallback {
                objtype: ObjectType::File,
                checksum: Checksum::digest(b"big"),
                compressed_size: 7,
                uncompressed_size: 8,
            }],
            endianness,
            endianness_source: EndiannessSource::Recorded,
        }
    }

    #[test]
    fn superblocks_round_trip_in_both_orders() {
        for e in [Endianness::Little, Endianness::Big] {
            let sb = sample(e);
            let bytes = sb.to_bytes().expect("test input is valid");
            let mut back = Superblock::parse(&bytes).expect("test input is valid");
            assert_eq!(back.metadata.0.len(), 2);
            back.metadata.remove(ENDIANNESS_KEY);
            assert_eq!(back, sb);
        }
    }

    #[test]
    fn byte_order_is_guessed_without_the_key() {
        let sb = sample(Endianness::host().swapped());
        let bytes = sb.to_bytes().expect("test input is valid");
        let mut parsed = Superblock::parse(&bytes).expect("test input is valid");
        parsed.metadata.remove(ENDIANNESS_KEY);
        // Written again without the key: the swapped sizes give it away.
        let value = Value::from_bytes(&ty(SUPERBLOCK_TYPE), &bytes).expect("test input is valid");
        let Value::Tuple(mut members) = value else {
            panic!()
        };
        members[0] = Metadata::new().to_value();
        let stripped = Value::Tuple(members).to_bytes();
        let guessed = Superblock::parse(&stripped).expect("test input is valid");
        assert_eq!(guessed.endianness_source, EndiannessSource::Heuristic);
        assert_eq!(guessed.parts, parsed.parts);
    }

    #[test]
    fn signed_wrappers_are_recognized() {
        let sb = sample(Endianness::Little)
            .to_bytes()
            .expect("test input is valid");
        let mut sigs = Metadata::new();
        sigs.push(
            "ostree.sign.ed25519",
            Value::Array(ty("ay"), vec![Value::Bytes(vec![1; 64])]),
        );
        let file = SuperblockFile::parse(&SuperblockFile::signed_bytes(&sb, &sigs))
            .expect("test input is valid");
        assert!(file.is_signed());
        assert_eq!(file.superblock, sb);
        let plain = SuperblockFile::parse(&sb).expect("test input is valid");
        assert!(!plain.is_signed());
    }

    #[test]
    fn bad_object_lists_are_refused() {
        assert!(parse_object_names(&[1; 32]).is_err());
        assert!(parse_object_names(&[0; 33]).is_err());
        assert_eq!(
            parse_object_names(&[]).expect("test input is valid"),
            vec![]
        );
    }

    #[test]
    fn payloads_are_written_as_gvariant_encodes_them() {
        let xattrs = vec![rostree_core::object::Xattrs(vec![(
            b"user.a".to_vec(),
            b"v".to_vec(),
        )])];
        // Sizes around each change of the framing offsets' width.
        for blob_len in [0usize, 200, 240, 65_500, 65_530, 70_000] {
            let blob = vec![7u8; blob_len];
            let modes: [(u32, u32, u32); 2] = [(0, 0, 0o100644), (1, 2, 0o120777)];
            let expected = Value::Tuple(vec![
                Value::Array(
                    ty("(uuu)"),
                    modes
                        .iter()
                        .map(|(u, g, m)| {
                            Value::Tuple(vec![
                                Value::Uint32(u.to_be()),
                                Value::Uint32(g.to_be()),
                                Value::Uint32(m.to_be()),
                            ])
                        })
                        .collect(),
                ),
                Value::Array(ty("a(ayay)"), xattrs.iter().map(|x| x.to_value()).collect()),
                Value::Bytes(blob.clone()),
                Value::Bytes(b"ops".to_vec()),
            ])
            .to_bytes();
            assert_eq!(
                encode_payload(&modes, &xattrs, &blob, b"ops"),
                expected,
                "{blob_len}"
            );
        }
    }
}
