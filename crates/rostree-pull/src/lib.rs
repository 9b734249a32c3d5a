//! Replication over HTTP: pulling commits from remote repositories (`http://`, `https://`,
//! `file://`) into a local one. (Serving a repository is `rostree-serve`.)
//!
//! With `rostree-serve`, the only crate of rostree with an async runtime, and the only one
//! with an HTTP client; its entry point ([`pull::pull`]) is blocking and runs its own
//! runtime.

pub mod body;
mod deltas;
mod error;
pub mod fetch;
pub mod find_remotes;
pub mod metalink;
pub mod pull;
pub mod remote;
mod summary;

pub use deltas::DeltaTotals;
pub use error::{Error, Result};
