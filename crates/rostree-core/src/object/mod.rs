//! Typed views of OSTree's GVariant objects.
//!
//! Each object has an owned type that encodes to normal form (`Commit`, `DirTree`, ...) and,
//! where large trees make copying costly, a borrowed view over the stored bytes
//! (`CommitRef<'a>`, `DirTreeRef<'a>`). Decoding checks structure and normal form, so that a
//! value that parses is one upstream would also accept.

mod commit;
mod content;
mod dirmeta;
mod dirtree;
mod metadata;
mod summary;

pub use commit::{
    BindingError, COLLECTION_BINDING, Commit, CommitRef, REF_BINDING, ref_bindings, verify_bindings,
};
pub use content::{
    ArchiveHeader, FileHeader, content_checksum, parse_archive_header, parse_stream_header,
};
pub use dirmeta::{DirMeta, Xattrs};
pub use dirtree::{DirEntry, DirTree, DirTreeRef, FileEntry, MAX_TREE_DEPTH, validate_filename};
pub use metadata::Metadata;
pub use summary::{COLLECTION_MAP, Summary, SummaryRef, collection_map_value};

use crate::gvariant;

/// Errors from decoding objects.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ObjectError {
    /// The bytes are not a normal-form GVariant of the object's type.
    #[error("invalid {kind} object: {source}")]
    Variant {
        /// The object kind (`commit`, `dirtree`, ...).
        kind: &'static str,
        /// The codec's complaint.
        source: gvariant::Error,
    },
    /// The variant decodes, but a field breaks OSTree's rules.
    #[error("invalid {kind} object: {reason}")]
    Invalid {
        /// The object kind.
        kind: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl ObjectError {
    /// What is wrong, without the object kind: upstream's words for a rule broken
    /// (`Invalid / in filename ../x`), or the codec's complaint.
    pub fn detail(&self) -> String {
        match self {
            ObjectError::Variant { source, .. } => source.to_string(),
            ObjectError::Invalid { reason, .. } => reason.clone(),
        }
    }
}

pub(crate) fn invalid(kind: &'static str, reason: impl Into<String>) -> ObjectError {
    ObjectError::Invalid {
        kind,
        reason: reason.into(),
    }
}

pub(crate) fn parse_type(s: &str) -> gvariant::Type {
    gvariant::Type::parse(s).expect("object type strings in this crate are valid")
}

pub(crate) fn decode(
    kind: &'static str,
    ty: &str,
    data: &[u8],
) -> Result<gvariant::Value, ObjectError> {
    gvariant::Value::from_bytes(&parse_type(ty), data)
        .map_err(|source| ObjectError::Variant { kind, source })
}

pub(crate) fn checksum_field(
    kind: &'static str,
    what: &str,
    bytes: &[u8],
) -> Result<crate::Checksum, ObjectError> {
    crate::Checksum::from_slice(bytes)
        .map_err(|_| invalid(kind, format!("{what} is {} bytes, not 32", bytes.len())))
}

/// Reads a big-endian `u` field (OSTree byte-swaps its integers).
pub(crate) fn be_u32(v: &gvariant::Value) -> u32 {
    match v {
        gvariant::Value::Uint32(n) => u32::from_be(*n),
        _ => 0,
    }
}
