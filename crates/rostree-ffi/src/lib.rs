//! The C ABI of rostree: `librostree.so`, `rostree.h` and `rostree-1.pc`.
//!
//! Opaque handles (`RostreeRepo`, `RostreeSysroot`, `RostreeCancellable`), error objects
//! (`RostreeError`) and plain C types; every function is `rostree_*`. The safe modules hold
//! the logic, on Rust types, and call the `rostree` crate as the CLI does, with its
//! defaults; [`abi`] is the thin, `unsafe` layer that C calls (see `include/rostree.h`,
//! generated from it by cbindgen).

pub mod abi;
pub mod errors;
pub mod pull;
pub mod read;
pub mod repo;
pub mod signing;
pub mod sysroot;

pub use errors::RostreeErrorCode;
/// The progress trait the safe layer's operations take (the library's own).
pub use rostree::Progress;

#[cfg(test)]
mod tests;
