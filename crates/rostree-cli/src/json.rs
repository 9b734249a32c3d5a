//! `--json`: every reporting command prints one JSON object, whose schema docs/json.md
//! gives. The conventions, shared here so that no command drifts from them:
//! - field names are snake_case (except `admin status`, which keeps upstream's names);
//! - checksums are lowercase hex strings;
//! - a time `T` is given twice: `T` as RFC 3339 in UTC and `T_unix` as Unix seconds;
//! - a value that is absent is `null`, never a missing field;
//! - GVariant metadata becomes an object of its keys (see [`variant`]);
//! - an error is `{"error": {"message": ...}}` on stderr, with exit code 1 (but for
//!   `admin status`, whose `--json` is upstream's).

use std::ffi::OsString;

use anyhow::Result;
use rostree::Checksum;
use rostree::core::gvariant::{Type, Value as Variant};
use rostree::core::object::{Commit, Metadata, Xattrs};
use serde_json::{Map, Value, json};

use crate::util;

/// Prints `value` on stdout, pretty, with a final newline.
pub fn print(value: &Value) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    util::write_stdout(text.as_bytes())
}

/// A checksum as JSON: its hex, or null.
pub fn checksum(c: Option<&Checksum>) -> Value {
    c.map_or(Value::Null, |c| Value::String(c.to_hex()))
}

/// Adds the time `name` (Unix seconds) to `object`, as RFC 3339 and as `name_unix`.
pub fn insert_time(object: &mut Map<String, Value>, name: &str, unix: u64) {
    insert_optional_time(object, name, Some(unix));
}

/// [`insert_time`] for a time that may be absent: both fields are then null.
pub fn insert_optional_time(object: &mut Map<String, Value>, name: &str, unix: Option<u64>) {
    object.insert(
        name.to_owned(),
        unix.and_then(rfc3339).map_or(Value::Null, |t| json!(t)),
    );
    object.insert(
        format!("{name}_unix"),
        unix.map_or(Value::Null, |t| json!(t)),
    );
}

/// Unix seconds as RFC 3339 in UTC (`2024-05-01T12:00:00Z`); `None` past what RFC 3339
/// can write (year 9999).
pub fn rfc3339(unix: u64) -> Option<String> {
    let time = chrono::DateTime::from_timestamp(i64::try_from(unix).ok()?, 0)?;
    (time.format("%Y").to_string().len() == 4)
        .then(|| time.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// A commit's facts, as `log`, `show` and the commit fields of other commands give them.
pub fn commit(checksum: &Checksum, commit: &Commit) -> Value {
    let mut object = Map::new();
    object.insert("checksum".into(), json!(checksum.to_hex()));
    object.insert("parent".into(), self::checksum(commit.parent.as_ref()));
    object.insert("subject".into(), json!(commit.subject));
    object.insert("body".into(), json!(commit.body));
    insert_time(&mut object, "timestamp", commit.timestamp);
    object.insert(
        "version".into(),
        commit
            .metadata
            .get_str("version")
            .map_or(Value::Null, |v| json!(v)),
    );
    object.insert(
        "content_checksum".into(),
        json!(util::content_checksum(commit).to_hex()),
    );
    object.insert("root_tree".into(), json!(commit.root_tree.to_hex()));
    object.insert("root_meta".into(), json!(commit.root_meta.to_hex()));
    object.insert("metadata".into(), metadata(&commit.metadata));
    Value::Object(object)
}

/// An `a{sv}` dictionary as an object of its keys.
pub fn metadata(metadata: &Metadata) -> Value {
    Value::Object(
        metadata
            .0
            .iter()
            .map(|(key, value)| (key.clone(), variant(value)))
            .collect(),
    )
}

/// Extended attributes as an object: each name (its trailing NUL dropped) to its value in
/// hex, since values are bytes.
pub fn xattrs(xattrs: &Xattrs) -> Value {
    Value::Object(
        xattrs
            .0
            .iter()
            .map(|(name, value)| {
                let name = name.strip_suffix(b"\0").unwrap_or(name);
                (
                    String::from_utf8_lossy(name).into_owned(),
                    json!(hex::encode(value)),
                )
            })
            .collect(),
    )
}

/// A GVariant value as JSON: numbers, booleans and strings as themselves; `ay` as hex (a
/// checksum is the usual `ay`); a variant as what it holds; a maybe as null or its value;
/// a dictionary with string keys as an object; other arrays and tuples as arrays.
pub fn variant(value: &Variant) -> Value {
    match value {
        Variant::Bool(b) => json!(b),
        Variant::Byte(n) => json!(n),
        Variant::Int16(n) => json!(n),
        Variant::Uint16(n) => json!(n),
        Variant::Int32(n) | Variant::Handle(n) => json!(n),
        Variant::Uint32(n) => json!(n),
        Variant::Int64(n) => json!(n),
        Variant::Uint64(n) => json!(n),
        Variant::Double(n) => json!(n),
        Variant::String(s) | Variant::ObjectPath(s) | Variant::Signature(s) => json!(s),
        Variant::Variant(inner) => variant(inner),
        Variant::Maybe(_, inner) => inner.as_deref().map_or(Value::Null, variant),
        Variant::Bytes(bytes) => json!(hex::encode(bytes)),
        // A dictionary by its type, so that an empty one is `{}` as a full one is.
        Variant::Array(Type::DictEntry(key, _), items) if **key == Type::String => {
            let mut object = Map::new();
            for item in items {
                if let Variant::DictEntry(key, value) = item
                    && let Variant::String(key) = key.as_ref()
                {
                    object.insert(key.clone(), variant(value));
                }
            }
            Value::Object(object)
        }
        Variant::Array(_, items) => Value::Array(items.iter().map(variant).collect()),
        Variant::Tuple(items) => Value::Array(items.iter().map(variant).collect()),
        Variant::DictEntry(key, value) => json!([variant(key), variant(value)]),
    }
}

/// Whether the command line asks for JSON errors: a `--json` before any `--`, but not for
/// `admin status`, whose `--json` is upstream's and whose errors stay upstream's text.
pub fn requested(args: &[OsString]) -> bool {
    let options = || args.iter().skip(1).take_while(|a| *a != "--");
    let mut verbs = options().filter(|a| !a.to_string_lossy().starts_with('-'));
    if verbs.next().is_some_and(|v| v == "admin") && verbs.next().is_some_and(|v| v == "status") {
        return false;
    }
    options().any(|a| a == "--json")
}

/// The error object printed on stderr in place of `error: ...`.
pub fn error(message: &str) -> String {
    let mut text = json!({ "error": { "message": message } }).to_string();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_in_utc() {
        for (unix, text) in [
            (0, "1970-01-01T00:00:00Z"),
            (1_577_836_800, "2020-01-01T00:00:00Z"),
            (1_700_000_001, "2023-11-14T22:13:21Z"),
        ] {
            assert_eq!(rfc3339(unix).as_deref(), Some(text));
        }
    }

    #[test]
    fn variants_become_plain_json() {
        let cases = [
            (Variant::String("1.0".into()), json!("1.0")),
            (Variant::Uint64(7), json!(7)),
            (Variant::Bool(true), json!(true)),
            (Variant::Bytes(vec![0xab, 0x01]), json!("ab01")),
            (Variant::Variant(Box::new(Variant::Int32(-3))), json!(-3)),
            (Variant::Maybe(Type::String, None), Value::Null),
            (
                Variant::Array(
                    Type::String,
                    vec![Variant::String("a".into()), Variant::String("b".into())],
                ),
                json!(["a", "b"]),
            ),
            (
                Variant::Array(
                    Type::DictEntry(Box::new(Type::String), Box::new(Type::Variant)),
                    vec![Variant::DictEntry(
                        Box::new(Variant::String("k".into())),
                        Box::new(Variant::Variant(Box::new(Variant::Uint32(1)))),
                    )],
                ),
                json!({"k": 1}),
            ),
            (
                Variant::Tuple(vec![Variant::Byte(1), Variant::String("x".into())]),
                json!([1, "x"]),
            ),
        ];
        for (value, wanted) in cases {
            assert_eq!(variant(&value), wanted, "{value:?}");
        }
        let empty_dict = Variant::Array(
            Type::DictEntry(Box::new(Type::String), Box::new(Type::Variant)),
            Vec::new(),
        );
        assert_eq!(variant(&empty_dict), json!({}));
        assert_eq!(
            variant(&Variant::Array(Type::String, Vec::new())),
            json!([])
        );
        assert_eq!(rfc3339(u64::MAX), None);
        assert_eq!(rfc3339(253_402_300_800), None, "year 10000");
    }

    #[test]
    fn json_is_asked_for_before_a_double_dash() {
        let args = |list: &[&str]| list.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(requested(&args(&["ostree", "log", "--json", "x"])));
        assert!(!requested(&args(&["ostree", "log", "x"])));
        assert!(!requested(&args(&["ostree", "cat", "--", "--json"])));
        assert!(requested(&args(&[
            "ostree",
            "admin",
            "config-diff",
            "--json"
        ])));
        assert!(!requested(&args(&["ostree", "admin", "status", "--json"])));
    }
}
