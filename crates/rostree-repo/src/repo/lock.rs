//! The repository lock: `.lock` (open-file-description locks, as upstream takes them) and
//! the turnstile at `tmp/rostree-lock-turnstile` that lets a waiting prune go first.

use super::*;

/// A held lock on the repo's `.lock` (an open-file-description lock, as upstream takes);
/// released on drop.
#[derive(Debug)]
pub struct RepoLock {
    _file: File,
    /// An exclusive lock also holds the turnstile.
    _turnstile: Option<File>,
    shared: bool,
}

impl Drop for RepoLock {
    fn drop(&mut self) {
        if self.shared {
            SHARED_LOCKS_HELD.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Shared repo locks this process holds (in any repo).
pub(super) static SHARED_LOCKS_HELD: AtomicUsize = AtomicUsize::new(0);

/// Where a waiting prune stops new rostree writers (upstream's writers do not look).
pub(super) const TURNSTILE: &str = "tmp/rostree-lock-turnstile";

impl Repo {
    pub(super) fn open_lock_file(&self, rel: &str) -> Result<File> {
        self.dir
            .open_with(
                rel,
                OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .mode(0o640),
            )
            .ctx("opening", self.path.join(rel))
    }

    /// Waits for `kind` of lock on `file`, up to upstream's `lock-timeout-secs` (default
    /// 30; negative waits for as long as it takes).
    pub(super) fn wait_for_lock(&self, file: &File, kind: LockKind) -> Result<()> {
        let (deadline, timeout) = match self.settings.lock_timeout {
            LockTimeout::Disabled => return Ok(()),
            LockTimeout::Forever => (None, 0),
            LockTimeout::After(after) => (Instant::now().checked_add(after), after.as_secs()),
        };
        loop {
            match crate::syscalls::ofd_lock(file, kind) {
                Ok(()) => return Ok(()),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        && deadline.is_none_or(|d| Instant::now() < d) =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    return Err(Error::LockTimeout {
                        path: self.path.clone(),
                        seconds: timeout,
                    });
                }
                Err(e) => return Err(e).ctx("locking", self.path.join(".lock")),
            }
        }
    }

    /// Takes the shared lock (held while a transaction writes). A prune waiting for the
    /// exclusive lock goes first: new writers queue behind it at the turnstile, so that a
    /// steady stream of overlapping transactions cannot starve it.
    pub fn lock_shared(&self) -> Result<RepoLock> {
        // A process that already holds a shared lock takes another without queueing: it
        // would otherwise wait for a prune that waits for it.
        let reentrant = SHARED_LOCKS_HELD.load(Ordering::SeqCst) > 0;
        let turnstile = if reentrant {
            None
        } else {
            let file = self.open_lock_file(TURNSTILE)?;
            self.wait_for_lock(&file, LockKind::Shared)?;
            Some(file)
        };
        let file = self.open_lock_file(".lock")?;
        self.wait_for_lock(&file, LockKind::Shared)?;
        drop(turnstile);
        SHARED_LOCKS_HELD.fetch_add(1, Ordering::SeqCst);
        Ok(RepoLock {
            _file: file,
            _turnstile: None,
            shared: true,
        })
    }

    /// Takes the exclusive lock (held while objects are deleted): first the turnstile, which
    /// stops new rostree writers, then `.lock` once the running transactions are done.
    pub fn lock_exclusive(&self) -> Result<RepoLock> {
        let turnstile = self.open_lock_file(TURNSTILE)?;
        self.wait_for_lock(&turnstile, LockKind::Exclusive)?;
        let file = self.open_lock_file(".lock")?;
        self.wait_for_lock(&file, LockKind::Exclusive)?;
        Ok(RepoLock {
            _file: file,
            _turnstile: Some(turnstile),
            shared: false,
        })
    }
}
