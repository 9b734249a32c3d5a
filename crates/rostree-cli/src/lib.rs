//! The rostree command line: upstream `ostree`'s syntax, one module per subcommand.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use clap::Parser;
use rostree::Repo;

mod cmd;
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
    /// Print debug information during command processing.
    #[arg(short, long, global = true)]
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
    fn repo_path(&self) -> Result<PathBuf> {
        if let Some(p) = &self.repo_path {
            return Ok(p.clone());
        }
        if let Some(p) = std::env::var_os("OSTREE_REPO") {
            return Ok(PathBuf::from(p));
        }
        let system = Path::new("/ostree/repo");
        if system.exists() {
            return Ok(system.to_owned());
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
