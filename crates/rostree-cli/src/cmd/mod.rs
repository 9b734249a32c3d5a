//! One module per subcommand.

use anyhow::Result;
use clap::Subcommand;

use crate::GlobalOptions;

pub(crate) mod admin;
mod cat;
mod checkout;
mod checksum;
mod commit;
mod completions;
mod config;
mod create_usb;
mod diff;
mod export;
pub(crate) mod find_remotes;
mod fsck;
mod gpg_sign;
mod init;
mod log;
mod ls;
mod man_pages;
mod prune;
pub(crate) mod pull;
mod pull_local;
mod refs;
mod remote;
mod reset;
mod rev_parse;
mod serve;
mod show;
pub(crate) mod sign;
mod static_delta;
pub(crate) mod summary;
mod tree;

/// The subcommands.
#[derive(Debug, Subcommand)]
// Parsed once per process, so the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Commands for managing a host system booted with ostree
    Admin(admin::Args),
    /// Concatenate contents of files
    Cat(cat::Args),
    /// Check out a commit into a filesystem tree
    Checkout(checkout::Args),
    /// Checksum a file or directory
    Checksum(checksum::Args),
    /// Commit a new revision
    Commit(commit::Args),
    /// Print a completion script for bash, zsh or fish (rostree's own)
    Completions(completions::Args),
    /// Change repo configuration settings
    Config(config::Args),
    /// Compare a directory against a revision
    Diff(diff::Args),
    /// Stream COMMIT to stdout in tar format
    Export(export::Args),
    /// Find remotes to serve the given refs
    FindRemotes(find_remotes::Args),
    /// Copy the refs to a USB stick
    CreateUsb(create_usb::Args),
    /// Check the repository for consistency
    Fsck(fsck::Args),
    /// Sign a commit with GPG keys
    GpgSign(gpg_sign::Args),
    /// Initialize a new empty repository
    Init(init::Args),
    /// Show log starting at commit or ref
    Log(log::Args),
    /// List file paths
    Ls(ls::Args),
    /// Write the manual pages into a directory (rostree's own, for packaging)
    #[command(hide = true)]
    ManPages(man_pages::Args),
    /// Search for unreachable objects
    Prune(prune::Args),
    /// Download data from remote repository
    Pull(pull::Args),
    /// Copy data from SRC_REPO
    PullLocal(pull_local::Args),
    /// List refs
    Refs(refs::Args),
    /// Remote commands that may involve internet access
    #[command(subcommand)]
    Remote(remote::Command),
    /// Reset a REF to a previous COMMIT
    Reset(reset::Args),
    /// Output the target of a rev
    RevParse(rev_parse::Args),
    /// Serve the repository over HTTP (rostree's own)
    Serve(serve::Args),
    /// Output a metadata object
    Show(show::Args),
    /// Sign a commit
    Sign(sign::Args),
    /// Static delta related commands
    #[command(subcommand)]
    StaticDelta(static_delta::Command),
    /// Manage summary metadata
    Summary(summary::Args),
}

/// Runs a subcommand; returns the exit code.
pub fn dispatch(command: Command, global: &GlobalOptions) -> Result<i32> {
    match command {
        Command::Admin(a) => admin::run(a, global),
        Command::Cat(a) => cat::run(a, global),
        Command::Checkout(a) => checkout::run(a, global),
        Command::Checksum(a) => checksum::run(a),
        Command::Commit(a) => commit::run(a, global),
        Command::Completions(a) => completions::run(a),
        Command::Config(a) => config::run(a, global),
        Command::Diff(a) => diff::run(a, global),
        Command::Export(a) => export::run(a, global),
        Command::FindRemotes(a) => find_remotes::run(a, global),
        Command::CreateUsb(a) => create_usb::run(a, global),
        Command::Fsck(a) => fsck::run(a, global),
        Command::GpgSign(a) => gpg_sign::run(a, global),
        Command::Init(a) => init::run(a, global),
        Command::Log(a) => log::run(a, global),
        Command::Ls(a) => ls::run(a, global),
        Command::ManPages(a) => man_pages::run(a),
        Command::Prune(a) => prune::run(a, global),
        Command::Pull(a) => pull::run(a, global),
        Command::PullLocal(a) => pull_local::run(a, global),
        Command::Refs(a) => refs::run(a, global),
        Command::Remote(c) => remote::run(c, global),
        Command::Reset(a) => reset::run(a, global),
        Command::RevParse(a) => rev_parse::run(a, global),
        Command::Serve(a) => serve::run(a, global),
        Command::Show(a) => show::run(a, global),
        Command::Sign(a) => sign::run(a, global),
        Command::StaticDelta(c) => static_delta::run(c, global),
        Command::Summary(a) => summary::run(a, global),
    }
}
