//! Applying a static delta during a pull: parts fetched several at a time (bodies past
//! the memory budget wait in unnamed files, resumed by range when a connection drops), each
//! hashed and decompressed as soon as it is complete while the one before is built.
//!
//! ```text
//! fetch (async, PART_FETCHES in flight) ──body──▶ open_part ──payload──▶ execute_part
//!        └ part already complete here:             (one xz dictionary     (objects into
//!          skipped, not fetched                     in memory)             the transaction)
//! ```
//!
//! A failure stops new fetches; the parts already fetched are still built, so that a pull
//! run again fetches only what is missing.

use super::*;

use rostree_delta::apply;

/// Parts fetched at once: enough to keep decoding busy while the next ones arrive.
const PART_FETCHES: usize = 4;

/// What fetched parts may hold in memory together: those up to 1 MiB wait there, larger
/// ones in files; the rest of the budget is the decoder's.
const PART_MEMORY: u64 = 4 << 20;

/// A part's bytes, waiting to be built.
enum PartBytes {
    /// Carried in the superblock (covered by its checksum).
    Inline(Vec<u8>),
    /// Fetched, to be checked against its checksum.
    Fetched(Body),
}

async fn fetch_part(
    fetcher: Arc<Fetcher>,
    spill: Spill,
    delta: Arc<crate::deltas::Fetched>,
    i: usize,
) -> Result<PartBytes> {
    let part = &delta.superblock.parts[i];
    let path = delta.name.part_path(i as u32);
    let body = fetcher
        .get_object(&path, &spill)
        .await?
        .ok_or_else(|| Error::Invalid {
            what: format!("static delta {}", delta.name),
            reason: format!("part {path} is missing"),
        })?;
    if body.len() != part.compressed_size {
        return Err(Error::Invalid {
            what: format!("static delta part {path}"),
            reason: format!(
                "{} bytes where its superblock says {}",
                body.len(),
                part.compressed_size
            ),
        });
    }
    Ok(PartBytes::Fetched(body))
}

/// A part's bytes hashed and decompressed, ready to be built.
fn open_part(
    tmp: &cap_std::fs::Dir,
    delta: &crate::deltas::Fetched,
    i: usize,
    bytes: PartBytes,
) -> rostree_delta::Result<apply::Spool> {
    let part = &delta.superblock.parts[i];
    let declared = part.uncompressed_size;
    match bytes {
        PartBytes::Inline(data) => apply::open_part(&mut &data[..], None, declared, Some(tmp)),
        PartBytes::Fetched(Body::Memory(data, _held)) => {
            apply::open_part(&mut &data[..], Some(&part.checksum), declared, Some(tmp))
        }
        PartBytes::Fetched(Body::File(mut file, _)) => {
            apply::open_part(&mut file, Some(&part.checksum), declared, Some(tmp))
        }
    }
}

/// Builds a delta's objects in `tx`: each part not already complete here, from the
/// superblock when inline, else fetched and checked against its checksum; then checks the
/// delta built nothing its commit does not need. Counts the parts in `parts` (those
/// complete here too, as upstream counts them).
pub(super) fn apply_delta(
    runtime: &tokio::runtime::Runtime,
    fetcher: &Arc<Fetcher>,
    tx: &Transaction<'_>,
    delta: &Arc<crate::deltas::Fetched>,
    progress: &dyn Progress,
    interrupt: &AtomicBool,
    parts: &mut u64,
) -> Result<()> {
    let mut todo = Vec::new();
    for (i, part) in delta.superblock.parts.iter().enumerate() {
        apply::check_version(part)?;
        *parts += 1;
        if !apply::have_all_objects(tx.repo(), &part.objects)? {
            todo.push(i);
        }
    }
    let tmp = apply::tmp_dir(tx.repo())?;
    let io = |e: std::io::Error| Error::Io {
        path: tx.repo().path().join("tmp").display().to_string(),
        source: e,
    };
    let spill = Spill {
        dir: Arc::new(tmp.try_clone().map_err(io)?),
        budget: MemoryBudget::new(PART_MEMORY),
    };
    let failed = AtomicBool::new(false);
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let fail = |e: Error| {
        failed.store(true, Ordering::Relaxed);
        if let Ok(mut slot) = first_error.lock() {
            slot.get_or_insert(e);
        }
    };
    let (work_tx, mut work_rx) = tokio::sync::mpsc::channel::<(usize, PartBytes)>(1);
    std::thread::scope(|scope| {
        if !todo.is_empty() {
            // Decoding and building overlap, one part each (see `apply::build_parts`); the
            // receiver goes with the thread, so a failure there also ends the fetching.
            scope.spawn(|| {
                let mut opened = std::iter::from_fn(|| {
                    let (i, bytes) = work_rx.blocking_recv()?;
                    Some(open_part(&tmp, delta, i, bytes).map(|payload| (i, payload)))
                });
                if let Err(e) = apply::build_parts(tx, &delta.superblock, &mut opened, progress) {
                    fail(e.into());
                }
                drop(work_rx);
            });
        }
        runtime.block_on(async {
            let mut queue = todo.iter().copied();
            let mut tasks = tokio::task::JoinSet::new();
            loop {
                while tasks.len() < PART_FETCHES && !failed.load(Ordering::Relaxed) {
                    let Some(i) = queue.next() else { break };
                    if interrupt.load(Ordering::Relaxed) {
                        fail(Error::Cancelled);
                        break;
                    }
                    let path = delta.name.part_path(i as u32);
                    match delta.superblock.inline_part(&path) {
                        Some(data) => {
                            tasks.spawn(async move { (i, Ok(PartBytes::Inline(data))) });
                        }
                        None => {
                            let fetch = fetch_part(
                                Arc::clone(fetcher),
                                spill.clone(),
                                Arc::clone(delta),
                                i,
                            );
                            tasks.spawn(async move { (i, fetch.await) });
                        }
                    }
                }
                let Some(joined) = tasks.join_next().await else {
                    break;
                };
                match joined {
                    Ok((i, Ok(bytes))) => {
                        if work_tx.send((i, bytes)).await.is_err() {
                            break;
                        }
                    }
                    Ok((_, Err(e))) => fail(e),
                    Err(e) => fail(Error::Io {
                        path: delta.name.to_string(),
                        source: std::io::Error::other(e.to_string()),
                    }),
                }
            }
        });
        // The decoding thread ends once the channel is empty and closed.
        drop(work_tx);
    });
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    apply::check_needed(tx, &delta.superblock, apply::Completeness::Fetched)?;
    Ok(())
}
