//! `ostree export`: stream a commit as a tar archive.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use rostree::repo::export::{ExportOptions, export};
use rostree::repo::tree::{TreeEntry, lookup_path};

use crate::GlobalOptions;

/// Arguments of `export`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] COMMIT")]
pub struct Args {
    /// Skip output of extended attributes
    #[arg(long = "no-xattrs")]
    no_xattrs: bool,
    /// Checkout sub-directory PATH
    #[arg(long, value_name = "PATH")]
    subpath: Option<String>,
    /// Add PATH as prefix to archive pathnames
    #[arg(long, value_name = "PATH")]
    prefix: Option<String>,
    /// Output to PATH
    #[arg(short = 'o', long, value_name = "PATH")]
    output: Option<PathBuf>,
    /// The commit
    rev: String,
}

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    let repo = global.open_repo()?;
    let (_, commit) = crate::util::resolve_commit(&repo, &args.rev)?;
    let subpath = args.subpath.clone().unwrap_or_else(|| "/".to_owned());
    let TreeEntry::Dir(tree, meta) =
        lookup_path(&repo, (commit.root_tree, commit.root_meta), &subpath)?
    else {
        bail!("Exporting a single file is not supported: {subpath}");
    };
    let options = ExportOptions {
        prefix: args.prefix.clone().unwrap_or_default(),
        no_xattrs: args.no_xattrs,
    };
    let interrupt = crate::progress::interrupt_flag();
    let progress = crate::progress::CountProgress::new();
    match &args.output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            let mut out = export(
                &repo,
                (tree, meta),
                commit.timestamp,
                std::io::BufWriter::new(file),
                &progress,
                &interrupt,
                &options,
            )?;
            out.flush()?;
        }
        None => {
            let stdout = std::io::stdout().lock();
            let mut out = export(
                &repo,
                (tree, meta),
                commit.timestamp,
                std::io::BufWriter::new(stdout),
                &progress,
                &interrupt,
                &options,
            )?;
            out.flush()?;
        }
    }
    Ok(0)
}
