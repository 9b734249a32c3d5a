//! `ostree show`: print a commit (or one of its metadata keys).

use anyhow::{Result, bail};
use rostree::core::object::Metadata;

use crate::{GlobalOptions, util};

/// Arguments of `show`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the value of a metadata key
    #[arg(long = "print-metadata-key", value_name = "KEY")]
    metadata_key: Option<String>,
    /// Print the value of a detached metadata key
    #[arg(long = "print-detached-metadata-key", value_name = "KEY")]
    detached_key: Option<String>,
    /// Show raw variant data
    #[arg(long)]
    raw: bool,
    /// The ref or commit
    #[arg(value_name = "OBJECT")]
    rev: String,
}

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    let repo = global.open_repo()?;
    let (checksum, commit) = util::resolve_commit(&repo, &args.rev)?;
    let print_key = |metadata: &Metadata, key: &str| -> Result<()> {
        match metadata.get(key) {
            Some(v) => util::write_stdout(format!("{}\n", util::print_variant(v)).as_bytes()),
            None => bail!("No such metadata key '{key}'"),
        }
    };
    if let Some(key) = &args.metadata_key {
        print_key(&commit.metadata, key)?;
    } else if let Some(key) = &args.detached_key {
        let detached = match repo.load_commitmeta(&checksum)? {
            Some(bytes) => Metadata::from_bytes(&bytes)?,
            None => bail!("No detached metadata for commit {checksum}"),
        };
        print_key(&detached, key)?;
    } else if args.raw {
        util::write_stdout(
            format!(
                "commit {checksum}\n{}\n",
                util::print_variant(&commit.to_value())
            )
            .as_bytes(),
        )?;
    } else {
        let mut out = Vec::new();
        util::print_commit(&mut out, &checksum, &commit)?;
        util::write_stdout(&out)?;
    }
    Ok(0)
}
