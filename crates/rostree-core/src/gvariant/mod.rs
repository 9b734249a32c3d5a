//! A GVariant codec for the types OSTree stores.
//!
//! OSTree objects are GVariants in *normal form*: the one canonical serialization of a value.
//! Checksums are taken over those bytes, so the encoder here writes normal form only, and the
//! decoder accepts normal form only (it re-encodes what it read and compares), which is what
//! upstream's `g_variant_is_normal_form` checks before it trusts an object.
//!
//! Layout rules, briefly: fixed-size values are stored at their alignment; variable-size
//! children of arrays and tuples are located through *framing offsets* appended to the
//! container, whose width (1, 2, 4 or 8 bytes) is the smallest that can address the container.
//! Strings carry a trailing NUL; a variant is its child, a NUL and the child's type string.

mod text;
mod ty;

pub use text::{parse_text, print_text};
pub use ty::Type;

/// Errors from decoding or encoding GVariant data.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A type string that is not one complete GVariant type.
    #[error("invalid GVariant type string {0:?}")]
    InvalidType(String),
    /// Nesting deeper than 128 levels of containers.
    #[error("GVariant nesting too deep")]
    TooDeep,
    /// Data that cannot be a value of the expected type.
    #[error("malformed GVariant data for type {ty}: {reason}")]
    Malformed {
        /// The expected type.
        ty: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Data that decodes, but is not the normal-form serialization of what it holds.
    #[error("GVariant of type {0} is not in normal form")]
    NotNormal(String),
    /// A value whose type differs from the one required.
    #[error("expected GVariant type {expected}, found {found}")]
    WrongType {
        /// The required type.
        expected: String,
        /// The type present.
        found: String,
    },
    /// GVariant text that does not parse.
    #[error("cannot parse GVariant text {text:?}: {reason}")]
    Text {
        /// The input.
        text: String,
        /// What is wrong.
        reason: String,
    },
}

fn malformed(ty: &Type, reason: &'static str) -> Error {
    Error::Malformed {
        ty: ty.to_string(),
        reason,
    }
}

/// A decoded GVariant value.
///
/// Integers are held as stored (little-endian framing). OSTree keeps its own `u`/`t` fields
/// big-endian, so those appear byte-swapped here exactly as GLib shows them; the typed object
/// views in this crate convert.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)] // the variants mirror the GVariant types one to one
pub enum Value {
    Bool(bool),
    Byte(u8),
    Int16(i16),
    Uint16(u16),
    Int32(i32),
    Uint32(u32),
    Int64(i64),
    Uint64(u64),
    Handle(i32),
    Double(f64),
    String(String),
    ObjectPath(String),
    Signature(String),
    Variant(Box<Value>),
    /// A maybe of the given element type.
    Maybe(Type, Option<Box<Value>>),
    /// An `ay`, kept as bytes.
    Bytes(Vec<u8>),
    /// An array (other than `ay`) of the given element type.
    Array(Type, Vec<Value>),
    Tuple(Vec<Value>),
    DictEntry(Box<Value>, Box<Value>),
}

impl Value {
    /// The type of this value.
    pub fn value_type(&self) -> Type {
        match self {
            Value::Bool(_) => Type::Bool,
            Value::Byte(_) => Type::Byte,
            Value::Int16(_) => Type::Int16,
            Value::Uint16(_) => Type::Uint16,
            Value::Int32(_) => Type::Int32,
            Value::Uint32(_) => Type::Uint32,
            Value::Int64(_) => Type::Int64,
            Value::Uint64(_) => Type::Uint64,
            Value::Handle(_) => Type::Handle,
            Value::Double(_) => Type::Double,
            Value::String(_) => Type::String,
            Value::ObjectPath(_) => Type::ObjectPath,
            Value::Signature(_) => Type::Signature,
            Value::Variant(_) => Type::Variant,
            Value::Maybe(t, _) => Type::Maybe(Box::new(t.clone())),
            Value::Bytes(_) => Type::Array(Box::new(Type::Byte)),
            Value::Array(t, _) => Type::Array(Box::new(t.clone())),
            Value::Tuple(vs) => Type::Tuple(vs.iter().map(Value::value_type).collect()),
            Value::DictEntry(k, v) => {
                Type::DictEntry(Box::new(k.value_type()), Box::new(v.value_type()))
            }
        }
    }

    /// Serializes in normal form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }

    /// Appends the normal-form serialization to `out`. Alignment is taken relative to the start
    /// of `out`, so `out` must start where the outermost value starts.
    fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            Value::Bool(b) => out.push(u8::from(*b)),
            Value::Byte(b) => out.push(*b),
            Value::Int16(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::Uint16(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::Int32(v) | Value::Handle(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::Uint32(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::Int64(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::Uint64(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::Double(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::String(s) | Value::ObjectPath(s) | Value::Signature(s) => {
                out.extend_from_slice(s.as_bytes());
                out.push(0);
            }
            Value::Variant(child) => {
                child.write_to(out);
                out.push(0);
                out.extend_from_slice(child.value_type().to_string().as_bytes());
            }
            Value::Maybe(t, child) => {
                if let Some(child) = child {
                    child.write_to(out);
                    if t.fixed_size().is_none() {
                        out.push(0);
                    }
                }
            }
            Value::Bytes(b) => out.extend_from_slice(b),
            Value::Array(t, children) => {
                let start = out.len();
                if t.fixed_size().is_some() {
                    for child in children {
                        child.write_to(out);
                    }
                } else {
                    let mut ends = Vec::with_capacity(children.len());
                    for child in children {
                        pad_to(out, t.alignment());
                        child.write_to(out);
                        ends.push(out.len() - start);
                    }
                    write_offsets(out, start, ends.into_iter());
                }
            }
            Value::Tuple(children) => write_tuple(out, children.iter()),
            Value::DictEntry(k, v) => write_tuple(out, [k.as_ref(), v.as_ref()].into_iter()),
        }
    }

    /// Decodes `data` as a value of type `ty`, requiring normal form.
    pub fn from_bytes(ty: &Type, data: &[u8]) -> Result<Value, Error> {
        let value = decode(ty, data, 0)?;
        if value.to_bytes() != data {
            return Err(Error::NotNormal(ty.to_string()));
        }
        Ok(value)
    }

    /// Decodes `data` as type `ty` without insisting on normal form (still never panics).
    pub fn from_bytes_lenient(ty: &Type, data: &[u8]) -> Result<Value, Error> {
        decode(ty, data, 0)
    }

    /// The string inside a `s`, `o` or `g` value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) | Value::ObjectPath(s) | Value::Signature(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes inside an `ay` value.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The value with every multi-byte number byte-swapped, as GLib's `g_variant_byteswap`.
    /// Upstream prints objects this way, so its big-endian fields read correctly.
    pub fn byteswapped(&self) -> Value {
        match self {
            Value::Int16(v) => Value::Int16(v.swap_bytes()),
            Value::Uint16(v) => Value::Uint16(v.swap_bytes()),
            Value::Int32(v) => Value::Int32(v.swap_bytes()),
            Value::Uint32(v) => Value::Uint32(v.swap_bytes()),
            Value::Int64(v) => Value::Int64(v.swap_bytes()),
            Value::Uint64(v) => Value::Uint64(v.swap_bytes()),
            Value::Handle(v) => Value::Handle(v.swap_bytes()),
            Value::Double(v) => Value::Double(f64::from_bits(v.to_bits().swap_bytes())),
            Value::Variant(c) => Value::Variant(Box::new(c.byteswapped())),
            Value::Maybe(t, c) => {
                Value::Maybe(t.clone(), c.as_ref().map(|c| Box::new(c.byteswapped())))
            }
            Value::Array(t, cs) => {
                Value::Array(t.clone(), cs.iter().map(Value::byteswapped).collect())
            }
            Value::Tuple(cs) => Value::Tuple(cs.iter().map(Value::byteswapped).collect()),
            Value::DictEntry(k, v) => {
                Value::DictEntry(Box::new(k.byteswapped()), Box::new(v.byteswapped()))
            }
            other => other.clone(),
        }
    }

    /// The child of a `v`, or the value itself otherwise.
    pub fn unboxed(&self) -> &Value {
        match self {
            Value::Variant(child) => child,
            other => other,
        }
    }
}

fn pad_to(out: &mut Vec<u8>, align: usize) {
    let target = out.len().next_multiple_of(align);
    out.resize(target, 0);
}

fn write_tuple<'a>(out: &mut Vec<u8>, children: impl ExactSizeIterator<Item = &'a Value>) {
    let start = out.len();
    let count = children.len();
    let mut ends = Vec::new();
    let mut align = 1;
    let mut fixed = true;
    for (i, child) in children.enumerate() {
        let ty = child.value_type();
        align = align.max(ty.alignment());
        pad_to(out, ty.alignment());
        child.write_to(out);
        if ty.fixed_size().is_none() {
            fixed = false;
            if i + 1 < count {
                ends.push(out.len() - start);
            }
        }
    }
    if fixed {
        if out.len() == start {
            out.push(0);
        }
        let len = (out.len() - start).next_multiple_of(align);
        out.resize(start + len, 0);
    } else {
        // Tuple framing offsets are stored last-to-first.
        write_offsets(out, start, ends.into_iter().rev());
    }
}

fn write_offsets(out: &mut Vec<u8>, start: usize, ends: impl ExactSizeIterator<Item = usize>) {
    let body = out.len() - start;
    let width = offset_width_for_body(body, ends.len());
    for end in ends {
        out.extend_from_slice(&end.to_le_bytes()[..width]);
    }
}

/// The framing-offset width a writer picks for a body of `body` bytes and `count` offsets.
fn offset_width_for_body(body: usize, count: usize) -> usize {
    if count == 0 {
        return 0;
    }
    for width in [1usize, 2, 4] {
        let limit = (1u64 << (8 * width)) - 1;
        if (body + count * width) as u64 <= limit {
            return width;
        }
    }
    8
}

/// The framing-offset width a reader derives from a container's total size.
fn offset_width_for_total(total: usize) -> usize {
    match total as u64 {
        0 => 0,
        1..=0xff => 1,
        0x100..=0xffff => 2,
        0x1_0000..=0xffff_ffff => 4,
        _ => 8,
    }
}

fn read_offset(data: &[u8], width: usize) -> usize {
    let mut buf = [0u8; 8];
    buf[..width].copy_from_slice(&data[..width]);
    usize::try_from(u64::from_le_bytes(buf)).unwrap_or(usize::MAX)
}

/// Splits the children of a variable-size array into slices, without copying.
pub fn array_children<'a>(elem: &Type, data: &'a [u8]) -> Result<Vec<&'a [u8]>, Error> {
    let array_ty = || Type::Array(Box::new(elem.clone()));
    if let Some(size) = elem.fixed_size() {
        if !data.len().is_multiple_of(size) {
            return Err(malformed(
                &array_ty(),
                "length is not a multiple of the element size",
            ));
        }
        return Ok(data.chunks_exact(size).collect());
    }
    if data.is_empty() {
        return Ok(Vec::new());
    }
    let width = offset_width_for_total(data.len());
    if data.len() < width {
        return Err(malformed(&array_ty(), "truncated framing offset"));
    }
    let offsets_start = read_offset(&data[data.len() - width..], width);
    if offsets_start > data.len() || !(data.len() - offsets_start).is_multiple_of(width) {
        return Err(malformed(&array_ty(), "bad framing offsets"));
    }
    let count = (data.len() - offsets_start) / width;
    let mut children = Vec::with_capacity(count);
    let mut prev_end = 0usize;
    for i in 0..count {
        let at = offsets_start + i * width;
        let end = read_offset(&data[at..at + width], width);
        let start = prev_end.next_multiple_of(elem.alignment());
        if start > end || end > offsets_start {
            return Err(malformed(&array_ty(), "framing offset out of bounds"));
        }
        children.push(&data[start..end]);
        prev_end = end;
    }
    Ok(children)
}

/// Splits the members of a tuple (or dict entry, given as two members) into slices.
pub fn tuple_children<'a>(members: &[Type], data: &'a [u8]) -> Result<Vec<&'a [u8]>, Error> {
    Ok(tuple_spans(members, data.len() as u64, data)?
        .into_iter()
        .map(|span| &data[span.start as usize..span.end as usize])
        .collect())
}

/// How many of the last bytes of a serialized tuple [`tuple_spans`] needs: its framing
/// offsets. For data too large to hold in memory, only these are read.
pub fn tuple_tail_len(members: &[Type], total: u64) -> usize {
    let width = offset_width_for_total(usize::try_from(total).unwrap_or(usize::MAX));
    let framed = members
        .iter()
        .take(members.len().saturating_sub(1))
        .filter(|m| m.fixed_size().is_none())
        .count();
    (width * framed).min(usize::try_from(total).unwrap_or(usize::MAX))
}

/// Where each member of a tuple lies in serialized data `total` bytes long, given the
/// data's last bytes (`tail`, at least [`tuple_tail_len`] of them, or the whole data).
pub fn tuple_spans(
    members: &[Type],
    total: u64,
    tail: &[u8],
) -> Result<Vec<std::ops::Range<u64>>, Error> {
    let tuple_ty = || Type::Tuple(members.to_vec());
    let total = usize::try_from(total).map_err(|_| malformed(&tuple_ty(), "too large"))?;
    let tail_start = total
        .checked_sub(tail.len())
        .ok_or_else(|| malformed(&tuple_ty(), "tail longer than the data"))?;
    let width = offset_width_for_total(total);
    let mut offsets_end = total;
    let mut pos = 0usize;
    let mut spans = Vec::with_capacity(members.len());
    for (i, member) in members.iter().enumerate() {
        let start = pos.next_multiple_of(member.alignment());
        let end = match member.fixed_size() {
            Some(size) => start.saturating_add(size),
            None if i + 1 == members.len() => offsets_end,
            None => {
                if offsets_end < width || width == 0 {
                    return Err(malformed(&tuple_ty(), "missing framing offset"));
                }
                offsets_end -= width;
                let at = offsets_end
                    .checked_sub(tail_start)
                    .ok_or_else(|| malformed(&tuple_ty(), "framing offset not in the tail"))?;
                read_offset(&tail[at..at + width], width)
            }
        };
        if start > end || end > offsets_end {
            return Err(malformed(&tuple_ty(), "member out of bounds"));
        }
        spans.push(start as u64..end as u64);
        pos = end;
    }
    Ok(spans)
}

fn decode(ty: &Type, data: &[u8], depth: usize) -> Result<Value, Error> {
    if depth > ty::MAX_DEPTH {
        return Err(Error::TooDeep);
    }
    if let Some(size) = ty.fixed_size()
        && data.len() != size
    {
        return Err(malformed(ty, "wrong size for a fixed-size type"));
    }
    let arr = |n: usize| -> [u8; 8] {
        let mut buf = [0u8; 8];
        buf[..n].copy_from_slice(&data[..n]);
        buf
    };
    Ok(match ty {
        Type::Bool => match data[0] {
            0 => Value::Bool(false),
            1 => Value::Bool(true),
            _ => return Err(malformed(ty, "boolean byte other than 0 or 1")),
        },
        Type::Byte => Value::Byte(data[0]),
        Type::Int16 => Value::Int16(i16::from_le_bytes([data[0], data[1]])),
        Type::Uint16 => Value::Uint16(u16::from_le_bytes([data[0], data[1]])),
        Type::Int32 => Value::Int32(i32::from_le_bytes([data[0], data[1], data[2], data[3]])),
        Type::Handle => Value::Handle(i32::from_le_bytes([data[0], data[1], data[2], data[3]])),
        Type::Uint32 => Value::Uint32(u32::from_le_bytes([data[0], data[1], data[2], data[3]])),
        Type::Int64 => Value::Int64(i64::from_le_bytes(arr(8))),
        Type::Uint64 => Value::Uint64(u64::from_le_bytes(arr(8))),
        Type::Double => Value::Double(f64::from_le_bytes(arr(8))),
        Type::String | Type::ObjectPath | Type::Signature => {
            let s = decode_str(ty, data)?;
            match ty {
                Type::String => Value::String(s),
                Type::ObjectPath => Value::ObjectPath(s),
                _ => Value::Signature(s),
            }
        }
        Type::Variant => {
            let sep = data
                .iter()
                .rposition(|&b| b == 0)
                .ok_or_else(|| malformed(ty, "variant without a type string"))?;
            let (child_ty, rest) = Type::parse_prefix(&data[sep + 1..], depth + 1)
                .map_err(|_| malformed(ty, "variant with an invalid type string"))?;
            if !rest.is_empty() {
                return Err(malformed(ty, "variant type string is not one type"));
            }
            Value::Variant(Box::new(decode(&child_ty, &data[..sep], depth + 1)?))
        }
        Type::Maybe(elem) => {
            if data.is_empty() {
                Value::Maybe((**elem).clone(), None)
            } else {
                let child = if elem.fixed_size().is_some() {
                    data
                } else {
                    match data.split_last() {
                        Some((0, child)) => child,
                        _ => return Err(malformed(ty, "maybe without its trailing NUL")),
                    }
                };
                Value::Maybe(
                    (**elem).clone(),
                    Some(Box::new(decode(elem, child, depth + 1)?)),
                )
            }
        }
        Type::Array(elem) if **elem == Type::Byte => Value::Bytes(data.to_vec()),
        Type::Array(elem) => {
            let children = array_children(elem, data)?
                .into_iter()
                .map(|child| decode(elem, child, depth + 1))
                .collect::<Result<_, _>>()?;
            Value::Array((**elem).clone(), children)
        }
        Type::Tuple(members) => {
            if members.is_empty() {
                if data != [0] {
                    return Err(malformed(ty, "unit tuple must be one zero byte"));
                }
                return Ok(Value::Tuple(Vec::new()));
            }
            let children = tuple_children(members, data)?;
            Value::Tuple(
                members
                    .iter()
                    .zip(children)
                    .map(|(t, child)| decode(t, child, depth + 1))
                    .collect::<Result<_, _>>()?,
            )
        }
        Type::DictEntry(k, v) => {
            let members = [(**k).clone(), (**v).clone()];
            let children = tuple_children(&members, data)?;
            Value::DictEntry(
                Box::new(decode(k, children[0], depth + 1)?),
                Box::new(decode(v, children[1], depth + 1)?),
            )
        }
    })
}

fn decode_str(ty: &Type, data: &[u8]) -> Result<String, Error> {
    match data.split_last() {
        Some((0, body)) => {
            if body.contains(&0) {
                return Err(malformed(ty, "string with an embedded NUL"));
            }
            let s = std::str::from_utf8(body).map_err(|_| malformed(ty, "string is not UTF-8"))?;
            if matches!(ty, Type::Signature) && !is_signature(s) {
                return Err(malformed(ty, "invalid signature"));
            }
            Ok(s.to_owned())
        }
        _ => Err(malformed(ty, "string without its trailing NUL")),
    }
}

fn is_signature(s: &str) -> bool {
    let mut rest = s.as_bytes();
    while !rest.is_empty() {
        match Type::parse_prefix(rest, 0) {
            Ok((_, r)) => rest = r,
            Err(_) => return false,
        }
    }
    true
}

/// Builds an `a{sv}` entry list value from ordered pairs.
pub fn vardict(entries: &[(String, Value)]) -> Value {
    Value::Array(
        Type::DictEntry(Box::new(Type::String), Box::new(Type::Variant)),
        entries
            .iter()
            .map(|(k, v)| {
                Value::DictEntry(
                    Box::new(Value::String(k.clone())),
                    Box::new(Value::Variant(Box::new(v.clone()))),
                )
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(ty: &str, value: Value, expected: &[u8]) {
        let t = Type::parse(ty).expect("type");
        assert_eq!(value.value_type(), t);
        let bytes = value.to_bytes();
        assert_eq!(bytes, expected, "encoding of {ty}");
        assert_eq!(Value::from_bytes(&t, &bytes).expect("decode"), value);
    }

    #[test]
    fn known_encodings() {
        round_trip("s", Value::String("hi".into()), b"hi\0");
        round_trip("u", Value::Uint32(1), &[1, 0, 0, 0]);
        round_trip(
            "as",
            Value::Array(Type::String, vec![Value::String("main".into())]),
            b"main\0\x05",
        );
        round_trip(
            "v",
            Value::Variant(Box::new(Value::String("1.0".into()))),
            b"1.0\0\0s",
        );
        round_trip("()", Value::Tuple(vec![]), &[0]);
        round_trip(
            "(yu)",
            Value::Tuple(vec![Value::Byte(7), Value::Uint32(2)]),
            &[7, 0, 0, 0, 2, 0, 0, 0],
        );
        round_trip(
            "(sy)",
            Value::Tuple(vec![Value::String("a".into()), Value::Byte(9)]),
            &[b'a', 0, 9, 2],
        );
        round_trip("mi", Value::Maybe(Type::Int32, None), &[]);
        round_trip(
            "ms",
            Value::Maybe(Type::String, Some(Box::new(Value::String("x".into())))),
            b"x\0\0",
        );
    }

    #[test]
    fn upstream_commit_bytes_round_trip() {
        // A commit written by upstream ostree 2022.7 (`commit -b main -s subj -m body
        // --timestamp=2020-01-01T00:00:00Z --add-metadata-string=version=1.0`).
        let hex = "76657273696f6e00312e3000007308006f73747265652e7265662d62696e64696e67000000\
                   0000006d61696e0005006173130f327375626a00626f6479000000000000005e0be100b18a\
                   4e697fda106e1ed1495e08539f17669983fa39a87b157d50650be48b0ea4446a0ef11b7cc1\
                   67f3b603e585c7eeeeb675faa412d5ec73f62988eb0b6c5488683e39343434";
        let bytes = hex::decode(hex.replace(' ', "")).expect("hex");
        let t = Type::parse("(a{sv}aya(say)sstayay)").expect("type");
        let v = Value::from_bytes(&t, &bytes).expect("decode");
        assert_eq!(v.to_bytes(), bytes);
    }

    #[test]
    fn rejects_non_normal_and_malformed() {
        let t = Type::parse("(uuua(ayay))").expect("type");
        // Trailing garbage, wrong size, or non-zero padding.
        for data in [&b""[..], &[0u8; 11], &[0u8; 13], &[1u8; 12]] {
            let _ = Value::from_bytes(&t, data); // must not panic
        }
        assert!(Value::from_bytes(&Type::Bool, &[2]).is_err());
        assert!(Value::from_bytes(&Type::String, b"a\0b\0").is_err());
        assert!(Value::from_bytes(&Type::String, b"ab").is_err());
        // `(sy)` with a two-byte offset where one byte suffices is not normal form.
        let t = Type::parse("(sy)").expect("type");
        assert!(Value::from_bytes(&t, &[b'a', 0, 9, 2, 0]).is_err());
    }

    #[test]
    fn never_panics_on_garbage() {
        let types = [
            "(a{sv}aya(say)sstayay)",
            "(a(say)a(sayay))",
            "(uuua(ayay))",
            "(a(s(taya{sv}))a{sv})",
            "v",
            "mas",
            "a(sayay)",
        ];
        let mut seed = 0x1234_5678_u64;
        for ty in types {
            let t = Type::parse(ty).expect("type");
            for len in 0..200 {
                let data: Vec<u8> = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        (seed % 7) as u8 // small bytes make plausible offsets
                    })
                    .collect();
                let _ = Value::from_bytes(&t, &data);
            }
        }
    }
}
