//! `ostree find-remotes`: which configured remotes have the newest commits of
//! collection–refs, and (`--pull`) pulling them from there.

use std::path::PathBuf;

use anyhow::{Result, bail};
use rostree::core::ghash::{HashOrder, str_hash};
use rostree::pull::find_remotes::{Candidate, CollectionRef, FinderResult, resolve};

use crate::{GlobalOptions, util};

/// Arguments of `find-remotes`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] COLLECTION-ID REF [COLLECTION-ID REF...]")]
pub struct Args {
    /// Use custom cache dir
    #[arg(long = "cache-dir", value_name = "")]
    cache_dir: Option<PathBuf>,
    /// Do not invoke fsync()
    #[arg(long = "disable-fsync")]
    disable_fsync: bool,
    /// Use the specified comma separated list of finders (e.g. config,lan,mount)
    #[arg(long, value_name = "FINDERS")]
    finders: Option<String>,
    /// Pull the updates after finding them
    #[arg(long)]
    pull: bool,
    /// Do a mirror pull (see ostree pull --mirror)
    #[arg(long)]
    mirror: bool,
    /// Collection IDs and refs, in pairs
    pairs: Vec<String>,
}

/// `COLLECTION-ID REF` pairs, checked as upstream checks them (usage errors in its words).
pub fn collection_refs(pairs: &[String]) -> Result<Vec<CollectionRef>> {
    if pairs.len() < 2 {
        return Err(util::usage_error(
            "At least one COLLECTION-ID REF pair must be specified",
        ));
    }
    if pairs.len() % 2 == 1 {
        return Err(util::usage_error(
            "Only complete COLLECTION-ID REF pairs may be specified",
        ));
    }
    let mut refs = Vec::new();
    for pair in pairs.chunks(2) {
        rostree::core::refname::validate_collection_id(&pair[0])?;
        rostree::core::refname::validate_ref(&pair[1])?;
        refs.push(CollectionRef {
            collection_id: pair[0].clone(),
            ref_name: pair[1].clone(),
        });
    }
    Ok(refs)
}

/// The finders asked for: each of `config`, `lan`, `mount` at most once, as upstream
/// checks them. rostree has the config finder only.
fn check_finders(finders: &str) -> Result<()> {
    let mut seen = Vec::new();
    for finder in finders.split(',') {
        if !["config", "lan", "mount"].contains(&finder) || seen.contains(&finder) {
            return Err(util::usage_error(format!(
                "Unknown or duplicate finder type given in --finders option: \u{2018}{finder}\u{2019}"
            )));
        }
        seen.push(finder);
    }
    if seen.is_empty() {
        return Err(util::usage_error(
            "List of finders in --finders option must not be empty",
        ));
    }
    if seen.contains(&"lan") {
        return Err(util::usage_error(
            "LAN repo finder requested but ostree was compiled without Avahi support",
        ));
    }
    if seen.contains(&"mount") {
        bail!("The mount finder is not supported by rostree yet; use --finders=config");
    }
    Ok(())
}

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    let mut repo = global.open_repo()?;
    let refs = collection_refs(&args.pairs)?;
    if args.mirror && !args.pull {
        return Err(util::usage_error(
            "When --mirror is specified, --pull must also be",
        ));
    }
    if let Some(finders) = &args.finders {
        check_finders(finders)?;
    }
    if args.disable_fsync {
        repo.disable_fsync();
    }
    // Every configured remote, with the summary it serves (checked as its configuration
    // asks); one that cannot be asked is passed over, as upstream's finder passes it.
    let mut candidates = Vec::new();
    for name in repo.remote_names() {
        let remote = repo.remote(&name)?;
        let Ok(Some(rostree::pull::pull::RemoteSummary { summary, .. })) =
            crate::cmd::remote::remote_summary(&repo, &name, args.cache_dir.as_deref())
        else {
            continue;
        };
        let collection_id = remote
            .option("collection-id")?
            .filter(|id| rostree::core::refname::validate_collection_id(id).is_ok());
        candidates.push((
            collection_id,
            Candidate {
                url: remote.option("url")?.unwrap_or_default(),
                keyring: crate::cmd::remote::keyring_file(&name),
                remote: name,
                summary,
            },
        ));
    }
    let results = resolve(&repo, &refs, candidates);
    let mut out = String::new();
    for (i, result) in results.iter().enumerate() {
        describe(&mut out, i, result);
    }
    if results.is_empty() {
        out.push_str("No results.\n");
        util::write_stdout(out.as_bytes())?;
        return Ok(0);
    }
    let found: Vec<&CollectionRef> = refs
        .iter()
        .filter(|r| {
            results
                .iter()
                .any(|res| res.refs.iter().any(|(x, c)| x == *r && c.is_some()))
        })
        .collect();
    out.push_str(&format!(
        "{}/{} refs were found.\n",
        found.len(),
        refs.len()
    ));
    if found.len() != refs.len() {
        out.push_str("Refs not found in any remote:\n");
        for r in refs.iter().filter(|r| !found.contains(r)) {
            out.push_str(&format!(" - ({}, {})\n", r.collection_id, r.ref_name));
        }
    }
    util::write_stdout(out.as_bytes())?;
    if !args.pull {
        return Ok(0);
    }
    pull_results(&repo, &results, args.mirror)?;
    util::write_stdout(
        format!("Pulled {}/{} refs successfully.\n", refs.len(), refs.len()).as_bytes(),
    )?;
    Ok(0)
}

/// One result as upstream prints it; its refs in GLib hash-table order.
fn describe(out: &mut String, index: usize, result: &FinderResult) {
    let last_modified = match result.summary_last_modified {
        0 => "unknown".to_owned(),
        t => util::format_date(t)
            .replace(' ', "T")
            .replace("T+0000", "Z"),
    };
    out.push_str(&format!(
        "Result {index}: {}\n - Finder: {}\n - Keyring: {}\n - Priority: {}\n \
         - Summary last modified: {last_modified}\n - Refs:\n",
        result.url, result.finder, result.keyring, result.priority
    ));
    let mut table = HashOrder::new();
    for (r, checksum) in &result.refs {
        let hash = str_hash(r.collection_id.as_bytes()) ^ str_hash(r.ref_name.as_bytes());
        let key = format!("{}\0{}", r.collection_id, r.ref_name);
        table.insert(key, (r, checksum), hash);
    }
    for (_, (r, checksum)) in table.into_entries() {
        let commit = checksum.map_or("(not found)".to_owned(), |c| c.to_hex());
        out.push_str(&format!(
            "    - ({}, {}) = {commit}\n",
            r.collection_id, r.ref_name
        ));
    }
    out.push('\n');
}

/// Pulls each ref from the first result that has its newest commit, as upstream's
/// `pull_from_remotes` does: as the remote's ref, or with `mirror` under its collection;
/// GPG signatures always checked (with the remote's keys), summaries not; a result that
/// fails leaves its refs to the next; refs no result could give fail the whole.
fn pull_results(repo: &rostree::Repo, results: &[FinderResult], mirror: bool) -> Result<()> {
    let mut pulled: Vec<&CollectionRef> = Vec::new();
    let mut attempted: Vec<&CollectionRef> = Vec::new();
    let interrupt = crate::progress::interrupt_flag();
    for result in results {
        let pinned: Vec<(&CollectionRef, rostree::Checksum)> = result
            .refs
            .iter()
            .filter(|(r, _)| !pulled.contains(&r))
            .filter_map(|(r, c)| c.map(|c| (r, c)))
            .collect();
        if pinned.is_empty() {
            continue;
        }
        let remote = repo.remote(&result.remote)?;
        let (spec, defaults) = crate::cmd::pull::remote_defaults(repo, &remote)?;
        let keyring = crate::cmd::remote::remote_keyring(repo, &remote)?;
        let options = rostree::pull::pull::PullOptions {
            mirror,
            pinned: pinned
                .iter()
                .map(|(r, c)| (r.ref_name.clone(), *c))
                .collect(),
            gpg_keyring: Some(std::sync::Arc::new(keyring)),
            gpg_summary_keyring: None,
            sign_verifier: None,
            summary_verifier: None,
            ..defaults
        };
        let progress =
            crate::progress::PullProgress::new(false, std::time::Duration::from_millis(250));
        let outcome = rostree::pull::pull::pull(repo, &spec, &[], &progress, &interrupt, &options);
        progress.abandon();
        attempted.extend(pinned.iter().map(|(r, _)| *r));
        match outcome {
            Ok(_) => pulled.extend(pinned.iter().map(|(r, _)| *r)),
            Err(rostree::pull::Error::Cancelled) => bail!("Operation was cancelled"),
            // Another result may have the same commits.
            Err(_) => {}
        }
    }
    let mut failed = HashOrder::new();
    for r in attempted.into_iter().filter(|r| !pulled.contains(r)) {
        let hash = str_hash(r.collection_id.as_bytes()) ^ str_hash(r.ref_name.as_bytes());
        failed.insert(
            format!("{}\0{}", r.collection_id, r.ref_name),
            format!("({}, {})", r.collection_id, r.ref_name),
            hash,
        );
    }
    let failed: Vec<String> = failed.into_entries().into_iter().map(|(_, v)| v).collect();
    if !failed.is_empty() {
        bail!(
            "Failed to pull some refs from the remotes: {}",
            failed.join(", ")
        );
    }
    Ok(())
}
