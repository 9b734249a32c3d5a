//! Writeback ahead of commit. A transaction makes its objects durable with one `syncfs`
//! when it commits; left to then, that sync waits for the device to take everything at
//! once while every core idles. A thread that syncs the filesystem each time another
//! [`FLUSH_EVERY`] bytes have been staged lets the device write while the transaction is
//! still fetching and hashing, so the final sync has little left. Durability itself still
//! comes from the sync at commit: these are only early starts.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

/// How much is staged between two early syncs.
pub(crate) const FLUSH_EVERY: u64 = 32 << 20;

/// The thread syncing a filesystem in the background, and what was staged since it last
/// started.
pub(crate) struct Flusher {
    staged: AtomicU64,
    wake: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Flusher {
    /// Starts the thread syncing the filesystem of `fd`; `None` where no thread can start
    /// (then the sync at commit does it all, as without).
    pub(crate) fn start(fd: OwnedFd) -> Option<Flusher> {
        // One request waits at most: more staged while a sync runs is taken by the next.
        let (wake, requests) = sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("rostree-writeback".into())
            .spawn(move || {
                for () in requests {
                    // Only an early start: an error shows again at the sync of commit.
                    let _ = rustix::fs::syncfs(&fd);
                }
            })
            .ok()?;
        Some(Flusher {
            staged: AtomicU64::new(0),
            wake: Some(wake),
            thread: Some(thread),
        })
    }

    /// Counts `bytes` more staged, and asks for a sync each [`FLUSH_EVERY`] of them.
    pub(crate) fn staged(&self, bytes: u64) {
        let before = self.staged.fetch_add(bytes, Ordering::Relaxed);
        if crosses(before, bytes)
            && let Some(wake) = &self.wake
        {
            // Full: a sync is asked for already, and it will take these bytes too.
            let _ = wake.try_send(());
        }
    }

    /// Stops the thread, after the sync it is running (if any) returns.
    pub(crate) fn stop(&mut self) {
        self.wake = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Whether staging `bytes` more after `before` passes a multiple of [`FLUSH_EVERY`].
fn crosses(before: u64, bytes: u64) -> bool {
    before / FLUSH_EVERY != before.saturating_add(bytes) / FLUSH_EVERY
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sync_is_asked_for_each_time_a_multiple_is_passed() {
        let cases = [
            (0, 0, false),
            (0, FLUSH_EVERY - 1, false),
            (0, FLUSH_EVERY, true),
            (FLUSH_EVERY - 1, 1, true),
            (FLUSH_EVERY, 1, false),
            (FLUSH_EVERY + 1, 3 * FLUSH_EVERY, true),
            (u64::MAX - 1, 5, false),
        ];
        for (before, bytes, expected) in cases {
            assert_eq!(crosses(before, bytes), expected, "{before} + {bytes}");
        }
    }

    #[test]
    fn stopping_waits_for_the_thread() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fd: OwnedFd = std::fs::File::open(dir.path()).expect("open").into();
        let mut flusher = Flusher::start(fd).expect("thread");
        flusher.staged(FLUSH_EVERY);
        flusher.stop();
        assert!(flusher.thread.is_none() && flusher.wake.is_none());
    }
}
