//! rostree: OSTree rebuilt in Rust, byte-compatible with upstream's repositories.
//!
//! This facade re-exports the pieces users need: the format crate as [`core`] and the
//! repository as [`repo`], with the most used types at the top level.

pub mod fuzzing;

pub use rostree_core as core;
pub use rostree_delta as delta;
pub use rostree_pull as pull;
pub use rostree_repo as repo;
pub use rostree_sign as sign;

pub use rostree_core::{Checksum, ObjectType};
pub use rostree_repo::{Error, Repo, RepoMode};

pub use rostree_core::UPSTREAM_COMPAT_VERSION;
