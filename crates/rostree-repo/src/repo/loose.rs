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

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use cap_std::ambient_authority;
    use cap_std::fs::Dir;

    use crate::commit::{CommitOptions, TreeSource, commit};
    use crate::progress::NoProgress;
    use crate::{InitOptions, Repo, RepoMode};

    #[test]
    fn listed_by_extension_and_prefix() -> Result<(), Box<dyn std::error::Error>> {
        let tmp = tempfile::tempdir()?;
        std::fs::create_dir_all(tmp.path().join("tree/etc"))?;
        std::fs::write(tmp.path().join("tree/etc/os-release"), "ID=x\n")?;
        std::fs::write(tmp.path().join("tree/README"), "r\n")?;
        std::fs::create_dir(tmp.path().join("repo"))?;
        let dir = Dir::open_ambient_dir(tmp.path().join("repo"), ambient_authority())?;
        let init = InitOptions {
            mode: RepoMode::Archive,
            ..Default::default()
        };
        let repo = Repo::init(dir, tmp.path().join("repo"), &init)?;
        let tree = Dir::open_ambient_dir(tmp.path().join("tree"), ambient_authority())?;
        let sources = vec![TreeSource::Dir(tree, tmp.path().join("tree"))];
        let interrupt = AtomicBool::new(false);
        let options = CommitOptions::default();
        let tip = commit(&repo, sources, &NoProgress, &interrupt, &options)?.checksum;
        // A stray file is no object.
        let hex = tip.to_hex();
        std::fs::write(
            tmp.path().join(format!("repo/objects/{}/x.tmp", &hex[..2])),
            "",
        )?;

        let mut kinds: Vec<&str> = repo
            .list_loose_objects("", |_| true)?
            .into_iter()
            .map(|(_, ext)| ext)
            .collect();
        kinds.sort();
        // Two files, the trees of / and /etc, one dirmeta shared by both, the commit.
        assert_eq!(
            kinds,
            ["commit", "dirmeta", "dirtree", "dirtree", "filez", "filez"]
        );
        for (prefix, found) in [
            (&hex[..1], true),
            (&hex[..5], true),
            (&hex[..], true),
            ("", true),
            ("zz", false),
            (
                &hex[..5].to_uppercase(),
                hex[..5] == hex[..5].to_uppercase(),
            ),
        ] {
            let commits = repo.list_loose_objects(prefix, |ext| ext == "commit")?;
            assert_eq!(commits.contains(&(tip, "commit")), found, "{prefix}");
            assert!(commits.len() <= 1, "{prefix}");
        }
        Ok(())
    }
}
