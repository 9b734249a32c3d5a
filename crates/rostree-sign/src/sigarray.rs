//! Signatures as detached metadata keeps them: an `aay` under one key (`ostree.gpgsigs`,
//! `ostree.sign.ed25519`), in the order they were added.

use rostree_core::gvariant::{Type, Value};
use rostree_core::object::Metadata;

fn byte_array() -> Type {
    Type::Array(Box::new(Type::Byte))
}

/// The signatures under `key` (none when it is absent); `None` when it holds another type.
pub(crate) fn read(metadata: &Metadata, key: &str) -> Option<Vec<Vec<u8>>> {
    match metadata.get(key) {
        None => Some(Vec::new()),
        Some(Value::Array(ty, items)) if *ty == byte_array() => items
            .iter()
            .map(|v| match v {
                Value::Bytes(b) => Some(b.clone()),
                _ => None,
            })
            .collect(),
        Some(_) => None,
    }
}

/// Replaces the signatures under `key`; with none, the key goes. As upstream edits the
/// metadata through a `GVariantDict`, the entries come out in GLib's hash-table order.
pub(crate) fn write(metadata: &mut Metadata, key: &str, signatures: &[Vec<u8>]) {
    let value = (!signatures.is_empty()).then(|| {
        Value::Array(
            byte_array(),
            signatures.iter().cloned().map(Value::Bytes).collect(),
        )
    });
    *metadata = metadata.edited_as_dict(key, value);
}

/// Adds `signature` after those under `key`; `None` when the key holds another type.
pub(crate) fn append(metadata: &mut Metadata, key: &str, signature: &[u8]) -> Option<()> {
    let mut all = read(metadata, key)?;
    all.push(signature.to_vec());
    write(metadata, key, &all);
    Some(())
}
