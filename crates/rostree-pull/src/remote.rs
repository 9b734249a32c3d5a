//! A remote's configuration, as upstream reads it, made into what a pull needs: where to
//! fetch from (URL, `contenturl`, collection ID), how (TLS, proxy, cookies, headers), and
//! whom to trust (GPG keyrings and ed25519 keys, with upstream's defaults). A library user
//! pulls `origin` as `ostree pull origin` would with [`pull_options`] and [`crate::pull`].
//!
//! ```text
//! repo/config                 [remote "NAME"] url= contenturl= gpg-verify= tls-*= proxy= …
//! repo/NAME.trustedkeys.gpg   the remote's own GPG keys (`remote gpg-import`)
//! repo/NAME.cookies.txt       its cookie jar
//! gpgkeypath=                 more keyrings, files or directories (`;` or `,` separated)
//! $OSTREE_GPG_HOME, else /usr/share/ostree/trusted.gpg.d
//!                             global GPG keys, for remotes without a keyring of their own
//! /etc/ostree/trusted.ed25519(.d), /usr/share/ostree/trusted.ed25519(.d)
//!                             ed25519 keys, for `sign-verify=true`
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rostree_repo::Repo;
use rostree_repo::remote::Remote;
use rostree_sign::KeyDir;
use rostree_sign::gpg::Keyring;
use rostree_sign::signapi::Verifier;

use crate::error::{Error, Result};
use crate::fetch::FetchOptions;
use crate::pull::{PullOptions, RemoteSpec};

/// Where keys that hold for every remote live (upstream's system locations by default),
/// held as directory handles.
#[derive(Debug)]
pub struct TrustRoots {
    /// The global GPG keyrings' directory (upstream's `trusted.gpg.d`): used for a remote
    /// that has no keyring of its own. `None`: there is none.
    pub gpg_dir: Option<KeyDir>,
    /// Directories of ed25519 key files, for `sign-verify=true` without explicit keys, in
    /// the order they are read.
    pub ed25519_dirs: Vec<KeyDir>,
}

impl TrustRoots {
    /// Upstream's: `$OSTREE_GPG_HOME` or `/usr/share/ostree/trusted.gpg.d`, and the ed25519
    /// keys of `/etc/ostree` and `/usr/share/ostree`; each opened if it exists.
    pub fn system() -> TrustRoots {
        let gpg = std::env::var_os("OSTREE_GPG_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| "/usr/share/ostree/trusted.gpg.d".into());
        TrustRoots {
            gpg_dir: KeyDir::open(gpg),
            ed25519_dirs: rostree_sign::keydir::system_ed25519_dirs(),
        }
    }

    /// No trust roots at all: only a remote's own keys count.
    pub fn none() -> TrustRoots {
        TrustRoots {
            gpg_dir: None,
            ed25519_dirs: Vec::new(),
        }
    }
}

impl Default for TrustRoots {
    fn default() -> Self {
        TrustRoots::system()
    }
}

/// The options and target for pulling from `remote` as upstream would by its
/// configuration: its URL, `contenturl` and collection ID; GPG verification (`gpg-verify`,
/// default on; `gpg-verify-summary`, default off) with its keys; ed25519 verification
/// (`sign-verify`, `sign-verify-summary`); and its connection settings. A remote marked
/// unconfigured or served by a custom backend is refused.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use rostree_pull::remote::{TrustRoots, pull_options};
/// let dir = cap_std::fs::Dir::open_ambient_dir("repo", cap_std::ambient_authority())?;
/// let repo = rostree_repo::Repo::open(dir, "repo")?;
/// let (spec, options) = pull_options(&repo, &repo.remote("origin")?, &TrustRoots::system())?;
/// assert_eq!(spec.name, "origin");
/// # let _ = options;
/// # Ok(()) }
/// ```
pub fn pull_options(
    repo: &Repo,
    remote: &Remote,
    roots: &TrustRoots,
) -> Result<(RemoteSpec, PullOptions)> {
    refuse_unsupported(remote)?;
    let options = PullOptions {
        sign_verifier: verifiers_if(remote, roots, "sign-verify")?.map(Arc::new),
        summary_verifier: verifiers_if(remote, roots, "sign-verify-summary")?.map(Arc::new),
        gpg_keyring: gpg_keyring_if(repo, remote, roots, "gpg-verify", true)?.map(Arc::new),
        gpg_summary_keyring: gpg_keyring_if(repo, remote, roots, "gpg-verify-summary", false)?
            .map(Arc::new),
        fetch: fetch_options(repo, remote)?,
        ..PullOptions::default()
    };
    let spec = RemoteSpec {
        name: remote.name().to_owned(),
        url: remote.fetch_url()?,
        contenturl: remote.option("contenturl")?,
        collection_id: remote.option("collection-id")?,
    };
    Ok((spec, options))
}

/// Refuses remotes that say they must not be pulled from (`unconfigured-state`) or that
/// another tool fetches (`custom-backend`), in upstream's words.
pub fn refuse_unsupported(remote: &Remote) -> Result<()> {
    let name = remote.name();
    if let Some(state) = remote.option("unconfigured-state")? {
        return Err(Error::Unconfigured {
            remote: name.to_owned(),
            state,
        });
    }
    if let Some(backend) = remote.option("custom-backend")? {
        return Err(Error::CustomBackend {
            remote: name.to_owned(),
            backend,
        });
    }
    Ok(())
}

/// How to reach a remote, from its config: `http2`, `tls-permissive`, `tls-ca-path`,
/// `tls-client-cert-path` with `tls-client-key-path`, `proxy`, `http-headers`,
/// `append-user-agent`, and its cookie jar.
pub fn fetch_options(repo: &Repo, remote: &Remote) -> Result<FetchOptions> {
    let bad = |reason: String| Error::RemoteConfig {
        remote: remote.name().to_owned(),
        reason,
    };
    let cert = remote.option("tls-client-cert-path")?;
    let key = remote.option("tls-client-key-path")?;
    let tls_client_cert = match (cert, key) {
        (Some(cert), Some(key)) => Some((cert.into(), key.into())),
        (None, None) => None,
        _ => {
            return Err(bad(
                "tls-client-cert-path and tls-client-key-path go together".into(),
            ));
        }
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
    let headers = parse_headers(&remote.option_list("http-headers")?).map_err(bad)?;
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

/// `http-headers`' items, each `NAME=VALUE`.
pub fn parse_headers(items: &[String]) -> std::result::Result<Vec<(String, String)>, String> {
    items
        .iter()
        .map(|item| match item.split_once('=') {
            Some((name, value)) => Ok((name.to_owned(), value.to_owned())),
            None => Err(format!("http-headers: '{item}' is not NAME=VALUE")),
        })
        .collect()
}

/// The keys a remote's GPG signatures are checked with, as upstream gathers them: its own
/// keyring (`<remote>.trustedkeys.gpg`, here, beside the remotes directory's files, or in a
/// `core.parent`), the files and
/// directories of `gpgkeypath`, and, only when the remote has no keyring of its own and
/// `with_global` asks for it, the global directory of `roots`.
pub fn remote_keys(
    repo: &Repo,
    remote: &Remote,
    roots: &TrustRoots,
    with_global: bool,
) -> Result<Keyring> {
    let mut keyring = Keyring::new();
    // The remote's own keyring, in this repository or (for a remote it takes from its
    // `core.parent`) in the first parent that has one.
    let mut own = false;
    let mut holder = Some(repo);
    let file_name = rostree_repo::remote::keyring_file_name(remote.name());
    while let Some(r) = holder {
        // The repository's own, then one beside the remotes directory's files.
        let path = r.path().join(&file_name);
        let found = match path.is_file() {
            true => Some(path),
            false => r.remotes_dir().and_then(|d| d.existing_file(&file_name)),
        };
        if let Some(path) = found {
            add_keys_from(&mut keyring, &path)?;
            own = true;
            break;
        }
        holder = r.parent();
    }
    if let Some(paths) = remote.option("gpgkeypath")? {
        let paths = key_path_list(&paths).map_err(|reason| Error::RemoteConfig {
            remote: remote.name().to_owned(),
            reason,
        })?;
        for path in paths {
            add_keys_from(&mut keyring, Path::new(path))?;
        }
    }
    if with_global && !own {
        global_keys(&mut keyring, roots)?;
    }
    Ok(keyring)
}

/// The keyring for a switch of the remote (`gpg-verify`, default on; `gpg-verify-summary`,
/// default off), or `None` when it is off.
pub fn gpg_keyring_if(
    repo: &Repo,
    remote: &Remote,
    roots: &TrustRoots,
    switch: &str,
    default: bool,
) -> Result<Option<Keyring>> {
    if !remote.option_bool(switch, default)? {
        return Ok(None);
    }
    Ok(Some(remote_keys(repo, remote, roots, true)?))
}

/// The keys signatures are checked with when no remote is named, as upstream: the keyrings
/// of all remotes (the `*.gpg` files of the repo), those of `homedir` (its `.gpg`/`.asc`
/// files, and the keybox of a GnuPG home), and the global directory.
pub fn all_remotes_keys(
    repo: &Repo,
    homedir: Option<&Path>,
    roots: &TrustRoots,
) -> Result<Keyring> {
    let mut keyring = Keyring::new();
    add_keys_from(&mut keyring, repo.path())?;
    if let Some(home) = homedir {
        // A GnuPG home holds more than keys (`trustdb.gpg`); what does not read as keys is
        // passed over, as are keys of algorithms rostree cannot check.
        let entries = std::fs::read_dir(home).map_err(|e| keys_error(home, "listing", &e))?;
        let mut files: Vec<PathBuf> = entries
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
            for block in rostree_sign::gpg::keybox_blocks(&data) {
                let _ = keyring.add(block);
            }
        }
    }
    global_keys(&mut keyring, roots)?;
    Ok(keyring)
}

/// Adds the keys of the global directory of `roots`, if there is one.
pub fn global_keys(keyring: &mut Keyring, roots: &TrustRoots) -> Result<()> {
    let Some(dir) = &roots.gpg_dir else {
        return Ok(());
    };
    let names = dir
        .list("")
        .map_err(|e| keys_error(&dir.path, "listing", &e))?
        .unwrap_or_default();
    for name in names.iter().filter(|n| is_keyring_name(n)) {
        let data = dir
            .read(name)
            .map_err(|e| keys_error(&dir.shown(name), "reading", &e))?;
        if let Some(data) = data {
            let _ = keyring.add(&data);
        }
    }
    Ok(())
}

/// Whether a file in a keyring directory is a keyring: `.gpg` and `.asc` files but GnuPG's
/// own `trustdb.gpg` and `secring.gpg`.
fn is_keyring_name(name: &str) -> bool {
    (name.ends_with(".gpg") || name.ends_with(".asc"))
        && name != "trustdb.gpg"
        && name != "secring.gpg"
}

fn keys_error(path: &Path, op: &str, e: &std::io::Error) -> Error {
    Error::Keys {
        path: path.to_owned(),
        message: format!(
            "{op} {}: {}",
            path.display(),
            rostree_repo::os_error_text(e)
        ),
    }
}

/// Adds the keys of a keyring file (which must hold keys), or of the keyrings in a
/// directory: its `.gpg` and `.asc` files but GnuPG's `trustdb.gpg` and `secring.gpg`,
/// passing over those that hold no keys, as GPGME's import does.
fn add_keys_from(keyring: &mut Keyring, path: &Path) -> Result<()> {
    if !path.is_dir() {
        let data = std::fs::read(path).map_err(|e| Error::Keys {
            path: path.to_owned(),
            // Upstream's words for a path that is not there.
            message: format!(
                "opendir({}): {}",
                path.display(),
                rostree_repo::os_error_text(&e)
            ),
        })?;
        keyring.add(&data).map_err(|e| Error::Keys {
            path: path.to_owned(),
            message: format!("reading keys from {}: {e}", path.display()),
        })?;
        return Ok(());
    }
    let mut files = Vec::new();
    let entries = std::fs::read_dir(path).map_err(|e| keys_error(path, "listing", &e))?;
    for entry in entries {
        let p = entry.map_err(|e| keys_error(path, "listing", &e))?.path();
        let keyring = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(is_keyring_name);
        if p.is_file() && keyring {
            files.push(p);
        }
    }
    files.sort();
    for file in files {
        let data = std::fs::read(&file).map_err(|e| keys_error(&file, "reading", &e))?;
        let _ = keyring.add(&data);
    }
    Ok(())
}

/// `gpgkeypath`'s paths: separated by `;` or by `,`, not both (upstream's rule and words).
/// As GKeyFile reads lists, a trailing separator ends the list; other empty items stay.
pub fn key_path_list(value: &str) -> std::result::Result<Vec<&str>, String> {
    let separators: Vec<char> = [';', ',']
        .into_iter()
        .filter(|c| value.contains(*c))
        .collect();
    let mut parts: Vec<&str> = match separators.as_slice() {
        [] => vec![value],
        [sep] => value.split(*sep).collect(),
        _ => return Err("key value list contains more than one separator".into()),
    };
    if parts.len() > 1 && parts.last() == Some(&"") {
        parts.pop();
    }
    Ok(parts)
}

/// The ed25519 keys a remote's commits (`sign-verify`) or summary (`sign-verify-summary`)
/// must be signed with, or `None` when the switch is off.
pub fn verifiers_if(
    remote: &Remote,
    roots: &TrustRoots,
    switch: &str,
) -> Result<Option<Vec<Verifier>>> {
    let system = || rostree_sign::ed25519::keys_in_dirs(&roots.ed25519_dirs).map_err(Into::into);
    Ok(rostree_sign::signapi::remote_verifiers(
        remote, switch, &system,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths_split_as_upstream_splits_them() {
        type Case<'a> = (&'a str, std::result::Result<Vec<&'a str>, ()>);
        let cases: &[Case] = &[
            ("/a.gpg", Ok(vec!["/a.gpg"])),
            ("/a;/b", Ok(vec!["/a", "/b"])),
            ("/a,/b,", Ok(vec!["/a", "/b"])),
            ("/a;;/b", Ok(vec!["/a", "", "/b"])),
            ("/a;/b,/c", Err(())),
            ("", Ok(vec![""])),
        ];
        for (value, want) in cases {
            assert_eq!(key_path_list(value).map_err(|_| ()), *want, "{value}");
        }
    }

    #[test]
    fn headers_are_name_value_pairs() {
        let items = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse_headers(&items(&["A=1", "B=x=y"])),
            Ok(vec![("A".into(), "1".into()), ("B".into(), "x=y".into())])
        );
        assert_eq!(
            parse_headers(&items(&["A"])),
            Err("http-headers: 'A' is not NAME=VALUE".into())
        );
    }
}
