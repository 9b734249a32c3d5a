//! The kinds of object in a repository.

use std::fmt;

/// An object type, numbered as in upstream's `OstreeObjectType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum ObjectType {
    /// File content with its header (uid, gid, mode, xattrs).
    File = 1,
    /// A directory listing.
    DirTree = 2,
    /// Directory ownership, mode and xattrs.
    DirMeta = 3,
    /// A commit.
    Commit = 4,
    /// Marks a deleted commit.
    TombstoneCommit = 5,
    /// Detached commit metadata (signatures); named after its commit.
    CommitMeta = 6,
    /// Link from a payload checksum to a content object.
    PayloadLink = 7,
    /// Extended attributes in bare-split-xattrs repos.
    FileXattrs = 8,
    /// Link from a content object to its xattrs object.
    FileXattrsLink = 9,
}

impl ObjectType {
    /// Every type, in number order.
    pub const ALL: [ObjectType; 9] = [
        ObjectType::File,
        ObjectType::DirTree,
        ObjectType::DirMeta,
        ObjectType::Commit,
        ObjectType::TombstoneCommit,
        ObjectType::CommitMeta,
        ObjectType::PayloadLink,
        ObjectType::FileXattrs,
        ObjectType::FileXattrsLink,
    ];

    /// The type with upstream's number.
    pub fn from_u8(n: u8) -> Option<Self> {
        Self::ALL.get(usize::from(n).checked_sub(1)?).copied()
    }

    /// The name upstream prints (`ostree_object_type_to_string`).
    pub fn name(self) -> &'static str {
        match self {
            ObjectType::File => "file",
            ObjectType::DirTree => "dirtree",
            ObjectType::DirMeta => "dirmeta",
            ObjectType::Commit => "commit",
            ObjectType::TombstoneCommit => "tombstone-commit",
            ObjectType::CommitMeta => "commitmeta",
            ObjectType::PayloadLink => "payload-link",
            ObjectType::FileXattrs => "file-xattrs",
            ObjectType::FileXattrsLink => "file-xattrs-link",
        }
    }

    /// Parses a name as printed by [`ObjectType::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The loose-object file extension; archive repos compress content into `.filez`.
    pub fn extension(self, archive: bool) -> &'static str {
        match self {
            ObjectType::File if archive => "filez",
            other => other.name(),
        }
    }

    /// The GVariant type of a metadata object of this type, `None` for other objects.
    pub fn variant_type(self) -> Option<&'static str> {
        match self {
            ObjectType::DirTree => Some("(a(say)a(sayay))"),
            ObjectType::DirMeta => Some("(uuua(ayay))"),
            ObjectType::Commit => Some("(a{sv}aya(say)sstayay)"),
            ObjectType::TombstoneCommit | ObjectType::CommitMeta => Some("a{sv}"),
            _ => None,
        }
    }

    /// Metadata objects are GVariants hashed as stored (dirtree through commitmeta).
    pub fn is_meta(self) -> bool {
        (2..=6).contains(&(self as u8))
    }
}

impl fmt::Display for ObjectType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
