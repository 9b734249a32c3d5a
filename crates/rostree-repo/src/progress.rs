//! Progress of long operations, as events for a front end to draw.
//!
//! Operations take a `&dyn Progress`; [`NoProgress`] ignores everything. Counts in events
//! only go up, so a display can never move backwards.

/// Something a long operation reports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A file of the tree being committed has been hashed (and stored if it was new).
    FileCommitted {
        /// Its size in bytes.
        bytes: u64,
        /// Whether it was new to the repository.
        written: bool,
    },
    /// A phase of the operation began.
    Phase(&'static str),
    /// fsck enumerated the commits and starts checking the objects of this many.
    VerifyingCommits(u64),
    /// More objects are known to be needed (a pull found them in a tree it fetched): the
    /// total grows by this many.
    ObjectsQueued(u64),
    /// An object was fetched, checked and stored.
    ObjectFetched {
        /// Bytes received for it.
        bytes: u64,
        /// Whether it is a metadata object (else content).
        metadata: bool,
    },
}

/// Receives progress events; called from worker threads.
pub trait Progress: Sync {
    /// Handles one event.
    fn event(&self, event: Event);
}

/// Discards progress.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _event: Event) {}
}
