//! `completions SHELL` (rostree's own): a completion script for bash, zsh or fish, made
//! from the same command definition the parser uses, so it cannot drift from it.

use anyhow::Result;
use clap::ValueEnum;

use crate::util;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to write the script for
    #[arg(value_enum, value_name = "SHELL")]
    shell: Shell,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Shell {
    Bash,
    Zsh,
    Fish,
}

pub fn run(args: Args) -> Result<i32> {
    let generator = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut command = completed_commands();
    let mut script = Vec::new();
    clap_complete::generate(generator, &mut command, crate::PROGRAM, &mut script);
    util::write_stdout(&script)?;
    Ok(0)
}

/// The commands the scripts complete: those `--help` lists, as the parser sees them (no
/// `help` subcommand). `completions` itself is left out: it is typed once, at install
/// time, and would stand in the way of `com<TAB>` becoming `commit`.
fn completed_commands() -> clap::Command {
    let all = crate::goption::prepare(crate::definition());
    let shown = all
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "completions")
        .cloned()
        .collect::<Vec<_>>();
    let mut top = clap::Command::new(crate::PROGRAM)
        .bin_name(crate::PROGRAM)
        .disable_help_subcommand(true)
        .subcommands(shown);
    for arg in all.get_arguments().filter(|a| !a.is_hide_set()) {
        top = top.arg(arg.clone());
    }
    top
}
