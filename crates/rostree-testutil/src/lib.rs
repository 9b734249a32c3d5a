//! Helpers for rostree's differential tests: upstream `ostree` (the oracle) and
//! `rostree` are run on the same inputs and their outputs and repositories are
//! compared byte for byte.
//!
//! - [`cmd`]: finding upstream `ostree` and running commands with a clean,
//!   deterministic environment.
//! - [`tree`]: describing a file tree as a table of entries and creating it on
//!   disk ([`tree::rich_tree`] makes every kind of entry OSTree can commit).
//! - [`compare`]: comparing two repositories' `objects/` directories.
//! - [`crash`]: the crash harness (commands killed at seeded moments).
//! - [`http`]: nginx and `rostree serve` on 127.0.0.1 for pull tests; [`faulty`]: a
//!   server that drops, corrupts, stalls or fails requests on purpose.
//! - [`gnupg`]: GnuPG keys made by `gpg` on a fixed clock.
//! - [`repo`]: a [`repo::Pair`] of repositories (one written by each tool),
//!   repository snapshots, and object-corruption helpers.
//!
//! The helpers panic with a descriptive message when something is wrong: they
//! are meant to be called from tests only.

pub mod cmd;
pub mod compare;
pub mod crash;
pub mod faulty;
pub mod gnupg;
pub mod http;
pub mod repo;
pub mod tree;

pub use cmd::{
    Invocation, describe, repo_command, run, run_ok, stderr_str, stdout_str, upstream_ostree,
};
pub use compare::{compare_object_dirs, object_dir_differences};
pub use repo::{Mode, Pair, Snapshot, snapshot};
pub use tree::{TreeSpec, rich_tree, rich_tree_for_mode};
