//! `ostree gpg-sign`: add or delete GPG signatures of a commit, with keys from a GnuPG home.

use std::path::Path;

use anyhow::{Result, bail};
use rostree::sign::commit::{gpg_delete_signatures, gpg_sign_commit};
use rostree::sign::gnupg::Signer;

use crate::GlobalOptions;

/// Arguments of `gpg-sign`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] COMMIT KEY-ID...")]
pub struct Args {
    /// Delete signatures having any of the GPG KEY-IDs
    #[arg(short = 'd', long)]
    delete: bool,
    /// GPG Homedir to use when looking for keyrings
    #[arg(long = "gpg-homedir", value_name = "HOMEDIR")]
    gpg_homedir: Option<String>,
    /// The commit
    commit: Option<String>,
    /// GPG key IDs
    key_ids: Vec<String>,
}

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    let Some(commit) = &args.commit else {
        bail!("Need a COMMIT to sign");
    };
    if args.key_ids.is_empty() {
        bail!("Need at least one GPG KEY-ID to sign with");
    }
    let repo = global.open_repo()?;
    let commit = repo.resolve_rev(commit)?;
    if args.delete {
        let deleted = gpg_delete_signatures(&repo, &commit, &args.key_ids)?;
        println!("Signatures deleted: {deleted}");
        return Ok(0);
    }
    // Every key is found before the first signature is written.
    let homedir = args.gpg_homedir.as_deref().map(Path::new);
    let signers = args
        .key_ids
        .iter()
        .map(|id| Signer::find(homedir, id).map(|s| (id, s)))
        .collect::<Result<Vec<_>, _>>()?;
    for (key_id, signer) in &signers {
        gpg_sign_commit(&repo, &commit, key_id, signer)?;
    }
    Ok(0)
}
