//! Signatures on OSTree commits and summaries, made and checked in-process.
//!
//! [`ed25519`] is upstream's `ostree sign` mechanism: 64-byte Ed25519 signatures over the
//! exact bytes of a commit object, kept in its detached metadata (`.commitmeta`) under
//! `ostree.sign.ed25519` as an `aay`. [`gpg`] checks OpenPGP signatures (`ostree.gpgsigs`)
//! against keyrings and `gnupg` makes them with a key from a GnuPG home directory.
//!
//! OpenPGP (the pgp and rsa crates) comes with the `gpg` feature, on by default. Without
//! it, ed25519 works as ever and a keyring takes no key: a check that needs GPG fails,
//! saying so.

pub mod commit;
pub mod ed25519;
#[cfg(feature = "gpg")]
pub mod gnupg;
pub mod gpg;
#[cfg(feature = "gpg")]
pub mod gpg_keys;
pub mod keydir;
#[cfg(feature = "gpg")]
pub mod sexp;
mod sigarray;
pub mod signapi;

pub use keydir::KeyDir;
