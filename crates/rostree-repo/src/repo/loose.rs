//! Listing loose objects: `objects/XX/REST.EXT`, the 256 prefix directories read on every
//! core with one `openat` and the `getdents64` calls each, as prune, fsck, commit's
//! device/inode scan and checksum prefixes need.

use std::path::Path;

use rayon::prelude::*;
use rostree_core::Checksum;
use rustix::fs::{Mode, OFlags};

use super::Repo;
use crate::error::{IoContext, Result};

/// The extensions of loose object files (others in `objects/` are not objects).
const EXTENSIONS: [&str; 7] = [
    "file",
    "filez",
    "dirtree",
    "dirmeta",
    "commit",
    "commitmeta",
    "tombstone-commit",
];

impl Repo {
    /// This repository's loose objects (not its parent's) whose hex checksum starts with
    /// `prefix` ("" for all) and whose extension (`commit`, `filez`, …) `keep` accepts, in
    /// no particular order.
    pub fn list_loose_objects(
        &self,
        prefix: &str,
        keep: impl Fn(&str) -> bool + Sync,
    ) -> Result<Vec<(Checksum, &'static str)>> {
        if !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Vec::new());
        }
        let dirs: Vec<String> = (0..=255u8)
            .map(|b| format!("{b:02x}"))
            .filter(|d| d.starts_with(&prefix[..prefix.len().min(2)]))
            .collect();
        let per_dir: Vec<Vec<(Checksum, &'static str)>> = dirs
            .par_iter()
            .map(|dir| self.list_prefix_dir(dir, prefix, &keep))
            .collect::<Result<_>>()?;
        Ok(per_dir.into_iter().flatten().collect())
    }

    fn list_prefix_dir(
        &self,
        dir: &str,
        prefix: &str,
        keep: &(impl Fn(&str) -> bool + Sync),
    ) -> Result<Vec<(Checksum, &'static str)>> {
        let shown = || Path::new("objects").join(dir);
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = match rustix::fs::openat(&self.objects, dir, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => return Ok(Vec::new()),
            Err(e) => return Err(e).ctx("opening", shown()),
        };
        let mut entries = rustix::fs::Dir::new(fd).ctx("listing", shown())?;
        let mut out = Vec::new();
        let mut hex = String::with_capacity(64);
        while let Some(entry) = entries.read() {
            let entry = entry.ctx("listing", shown())?;
            let Some((rest, ext)) = entry
                .file_name()
                .to_str()
                .ok()
                .and_then(|n| n.split_once('.'))
            else {
                continue;
            };
            let Some(ext) = EXTENSIONS.iter().find(|e| **e == ext) else {
                continue;
            };
            if !keep(ext) {
                continue;
            }
            hex.clear();
            hex.push_str(dir);
            hex.push_str(rest);
            if !hex.starts_with(prefix) {
                continue;
            }
            if let Ok(checksum) = Checksum::from_hex(&hex) {
                out.push((checksum, *ext));
            }
        }
        Ok(out)
    }
}
