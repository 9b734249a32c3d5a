//! Directory listings `(a(say)a(sayay))`: files (name, content checksum) and subdirectories
//! (name, dirtree checksum, dirmeta checksum), each sorted by name in byte order.

use crate::Checksum;
use crate::gvariant::{self, Type, Value};

use super::{ObjectError, checksum_field, invalid, parse_type};

const KIND: &str = "dirtree";

/// The deepest directory nesting rostree commits or walks. Real trees stay far below it; a
/// hostile tree or repo deeper than this is refused rather than allowed to exhaust the stack.
pub const MAX_TREE_DEPTH: usize = 512;

/// Checks a name stored in a dirtree: not empty, not `.` or `..`, no `/` and no NUL. Names
/// failing this could escape a checkout, so every reader refuses them.
/// The messages are upstream's.
///
/// ```
/// use rostree_core::object::validate_filename;
///
/// assert_eq!(validate_filename("passwd"), Ok(()));
/// assert_eq!(
///     validate_filename(".."),
///     Err("Invalid path uplink filename '..'".to_owned())
/// );
/// assert_eq!(
///     validate_filename("../x"),
///     Err("Invalid / in filename ../x".to_owned())
/// );
/// ```
pub fn validate_filename(name: &str) -> Result<(), String> {
    match name {
        "" => Err("Invalid empty filename".into()),
        "." => Err("Invalid self-referential filename '.'".into()),
        ".." => Err("Invalid path uplink filename '..'".into()),
        _ if name.contains('/') => Err(format!("Invalid / in filename {name}")),
        _ if name.contains('\0') => Err(format!("Invalid NUL in filename {name:?}")),
        _ => Ok(()),
    }
}

/// A file in a dirtree, borrowed from the object bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileEntry<'a> {
    /// The name within the directory.
    pub name: &'a str,
    /// The content object.
    pub checksum: Checksum,
}

/// A subdirectory in a dirtree, borrowed from the object bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirEntry<'a> {
    /// The name within the directory.
    pub name: &'a str,
    /// The subdirectory's dirtree object.
    pub tree: Checksum,
    /// The subdirectory's dirmeta object.
    pub meta: Checksum,
}

/// A validated dirtree, borrowing names from the stored bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DirTreeRef<'a> {
    /// Files, in stored order.
    pub files: Vec<FileEntry<'a>>,
    /// Subdirectories, in stored order.
    pub dirs: Vec<DirEntry<'a>>,
}

impl<'a> DirTreeRef<'a> {
    /// Parses and validates: normal form, 32-byte checksums, safe names, each list sorted
    /// by name (as upstream writes them: a tree's bytes are then the one encoding of its
    /// entries), no name twice.
    pub fn parse(data: &'a [u8]) -> Result<Self, ObjectError> {
        // Normal form is checked on a full decode; the entries are then re-read as slices.
        super::decode(KIND, "(a(say)a(sayay))", data)?;
        let variant = |source| ObjectError::Variant { kind: KIND, source };
        let bytes = || Type::Array(Box::new(Type::Byte));
        let file_members = vec![Type::String, bytes()];
        let dir_members = vec![Type::String, bytes(), bytes()];
        let file_ty = Type::Tuple(file_members.clone());
        let dir_ty = Type::Tuple(dir_members.clone());
        let top = [
            Type::Array(Box::new(file_ty.clone())),
            Type::Array(Box::new(dir_ty.clone())),
        ];
        let halves = gvariant::tuple_children(&top, data).map_err(variant)?;
        let mut files = Vec::new();
        for child in gvariant::array_children(&file_ty, halves[0]).map_err(variant)? {
            let parts = gvariant::tuple_children(&file_members, child).map_err(variant)?;
            files.push(FileEntry {
                name: entry_name(parts[0])?,
                checksum: checksum_field(KIND, "file checksum", parts[1])?,
            });
        }
        let mut dirs = Vec::new();
        for child in gvariant::array_children(&dir_ty, halves[1]).map_err(variant)? {
            let parts = gvariant::tuple_children(&dir_members, child).map_err(variant)?;
            dirs.push(DirEntry {
                name: entry_name(parts[0])?,
                tree: checksum_field(KIND, "dirtree checksum", parts[1])?,
                meta: checksum_field(KIND, "dirmeta checksum", parts[2])?,
            });
        }
        let out_of_order = |names: &mut dyn Iterator<Item = &str>| {
            let names: Vec<&str> = names.collect();
            names
                .windows(2)
                .find(|w| w[0] > w[1])
                .map(|w| w[1].to_owned())
        };
        if let Some(name) = out_of_order(&mut files.iter().map(|f| f.name))
            .or_else(|| out_of_order(&mut dirs.iter().map(|d| d.name)))
        {
            return Err(invalid(KIND, format!("entries out of order at {name:?}")));
        }
        let mut names: Vec<&str> = files
            .iter()
            .map(|f| f.name)
            .chain(dirs.iter().map(|d| d.name))
            .collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(invalid(KIND, format!("name {:?} appears twice", w[0])));
        }
        Ok(DirTreeRef { files, dirs })
    }

    /// An owned copy.
    pub fn to_owned(&self) -> DirTree {
        DirTree {
            files: self
                .files
                .iter()
                .map(|f| (f.name.to_owned(), f.checksum))
                .collect(),
            dirs: self
                .dirs
                .iter()
                .map(|d| (d.name.to_owned(), d.tree, d.meta))
                .collect(),
        }
    }
}

fn entry_name(bytes: &[u8]) -> Result<&str, ObjectError> {
    // The normal-form decode already proved this is a NUL-terminated UTF-8 string.
    let body = bytes
        .strip_suffix(&[0])
        .ok_or_else(|| invalid(KIND, "name without NUL"))?;
    let name = std::str::from_utf8(body).map_err(|_| invalid(KIND, "name is not UTF-8"))?;
    validate_filename(name).map_err(|reason| invalid(KIND, reason))?;
    Ok(name)
}

/// An owned dirtree that encodes itself sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DirTree {
    /// (name, content checksum).
    pub files: Vec<(String, Checksum)>,
    /// (name, dirtree checksum, dirmeta checksum).
    pub dirs: Vec<(String, Checksum, Checksum)>,
}

impl DirTree {
    /// The `(a(say)a(sayay))` value with both lists sorted by name in byte order.
    pub fn to_value(&self) -> Value {
        let mut files: Vec<_> = self.files.iter().collect();
        files.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut dirs: Vec<_> = self.dirs.iter().collect();
        dirs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        Value::Tuple(vec![
            Value::Array(
                parse_type("(say)"),
                files
                    .into_iter()
                    .map(|(name, csum)| {
                        Value::Tuple(vec![
                            Value::String(name.clone()),
                            Value::Bytes(csum.as_bytes().to_vec()),
                        ])
                    })
                    .collect(),
            ),
            Value::Array(
                parse_type("(sayay)"),
                dirs.into_iter()
                    .map(|(name, tree, meta)| {
                        Value::Tuple(vec![
                            Value::String(name.clone()),
                            Value::Bytes(tree.as_bytes().to_vec()),
                            Value::Bytes(meta.as_bytes().to_vec()),
                        ])
                    })
                    .collect(),
            ),
        ])
    }

    /// Normal-form bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_value().to_bytes()
    }

    /// The dirtree object's checksum.
    pub fn checksum(&self) -> Checksum {
        Checksum::digest(&self.to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(n: u8) -> Checksum {
        Checksum::from_array([n; 32])
    }

    #[test]
    fn round_trip_sorted() {
        let tree = DirTree {
            files: vec![("b".into(), c(1)), ("a".into(), c(2))],
            dirs: vec![("d".into(), c(3), c(4))],
        };
        let bytes = tree.to_bytes();
        let view = DirTreeRef::parse(&bytes).expect("parses");
        assert_eq!(view.files[0].name, "a");
        assert_eq!(view.dirs[0].meta, c(4));
    }

    /// Found by fuzzing: entries out of order parsed, and wrote back as other bytes.
    #[test]
    fn refuses_unsorted_entries() {
        let entry = |name: &str, n: u8| {
            Value::Tuple(vec![
                Value::String(name.into()),
                Value::Bytes(c(n).as_bytes().to_vec()),
            ])
        };
        let unsorted = Value::Tuple(vec![
            Value::Array(parse_type("(say)"), vec![entry("b", 1), entry("a", 2)]),
            Value::Array(parse_type("(sayay)"), Vec::new()),
        ])
        .to_bytes();
        let err = DirTreeRef::parse(&unsorted).expect_err("unsorted");
        assert!(
            err.to_string().contains("entries out of order at \"a\""),
            "{err}"
        );
    }

    #[test]
    fn refuses_hostile_names() {
        for name in ["..", ".", "a/b", ""] {
            let tree = DirTree {
                files: vec![(name.into(), c(1))],
                dirs: vec![],
            };
            assert!(DirTreeRef::parse(&tree.to_bytes()).is_err(), "{name:?}");
        }
        let dup = DirTree {
            files: vec![("x".into(), c(1))],
            dirs: vec![("x".into(), c(2), c(3))],
        };
        assert!(DirTreeRef::parse(&dup.to_bytes()).is_err());
    }

    #[test]
    fn refuses_short_checksums() {
        let value = Value::Tuple(vec![
            Value::Array(
                parse_type("(say)"),
                vec![Value::Tuple(vec![
                    Value::String("a".into()),
                    Value::Bytes(vec![1; 31]),
                ])],
            ),
            Value::Array(parse_type("(sayay)"), vec![]),
        ]);
        assert!(DirTreeRef::parse(&value.to_bytes()).is_err());
    }
}
