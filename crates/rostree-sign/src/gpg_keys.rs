//! What `remote gpg-list-keys` shows of a keyring and how `remote gpg-import KEY-ID...`
//! picks keys from one, as upstream does through GPGME: keys by fingerprint or key ID
//! (of the primary key or a subkey), and for each user ID its Web Key Directory URLs.

use pgp::composed::SignedPublicKey;
use pgp::types::{KeyDetails, PublicKeyTrait};

use crate::gpg::{Error, Keyring, expiry, hex_upper, self_signatures, split_user_id};

/// A primary key or subkey as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPart {
    /// Uppercase hex.
    pub fingerprint: String,
    /// Seconds since the epoch.
    pub created: i64,
    /// When it expires (seconds since the epoch), if it does.
    pub expires: Option<i64>,
    /// Whether that time has passed (never said of a revoked key).
    pub expired: bool,
    /// Whether a revocation signature revokes it.
    pub revoked: bool,
}

/// A user ID as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserId {
    /// The whole user ID, `Name (comment) <email>`.
    pub uid: String,
    /// Whether a certification revocation revokes it.
    pub revoked: bool,
    /// The Web Key Directory URLs of its email address (advanced, direct), if it has one.
    pub wkd_urls: Option<(String, String)>,
}

/// One key of a keyring, as `gpg-list-keys` prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyListing {
    /// The primary key.
    pub primary: KeyPart,
    /// Its user IDs, in the key's order.
    pub user_ids: Vec<UserId>,
    /// Its subkeys, in the key's order.
    pub subkeys: Vec<KeyPart>,
}

impl Keyring {
    /// Every key, for listing.
    pub fn listing(&self) -> Vec<KeyListing> {
        self.keys().iter().map(list_key).collect()
    }

    /// The keys `ids` name, in that order: each a fingerprint or a key ID (8 or 16 hex
    /// digits, `0x` allowed) of a primary key or of a subkey. One that names no key fails
    /// as GPGME's lookup does.
    pub fn select(&self, ids: &[String]) -> Result<Keyring, Error> {
        let mut out = Keyring::new();
        for id in ids {
            let key = self
                .keys()
                .iter()
                .find(|k| names_key(k, id))
                .ok_or_else(|| {
                    Error(format!(
                        "GPG: Unable to find key \"{id}\": GPGME: End of file"
                    ))
                })?;
            out.merge([key.clone()]);
        }
        Ok(out)
    }
}

/// Whether `id` is a fingerprint or key ID of `key` or one of its subkeys.
fn names_key(key: &SignedPublicKey, id: &str) -> bool {
    let wanted = id
        .trim()
        .trim_start_matches("0x")
        .trim_start_matches("0X")
        .to_ascii_uppercase();
    if !matches!(wanted.len(), 8 | 16 | 32 | 40) || !wanted.bytes().all(|b| b.is_ascii_hexdigit()) {
        return false;
    }
    std::iter::once(key.primary_key.fingerprint())
        .chain(key.public_subkeys.iter().map(|s| s.key.fingerprint()))
        .any(|f| hex_upper(f.as_bytes()).ends_with(&wanted))
}

fn list_key(key: &SignedPublicKey) -> KeyListing {
    let now = crate::gpg::chrono_now().timestamp();
    let part = |fingerprint: String, created: i64, expires: i64, revoked: bool| KeyPart {
        fingerprint,
        created,
        expires: (expires > 0).then_some(expires),
        // GnuPG calls a revoked key revoked, not expired, whatever its expiry.
        expired: !revoked && expires > 0 && expires <= now,
        revoked,
    };
    let primary = &key.primary_key;
    let self_sigs = self_signatures(key);
    let created = primary.created_at().timestamp();
    // A revoked primary key revokes its user IDs and subkeys with it, as GPGME lists them.
    let key_revoked = !key.details.revocation_signatures.is_empty();
    let primary = part(
        hex_upper(primary.fingerprint().as_bytes()),
        created,
        expiry(created, &self_sigs),
        key_revoked,
    );
    let user_ids = key
        .details
        .users
        .iter()
        .map(|u| {
            let uid = String::from_utf8_lossy(u.id.id()).into_owned();
            let (_, email) = split_user_id(&uid);
            let wkd_urls = (!email.is_empty()).then(|| wkd_urls(email)).flatten();
            UserId {
                revoked: key_revoked
                    || u.signatures
                        .iter()
                        .any(|s| s.typ() == Some(pgp::packet::SignatureType::CertRevocation)),
                uid,
                wkd_urls,
            }
        })
        .collect();
    let subkeys = key
        .public_subkeys
        .iter()
        .map(|sub| {
            let created = sub.key.created_at().timestamp();
            let binding: Vec<_> = sub.signatures.iter().collect();
            part(
                hex_upper(sub.key.fingerprint().as_bytes()),
                created,
                expiry(created, &binding),
                key_revoked
                    || sub
                        .signatures
                        .iter()
                        .any(|s| s.typ() == Some(pgp::packet::SignatureType::SubkeyRevocation)),
            )
        })
        .collect();
    KeyListing {
        primary,
        user_ids,
        subkeys,
    }
}

/// The Web Key Directory URLs (advanced, direct) for `email`: the local part lowercased,
/// hashed with SHA-1 and z-base-32 encoded, and given again percent-encoded as `?l=`.
/// `None` unless the address has exactly one `@`.
pub fn wkd_urls(email: &str) -> Option<(String, String)> {
    let mut parts = email.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    use sha1::Digest as _;
    let digest = sha1::Sha1::digest(local.to_ascii_lowercase().as_bytes());
    let hashed = zbase32(&digest);
    let escaped = percent_encode(local);
    let domain_lowered = domain.to_ascii_lowercase();
    Some((
        format!(
            "https://openpgpkey.{domain}/.well-known/openpgpkey/{domain_lowered}/hu/{hashed}?l={escaped}"
        ),
        format!("https://{domain}/.well-known/openpgpkey/hu/{hashed}?l={escaped}"),
    ))
}

/// z-base-32 (RFC 6189's alphabet), five bits at a time from the most significant.
fn zbase32(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ybndrfg8ejkmcpqxot1uwisza345h769";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in data {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Percent-encodes all but RFC 3986's unreserved characters, as `g_uri_escape_string`
/// does with no characters allowed.
fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wkd_urls_as_upstream_computes_them() {
        // From upstream's test-remote-gpg-list-keys.sh.
        assert_eq!(
            wkd_urls("test@test.com"),
            Some((
                "https://openpgpkey.test.com/.well-known/openpgpkey/test.com/hu/iffe93qcsgp4c8ncbb378rxjo6cn9q6u?l=test".into(),
                "https://test.com/.well-known/openpgpkey/hu/iffe93qcsgp4c8ncbb378rxjo6cn9q6u?l=test".into(),
            ))
        );
        // The WKD draft's example: "Joe.Doe" hashes as "joe.doe".
        let (advanced, _) = wkd_urls("Joe.Doe@Example.ORG").expect("an address");
        assert_eq!(
            advanced,
            "https://openpgpkey.Example.ORG/.well-known/openpgpkey/example.org/hu/iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=Joe.Doe"
        );
        let (_, direct) = wkd_urls("a b+c@x").expect("an address");
        assert!(direct.ends_with("?l=a%20b%2Bc"), "{direct}");
        assert_eq!(wkd_urls("no-at-sign"), None);
        assert_eq!(wkd_urls("two@at@signs"), None);
    }
}
