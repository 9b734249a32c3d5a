//! `ostree rev-parse`: print the commit a revision names.

use anyhow::Result;

use crate::GlobalOptions;

/// Arguments of `rev-parse`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] REV")]
pub struct Args {
    /// If only one revision is given, this is a no-op (compatibility)
    #[arg(short = 'S', long)]
    single: bool,
    /// Revisions to resolve
    #[arg(required = true)]
    revs: Vec<String>,
}

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    let repo = global.open_repo()?;
    if args.single && args.revs.len() > 1 {
        anyhow::bail!("Cannot specify multiple revs with --single");
    }
    let mut out = String::new();
    for rev in &args.revs {
        out.push_str(&format!("{}\n", repo.resolve_rev(rev)?));
    }
    crate::util::write_stdout(out.as_bytes())?;
    Ok(0)
}
