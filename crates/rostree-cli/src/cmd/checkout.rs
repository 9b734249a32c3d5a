//! `ostree checkout`: check out a commit into a directory.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use rostree::repo::checkout::{CheckoutOptions, Overwrite, TreeEntry, checkout, lookup_path};

use crate::{GlobalOptions, util};

/// Arguments of `checkout`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Do not change file ownership or initialize extended attributes
    #[arg(short = 'U', long = "user-mode")]
    user_mode: bool,
    /// Do not update or use the internal repository uncompressed object cache
    #[arg(long = "disable-cache")]
    disable_cache: bool,
    /// Checkout sub-directory PATH
    #[arg(long, value_name = "PATH")]
    subpath: Option<String>,
    /// Keep existing directories, overwrite existing files
    #[arg(long)]
    union: bool,
    /// Keep existing files/directories, only add new
    #[arg(long = "union-add")]
    union_add: bool,
    /// When layering checkouts, error out if a file would be replaced with a different version
    #[arg(long = "union-identical")]
    union_identical: bool,
    /// Do nothing if specified path does not exist
    #[arg(long = "allow-noent")]
    allow_noent: bool,
    /// Specify how to invoke fsync()
    #[arg(long, value_name = "POLICY")]
    fsync: Option<String>,
    /// Do not fall back to full copies if hardlinking fails
    #[arg(short = 'H', long = "require-hardlinks")]
    require_hardlinks: bool,
    /// Never hardlink (but may reflink if available)
    #[arg(short = 'C', long = "force-copy")]
    force_copy: bool,
    /// Suppress mode bits outside of 0775 for directories
    #[arg(short = 'M', long = "bareuseronly-dirs")]
    bareuseronly_dirs: bool,
    /// File containing list of files to skip
    #[arg(long = "skip-list", value_name = "FILE")]
    skip_list: Option<PathBuf>,
    /// The commit
    rev: String,
    /// The directory to create (default: the commit name)
    destination: Option<PathBuf>,
}

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    let repo = global.open_repo()?;
    let _ = args.disable_cache; // rostree keeps no uncompressed cache; accepted for scripts.
    let overwrite = match (args.union, args.union_add, args.union_identical) {
        (false, false, false) => Overwrite::None,
        (true, false, false) => Overwrite::Union,
        (false, true, false) => Overwrite::UnionAdd,
        (false, false, true) => Overwrite::UnionIdentical,
        _ => bail!("Cannot specify more than one of --union, --union-add or --union-identical"),
    };
    let (_, commit) = util::resolve_commit(&repo, &args.rev)?;
    let root = (commit.root_tree, commit.root_meta);
    let subpath = args.subpath.clone().unwrap_or_else(|| "/".to_owned());
    let entry = match lookup_path(&repo, root, &subpath) {
        Ok(e) => e,
        Err(_) if args.allow_noent => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    let TreeEntry::Dir(tree, meta) = entry else {
        bail!("Checking out a single file is not supported yet: {subpath}");
    };
    let destination = args
        .destination
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.rev));
    let parent_path = match destination.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let Some(name) = destination.file_name() else {
        bail!("Invalid destination {}", destination.display());
    };
    let parent = Dir::open_ambient_dir(&parent_path, ambient_authority())
        .with_context(|| format!("opening {}", parent_path.display()))?;
    let mut skip = std::collections::HashSet::new();
    if let Some(file) = &args.skip_list {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        skip.extend(text.lines().filter(|l| !l.is_empty()).map(str::to_owned));
    }
    let options = CheckoutOptions {
        user_mode: args.user_mode,
        overwrite,
        require_hardlinks: args.require_hardlinks,
        force_copy: args.force_copy,
        bareuseronly_dirs: args.bareuseronly_dirs,
        skip,
        fsync: !matches!(args.fsync.as_deref(), Some("false" | "no" | "0")),
    };
    let interrupt = crate::progress::interrupt_flag();
    checkout(
        &repo,
        &tree,
        &meta,
        &parent,
        Path::new(name),
        &interrupt,
        &options,
    )?;
    Ok(0)
}
