//! Commits and what comes with them: each wanted commit and its parents down to the depth
//! asked, their detached metadata and signatures, bindings and timestamps checked.

use super::*;

/// Fetches (or finds locally) `head` and its parents down to the depth asked; returns the
/// commits whose trees are still to fetch, with their root dirtree and dirmeta.
#[allow(clippy::too_many_arguments)]
pub(super) async fn fetch_history(
    [fetcher, object_fetcher]: [&Fetcher; 2],
    tx: &Transaction<'_>,
    progress: &dyn Progress,
    collection_id: Option<&str>,
    ref_name: Option<&str>,
    floor: Option<Checksum>,
    head: Checksum,
    carried: &HashMap<Checksum, (Vec<u8>, Option<Vec<u8>>)>,
    options: &PullOptions,
    stats: &Stats,
    interrupt: &AtomicBool,
) -> Result<Vec<(Checksum, Checksum, Checksum)>> {
    let repo = tx.repo();
    let mut out = Vec::new();
    let mut next = Some((head, options.depth));
    while let Some((commit, remaining)) = next.take() {
        if interrupt.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        let partial = repo.commit_is_partial(&commit);
        // Detached metadata first, as upstream, and again for a commit already stored: it
        // carries the signatures, which may have changed since.
        // A commit a `--localcache-repo` holds comes from there with its detached
        // metadata, checked all the same.
        let cached = if tx.has_object(ObjectType::Commit, &commit)? {
            None
        } else if let Some((data, meta)) = carried.get(&commit) {
            // Carried by a delta's superblock; verified below as if fetched.
            Some((data.clone(), meta.clone()))
        } else {
            let mut found = None;
            for cache in &options.localcache {
                if cache.has_object(ObjectType::Commit, &commit)? {
                    let data = cache.load_metadata(ObjectType::Commit, &commit)?;
                    found = Some((data, cache.load_commitmeta(&commit)?));
                    break;
                }
            }
            found
        };
        let meta = match &cached {
            Some((_, meta)) => meta.clone().map(Bytes::from),
            None => {
                let meta = fetcher
                    .get(&object_path(ObjectType::CommitMeta, &commit))
                    .await?;
                // Asked for and answered, found or not: upstream counts it as fetched.
                stats.metadata.fetch_add(1, Ordering::Relaxed);
                progress.event(Event::ObjectsQueued(1));
                progress.event(Event::ObjectFetched {
                    bytes: meta.as_ref().map_or(0, |m| m.len() as u64),
                    metadata: true,
                });
                meta
            }
        };
        let verifying = options.gpg_keyring.is_some() || options.sign_verifier.is_some();
        let detached = match meta {
            Some(meta) => match Metadata::from_bytes(&meta) {
                Ok(parsed) => Some((meta, parsed)),
                Err(e) if verifying => {
                    return Err(corrupt(ObjectType::CommitMeta, commit, e.to_string()));
                }
                // Nothing needs it: unreadable detached metadata is left behind, where
                // upstream would store it as it came.
                Err(_) => None,
            },
            None => None,
        };
        let empty = Metadata::new();
        let signed = detached.as_ref().map_or(&empty, |(_, parsed)| parsed);
        let data = if tx.has_object(ObjectType::Commit, &commit)? {
            let data = tx.load_metadata(ObjectType::Commit, &commit)?;
            // A commit already here is checked again, as upstream does: the keys trusted
            // now (another remote's, say) must have signed it.
            verify_signatures(&data, commit, signed, options)?;
            if let Some((meta, _)) = &detached {
                tx.write_metadata_as(ObjectType::CommitMeta, &commit, meta)?;
            }
            data
        } else {
            let from_cache = cached.is_some();
            let data = match cached {
                Some((data, _)) => Some(Bytes::from(data)),
                None => {
                    object_fetcher
                        .get(&object_path(ObjectType::Commit, &commit))
                        .await?
                }
            };
            let Some(data) = data else {
                if commit == head {
                    return Err(Error::MissingObject {
                        objtype: ObjectType::Commit,
                        checksum: commit,
                    });
                }
                // History the remote does not have ends the walk.
                break;
            };
            check_hash(ObjectType::Commit, &commit, &data)?;
            CommitRef::parse(&data)
                .map_err(|e| corrupt(ObjectType::Commit, commit, e.to_string()))?;
            verify_signatures(&data, commit, signed, options)?;
            if !carried.contains_key(&commit) {
                stats.count(false, from_cache);
            }
            progress.event(Event::ObjectsQueued(1));
            progress.event(Event::ObjectFetched {
                bytes: data.len() as u64,
                metadata: true,
            });
            if let Some((meta, _)) = &detached {
                tx.write_metadata_as(ObjectType::CommitMeta, &commit, meta)?;
            }
            let data = data.to_vec();
            tx.write_metadata_as(ObjectType::Commit, &commit, &data)?;
            data
        };
        let view = CommitRef::parse(&data)
            .map_err(|e| corrupt(ObjectType::Commit, commit, e.to_string()))?;
        if commit == head
            && let Some(floor) = floor
        {
            let old = tx.load_metadata(ObjectType::Commit, &floor)?;
            let old = CommitRef::parse(&old)
                .map_err(|e| corrupt(ObjectType::Commit, floor, e.to_string()))?;
            if view.timestamp() < old.timestamp() {
                return Err(Error::Downgrade {
                    new: commit,
                    new_time: format_ctime(view.timestamp()),
                    old: floor,
                    old_time: format_ctime(old.timestamp()),
                });
            }
        }
        // The ref binding is checked on the commit the ref names; a remote's collection
        // binds every commit of its history.
        let bound_ref = ref_name.filter(|_| commit == head);
        if options.verify_bindings && (bound_ref.is_some() || collection_id.is_some()) {
            verify_bindings(&view.metadata(), collection_id, bound_ref).map_err(|e| {
                Error::Binding {
                    checksum: commit,
                    reason: e.to_string(),
                }
            })?;
        }
        // A commit stored complete before needs nothing more.
        let complete = repo.has_object(ObjectType::Commit, &commit)? && !partial;
        if !complete {
            out.push((commit, view.root_tree(), view.root_meta()));
        }
        if let Some(parent) = view.parent() {
            next = match remaining {
                Some(0) => None,
                Some(n) => Some((parent, Some(n - 1))),
                None => Some((parent, None)),
            };
        }
    }
    Ok(out)
}

/// Checks a commit's signatures (in `signed`, its detached metadata) against the keys the
/// pull trusts: GPG and signapi, each when asked for.
pub(super) fn verify_signatures(
    data: &[u8],
    commit: Checksum,
    signed: &Metadata,
    options: &PullOptions,
) -> Result<()> {
    if let Some(keyring) = &options.gpg_keyring {
        rostree_sign::gpg::signatures(signed)
            .and_then(|sigs| keyring.verify(data, &sigs))
            .map_err(|e| Error::GpgSignature {
                checksum: commit,
                reason: e.to_string(),
            })?;
    }
    if let Some(verifiers) = &options.sign_verifier {
        let known = verifiers
            .iter()
            .any(|v| signed.get(v.sign_type().metadata_key()).is_some());
        if !known {
            return Err(Error::Unsigned { checksum: commit });
        }
        rostree_sign::signapi::verify_any(verifiers, data, signed).map_err(|e| {
            Error::Signature {
                checksum: commit,
                reason: e.to_string(),
            }
        })?;
    }
    Ok(())
}

/// A metadata object, from the repository or fetched, checked and stored.
pub(super) async fn ensure_metadata(
    fetcher: &Fetcher,
    tx: &Transaction<'_>,
    objtype: ObjectType,
    checksum: Checksum,
    stats: &Stats,
) -> Result<Vec<u8>> {
    if tx.has_object(objtype, &checksum)? {
        return Ok(tx.load_metadata(objtype, &checksum)?);
    }
    let data = fetcher
        .get(&object_path(objtype, &checksum))
        .await?
        .ok_or(Error::MissingObject { objtype, checksum })?;
    check_hash(objtype, &checksum, &data)?;
    let valid = match objtype {
        ObjectType::DirTree => DirTreeRef::parse(&data).map(|_| ()),
        _ => DirMeta::from_bytes(&data).map(|_| ()),
    };
    valid.map_err(|e| invalid_object(objtype, checksum, &e))?;
    tx.write_metadata_as(objtype, &checksum, &data)?;
    stats.metadata.fetch_add(1, Ordering::Relaxed);
    Ok(data.to_vec())
}
