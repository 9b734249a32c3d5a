//! Scratch files: read-write files in a directory (the repository's `tmp/`) that never
//! carry a name, for bytes that wait on disk rather than in memory (fetched bodies, delta
//! payloads). Closing one frees its space; a crash leaves nothing behind.

use std::sync::atomic::{AtomicU64, Ordering};

use cap_std::fs::{Dir, OpenOptions};

/// An unnamed file in `dir` (`O_TMPFILE`); where the filesystem has no such thing, a file
/// created under a fresh name and unlinked at once.
pub fn unnamed_file(dir: &Dir) -> std::io::Result<std::fs::File> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC;
    match rustix::fs::openat(dir, ".", flags, Mode::from_raw_mode(0o600)) {
        Ok(fd) => Ok(fd.into()),
        Err(rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::ISDIR | rustix::io::Errno::INVAL) => {
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let name = format!(".scratch-{}-{n}", std::process::id());
            let mut options = OpenOptions::new();
            let file = dir.open_with(&name, options.read(true).write(true).create_new(true))?;
            dir.remove_file(&name)?;
            Ok(file.into_std())
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Seek, Write};

    #[test]
    fn scratch_files_hold_bytes_and_leave_no_name() {
        let tmp = tempfile::tempdir().expect("a temp dir");
        let dir = cap_std::fs::Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority())
            .expect("the temp dir opens");
        let mut file = super::unnamed_file(&dir).expect("a scratch file");
        file.write_all(b"waiting").expect("write");
        file.rewind().expect("rewind");
        let mut back = String::new();
        file.read_to_string(&mut back).expect("read");
        assert_eq!(back, "waiting");
        assert_eq!(std::fs::read_dir(tmp.path()).expect("list").count(), 0);
    }
}
