//! `ostree sign`: add, check or delete ed25519 signatures of a commit.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use rostree::sign::commit::{delete_signatures, sign_commit, verify_commit};
use rostree::sign::ed25519::{PublicKey, SecretKey, Verifier, parse_public_keys};

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
    /// Read keys from this file, one base64 key a line
    #[arg(long = "keys-file", value_name = "FILE")]
    keys_file: Option<PathBuf>,
    /// Where the trusted and revoked keys are (default: /etc/ostree and /usr/share/ostree)
    #[arg(long = "keys-dir", value_name = "DIR")]
    keys_dir: Option<PathBuf>,
    /// The commit
    commit: String,
    /// Base64 keys: secret ones to sign with, public ones to verify or delete with
    keys: Vec<String>,
}

fn read_lines(path: &Path) -> Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

/// The keys of `name` (`trusted.ed25519` or `revoked.ed25519`) under a keys directory: the
/// file itself and every file of `NAME.d/`. Missing ones count as empty.
fn keys_in_dir(dir: &Path, name: &str) -> Result<Vec<PublicKey>> {
    let mut keys = Vec::new();
    let file = dir.join(name);
    if file.is_file() {
        keys.extend(
            parse_public_keys(&std::fs::read_to_string(&file)?)
                .with_context(|| format!("reading {}", file.display()))?,
        );
    }
    let sub = dir.join(format!("{name}.d"));
    if let Ok(entries) = std::fs::read_dir(&sub) {
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths.iter().filter(|p| p.is_file()) {
            keys.extend(
                parse_public_keys(&std::fs::read_to_string(path)?)
                    .with_context(|| format!("reading {}", path.display()))?,
            );
        }
    }
    Ok(keys)
}

/// The trusted and revoked keys of the system (or `--keys-dir`).
pub fn system_verifier(keys_dir: Option<&Path>) -> Result<Verifier> {
    let dirs: Vec<PathBuf> = match keys_dir {
        Some(dir) => vec![dir.to_owned()],
        None => vec!["/etc/ostree".into(), "/usr/share/ostree".into()],
    };
    let mut verifier = Verifier::default();
    for dir in &dirs {
        verifier
            .trusted
            .extend(keys_in_dir(dir, "trusted.ed25519")?);
        verifier
            .revoked
            .extend(keys_in_dir(dir, "revoked.ed25519")?);
    }
    Ok(verifier)
}

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    if args.sign_type != "ed25519" {
        bail!("Requested signature type is not implemented");
    }
    let repo = global.open_repo()?;
    let commit = repo.resolve_rev(&args.commit)?;
    let mut keys = args.keys.clone();
    if let Some(file) = &args.keys_file {
        keys.extend(read_lines(file)?);
    }
    let public =
        |k: &String| PublicKey::from_base64(k).map_err(|_| anyhow::anyhow!("Invalid KEY '{k}'"));
    if args.verify {
        let verifier = if keys.is_empty() {
            system_verifier(args.keys_dir.as_deref())?
        } else {
            Verifier {
                trusted: keys.iter().map(public).collect::<Result<_>>()?,
                revoked: system_verifier(args.keys_dir.as_deref())?.revoked,
            }
        };
        return match verify_commit(&repo, &commit, &verifier) {
            Ok(key) => {
                util::write_stdout(
                    format!(
                        "Signature verified successfully with key '{}'\n",
                        key.to_hex()
                    )
                    .as_bytes(),
                )?;
                Ok(0)
            }
            Err(e) => bail!("No valid signatures found: {e}"),
        };
    }
    if keys.is_empty() {
        bail!("Need at least one KEY-ID to sign with");
    }
    if args.delete {
        // A secret key stands for its public half.
        let targets: Vec<PublicKey> = keys
            .iter()
            .map(|k| {
                SecretKey::from_base64(k)
                    .map(|s| s.public())
                    .or_else(|_| public(k))
            })
            .collect::<Result<_>>()?;
        delete_signatures(&repo, &commit, &targets)?;
        return Ok(0);
    }
    for key in &keys {
        let secret =
            SecretKey::from_base64(key).map_err(|_| anyhow::anyhow!("Invalid KEY '{key}'"))?;
        sign_commit(&repo, &commit, &secret)?;
    }
    Ok(0)
}
