//! OSTree's formats, without any I/O.
//!
//! Everything here works on byte slices so that it can be unit-tested and fuzzed from bytes:
//! checksums, the GVariant codec, the object types (commit, dirtree, dirmeta, content headers,
//! summary), ref names and the GKeyFile format used by repo configs and origin files.

pub mod checksum;
pub mod datetime;
pub mod ghash;
pub mod gvariant;
pub mod keyfile;
pub mod object;
pub mod objtype;
pub mod refname;
pub mod size;
pub mod varint;

pub use checksum::{Checksum, Hasher, InvalidChecksum, InvalidRev};

/// The upstream release whose formats, protocol and CLI this version follows. It is what
/// `--version` reports as libostree's version and what the `User-Agent` names, because
/// scripts and servers decide by it what the client can do.
pub const UPSTREAM_COMPAT_VERSION: &str = "2022.7";
pub use objtype::ObjectType;
