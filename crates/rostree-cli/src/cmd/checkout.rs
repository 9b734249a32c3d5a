//! `ostree checkout`: check out a commit into a directory.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use rostree::Repo;
use rostree::core::Checksum;
use rostree::repo::checkout::{CheckoutOptions, Overwrite, checkout, checkout_single_file};
use rostree::repo::tree::{TreeEntry, lookup_path};

use crate::{GlobalOptions, util};

/// Arguments of `checkout`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] COMMIT [DESTINATION]")]
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
    /// Process 'whiteout' (Docker style) entries
    #[arg(long)]
    whiteouts: bool,
    /// Enable overlayfs whiteout extraction into char 0:0 devices
    #[arg(long = "process-passthrough-whiteouts")]
    process_passthrough_whiteouts: bool,
    /// Do nothing if specified path does not exist
    #[arg(long = "allow-noent")]
    allow_noent: bool,
    /// Process many checkouts from standard input
    #[arg(long = "from-stdin")]
    from_stdin: bool,
    /// Process many checkouts from input file
    #[arg(long = "from-file", value_name = "FILE")]
    from_file: Option<PathBuf>,
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
    /// Do not hardlink zero-sized files (rostree never does)
    #[arg(short = 'z', long = "force-copy-zerosized")]
    force_copy_zerosized: bool,
    /// File containing list of files to skip
    #[arg(long = "skip-list", value_name = "FILE")]
    skip_list: Option<PathBuf>,
    /// Set SELinux labels based on policy in root filesystem PATH (not supported)
    #[arg(long = "selinux-policy", value_name = "PATH")]
    selinux_policy: Option<PathBuf>,
    /// When setting SELinux labels, prefix all paths by PREFIX (not supported)
    #[arg(long = "selinux-prefix", value_name = "PREFIX")]
    selinux_prefix: Option<String>,
    /// The commit (with --from-file or --from-stdin: the destination)
    rev: String,
    /// The directory to create (default: the commit name)
    destination: Option<PathBuf>,
}

/// Checks out `subpath` of `commit` as `destination`: a directory, or a single file placed
/// inside the directory `destination`.
fn checkout_one(
    repo: &Repo,
    commit: &Checksum,
    subpath: &str,
    destination: &Path,
    allow_noent: bool,
    options: &CheckoutOptions,
) -> Result<()> {
    let commit = repo.load_commit(commit)?;
    let root = (commit.root_tree, commit.root_meta);
    let entry = match lookup_path(repo, root, subpath) {
        Ok(e) => e,
        Err(_) if allow_noent => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    // `.` and `..` name no entry of their parent: take the directory they are.
    let destination = if destination.file_name().is_none() {
        std::fs::canonicalize(destination)
            .with_context(|| format!("opening {}", destination.display()))?
    } else {
        destination.to_owned()
    };
    let parent_path = match destination.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let Some(name) = destination.file_name() else {
        bail!("Invalid destination {}", destination.display());
    };
    let parent = Dir::open_ambient_dir(&parent_path, ambient_authority())
        .with_context(|| format!("opening {}", parent_path.display()))?;
    let interrupt = crate::progress::interrupt_flag();
    let progress = crate::progress::CountProgress::new();
    match entry {
        TreeEntry::Dir(tree, meta) => {
            checkout(
                repo,
                (tree, meta),
                &parent,
                Path::new(name),
                &progress,
                &interrupt,
                options,
            )?;
        }
        TreeEntry::File(checksum) => {
            let file_name = subpath.rsplit('/').next().unwrap_or(subpath);
            checkout_single_file(
                repo,
                &checksum,
                file_name,
                &parent,
                Path::new(name),
                &interrupt,
                options,
            )?;
        }
    }
    Ok(())
}

/// `--from-file`/`--from-stdin`: records `REV\0SUBPATH\0`, each checked out into
/// `destination` in turn, until an empty revision or the end.
fn checkout_many(repo: &Repo, args: &Args, options: &CheckoutOptions) -> Result<()> {
    let destination = PathBuf::from(&args.rev);
    let mut data = Vec::new();
    match &args.from_file {
        Some(file) => {
            data = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?
        }
        None => {
            std::io::stdin()
                .read_to_end(&mut data)
                .context("reading standard input")?;
        }
    }
    let mut fields = data.split(|b| *b == 0);
    while let Some(rev) = fields.next().filter(|r| !r.is_empty()) {
        let subpath = fields.next().unwrap_or_default();
        let (rev, subpath) = (
            String::from_utf8_lossy(rev),
            String::from_utf8_lossy(subpath),
        );
        let commit = repo.resolve_rev(&rev)?;
        // Upstream resolves an empty subpath to nothing at all.
        if subpath.is_empty() {
            bail!("Processing tree {commit}: No such file or directory: /");
        }
        checkout_one(
            repo,
            &commit,
            &subpath,
            &destination,
            args.allow_noent,
            options,
        )
        .with_context(|| format!("Processing tree {commit}"))?;
    }
    Ok(())
}

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    let repo = global.open_repo()?;
    // rostree never hardlinks empty files (as upstream's CLI), which is what this asks for.
    let _ = args.force_copy_zerosized;
    if args.selinux_policy.is_some() || args.selinux_prefix.is_some() {
        bail!("--selinux-policy and --selinux-prefix are not supported by rostree");
    }
    let overwrite = match (args.union, args.union_add, args.union_identical) {
        (true, true, _) => bail!("Cannot specify both --union and --union-add"),
        (true, _, true) => bail!("Cannot specify both --union and --union-identical"),
        (_, true, true) => bail!("Cannot specify both --union-add and --union-identical"),
        (true, false, false) => Overwrite::Union,
        (false, true, false) => Overwrite::UnionAdd,
        (false, false, true) => Overwrite::UnionIdentical,
        (false, false, false) => Overwrite::None,
    };
    if args.require_hardlinks && args.force_copy {
        bail!("Cannot specify both --require-hardlinks and --force-copy");
    }
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
        whiteouts: args.whiteouts,
        passthrough_whiteouts: args.process_passthrough_whiteouts,
        uncompressed_cache: !args.disable_cache,
    };
    if args.from_stdin || args.from_file.is_some() {
        checkout_many(&repo, &args, &options)?;
        return Ok(0);
    }
    let (commit, _) = util::resolve_commit(&repo, &args.rev)?;
    let destination = args
        .destination
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.rev));
    let subpath = args.subpath.as_deref().unwrap_or("/");
    checkout_one(
        &repo,
        &commit,
        subpath,
        &destination,
        args.allow_noent,
        &options,
    )?;
    Ok(0)
}
