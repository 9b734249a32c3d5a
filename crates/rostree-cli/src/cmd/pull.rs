//! `ostree pull`: download commits from a remote.

use std::time::Instant;

use crate::progress::PullProgress;
use crate::{GlobalOptions, util};
use anyhow::{Context, Result, bail};
use rostree::pull::fetch::FetchOptions;
use rostree::pull::pull::{PullOptions, PullOutcome, RemoteSpec, StaticDeltas, pull};

/// Arguments of `pull`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] REMOTE [BRANCH...]")]
pub struct Args {
    /// Fetch only the commit metadata
    #[arg(long = "commit-metadata-only")]
    commit_metadata_only: bool,
    /// Do not invoke fsync()
    #[arg(long = "disable-fsync")]
    disable_fsync: bool,
    /// Write refs suitable for a mirror and fetches all refs if none provided
    #[arg(long)]
    mirror: bool,
    /// Traverse DEPTH parents (-1=infinite) (default: 0)
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    depth: i64,
    /// Pull objects from this URL instead of the one from the remote config
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// Add NAME=VALUE as HTTP header to all requests
    #[arg(long = "http-header", value_name = "NAME=VALUE")]
    http_header: Vec<String>,
    /// Append string to user agent
    #[arg(long = "append-user-agent", hide = true)]
    append_user_agent: Option<String>,
    /// Specifies how many times each download should be retried upon error (default: 5)
    #[arg(long = "network-retries", value_name = "N", default_value_t = 5)]
    network_retries: u32,
    /// Require fetched commits to have newer timestamps
    #[arg(short = 'T', long = "timestamp-check")]
    timestamp_check: bool,
    /// Require fetched commits to have newer timestamps than given rev
    #[arg(long = "timestamp-check-from-rev", value_name = "")]
    timestamp_check_from_rev: Option<String>,
    /// Do not verify commit bindings
    #[arg(long = "disable-verify-bindings")]
    disable_verify_bindings: bool,
    /// Seconds a response may make no progress before it fails (rostree's own)
    #[arg(long = "stall-timeout", value_name = "SECONDS", default_value_t = 30)]
    stall_timeout: u64,
    /// Objects fetched or being stored at once (rostree's own; default: adapts to the link)
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,
    /// Only pull the provided subpath(s)
    #[arg(long, value_name = "")]
    subpath: Vec<String>,
    /// Reject regular files with mode outside of 0775 (world writable, suid, etc.)
    #[arg(long = "bareuseronly-files")]
    bareuseronly_files: bool,
    /// Only print information on what will be downloaded (requires static deltas)
    #[arg(long = "dry-run")]
    dry_run: bool,
    /// Require static deltas
    #[arg(long = "require-static-deltas")]
    require_static_deltas: bool,
    /// Do not use static deltas
    #[arg(long = "disable-static-deltas")]
    disable_static_deltas: bool,
    /// Perform writes in such a way that avoids stalling concurrent processes (accepted;
    /// rostree batches durability)
    #[arg(long = "per-object-fsync")]
    per_object_fsync: bool,
    /// Verify checksums of local sources (always enabled for HTTP pulls)
    #[arg(long)]
    untrusted: bool,
    /// Do not verify checksums of HTTP sources (rostree always verifies)
    #[arg(long = "http-trusted")]
    http_trusted: bool,
    /// Use custom cache dir
    #[arg(long = "cache-dir", value_name = "")]
    cache_dir: Option<std::path::PathBuf>,
    /// Sets the update frequency, in milliseconds (0=1000ms) (default: 0)
    #[arg(
        long = "update-frequency",
        value_name = "FREQUENCY",
        default_value_t = 0
    )]
    update_frequency: u64,
    /// Add REPO as local cache source for objects during this pull
    #[arg(short = 'L', long = "localcache-repo", value_name = "REPO")]
    localcache_repo: Vec<std::path::PathBuf>,
    /// Print progress as JSON Lines on stdout (rostree's own)
    #[arg(long)]
    json: bool,
    /// The remote, or REMOTE:BRANCH
    remote: String,
    /// Branches or commits to pull (default: the remote's configured branches)
    refs: Vec<String>,
}

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    if args.dry_run && !args.require_static_deltas {
        bail!("--dry-run requires --require-static-deltas");
    }
    if let Some(relative) = args.subpath.iter().find(|s| !s.starts_with('/')) {
        bail!("Subpath must be absolute: {relative}");
    }
    // Accepted for upstream's scripts; they change nothing here (see docs/compat.md).
    let _ = (args.per_object_fsync, args.untrusted, args.http_trusted);
    let mut repo = global.open_repo()?;
    if args.disable_fsync {
        repo.disable_fsync();
    }
    let (name, mut refs) = match args.remote.split_once(':') {
        Some((remote, branch)) if args.refs.is_empty() => {
            (remote.to_owned(), vec![branch.to_owned()])
        }
        _ => (args.remote.clone(), args.refs.clone()),
    };
    let remote = repo.remote(&name)?;
    rostree::pull::remote::refuse_unsupported(&remote)?;
    if refs.is_empty() && !args.mirror {
        refs = remote.option_list("branches")?;
        if refs.is_empty() {
            bail!("No configured branches for remote {name}");
        }
    }
    let url = match &args.url {
        Some(url) => url.clone(),
        None => remote.fetch_url()?,
    };
    let mut headers = Vec::new();
    for h in &args.http_header {
        let Some((k, v)) = h.split_once('=') else {
            bail!("Missing '=' in --http-header {h}");
        };
        headers.push((k.to_owned(), v.to_owned()));
    }
    let (mut spec, defaults) = remote_defaults(&repo, &remote)?;
    spec.url = url;
    let from_config = defaults.fetch.clone();
    let options = PullOptions {
        cache_dir: args.cache_dir.clone(),
        depth: u64::try_from(args.depth).ok(),
        mirror: args.mirror,
        commit_metadata_only: args.commit_metadata_only,
        verify_bindings: !args.disable_verify_bindings,
        subpaths: args.subpath.clone(),
        localcache: args
            .localcache_repo
            .iter()
            .map(|path| {
                let dir = cap_std::fs::Dir::open_ambient_dir(path, cap_std::ambient_authority())
                    .with_context(|| format!("opening {}", path.display()))?;
                Ok(std::sync::Arc::new(rostree::Repo::open(dir, path.clone())?))
            })
            .collect::<Result<_>>()?,
        bareuseronly_files: args.bareuseronly_files,
        timestamp_check: args.timestamp_check,
        timestamp_check_from: match &args.timestamp_check_from_rev {
            Some(rev) => Some(repo.resolve_rev(rev)?),
            None => None,
        },
        concurrency: args.concurrency,
        static_deltas: if args.require_static_deltas {
            StaticDeltas::Require
        } else if args.disable_static_deltas {
            StaticDeltas::Disable
        } else {
            StaticDeltas::Allow
        },
        dry_run: args.dry_run,
        trusted_http: args.http_trusted,
        fetch: FetchOptions {
            retries: args.network_retries,
            headers: [from_config.headers, headers].concat(),
            user_agent_suffix: args
                .append_user_agent
                .clone()
                .or(from_config.user_agent_suffix),
            stall_timeout: std::time::Duration::from_secs(args.stall_timeout.max(1)),
            ..from_config
        },
        ..defaults
    };
    let interrupt = crate::progress::interrupt_flag();
    let start = Instant::now();
    let interval = match args.update_frequency {
        0 => std::time::Duration::from_millis(250),
        ms => std::time::Duration::from_millis(ms),
    };
    let progress = PullProgress::new(args.json, interval);
    let outcome = pull(&repo, &spec, &refs, &progress, &interrupt, &options);
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            progress.abandon();
            return Err(e.into());
        }
    };
    progress.finish(&outcome);
    if let Some(t) = &outcome.dry_run {
        let line = format!(
            "Delta update: {}/{} parts, {}/{}, {} total uncompressed\n",
            t.parts_here,
            t.parts,
            util::format_size(t.size_here),
            util::format_size(t.size),
            util::format_size(t.usize)
        );
        util::write_stdout(line.as_bytes())?;
        return Ok(0);
    }
    if args.json {
        return Ok(0);
    }
    util::write_stdout(format!("{}\n", summary_line(&outcome, start.elapsed())).as_bytes())?;
    Ok(0)
}

/// What pulling from `remote` means by its configuration (the library's policy, with the
/// system's trust roots).
pub fn remote_defaults(
    repo: &rostree::Repo,
    remote: &rostree::repo::remote::Remote,
) -> Result<(RemoteSpec, PullOptions)> {
    Ok(rostree::pull::remote::pull_options(
        repo,
        remote,
        &rostree::pull::remote::TrustRoots::system(),
    )?)
}

/// The line a pull ends with, in upstream's words (scripts grep it): what was fetched, what
/// came from local cache repositories, what crossed the network, what was written.
pub(crate) fn summary_line(outcome: &PullOutcome, elapsed: std::time::Duration) -> String {
    let verb = if outcome.remote_is_local {
        "imported"
    } else {
        "fetched"
    };
    // From a local remote every object is imported, whichever way it came.
    let (metadata, content) = if outcome.remote_is_local {
        (
            outcome.metadata_fetched + outcome.metadata_local,
            outcome.content_fetched + outcome.content_local,
        )
    } else {
        (outcome.metadata_fetched, outcome.content_fetched)
    };
    let mut line = if outcome.delta_parts > 0 && !outcome.remote_is_local {
        format!(
            "{} delta parts, {} loose fetched",
            outcome.delta_parts,
            metadata + content
        )
    } else {
        format!("{metadata} metadata, {content} content objects {verb}")
    };
    if !outcome.remote_is_local && (outcome.metadata_local > 0 || outcome.content_local > 0) {
        line.push_str(&format!(
            " ({} meta, {} content local)",
            outcome.metadata_local, outcome.content_local
        ));
    }
    let bytes = outcome.bytes_fetched;
    if bytes > 0 {
        let (amount, unit) = if bytes < 1024 {
            (bytes, "B")
        } else {
            (bytes / 1024, "KiB")
        };
        line.push_str(&format!(
            "; {amount} {unit} transferred in {} seconds",
            elapsed.as_secs()
        ));
    }
    line.push_str(&format!(
        "; {} content written",
        util::format_size(outcome.content_bytes_written)
    ));
    line
}
