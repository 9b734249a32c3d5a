//! `ostree remote add`.

use anyhow::{Result, bail};
use rostree::repo::remote::{IfExists, RemoteAddOptions};

use crate::GlobalOptions;

/// Arguments of `remote add`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] NAME [metalink=|mirrorlist=]URL [BRANCH...]")]
pub struct Args {
    /// Use sysroot at PATH (overrides --repo)
    #[arg(long, value_name = "PATH")]
    sysroot: Option<std::path::PathBuf>,
    /// Set config option KEY=VALUE for remote
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Disable GPG verification
    #[arg(long = "no-gpg-verify")]
    no_gpg_verify: bool,
    /// Disable signature verification
    #[arg(long = "no-sign-verify")]
    no_sign_verify: bool,
    /// Verify signatures using KEYTYPE=inline:PUBKEY or KEYTYPE=file:/path/to/key
    #[arg(long = "sign-verify", value_name = "KEYTYPE=[inline|file]:PUBKEY")]
    sign_verify: Vec<String>,
    /// Do nothing if the provided remote exists
    #[arg(long = "if-not-exists")]
    if_not_exists: bool,
    /// Replace the provided remote if it exists
    #[arg(long)]
    force: bool,
    /// Import GPG key from FILE
    #[arg(long = "gpg-import", value_name = "FILE")]
    gpg_import: Option<String>,
    /// This remote has content not fetched via libostree
    #[arg(long = "custom-backend", value_name = "NAME")]
    custom_backend: Option<String>,
    /// Use URL when fetching content
    #[arg(long, value_name = "URL")]
    contenturl: Option<String>,
    /// Globally unique ID for this repository as a collection of refs
    #[arg(long = "collection-id", value_name = "COLLECTION-ID")]
    collection_id: Option<String>,
    /// The remote's name
    name: Option<String>,
    /// Its URL ([metalink=|mirrorlist=]URL)
    url: Option<String>,
    /// Branches to pull by default
    branches: Vec<String>,
}

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    let Some(name) = &args.name else {
        return Err(crate::util::usage_error("NAME must be specified"));
    };
    // Content a custom backend fetches needs no URL of ostree's.
    if args.url.is_none() && args.custom_backend.is_none() {
        return Err(crate::util::usage_error("NAME and URL must be specified"));
    }

    if args.if_not_exists && args.force {
        bail!("Can only specify one of --if-not-exists and --force");
    }
    // Upstream's key order: url, branches, contenturl, custom-backend, --set, the
    // verification switches, collection-id.
    let mut settings = Vec::new();
    if let Some(url) = &args.contenturl {
        settings.push(("contenturl".to_owned(), url.clone()));
    }
    if let Some(backend) = &args.custom_backend {
        settings.push(("custom-backend".to_owned(), backend.clone()));
    }
    for kv in &args.set {
        let Some((key, value)) = kv.split_once('=') else {
            bail!("Missing '=' in KEY=VALUE pair '{kv}'");
        };
        settings.push((key.to_owned(), value.to_owned()));
    }
    if args.no_gpg_verify || args.no_sign_verify {
        settings.push(("gpg-verify".to_owned(), "false".to_owned()));
    }
    if args.no_sign_verify {
        settings.push(("sign-verify".to_owned(), "false".to_owned()));
    }
    if let Some(id) = &args.collection_id {
        settings.push(("collection-id".to_owned(), id.clone()));
    }
    // TYPE=inline:KEY or TYPE=file:PATH: the key (or key file) to verify with, and
    // `sign-verify` listing those types.
    let mut sign_types: Vec<&str> = Vec::new();
    for spec in &args.sign_verify {
        let (key, value, ty) = rostree::sign::signapi::parse_remote_add_spec(spec)?;
        if ty == rostree::sign::signapi::SignType::Ed25519 && key.ends_with("-key") {
            rostree::sign::ed25519::PublicKey::from_base64(&value)?;
        }
        settings.push((key, value));
        if !sign_types.contains(&ty.name()) {
            sign_types.push(ty.name());
        }
    }
    if !sign_types.is_empty() {
        settings.push(("sign-verify".to_owned(), sign_types.join(",")));
    }
    let options = RemoteAddOptions {
        branches: args.branches.clone(),
        settings,
        if_exists: if args.force {
            IfExists::Replace
        } else if args.if_not_exists {
            IfExists::Keep
        } else {
            IfExists::Fail
        },
    };
    // Read (and checked) before the remote is added: bad key data changes nothing.
    let import = match &args.gpg_import {
        Some(file) => {
            let data = std::fs::read(file).map_err(|e| anyhow::anyhow!("reading {file}: {e}"))?;
            let mut keys = rostree::sign::gpg::Keyring::new();
            keys.add(&data)?;
            Some(keys)
        }
        None => None,
    };
    let (mut sysroot, mut own_repo);
    let repo = match &args.sysroot {
        Some(path) => {
            sysroot = crate::cmd::admin::load_sysroot(path)?;
            sysroot.repo_mut()
        }
        None => {
            own_repo = global.open_repo()?;
            &mut own_repo
        }
    };
    let added = repo.add_remote(name, args.url.as_deref(), &options)?;
    if let (true, Some(keys)) = (added, import) {
        let n = super::gpg::import_keys(repo, name, &keys)?;
        crate::util::write_stdout(
            format!(
                "Imported {n} GPG key{} to remote \"{name}\"\n",
                if n == 1 { "" } else { "s" }
            )
            .as_bytes(),
        )?;
    }
    Ok(0)
}
