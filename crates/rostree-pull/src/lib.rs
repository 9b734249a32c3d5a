//! Replication over HTTP: pulling commits from remote repositories (`http://`, `https://`,
//! `file://`) into a local one, and serving a repository directory over HTTP.
//!
//! This is the only crate of rostree with an async runtime and an HTTP client; its entry
//! points ([`pull::pull`], and `serve::serve` with the `serve` feature) are blocking and run
//! their own runtime.

pub mod body;
mod deltas;
mod error;
pub mod fetch;
pub mod find_remotes;
pub mod metalink;
pub mod pull;
pub mod remote;
#[cfg(feature = "serve")]
pub mod serve;
mod summary;

pub use deltas::DeltaTotals;
pub use error::{Error, Result};
