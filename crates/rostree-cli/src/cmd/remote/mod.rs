//! `ostree remote`: manage the remotes a repository pulls from.

use anyhow::{Result, bail};
use clap::Subcommand;
use rostree::Repo;
use rostree::pull::remote::{self, TrustRoots};
use rostree::repo::remote::Remote;
use rostree::sign::gpg::Keyring;

use crate::{GlobalOptions, util};

mod add;
mod cookies;
pub(crate) mod gpg;

/// The `remote` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add a remote repository
    Add(add::Args),
    /// Delete a remote repository
    Delete(DeleteArgs),
    /// Show remote repository URL
    ShowUrl(NameArgs),
    /// List remote repository names
    List(ListArgs),
    /// Add a cookie to remote
    AddCookie(cookies::AddArgs),
    /// Remove one cookie from remote
    DeleteCookie(cookies::DeleteArgs),
    /// Show remote repository cookies
    ListCookies(NameArgs),
    /// List remote refs
    Refs(RefsArgs),
    /// Import GPG keys
    GpgImport(gpg::ImportArgs),
    /// Show remote GPG keys
    GpgListKeys(gpg::ListKeysArgs),
    /// Show remote summary
    Summary(SummaryArgs),
}

/// Arguments of `remote refs`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] NAME")]
pub struct RefsArgs {
    /// Use custom cache dir
    #[arg(long = "cache-dir", value_name = "")]
    cache_dir: Option<std::path::PathBuf>,
    /// Print the refs as JSON (rostree's own; docs/json.md)
    #[arg(long)]
    json: bool,
    /// The remote
    name: String,
}

/// Arguments of `remote summary`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] NAME")]
pub struct SummaryArgs {
    /// Use custom cache dir
    #[arg(long = "cache-dir", value_name = "")]
    cache_dir: Option<std::path::PathBuf>,
    /// Show raw variant data
    #[arg(long)]
    raw: bool,
    /// Print the summary as JSON (rostree's own; docs/json.md)
    #[arg(long)]
    json: bool,
    /// The remote
    name: String,
}

/// The file `remote gpg-import` writes a remote's keys to.
pub fn keyring_file(remote: &str) -> String {
    rostree::repo::remote::keyring_file_name(remote)
}

/// The keys a remote's GPG signatures are checked with, global ones included (see
/// [`rostree::pull::remote::remote_keys`]).
pub fn remote_keyring(repo: &Repo, remote: &Remote) -> Result<Keyring> {
    Ok(remote::remote_keys(
        repo,
        remote,
        &TrustRoots::system(),
        true,
    )?)
}

/// The remote's summary, fetched from its URL.
pub fn remote_summary(
    repo: &Repo,
    name: &str,
    cache_dir: Option<&std::path::Path>,
) -> Result<Option<rostree::pull::pull::RemoteSummary>> {
    let remote = repo.remote(name)?;
    // The URL first, as upstream asks for it before anything else.
    let url = remote.fetch_url()?;
    let roots = TrustRoots::system();
    let options = remote::fetch_options(repo, &remote)?;
    let verifier = remote::verifiers_if(&remote, &roots, "sign-verify-summary")?;
    let keyring = remote::gpg_keyring_if(repo, &remote, &roots, "gpg-verify-summary", false)?;
    Ok(rostree::pull::pull::fetch_summary(
        repo,
        name,
        cache_dir,
        &url,
        &options,
        verifier.as_deref(),
        keyring.as_ref(),
    )?)
}

/// Arguments of `remote delete`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] NAME")]
pub struct DeleteArgs {
    /// Use sysroot at PATH (overrides --repo)
    #[arg(long, value_name = "PATH")]
    sysroot: Option<std::path::PathBuf>,
    /// Do nothing if the provided remote does not exist
    #[arg(long = "if-exists")]
    if_exists: bool,
    /// The remote
    name: String,
}

/// A command that takes just the remote's name.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] NAME")]
pub struct NameArgs {
    /// The remote
    name: String,
}

/// Arguments of `remote list`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…]")]
pub struct ListArgs {
    /// Show remote URLs in list
    #[arg(short = 'u', long = "show-urls")]
    show_urls: bool,
    /// Print the remotes as JSON, with their URLs (rostree's own; docs/json.md)
    #[arg(long)]
    json: bool,
}

pub fn run(command: Command, global: &GlobalOptions) -> Result<i32> {
    match command {
        Command::Add(args) => add::run(args, global),
        Command::Delete(args) => {
            match &args.sysroot {
                Some(path) => {
                    let mut sysroot = crate::cmd::admin::load_sysroot(path)?;
                    sysroot
                        .repo_mut()
                        .delete_remote(&args.name, args.if_exists)?;
                }
                None => {
                    global
                        .open_repo()?
                        .delete_remote(&args.name, args.if_exists)?;
                }
            }
            Ok(0)
        }
        Command::ShowUrl(args) => {
            let repo = global.open_repo()?;
            let url = repo.remote(&args.name)?.url()?;
            util::write_stdout(format!("{url}\n").as_bytes())?;
            Ok(0)
        }
        Command::List(args) => {
            let repo = global.open_repo()?;
            let names = repo.remote_names();
            if args.json {
                let mut remotes = Vec::new();
                for name in &names {
                    let url = repo.remote(name)?.url().ok();
                    remotes.push(serde_json::json!({ "name": name, "url": url }));
                }
                crate::json::print(&serde_json::json!({ "remotes": remotes }))?;
                return Ok(0);
            }
            let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
            // Line by line, as upstream: a remote without a URL fails after those before it.
            for name in &names {
                let line = if args.show_urls {
                    let url = repo.remote(name)?.url()?;
                    format!("{name:<width$}  {url}\n")
                } else {
                    format!("{name}\n")
                };
                util::write_stdout(line.as_bytes())?;
            }
            Ok(0)
        }
        Command::AddCookie(args) => cookies::add(args, global),
        Command::DeleteCookie(args) => cookies::delete(args, global),
        Command::ListCookies(args) => cookies::list(&args.name, global),
        Command::GpgImport(args) => gpg::import(args, global),
        Command::GpgListKeys(args) => gpg::list_keys(&args, global),
        Command::Refs(args) => {
            let repo = global.open_repo()?;
            let Some(rostree::pull::pull::RemoteSummary { summary, .. }) =
                remote_summary(&repo, &args.name, args.cache_dir.as_deref())?
            else {
                bail!("Remote refs not available; server has no summary file");
            };
            if args.json {
                let refs: Vec<serde_json::Value> = summary
                    .refs
                    .iter()
                    .map(|(name, r)| {
                        let full = format!("{}:{name}", args.name);
                        serde_json::json!({
                            "name": full,
                            "ref": full,
                            "remote": args.name,
                            "checksum": r.checksum.to_hex(),
                        })
                    })
                    .collect();
                crate::json::print(&serde_json::json!({ "refs": refs }))?;
                return Ok(0);
            }
            let mut out = String::new();
            for (name, _) in &summary.refs {
                out.push_str(&format!("{}:{name}\n", args.name));
            }
            util::write_stdout(out.as_bytes())?;
            Ok(0)
        }
        Command::Summary(args) => {
            let repo = global.open_repo()?;
            let Some(rostree::pull::pull::RemoteSummary {
                bytes,
                summary,
                signature,
            }) = remote_summary(&repo, &args.name, args.cache_dir.as_deref())?
            else {
                bail!("Remote server has no summary file");
            };
            if args.json {
                crate::json::print(&crate::cmd::summary::json(&summary))?;
                return Ok(0);
            }
            let mut text = crate::cmd::summary::show(&bytes, &summary, args.raw)?;
            // With gpg-verify-summary, the signatures are described after the summary (they
            // were checked when it was fetched), as upstream; not with --raw.
            let remote = repo.remote(&args.name)?;
            let keyring = remote::gpg_keyring_if(
                &repo,
                &remote,
                &TrustRoots::system(),
                "gpg-verify-summary",
                false,
            )?;
            if let (Some(keyring), Some(signature), false) = (keyring, signature, args.raw) {
                let sigs = rostree::core::object::Metadata::from_bytes(&signature)
                    .map_err(|e| anyhow::anyhow!("summary.sig: {}", e.detail()))?;
                let sigs = rostree::sign::gpg::signatures(&sigs)?;
                let reports = keyring.report(&bytes, &sigs);
                text.push_str(&format!(
                    "\nGPG: Verification enabled, found {} signature{}:\n",
                    reports.len(),
                    if reports.len() == 1 { "" } else { "s" }
                ));
                for report in reports {
                    text.push_str(&format!("\n{report}\n"));
                }
            }
            util::write_stdout(text.as_bytes())?;
            Ok(0)
        }
    }
}
