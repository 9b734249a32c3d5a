//! The sysroot's lock, `ostree/lock`: one writer of deployments at a time, as upstream's
//! admin commands take it (an exclusive `flock`; the file goes away when released).

use std::os::unix::fs::MetadataExt;

use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};
use rustix::fs::FlockOperation;

use crate::error::{IoContext, Result};

/// Holds the sysroot's lock until dropped.
#[derive(Debug)]
pub struct SysrootLock {
    ostree: Dir,
    file: std::fs::File,
}

impl Drop for SysrootLock {
    fn drop(&mut self) {
        // Unlinked while still held: a waiter that locks the old file sees it gone and
        // takes a new one.
        let _ = self.ostree.remove_file(LOCK_FILE);
        let _ = rustix::fs::flock(&self.file, FlockOperation::Unlock);
    }
}

const LOCK_FILE: &str = "lock";

/// Takes the lock of the sysroot `dir`, calling `on_wait` once if another process holds it
/// (then waiting for it).
pub fn lock(dir: &Dir, on_wait: &dyn Fn()) -> Result<SysrootLock> {
    let ostree = crate::fsutil::open_dir_following(dir, "ostree").io("opendir", "ostree")?;
    let mut waited = false;
    loop {
        let file = ostree
            .open_with(
                LOCK_FILE,
                OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .mode(0o600),
            )
            .io("openat", "ostree/lock")?
            .into_std();
        match rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => {
                if !waited {
                    on_wait();
                    waited = true;
                }
                rustix::fs::flock(&file, FlockOperation::LockExclusive)
                    .io("flock", "ostree/lock")?;
            }
            Err(e) => return Err(e).io("flock", "ostree/lock"),
        }
        // The holder before us removed the file as it let go: lock the new one.
        if file.metadata().io("fstat", "ostree/lock")?.nlink() == 0 {
            continue;
        }
        return Ok(SysrootLock { ostree, file });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cap_std::ambient_authority;

    #[test]
    fn a_second_locker_waits_for_the_first() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(tmp.path().join("ostree")).expect("mkdir");
        let dir = Dir::open_ambient_dir(tmp.path(), ambient_authority()).expect("open");
        let first = lock(&dir, &|| panic!("nobody holds it yet")).expect("locked");
        assert!(tmp.path().join("ostree/lock").exists());
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let dir = Dir::open_ambient_dir(tmp.path(), ambient_authority()).expect("open");
            let _second = lock(&dir, &|| tx.send(()).expect("send")).expect("locked");
            tmp
        });
        rx.recv().expect("the second locker waited");
        drop(first);
        let tmp = waiter.join().expect("the second locker got the lock");
        assert!(
            !tmp.path().join("ostree/lock").exists(),
            "released and removed"
        );
    }
}
