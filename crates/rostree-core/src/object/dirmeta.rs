//! Directory metadata `(uuua(ayay))` and extended attributes `a(ayay)`.

use crate::Checksum;
use crate::gvariant::{Type, Value};

use super::{ObjectError, be_u32, decode, invalid};

/// Extended attributes as (name, value) pairs, names without their trailing NUL. OSTree
/// stores them sorted by name; [`Xattrs::sorted`] gives that order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Xattrs(pub Vec<(Vec<u8>, Vec<u8>)>);

impl Xattrs {
    /// No attributes.
    pub fn new() -> Self {
        Self::default()
    }

    /// The same attributes sorted by name, as upstream records them.
    pub fn sorted(mut self) -> Self {
        self.0.sort_by(|a, b| a.0.cmp(&b.0));
        self
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `a(ayay)` value; names gain the trailing NUL that upstream stores.
    pub fn to_value(&self) -> Value {
        Value::Array(
            Type::Tuple(vec![
                Type::Array(Box::new(Type::Byte)),
                Type::Array(Box::new(Type::Byte)),
            ]),
            self.0
                .iter()
                .map(|(name, value)| {
                    let mut n = name.clone();
                    n.push(0);
                    Value::Tuple(vec![Value::Bytes(n), Value::Bytes(value.clone())])
                })
                .collect(),
        )
    }

    /// Normal-form `a(ayay)` bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_value().to_bytes()
    }

    /// Reads a decoded `a(ayay)`.
    pub fn from_value(kind: &'static str, value: &Value) -> Result<Self, ObjectError> {
        let bad = || invalid(kind, "malformed xattrs");
        let Value::Array(_, entries) = value else {
            return Err(bad());
        };
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            let Value::Tuple(pair) = entry else {
                return Err(bad());
            };
            match pair.as_slice() {
                [Value::Bytes(name), Value::Bytes(v)] => {
                    let Some((0, name)) = name.split_last() else {
                        return Err(invalid(kind, "xattr name without its trailing NUL"));
                    };
                    if name.is_empty() || name.contains(&0) {
                        return Err(invalid(kind, "invalid xattr name"));
                    }
                    out.push((name.to_vec(), v.clone()));
                }
                _ => return Err(bad()),
            }
        }
        Ok(Xattrs(out))
    }

    /// Decodes normal-form `a(ayay)` bytes.
    pub fn from_bytes(data: &[u8]) -> Result<Self, ObjectError> {
        Self::from_value("xattrs", &decode("xattrs", "a(ayay)", data)?)
    }
}

/// Directory ownership, mode (with `S_IFDIR`) and xattrs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DirMeta {
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Full `st_mode`.
    pub mode: u32,
    /// Extended attributes.
    pub xattrs: Xattrs,
}

impl DirMeta {
    /// The `(uuua(ayay))` value, integers big-endian as upstream stores them.
    pub fn to_value(&self) -> Value {
        Value::Tuple(vec![
            Value::Uint32(self.uid.to_be()),
            Value::Uint32(self.gid.to_be()),
            Value::Uint32(self.mode.to_be()),
            self.xattrs.to_value(),
        ])
    }

    /// Normal-form bytes, which are what the checksum is taken over.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_value().to_bytes()
    }

    /// The dirmeta object's checksum.
    pub fn checksum(&self) -> Checksum {
        Checksum::digest(&self.to_bytes())
    }

    /// Decodes a dirmeta object (also the bare-user `user.ostreemeta` layout).
    pub fn from_bytes(data: &[u8]) -> Result<Self, ObjectError> {
        let value = decode("dirmeta", "(uuua(ayay))", data)?;
        let Value::Tuple(fields) = &value else {
            return Err(invalid("dirmeta", "not a tuple"));
        };
        Ok(DirMeta {
            uid: be_u32(&fields[0]),
            gid: be_u32(&fields[1]),
            mode: be_u32(&fields[2]),
            xattrs: Xattrs::from_value("dirmeta", &fields[3])?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_upstream_dirmeta() {
        // The dirmeta upstream writes for a root-owned 0755 directory without xattrs.
        let meta = DirMeta {
            uid: 0,
            gid: 0,
            mode: 0o40755,
            xattrs: Xattrs::new(),
        };
        assert_eq!(
            meta.checksum().to_hex(),
            "446a0ef11b7cc167f3b603e585c7eeeeb675faa412d5ec73f62988eb0b6c5488"
        );
        assert_eq!(
            DirMeta::from_bytes(&meta.to_bytes()).expect("decodes"),
            meta
        );
    }

    #[test]
    fn xattr_names_need_nul() {
        let value = Value::Array(
            crate::object::parse_type("(ayay)"),
            vec![Value::Tuple(vec![
                Value::Bytes(b"user.a".to_vec()),
                Value::Bytes(vec![]),
            ])],
        );
        assert!(Xattrs::from_value("t", &value).is_err());
    }
}
