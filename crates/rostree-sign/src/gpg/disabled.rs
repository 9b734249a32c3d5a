//! Keyrings without OpenPGP (built without the `gpg` feature): they take no key, and a
//! check that needs one fails saying why, so that a remote with `gpg-verify=true` is never
//! taken for verified.

use super::{Error, GoodSignature};

fn not_built() -> Error {
    Error("GPG support is not built in (rostree without the gpg feature)".into())
}

/// Trusted public keys: none, without OpenPGP.
#[derive(Clone, Debug, Default)]
pub struct Keyring {}

impl Keyring {
    /// An empty keyring.
    pub fn new() -> Keyring {
        Keyring::default()
    }

    /// Always true: it holds no key.
    pub fn is_empty(&self) -> bool {
        true
    }

    /// Always 0.
    pub fn len(&self) -> usize {
        0
    }

    /// Refuses any key data.
    pub fn add(&mut self, _data: &[u8]) -> Result<usize, Error> {
        Err(not_built())
    }

    /// Fails: no signature can be checked.
    pub fn verify(&self, _data: &[u8], _signatures: &[Vec<u8>]) -> Result<GoodSignature, Error> {
        Err(not_built())
    }
}

/// Never: an issuer cannot be read without OpenPGP.
pub fn issued_by(_raw: &[u8], _key_id: &str) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_verifies_without_openpgp() {
        let mut keyring = Keyring::new();
        assert!(keyring.add(b"key").is_err());
        assert!(keyring.is_empty());
        let refused = keyring
            .verify(b"data", &[b"sig".to_vec()])
            .expect_err("refused");
        assert!(refused.0.contains("not built in"), "{refused}");
    }
}
