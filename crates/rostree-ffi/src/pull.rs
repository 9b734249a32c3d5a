//! Pulling a configured remote as `ostree pull REMOTE REF…` does (its keys, TLS and
//! connection settings included), with progress as plain counts and cancellation from any
//! thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rostree::{Event, Progress, TrustRoots};

use crate::errors::Error;
use crate::repo::{Repository, Result};

/// A flag another thread sets to stop an operation; the operation then fails with
/// `Cancelled`.
#[derive(Clone, Debug, Default)]
pub struct Cancellable(Arc<AtomicBool>);

impl Cancellable {
    /// Asks the operations watching this flag to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// The flag operations watch.
    pub fn flag(&self) -> &AtomicBool {
        &self.0
    }
}

/// Where a pull stands, as a progress callback is told it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Objects fetched (and stored) so far.
    pub done: u64,
    /// Objects known to be needed so far (it grows as trees arrive).
    pub total: u64,
    /// Bytes received so far.
    pub bytes: u64,
}

/// Turns the library's progress events into calls of `report(phase, counts)`: once per new
/// phase (with its name) and once per object fetched (without). The pull's workers report
/// from several threads; the lock makes the calls one at a time, with counts that only go
/// up.
pub struct CountingProgress<F> {
    counts: Mutex<Counts>,
    report: F,
}

impl<F: Fn(Option<&'static str>, Counts) + Sync> CountingProgress<F> {
    /// Progress that reports to `report`.
    pub fn new(report: F) -> Self {
        CountingProgress {
            counts: Mutex::new(Counts::default()),
            report,
        }
    }
}

impl<F: Fn(Option<&'static str>, Counts) + Sync> Progress for CountingProgress<F> {
    fn event(&self, event: Event) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let phase = match event {
            Event::Phase(name) => Some(name),
            Event::ObjectsQueued(n) => {
                counts.total += n;
                return;
            }
            Event::ObjectFetched { bytes, .. } => {
                counts.done += 1;
                counts.bytes += bytes;
                None
            }
            Event::DeltaPart { objects, bytes } => {
                counts.done += objects;
                counts.bytes += bytes;
                None
            }
            _ => return,
        };
        // A delta's objects are not queued one by one: the total never falls behind.
        counts.total = counts.total.max(counts.done);
        (self.report)(phase, *counts);
    }
}

impl Repository {
    /// Pulls `refs` from the remote `remote` with the checks and settings its configuration
    /// asks for (GPG signatures unless `gpg-verify=false`), as `ostree pull`; the refs land
    /// as `remote:ref`. No refs means the remote's `branches`.
    pub fn pull(
        &self,
        remote: &str,
        refs: &[String],
        progress: &dyn Progress,
        interrupt: &AtomicBool,
    ) -> Result<()> {
        let repo = self.read();
        let config = repo.remote(remote).map_err(Error::from_repo)?;
        let mut refs = refs.to_vec();
        if refs.is_empty() {
            refs = config.option_list("branches").map_err(Error::from_repo)?;
        }
        let (spec, options) = rostree::pull_options(&repo, &config, &TrustRoots::system())
            .map_err(Error::from_pull)?;
        rostree::pull(&repo, &spec, &refs, progress, interrupt, &options)
            .map_err(Error::from_pull)?;
        Ok(())
    }
}
