//! `ostree sign`: add, check or delete a commit's signatures (ed25519, or upstream's test
//! type `dummy`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use rostree::sign::commit::{delete_signatures, sign_commit, verify_commit};
use rostree::sign::ed25519::{self, PublicKey, Verifier};
use rostree::sign::signapi::{self, SignType, SigningKey};

use crate::{GlobalOptions, util};

/// Arguments of `sign`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] COMMIT KEY-ID...")]
pub struct Args {
    /// Delete signatures having any of the KEY-IDs
    #[arg(short = 'd', long)]
    delete: bool,
    /// Verify signatures
    #[arg(long)]
    verify: bool,
    /// Signature type to use (defaults to 'ed25519')
    #[arg(
        short = 's',
        long = "sign-type",
        value_name = "NAME",
        default_value = "ed25519"
    )]
    sign_type: String,
    /// Read key(s) from file
    #[arg(long = "keys-file", value_name = "NAME")]
    keys_file: Option<PathBuf>,
    /// Redefine system-wide directories with public and revoked keys for verification
    #[arg(long = "keys-dir", value_name = "NAME")]
    keys_dir: Option<PathBuf>,
    /// The commit
    commit: String,
    /// Keys: secret ones to sign with, public ones to verify or delete with
    keys: Vec<String>,
}

pub(crate) fn read_lines(path: &Path) -> Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

/// The signing keys `--sign=KEY` names, of `--sign-type`: refused (before anything is
/// written) when the type is unknown or a key does not parse.
pub fn signing_keys(sign_type: &str, keys: &[String]) -> Result<Vec<SigningKey>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let ty = SignType::from_name(sign_type)?;
    keys.iter()
        .map(|k| {
            SigningKey::parse(ty, k).map_err(|e| match ty {
                SignType::Ed25519 => anyhow::anyhow!("Invalid KEY '{k}'"),
                SignType::Dummy => e.into(),
            })
        })
        .collect()
}

/// The keys to verify (or delete) with: those given, else the system's.
pub(crate) fn verifiers(
    ty: SignType,
    keys: &[String],
    keys_dir: Option<&Path>,
) -> Result<signapi::Verifier> {
    Ok(match ty {
        SignType::Ed25519 => {
            let system = ed25519::system_keys(keys_dir)?;
            if keys.is_empty() {
                signapi::Verifier::Ed25519(system)
            } else {
                let public = |k: &String| {
                    // A secret key stands for its public half.
                    ed25519::SecretKey::from_base64(k)
                        .map(|s| s.public())
                        .or_else(|_| PublicKey::from_base64(k))
                        .map_err(|_| anyhow::anyhow!("Invalid KEY '{k}'"))
                };
                signapi::Verifier::Ed25519(Verifier {
                    trusted: keys.iter().map(public).collect::<Result<_>>()?,
                    revoked: system.revoked,
                })
            }
        }
        SignType::Dummy => signapi::Verifier::Dummy(keys.to_vec()),
    })
}

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    let ty = SignType::from_name(&args.sign_type)?;
    let repo = global.open_repo()?;
    let commit = repo.resolve_rev(&args.commit)?;
    let mut keys = args.keys.clone();
    if let Some(file) = &args.keys_file {
        keys.extend(read_lines(file)?);
    }
    if args.verify {
        // Each key given on its own, as upstream tries them, then all of them at once.
        let verifier = verifiers(ty, &keys, args.keys_dir.as_deref())?;
        return match verify_commit(&repo, &commit, std::slice::from_ref(&verifier)) {
            Ok(message) => {
                util::write_stdout(format!("{message}\n").as_bytes())?;
                Ok(0)
            }
            Err(e) => bail!("No valid signatures found: {e}"),
        };
    }
    if keys.is_empty() {
        bail!("Need at least one KEY-ID to sign with");
    }
    if args.delete {
        delete_signatures(&repo, &commit, &verifiers(ty, &keys, None)?)?;
        return Ok(0);
    }
    for key in signing_keys(&args.sign_type, &keys)? {
        sign_commit(&repo, &commit, &key)?;
    }
    Ok(0)
}
