//! `ostree admin set-origin`: point a deployment's upgrades at another remote (added when
//! missing).

use anyhow::{Result, bail};
use rostree::repo::remote::{IfExists, RemoteAddOptions};
use rostree::sysroot::origin::{origin_for_refspec, refspec};
use rostree::sysroot::write::write_origin;

use super::SysrootPath;

/// Arguments of `admin set-origin`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] REMOTENAME URL [BRANCH]")]
pub struct Args {
    /// Set config option KEY=VALUE for remote
    #[arg(short = 's', long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Operate on the deployment INDEX, starting from zero
    #[arg(long, value_name = "INDEX", allow_hyphen_values = true)]
    index: Option<i64>,
    /// REMOTENAME URL [BRANCH]
    args: Vec<String>,
}

/// Runs `admin set-origin`.
pub fn run(args: Args, paths: &SysrootPath) -> Result<i32> {
    let (mut sysroot, _lock) = paths.load_locked()?;
    let [remote, url, rest @ ..] = args.args.as_slice() else {
        return Err(super::usage("REMOTENAME and URL must be specified"));
    };
    let target = match args.index {
        None => match sysroot.booted_deployment() {
            Some(d) => d.clone(),
            None => bail!("Not currently booted into an OSTree system"),
        },
        Some(index) => super::indexed_deployment(&sysroot, index)?,
    };
    let mut settings = Vec::new();
    for pair in &args.set {
        let Some((key, value)) = pair.split_once('=') else {
            bail!("Missing '=' in KEY=VALUE pair '{pair}'");
        };
        settings.push((key.to_owned(), value.to_owned()));
    }
    let options = RemoteAddOptions {
        branches: Vec::new(),
        settings,
        if_exists: IfExists::Keep,
    };
    sysroot.repo_mut().add_remote(remote, Some(url), &options)?;
    let old = target
        .origin
        .as_ref()
        .and_then(refspec)
        .unwrap_or_default()
        .to_owned();
    let old_ref = old.split_once(':').map_or(old.as_str(), |(_, r)| r);
    let branch = rest.first().map_or(old_ref, String::as_str);
    let origin = origin_for_refspec(&format!("{remote}:{branch}"));
    write_origin(&mut sysroot, &target, &origin)?;
    Ok(0)
}
