//! `ostree pull-local`: copy commits from another local repository.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use rostree::ObjectType;
use rostree::Repo;
use rostree::core::Checksum;
use rostree::core::object::Metadata;
use rostree::repo::RefKind;
use rostree::repo::pull_local::{PullLocalOptions, pull_local, pull_local_commits};
use rostree::sign::gpg::Keyring;

use crate::{GlobalOptions, util};

/// Arguments of `pull-local`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] SRC_REPO [REFS...]")]
pub struct Args {
    /// Fetch only the commit metadata
    #[arg(long = "commit-metadata-only")]
    commit_metadata_only: bool,
    /// Add REMOTE to refspec
    #[arg(long, value_name = "REMOTE")]
    remote: Option<String>,
    /// Do not invoke fsync()
    #[arg(long = "disable-fsync")]
    disable_fsync: bool,
    /// Verify checksums of local sources (always enabled for HTTP pulls)
    #[arg(long)]
    untrusted: bool,
    /// GPG verify commits (must specify --remote)
    #[arg(long = "gpg-verify")]
    gpg_verify: bool,
    /// GPG verify summary (must specify --remote)
    #[arg(long = "gpg-verify-summary")]
    gpg_verify_summary: bool,
    /// Traverse DEPTH parents (-1=infinite) (default: 0)
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    depth: i64,
    /// Reject regular files with mode outside of 0775 (world writable, suid, etc.)
    #[arg(long = "bareuseronly-files")]
    bareuseronly_files: bool,
    /// Do not verify commit bindings
    #[arg(long = "disable-verify-bindings")]
    disable_verify_bindings: bool,
    /// Perform writes in such a way that avoids stalling concurrent processes (accepted;
    /// rostree batches durability)
    #[arg(long = "per-object-fsync")]
    per_object_fsync: bool,
    /// Require static deltas
    #[arg(long = "require-static-deltas")]
    require_static_deltas: bool,
    /// The repository to copy from
    source: PathBuf,
    /// Refs or commits to copy (default: every ref)
    refs: Vec<String>,
}

/// Checks the GPG signatures of `head` and of its parents down to `depth` (`-1`: all) in
/// the source, before anything is copied.
fn verify_history(source: &Repo, head: &Checksum, depth: i64, keyring: &Keyring) -> Result<()> {
    let mut next = Some((*head, depth));
    while let Some((commit, remaining)) = next.take() {
        let data = match source.load_metadata(ObjectType::Commit, &commit) {
            Ok(d) => d,
            Err(rostree::Error::MissingObject { .. }) if commit != *head => break,
            Err(e) => return Err(e.into()),
        };
        let detached = match source.load_commitmeta(&commit)? {
            Some(bytes) => Metadata::from_bytes(&bytes)?,
            None => Metadata::new(),
        };
        let signatures = rostree::sign::gpg::signatures(&detached)?;
        keyring
            .verify(&data, &signatures)
            .map_err(|e| anyhow::anyhow!("Commit {commit}: {e}"))?;
        if remaining != 0
            && let Some(parent) = source.load_commit(&commit)?.parent
        {
            next = Some((parent, remaining - 1));
        }
    }
    Ok(())
}

/// `--require-static-deltas`: the source's deltas applied as a pull from it would apply
/// them (upstream pulls from a `file://` URL then), into refs named as `pull-local` names
/// them.
fn through_deltas(args: &Args, global: &GlobalOptions) -> Result<i32> {
    use rostree::pull::pull::{PullOptions, RemoteSpec, StaticDeltas, pull};
    let repo = global.open_repo()?;
    let source = std::fs::canonicalize(&args.source)
        .with_context(|| format!("opening {}", args.source.display()))?;
    let spec = RemoteSpec {
        name: args.remote.clone().unwrap_or_default(),
        url: format!("file://{}", source.display()),
        contenturl: None,
        collection_id: None,
    };
    let options = PullOptions {
        depth: u64::try_from(args.depth).ok(),
        mirror: args.remote.is_none(),
        static_deltas: StaticDeltas::Require,
        ..PullOptions::default()
    };
    let interrupt = crate::progress::interrupt_flag();
    let start = std::time::Instant::now();
    let outcome = pull(
        &repo,
        &spec,
        &args.refs,
        &rostree::repo::progress::NoProgress,
        &interrupt,
        &options,
    )?;
    let line = crate::cmd::pull::summary_line(&outcome, start.elapsed());
    util::write_stdout(format!("{line}\n").as_bytes())?;
    Ok(0)
}

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    if args.require_static_deltas {
        return through_deltas(&args, global);
    }
    // Accepted for upstream's scripts: rostree batches durability anyway.
    let _ = args.per_object_fsync;
    let mut repo = global.open_repo()?;
    if args.disable_fsync {
        repo.disable_fsync();
    }
    let dir = Dir::open_ambient_dir(&args.source, ambient_authority())
        .with_context(|| format!("opening {}", args.source.display()))?;
    let source = Repo::open(dir, &args.source)?;
    let refs: Vec<(String, Checksum)> = if args.refs.is_empty() {
        // Every ref of the source, as upstream lists them: its remotes' too, whose
        // `REMOTE:REF` names are refused as names to copy, before anything is copied.
        for remote in source.list_ref_remotes()? {
            if let Some(name) = source
                .list_refs(&RefKind::Remote(remote.clone()))?
                .keys()
                .next()
            {
                bail!("Invalid ref name {remote}:{name}");
            }
        }
        source.list_refs(&RefKind::Local)?.into_iter().collect()
    } else {
        let mut out = Vec::new();
        for name in &args.refs {
            // A checksum is copied without a ref.
            if let Ok(c) = name.parse::<Checksum>() {
                out.push((String::new(), c));
                continue;
            }
            match source.read_ref(&RefKind::Local, name)? {
                Some(c) => out.push((name.clone(), c)),
                None => bail!("Refspec '{name}' not found"),
            }
        }
        out
    };
    if args.gpg_verify || args.gpg_verify_summary {
        let Some(name) = &args.remote else {
            bail!("--gpg-verify and --gpg-verify-summary need --remote");
        };
        let remote = repo.remote(name)?;
        let keyring = crate::cmd::remote::remote_keyring(&repo, &remote)?;
        if args.gpg_verify_summary {
            let summary = std::fs::read(args.source.join("summary"))
                .with_context(|| format!("reading {}/summary", args.source.display()))?;
            let sig = std::fs::read(args.source.join("summary.sig")).map_err(|_| {
                anyhow::anyhow!(
                    "GPG verification enabled, but no summary.sig found (use \
                     gpg-verify-summary=false in remote config to disable)"
                )
            })?;
            let signatures = rostree::sign::gpg::signatures(&Metadata::from_bytes(&sig)?)?;
            keyring.verify(&summary, &signatures)?;
        }
        if args.gpg_verify {
            for (_, head) in &refs {
                verify_history(&source, head, args.depth, &keyring)?;
            }
        }
    }
    let options = PullLocalOptions {
        depth: u64::try_from(args.depth).ok(),
        untrusted: args.untrusted,
        remote: args.remote.clone(),
        mirror_collection: None,
        commit_metadata_only: args.commit_metadata_only,
        bareuseronly_files: args.bareuseronly_files,
        verify_bindings: !args.disable_verify_bindings,
    };
    let interrupt = crate::progress::interrupt_flag();
    let named: Vec<_> = refs
        .iter()
        .filter(|(n, _)| !n.is_empty())
        .cloned()
        .collect();
    let unnamed: Vec<_> = refs.iter().filter(|(n, _)| n.is_empty()).cloned().collect();
    let mut total = rostree::repo::pull_local::PullLocalOutcome::default();
    let progress = crate::progress::CountProgress::new();
    for (batch, with_refs) in [(named, true), (unnamed, false)] {
        if batch.is_empty() {
            continue;
        }
        let outcome = if with_refs {
            pull_local(&repo, &source, &batch, &progress, &interrupt, &options)?
        } else {
            pull_local_commits(&repo, &source, &batch, &progress, &interrupt, &options)?
        };
        total.metadata += outcome.metadata;
        total.content += outcome.content;
        total.content_bytes += outcome.content_bytes;
    }
    util::write_stdout(
        format!(
            "{} metadata, {} content objects imported; {} content written\n",
            total.metadata,
            total.content,
            util::format_size(total.content_bytes)
        )
        .as_bytes(),
    )?;
    Ok(0)
}
