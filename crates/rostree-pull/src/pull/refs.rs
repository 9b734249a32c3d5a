//! Which commits a pull wants: the remote's summary (fetched, cached, its signatures
//! checked), the refs resolved from it or fetched one by one, and a mirror's summary copy.

use super::*;

/// A remote's summary as [`fetch_summary`] got it.
#[derive(Clone, Debug)]
pub struct RemoteSummary {
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Parsed.
    pub summary: Summary,
    /// `summary.sig`, when the remote has one.
    pub signature: Option<Vec<u8>>,
}

/// Fetches a remote's summary file (`None` when it has none), for `remote refs` and
/// `remote summary`, checked as the remote's `gpg-verify-summary` and `sign-verify-summary`
/// ask (`verifier`, `gpg_keyring`), through `repo`'s summary cache (or the one under
/// `cache_dir`).
pub fn fetch_summary(
    repo: &Repo,
    remote: &str,
    cache_dir: Option<&std::path::Path>,
    url: &str,
    options: &FetchOptions,
    verifier: Option<&[rostree_sign::signapi::Verifier]>,
    gpg_keyring: Option<&rostree_sign::gpg::Keyring>,
) -> Result<Option<RemoteSummary>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Io {
            path: "starting the fetch runtime".into(),
            source: e,
        })?;
    let fetcher = runtime.block_on(remote_fetcher(url, options))?;
    let cache = SummaryCache::open(repo, cache_dir)?;
    let slot = CacheSlot {
        cache: &cache,
        remote,
        invalid_is_error: rostree_repo::summary_cache::invalid_cache_is_error(),
    };
    let checks = SummaryChecks {
        gpg: gpg_keyring,
        signapi: verifier,
    };
    Ok(runtime
        .block_on(crate::summary::fetch_summary(&fetcher, &slot, checks))?
        .map(|f| RemoteSummary {
            bytes: f.bytes.to_vec(),
            summary: f.summary,
            signature: f.signature.map(|s| s.to_vec()),
        }))
}

/// The commits to pull: `(ref name, commit)`, the name `None` for a commit asked by checksum.
/// With `mirror` and no refs given, also the remote's `summary` (and `summary.sig`) to copy.
pub(super) async fn resolve_refs(
    fetcher: &Fetcher,
    slot: &CacheSlot<'_>,
    remote: &RemoteSpec,
    refs: &[String],
    options: &PullOptions,
    for_deltas: bool,
) -> Result<(Targets, Option<MirroredSummary>, Option<Summary>)> {
    // `REF@COMMIT` pulls that commit to the ref, without asking the remote.
    let names: Vec<&String> = refs
        .iter()
        .filter(|r| Checksum::from_hex(r).is_err() && !r.contains('@'))
        .collect();
    let checks = SummaryChecks {
        gpg: options.gpg_summary_keyring.as_deref(),
        signapi: options.summary_verifier.as_ref().map(|v| v.as_slice()),
    };
    // With deltas in use, the summary says which there are.
    let fetched = if !names.is_empty() || (options.mirror && refs.is_empty()) || for_deltas {
        crate::summary::fetch_summary(fetcher, slot, checks).await?
    } else {
        None
    };
    if refs.is_empty() {
        let Some(fetched) = fetched.filter(|_| options.mirror) else {
            return Err(Error::Invalid {
                what: "request".into(),
                reason: "No refs to pull: name some, or mirror a remote that has a summary".into(),
            });
        };
        let targets = fetched
            .summary
            .refs
            .iter()
            .map(|(name, r)| (Some(name.clone()), r.checksum))
            .collect();
        return Ok((
            targets,
            Some(MirroredSummary {
                bytes: fetched.bytes,
                signature: fetched.signature,
            }),
            Some(fetched.summary),
        ));
    }
    let summary = fetched.map(|f| f.summary);
    let mut out = Vec::new();
    for wanted in refs {
        if let Ok(commit) = Checksum::from_hex(wanted) {
            out.push((None, commit));
            continue;
        }
        if let Some((name, commit)) = wanted.rsplit_once('@') {
            let commit = rostree_repo::deltas::DeltaName::parse(commit)?.to;
            rostree_core::refname::validate_ref(name).map_err(|e| Error::Invalid {
                what: "ref".into(),
                reason: e.to_string(),
            })?;
            out.push((Some(name.to_owned()), commit));
            continue;
        }
        rostree_core::refname::validate_ref(wanted).map_err(|e| Error::Invalid {
            what: "ref".into(),
            reason: e.to_string(),
        })?;
        let no_such = || Error::NoSuchRef {
            remote: remote.name.clone(),
            name: wanted.clone(),
        };
        let commit = match &summary {
            Some(summary) => {
                summary
                    .get(wanted)
                    .ok_or_else(|| Error::NotInSummary {
                        name: wanted.clone(),
                    })?
                    .checksum
            }
            None => {
                let data = fetcher
                    .get(&format!("refs/heads/{wanted}"))
                    .await?
                    .ok_or_else(no_such)?;
                let text = String::from_utf8_lossy(&data);
                Checksum::parse_rev(text.trim_end()).map_err(|e| Error::BadRefFile {
                    collection_id: remote.collection_id.clone(),
                    name: wanted.clone(),
                    reason: e.to_string(),
                })?
            }
        };
        out.push((Some(wanted.clone()), commit));
    }
    Ok((out, None, summary))
}

/// What to pull: `(ref name, commit)`, the name `None` for a commit asked by checksum.
pub(super) type Targets = Vec<(Option<String>, Checksum)>;

/// A remote's summary, copied by a mirror pull of all its refs.
pub(super) struct MirroredSummary {
    bytes: Bytes,
    signature: Option<Bytes>,
}

/// Replaces the repository's summary (and its signature) with a mirrored one.
pub(super) fn write_mirrored_summary(repo: &Repo, summary: &MirroredSummary) -> Result<()> {
    Ok(rostree_repo::summary::write_summary_files(
        repo,
        &summary.bytes,
        summary.signature.as_deref(),
    )?)
}
