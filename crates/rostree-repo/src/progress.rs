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
    /// An object was fetched (or, by `pull-local`, taken from the source repository),
    /// checked and stored.
    ObjectFetched {
        /// Bytes received for it (by `pull-local`: the payload copied, 0 when linked).
        bytes: u64,
        /// Whether it is a metadata object (else content).
        metadata: bool,
    },
    /// A file of the tree was checked out.
    FileCheckedOut {
        /// Whether it was hardlinked from the repository (else copied).
        linked: bool,
    },
    /// A file of the tree went into the archive being exported.
    FileExported {
        /// Its size in bytes.
        bytes: u64,
    },
    /// prune deleted an unreachable object.
    ObjectPruned {
        /// What its file took on disk.
        bytes: u64,
    },
    /// A static delta part was built (generate) or its objects stored (apply).
    DeltaPart {
        /// The objects it holds.
        objects: u64,
        /// Its size, compressed, in bytes.
        bytes: u64,
    },
    /// Something failed that the operation worked around (a static delta that could not be
    /// applied, its objects then fetched one by one): worth telling the user, not fatal.
    Warning(String),
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
