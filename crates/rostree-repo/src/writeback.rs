//! Starting writeback early: the one call rustix lacks.
//!
//! A transaction makes its data durable with a single `syncfs` at the end. If every object's
//! pages were still dirty then, that call would write the whole transaction at once, after
//! all the CPU work. Asking the kernel to start writing each object as soon as it is complete
//! overlaps disk I/O with hashing and compression; the final `syncfs` then mostly waits for
//! writes already under way.
#![allow(unsafe_code)]

use std::os::fd::{AsFd, AsRawFd};

/// Starts asynchronous writeback of the file's dirty pages; does not wait for it.
/// Errors are ignored: this is only a hint, and durability comes from the later `syncfs`.
pub fn start(file: &impl AsFd) {
    let fd = file.as_fd().as_raw_fd();
    // SAFETY: `fd` is a valid open descriptor borrowed for the duration of the call;
    // sync_file_range reads no memory of ours and only schedules I/O for that file.
    let _ = unsafe { libc::sync_file_range(fd, 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
}
