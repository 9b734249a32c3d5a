//! Signatures on commits: what `ostree sign`, `sign --verify` and `gpg-sign` do.

use std::path::Path;

use rostree::sign::commit::{gpg_sign_commit, sign_commit, verify_commit};
use rostree::sign::ed25519::{self, PublicKey, SecretKey};
use rostree::sign::gnupg::Signer;
use rostree::sign::signapi::{SigningKey, Verifier};

use crate::errors::Error;
use crate::repo::{Repository, Result};

impl Repository {
    /// Adds an ed25519 signature by `secret_key` (base64 of its 64 bytes, as `ostree sign`
    /// takes it) to the commit `rev` names.
    pub fn sign_commit(&self, rev: &str, secret_key: &str) -> Result<()> {
        let key = SecretKey::from_base64(secret_key)
            .map_err(|_| Error::invalid_argument("Invalid ed25519 secret key"))?;
        let repo = self.read();
        let commit = repo.resolve_rev(rev).map_err(Error::from_repo)?;
        sign_commit(&repo, &commit, &SigningKey::Ed25519(key)).map_err(Error::from_sign)
    }

    /// Checks that the commit `rev` names carries a valid ed25519 signature by one of
    /// `public_keys` (base64, as `ostree sign --verify` takes them); returns upstream's
    /// message naming the key.
    pub fn verify_commit(&self, rev: &str, public_keys: &[String]) -> Result<String> {
        let trusted = public_keys
            .iter()
            .map(|k| {
                PublicKey::from_base64(k).map_err(|_| {
                    Error::invalid_argument(format!("Invalid ed25519 public key '{k}'"))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let verifier = Verifier::Ed25519(ed25519::Verifier {
            trusted,
            revoked: Vec::new(),
        });
        let repo = self.read();
        let commit = repo.resolve_rev(rev).map_err(Error::from_repo)?;
        verify_commit(&repo, &commit, &[verifier]).map_err(Error::from_sign)
    }

    /// Adds a GPG signature by the secret key `key_id` of the GnuPG home `homedir` (`None`:
    /// `$GNUPGHOME` or `~/.gnupg`) to the commit `rev` names, as `ostree gpg-sign
    /// [--gpg-homedir=HOMEDIR] REV KEY-ID`.
    pub fn gpg_sign_commit(&self, rev: &str, key_id: &str, homedir: Option<&Path>) -> Result<()> {
        let signer = Signer::find(homedir, key_id).map_err(|e| Error::from_sign(e.into()))?;
        let repo = self.read();
        let commit = repo.resolve_rev(rev).map_err(Error::from_repo)?;
        gpg_sign_commit(&repo, &commit, key_id, &signer).map_err(Error::from_sign)
    }
}
