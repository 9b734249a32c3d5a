//! The summary file `(a(s(taya{sv}))a{sv})`: refs sorted by name, each with the commit's size,
//! checksum and per-ref metadata, then repository-wide metadata.

use crate::Checksum;
use crate::gvariant::{Type, Value};

use super::{Metadata, ObjectError, checksum_field, invalid, parse_type};

const KIND: &str = "summary";

/// One ref entry of a summary.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryRef {
    /// Size of the commit object in bytes.
    pub commit_size: u64,
    /// The commit the ref points to.
    pub checksum: Checksum,
    /// Per-ref metadata (`ostree.commit.timestamp`, `ostree.commit.version`).
    pub metadata: Metadata,
}

/// A summary file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// Refs; encoded sorted by name.
    pub refs: Vec<(String, SummaryRef)>,
    /// Repository metadata (`ostree.static-deltas`, `ostree.summary.last-modified`, ...).
    pub metadata: Metadata,
}

fn ref_entry_type() -> Type {
    parse_type("(s(taya{sv}))")
}

/// Encodes a list of refs as the `a(s(taya{sv}))` value (also used by collection maps).
pub(crate) fn refs_value(refs: &[(String, SummaryRef)]) -> Value {
    let mut sorted: Vec<_> = refs.iter().collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    Value::Array(
        ref_entry_type(),
        sorted
            .into_iter()
            .map(|(name, r)| {
                Value::Tuple(vec![
                    Value::String(name.clone()),
                    Value::Tuple(vec![
                        // Unlike the timestamps, upstream stores the size in native (little-endian) order.
                        Value::Uint64(r.commit_size),
                        Value::Bytes(r.checksum.as_bytes().to_vec()),
                        r.metadata.to_value(),
                    ]),
                ])
            })
            .collect(),
    )
}

impl Summary {
    /// Normal-form bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        Value::Tuple(vec![refs_value(&self.refs), self.metadata.to_value()]).to_bytes()
    }

    /// Decodes a summary file.
    pub fn from_bytes(data: &[u8]) -> Result<Self, ObjectError> {
        let value = super::decode(KIND, "(a(s(taya{sv}))a{sv})", data)?;
        let Value::Tuple(top) = &value else {
            return Err(invalid(KIND, "not a tuple"));
        };
        let mut refs = Vec::new();
        if let Value::Array(_, entries) = &top[0] {
            for entry in entries {
                refs.push(parse_ref_entry(entry)?);
            }
        }
        let metadata =
            Metadata::from_value(&top[1]).ok_or_else(|| invalid(KIND, "bad metadata"))?;
        Ok(Summary { refs, metadata })
    }

    /// The entry for `name`.
    pub fn get(&self, name: &str) -> Option<&SummaryRef> {
        self.refs.iter().find(|(n, _)| n == name).map(|(_, r)| r)
    }

    /// The refs of other collections (`ostree.summary.collection-map`), by collection ID,
    /// in stored order; empty when there is none or it does not parse.
    pub fn collection_map(&self) -> Vec<(String, Vec<(String, SummaryRef)>)> {
        let Some(Value::Array(_, entries)) = self.metadata.get(COLLECTION_MAP) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for entry in entries {
            let Value::DictEntry(key, refs) = entry else {
                return Vec::new();
            };
            let (Value::String(id), Value::Array(_, refs)) = (key.as_ref(), refs.as_ref()) else {
                return Vec::new();
            };
            let Ok(refs) = refs
                .iter()
                .map(parse_ref_entry)
                .collect::<Result<Vec<_>, _>>()
            else {
                return Vec::new();
            };
            out.push((id.clone(), refs));
        }
        out
    }
}

/// The summary key listing the refs of collections other than the repository's own.
pub const COLLECTION_MAP: &str = "ostree.summary.collection-map";

/// Encodes `ostree.summary.collection-map` (`a{sa(s(taya{sv}))}`): collection IDs sorted,
/// and the refs of each, as upstream writes it.
pub fn collection_map_value(map: &[(String, Vec<(String, SummaryRef)>)]) -> Value {
    let mut sorted: Vec<_> = map.iter().collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    Value::Array(
        parse_type("{sa(s(taya{sv}))}"),
        sorted
            .into_iter()
            .map(|(id, refs)| {
                Value::DictEntry(
                    Box::new(Value::String(id.clone())),
                    Box::new(refs_value(refs)),
                )
            })
            .collect(),
    )
}

fn parse_ref_entry(entry: &Value) -> Result<(String, SummaryRef), ObjectError> {
    let bad = || invalid(KIND, "malformed ref entry");
    let Value::Tuple(pair) = entry else {
        return Err(bad());
    };
    let [Value::String(name), Value::Tuple(data)] = pair.as_slice() else {
        return Err(bad());
    };
    let [Value::Uint64(size), Value::Bytes(csum), meta] = data.as_slice() else {
        return Err(bad());
    };
    Ok((
        name.clone(),
        SummaryRef {
            commit_size: *size,
            checksum: checksum_field(KIND, "ref checksum", csum)?,
            metadata: Metadata::from_value(meta).ok_or_else(bad)?,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_sorts_refs() {
        let entry = |n: u8| SummaryRef {
            commit_size: 100 + u64::from(n),
            checksum: Checksum::from_array([n; 32]),
            metadata: Metadata::new(),
        };
        let summary = Summary {
            refs: vec![("b".into(), entry(1)), ("a".into(), entry(2))],
            metadata: Metadata::new(),
        };
        let parsed = Summary::from_bytes(&summary.to_bytes()).expect("parses");
        assert_eq!(parsed.refs[0].0, "a");
        assert_eq!(parsed.get("b").map(|r| r.commit_size), Some(101));
    }
}
