//! Commits `(a{sv}aya(say)sstayay)`: metadata, parent, related objects (always empty), subject,
//! body, timestamp (big-endian seconds), root dirtree and root dirmeta checksums.

use crate::Checksum;
use crate::gvariant::{self, Type, Value};

use super::{Metadata, ObjectError, checksum_field, invalid};

const KIND: &str = "commit";
const TYPE: &str = "(a{sv}aya(say)sstayay)";

/// An owned commit that encodes to normal form.
#[derive(Clone, Debug, PartialEq)]
pub struct Commit {
    /// The `a{sv}` metadata, in insertion order.
    pub metadata: Metadata,
    /// The parent commit.
    pub parent: Option<Checksum>,
    /// Related objects (upstream always writes none).
    pub related: Vec<(String, Checksum)>,
    /// One-line subject.
    pub subject: String,
    /// Body text.
    pub body: String,
    /// Seconds since the epoch, UTC.
    pub timestamp: u64,
    /// The root dirtree.
    pub root_tree: Checksum,
    /// The root dirmeta.
    pub root_meta: Checksum,
}

impl Commit {
    /// The commit variant.
    pub fn to_value(&self) -> Value {
        Value::Tuple(vec![
            self.metadata.to_value(),
            Value::Bytes(
                self.parent
                    .map(|p| p.as_bytes().to_vec())
                    .unwrap_or_default(),
            ),
            Value::Array(
                Type::Tuple(vec![Type::String, Type::Array(Box::new(Type::Byte))]),
                self.related
                    .iter()
                    .map(|(name, c)| {
                        Value::Tuple(vec![
                            Value::String(name.clone()),
                            Value::Bytes(c.as_bytes().to_vec()),
                        ])
                    })
                    .collect(),
            ),
            Value::String(self.subject.clone()),
            Value::String(self.body.clone()),
            Value::Uint64(self.timestamp.to_be()),
            Value::Bytes(self.root_tree.as_bytes().to_vec()),
            Value::Bytes(self.root_meta.as_bytes().to_vec()),
        ])
    }

    /// Normal-form bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_value().to_bytes()
    }

    /// The commit's checksum.
    pub fn checksum(&self) -> Checksum {
        Checksum::digest(&self.to_bytes())
    }

    /// Decodes and validates commit bytes.
    pub fn from_bytes(data: &[u8]) -> Result<Self, ObjectError> {
        CommitRef::parse(data)?.to_owned()
    }
}

/// A validated commit, reading fields out of the stored bytes on demand.
#[derive(Clone, Debug)]
pub struct CommitRef<'a> {
    fields: Vec<&'a [u8]>,
}

impl<'a> CommitRef<'a> {
    /// Checks normal form and field shapes (32-byte checksums, empty-or-32-byte parent).
    pub fn parse(data: &'a [u8]) -> Result<Self, ObjectError> {
        super::decode(KIND, TYPE, data)?;
        let Type::Tuple(members) = super::parse_type(TYPE) else {
            return Err(invalid(KIND, "type"));
        };
        let fields = gvariant::tuple_children(&members, data)
            .map_err(|source| ObjectError::Variant { kind: KIND, source })?;
        let this = CommitRef { fields };
        if !matches!(this.fields[1].len(), 0 | 32) {
            return Err(invalid(
                KIND,
                "parent checksum is neither empty nor 32 bytes",
            ));
        }
        checksum_field(KIND, "root dirtree checksum", this.fields[6])?;
        checksum_field(KIND, "root dirmeta checksum", this.fields[7])?;
        Ok(this)
    }

    /// The metadata dictionary.
    pub fn metadata(&self) -> Metadata {
        Metadata::from_bytes(self.fields[0]).unwrap_or_default()
    }

    /// The parent, if any.
    pub fn parent(&self) -> Option<Checksum> {
        Checksum::from_slice(self.fields[1]).ok()
    }

    /// The subject line.
    pub fn subject(&self) -> &'a str {
        str_field(self.fields[3])
    }

    /// The body.
    pub fn body(&self) -> &'a str {
        str_field(self.fields[4])
    }

    /// Seconds since the epoch.
    pub fn timestamp(&self) -> u64 {
        let mut buf = [0u8; 8];
        buf.copy_from_slice(self.fields[5]);
        u64::from_be_bytes(buf)
    }

    /// The root dirtree.
    pub fn root_tree(&self) -> Checksum {
        checksum_field(KIND, "root", self.fields[6]).unwrap_or(Checksum::from_array([0; 32]))
    }

    /// The root dirmeta.
    pub fn root_meta(&self) -> Checksum {
        checksum_field(KIND, "root", self.fields[7]).unwrap_or(Checksum::from_array([0; 32]))
    }

    /// An owned copy.
    pub fn to_owned(&self) -> Result<Commit, ObjectError> {
        let related_value = Value::from_bytes(&super::parse_type("a(say)"), self.fields[2])
            .map_err(|source| ObjectError::Variant { kind: KIND, source })?;
        let mut related = Vec::new();
        if let Value::Array(_, entries) = related_value {
            for entry in entries {
                if let Value::Tuple(pair) = entry
                    && let [Value::String(name), Value::Bytes(c)] = pair.as_slice()
                {
                    related.push((name.clone(), checksum_field(KIND, "related checksum", c)?));
                }
            }
        }
        Ok(Commit {
            metadata: self.metadata(),
            parent: self.parent(),
            related,
            subject: self.subject().to_owned(),
            body: self.body().to_owned(),
            timestamp: self.timestamp(),
            root_tree: self.root_tree(),
            root_meta: self.root_meta(),
        })
    }
}

fn str_field(bytes: &[u8]) -> &str {
    // parse() proved each string field is NUL-terminated UTF-8.
    std::str::from_utf8(bytes.strip_suffix(&[0]).unwrap_or(bytes)).unwrap_or("")
}

/// Commit metadata key: the refs the commit may be reached by (`as`).
pub const REF_BINDING: &str = "ostree.ref-binding";
/// Commit metadata key: the collection the commit belongs to (`s`).
pub const COLLECTION_BINDING: &str = "ostree.collection-binding";

/// A commit reached by a ref (or from a collection) its bindings do not name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BindingError(pub String);

/// The refs in a commit's `ostree.ref-binding`; `None` when the key is absent or not an `as`.
///
/// ```
/// use rostree_core::gvariant::{Type, Value};
/// use rostree_core::object::{Metadata, REF_BINDING, ref_bindings};
///
/// let mut metadata = Metadata::new();
/// assert_eq!(ref_bindings(&metadata), None);
///
/// let refs = vec![Value::String("main".into()), Value::String("devel".into())];
/// metadata.push(REF_BINDING, Value::Array(Type::String, refs));
/// assert_eq!(ref_bindings(&metadata), Some(vec!["main", "devel"]));
/// ```
pub fn ref_bindings(metadata: &Metadata) -> Option<Vec<&str>> {
    match metadata.get(REF_BINDING)? {
        Value::Array(Type::String, items) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Some(s.as_str()),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// Checks that a commit reached by `ref_name` (and, from a collection, `collection_id`) is
/// bound to them, as upstream does on pull and in `fsck --verify-bindings`. A commit without
/// ref bindings passes unless a collection is asked for: older commits predate bindings.
///
/// ```
/// use rostree_core::gvariant::{Type, Value};
/// use rostree_core::object::{Metadata, REF_BINDING, verify_bindings};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // Older commits without bindings pass when no collection is asked for.
/// verify_bindings(&Metadata::new(), None, Some("main"))?;
///
/// let mut metadata = Metadata::new();
/// let refs = vec![Value::String("main".into())];
/// metadata.push(REF_BINDING, Value::Array(Type::String, refs));
/// verify_bindings(&metadata, None, Some("main"))?;
///
/// let err = verify_bindings(&metadata, None, Some("other")).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "Commit has no requested ref \u{2018}other\u{2019} in ref binding metadata \
///      (\u{2018}main\u{2019})"
/// );
/// # Ok(())
/// # }
/// ```
pub fn verify_bindings(
    metadata: &Metadata,
    collection_id: Option<&str>,
    ref_name: Option<&str>,
) -> Result<(), BindingError> {
    let refs = ref_bindings(metadata);
    if refs.is_none() && collection_id.is_some() {
        return Err(BindingError(
            "Expected commit metadata to have ref binding information, found none".into(),
        ));
    }
    if let (Some(refs), Some(wanted)) = (&refs, ref_name)
        && !refs.contains(&wanted)
    {
        let listed = if refs.is_empty() {
            "no refs".to_owned()
        } else {
            refs.iter()
                .map(|r| format!("\u{2018}{r}\u{2019}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(BindingError(format!(
            "Commit has no requested ref \u{2018}{wanted}\u{2019} in ref binding metadata ({listed})"
        )));
    }
    if let Some(wanted) = collection_id {
        match metadata.get(COLLECTION_BINDING) {
            Some(Value::String(bound)) if bound == wanted => {}
            Some(Value::String(bound)) => {
                return Err(BindingError(format!(
                    "Commit has collection ID \u{2018}{bound}\u{2019} in collection binding \
                     metadata, while the remote it came from has collection ID \
                     \u{2018}{wanted}\u{2019}"
                )));
            }
            _ => {
                return Err(BindingError(
                    "Expected commit metadata to have collection ID binding information, found \
                     none"
                        .into(),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPSTREAM: &str = "76657273696f6e00312e3000007308006f73747265652e7265662d62696e64696e670000\
        000000006d61696e0005006173130f327375626a00626f6479000000000000005e0be100b18a4e697fda106e1e\
        d1495e08539f17669983fa39a87b157d50650be48b0ea4446a0ef11b7cc167f3b603e585c7eeeeb675faa412d5\
        ec73f62988eb0b6c5488683e39343434";

    #[test]
    fn reads_and_rebuilds_upstream_commit() {
        let bytes = hex::decode(UPSTREAM).expect("hex");
        let view = CommitRef::parse(&bytes).expect("parses");
        assert_eq!(view.subject(), "subj");
        assert_eq!(view.body(), "body");
        assert_eq!(view.timestamp(), 1_577_836_800);
        assert_eq!(view.parent(), None);
        assert_eq!(view.metadata().get_str("version"), Some("1.0"));
        let owned = view.to_owned().expect("owned");
        assert_eq!(owned.to_bytes(), bytes);
        assert_eq!(
            owned.checksum().to_hex(),
            "b16725118a1d5aab24b2bcc316cc8e6c2840cee6ac4ade9a9b75a5282748d1f0"
        );
    }

    #[test]
    fn bindings_as_upstream_words_them() {
        let meta = |refs: Option<&[&str]>, collection: Option<&str>| {
            let mut m = Metadata::new();
            if let Some(refs) = refs {
                let items = refs.iter().map(|s| Value::String((*s).into())).collect();
                m.push(REF_BINDING, Value::Array(Type::String, items));
            }
            if let Some(c) = collection {
                m.push(COLLECTION_BINDING, Value::String(c.into()));
            }
            m
        };
        let no_ref = "Commit has no requested ref";
        // (metadata, collection asked for, ref asked for, the error expected)
        type Case<'a> = (Metadata, Option<&'a str>, Option<&'a str>, Option<String>);
        let cases: &[Case] = &[
            (meta(Some(&["main"]), None), None, Some("main"), None),
            (meta(None, None), None, Some("main"), None),
            (meta(Some(&["a", "b"]), None), None, None, None),
            (
                meta(Some(&["main", "x"]), None),
                None,
                Some("other"),
                Some(format!(
                    "{no_ref} ‘other’ in ref binding metadata (‘main’, ‘x’)"
                )),
            ),
            (
                meta(Some(&[]), None),
                None,
                Some("orph"),
                Some(format!("{no_ref} ‘orph’ in ref binding metadata (no refs)")),
            ),
            (
                meta(None, Some("org.x")),
                Some("org.x"),
                Some("main"),
                Some("Expected commit metadata to have ref binding information, found none".into()),
            ),
            (meta(Some(&["main"]), Some("org.x")), Some("org.x"), Some("main"), None),
            (
                meta(Some(&["main"]), None),
                Some("org.x"),
                Some("main"),
                Some(
                    "Expected commit metadata to have collection ID binding information, found none"
                        .into(),
                ),
            ),
            (
                meta(Some(&["main"]), Some("org.y")),
                Some("org.x"),
                Some("main"),
                Some(
                    "Commit has collection ID ‘org.y’ in collection binding metadata, while the \
                     remote it came from has collection ID ‘org.x’"
                        .into(),
                ),
            ),
        ];
        for (metadata, collection, r, want) in cases {
            let got = verify_bindings(metadata, *collection, *r)
                .err()
                .map(|e| e.0);
            assert_eq!(got, *want, "{metadata:?} {collection:?} {r:?}");
        }
    }

    #[test]
    fn rejects_bad_parent() {
        let bytes = hex::decode(UPSTREAM).expect("hex");
        let mut commit = Commit::from_bytes(&bytes).expect("parses");
        commit.parent = None;
        let mut value = commit.to_value();
        if let Value::Tuple(fields) = &mut value {
            fields[1] = Value::Bytes(vec![1; 5]);
        }
        assert!(CommitRef::parse(&value.to_bytes()).is_err());
    }
}
