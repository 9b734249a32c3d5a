//! `ostree remote add-cookie`, `delete-cookie` and `list-cookies`: a remote's cookie jar.

use anyhow::{Result, bail};
use rostree::repo::remote::Cookie;

use crate::{GlobalOptions, util};

/// Arguments of `remote add-cookie`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] NAME DOMAIN PATH COOKIE_NAME VALUE")]
pub struct AddArgs {
    /// The remote
    name: String,
    /// The domain the cookie is for
    domain: String,
    /// The path it is for
    path: String,
    /// Its name
    cookie_name: String,
    /// Its value
    value: String,
}

/// Arguments of `remote delete-cookie`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] NAME DOMAIN PATH COOKIE_NAME")]
pub struct DeleteArgs {
    /// The remote
    name: String,
    /// The domain the cookie is for
    domain: String,
    /// The path it is for
    path: String,
    /// Its name
    cookie_name: String,
}

/// Cookies added by hand last 25 calendar years, as upstream's do.
const LIFETIME_YEARS: i64 = 25;

pub fn add(args: AddArgs, global: &GlobalOptions) -> Result<i32> {
    let repo = global.open_repo()?;
    repo.remote(&args.name)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let mut cookies = repo.remote_cookies(&args.name)?;
    // A cookie is identified by domain, path and name: adding it again replaces it.
    cookies.retain(|c| {
        !(c.domain == args.domain && c.path == args.path && c.name == args.cookie_name)
    });
    cookies.push(Cookie {
        domain: args.domain,
        include_subdomains: false,
        path: args.path,
        secure: false,
        expires: util::add_years(now, LIFETIME_YEARS),
        name: args.cookie_name,
        value: args.value,
    });
    repo.write_remote_cookies(&args.name, &cookies)?;
    Ok(0)
}

pub fn delete(args: DeleteArgs, global: &GlobalOptions) -> Result<i32> {
    let repo = global.open_repo()?;
    repo.remote(&args.name)?;
    let mut cookies = repo.remote_cookies(&args.name)?;
    let before = cookies.len();
    cookies.retain(|c| {
        !(c.domain == args.domain && c.path == args.path && c.name == args.cookie_name)
    });
    if cookies.len() == before {
        bail!("Cookie not found in jar");
    }
    repo.write_remote_cookies(&args.name, &cookies)?;
    Ok(0)
}

pub fn list(name: &str, global: &GlobalOptions) -> Result<i32> {
    let repo = global.open_repo()?;
    repo.remote(name)?;
    let mut out = String::new();
    for c in repo.remote_cookies(name)? {
        out.push_str(&format!(
            "--\nDomain: {}\nPath: {}\nName: {}\nContent: {}\nExpires: {}\n",
            c.domain,
            c.path,
            c.name,
            c.value,
            util::format_date(c.expires)
        ));
    }
    util::write_stdout(out.as_bytes())?;
    Ok(0)
}
