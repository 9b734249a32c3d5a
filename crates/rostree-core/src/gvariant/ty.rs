//! GVariant type strings (`a{sv}`, `(uuua(ayay))`, ...).

use std::fmt;

use super::Error;

/// Nesting deeper than this is refused (GLib's limit too), so hostile data cannot exhaust
/// the stack.
pub const MAX_DEPTH: usize = 128;

/// A complete GVariant type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // the variants are named after the GVariant basic types
pub enum Type {
    Bool,
    Byte,
    Int16,
    Uint16,
    Int32,
    Uint32,
    Int64,
    Uint64,
    Handle,
    Double,
    String,
    ObjectPath,
    Signature,
    Variant,
    Maybe(Box<Type>),
    Array(Box<Type>),
    Tuple(Vec<Type>),
    DictEntry(Box<Type>, Box<Type>),
}

impl Type {
    /// Parses exactly one complete type from `s`.
    pub fn parse(s: &str) -> Result<Type, Error> {
        let (ty, rest) = Self::parse_prefix(s.as_bytes(), 0)?;
        if !rest.is_empty() {
            return Err(Error::InvalidType(s.to_owned()));
        }
        Ok(ty)
    }

    /// Parses one complete type from the front of `s`, returning the rest.
    pub fn parse_prefix(s: &[u8], depth: usize) -> Result<(Type, &[u8]), Error> {
        let invalid = || Error::InvalidType(String::from_utf8_lossy(s).into_owned());
        if depth > MAX_DEPTH {
            return Err(Error::TooDeep);
        }
        let (&c, rest) = s.split_first().ok_or_else(invalid)?;
        let basic = match c {
            b'b' => Type::Bool,
            b'y' => Type::Byte,
            b'n' => Type::Int16,
            b'q' => Type::Uint16,
            b'i' => Type::Int32,
            b'u' => Type::Uint32,
            b'x' => Type::Int64,
            b't' => Type::Uint64,
            b'h' => Type::Handle,
            b'd' => Type::Double,
            b's' => Type::String,
            b'o' => Type::ObjectPath,
            b'g' => Type::Signature,
            b'v' => Type::Variant,
            b'm' => {
                let (inner, rest) = Self::parse_prefix(rest, depth + 1)?;
                return Ok((Type::Maybe(Box::new(inner)), rest));
            }
            b'a' => {
                let (inner, rest) = Self::parse_prefix(rest, depth + 1)?;
                return Ok((Type::Array(Box::new(inner)), rest));
            }
            b'(' => {
                let mut members = Vec::new();
                let mut rest = rest;
                loop {
                    match rest.first() {
                        Some(b')') => return Ok((Type::Tuple(members), &rest[1..])),
                        Some(_) => {
                            let (member, r) = Self::parse_prefix(rest, depth + 1)?;
                            members.push(member);
                            rest = r;
                        }
                        None => return Err(invalid()),
                    }
                }
            }
            b'{' => {
                let (key, rest) = Self::parse_prefix(rest, depth + 1)?;
                if !key.is_basic() {
                    return Err(invalid());
                }
                let (value, rest) = Self::parse_prefix(rest, depth + 1)?;
                return match rest.split_first() {
                    Some((b'}', rest)) => {
                        Ok((Type::DictEntry(Box::new(key), Box::new(value)), rest))
                    }
                    _ => Err(invalid()),
                };
            }
            _ => return Err(invalid()),
        };
        Ok((basic, rest))
    }

    /// Basic types may be dictionary keys.
    pub fn is_basic(&self) -> bool {
        !matches!(
            self,
            Type::Variant | Type::Maybe(_) | Type::Array(_) | Type::Tuple(_) | Type::DictEntry(..)
        )
    }

    /// The alignment of serialized values of this type: 1, 2, 4 or 8.
    pub fn alignment(&self) -> usize {
        match self {
            Type::Bool | Type::Byte | Type::String | Type::ObjectPath | Type::Signature => 1,
            Type::Int16 | Type::Uint16 => 2,
            Type::Int32 | Type::Uint32 | Type::Handle => 4,
            Type::Int64 | Type::Uint64 | Type::Double | Type::Variant => 8,
            Type::Maybe(t) | Type::Array(t) => t.alignment(),
            Type::Tuple(ts) => ts.iter().map(Type::alignment).max().unwrap_or(1),
            Type::DictEntry(k, v) => k.alignment().max(v.alignment()),
        }
    }

    /// The size of every serialized value of this type, if it is fixed.
    pub fn fixed_size(&self) -> Option<usize> {
        match self {
            Type::Bool | Type::Byte => Some(1),
            Type::Int16 | Type::Uint16 => Some(2),
            Type::Int32 | Type::Uint32 | Type::Handle => Some(4),
            Type::Int64 | Type::Uint64 | Type::Double => Some(8),
            Type::String
            | Type::ObjectPath
            | Type::Signature
            | Type::Variant
            | Type::Maybe(_)
            | Type::Array(_) => None,
            Type::Tuple(ts) => fixed_tuple_size(ts.iter()),
            Type::DictEntry(k, v) => fixed_tuple_size([k.as_ref(), v.as_ref()].into_iter()),
        }
    }
}

fn fixed_tuple_size<'a>(members: impl Iterator<Item = &'a Type>) -> Option<usize> {
    let mut size = 0usize;
    let mut align = 1usize;
    for member in members {
        let member_size = member.fixed_size()?;
        let member_align = member.alignment();
        align = align.max(member_align);
        size = size.next_multiple_of(member_align) + member_size;
    }
    if size == 0 {
        // The unit tuple `()` is serialized as one zero byte.
        return Some(1);
    }
    Some(size.next_multiple_of(align))
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = match self {
            Type::Bool => "b",
            Type::Byte => "y",
            Type::Int16 => "n",
            Type::Uint16 => "q",
            Type::Int32 => "i",
            Type::Uint32 => "u",
            Type::Int64 => "x",
            Type::Uint64 => "t",
            Type::Handle => "h",
            Type::Double => "d",
            Type::String => "s",
            Type::ObjectPath => "o",
            Type::Signature => "g",
            Type::Variant => "v",
            Type::Maybe(t) => return write!(f, "m{t}"),
            Type::Array(t) => return write!(f, "a{t}"),
            Type::Tuple(ts) => {
                f.write_str("(")?;
                for t in ts {
                    write!(f, "{t}")?;
                }
                return f.write_str(")");
            }
            Type::DictEntry(k, v) => return write!(f, "{{{k}{v}}}"),
        };
        f.write_str(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        for s in [
            "(a{sv}aya(say)sstayay)",
            "(a(say)a(sayay))",
            "(uuua(ayay))",
            "(tuuuusa(ayay))",
            "(a(s(taya{sv}))a{sv})",
            "mas",
            "()",
            "a{s(ii)}",
        ] {
            assert_eq!(Type::parse(s).expect(s).to_string(), s);
        }
    }

    #[test]
    fn rejects_malformed() {
        for s in ["", "(", "a", "{sv}x", "{vs}", "(u", "z", "{s}", "uu"] {
            assert!(Type::parse(s).is_err(), "{s:?} should be rejected");
        }
        let deep = "a".repeat(1000) + "y";
        assert!(Type::parse(&deep).is_err());
    }

    #[test]
    fn sizes_and_alignment() {
        let cases = [
            ("u", Some(4), 4),
            ("(uuu)", Some(12), 4),
            ("(yu)", Some(8), 4),
            ("(uy)", Some(8), 4),
            ("(ty)", Some(16), 8),
            ("()", Some(1), 1),
            ("(uuua(ayay))", None, 4),
            ("{sv}", None, 8),
        ];
        for (s, size, align) in cases {
            let t = Type::parse(s).expect(s);
            assert_eq!(t.fixed_size(), size, "{s}");
            assert_eq!(t.alignment(), align, "{s}");
        }
    }
}
