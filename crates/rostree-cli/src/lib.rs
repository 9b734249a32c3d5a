//! The rostree command line: upstream `ostree`'s syntax, one module per subcommand.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use clap::Parser;
use rostree::Repo;

mod cmd;
mod editor;
mod progress;
mod util;

/// Global options, accepted before or after the subcommand as upstream does.
#[derive(Debug, Parser)]
#[command(
    name = "ostree",
    disable_version_flag = true,
    about = "rostree: OSTree in Rust, compatible with upstream ostree",
    subcommand_required = false
)]
struct Cli {
    /// Path to the OSTree repository (default: $OSTREE_REPO, then /ostree/repo).
    #[arg(long, global = true, value_name = "PATH")]
    repo: Option<PathBuf>,
    /// Print version information and exit.
    #[arg(long)]
    version: bool,
    /// Print debug information during command processing. (Long form only: `summary -v`
    /// means `--view`, as upstream.)
    #[arg(long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Option<cmd::Command>,
}

/// Runs the CLI on `args` (the first being the program name) and returns the exit code.
pub fn run_from_iter<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            if let Some(rostree::Error::UnmatchedPaths { kind, paths }) = e.downcast_ref() {
                for path in paths {
                    eprintln!("Unmatched {kind} path: {path}");
                }
            }
            eprintln!("error: {}", util::format_error(&e));
            1
        }
    }
}

fn run(cli: Cli) -> Result<i32> {
    if cli.version {
        print!("{}", util::version_yaml());
        return Ok(0);
    }
    let Some(command) = cli.command else {
        eprintln!("error: No command specified");
        eprintln!("{}", cmd::usage());
        return Ok(1);
    };
    let ctx = GlobalOptions {
        repo_path: cli.repo,
    };
    cmd::dispatch(command, &ctx)
}

/// What every subcommand gets: the global options.
pub(crate) struct GlobalOptions {
    repo_path: Option<PathBuf>,
}

impl GlobalOptions {
    /// The repository path from `--repo`, `$OSTREE_REPO` or the system default.
    pub(crate) fn repo_path(&self) -> Result<PathBuf> {
        if let Some(p) = &self.repo_path {
            return Ok(p.clone());
        }
        // Upstream's order: the current directory if it is a repo, then $OSTREE_REPO, then
        // the system repo under $OSTREE_SYSROOT.
        if Path::new("objects").is_dir() && Path::new("config").is_file() {
            return Ok(PathBuf::from("."));
        }
        let implicit = match std::env::var_os("OSTREE_REPO") {
            Some(p) => PathBuf::from(p),
            None => {
                let sysroot = std::env::var_os("OSTREE_SYSROOT").unwrap_or_else(|| "/".into());
                Path::new(&sysroot).join("ostree/repo")
            }
        };
        if implicit.exists() {
            return Ok(implicit);
        }
        bail!("Command requires a --repo argument")
    }

    /// Opens the repository.
    pub(crate) fn open_repo(&self) -> Result<Repo> {
        let path = self.repo_path()?;
        let dir = Dir::open_ambient_dir(&path, ambient_authority())
            .with_context(|| format!("opening repo {}", path.display()))?;
        Ok(Repo::open(dir, path)?)
    }
}
