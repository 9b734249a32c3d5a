//! `ostree remote gpg-import` and `gpg-list-keys`: a remote's trusted GPG keys, kept in
//! `<repo>/<remote>.trustedkeys.gpg`. Keys are read and written in-process, never by `gpg`.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result};
use rostree::sign::gpg::Keyring;

use super::keyring_file;
use crate::{GlobalOptions, util};

/// Arguments of `remote gpg-import`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] NAME [KEY-ID...]")]
pub struct ImportArgs {
    /// Import keys from a keyring file (repeatable)
    #[arg(short = 'k', long = "keyring", value_name = "FILE")]
    keyring: Vec<PathBuf>,
    /// Import keys from standard input
    #[arg(long)]
    stdin: bool,
    /// The remote
    name: String,
    /// Only these keys (fingerprints or key IDs of the given keys)
    key_ids: Vec<String>,
}

/// Arguments of `remote gpg-list-keys`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] NAME")]
pub struct ListKeysArgs {
    /// The remote (without one, the global keys)
    name: Option<String>,
}

/// Adds `keys` to the remote's keyring file; returns how many it did not hold yet.
pub fn import_keys(repo: &rostree::Repo, remote: &str, keys: &Keyring) -> Result<usize> {
    let path = repo.path().join(keyring_file(remote));
    let mut keyring = Keyring::new();
    if path.is_file() {
        keyring.add(&std::fs::read(&path)?)?;
    }
    let added = keyring.add_all(keys);
    std::fs::write(&path, keyring.to_bytes()?)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(added)
}

pub fn import(args: ImportArgs, global: &GlobalOptions) -> Result<i32> {
    if args.stdin && !args.keyring.is_empty() {
        return Err(util::usage_error(
            "--keyring and --stdin are mutually exclusive",
        ));
    }
    let repo = global.open_repo()?;
    repo.remote(&args.name)?;
    // As upstream: the keys given (none, without --keyring or --stdin), or those of them
    // the key IDs name.
    let mut given = Keyring::new();
    for file in &args.keyring {
        given.add(&std::fs::read(file).with_context(|| format!("reading {}", file.display()))?)?;
    }
    if args.stdin {
        let mut data = Vec::new();
        std::io::stdin().read_to_end(&mut data)?;
        given.add(&data)?;
    }
    if !args.key_ids.is_empty() {
        given = given.select(&args.key_ids)?;
    }
    if given.is_empty() {
        // Upstream's words (its GPGME export of nothing).
        anyhow::bail!("GPG: Unable to export keys: GPGME: No data");
    }
    let n = import_keys(&repo, &args.name, &given)?;
    util::write_stdout(
        format!(
            "Imported {n} GPG key{} to remote \"{}\"\n",
            if n == 1 { "" } else { "s" },
            args.name
        )
        .as_bytes(),
    )?;
    Ok(0)
}

/// Lists a remote's own keys (its keyring and `gpgkeypath`), or with no remote the global
/// keys, as upstream prints them; times in the local zone, as `%c` shows them.
pub fn list_keys(args: &ListKeysArgs, global: &GlobalOptions) -> Result<i32> {
    let repo = global.open_repo()?;
    let keyring = match &args.name {
        Some(name) => rostree::pull::remote::remote_keys(
            &repo,
            &repo.remote(name)?,
            &rostree::pull::remote::TrustRoots::system(),
            false,
        )?,
        None => {
            let mut keyring = Keyring::new();
            rostree::pull::remote::global_keys(
                &mut keyring,
                &rostree::pull::remote::TrustRoots::system(),
            )?;
            keyring
        }
    };
    let mut out = String::new();
    for key in keyring.listing() {
        part_lines(&mut out, &key.primary, true);
        for uid in &key.user_ids {
            let revoked = if uid.revoked { " (revoked)" } else { "" };
            out.push_str(&format!("  UID: {}{revoked}\n", uid.uid));
            let (advanced, direct) = uid.wkd_urls.clone().unwrap_or_default();
            out.push_str(&format!("  Advanced update URL: {advanced}\n"));
            out.push_str(&format!("  Direct update URL: {direct}\n"));
        }
        for subkey in &key.subkeys {
            part_lines(&mut out, subkey, false);
        }
    }
    util::write_stdout(out.as_bytes())?;
    Ok(0)
}

fn part_lines(out: &mut String, part: &rostree::sign::gpg_keys::KeyPart, primary: bool) {
    let (label, indent) = if primary {
        ("Key", "  ")
    } else {
        ("  Subkey", "    ")
    };
    let revoked = if part.revoked { " (revoked)" } else { "" };
    out.push_str(&format!("{label}: {}{revoked}\n", part.fingerprint));
    out.push_str(&format!("{indent}Created: {}\n", local_ctime(part.created)));
    if let Some(expires) = part.expires {
        let word = if part.expired { "Expired" } else { "Expires" };
        out.push_str(&format!("{indent}{word}: {}\n", local_ctime(expires)));
    }
}

/// A time as GLib's `%c` shows it in the C locale, in the local zone:
/// `Tue Sep 10 02:29:42 2013`, a single-digit day padded with a figure space (U+2007), as
/// GLib pads `%e`.
fn local_ctime(seconds: i64) -> String {
    use chrono::{Datelike as _, TimeZone as _};
    match chrono::Local.timestamp_opt(seconds, 0).single() {
        Some(t) => {
            let pad = if t.day() < 10 { "\u{2007}" } else { "" };
            format!(
                "{} {pad}{} {}",
                t.format("%a %b"),
                t.day(),
                t.format("%H:%M:%S %Y")
            )
        }
        None => seconds.to_string(),
    }
}
