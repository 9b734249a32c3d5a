//! The two calls rustix lacks; the crate's only `unsafe` code.
//!
//! - `sync_file_range`: a transaction makes its data durable with a single `syncfs` at the
//!   end. If every object's pages were still dirty then, that call would write the whole
//!   transaction at once, after all the CPU work. Asking the kernel to start writing each large
//!   object as soon as it is complete overlaps disk I/O with hashing and compression.
//! - open-file-description locks (`F_OFD_SETLK`): upstream locks the repo's `.lock` with
//!   them, and they do not see `flock(2)` locks (rustix's `fcntl_lock` takes per-process
//!   POSIX locks instead, which any close of the file would drop). Using the same kind is
//!   what keeps a rostree prune from deleting what an upstream transaction is writing.
#![allow(unsafe_code)]

use std::os::fd::{AsFd, AsRawFd};

/// Starts asynchronous writeback of the file's dirty pages; does not wait for it.
/// Errors are ignored: this is only a hint, and durability comes from the later `syncfs`.
pub fn start_writeback(file: &impl AsFd) {
    let fd = file.as_fd().as_raw_fd();
    // SAFETY: `fd` is a valid open descriptor borrowed for the duration of the call;
    // sync_file_range reads no memory of ours and only schedules I/O for that file.
    let _ = unsafe { libc::sync_file_range(fd, 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
}

/// What [`ofd_lock`] takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockKind {
    /// Readers' lock (`F_RDLCK`).
    Shared,
    /// Writer's lock (`F_WRLCK`).
    Exclusive,
}

/// Tries to take an open-file-description lock on the whole file, without waiting:
/// `Err(WouldBlock)` when another holds a conflicting one. The lock goes with the last
/// descriptor of this open file description.
pub fn ofd_lock(file: &impl AsFd, kind: LockKind) -> std::io::Result<()> {
    let fd = file.as_fd().as_raw_fd();
    let l_type = match kind {
        LockKind::Shared => libc::F_RDLCK,
        LockKind::Exclusive => libc::F_WRLCK,
    };
    // SAFETY: all-zero is a valid `flock` (plain integers); the fields are then set.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = l_type as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock.l_start = 0;
    lock.l_len = 0;
    // SAFETY: `fd` is a valid open descriptor borrowed for the call, and `lock` a valid
    // `flock` the kernel only reads (F_OFD_SETLK does not write it back).
    let rc = unsafe { libc::fcntl(fd, libc::F_OFD_SETLK, &lock) };
    if rc == 0 {
        Ok(())
    } else {
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EAGAIN | libc::EACCES) => Err(std::io::ErrorKind::WouldBlock.into()),
            _ => Err(err),
        }
    }
}
