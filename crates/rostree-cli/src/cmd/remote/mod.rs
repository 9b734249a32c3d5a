//! `ostree remote`: manage the remotes a repository pulls from.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use rostree::Repo;
use rostree::pull::fetch::FetchOptions;
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
    /// The remote
    name: String,
}

/// Refuses remotes whose settings ask for what rostree cannot do yet, or that say they must
/// not be pulled from, rather than silently doing less.
pub(crate) fn refuse_unsupported(remote: &Remote) -> Result<()> {
    let name = remote.name();
    if let Some(state) = remote.option("unconfigured-state")? {
        bail!("Remote \"{name}\" is not configured: {state}");
    }
    if let Some(backend) = remote.option("custom-backend")? {
        bail!("Cannot fetch via libostree - remote '{name}' uses custom backend '{backend}'");
    }
    Ok(())
}

/// The file `remote gpg-import` writes a remote's keys to.
pub fn keyring_file(remote: &str) -> String {
    rostree::repo::remote::keyring_file_name(remote)
}

/// Adds the keys of `path`: a keyring file, or the `.gpg` and `.asc` files of a directory
/// (others, such as a README, are not keys).
/// Adds the keys of a keyring file (which must hold keys), or of the keyrings in a
/// directory: its `.gpg` and `.asc` files but GnuPG's `trustdb.gpg` and `secring.gpg`,
/// passing over those that hold no keys, as GPGME's import does.
fn add_keys_from(keyring: &mut Keyring, path: &std::path::Path) -> Result<()> {
    if !path.is_dir() {
        // Upstream's words for a path that is not there.
        let data = std::fs::read(path).map_err(|e| {
            anyhow::anyhow!(
                "opendir({}): {}",
                path.display(),
                rostree::repo::os_error_text(&e)
            )
        })?;
        keyring
            .add(&data)
            .with_context(|| format!("reading keys from {}", path.display()))?;
        return Ok(());
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).with_context(|| format!("listing {}", path.display()))? {
        let p = entry?.path();
        let keyring = p.extension().is_some_and(|e| e == "gpg" || e == "asc");
        let gnupg_own = p
            .file_name()
            .is_some_and(|n| n == "trustdb.gpg" || n == "secring.gpg");
        if p.is_file() && keyring && !gnupg_own {
            files.push(p);
        }
    }
    files.sort();
    for file in files {
        let data = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
        let _ = keyring.add(&data);
    }
    Ok(())
}

/// The keys signatures are checked with when no remote is named, as upstream: the keyrings
/// of all remotes (the `*.gpg` files of the repo), those of `homedir` (its `.gpg`/`.asc`
/// files, and the keybox of a GnuPG home), and the global directory.
pub fn all_remotes_keyring(repo: &Repo, homedir: Option<&std::path::Path>) -> Result<Keyring> {
    let mut keyring = Keyring::new();
    add_keys_from(&mut keyring, repo.path())?;
    if let Some(home) = homedir {
        // A GnuPG home holds more than keys (`trustdb.gpg`); what does not read as keys is
        // passed over, as are keys of algorithms rostree cannot check.
        let entries =
            std::fs::read_dir(home).with_context(|| format!("listing {}", home.display()))?;
        let mut files: Vec<std::path::PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "gpg" || e == "asc"))
            .collect();
        files.sort();
        for file in files {
            if let Ok(data) = std::fs::read(&file) {
                let _ = keyring.add(&data);
            }
        }
        if let Ok(data) = std::fs::read(home.join("pubring.kbx")) {
            for block in rostree::sign::gnupg::keybox_blocks(&data) {
                let _ = keyring.add(block);
            }
        }
    }
    let global = global_keyring_dir();
    if global.is_dir() {
        add_keys_from(&mut keyring, &global)?;
    }
    Ok(keyring)
}

fn global_keyring_dir() -> std::path::PathBuf {
    std::env::var_os("OSTREE_GPG_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/usr/share/ostree/trusted.gpg.d".into())
}

/// The keys a remote's GPG signatures are checked with, as upstream gathers them: its own
/// keyring (`<remote>.trustedkeys.gpg`, here or in a `core.parent`), the files and
/// directories of `gpgkeypath` (`;` or `,` separated), and, only when the remote has no
/// keyring of its own, the global directory (`$OSTREE_GPG_HOME`, else
/// `/usr/share/ostree/trusted.gpg.d`).
pub fn remote_keyring(repo: &Repo, remote: &Remote) -> Result<Keyring> {
    remote_keys(repo, remote, true)
}

/// [`remote_keyring`], with the global directory or without it (`gpg-list-keys NAME`
/// lists the remote's keys alone).
pub fn remote_keys(repo: &Repo, remote: &Remote, with_global: bool) -> Result<Keyring> {
    let mut keyring = Keyring::new();
    // The remote's own keyring, in this repository or (for a remote it takes from its
    // `core.parent`) in the first parent that has one.
    let mut own = false;
    let mut holder = Some(repo);
    while let Some(r) = holder {
        let path = r.path().join(keyring_file(remote.name()));
        if path.is_file() {
            add_keys_from(&mut keyring, &path)?;
            own = true;
            break;
        }
        holder = r.parent();
    }
    if let Some(paths) = remote.option("gpgkeypath")? {
        for path in key_path_list(&paths)? {
            add_keys_from(&mut keyring, std::path::Path::new(path))?;
        }
    }
    if with_global && !own {
        global_keys(&mut keyring)?;
    }
    Ok(keyring)
}

/// `gpgkeypath`'s paths: separated by `;` or by `,`, not both (upstream's rule and words).
fn key_path_list(value: &str) -> Result<Vec<&str>> {
    let separators: Vec<char> = [';', ',']
        .into_iter()
        .filter(|c| value.contains(*c))
        .collect();
    let mut parts: Vec<&str> = match separators.as_slice() {
        [] => vec![value],
        [sep] => value.split(*sep).collect(),
        _ => bail!("key value list contains more than one separator"),
    };
    // As GKeyFile reads lists: a trailing separator ends the list; other empty items stay
    // (and name no file).
    if parts.len() > 1 && parts.last() == Some(&"") {
        parts.pop();
    }
    Ok(parts)
}

/// Adds the keys of the global directory, if there is one.
pub fn global_keys(keyring: &mut Keyring) -> Result<()> {
    let global = global_keyring_dir();
    if global.is_dir() {
        add_keys_from(keyring, &global)?;
    }
    Ok(())
}

/// The keyring for a switch (`gpg-verify`, default on; `gpg-verify-summary`, default off),
/// or `None` when it is off.
pub fn gpg_keyring_if(
    repo: &Repo,
    remote: &Remote,
    switch: &str,
    default: bool,
) -> Result<Option<Keyring>> {
    if !remote.option_bool(switch, default)? {
        return Ok(None);
    }
    Ok(Some(remote_keyring(repo, remote)?))
}

/// The keys a remote's commits must be signed with, when it has `sign-verify` (see
/// [`rostree::sign::signapi`]).
pub fn sign_verifier(remote: &Remote) -> Result<Option<Vec<rostree::sign::signapi::Verifier>>> {
    verifiers_if(remote, "sign-verify")
}

/// The keys `summary.sig` must be signed with when the remote has `sign-verify-summary`.
pub fn summary_verifier(remote: &Remote) -> Result<Option<Vec<rostree::sign::signapi::Verifier>>> {
    verifiers_if(remote, "sign-verify-summary")
}

fn verifiers_if(
    remote: &Remote,
    switch: &str,
) -> Result<Option<Vec<rostree::sign::signapi::Verifier>>> {
    let system = || rostree::sign::ed25519::system_keys(None).map_err(Into::into);
    Ok(rostree::sign::signapi::remote_verifiers(
        remote, switch, &system,
    )?)
}

/// How to reach a remote, from its config: `http2`, `tls-permissive`, `tls-ca-path`,
/// `tls-client-cert-path` with `tls-client-key-path`, `proxy`, and its cookie jar.
pub fn fetch_options(repo: &Repo, remote: &Remote) -> Result<FetchOptions> {
    let cert = remote.option("tls-client-cert-path")?;
    let key = remote.option("tls-client-key-path")?;
    let tls_client_cert = match (cert, key) {
        (Some(cert), Some(key)) => Some((cert.into(), key.into())),
        (None, None) => None,
        _ => bail!(
            "Remote \"{}\": tls-client-cert-path and tls-client-key-path go together",
            remote.name()
        ),
    };
    let cookies = repo.remote_cookies(remote.name())?;
    let cookie = (!cookies.is_empty()).then(|| {
        cookies
            .iter()
            .map(|c| format!("{}={}", c.name, c.value))
            .collect::<Vec<_>>()
            .join("; ")
    });
    refuse_unsupported(remote)?;
    let mut headers = Vec::new();
    for header in remote.option_list("http-headers")? {
        let Some((name, value)) = header.split_once('=') else {
            bail!(
                "Remote \"{}\": http-headers: '{header}' is not NAME=VALUE",
                remote.name()
            );
        };
        headers.push((name.to_owned(), value.to_owned()));
    }
    Ok(FetchOptions {
        headers,
        user_agent_suffix: remote.option("append-user-agent")?,
        http2: remote.option_bool("http2", true)?,
        tls_permissive: remote.option_bool("tls-permissive", false)?,
        tls_ca_path: remote.option("tls-ca-path")?.map(Into::into),
        tls_client_cert,
        proxy: remote.option("proxy")?,
        cookie,
        ..FetchOptions::default()
    })
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
    let options = fetch_options(repo, &remote)?;
    let verifier = summary_verifier(&remote)?;
    let keyring = gpg_keyring_if(repo, &remote, "gpg-verify-summary", false)?;
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
}

pub fn run(command: Command, global: &GlobalOptions) -> Result<i32> {
    match command {
        Command::Add(args) => add::run(args, global),
        Command::Delete(args) => {
            let mut repo = global.open_repo()?;
            repo.delete_remote(&args.name, args.if_exists)?;
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
            let mut text = crate::cmd::summary::show(&bytes, &summary, args.raw)?;
            // With gpg-verify-summary, the signatures are described after the summary (they
            // were checked when it was fetched), as upstream; not with --raw.
            let remote = repo.remote(&args.name)?;
            let keyring = gpg_keyring_if(&repo, &remote, "gpg-verify-summary", false)?;
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
