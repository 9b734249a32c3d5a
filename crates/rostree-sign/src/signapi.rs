//! Upstream's pluggable signature types (`ostree sign --sign-type`, `commit --sign-type`,
//! a remote's `sign-verify`), and which keys a remote's config makes its commits and
//! summaries checked with.
//!
//! ```text
//! type      detached metadata key   signature                   keys
//! ed25519   ostree.sign.ed25519     64 bytes (see `ed25519`)    base64, see `ed25519`
//! dummy     ostree.sign.dummy       the secret key's bytes      any string; only with
//!                                                               OSTREE_DUMMY_SIGN_ENABLED=1
//! ```
//!
//! Remote config (group `remote "NAME"`): `sign-verify` (commits) and
//! `sign-verify-summary` (`summary.sig`) are either true/false, where true means "every
//! type that has keys configured", or a list of type names, each of which must have keys;
//! `verification-TYPE-key` holds inline keys and `verification-TYPE-file` a file of them.
//! With no keys configured, ed25519 falls back to the system's trusted keys.

use rostree_core::object::Metadata;
use rostree_repo::remote::Remote;

use crate::ed25519;

/// Why a signature type, key or check was refused (upstream's words).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Error(pub String);

impl From<ed25519::Error> for Error {
    fn from(e: ed25519::Error) -> Self {
        Error(e.0)
    }
}

/// The environment switch upstream's `dummy` type needs, which exists for tests only.
const DUMMY_SWITCH: &str = "OSTREE_DUMMY_SIGN_ENABLED";

fn dummy_enabled() -> Result<(), Error> {
    if std::env::var(DUMMY_SWITCH).as_deref() == Ok("1") {
        Ok(())
    } else {
        Err(Error(
            "dummy signature type is only for ostree testing".into(),
        ))
    }
}

/// A signature type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignType {
    /// Ed25519 (libsodium's format).
    Ed25519,
    /// Upstream's test type: the signature is the secret key itself.
    Dummy,
}

impl SignType {
    /// Every type, in upstream's order.
    pub const ALL: [SignType; 2] = [SignType::Ed25519, SignType::Dummy];

    /// The type of this name.
    pub fn from_name(name: &str) -> Result<SignType, Error> {
        match name {
            "ed25519" => Ok(SignType::Ed25519),
            "dummy" => Ok(SignType::Dummy),
            _ => Err(Error("Requested signature type is not implemented".into())),
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            SignType::Ed25519 => "ed25519",
            SignType::Dummy => "dummy",
        }
    }

    /// The detached-metadata key (and `summary.sig` key) of its signatures, an `aay`.
    pub fn metadata_key(self) -> &'static str {
        match self {
            SignType::Ed25519 => ed25519::METADATA_KEY,
            SignType::Dummy => "ostree.sign.dummy",
        }
    }
}

/// A key that signs.
#[derive(Clone)]
pub enum SigningKey {
    /// An ed25519 secret key.
    Ed25519(ed25519::SecretKey),
    /// A dummy key.
    Dummy(String),
}

impl SigningKey {
    /// Parses a secret key of type `ty` as given on the command line.
    pub fn parse(ty: SignType, text: &str) -> Result<SigningKey, Error> {
        match ty {
            SignType::Ed25519 => Ok(SigningKey::Ed25519(ed25519::SecretKey::from_base64(text)?)),
            SignType::Dummy => {
                dummy_enabled()?;
                Ok(SigningKey::Dummy(text.to_owned()))
            }
        }
    }

    /// Its type.
    pub fn sign_type(&self) -> SignType {
        match self {
            SigningKey::Ed25519(_) => SignType::Ed25519,
            SigningKey::Dummy(_) => SignType::Dummy,
        }
    }

    /// The signature of `data`.
    pub fn sign(&self, data: &[u8]) -> Result<Vec<u8>, Error> {
        match self {
            SigningKey::Ed25519(key) => Ok(key.sign(data).to_vec()),
            SigningKey::Dummy(key) => {
                dummy_enabled()?;
                Ok(key.as_bytes().to_vec())
            }
        }
    }

    /// Adds its signature of `data` to `metadata`, after any there.
    pub fn add_signature(&self, metadata: &mut Metadata, data: &[u8]) -> Result<(), Error> {
        let key = self.sign_type().metadata_key();
        crate::sigarray::append(metadata, key, &self.sign(data)?)
            .ok_or_else(|| Error(format!("{}: wrong type passed for verification", key)))
    }
}

/// The keys signatures of one type are checked with.
#[derive(Clone, Debug)]
pub enum Verifier {
    /// Ed25519 keys (trusted and revoked).
    Ed25519(ed25519::Verifier),
    /// Dummy keys; none configured matches nothing.
    Dummy(Vec<String>),
}

impl Verifier {
    /// Its type.
    pub fn sign_type(&self) -> SignType {
        match self {
            Verifier::Ed25519(_) => SignType::Ed25519,
            Verifier::Dummy(_) => SignType::Dummy,
        }
    }

    /// Whether `signature` is one of these keys' over `data`.
    pub fn accepts(&self, data: &[u8], signature: &[u8]) -> bool {
        match self {
            Verifier::Ed25519(verifier) => verifier
                .trusted
                .iter()
                .any(|k| !verifier.revoked.contains(k) && k.verifies(data, signature)),
            Verifier::Dummy(keys) => keys.iter().any(|k| k.as_bytes() == signature),
        }
    }

    /// Checks `signatures` (of this type) over `data`; on success, the message upstream
    /// prints for it.
    pub fn verify(&self, data: &[u8], signatures: &[Vec<u8>]) -> Result<String, Error> {
        match self {
            Verifier::Ed25519(verifier) => {
                let key = verifier.verify(data, signatures)?;
                Ok(format!(
                    "ed25519: Signature verified successfully with key '{}'",
                    key.to_hex()
                ))
            }
            Verifier::Dummy(keys) => {
                dummy_enabled()?;
                if signatures
                    .iter()
                    .any(|sig| keys.iter().any(|k| k.as_bytes() == sig.as_slice()))
                {
                    return Ok("dummy: Signature verified".into());
                }
                if signatures.is_empty() {
                    return Err(Error("signature: dummy: no signatures".into()));
                }
                Err(Error(format!(
                    "signature: dummy: incorrect signatures found: {}",
                    signatures.len()
                )))
            }
        }
    }
}

/// Checks that one of `verifiers` finds a good signature of its type in `metadata` (a
/// commit's detached metadata, or `summary.sig`) over `data`, as upstream: types without
/// signatures there are passed over; the first good one wins.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use rostree_core::object::Metadata;
/// use rostree_sign::ed25519::{self, SecretKey};
/// use rostree_sign::signapi::{SignType, SigningKey, Verifier, verify_any};
///
/// let secret = SecretKey::from_seed(&[7; 32]);
/// // The secret key as given to `ostree sign`, in base64.
/// let key = SigningKey::parse(SignType::from_name("ed25519")?, &secret.to_base64())?;
/// let mut detached = Metadata::new();
/// key.add_signature(&mut detached, b"commit bytes")?;
/// assert!(detached.get("ostree.sign.ed25519").is_some());
///
/// let trusted = ed25519::Verifier { trusted: vec![secret.public()], revoked: vec![] };
/// let verifiers = [Verifier::Ed25519(trusted)];
/// assert!(verify_any(&verifiers, b"commit bytes", &detached).is_ok());
/// assert!(verify_any(&verifiers, b"other bytes", &detached).is_err());
/// assert!(verify_any(&verifiers, b"commit bytes", &Metadata::new()).is_err()); // unsigned
/// # Ok(()) }
/// ```
pub fn verify_any(
    verifiers: &[Verifier],
    data: &[u8],
    metadata: &Metadata,
) -> Result<String, Error> {
    let mut found = false;
    let mut first_error = None;
    let mut invalid = 0;
    for verifier in verifiers {
        let key = verifier.sign_type().metadata_key();
        if metadata.get(key).is_none() {
            continue;
        }
        found = true;
        let signatures = crate::sigarray::read(metadata, key).ok_or_else(|| {
            Error(format!(
                "signature: {}: wrong type passed for verification",
                verifier.sign_type().name()
            ))
        });
        match signatures.and_then(|sigs| verifier.verify(data, &sigs)) {
            Ok(message) => return Ok(message),
            Err(e) => {
                invalid += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    if !found {
        return Err(Error("No signatures found".into()));
    }
    let error = first_error.expect("a type with signatures failed");
    if invalid > 1 {
        return Err(Error(format!(
            "({} other invalid signatures): {error}",
            invalid - 1
        )));
    }
    Err(error)
}

/// The verifiers a remote's `switch` (`sign-verify` or `sign-verify-summary`) asks for;
/// `None` when it is off. `system` gives the system's trusted and revoked ed25519 keys.
pub fn remote_verifiers(
    remote: &Remote,
    switch: &str,
    system: &dyn Fn() -> Result<ed25519::Verifier, Error>,
) -> Result<Option<Vec<Verifier>>, Error> {
    let repo_error = |e: rostree_repo::Error| Error(e.to_string());
    let Some(value) = remote.option(switch).map_err(repo_error)? else {
        return Ok(None);
    };
    let (types, required) = match value.as_str() {
        "" | "false" | "0" => return Ok(None),
        "true" | "1" => (SignType::ALL.to_vec(), false),
        _ => {
            // `remote add` joins the types with ',', GKeyFile lists with ';': both split.
            let names = remote.option_list(switch).map_err(repo_error)?;
            let types = names
                .iter()
                .flat_map(|n| n.split(','))
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(SignType::from_name)
                .collect::<Result<Vec<_>, _>>()?;
            (types, true)
        }
    };
    types
        .into_iter()
        .map(|ty| load_keys(remote, ty, required, system))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The keys of type `ty` a remote's config names (`verification-TYPE-key`, `-file`).
fn load_keys(
    remote: &Remote,
    ty: SignType,
    required: bool,
    system: &dyn Fn() -> Result<ed25519::Verifier, Error>,
) -> Result<Verifier, Error> {
    let repo_error = |e: rostree_repo::Error| Error(e.to_string());
    let name = ty.name();
    let inline = remote
        .option(&format!("verification-{name}-key"))
        .map_err(repo_error)?;
    let file = remote
        .option(&format!("verification-{name}-file"))
        .map_err(repo_error)?;
    if inline.is_none() && file.is_none() && required {
        return Err(Error(format!(
            "No keys found for required signapi type {name}"
        )));
    }
    match ty {
        SignType::Ed25519 => {
            let system = system()?;
            let mut trusted = Vec::new();
            if let Some(file) = &file {
                let text = std::fs::read_to_string(file)
                    .map_err(|_| Error(format!("Failed loading '{name}' keys from '{file}")))?;
                trusted.extend(ed25519::parse_public_keys(&text)?);
            }
            if let Some(inline) = &inline {
                for key in inline.split(';').map(str::trim).filter(|k| !k.is_empty()) {
                    trusted.push(ed25519::PublicKey::from_base64(key).map_err(|_| {
                        Error(format!(
                            "Failed loading '{name}' keys from inline `verification-key`"
                        ))
                    })?);
                }
            }
            if inline.is_none() && file.is_none() {
                trusted = system.trusted;
            }
            Ok(Verifier::Ed25519(ed25519::Verifier {
                trusted,
                revoked: system.revoked,
            }))
        }
        SignType::Dummy => {
            if let Some(file) = file {
                // Upstream's dummy type reads no key files.
                return Err(Error(format!("Failed loading '{name}' keys from '{file}")));
            }
            Ok(Verifier::Dummy(inline.into_iter().collect()))
        }
    }
}

/// Parses `remote add --sign-verify=TYPE=inline:KEY|file:PATH`: the config key to set and
/// its value, and the type (which `sign-verify` then lists).
pub fn parse_remote_add_spec(spec: &str) -> Result<(String, String, SignType), Error> {
    let Some((name, rest)) = spec.split_once('=') else {
        return Err(Error(format!(
            "Failed to parse KEYTYPE=[inline|file]:DATA in {spec}"
        )));
    };
    let ty = SignType::from_name(name)?;
    let (source, value) = rest.split_once(':').unwrap_or((rest, ""));
    let key = match source {
        "inline" => format!("verification-{name}-key"),
        "file" => format!("verification-{name}-file"),
        other => {
            return Err(Error(format!(
                "Invalid key reference {other}, expected inline|file"
            )));
        }
    };
    Ok((key, value.to_owned(), ty))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_add_specs() {
        type Expected = Result<(&'static str, &'static str), &'static str>;
        let table: &[(&str, Expected)] = &[
            (
                "ed25519=inline:KEY",
                Ok(("verification-ed25519-key", "KEY")),
            ),
            ("dummy=file:/k", Ok(("verification-dummy-file", "/k"))),
            ("dummy", Err("Failed to parse KEYTYPE")),
            ("dummy=foo:bar", Err("Invalid key reference foo")),
            (
                "trustme=inline:ok",
                Err("Requested signature type is not implemented"),
            ),
        ];
        for (spec, expected) in table {
            match (parse_remote_add_spec(spec), expected) {
                (Ok((key, value, _)), Ok((k, v))) => {
                    assert_eq!((key.as_str(), value.as_str()), (*k, *v))
                }
                (Err(e), Err(words)) => assert!(e.0.contains(words), "{spec}: {e}"),
                (got, _) => panic!("{spec}: {got:?}"),
            }
        }
    }

    #[test]
    fn the_first_type_with_a_good_signature_wins() {
        let mut metadata = Metadata::new();
        let ed = ed25519::SecretKey::from_seed(&[3; 32]);
        SigningKey::Ed25519(ed25519::SecretKey::from_seed(&[3; 32]))
            .add_signature(&mut metadata, b"data")
            .expect("sign");
        let good = Verifier::Ed25519(ed25519::Verifier {
            trusted: vec![ed.public()],
            revoked: vec![],
        });
        let other = Verifier::Ed25519(ed25519::Verifier {
            trusted: vec![ed25519::SecretKey::from_seed(&[4; 32]).public()],
            revoked: vec![],
        });
        assert!(verify_any(&[other.clone(), good], b"data", &metadata).is_ok());
        let err = verify_any(&[other], b"data", &metadata).expect_err("untrusted");
        assert!(err.0.contains("couldn't be verified"), "{err}");
        let err = verify_any(&[Verifier::Dummy(vec!["k".into()])], b"data", &metadata)
            .expect_err("no dummy signature");
        assert_eq!(err.0, "No signatures found");
    }
}
