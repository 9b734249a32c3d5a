//! `ostree reset`: point a ref at an earlier commit.

use anyhow::Result;
use rostree::repo::RefKind;

use crate::GlobalOptions;

/// Arguments of `reset`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] REF COMMIT")]
pub struct Args {
    /// The ref to move
    #[arg(value_name = "REF")]
    refname: String,
    /// The commit to point it at
    #[arg(value_name = "COMMIT")]
    target: String,
}

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    let repo = global.open_repo()?;
    // The ref must exist; upstream does not require the target to be an ancestor.
    repo.resolve_rev(&args.refname)?;
    let target = repo.resolve_rev(&args.target)?;
    repo.load_commit(&target)?;
    repo.set_ref(&RefKind::Local, &args.refname, Some(&target))?;
    Ok(0)
}
