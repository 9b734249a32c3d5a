//! `ostree init`: create an empty repository.

use anyhow::{Context, Result};
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use rostree::repo::InitOptions;
use rostree::{Repo, RepoMode};

use crate::GlobalOptions;

/// Arguments of `init`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…]")]
pub struct Args {
    /// Initialize repository in given mode (bare, bare-user, bare-user-only, archive)
    #[arg(long, default_value = "bare", value_name = "")]
    mode: String,
    /// Set the collection ID of the repository
    #[arg(long = "collection-id", value_name = "COLLECTION-ID")]
    collection_id: Option<String>,
}

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    let mode: RepoMode = args
        .mode
        .parse()
        .map_err(|_| anyhow::anyhow!("Invalid mode '{}' in repository configuration", args.mode))?;
    if let Some(id) = &args.collection_id {
        rostree::core::refname::validate_collection_id(id)?;
    }
    let path = global.repo_path()?;
    std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
    let dir = Dir::open_ambient_dir(&path, ambient_authority())
        .with_context(|| format!("opening {}", path.display()))?;
    let options = InitOptions {
        mode,
        collection_id: args.collection_id,
    };
    Repo::init(dir, path, &options)?;
    Ok(0)
}
