//! `ostree commit`: commit trees (directories, tarballs, refs) as a new revision.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use rostree::core::gvariant::{Value, parse_text};
use rostree::core::object::Metadata;
use rostree::repo::archive::PathnameFilter;
use rostree::repo::commit::{
    CommitModifier, CommitOptions, CommitSigner, ParentSpec, TreeSource, commit, parse_statoverride,
};

use crate::{GlobalOptions, util};

/// Arguments of `commit`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] [PATH]")]
pub struct Args {
    /// One line subject
    #[arg(short = 's', long)]
    subject: Option<String>,
    /// Full description
    #[arg(short = 'm', long)]
    body: Option<String>,
    /// Use an editor to write the commit message
    #[arg(short = 'e', long)]
    editor: bool,
    /// Commit message from FILE path
    #[arg(short = 'F', long = "body-file", value_name = "FILE")]
    body_file: Option<PathBuf>,
    /// Branch
    #[arg(short = 'b', long, allow_hyphen_values = true)]
    branch: Option<String>,
    /// Parent commit checksum, or "none"
    #[arg(long)]
    parent: Option<String>,
    /// Create a commit without writing a ref
    #[arg(long)]
    orphan: bool,
    /// Overlay the given argument as a tree: dir=PATH, tar=TARFILE or ref=COMMIT
    #[arg(long = "tree", value_name = "dir=PATH or tar=TARFILE or ref=COMMIT")]
    trees: Vec<String>,
    /// Sign the commit with this key (base64 ed25519 secret key; repeatable)
    #[arg(long = "sign", value_name = "KEY_ID")]
    sign: Vec<String>,
    /// Signature type to use (defaults to 'ed25519')
    #[arg(long = "sign-type", value_name = "NAME", default_value = "ed25519")]
    sign_type: String,
    /// GPG Key ID to sign the commit with
    #[arg(long = "gpg-sign", value_name = "KEY-ID")]
    gpg_sign: Vec<String>,
    /// GPG Homedir to use when looking for keyrings
    #[arg(long = "gpg-homedir", value_name = "HOMEDIR")]
    gpg_homedir: Option<String>,
    /// Add a key/value pair to metadata
    #[arg(long = "add-metadata-string", value_name = "KEY=VALUE")]
    metadata_strings: Vec<String>,
    /// Add a key/value pair to metadata, where the value is in GVariant text format
    #[arg(long = "add-metadata", value_name = "KEY=VALUE")]
    metadata_variants: Vec<String>,
    /// If the parent commit has KEY in its metadata, copy it
    #[arg(long = "keep-metadata", value_name = "KEY")]
    keep_metadata: Vec<String>,
    /// Flag this commit as a bootable OSTree (e.g. it has a kernel)
    #[arg(long)]
    bootable: bool,
    /// Start from the given commit as a base, and apply the trees on top of it
    #[arg(long, value_name = "REV")]
    base: Option<String>,
    /// Ensure executable files are not writable
    #[arg(long = "mode-ro-executables")]
    mode_ro_executables: bool,
    /// When loading tar archives, automatically create parent directories as needed
    #[arg(long = "tar-autocreate-parents")]
    tar_autocreate_parents: bool,
    /// When loading tar archives, use REGEX,REPLACEMENT against path names
    #[arg(long = "tar-pathname-filter", value_name = "REGEX,REPLACEMENT")]
    tar_pathname_filter: Option<String>,
    /// Output more information in a KEY: VALUE format
    #[arg(long = "table-output")]
    table_output: bool,
    /// Add a key/value pair to detached metadata
    #[arg(long = "add-detached-metadata-string", value_name = "KEY=VALUE")]
    detached_strings: Vec<String>,
    /// Set file ownership user id
    #[arg(long = "owner-uid")]
    owner_uid: Option<u32>,
    /// Set file ownership group id
    #[arg(long = "owner-gid")]
    owner_gid: Option<u32>,
    /// Canonicalize permissions in the same way bare-user does for hardlinked files
    #[arg(long = "canonical-permissions")]
    canonical_permissions: bool,
    /// Do not import extended attributes
    #[arg(long = "no-xattrs")]
    no_xattrs: bool,
    /// File containing list of modifications to make to permissions
    #[arg(long, value_name = "PATH")]
    statoverride: Option<PathBuf>,
    /// File containing list of files to skip
    #[arg(long = "skip-list", value_name = "PATH")]
    skip_list: Option<PathBuf>,
    /// Consume (delete) content after commit (for local directories)
    #[arg(long)]
    consume: bool,
    /// Generate size information along with commit metadata
    #[arg(long = "generate-sizes")]
    generate_sizes: bool,
    /// Add a ref to ref binding commit metadata
    #[arg(long = "bind-ref", value_name = "BRANCH")]
    bind_refs: Vec<String>,
    /// Do not write any ref bindings
    #[arg(long = "no-bindings")]
    no_bindings: bool,
    /// Optimize for commits of trees composed of hardlinks into the repository
    #[arg(long = "link-checkout-speedup")]
    link_checkout_speedup: bool,
    /// Assume hardlinks into the repo have canonical metadata (implies --link-checkout-speedup)
    #[arg(short = 'I', long = "devino-canonical")]
    devino_canonical: bool,
    /// If the contents are unchanged from previous commit, do nothing
    #[arg(long = "skip-if-unchanged")]
    skip_if_unchanged: bool,
    /// Override the timestamp of the commit
    #[arg(long, value_name = "TIMESTAMP")]
    timestamp: Option<String>,
    /// Specify how to invoke fsync()
    #[arg(long, value_name = "POLICY")]
    fsync: Option<String>,
    /// Do not invoke fsync()
    #[arg(long = "disable-fsync")]
    disable_fsync: bool,
    /// Directory to commit (same as --tree=dir=PATH)
    path: Option<PathBuf>,
}

fn split_kv(arg: &str) -> Result<(&str, &str)> {
    let (key, value) = arg
        .split_once('=')
        .ok_or_else(|| anyhow::anyhow!("Missing '=' in KEY=VALUE metadata '{arg}'"))?;
    if key.is_empty() {
        bail!("Empty metadata key");
    }
    Ok((key, value))
}

fn open_dir(path: &PathBuf) -> Result<TreeSource> {
    // A symlink as the tree itself is refused, as upstream opens it O_NOFOLLOW.
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        bail!("opendir({}): Not a directory", path.display());
    }
    let dir = Dir::open_ambient_dir(path, ambient_authority())
        .with_context(|| format!("opening {}", path.display()))?;
    Ok(TreeSource::Dir(dir, path.clone()))
}

/// A tar or cpio archive, plain or gzipped (the library tells which), from a file or, for
/// `-`, from standard input.
fn open_tar(path: &PathBuf) -> Result<TreeSource> {
    let reader: Box<dyn Read + Send> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?)
    };
    Ok(TreeSource::Tar(reader, path.clone()))
}

fn read_lines(path: &PathBuf) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// The directories a --consume commit read from.
fn consumed_dirs(args: &Args) -> Vec<PathBuf> {
    let from_trees: Vec<PathBuf> = args
        .trees
        .iter()
        .filter_map(|t| t.strip_prefix("dir="))
        .map(PathBuf::from)
        .collect();
    if !args.trees.is_empty() {
        return from_trees;
    }
    args.path.iter().cloned().collect()
}

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    let mut repo = global.open_repo()?;
    if args.disable_fsync || matches!(args.fsync.as_deref(), Some("false" | "no" | "0")) {
        repo.disable_fsync();
    }
    if args.branch.is_none() && !args.orphan {
        bail!("A branch must be specified with --branch, or use --orphan");
    }
    // Keys are checked before anything is written.
    let sign_keys = crate::cmd::sign::signing_keys(&args.sign_type, &args.sign)?;
    let homedir = args.gpg_homedir.as_deref().map(std::path::Path::new);
    // Signed inside the commit's transaction, ed25519 keys first, before the branch moves.
    let mut signers: Vec<Arc<dyn CommitSigner>> = Vec::new();
    for key in sign_keys {
        signers.push(Arc::new(rostree::sign::commit::SignWith(key)));
    }
    for id in &args.gpg_sign {
        signers.push(Arc::new(rostree::sign::commit::GpgSignWith {
            key_id: id.clone(),
            signer: rostree::sign::gnupg::Signer::find(homedir, id)?,
        }));
    }
    let mut sources = Vec::new();
    if let Some(base) = &args.base {
        sources.push(TreeSource::Base(base.clone()));
    }
    for tree in &args.trees {
        let Some((kind, value)) = tree.split_once('=') else {
            bail!("Missing type in tree specification '{tree}'");
        };
        sources.push(match kind {
            "dir" => open_dir(&PathBuf::from(value))?,
            "tar" => open_tar(&PathBuf::from(value))?,
            "ref" => TreeSource::Ref(value.to_owned()),
            other => bail!("Invalid tree type specification '{other}'"),
        });
    }
    // As upstream: the positional directory only counts when no --tree is given, and with
    // neither the current directory is committed.
    if args.trees.is_empty() {
        let path = args.path.clone().unwrap_or_else(|| PathBuf::from("."));
        sources.push(open_dir(&path)?);
    }
    let mut metadata = Metadata::new();
    for kv in &args.metadata_strings {
        let (k, v) = split_kv(kv)?;
        metadata.push(k, Value::String(v.to_owned()));
    }
    for kv in &args.metadata_variants {
        let (k, v) = split_kv(kv)?;
        metadata.push(k, parse_text(v, None)?);
    }
    let mut detached = Metadata::new();
    for kv in &args.detached_strings {
        let (k, v) = split_kv(kv)?;
        detached.push(k, Value::String(v.to_owned()));
    }
    let mut modifier = CommitModifier {
        owner_uid: args.owner_uid,
        owner_gid: args.owner_gid,
        canonical_permissions: args.canonical_permissions,
        no_xattrs: args.no_xattrs,
        consume: args.consume,
        mode_ro_executables: args.mode_ro_executables,
        tar_autocreate_parents: args.tar_autocreate_parents,
        tar_pathname_filter: args
            .tar_pathname_filter
            .as_deref()
            .map(PathnameFilter::parse)
            .transpose()?,
        ..Default::default()
    };
    if let Some(p) = &args.statoverride {
        modifier.stat_overrides = parse_statoverride(&read_lines(p)?)?;
    }
    if let Some(p) = &args.skip_list {
        modifier.skip = read_lines(p)?
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
    }
    // The editor wins over everything, then the body file over -m, as upstream.
    let (subject, body) = if args.editor {
        crate::editor::prompt(args.branch.as_deref())?
    } else {
        let body = match (&args.body_file, &args.body) {
            (Some(f), _) => read_lines(f)?,
            (None, Some(b)) => b.clone(),
            (None, None) => String::new(),
        };
        (args.subject.clone().unwrap_or_default(), body)
    };
    // --orphan only drops the parent; a branch given with it is still written and bound.
    let parent = if args.orphan && args.parent.is_none() {
        Some(ParentSpec::None)
    } else {
        match args.parent.as_deref() {
            Some("none") => Some(ParentSpec::None),
            // Upstream takes only a full checksum here, not a ref.
            Some(rev) => Some(ParentSpec::Commit(
                rev.parse()
                    .map_err(|_| anyhow::anyhow!("Invalid rev {rev}"))?,
            )),
            None => None,
        }
    };
    let options = CommitOptions {
        branch: args.branch.clone(),
        subject,
        body,
        timestamp: match &args.timestamp {
            Some(t) => Some(util::parse_timestamp(t)?),
            None => util::source_date_epoch()?,
        },
        parent,
        metadata,
        detached_metadata: detached,
        bind_refs: args.bind_refs.clone(),
        no_bindings: args.no_bindings,
        generate_sizes: args.generate_sizes,
        modifier,
        skip_if_unchanged: args.skip_if_unchanged,
        link_checkout_speedup: args.link_checkout_speedup || args.devino_canonical,
        devino_canonical: args.devino_canonical,
        keep_metadata: args.keep_metadata.clone(),
        bootable: args.bootable,
        signers,
    };
    let interrupt = crate::progress::interrupt_flag();
    let progress = crate::progress::CountProgress::new();
    let outcome = commit(&repo, sources, &progress, &interrupt, &options);
    progress.finish();
    let outcome = outcome?;
    if args.consume {
        // The library empties the directories; upstream removes them too.
        for path in consumed_dirs(&args) {
            match std::fs::remove_dir(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
            }
        }
    }
    if args.table_output {
        let s = &outcome.stats;
        util::write_stdout(
            format!(
                "Commit: {}\nMetadata Total: {}\nMetadata Written: {}\nContent Total: {}\n\
                 Content Written: {}\nContent Cache Hits: {}\nContent Bytes Written: {}\n",
                outcome.checksum,
                s.metadata_objects_total,
                s.metadata_objects_written,
                s.content_objects_total,
                s.content_objects_written,
                outcome.devino_hits,
                s.content_bytes_written,
            )
            .as_bytes(),
        )?;
    } else {
        util::write_stdout(format!("{}\n", outcome.checksum).as_bytes())?;
    }
    Ok(0)
}
