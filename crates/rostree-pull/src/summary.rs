//! Fetching a remote's summary and `summary.sig`, checked, through the summary cache.
//!
//! The order is upstream's: `summary.sig` first (conditionally, with the cached copy's
//! validators); when it is the cached one, the cached summary is used and not fetched
//! again. A cached summary that fails verification is fetched anew once (a cache left
//! inconsistent must not wedge pulls). A verified pair fetched over the network is cached.

use bytes::Bytes;
use rostree_core::object::{Metadata, Summary};
use rostree_repo::summary_cache::{CachedFile, CachedKind, SummaryCache};

use crate::error::{Error, Result};
use crate::fetch::{Conditional, Fetcher, Validators};

/// The signatures a summary must carry.
#[derive(Clone, Copy, Default)]
pub(crate) struct SummaryChecks<'a> {
    /// `gpg-verify-summary`: a GPG signature by one of these keys.
    pub gpg: Option<&'a rostree_sign::gpg::Keyring>,
    /// `sign-verify-summary`: a signature by one of these keys (of a type of the list).
    pub signapi: Option<&'a [rostree_sign::signapi::Verifier]>,
}

/// Where summaries are cached, and under which name.
pub(crate) struct CacheSlot<'a> {
    /// The cache (perhaps a disabled one).
    pub cache: &'a SummaryCache,
    /// The remote's name.
    pub remote: &'a str,
    /// Fail, rather than fetch anew, when a cached summary does not verify (upstream's
    /// `OSTREE_REPO_TEST_ERROR=invalid-cache`, which shows that the check happens).
    pub invalid_is_error: bool,
}

/// A remote's summary, with its signature file when it has one.
pub(crate) struct FetchedSummary {
    /// The summary's bytes.
    pub bytes: Bytes,
    /// The summary, parsed.
    pub summary: Summary,
    /// `summary.sig`, when the remote has it.
    pub signature: Option<Bytes>,
}

/// Fetches (or takes from the cache) the remote's summary, checked as `checks` asks;
/// `None` when the remote has none and nothing requires one.
pub(crate) async fn fetch_summary(
    fetcher: &Fetcher,
    slot: &CacheSlot<'_>,
    checks: SummaryChecks<'_>,
) -> Result<Option<FetchedSummary>> {
    // A local remote is read directly; nothing is cached for it.
    let cache = if fetcher.is_local() {
        &SummaryCache::disabled()
    } else {
        slot.cache
    };
    let cached_sig = cache.load(slot.remote, CachedKind::Signature)?;
    let cached_summary = cache.load(slot.remote, CachedKind::Summary)?;

    let mut summary: Option<CachedFile> = None;
    let signature: Option<CachedFile> = match fetcher
        .get_if_changed("summary.sig", validators(&cached_sig))
        .await?
    {
        Conditional::Missing => None,
        Conditional::Unchanged => {
            summary = cached_summary.clone();
            cached_sig.clone()
        }
        Conditional::Fetched {
            data,
            etag,
            last_modified,
        } => Some(CachedFile {
            data: data.to_vec(),
            etag,
            last_modified,
        }),
    };
    if summary.is_none()
        && let (Some(sig), Some(cached)) = (&signature, &cached_sig)
        && sig.data == cached.data
    {
        match &cached_summary {
            Some(cached) => summary = Some(cached.clone()),
            // A signature cached without its summary is of no use.
            None => cache.remove(slot.remote, CachedKind::Signature)?,
        }
    }
    let mut from_cache = summary.is_some();
    if summary.is_none() {
        summary = fetch_file(
            fetcher,
            "summary",
            validators(&cached_summary),
            &cached_summary,
        )
        .await?;
    }

    if let Err(e) = verify(summary.as_ref(), signature.as_ref(), checks) {
        if !from_cache {
            return Err(e);
        }
        if slot.invalid_is_error {
            return Err(Error::SummarySignature {
                reason: format!(
                    "Remote {} cached summary invalid and \
                     OSTREE_REPO_TEST_ERROR_INVALID_CACHE specified",
                    slot.remote
                ),
            });
        }
        // Fetched whole, without validators, and checked again.
        from_cache = false;
        summary = fetch_file(fetcher, "summary", Validators::default(), &None).await?;
        verify(summary.as_ref(), signature.as_ref(), checks)?;
    }

    let Some(summary) = summary else {
        return Ok(None);
    };
    let parsed = Summary::from_bytes(&summary.data).map_err(|e| Error::Invalid {
        what: "summary".into(),
        reason: e.to_string(),
    })?;
    if !from_cache && let Some(sig) = &signature {
        cache.store(slot.remote, &summary, sig)?;
    }
    Ok(Some(FetchedSummary {
        bytes: Bytes::from(summary.data),
        summary: parsed,
        signature: signature.map(|s| Bytes::from(s.data)),
    }))
}

fn validators(cached: &Option<CachedFile>) -> Validators<'_> {
    Validators {
        etag: cached.as_ref().and_then(|c| c.etag.as_deref()),
        last_modified: cached.as_ref().map_or(0, |c| c.last_modified),
    }
}

/// A file fetched with validators; `cached` is what an "unchanged" answer stands for.
async fn fetch_file(
    fetcher: &Fetcher,
    rel: &str,
    held: Validators<'_>,
    cached: &Option<CachedFile>,
) -> Result<Option<CachedFile>> {
    Ok(match fetcher.get_if_changed(rel, held).await? {
        Conditional::Missing => None,
        Conditional::Unchanged => cached.clone(),
        Conditional::Fetched {
            data,
            etag,
            last_modified,
        } => Some(CachedFile {
            data: data.to_vec(),
            etag,
            last_modified,
        }),
    })
}

/// Checks a summary's signatures as `checks` asks; errors are worded as upstream's.
fn verify(
    summary: Option<&CachedFile>,
    signature: Option<&CachedFile>,
    checks: SummaryChecks<'_>,
) -> Result<()> {
    let refused = |reason: String| Error::SummarySignature { reason };
    if let Some(keyring) = checks.gpg {
        let summary = summary.ok_or_else(|| {
            refused(
                "GPG verification enabled, but no summary found (use gpg-verify-summary=false \
                 in remote config to disable)"
                    .into(),
            )
        })?;
        let signature = signature.ok_or_else(|| {
            refused(
                "GPG verification enabled, but no summary.sig found (use \
                 gpg-verify-summary=false in remote config to disable)"
                    .into(),
            )
        })?;
        // A signature file that is no metadata holds no signature (as GVariant reads it).
        let metadata = Metadata::from_bytes(&signature.data).unwrap_or_default();
        rostree_sign::gpg::signatures(&metadata)
            .and_then(|sigs| keyring.verify(&summary.data, &sigs))
            .map_err(|e| refused(e.to_string()))?;
    }
    if let Some(verifier) = checks.signapi {
        let summary = summary.ok_or_else(|| refused("the remote has no summary".into()))?;
        let signature = signature.ok_or_else(|| {
            refused(
                "Signatures verification enabled, but no summary.sig found (use \
                 sign-verify-summary=false in remote config to disable)"
                    .into(),
            )
        })?;
        rostree_sign::commit::verify_summary(&summary.data, &signature.data, verifier)
            .map_err(|e| refused(e.to_string()))?;
    }
    Ok(())
}
