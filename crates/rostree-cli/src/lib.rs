//! The rostree command line: upstream `ostree`'s syntax, one module per subcommand.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use clap::{CommandFactory, FromArgMatches, Parser};
use rostree::Repo;

mod cmd;
mod datetime;
mod editor;
mod goption;
mod json;
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
    #[command(subcommand)]
    command: Option<cmd::Command>,
}

/// The name the manual and completion scripts use.
pub(crate) const PROGRAM: &str = "rostree";

/// The command definition as clap holds it, named `rostree`: what the manual pages and
/// completion scripts are made from.
pub(crate) fn definition() -> clap::Command {
    Cli::command()
        .name(PROGRAM)
        .bin_name(PROGRAM)
        .about("OSTree in Rust: versioned, content-addressed operating system trees")
        .long_about(
            "rostree stores whole filesystem trees by content, replicates them over plain \
             HTTP, and deploys them as bootable roots with atomic upgrade and rollback. It \
             reads and writes upstream OSTree's repositories, sysroots and wire format, and \
             accepts upstream's command line: invoked as `ostree`, it is a drop-in \
             replacement. Each command has its own page, as rostree-COMMAND(1).",
        )
}

/// Runs the CLI on `args` (the first being the program name) and returns the exit code.
pub fn run_from_iter<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let command = goption::prepare(Cli::command());
    // With --json an error is one JSON object on stderr, without the help text around it.
    let json_errors = json::requested(&args);
    let usage_error = |help: &str, blank_line: bool, message: &str| {
        if json_errors {
            eprint!("{}", json::error(message));
        } else {
            eprint!("{help}");
            if blank_line {
                eprintln!();
            }
            eprintln!("error: {message}");
        }
        1
    };
    match goption::early(&args, &command) {
        goption::Early::Run => {}
        goption::Early::Help(text) => {
            let _ = util::write_stdout(text.as_bytes());
            return 0;
        }
        goption::Early::Version => {
            let _ = util::write_stdout(util::version_yaml().as_bytes());
            return 0;
        }
        goption::Early::Usage { help, error } => return usage_error(&help, false, &error),
        goption::Early::External(program) => return goption::exec_external(&program, &args),
    }
    let cli = match command
        .clone()
        .try_get_matches_from(goption::verbs_first(&args, &command))
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => {
            if e.kind() == clap::error::ErrorKind::MissingRequiredArgument
                && let Some(message) = goption::missing_arguments_message(&args, &command)
            {
                return usage_error(&goption::help_for(&args, &command), true, message);
            }
            return usage_error("", false, &goption::error_message(&e));
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) if e.downcast_ref::<util::UsageError>().is_some() => {
            let usage = e.downcast_ref::<util::UsageError>().expect("checked above");
            usage_error(
                &goption::help_for(&args, &command),
                usage.blank_line,
                &usage.message,
            )
        }
        Err(e) => {
            let message = util::format_error(&e);
            if json_errors {
                eprint!("{}", json::error(&message));
                return 1;
            }
            if let Some(rostree::Error::UnmatchedPaths { kind, paths }) = e.downcast_ref() {
                for path in paths {
                    eprintln!("Unmatched {kind} path: {path}");
                }
            }
            eprintln!("error: {message}");
            1
        }
    }
}

fn run(cli: Cli) -> Result<i32> {
    let Some(command) = cli.command else {
        // `early` answered every command line without a verb.
        bail!("No command specified");
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
        Err(util::UsageError {
            message: "Command requires a --repo argument".into(),
            blank_line: false,
        }
        .into())
    }

    /// Opens the repository.
    pub(crate) fn open_repo(&self) -> Result<Repo> {
        let path = self.repo_path()?;
        let dir = Dir::open_ambient_dir(&path, ambient_authority())
            .with_context(|| format!("opening repo {}", path.display()))?;
        match Repo::open(dir, path) {
            Ok(mut repo) => {
                rostree::repo::remotes_dir::attach_system_remotes(&mut repo)?;
                Ok(repo)
            }
            // Upstream's words: "opening repo: " and why the config is refused.
            Err(e @ rostree::repo::Error::InvalidConfig { .. }) => {
                Err(anyhow::Error::new(e).context("opening repo"))
            }
            Err(e) => Err(e.into()),
        }
    }
}
