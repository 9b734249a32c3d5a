//! OpenPGP signatures as upstream's GPG support makes them, checked in-process (no `gpg`).
//!
//! ```text
//! commit signatures   'ostree.gpgsigs': <[@ay [...], ...]> in the detached metadata, each a
//!                     binary detached signature packet over the commit object's bytes
//! summary signatures  the same key in summary.sig, over the summary's bytes
//! keyrings            binary (.gpg) or armored (.asc) transferable public keys, many a file
//! ```

use pgp::composed::{Deserializable, SignedPublicKey, StandaloneSignature};
use pgp::types::KeyDetails;
use rostree_core::object::Metadata;

/// The detached-metadata key holding GPG signatures.
pub const METADATA_KEY: &str = "ostree.gpgsigs";

/// Why a keyring or a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Error(pub String);

/// A signature that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoodSignature {
    /// The fingerprint of the key (primary key) that made it, uppercase hex.
    pub fingerprint: String,
    /// Its long key ID, uppercase hex.
    pub key_id: String,
}

/// Trusted public keys.
#[derive(Clone, Debug, Default)]
pub struct Keyring {
    keys: Vec<SignedPublicKey>,
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

impl Keyring {
    /// An empty keyring.
    pub fn new() -> Keyring {
        Keyring::default()
    }

    /// Whether it holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// How many keys it holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Adds the keys of a keyring file (binary or armored); returns how many. Keys whose
    /// self-signatures do not hold are refused.
    pub fn add(&mut self, data: &[u8]) -> Result<usize, Error> {
        let bad = |e: pgp::errors::Error| Error(format!("Invalid OpenPGP key data: {e}"));
        let armored = data
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .is_some_and(|i| data[i..].starts_with(b"-----BEGIN PGP"));
        let keys: Vec<SignedPublicKey> = if armored {
            let (keys, _) = SignedPublicKey::from_armor_many(data).map_err(bad)?;
            keys.collect::<Result<_, _>>().map_err(bad)?
        } else {
            SignedPublicKey::from_bytes_many(&strip_trust_packets(data)[..])
                .map_err(bad)?
                .collect::<Result<_, _>>()
                .map_err(bad)?
        };
        for key in &keys {
            key.verify().map_err(bad)?;
        }
        let n = keys.len();
        self.keys.extend(keys);
        Ok(n)
    }

    /// The keys themselves.
    pub(crate) fn into_keys(self) -> Vec<SignedPublicKey> {
        self.keys
    }

    /// The keys, as (fingerprint, user IDs), for listings.
    pub fn describe(&self) -> Vec<(String, Vec<String>)> {
        self.keys
            .iter()
            .map(|k| {
                let uids = k
                    .details
                    .users
                    .iter()
                    .map(|u| String::from_utf8_lossy(u.id.id()).into_owned())
                    .collect();
                (hex_upper(k.primary_key.fingerprint().as_bytes()), uids)
            })
            .collect()
    }

    /// The keys in binary form, as a `.gpg` keyring file holds them.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        for key in &self.keys {
            pgp::ser::Serialize::to_writer(key, &mut out)
                .map_err(|e| Error(format!("Writing OpenPGP keys: {e}")))?;
        }
        Ok(out)
    }

    /// Checks that one of `signatures` (binary detached signature packets) is a trusted,
    /// unexpired, unrevoked key's over `data`. Errors are worded as upstream's.
    pub fn verify(&self, data: &[u8], signatures: &[Vec<u8>]) -> Result<GoodSignature, Error> {
        if signatures.is_empty() {
            return Err(Error(
                "GPG verification enabled, but no signatures found (use gpg-verify=false in \
                 remote config to disable)"
                    .into(),
            ));
        }
        let mut problem = None;
        for raw in signatures {
            let Ok(signature) = StandaloneSignature::from_bytes(&raw[..]) else {
                continue;
            };
            if problem.is_none() {
                problem = Some(
                    self.bad_signature(&signature)
                        .unwrap_or_else(|| unknown_key(&signature)),
                );
            }
            for key in &self.keys {
                let signed = signature.verify(&key.primary_key, data).is_ok()
                    || key
                        .public_subkeys
                        .iter()
                        .any(|sub| signature.verify(&sub.key, data).is_ok());
                if !signed {
                    continue;
                }
                let fingerprint = hex_upper(key.primary_key.fingerprint().as_bytes());
                if !key.details.revocation_signatures.is_empty() {
                    problem = Some(format!("Key {fingerprint} has been revoked"));
                    continue;
                }
                if key.expires_at().is_some_and(|t| t < chrono_now()) {
                    problem = Some(format!("Key {fingerprint} has expired"));
                    continue;
                }
                return Ok(GoodSignature {
                    key_id: hex_upper(key.primary_key.key_id().as_ref()),
                    fingerprint,
                });
            }
        }
        Err(Error(problem.unwrap_or_else(|| {
            "GPG signatures found, but none are in trusted keyring".into()
        })))
    }
}

impl Keyring {
    /// When a key of the keyring issued `signature` (yet it did not verify): the lines
    /// upstream (gpgme) gives such a signature, which name the key but, oddly, no time or
    /// algorithm.
    fn bad_signature(&self, signature: &StandaloneSignature) -> Option<String> {
        let sig = &signature.signature;
        let issuers: Vec<String> = sig
            .issuer()
            .iter()
            .map(|id| hex_upper(id.as_ref()))
            .collect();
        self.keys.iter().find_map(|key| {
            let ids = std::iter::once(hex_upper(key.primary_key.key_id().as_ref())).chain(
                key.public_subkeys
                    .iter()
                    .map(|sub| hex_upper(sub.key.key_id().as_ref())),
            );
            let issuer = ids.into_iter().find(|id| issuers.contains(id))?;
            let (name, email) = name_and_email(key);
            let primary = hex_upper(key.primary_key.key_id().as_ref());
            let epoch = rostree_core::datetime::format_ctime(0);
            Some(format!(
                "Signature made {epoch} using [unknown name] key ID {issuer}\n\
                 BAD signature from \"{name} <{email}>\"\nPrimary key ID {primary}"
            ))
        })
    }

    /// Describes each of `signatures` over `data` as upstream's `show --gpg-verify-remote`
    /// does: when it was made, with which key, and whether it is good.
    pub fn report(&self, data: &[u8], signatures: &[Vec<u8>]) -> Vec<String> {
        let mut out = Vec::new();
        for raw in signatures {
            let Ok(signature) = StandaloneSignature::from_bytes(&raw[..]) else {
                out.push("  Invalid signature packet".into());
                continue;
            };
            let (made, _) = unknown_key(&signature)
                .split_once('\n')
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .unwrap_or_default();
            let bad = self.bad_signature(&signature);
            // The key, and whether a subkey of it signed.
            let signer = self.keys.iter().find_map(|key| {
                if signature.verify(&key.primary_key, data).is_ok() {
                    Some((key, false))
                } else {
                    key.public_subkeys
                        .iter()
                        .any(|sub| signature.verify(&sub.key, data).is_ok())
                        .then_some((key, true))
                }
            });
            let verdict = match signer {
                Some((key, by_subkey)) => {
                    let (name, email) = name_and_email(key);
                    let mut verdict = format!("Good signature from \"{name} <{email}>\"");
                    if by_subkey {
                        let primary = hex_upper(key.primary_key.key_id().as_ref());
                        verdict.push_str(&format!("\n  Primary key ID {primary}"));
                    }
                    verdict
                }
                None => match bad {
                    Some(lines) => {
                        out.push(
                            lines
                                .lines()
                                .map(|l| format!("  {l}"))
                                .collect::<Vec<_>>()
                                .join("\n"),
                        );
                        continue;
                    }
                    None => "Can't check signature: public key not found".into(),
                },
            };
            out.push(format!("  {made}\n  {verdict}"));
        }
        out
    }
}

/// The name and the email of a key's first user ID, as upstream prints them.
fn name_and_email(key: &SignedPublicKey) -> (String, String) {
    let uid = key
        .details
        .users
        .first()
        .map(|u| String::from_utf8_lossy(u.id.id()).into_owned())
        .unwrap_or_default();
    let (name, email) = split_user_id(&uid);
    (name.to_owned(), email.to_owned())
}

/// The name and the email of a user ID (`Name (comment) <email>`), as GPGME splits it.
fn split_user_id(uid: &str) -> (&str, &str) {
    let email = uid
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map_or("", |(email, _)| email);
    let name_end = uid.find(['(', '<']).unwrap_or(uid.len());
    (uid[..name_end].trim(), email)
}

/// Drops GnuPG's trust packets (tag 12) from a binary keyring: GnuPG writes them into
/// keyrings (upstream's `<remote>.trustedkeys.gpg` among them), and the key parser would
/// stop at them and lose the user IDs. Data it cannot frame is returned as it is.
fn strip_trust_packets(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut at = 0;
    while at < data.len() {
        let ctb = data[at];
        if ctb & 0x80 == 0 {
            return data.to_vec();
        }
        let (tag, header, len) = if ctb & 0x40 == 0 {
            let tag = (ctb >> 2) & 0x0f;
            let field = match ctb & 3 {
                0 => 1,
                1 => 2,
                2 => 4,
                _ => return data.to_vec(),
            };
            let Some(bytes) = data.get(at + 1..at + 1 + field) else {
                return data.to_vec();
            };
            let len = bytes.iter().fold(0usize, |n, b| (n << 8) | usize::from(*b));
            (tag, 1 + field, len)
        } else {
            let tag = ctb & 0x3f;
            let Some(&first) = data.get(at + 1) else {
                return data.to_vec();
            };
            match first {
                0..=191 => (tag, 2, usize::from(first)),
                192..=223 => {
                    let Some(&second) = data.get(at + 2) else {
                        return data.to_vec();
                    };
                    (
                        tag,
                        3,
                        ((usize::from(first) - 192) << 8) + usize::from(second) + 192,
                    )
                }
                255 => {
                    let Some(bytes) = data.get(at + 2..at + 6) else {
                        return data.to_vec();
                    };
                    let len = bytes.iter().fold(0usize, |n, b| (n << 8) | usize::from(*b));
                    (tag, 6, len)
                }
                _ => return data.to_vec(),
            }
        };
        let end = at + header + len;
        if end > data.len() {
            return data.to_vec();
        }
        if tag != 12 {
            out.extend_from_slice(&data[at..end]);
        }
        at = end;
    }
    out
}

/// How upstream (gpgme) reports a signature by a key it does not have: when, which
/// algorithm, which key.
fn unknown_key(signature: &StandaloneSignature) -> String {
    let sig = &signature.signature;
    let when = sig
        .created()
        .map(|t| rostree_core::datetime::format_ctime(u64::try_from(t.timestamp()).unwrap_or(0)))
        .unwrap_or_else(|| "(unknown time)".into());
    let algorithm = match sig.config().map(|c| c.pub_alg) {
        Some(
            pgp::crypto::public_key::PublicKeyAlgorithm::RSA
            | pgp::crypto::public_key::PublicKeyAlgorithm::RSASign,
        ) => "RSA",
        Some(pgp::crypto::public_key::PublicKeyAlgorithm::DSA) => "DSA",
        Some(pgp::crypto::public_key::PublicKeyAlgorithm::ECDSA) => "ECDSA",
        Some(pgp::crypto::public_key::PublicKeyAlgorithm::EdDSALegacy) => "EdDSA",
        _ => "unknown",
    };
    let key = sig
        .issuer()
        .first()
        .map(|id| hex_upper(id.as_ref()))
        .unwrap_or_default();
    format!(
        "Signature made {when} using {algorithm} key ID {key}\nCan't check signature: public \
         key not found"
    )
}

/// Whether the signature packet `raw` names `key_id` (a fingerprint or its end, as hex) as
/// its issuer. Upstream matches signatures to key IDs this way, whether or not the key is
/// known.
pub fn issued_by(raw: &[u8], key_id: &str) -> bool {
    let Ok(signature) = StandaloneSignature::from_bytes(raw) else {
        return false;
    };
    let wanted = key_id
        .strip_prefix("0x")
        .unwrap_or(key_id)
        .trim_end_matches('!')
        .to_ascii_uppercase();
    if wanted.is_empty() {
        return false;
    }
    let sig = &signature.signature;
    sig.issuer_fingerprint()
        .iter()
        .map(|f| hex_upper(f.as_bytes()))
        .chain(sig.issuer().iter().map(|id| hex_upper(id.as_ref())))
        .any(|issuer| issuer.ends_with(&wanted))
}

/// Adds `signature` to the `ostree.gpgsigs` of detached metadata (after any it has).
pub fn add_signature(metadata: &mut Metadata, signature: &[u8]) -> Result<(), Error> {
    crate::sigarray::append(metadata, METADATA_KEY, signature)
        .ok_or_else(|| Error("Invalid ostree.gpgsigs".into()))
}

/// Replaces the `ostree.gpgsigs` of detached metadata; with none, the key goes.
pub fn set_signatures(metadata: &mut Metadata, signatures: &[Vec<u8>]) {
    crate::sigarray::write(metadata, METADATA_KEY, signatures);
}

fn chrono_now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

/// The GPG signatures in detached metadata (none when the key is absent).
pub fn signatures(metadata: &Metadata) -> Result<Vec<Vec<u8>>, Error> {
    crate::sigarray::read(metadata, METADATA_KEY)
        .ok_or_else(|| Error("Invalid ostree.gpgsigs".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_split_as_gpgme_does() {
        for (uid, name, email) in [
            (
                "Test Signer <signer@example.com>",
                "Test Signer",
                "signer@example.com",
            ),
            ("Ed Signer", "Ed Signer", ""),
            ("A B (work) <a@b>", "A B", "a@b"),
            ("<only@mail>", "", "only@mail"),
        ] {
            assert_eq!(split_user_id(uid), (name, email), "{uid}");
        }
    }
}
