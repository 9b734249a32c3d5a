//! A part's operations, read into the objects they build, without I/O.
//!
//! Each operation is one byte followed by varuint64 arguments. The part header's objects
//! are built in order; each `S` or `c` finishes the current one.
//!
//! | op  | arguments                          | effect                                     |
//! |-----|------------------------------------|--------------------------------------------|
//! | `S` | meta: len, off                     | the object's bytes from the blob           |
//! | `S` | content: mode, xattrs, size, off   | file data (or symlink target) from the blob|
//! | `o` | mode, xattrs, size                 | starts a regular file                      |
//! | `w` | len, off                           | appends from the read source, or the blob  |
//! | `r` | off                                | the read source: an object named in the blob |
//! | `R` |                                    | no read source                             |
//! | `B` | off, len                           | appends a bsdiff patch of the read source  |
//! | `c` |                                    | finishes the file                          |

use std::ops::Range;

use rostree_core::varint::read_varuint64;
use rostree_core::{Checksum, ObjectType};

use crate::error::{Error, Result};

/// Operation bytes.
pub mod op {
    /// Open, splice from the blob and close.
    pub const OPEN_SPLICE_AND_CLOSE: u8 = b'S';
    /// Open a regular file.
    pub const OPEN: u8 = b'o';
    /// Write bytes to the open file.
    pub const WRITE: u8 = b'w';
    /// Set the read source.
    pub const SET_READ_SOURCE: u8 = b'r';
    /// Unset the read source.
    pub const UNSET_READ_SOURCE: u8 = b'R';
    /// Close the open file.
    pub const CLOSE: u8 = b'c';
    /// Apply a bsdiff patch to the read source.
    pub const BSPATCH: u8 = b'B';
}

/// Where a piece of a file comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Bytes of the blob.
    Blob(Range<u64>),
    /// Bytes of a local object's content.
    Source {
        /// The object.
        object: Checksum,
        /// Where in its content.
        offset: u64,
        /// How many bytes.
        len: u64,
    },
    /// The output of a bsdiff patch (from the blob) applied to a local object's content.
    Patch {
        /// The object patched.
        object: Checksum,
        /// The patch, in the blob.
        patch: Range<u64>,
    },
}

/// An object a part builds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// A metadata object, whole in the blob.
    Metadata {
        /// Its type.
        objtype: ObjectType,
        /// Its checksum.
        checksum: Checksum,
        /// Its bytes in the blob.
        data: Range<u64>,
    },
    /// A content object.
    Content {
        /// Its checksum.
        checksum: Checksum,
        /// Index in the part's modes.
        mode: usize,
        /// Index in the part's xattr sets.
        xattrs: usize,
        /// Its content's size (for a symlink, the target's length).
        size: u64,
        /// Where its content comes from, in order.
        pieces: Vec<Piece>,
    },
}

/// How many operations of each kind a part holds (what `static-delta show` reports).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpCounts {
    /// `S`
    pub open_splice_and_close: u32,
    /// `o`
    pub open: u32,
    /// `w`
    pub write: u32,
    /// `r`
    pub set_read_source: u32,
    /// `R`
    pub unset_read_source: u32,
    /// `c`
    pub close: u32,
    /// `B`
    pub bspatch: u32,
}

struct Cursor<'a> {
    ops: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn varint(&mut self) -> Result<u64> {
        let (value, len) = read_varuint64(&self.ops[self.pos..])
            .ok_or_else(|| Error::Format("Unexpected EOF reading varint".into()))?;
        self.pos += len;
        Ok(value)
    }
}

/// A range of the blob, checked to lie inside it.
fn blob_range(blob_len: u64, offset: u64, len: u64) -> Result<Range<u64>> {
    let end = offset.checked_add(len);
    match end {
        Some(end) if end <= blob_len => Ok(offset..end),
        _ => Err(Error::Format(format!(
            "Invalid offset/length {offset}/{len}"
        ))),
    }
}

struct OpenFile {
    checksum: Checksum,
    mode: usize,
    xattrs: usize,
    size: u64,
    pieces: Vec<Piece>,
}

/// The payload a part's operations refer to, as far as reading them needs it.
pub struct Blob<'a> {
    /// The blob's length.
    pub len: u64,
    /// Reads the 32 bytes of a checksum at an offset (checked to lie in the blob).
    pub checksum_at: &'a mut dyn FnMut(u64) -> Result<Checksum>,
    /// Entries of the mode table.
    pub n_modes: usize,
    /// Entries of the xattr table.
    pub n_xattrs: usize,
}

/// Reads a part's operations into the objects they build. `objects` is the part header's
/// list, `blob` what the operations refer to.
pub fn parse_ops(
    ops: &[u8],
    objects: &[(ObjectType, Checksum)],
    blob: Blob<'_>,
) -> Result<(Vec<Action>, OpCounts)> {
    let Blob {
        len: blob_len,
        checksum_at,
        n_modes,
        n_xattrs,
    } = blob;
    let mut cur = Cursor { ops, pos: 0 };
    let mut actions = Vec::new();
    let mut counts = OpCounts::default();
    let mut next_object = 0usize;
    let mut open: Option<OpenFile> = None;
    let mut read_source: Option<Checksum> = None;
    let target = |next: usize| -> Result<(ObjectType, Checksum)> {
        objects.get(next).copied().ok_or_else(|| {
            Error::Format(format!(
                "Delta part builds more objects than its header lists ({})",
                objects.len()
            ))
        })
    };
    let tables = |mode: u64, xattrs: u64| -> Result<(usize, usize)> {
        if mode >= n_modes as u64 || xattrs >= n_xattrs as u64 {
            return Err(Error::Format(format!(
                "Invalid mode/xattr index {mode}/{xattrs}"
            )));
        }
        Ok((mode as usize, xattrs as usize))
    };
    while cur.pos < ops.len() {
        let opcode = ops[cur.pos];
        cur.pos += 1;
        match opcode {
            op::OPEN_SPLICE_AND_CLOSE => {
                counts.open_splice_and_close += 1;
                if open.is_some() {
                    return Err(Error::Format(
                        "opcode open-splice-and-close: a file is open".into(),
                    ));
                }
                let (objtype, checksum) = target(next_object)?;
                if objtype.is_meta() {
                    let len = cur.varint()?;
                    let offset = cur.varint()?;
                    actions.push(Action::Metadata {
                        objtype,
                        checksum,
                        data: blob_range(blob_len, offset, len)?,
                    });
                } else {
                    let (mode, xattrs) = tables(cur.varint()?, cur.varint()?)?;
                    let size = cur.varint()?;
                    let offset = cur.varint()?;
                    actions.push(Action::Content {
                        checksum,
                        mode,
                        xattrs,
                        size,
                        pieces: vec![Piece::Blob(blob_range(blob_len, offset, size)?)],
                    });
                }
                next_object += 1;
                read_source = None;
            }
            op::OPEN => {
                counts.open += 1;
                if open.is_some() {
                    return Err(Error::Format("opcode open: a file is open already".into()));
                }
                let (objtype, checksum) = target(next_object)?;
                if objtype != ObjectType::File {
                    return Err(Error::Format(format!(
                        "opcode open: {checksum}.{objtype} is not a file"
                    )));
                }
                let (mode, xattrs) = tables(cur.varint()?, cur.varint()?)?;
                let size = cur.varint()?;
                open = Some(OpenFile {
                    checksum,
                    mode,
                    xattrs,
                    size,
                    pieces: Vec::new(),
                });
            }
            op::WRITE => {
                counts.write += 1;
                let len = cur.varint()?;
                let offset = cur.varint()?;
                let file = open
                    .as_mut()
                    .ok_or_else(|| Error::Format("opcode write: no file is open".into()))?;
                file.pieces.push(match read_source {
                    Some(object) => Piece::Source {
                        object,
                        offset,
                        len,
                    },
                    None => Piece::Blob(blob_range(blob_len, offset, len)?),
                });
            }
            op::SET_READ_SOURCE => {
                counts.set_read_source += 1;
                let offset = cur.varint()?;
                blob_range(blob_len, offset, 32)?;
                read_source = Some(checksum_at(offset)?);
            }
            op::UNSET_READ_SOURCE => {
                counts.unset_read_source += 1;
                read_source = None;
            }
            op::BSPATCH => {
                counts.bspatch += 1;
                let offset = cur.varint()?;
                let len = cur.varint()?;
                let patch = blob_range(blob_len, offset, len)?;
                let file = open
                    .as_mut()
                    .ok_or_else(|| Error::Format("opcode bspatch: no file is open".into()))?;
                let object = read_source
                    .ok_or_else(|| Error::Format("opcode bspatch: no read source".into()))?;
                file.pieces.push(Piece::Patch { object, patch });
            }
            op::CLOSE => {
                counts.close += 1;
                let file = open
                    .take()
                    .ok_or_else(|| Error::Format("opcode close: no file is open".into()))?;
                actions.push(Action::Content {
                    checksum: file.checksum,
                    mode: file.mode,
                    xattrs: file.xattrs,
                    size: file.size,
                    pieces: file.pieces,
                });
                next_object += 1;
                read_source = None;
            }
            other => {
                return Err(Error::Format(format!(
                    "Unknown opcode {other} at offset {}",
                    cur.pos - 1
                )));
            }
        }
    }
    if open.is_some() {
        return Err(Error::Format("Delta part ends with a file open".into()));
    }
    Ok((actions, counts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rostree_core::varint::write_varuint64;

    /// Reads `stream` over a blob in memory with one mode and one xattr set.
    fn parse(
        stream: &[u8],
        objects: &[(ObjectType, Checksum)],
        data: &[u8],
    ) -> Result<(Vec<Action>, OpCounts)> {
        let mut checksum_at = |offset: u64| {
            let at = offset as usize;
            Ok(Checksum::from_slice(&data[at..at + 32]).expect("32 bytes"))
        };
        let blob = Blob {
            len: data.len() as u64,
            checksum_at: &mut checksum_at,
            n_modes: 1,
            n_xattrs: 1,
        };
        parse_ops(stream, objects, blob)
    }

    fn ops(items: &[(u8, &[u64])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (op, args) in items {
            out.push(*op);
            for a in *args {
                write_varuint64(&mut out, *a);
            }
        }
        out
    }

    #[test]
    fn operations_build_their_objects() {
        let a = Checksum::digest(b"a");
        let b = Checksum::digest(b"b");
        let c = Checksum::digest(b"c");
        let source = Checksum::digest(b"source");
        let mut blob = b"0123456789".to_vec();
        blob.extend_from_slice(source.as_bytes());
        let objects = [
            (ObjectType::DirMeta, a),
            (ObjectType::File, b),
            (ObjectType::File, c),
        ];
        let stream = ops(&[
            (b'S', &[4, 0]),
            (b'S', &[0, 0, 3, 4]),
            (b'r', &[10]),
            (b'o', &[0, 0, 9]),
            (b'w', &[5, 100]),
            (b'R', &[]),
            (b'w', &[2, 7]),
            (b'r', &[10]),
            (b'B', &[0, 2]),
            (b'c', &[]),
        ]);
        let (actions, counts) = parse(&stream, &objects, &blob).expect("test input is valid");
        assert_eq!(
            actions,
            vec![
                Action::Metadata {
                    objtype: ObjectType::DirMeta,
                    checksum: a,
                    data: 0..4
                },
                Action::Content {
                    checksum: b,
                    mode: 0,
                    xattrs: 0,
                    size: 3,
                    pieces: vec![Piece::Blob(4..7)]
                },
                Action::Content {
                    checksum: c,
                    mode: 0,
                    xattrs: 0,
                    size: 9,
                    pieces: vec![
                        Piece::Source {
                            object: source,
                            offset: 100,
                            len: 5
                        },
                        Piece::Blob(7..9),
                        Piece::Patch {
                            object: source,
                            patch: 0..2
                        },
                    ]
                },
            ]
        );
        assert_eq!(counts.open_splice_and_close, 2);
        assert_eq!(
            (counts.set_read_source, counts.bspatch, counts.close),
            (2, 1, 1)
        );
    }

    #[test]
    fn malformed_operations_are_refused() {
        let a = Checksum::digest(b"a");
        let objects = [(ObjectType::File, a)];
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (ops(&[(b'S', &[0, 0, 3, 8])]), "Invalid offset/length 8/3"),
            (
                ops(&[(b'S', &[1, 0, 3, 0])]),
                "Invalid mode/xattr index 1/0",
            ),
            (vec![b'S', 0x80], "Unexpected EOF reading varint"),
            (ops(&[(b'x', &[])]), "Unknown opcode 120 at offset 0"),
            (ops(&[(b'o', &[0, 0, 3])]), "ends with a file open"),
            (ops(&[(b'c', &[])]), "no file is open"),
            (
                ops(&[(b'o', &[0, 0, 1]), (b'B', &[0, 1])]),
                "no read source",
            ),
            (
                ops(&[(b'S', &[0, 0, 1, 0]), (b'S', &[0, 0, 1, 0])]),
                "more objects than its header lists",
            ),
        ];
        for (stream, words) in cases {
            let err = parse(&stream, &objects, b"abcdefgh").expect_err("must be refused");
            assert!(err.to_string().contains(words), "{words}: {err}");
        }
    }
}
