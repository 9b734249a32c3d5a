//! `ostree rev-parse`: print the commit a revision names.

use anyhow::Result;

use crate::GlobalOptions;

/// Arguments of `rev-parse`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] REV")]
pub struct Args {
    /// If the repository has exactly one commit, then print it; any other case will result in an error
    #[arg(short = 'S', long)]
    single: bool,
    /// Revisions to resolve
    revs: Vec<String>,
}

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    let repo = global.open_repo()?;
    if args.single {
        if !args.revs.is_empty() {
            return Err(crate::util::usage_error(
                "Cannot specify arguments with --single",
            ));
        }
        let commits = repo.commits_with_prefix("")?;
        let commit = match commits.as_slice() {
            [one] => one,
            [] => anyhow::bail!("No commit objects found"),
            _ => anyhow::bail!("Multiple commit objects found"),
        };
        crate::util::write_stdout(format!("{commit}\n").as_bytes())?;
        return Ok(0);
    }
    if args.revs.is_empty() {
        return Err(crate::util::usage_error("REV must be specified"));
    }
    let mut out = String::new();
    for rev in &args.revs {
        out.push_str(&format!("{}\n", repo.resolve_rev(rev)?));
    }
    crate::util::write_stdout(out.as_bytes())?;
    Ok(0)
}
