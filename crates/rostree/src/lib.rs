//! rostree: OSTree rebuilt in Rust, byte-compatible with upstream's repositories.
//!
//! This facade re-exports the pieces users need: the format crate as [`core`], the
//! repository as [`repo`], replication as [`pull`](mod@pull), signatures as [`sign`], static
//! deltas as [`delta`], deployments as [`sysroot`] and the HTTP server as [`serve`](mod@serve), with the most used types
//! and operations at the top level.
//!
//! Features (all on by default): `pull` (replication over HTTP(S) and `file://`: tokio and
//! reqwest), `serve` (`rostree serve`'s HTTP server: hyper) and `gpg` (OpenPGP signatures:
//! pgp and rsa; without it a GPG check fails saying so, ed25519 works as ever). Without
//! them the crate is the object store, ed25519 signatures and static deltas alone.
//!
//! Pulling a configured remote as `ostree pull` would, its GPG and ed25519 checks
//! included (see `examples/pull_remote.rs`):
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = cap_std::fs::Dir::open_ambient_dir("repo", cap_std::ambient_authority())?;
//! let repo = rostree::Repo::open(dir, "repo")?;
//! let remote = repo.remote("origin")?;
//! let (spec, options) = rostree::pull_options(&repo, &remote, &rostree::TrustRoots::system())?;
//! let interrupt = std::sync::atomic::AtomicBool::new(false);
//! let refs = ["main".to_owned()];
//! let outcome = rostree::pull(&repo, &spec, &refs, &rostree::NoProgress, &interrupt, &options)?;
//! println!("{:?}", outcome.refs);
//! # Ok(()) }
//! ```

#[cfg(all(feature = "pull", feature = "gpg"))]
pub mod fuzzing;
#[cfg(feature = "pull")]
pub mod upgrade;

pub use rostree_core as core;
pub use rostree_delta as delta;
#[cfg(feature = "pull")]
pub use rostree_pull as pull;
pub use rostree_repo as repo;
#[cfg(feature = "serve")]
pub use rostree_serve as serve;
pub use rostree_sign as sign;
pub use rostree_sysroot as sysroot;

pub use rostree_core::{Checksum, ObjectType};
pub use rostree_repo::{Error, Repo, RepoMode};

// The operations, at the crate root: `rostree::pull(...)` beside the `rostree::pull` module.
#[cfg(feature = "pull")]
pub use rostree_pull::pull::{PullOptions, PullOutcome, RemoteSpec, pull};
#[cfg(feature = "pull")]
pub use rostree_pull::remote::{TrustRoots, pull_options};
pub use rostree_repo::checkout::checkout;
pub use rostree_repo::commit::{CommitOptions, CommitOutcome, commit};
pub use rostree_repo::fsck::fsck;
pub use rostree_repo::progress::{Event, NoProgress, Progress};

pub use rostree_core::UPSTREAM_COMPAT_VERSION;
