//! Keyrings and signature checks: OpenPGP in-process (pgp and rsa), with the `gpg` feature.

use pgp::composed::{Deserializable, SignedPublicKey, StandaloneSignature};
use pgp::types::{KeyDetails, PublicKeyTrait};

use super::{Error, GoodSignature};

/// Trusted public keys.
#[derive(Clone, Debug, Default)]
pub struct Keyring {
    keys: Vec<SignedPublicKey>,
}

pub(crate) fn hex_upper(bytes: &[u8]) -> String {
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
            // Armored files are often several exports one after another.
            let mut keys = Vec::new();
            for block in armor_blocks(data) {
                let (parsed, _) = SignedPublicKey::from_armor_many(block).map_err(bad)?;
                for key in parsed {
                    keys.push(key.map_err(bad)?);
                }
            }
            keys
        } else {
            SignedPublicKey::from_bytes_many(&strip_trust_packets(data)[..])
                .map_err(bad)?
                .collect::<Result<_, _>>()
                .map_err(bad)?
        };
        for key in &keys {
            key.verify().map_err(bad)?;
        }
        Ok(self.merge(keys))
    }

    /// Adds the keys it does not hold yet (by fingerprint); returns how many, as GnuPG's
    /// import counts what it imported. A key it holds gains the signatures (a new expiry,
    /// a revocation), user IDs and subkeys it lacked, as GnuPG merges them, uncounted.
    pub(crate) fn merge(&mut self, keys: impl IntoIterator<Item = SignedPublicKey>) -> usize {
        let mut added = 0;
        for key in keys {
            let fingerprint = key.primary_key.fingerprint();
            match self
                .keys
                .iter_mut()
                .find(|k| k.primary_key.fingerprint() == fingerprint)
            {
                Some(held) => merge_key(held, key),
                None => {
                    self.keys.push(key);
                    added += 1;
                }
            }
        }
        added
    }

    /// Adds `other`'s keys that this one does not hold; returns how many.
    pub fn add_all(&mut self, other: &Keyring) -> usize {
        self.merge(other.keys.iter().cloned())
    }

    /// The keys, in the order they were added.
    pub(crate) fn keys(&self) -> &[SignedPublicKey] {
        &self.keys
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
                let uids = k.details.users.iter().map(user_id_text).collect();
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
        // As upstream: no good signature, and the error describes every signature, the
        // last first.
        let mut described = Vec::new();
        for raw in signatures {
            let Some(status) = self.check(data, raw) else {
                continue;
            };
            if status.valid {
                return Ok(GoodSignature {
                    key_id: status.fingerprint_primary[24..].to_owned(),
                    fingerprint: status.fingerprint_primary,
                });
            }
            described.push(status.describe(""));
        }
        described.reverse();
        let text = described.concat();
        let problem = (!text.is_empty()).then(|| text.trim_end().to_owned());
        Err(Error(problem.unwrap_or_else(|| {
            "GPG signatures found, but none are in trusted keyring".into()
        })))
    }
}

/// What upstream (through gpgme) knows of one signature: the fields of its signature
/// variant `(bbbbbsxxsssssxx)` that its description prints. Times are Unix seconds, 0 for
/// none; fingerprints uppercase hex.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignatureStatus {
    /// Good: made by the key, over the data, and neither it nor the key expired or revoked.
    pub valid: bool,
    /// The signature's own lifetime has passed.
    pub sig_expired: bool,
    /// The signing key (or, for a subkey, its primary key) has expired.
    pub key_expired: bool,
    /// The signing key was revoked.
    pub key_revoked: bool,
    /// No key of the keyring issued it.
    pub key_missing: bool,
    /// The signing key's fingerprint; the issuer's key ID when the key was not found or the
    /// signature did not verify (as gpgme reports it).
    pub fingerprint: String,
    /// The fingerprint of the primary key of the signing key (empty when not found).
    pub fingerprint_primary: String,
    /// When the signature was made (0 when it did not verify).
    pub timestamp: i64,
    /// When the signature expires.
    pub exp_timestamp: i64,
    /// The public-key algorithm, as gpgme names it.
    pub pubkey_algo: String,
    /// The name of the key's first user ID.
    pub user_name: String,
    /// The email of the key's first user ID.
    pub user_email: String,
    /// When the signing key expires.
    pub key_exp_timestamp: i64,
    /// When the primary key expires.
    pub key_exp_timestamp_primary: i64,
}

impl SignatureStatus {
    /// The lines upstream prints for this signature, each after `prefix`.
    pub fn describe(&self, prefix: &str) -> String {
        use rostree_core::datetime::format_ctime;
        let date = |t: i64| format_ctime(u64::try_from(t).unwrap_or(0));
        let key_id = |fpr: &str| fpr[fpr.len().saturating_sub(16)..].to_owned();
        let mut out = format!(
            "{prefix}Signature made {} using {} key ID {}\n",
            date(self.timestamp),
            self.pubkey_algo,
            key_id(&self.fingerprint)
        );
        let who = format!("\"{} <{}>\"", self.user_name, self.user_email);
        let verdict = if self.key_missing {
            "Can't check signature: public key not found".to_owned()
        } else if self.valid {
            format!("Good signature from {who}")
        } else if self.key_revoked {
            "Key revoked".to_owned()
        } else if self.sig_expired {
            format!("Expired signature from {who}")
        } else {
            format!("BAD signature from {who}")
        };
        out.push_str(&format!("{prefix}{verdict}\n"));
        let by_subkey = self.fingerprint != self.fingerprint_primary;
        if !self.key_missing && by_subkey {
            out.push_str(&format!(
                "{prefix}Primary key ID {}\n",
                key_id(&self.fingerprint_primary)
            ));
        }
        let mut expiry = |what: &str, when: i64, expired: bool| {
            if when > 0 {
                let verb = if expired { "expired" } else { "expires" };
                out.push_str(&format!("{prefix}{what} {verb} {}\n", date(when)));
            }
        };
        expiry("Signature", self.exp_timestamp, self.sig_expired);
        expiry("Key", self.key_exp_timestamp, self.key_expired);
        if by_subkey {
            expiry(
                "Primary key",
                self.key_exp_timestamp_primary,
                self.key_expired,
            );
        }
        out
    }
}

/// The armored blocks of `data`, each from its `-----BEGIN PGP` line to the end of its
/// `-----END PGP ...-----` line (the last one to the end of the data).
fn armor_blocks(data: &[u8]) -> Vec<&[u8]> {
    const BEGIN: &[u8] = b"-----BEGIN PGP";
    const END: &[u8] = b"-----END PGP";
    let find = |from: usize, needle: &[u8]| {
        data[from..]
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|i| from + i)
    };
    let mut blocks = Vec::new();
    let mut at = 0;
    while let Some(start) = find(at, BEGIN) {
        let end = match find(start, END) {
            // The END line runs to its closing dashes.
            Some(end) => find(end + END.len(), b"-----").map_or(data.len(), |d| d + 5),
            None => data.len(),
        };
        blocks.push(&data[start..end]);
        at = end;
    }
    blocks
}

/// A key's self-signatures: its user IDs' certifications and its direct-key signatures.
pub(crate) fn self_signatures(key: &SignedPublicKey) -> Vec<&pgp::packet::Signature> {
    key.details
        .users
        .iter()
        .flat_map(|u| &u.signatures)
        .chain(&key.details.direct_signatures)
        .collect()
}

/// Adds to `held` what `other` (the same key) has and it lacks.
fn merge_key(held: &mut SignedPublicKey, other: SignedPublicKey) {
    fn union(into: &mut Vec<pgp::packet::Signature>, from: Vec<pgp::packet::Signature>) {
        for sig in from {
            if !into.contains(&sig) {
                into.push(sig);
            }
        }
    }
    union(
        &mut held.details.revocation_signatures,
        other.details.revocation_signatures,
    );
    union(
        &mut held.details.direct_signatures,
        other.details.direct_signatures,
    );
    for user in other.details.users {
        match held.details.users.iter_mut().find(|u| u.id == user.id) {
            Some(known) => union(&mut known.signatures, user.signatures),
            None => held.details.users.push(user),
        }
    }
    for sub in other.public_subkeys {
        match held
            .public_subkeys
            .iter_mut()
            .find(|k| k.key.fingerprint() == sub.key.fingerprint())
        {
            Some(known) => union(&mut known.signatures, sub.signatures),
            None => held.public_subkeys.push(sub),
        }
    }
}

/// When the newest of `signatures` (a key's self-signatures) says the key expires, given
/// the key's creation: a later signature without an expiry makes the key never expire.
pub(crate) fn expiry(created: i64, signatures: &[&pgp::packet::Signature]) -> i64 {
    signatures
        .iter()
        .filter(|s| s.created().is_some())
        .max_by_key(|s| s.created().map(|t| t.timestamp()))
        .and_then(|s| s.key_expiration_time())
        .map_or(0, |d| created + d.num_seconds())
}

impl Keyring {
    /// What upstream reports of the signature packet `raw` over `data`, checked with this
    /// keyring; `None` when `raw` is not a signature packet.
    pub fn check(&self, data: &[u8], raw: &[u8]) -> Option<SignatureStatus> {
        let signature = StandaloneSignature::from_bytes(raw).ok()?;
        let sig = &signature.signature;
        let now = chrono_now().timestamp();
        let issuers: Vec<String> = sig
            .issuer_fingerprint()
            .iter()
            .map(|f| hex_upper(f.as_bytes()))
            .chain(sig.issuer().iter().map(|id| hex_upper(id.as_ref())))
            .collect();
        let issued = |fingerprint: &str| issuers.iter().any(|i| fingerprint.ends_with(i.as_str()));
        let created = sig.created().map_or(0, |t| t.timestamp());
        let mut status = SignatureStatus {
            fingerprint: issuers
                .iter()
                .find(|i| i.len() == 40)
                .or(issuers.first())
                .cloned()
                .unwrap_or_default(),
            timestamp: created,
            pubkey_algo: algorithm_name(sig).to_owned(),
            user_name: "[unknown name]".into(),
            user_email: "[unknown email]".into(),
            key_missing: true,
            ..SignatureStatus::default()
        };
        for key in &self.keys {
            let primary = &key.primary_key;
            let primary_fpr = hex_upper(primary.fingerprint().as_bytes());
            let self_sigs = self_signatures(key);
            let primary_expires = expiry(primary.created_at().timestamp(), &self_sigs);
            // The key that issued it: the primary key or one of its subkeys.
            let signer = if issued(&primary_fpr) {
                Some((None, primary_fpr.clone(), primary_expires, false))
            } else {
                key.public_subkeys.iter().find_map(|sub| {
                    let fpr = hex_upper(sub.key.fingerprint().as_bytes());
                    let binding: Vec<_> = sub.signatures.iter().collect();
                    let revoked = sub
                        .signatures
                        .iter()
                        .any(|s| s.typ() == Some(pgp::packet::SignatureType::SubkeyRevocation));
                    issued(&fpr).then(|| {
                        let expires = expiry(sub.key.created_at().timestamp(), &binding);
                        (Some(&sub.key), fpr, expires, revoked)
                    })
                })
            };
            let Some((signing_key, fpr, expires, sub_revoked)) = signer else {
                continue;
            };
            let (name, email) = name_and_email(key);
            status.key_missing = false;
            status.user_name = name;
            status.user_email = email;
            status.fingerprint_primary = primary_fpr;
            status.key_exp_timestamp_primary = primary_expires;
            let verified = match signing_key {
                None => signature.verify(primary, data),
                Some(sub) => signature.verify(sub, data),
            };
            if verified.is_err() {
                // gpgme knows the issuer's key ID (gpg's BADSIG gives no more) and nothing
                // else of a signature that does not verify.
                status.fingerprint = fpr[fpr.len() - 16..].to_owned();
                status.timestamp = 0;
                status.pubkey_algo = "[unknown name]".into();
                return Some(status);
            }
            status.fingerprint = fpr;
            status.key_exp_timestamp = expires;
            status.exp_timestamp = sig
                .signature_expiration_time()
                .map_or(0, |d| created + d.num_seconds());
            status.sig_expired = status.exp_timestamp > 0 && status.exp_timestamp <= now;
            let passed = |t: i64| t > 0 && t <= now;
            status.key_expired = passed(expires) || passed(primary_expires);
            status.key_revoked = sub_revoked || !key.details.revocation_signatures.is_empty();
            status.valid = !(status.sig_expired || status.key_expired || status.key_revoked);
            return Some(status);
        }
        Some(status)
    }

    /// Describes each of `signatures` over `data` as upstream's `show` does: when it was
    /// made, with which key, and whether it is good; each line indented by two spaces.
    pub fn report(&self, data: &[u8], signatures: &[Vec<u8>]) -> Vec<String> {
        signatures
            .iter()
            .map(|raw| match self.check(data, raw) {
                Some(status) => status.describe("  ").trim_end().to_owned(),
                None => "  Invalid signature packet".to_owned(),
            })
            .collect()
    }
}

/// gpgme's name of the public-key algorithm of `sig`.
fn algorithm_name(sig: &pgp::packet::Signature) -> &'static str {
    use pgp::crypto::public_key::PublicKeyAlgorithm as A;
    match sig.config().map(|c| c.pub_alg) {
        Some(A::RSA | A::RSASign) => "RSA",
        Some(A::DSA) => "DSA",
        Some(A::ECDSA) => "ECDSA",
        Some(A::EdDSALegacy) => "EdDSA",
        _ => "[unknown name]",
    }
}

/// A user ID as text, bytes that are not UTF-8 replaced.
fn user_id_text(user: &pgp::types::SignedUser) -> String {
    String::from_utf8_lossy(user.id.id()).into_owned()
}

/// The name and the email of a key's first user ID, as upstream prints them.
fn name_and_email(key: &SignedPublicKey) -> (String, String) {
    let uid = key
        .details
        .users
        .first()
        .map(user_id_text)
        .unwrap_or_default();
    let (name, email) = split_user_id(&uid);
    (name.to_owned(), email.to_owned())
}

/// The name and the email of a user ID (`Name (comment) <email>`), as GPGME splits it.
pub(crate) fn split_user_id(uid: &str) -> (&str, &str) {
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

pub(crate) fn chrono_now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
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
