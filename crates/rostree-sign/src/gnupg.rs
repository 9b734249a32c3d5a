//! Signing with a key from a GnuPG home directory, read in-process: no `gpg`, no agent.
//!
//! ```text
//! <homedir>/                 ($GNUPGHOME, else ~/.gnupg, unless --gpg-homedir names one)
//!   pubring.kbx              keybox: a header blob, then one blob per key; a blob of type 2
//!                            holds a transferable public key at (offset, length) = u32 BE
//!                            at bytes 8 and 12 of the blob
//!   pubring.gpg              (older homes) the same keys as a plain binary keyring
//!   private-keys-v1.d/
//!     <keygrip>.key          one secret key: an S-expression (see `sexp`), unprotected
//!   secring.gpg              (GnuPG 1 homes) secret keys as OpenPGP packets; GnuPG 2
//!                            moves them into private-keys-v1.d on first use, rostree
//!                            reads them in that same S-expression form
//! ```
//!
//! The key to sign with is found as `gpg --local-user` finds it: by fingerprint, key ID
//! (long or short, `0x` allowed, `!` to take that very key) or a piece of a user ID; the
//! newest usable signing subkey is preferred to the primary key. Signatures are v4 binary
//! document signatures, as GnuPG makes them: SHA-256, the creation time and the issuer
//! fingerprint hashed, the issuer key ID not.

use std::path::{Path, PathBuf};

use pgp::composed::SignedPublicKey;
use pgp::types::{PublicKeyTrait, PublicParams};
use sha2::{Digest, Sha256};

use crate::gpg::Error;
use crate::sexp::{self, Sexp};

/// The GnuPG home directory used when none is named: `$GNUPGHOME`, else `~/.gnupg`.
pub fn default_homedir() -> PathBuf {
    if let Some(home) = std::env::var_os("GNUPGHOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(home);
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    Path::new(&home).join(".gnupg")
}

/// A secret key, ready to sign.
#[derive(Clone)]
pub struct Signer {
    fingerprint: [u8; 20],
    secret: Secret,
}

#[derive(Clone)]
enum Secret {
    Rsa(Box<rsa::RsaPrivateKey>),
    Ed25519(Box<ed25519_dalek::SigningKey>),
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("Signer")
            .field("fingerprint", &self.fingerprint_hex())
            .finish_non_exhaustive()
    }
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// A public key (primary or subkey) that could sign, from the keyring.
struct Candidate<'a> {
    key: &'a dyn PublicKeyTrait,
    created: i64,
}

impl Signer {
    /// Finds the secret key `key_id` names in `homedir` (the default home when `None`).
    /// Errors are worded as upstream's.
    pub fn find(homedir: Option<&Path>, key_id: &str) -> Result<Signer, Error> {
        let shown = homedir.map_or_else(|| "<default>".to_owned(), |h| h.display().to_string());
        let home = homedir.map_or_else(default_homedir, Path::to_path_buf);
        let not_found = || {
            Error(format!(
                "No gpg key found with ID {key_id} (homedir: {shown})"
            ))
        };
        migrate_secring(&home);
        let keys = public_keys(&home)?;
        let secrets = secret_keys(&home)?;
        let spec = KeySpec::parse(key_id);
        let mut found: Vec<Signer> = Vec::new();
        for key in &keys {
            let Some(exact) = spec.matches(key) else {
                continue;
            };
            let candidates: Vec<Candidate<'_>> = match exact {
                Some(fingerprint) => all_keys(key)
                    .into_iter()
                    .filter(|c| c.key.fingerprint().as_bytes() == fingerprint.as_slice())
                    .collect(),
                None => signing_keys(key),
            };
            // A key may be there twice: in secring.gpg, and protected in the agent's store
            // after GnuPG migrated it; an unprotected copy wins.
            let mut signer = None;
            let mut refusal = None;
            for pair in candidates
                .iter()
                .flat_map(|c| secrets.iter().filter_map(|s| Signer::pair(c.key, s)))
            {
                match pair {
                    Ok(s) => {
                        signer = Some(s);
                        break;
                    }
                    Err(e) => {
                        refusal.get_or_insert(e);
                    }
                }
            }
            match (signer, refusal) {
                (Some(signer), _) => found.push(signer),
                (None, Some(refusal)) => return Err(refusal),
                (None, None) => {}
            }
        }
        match found.len() {
            0 => Err(not_found()),
            1 => Ok(found.remove(0)),
            _ => Err(Error(format!(
                "gpg key id {key_id} ambiguous (homedir: {shown}). Try the fingerprint instead"
            ))),
        }
    }

    /// The secret matching `public`, if `secret` is its; an error when it is, but locked
    /// away (under a passphrase, or on a card) where only the agent could use it.
    fn pair(public: &dyn PublicKeyTrait, secret: &Sexp) -> Option<Result<Signer, Error>> {
        let fingerprint: [u8; 20] = public.fingerprint().as_bytes().try_into().ok()?;
        let kind = secret.head()?;
        let known: &[&[u8]] = &[
            b"private-key",
            b"protected-private-key",
            b"shadowed-private-key",
        ];
        if !known.contains(&kind) {
            return None;
        }
        let key = secret.items().get(1)?;
        if kind != b"private-key" {
            if !public_matches(public, key) {
                return None;
            }
            let why = if kind == b"shadowed-private-key" {
                "is on a smartcard"
            } else {
                "is protected by a passphrase"
            };
            return Some(Err(Error(format!(
                "The secret key {} {why}; rostree signs only with unprotected keys \
                 (gpg --passwd can remove the passphrase)",
                hex_upper(&fingerprint)
            ))));
        }
        let secret = match (public.public_params(), key.head()?) {
            (PublicParams::RSA(params), b"rsa") => {
                use rsa::traits::PublicKeyParts;
                let number = |name| key.value(name).map(rsa::BigUint::from_bytes_be);
                let n = number("n")?;
                if &n != params.key.n() || &number("e")? != params.key.e() {
                    return None;
                }
                let private = rsa::RsaPrivateKey::from_components(
                    n,
                    number("e")?,
                    number("d")?,
                    vec![number("p")?, number("q")?],
                )
                .ok()?;
                Secret::Rsa(Box::new(private))
            }
            (
                PublicParams::EdDSALegacy(pgp::types::EddsaLegacyPublicParams::Ed25519 { key: q }),
                b"ecc",
            ) => {
                if !key
                    .value("curve")
                    .is_some_and(|c| c.eq_ignore_ascii_case(b"Ed25519"))
                {
                    return None;
                }
                let stored = key.value("q")?;
                if stored.strip_prefix(&[0x40]).unwrap_or(stored) != q.as_bytes() {
                    return None;
                }
                // Leading zero bytes of the seed may have been dropped.
                let d = key.value("d")?;
                let mut seed = [0u8; 32];
                seed.get_mut(32usize.checked_sub(d.len())?..)?
                    .copy_from_slice(d);
                let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
                if signing.verifying_key() != *q {
                    return None;
                }
                Secret::Ed25519(Box::new(signing))
            }
            _ => return None,
        };
        Some(Ok(Signer {
            fingerprint,
            secret,
        }))
    }

    /// The fingerprint of the key that signs, uppercase hex.
    pub fn fingerprint_hex(&self) -> String {
        hex_upper(&self.fingerprint)
    }

    /// A binary detached signature packet over `data`, made at `created` (Unix seconds).
    pub fn sign(&self, data: &[u8], created: u32) -> Result<Vec<u8>, Error> {
        let algorithm = match self.secret {
            Secret::Rsa(_) => 1u8,
            Secret::Ed25519(_) => 22u8,
        };
        let mut hashed_subpackets = vec![22, 33, 4];
        hashed_subpackets.extend_from_slice(&self.fingerprint);
        hashed_subpackets.extend_from_slice(&[5, 2]);
        hashed_subpackets.extend_from_slice(&created.to_be_bytes());
        // Version 4, a binary document, SHA-256.
        let mut hashed = vec![4, 0x00, algorithm, 8];
        hashed.extend_from_slice(&(hashed_subpackets.len() as u16).to_be_bytes());
        hashed.extend_from_slice(&hashed_subpackets);
        let mut hasher = Sha256::new();
        hasher.update(data);
        hasher.update(&hashed);
        hasher.update([4, 0xff]);
        hasher.update((hashed.len() as u32).to_be_bytes());
        let digest = hasher.finalize();
        let mpis: Vec<Vec<u8>> = match &self.secret {
            Secret::Rsa(key) => {
                let padding = rsa::Pkcs1v15Sign::new::<Sha256>();
                vec![
                    key.sign(padding, &digest)
                        .map_err(|e| Error(format!("Error signing: {e}")))?,
                ]
            }
            Secret::Ed25519(key) => {
                use ed25519_dalek::Signer as _;
                let signature = key.sign(&digest).to_bytes();
                vec![signature[..32].to_vec(), signature[32..].to_vec()]
            }
        };
        let mut body = hashed;
        let issuer = &self.fingerprint[12..];
        body.extend_from_slice(&10u16.to_be_bytes());
        body.extend_from_slice(&[9, 16]);
        body.extend_from_slice(issuer);
        body.extend_from_slice(&digest[..2]);
        for mpi in &mpis {
            write_mpi(&mut body, mpi);
        }
        // An old-format header, as GnuPG writes signature packets.
        let mut packet = Vec::with_capacity(body.len() + 5);
        match u16::try_from(body.len()) {
            Ok(len) if len < 256 => packet.extend_from_slice(&[0x88, len as u8]),
            Ok(len) => {
                packet.push(0x89);
                packet.extend_from_slice(&len.to_be_bytes());
            }
            Err(_) => {
                packet.push(0x8a);
                packet.extend_from_slice(&(body.len() as u32).to_be_bytes());
            }
        }
        packet.extend_from_slice(&body);
        Ok(packet)
    }
}

/// Whether the public part of a secret-key S-expression is `public`'s.
fn public_matches(public: &dyn PublicKeyTrait, key: &Sexp) -> bool {
    match (public.public_params(), key.head()) {
        (PublicParams::RSA(params), Some(b"rsa")) => {
            use rsa::traits::PublicKeyParts;
            key.value("n")
                .is_some_and(|n| rsa::BigUint::from_bytes_be(n) == *params.key.n())
        }
        (
            PublicParams::EdDSALegacy(pgp::types::EddsaLegacyPublicParams::Ed25519 { key: q }),
            Some(b"ecc"),
        ) => key
            .value("q")
            .is_some_and(|stored| stored.strip_prefix(&[0x40]).unwrap_or(stored) == q.as_bytes()),
        _ => false,
    }
}

fn write_mpi(out: &mut Vec<u8>, bytes: &[u8]) {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let bytes = &bytes[first..];
    let bits = bytes
        .first()
        .map_or(0, |b| (bytes.len() * 8 - b.leading_zeros() as usize) as u16);
    out.extend_from_slice(&bits.to_be_bytes());
    out.extend_from_slice(bytes);
}

/// How a `--gpg-sign` value names a key.
enum KeySpec {
    /// Hex digits: a fingerprint or the end of one (key IDs); `exact` with a trailing `!`.
    Hex { digits: String, exact: bool },
    /// A piece of a user ID, case-insensitive.
    UserId(String),
}

impl KeySpec {
    fn parse(spec: &str) -> KeySpec {
        let (body, exact) = match spec.strip_suffix('!') {
            Some(body) => (body, true),
            None => (spec, false),
        };
        let hex = body
            .strip_prefix("0x")
            .or_else(|| body.strip_prefix("0X"))
            .unwrap_or(body);
        if matches!(hex.len(), 8 | 16 | 40) && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            KeySpec::Hex {
                digits: hex.to_ascii_uppercase(),
                exact,
            }
        } else {
            KeySpec::UserId(spec.to_lowercase())
        }
    }

    /// Whether `key` is named: `None` when not, `Some(None)` for the key as a whole,
    /// `Some(Some(fingerprint))` for that very (sub)key.
    fn matches(&self, key: &SignedPublicKey) -> Option<Option<Vec<u8>>> {
        match self {
            KeySpec::Hex { digits, exact } => {
                let hit = all_keys(key).into_iter().find(|c| {
                    hex_upper(c.key.fingerprint().as_bytes()).ends_with(digits.as_str())
                })?;
                Some(exact.then(|| hit.key.fingerprint().as_bytes().to_vec()))
            }
            KeySpec::UserId(piece) => key
                .details
                .users
                .iter()
                .any(|u| {
                    String::from_utf8_lossy(u.id.id())
                        .to_lowercase()
                        .contains(piece.as_str())
                })
                .then_some(None),
        }
    }
}

fn all_keys(key: &SignedPublicKey) -> Vec<Candidate<'_>> {
    let mut out = vec![Candidate {
        key: &key.primary_key,
        created: key.primary_key.created_at().timestamp(),
    }];
    for sub in &key.public_subkeys {
        out.push(Candidate {
            key: &sub.key,
            created: sub.key.created_at().timestamp(),
        });
    }
    out
}

/// The keys of `key` that may sign, best first: unexpired, unrevoked signing subkeys, newest
/// first, then the primary key.
fn signing_keys(key: &SignedPublicKey) -> Vec<Candidate<'_>> {
    let now = chrono::Utc::now();
    if !key.details.revocation_signatures.is_empty() || key.expires_at().is_some_and(|t| t < now) {
        return Vec::new();
    }
    let may_sign = |flags: pgp::packet::KeyFlags, key: &dyn PublicKeyTrait| {
        let unspecified =
            !flags.sign() && !flags.certify() && !flags.encrypt_comms() && !flags.encrypt_storage();
        flags.sign() || (unspecified && key.is_signing_key())
    };
    let mut subkeys: Vec<Candidate<'_>> = key
        .public_subkeys
        .iter()
        .filter(|sub| {
            let Some(binding) = sub.signatures.last() else {
                return false;
            };
            let revoked = sub
                .signatures
                .iter()
                .any(|s| s.typ() == Some(pgp::packet::SignatureType::SubkeyRevocation));
            let expired = binding.key_expiration_time().is_some_and(|validity| {
                validity.num_seconds() > 0 && *sub.key.created_at() + *validity < now
            });
            !revoked && !expired && may_sign(binding.key_flags(), &sub.key)
        })
        .map(|sub| Candidate {
            key: &sub.key,
            created: sub.key.created_at().timestamp(),
        })
        .collect();
    subkeys.sort_by_key(|c| std::cmp::Reverse(c.created));
    let primary_flags = key
        .details
        .users
        .iter()
        .flat_map(|u| u.signatures.iter())
        .map(|s| s.key_flags())
        .next_back();
    if primary_flags.is_none_or(|f| may_sign(f, &key.primary_key)) {
        subkeys.push(Candidate {
            key: &key.primary_key,
            created: key.primary_key.created_at().timestamp(),
        });
    }
    subkeys
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    match std::fs::read(path) {
        Ok(data) => Ok(Some(data)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error(format!("Reading {}: {e}", path.display()))),
    }
}

/// The public keys of a GnuPG home: its keybox, else its binary keyring.
fn public_keys(home: &Path) -> Result<Vec<SignedPublicKey>, Error> {
    // A key that cannot be read (an unusual algorithm) is skipped, as a key never found.
    let mut keys = crate::gpg::Keyring::new();
    if let Some(keybox) = read_optional(&home.join("pubring.kbx"))? {
        for block in keybox_blocks(&keybox) {
            let _ = keys.add(block);
        }
    }
    if let Some(ring) = read_optional(&home.join("pubring.gpg"))? {
        let _ = keys.add(&ring);
    }
    Ok(keys.into_keys())
}

pub use crate::gpg::keybox_blocks;

/// Lets GnuPG 2 move a GnuPG 1 `secring.gpg` into its agent, as it does the first time
/// `gpg` uses a home, which upstream's gpgme-driven signing always is. rostree reads the
/// keys itself, so without this a home it signed with would stay unmigrated, and later
/// `gpg` edits of its keys (`--quick-set-expire`, say) would find no secret key. Best
/// effort: without `gpg`, or when it fails, the keys are still read from `secring.gpg`.
fn migrate_secring(home: &Path) {
    if !home.join("secring.gpg").is_file() || home.join(".gpg-v21-migrated").exists() {
        return;
    }
    let _ = std::process::Command::new("gpg")
        .arg("--homedir")
        .arg(home)
        .args(["--batch", "--no-tty", "--list-secret-keys"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

/// The secret keys of a GnuPG home (files that do not parse are skipped).
fn secret_keys(home: &Path) -> Result<Vec<Sexp>, Error> {
    let dir = home.join("private-keys-v1.d");
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => Some(entries),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error(format!("Reading {}: {e}", dir.display()))),
    };
    let mut out = Vec::new();
    for entry in entries.into_iter().flatten() {
        let entry = entry.map_err(|e| Error(format!("Reading {}: {e}", dir.display())))?;
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "key") {
            continue;
        }
        let Some(data) = read_optional(&path)? else {
            continue;
        };
        if let Ok(key) = sexp::parse_key_file(&data) {
            out.push(key);
        }
    }
    if let Some(ring) = read_optional(&home.join("secring.gpg"))? {
        out.extend(secring_keys(&ring));
    }
    Ok(out)
}

/// The secret keys (primary and subkeys) of a GnuPG 1 `secring.gpg`, as the agent's
/// S-expressions: `private-key` when stored in the clear, `protected-private-key` (public
/// part only) when under a passphrase. Keys of other algorithms, and a ring that stops
/// parsing, end the list where they are.
fn secring_keys(ring: &[u8]) -> Vec<Sexp> {
    use pgp::composed::{Deserializable, SignedSecretKey};
    use pgp::types::{PlainSecretParams, SecretParams};

    let atom = |bytes: &[u8]| Sexp::Atom(bytes.to_vec());
    let pair = |name: &str, bytes: &[u8]| Sexp::List(vec![atom(name.as_bytes()), atom(bytes)]);
    let convert = |public: &PublicParams, secret: &SecretParams| -> Option<Sexp> {
        let (kind, mut fields) = match public {
            PublicParams::RSA(params) => {
                use rsa::traits::PublicKeyParts;
                (
                    "rsa",
                    vec![
                        pair("n", &params.key.n().to_bytes_be()),
                        pair("e", &params.key.e().to_bytes_be()),
                    ],
                )
            }
            PublicParams::EdDSALegacy(pgp::types::EddsaLegacyPublicParams::Ed25519 { key }) => {
                let mut q = vec![0x40];
                q.extend_from_slice(key.as_bytes());
                ("ecc", vec![pair("curve", b"Ed25519"), pair("q", &q)])
            }
            _ => return None,
        };
        let head = match secret {
            SecretParams::Plain(PlainSecretParams::RSA(key)) => {
                let (d, p, q, u) = key.to_bytes();
                for (name, value) in [("d", d), ("p", p), ("q", q), ("u", u)] {
                    fields.push(pair(name, &value));
                }
                "private-key"
            }
            SecretParams::Plain(PlainSecretParams::Ed25519Legacy(key)) => {
                fields.push(pair("d", key.as_bytes()));
                "private-key"
            }
            SecretParams::Encrypted(_) => "protected-private-key",
            SecretParams::Plain(_) => return None,
        };
        let mut key = vec![atom(kind.as_bytes())];
        key.append(&mut fields);
        Some(Sexp::List(vec![atom(head.as_bytes()), Sexp::List(key)]))
    };
    let Ok(keys) = SignedSecretKey::from_bytes_many(ring) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for key in keys.map_while(Result::ok) {
        let primary = &key.primary_key;
        out.extend(convert(
            primary.public_key().public_params(),
            primary.secret_params(),
        ));
        for sub in &key.secret_subkeys {
            let sub = &sub.key;
            out.extend(convert(
                sub.public_key().public_params(),
                sub.secret_params(),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpis_drop_leading_zeros() {
        let mut out = Vec::new();
        write_mpi(&mut out, &[0, 0, 0x01, 0xff]);
        assert_eq!(out, [0, 9, 0x01, 0xff]);
        out.clear();
        write_mpi(&mut out, &[0x80]);
        assert_eq!(out, [0, 8, 0x80]);
    }

    #[test]
    fn key_specs() {
        for (spec, hex, exact) in [
            ("0xDEADBEEF", Some("DEADBEEF"), false),
            ("deadbeefdeadbeef!", Some("DEADBEEFDEADBEEF"), true),
            ("signer@example.com", None, false),
            ("ABC", None, false),
        ] {
            match KeySpec::parse(spec) {
                KeySpec::Hex { digits, exact: e } => {
                    assert_eq!(Some(digits.as_str()), hex, "{spec}");
                    assert_eq!(e, exact, "{spec}");
                }
                KeySpec::UserId(_) => assert_eq!(hex, None, "{spec}"),
            }
        }
    }

    #[test]
    fn keybox_framing() {
        let mut kbx = vec![0, 0, 0, 32, 1, 1, 0, 2];
        kbx.resize(32, 0);
        let mut blob = vec![0, 0, 0, 20, 2, 1, 0, 0, 0, 0, 0, 16, 0, 0, 0, 4];
        blob.extend_from_slice(b"KEY!");
        kbx.extend_from_slice(&blob);
        // A blob claiming more than there is ends the list.
        kbx.extend_from_slice(&[0, 0, 1, 0, 2]);
        assert_eq!(keybox_blocks(&kbx), vec![&b"KEY!"[..]]);
    }
}
