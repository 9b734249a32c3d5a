//! `a{sv}` metadata dictionaries, kept in order.

use crate::gvariant::{self, Type, Value};

use super::ObjectError;

/// An `a{sv}` kept as an ordered list. Order and duplicate keys are preserved because they
/// change the serialized bytes, and so the checksum of the object holding them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metadata(pub Vec<(String, Value)>);

impl Metadata {
    /// An empty dictionary.
    pub fn new() -> Self {
        Self::default()
    }

    /// The first value stored under `key`, unwrapped from its variant.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The string under `key`, if it is one.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    /// Appends an entry (after any existing ones).
    pub fn push(&mut self, key: impl Into<String>, value: Value) {
        self.0.push((key.into(), value));
    }

    /// Replaces the first entry under `key` in place, or appends.
    pub fn set(&mut self, key: &str, value: Value) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => self.0.push((key.to_owned(), value)),
        }
    }

    /// Removes every entry under `key`.
    pub fn remove(&mut self, key: &str) {
        self.0.retain(|(k, _)| k != key);
    }

    /// The metadata after upstream edits it through a `GVariantDict` (how it adds and
    /// removes signatures): entries go into a GLib hash table in order (a repeated key
    /// keeps its first place and its last value), `key` is set to `value` (or removed, for
    /// `None`), and the result comes out in the table's order.
    pub fn edited_as_dict(&self, key: &str, value: Option<Value>) -> Metadata {
        let mut table = crate::ghash::HashOrder::new();
        for (k, v) in &self.0 {
            table.insert(k.clone(), v.clone(), crate::ghash::str_hash(k.as_bytes()));
        }
        let hash = crate::ghash::str_hash(key.as_bytes());
        match value {
            Some(v) => table.insert(key.to_owned(), v, hash),
            None => {
                table.remove(&key.to_owned(), hash);
            }
        }
        Metadata(table.into_entries())
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `a{sv}` value.
    pub fn to_value(&self) -> Value {
        gvariant::vardict(&self.0)
    }

    /// Normal-form bytes of the `a{sv}`.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_value().to_bytes()
    }

    /// Decodes normal-form `a{sv}` bytes.
    pub fn from_bytes(data: &[u8]) -> Result<Self, ObjectError> {
        let value = super::decode("metadata", "a{sv}", data)?;
        Self::from_value(&value).ok_or_else(|| super::invalid("metadata", "not an a{sv}"))
    }

    /// Reads an already decoded `a{sv}` value.
    pub fn from_value(value: &Value) -> Option<Self> {
        let Value::Array(Type::DictEntry(..), entries) = value else {
            return None;
        };
        entries
            .iter()
            .map(|entry| match entry {
                Value::DictEntry(k, v) => match (k.as_ref(), v.as_ref()) {
                    (Value::String(k), Value::Variant(v)) => Some((k.clone(), (**v).clone())),
                    _ => None,
                },
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .map(Metadata)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_duplicates() {
        let mut m = Metadata::new();
        m.push("b", Value::String("1".into()));
        m.push("a", Value::Uint32(2));
        m.push("b", Value::String("3".into()));
        let bytes = m.to_bytes();
        let back = Metadata::from_bytes(&bytes).expect("decodes");
        assert_eq!(back, m);
        assert_eq!(back.get_str("b"), Some("1"));
    }
}
