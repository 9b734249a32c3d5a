//! Ed25519 signatures as upstream's `ostree sign` makes them (libsodium's format).
//!
//! ```text
//! secret key   base64 of 64 bytes: the 32-byte seed, then the 32-byte public key
//! public key   base64 of 32 bytes
//! key files    one base64 key a line (trusted.ed25519, revoked.ed25519, *.d/ directories)
//! signature    64 bytes over the exact bytes signed (a commit object, a summary)
//! metadata     'ostree.sign.ed25519': <[@ay [...], ...]> in the commit's detached metadata
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::Signer as _;
use rostree_core::object::Metadata;

/// The detached-metadata key holding the signatures.
pub const METADATA_KEY: &str = "ostree.sign.ed25519";

/// Why a key or a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Error(pub String);

fn decode(text: &str) -> Option<Vec<u8>> {
    STANDARD.decode(text.trim()).ok()
}

/// A secret key: signs.
#[derive(Clone)]
pub struct SecretKey(ed25519_dalek::SigningKey);

impl SecretKey {
    /// Parses the base64 of 64 bytes (seed and public key, as libsodium keeps them).
    pub fn from_base64(text: &str) -> Result<SecretKey, Error> {
        let bad = || Error("Incorrect ed25519 secret key".into());
        let bytes: [u8; 64] = decode(text)
            .ok_or_else(bad)?
            .try_into()
            .map_err(|_| bad())?;
        // The public half must be the one the seed gives.
        ed25519_dalek::SigningKey::from_keypair_bytes(&bytes)
            .map(SecretKey)
            .map_err(|_| bad())
    }

    /// A key from a 32-byte seed.
    pub fn from_seed(seed: &[u8; 32]) -> SecretKey {
        SecretKey(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    /// The base64 form `from_base64` reads.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0.to_keypair_bytes())
    }

    /// Its public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }

    /// The 64-byte signature of `data`.
    pub fn sign(&self, data: &[u8]) -> [u8; 64] {
        self.0.sign(data).to_bytes()
    }
}

/// A public key: checks signatures. Any 32 bytes are accepted, as libsodium accepts them;
/// bytes that are no point of the curve are a key that verifies nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// Parses the base64 of 32 bytes.
    pub fn from_base64(text: &str) -> Result<PublicKey, Error> {
        let bad = || Error("Incorrect ed25519 public key".into());
        let bytes: [u8; 32] = decode(text)
            .ok_or_else(bad)?
            .try_into()
            .map_err(|_| bad())?;
        Ok(PublicKey(bytes))
    }

    /// The base64 form.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Lowercase hex, as upstream's messages name keys.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `signature` is this key's over `data` (strict RFC 8032 checks).
    pub fn verifies(&self, data: &[u8], signature: &[u8]) -> bool {
        let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&self.0) else {
            return false;
        };
        let Ok(sig) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        key.verify_strict(data, &sig).is_ok()
    }
}

/// Parses a key file: one base64 public key a line; blank lines are skipped. A line that is
/// not a key is an error naming it.
pub fn parse_public_keys(text: &str) -> Result<Vec<PublicKey>, Error> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(PublicKey::from_base64)
        .collect()
}

/// The keys a signature must come from, and those it must not.
#[derive(Clone, Debug, Default)]
pub struct Verifier {
    /// Trusted keys.
    pub trusted: Vec<PublicKey>,
    /// Revoked keys: never accepted, even when also trusted.
    pub revoked: Vec<PublicKey>,
}

impl Verifier {
    /// Checks that one of `signatures` is a trusted, unrevoked key's over `data`; returns
    /// that key. The errors are worded as upstream's.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use rostree_sign::ed25519::{PublicKey, SecretKey, Verifier};
    ///
    /// // A key pair as `ostree sign` keeps it: the secret key and the public one in base64.
    /// let secret = SecretKey::from_base64(&SecretKey::from_seed(&[7; 32]).to_base64())?;
    /// let public = PublicKey::from_base64(&secret.public().to_base64())?;
    /// let signature = secret.sign(b"commit bytes").to_vec();
    ///
    /// let verifier = Verifier { trusted: vec![public], revoked: vec![] };
    /// assert_eq!(verifier.verify(b"commit bytes", &[signature.clone()])?, public);
    /// assert!(verifier.verify(b"other bytes", &[signature.clone()]).is_err());
    /// // A revoked key verifies nothing, trusted or not.
    /// let revoked = Verifier { trusted: vec![public], revoked: vec![public] };
    /// assert!(revoked.verify(b"commit bytes", &[signature]).is_err());
    /// # Ok(()) }
    /// ```
    pub fn verify(&self, data: &[u8], signatures: &[Vec<u8>]) -> Result<PublicKey, Error> {
        let mut tried = Vec::new();
        for signature in signatures {
            for key in self.trusted.iter().filter(|k| !self.revoked.contains(k)) {
                if key.verifies(data, signature) {
                    return Ok(*key);
                }
                tried.push(format!("key '{}'", key.to_hex()));
            }
        }
        if tried.len() > 3 {
            return Err(Error(format!(
                "ed25519: Signature couldn't be verified; tried {} keys",
                tried.len()
            )));
        }
        if !tried.is_empty() {
            return Err(Error(format!(
                "ed25519: Signature couldn't be verified with: {}",
                tried.join("; ")
            )));
        }
        Err(Error("ed25519: no signatures found".into()))
    }
}

/// The keys of `name` (`trusted.ed25519` or `revoked.ed25519`) in a keys directory: the
/// file itself and every file of `NAME.d/`, in name order. Missing ones count as empty.
fn keys_in_dir(dir: &crate::KeyDir, name: &str) -> Result<Vec<PublicKey>, Error> {
    let read = |rel: &str| -> Result<Vec<PublicKey>, Error> {
        let shown = dir.shown(rel);
        let data = dir
            .read(rel)
            .map_err(|e| Error(format!("reading {}: {e}", shown.display())))?;
        let Some(data) = data else {
            return Ok(Vec::new());
        };
        let text = String::from_utf8(data)
            .map_err(|e| Error(format!("reading {}: {e}", shown.display())))?;
        parse_public_keys(&text).map_err(|e| Error(format!("{}: {e}", shown.display())))
    };
    let mut keys = read(name)?;
    let sub = format!("{name}.d");
    if let Ok(Some(names)) = dir.list(&sub) {
        for entry in names {
            keys.extend(read(&format!("{sub}/{entry}"))?);
        }
    }
    Ok(keys)
}

/// The trusted and revoked keys of `dirs`: `trusted.ed25519` and `revoked.ed25519` (and
/// their `.d/` directories) in each, as upstream reads `/etc/ostree` and
/// `/usr/share/ostree` ([`crate::keydir::system_ed25519_dirs`]).
pub fn keys_in_dirs(dirs: &[crate::KeyDir]) -> Result<Verifier, Error> {
    let mut verifier = Verifier::default();
    for dir in dirs {
        verifier
            .trusted
            .extend(keys_in_dir(dir, "trusted.ed25519")?);
        verifier
            .revoked
            .extend(keys_in_dir(dir, "revoked.ed25519")?);
    }
    Ok(verifier)
}

/// The system's trusted and revoked keys ([`keys_in_dirs`] of upstream's directories), or
/// those under `keys_dir` alone (`--keys-dir`).
pub fn system_keys(keys_dir: Option<&std::path::Path>) -> Result<Verifier, Error> {
    let dirs = match keys_dir {
        Some(dir) => crate::KeyDir::open(dir).into_iter().collect(),
        None => crate::keydir::system_ed25519_dirs(),
    };
    keys_in_dirs(&dirs)
}

/// The signatures in detached metadata (none when the key is absent).
pub fn signatures(metadata: &Metadata) -> Result<Vec<Vec<u8>>, Error> {
    crate::sigarray::read(metadata, METADATA_KEY)
        .ok_or_else(|| Error("ed25519: wrong type passed for verification".into()))
}

/// Adds a signature to detached metadata, after any it holds (upstream appends even when
/// the key signed before).
pub fn add_signature(metadata: &mut Metadata, signature: &[u8]) -> Result<(), Error> {
    crate::sigarray::append(metadata, METADATA_KEY, signature)
        .ok_or_else(|| Error("ed25519: wrong type passed for verification".into()))
}

/// Replaces the signatures in detached metadata; with none, the key goes.
pub fn set_signatures(metadata: &mut Metadata, signatures: &[Vec<u8>]) {
    crate::sigarray::write(metadata, METADATA_KEY, signatures);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_from_directory_handles_in_order() {
        let key = |n: u8| SecretKey::from_seed(&[n; 32]).public();
        let tmp = tempfile::tempdir().expect("tempdir");
        let (etc, share) = (tmp.path().join("etc"), tmp.path().join("share"));
        std::fs::create_dir_all(etc.join("trusted.ed25519.d")).expect("mkdir");
        std::fs::create_dir_all(&share).expect("mkdir");
        let line = |k: PublicKey| format!("{}\n", k.to_base64());
        std::fs::write(etc.join("trusted.ed25519"), line(key(1))).expect("write");
        std::fs::write(etc.join("trusted.ed25519.d/b"), line(key(3))).expect("write");
        std::fs::write(etc.join("trusted.ed25519.d/a"), line(key(2))).expect("write");
        std::fs::write(share.join("trusted.ed25519"), line(key(4))).expect("write");
        std::fs::write(share.join("revoked.ed25519"), line(key(5))).expect("write");
        let dirs: Vec<_> = [&etc, &share]
            .into_iter()
            .map(|p| crate::KeyDir::open(p).expect("open"))
            .collect();
        let verifier = keys_in_dirs(&dirs).expect("keys");
        assert_eq!(verifier.trusted, vec![key(1), key(2), key(3), key(4)]);
        assert_eq!(verifier.revoked, vec![key(5)]);

        std::fs::write(share.join("revoked.ed25519"), "not a key\n").expect("write");
        let err = keys_in_dirs(&dirs).expect_err("a bad key file");
        assert!(
            err.0
                .starts_with(&format!("{}:", share.join("revoked.ed25519").display()))
        );
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    /// libsodium takes any 32 bytes for a public key (upstream's `remote add` does not
    /// refuse them): one that is no curve point is accepted and verifies nothing.
    #[test]
    fn a_key_off_the_curve_is_accepted_and_verifies_nothing() {
        let off_curve = (0u8..=255)
            .map(|b| [b; 32])
            .find(|bytes| ed25519_dalek::VerifyingKey::from_bytes(bytes).is_err())
            .expect("some repeated byte is no point of the curve");
        let key = PublicKey::from_base64(&STANDARD.encode(off_curve)).expect("accepted");
        let secret = SecretKey::from_seed(&[7; 32]);
        let signature = secret.sign(b"data");
        assert!(!key.verifies(b"data", &signature));
        let verifier = Verifier {
            trusted: vec![key],
            revoked: vec![],
        };
        let err = verifier
            .verify(b"data", &[signature.to_vec()])
            .expect_err("refused");
        assert!(err.0.contains("couldn't be verified with: key"), "{err}");
        assert!(PublicKey::from_base64("c2hvcnQ=").is_err(), "not 32 bytes");
    }

    /// RFC 8032 section 7.1, tests 1 and 2: libsodium makes the same signatures, and keeps
    /// the secret key as seed and public key, as `from_base64` reads it.
    #[test]
    fn rfc8032_vectors() {
        let cases = [
            (
                "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
                "",
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
            ),
            (
                "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
                "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
                "72",
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
            ),
        ];
        for (seed, public, message, signature) in cases {
            let seed: [u8; 32] = hex(seed).try_into().expect("32 bytes");
            let secret = SecretKey::from_seed(&seed);
            assert_eq!(secret.public().to_hex(), public);
            let mut sodium_secret = seed.to_vec();
            sodium_secret.extend(hex(public));
            let b64 = STANDARD.encode(&sodium_secret);
            assert_eq!(secret.to_base64(), b64);
            let parsed = SecretKey::from_base64(&b64).expect("libsodium secret key");
            let sig = parsed.sign(&hex(message));
            assert_eq!(sig.to_vec(), hex(signature));
            let public = PublicKey::from_base64(&STANDARD.encode(hex(public))).expect("public");
            assert!(public.verifies(&hex(message), &sig));
            assert!(!public.verifies(b"other", &sig));
        }
    }

    #[test]
    fn keys_are_checked() {
        // A secret key whose public half is not its seed's.
        let mut wrong = vec![7u8; 32];
        wrong.extend([9u8; 32]);
        assert!(SecretKey::from_base64(&STANDARD.encode(&wrong)).is_err());
        for bad in ["", "not base64!", &STANDARD.encode([1u8; 31])] {
            assert!(PublicKey::from_base64(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn verifier_as_upstream() {
        let (a, b) = (
            SecretKey::from_seed(&[1; 32]),
            SecretKey::from_seed(&[2; 32]),
        );
        let data = b"commit bytes";
        let sig_a = a.sign(data).to_vec();
        let ok = Verifier {
            trusted: vec![b.public(), a.public()],
            revoked: vec![],
        };
        assert_eq!(
            ok.verify(data, std::slice::from_ref(&sig_a)),
            Ok(a.public())
        );
        let revoked = Verifier {
            trusted: vec![a.public()],
            revoked: vec![a.public()],
        };
        assert_eq!(
            revoked.verify(data, std::slice::from_ref(&sig_a)),
            Err(Error("ed25519: no signatures found".into()))
        );
        let wrong = Verifier {
            trusted: vec![b.public()],
            revoked: vec![],
        };
        assert_eq!(
            wrong.verify(data, std::slice::from_ref(&sig_a)),
            Err(Error(format!(
                "ed25519: Signature couldn't be verified with: key '{}'",
                b.public().to_hex()
            )))
        );
        let tampered = ok.verify(b"commit bytez", std::slice::from_ref(&sig_a));
        assert!(tampered.is_err());
        let mut meta = Metadata::new();
        add_signature(&mut meta, &sig_a).expect("add");
        add_signature(&mut meta, &sig_a).expect("add again");
        assert_eq!(signatures(&meta).expect("read"), vec![sig_a.clone(), sig_a]);
    }
}
