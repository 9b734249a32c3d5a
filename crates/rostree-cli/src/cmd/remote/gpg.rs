//! `ostree remote gpg-import` and `gpg-list-keys`: a remote's trusted GPG keys, kept in
//! `<repo>/<remote>.trustedkeys.gpg`. Keys are read and written in-process, never by `gpg`.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use rostree::sign::gpg::Keyring;

use super::{keyring_file, remote_keyring};
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
    /// Only these keys (not supported: every key given is imported)
    key_ids: Vec<String>,
}

/// Adds `data`'s keys to the remote's keyring file; returns how many.
pub fn import_keys(repo: &rostree::Repo, remote: &str, sources: &[Vec<u8>]) -> Result<usize> {
    let path = repo.path().join(keyring_file(remote));
    let mut keyring = Keyring::new();
    if path.is_file() {
        keyring.add(&std::fs::read(&path)?)?;
    }
    let mut added = 0;
    for data in sources {
        added += keyring.add(data)?;
    }
    std::fs::write(&path, keyring.to_bytes()?)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(added)
}

pub fn import(args: ImportArgs, global: &GlobalOptions) -> Result<i32> {
    if !args.key_ids.is_empty() {
        bail!("Choosing keys by ID is not supported: import a keyring holding only those");
    }
    let repo = global.open_repo()?;
    repo.remote(&args.name)?;
    let mut sources = Vec::new();
    for file in &args.keyring {
        sources.push(std::fs::read(file).with_context(|| format!("reading {}", file.display()))?);
    }
    if args.stdin {
        let mut data = Vec::new();
        std::io::stdin().read_to_end(&mut data)?;
        sources.push(data);
    }
    if sources.is_empty() {
        bail!(
            "rostree does not read GnuPG's own keyring: give the keys with --keyring=FILE or \
             --stdin (gpg --export KEY-ID)"
        );
    }
    let n = import_keys(&repo, &args.name, &sources)?;
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

pub fn list_keys(name: &str, global: &GlobalOptions) -> Result<i32> {
    let repo = global.open_repo()?;
    let remote = repo.remote(name)?;
    let keyring = remote_keyring(&repo, &remote)?;
    let mut out = String::new();
    for (fingerprint, uids) in keyring.describe() {
        out.push_str(&format!("Key: {fingerprint}\n"));
        for uid in uids {
            out.push_str(&format!("  UID: {uid}\n"));
        }
    }
    util::write_stdout(out.as_bytes())?;
    Ok(0)
}
