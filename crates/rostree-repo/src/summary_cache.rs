//! The cache of remotes' signed summaries, so that a pull whose remote has not changed
//! fetches only `summary.sig`.
//!
//! ```text
//! <repo>/tmp/cache/          (or the directory of `pull --cache-dir`)
//!   summaries/
//!     <remote>               the remote's summary, as fetched
//!     <remote>.sig           its summary.sig
//!                            each with the server's ETag in the xattr user.etag and its
//!                            Last-Modified as the file's mtime, for conditional requests
//! ```
//!
//! Only verified pairs are stored, and only when both exist. `OSTREE_SKIP_CACHE` in the
//! environment turns the cache off, as upstream; a repository that cannot be written has
//! none. `prune` removes the entries of remotes that are gone.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use cap_std::fs::{Dir, DirBuilder};

use crate::Repo;
use crate::error::{IoContext, Result};
use crate::sys;

const SUBDIR: &str = "summaries";

/// The xattr holding a cached file's ETag.
const ETAG_XATTR: &str = "user.etag";

/// A summary cache (possibly a disabled one, that stores and finds nothing).
#[derive(Debug)]
pub struct SummaryCache {
    /// The cache directory and its path (for messages); `None` when disabled.
    dir: Option<(Dir, PathBuf)>,
}

/// A cached file with what a conditional request needs to ask whether it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedFile {
    /// The bytes.
    pub data: Vec<u8>,
    /// The ETag the server sent with them.
    pub etag: Option<String>,
    /// The Last-Modified time the server sent (Unix seconds), 0 when unknown.
    pub last_modified: u64,
}

/// Which of a remote's two cached files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CachedKind {
    /// `summary`.
    Summary,
    /// `summary.sig`.
    Signature,
}

fn file_name(remote: &str, kind: CachedKind) -> String {
    match kind {
        CachedKind::Summary => remote.to_owned(),
        CachedKind::Signature => format!("{remote}.sig"),
    }
}

impl SummaryCache {
    /// A cache that finds and stores nothing.
    pub fn disabled() -> SummaryCache {
        SummaryCache { dir: None }
    }

    /// The cache of `repo` (`tmp/cache`), or the one under `cache_dir` when given.
    pub fn open(repo: &Repo, cache_dir: Option<&Path>) -> Result<SummaryCache> {
        if std::env::var_os("OSTREE_SKIP_CACHE").is_some() {
            return Ok(SummaryCache::disabled());
        }
        let (base, path) = match cache_dir {
            Some(path) => {
                let dir = Dir::open_ambient_dir(path, cap_std::ambient_authority())
                    .ctx("opening", path)?;
                (dir, path.to_path_buf())
            }
            None => {
                let path = repo.path().join("tmp/cache");
                match repo.dir().create_dir_all("tmp/cache") {
                    Ok(()) => {}
                    // A repository that cannot be written (a system one, read-only) has no
                    // cache, as upstream.
                    Err(e) if is_read_only(&e) => return Ok(SummaryCache::disabled()),
                    Err(e) => return Err(e).ctx("creating", path),
                }
                (
                    repo.dir().open_dir("tmp/cache").ctx("opening", &path)?,
                    path,
                )
            }
        };
        let mut builder = DirBuilder::new();
        builder.recursive(true);
        match base.create_dir_with(SUBDIR, &builder) {
            Ok(()) => {}
            Err(e) if is_read_only(&e) => return Ok(SummaryCache::disabled()),
            Err(e) => return Err(e).ctx("creating", path.join(SUBDIR)),
        }
        let dir = base.open_dir(SUBDIR).ctx("opening", path.join(SUBDIR))?;
        Ok(SummaryCache {
            dir: Some((dir, path.join(SUBDIR))),
        })
    }

    /// The cached file of `remote`, if there is one.
    pub fn load(&self, remote: &str, kind: CachedKind) -> Result<Option<CachedFile>> {
        let Some((dir, path)) = &self.dir else {
            return Ok(None);
        };
        let name = file_name(remote, kind);
        let mut file = match dir.open(&name) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).ctx("opening", path.join(&name)),
        };
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut data).ctx("reading", path.join(&name))?;
        // An ETag with a NUL is no ETag (the loose check upstream makes).
        let etag = sys::fd_xattr(&file, ETAG_XATTR)
            .ok()
            .flatten()
            .filter(|v| !v.is_empty() && !v.contains(&0))
            .and_then(|v| String::from_utf8(v).ok());
        let last_modified = file
            .metadata()
            .ctx("stat", path.join(&name))?
            .modified()
            .ok()
            .and_then(|t| t.into_std().duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        Ok(Some(CachedFile {
            data,
            etag,
            last_modified,
        }))
    }

    /// Removes the cached file of `remote` (absent is fine).
    pub fn remove(&self, remote: &str, kind: CachedKind) -> Result<()> {
        let Some((dir, path)) = &self.dir else {
            return Ok(());
        };
        let name = file_name(remote, kind);
        match dir.remove_file(&name) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).ctx("removing", path.join(&name))
            }
            _ => Ok(()),
        }
    }

    /// Stores a verified summary and its signature for `remote`, each replacing the old one
    /// whole, with the ETags and Last-Modified times the server gave.
    pub fn store(&self, remote: &str, summary: &CachedFile, signature: &CachedFile) -> Result<()> {
        let Some((dir, path)) = &self.dir else {
            return Ok(());
        };
        for (kind, file) in [
            (CachedKind::Summary, summary),
            (CachedKind::Signature, signature),
        ] {
            let name = file_name(remote, kind);
            let full = path.join(&name);
            let tmp = format!(".{name}.tmp");
            let mut out = dir.create(&tmp).ctx("creating", &full)?;
            out.write_all(&file.data).ctx("writing", &full)?;
            // The properties are hints: a file system without user xattrs still caches.
            match &file.etag {
                Some(etag) => {
                    let _ = rustix::fs::fsetxattr(
                        &out,
                        ETAG_XATTR,
                        etag.as_bytes(),
                        rustix::fs::XattrFlags::empty(),
                    );
                }
                None => {
                    let _ = rustix::fs::fremovexattr(&out, ETAG_XATTR);
                }
            }
            if file.last_modified > 0 {
                let when =
                    std::time::UNIX_EPOCH + std::time::Duration::from_secs(file.last_modified);
                let _ = out.into_std().set_modified(when);
            }
            dir.rename(&tmp, dir, &name).ctx("renaming", &full)?;
        }
        Ok(())
    }

    /// Removes the entries of remotes not in `remotes`.
    pub fn prune(&self, remotes: &[String]) -> Result<()> {
        let Some((dir, path)) = &self.dir else {
            return Ok(());
        };
        for entry in dir.entries().ctx("reading", path)? {
            let entry = entry.ctx("reading", path)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let remote = name
                .strip_suffix(".sig")
                .filter(|r| !r.is_empty())
                .unwrap_or(&name);
            if name.starts_with('.') || remotes.iter().any(|r| r == remote) {
                continue;
            }
            match dir.remove_file(&name) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).ctx("removing", path.join(&name));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Removes from `repo`'s own summary cache the entries of remotes it no longer has (as
/// `prune` does upstream). A cache that does not exist, or is turned off, is left alone.
pub fn prune_repo_cache(repo: &Repo) -> Result<()> {
    if std::env::var_os("OSTREE_SKIP_CACHE").is_some() {
        return Ok(());
    }
    let rel = "tmp/cache/summaries";
    let dir = match repo.dir().open_dir(rel) {
        Ok(dir) => dir,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).ctx("opening", repo.path().join(rel)),
    };
    SummaryCache {
        dir: Some((dir, repo.path().join(rel))),
    }
    .prune(&repo.remote_names())
}

/// Whether `OSTREE_REPO_TEST_ERROR` asks that a cached summary failing verification be an
/// error rather than fetched anew (`invalid-cache`, or `all`), as upstream's debug switch:
/// it lets a test see that a bad cache is noticed. Names are split by `,:; ` as GLib's
/// debug strings are, and compared without case.
pub fn invalid_cache_is_error() -> bool {
    std::env::var("OSTREE_REPO_TEST_ERROR").is_ok_and(|flags| {
        flags
            .split([',', ':', ';', ' ', '\t'])
            .any(|f| f.eq_ignore_ascii_case("invalid-cache") || f.eq_ignore_ascii_case("all"))
    })
}

fn is_read_only(e: &std::io::Error) -> bool {
    use rustix::io::Errno;
    [Errno::ROFS, Errno::ACCESS, Errno::PERM]
        .iter()
        .any(|errno| e.raw_os_error() == Some(errno.raw_os_error()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{InitOptions, RepoMode};

    fn repo() -> (tempfile::TempDir, Repo) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority()).expect("dir");
        let options = InitOptions {
            mode: RepoMode::Archive,
            ..InitOptions::default()
        };
        let repo = Repo::init(dir, tmp.path(), &options).expect("init");
        (tmp, repo)
    }

    fn file(data: &[u8], etag: Option<&str>, last_modified: u64) -> CachedFile {
        CachedFile {
            data: data.to_vec(),
            etag: etag.map(str::to_owned),
            last_modified,
        }
    }

    #[test]
    fn stores_loads_and_prunes() {
        let (tmp, repo) = repo();
        let cache = SummaryCache::open(&repo, None).expect("open");
        assert_eq!(
            cache.load("origin", CachedKind::Summary).expect("load"),
            None
        );
        cache
            .store(
                "origin",
                &file(b"summary bytes", Some("\"abc\""), 1_000_000_000),
                &file(b"sig bytes", None, 0),
            )
            .expect("store");
        let summary = cache
            .load("origin", CachedKind::Summary)
            .expect("load")
            .expect("there");
        assert_eq!(summary.data, b"summary bytes");
        assert_eq!(summary.last_modified, 1_000_000_000);
        // The etag needs user xattrs, which a tmpfs may lack; the data never does.
        assert!(summary.etag.is_none() || summary.etag.as_deref() == Some("\"abc\""));
        assert!(tmp.path().join("tmp/cache/summaries/origin.sig").is_file());
        cache
            .store("gone", &file(b"x", None, 0), &file(b"y", None, 0))
            .expect("store");
        cache.prune(&["origin".to_owned()]).expect("prune");
        assert!(!tmp.path().join("tmp/cache/summaries/gone").exists());
        assert!(!tmp.path().join("tmp/cache/summaries/gone.sig").exists());
        assert!(tmp.path().join("tmp/cache/summaries/origin").exists());
        cache
            .remove("origin", CachedKind::Signature)
            .expect("remove");
        assert_eq!(
            cache.load("origin", CachedKind::Signature).expect("load"),
            None
        );
    }

    #[test]
    fn a_disabled_cache_keeps_nothing() {
        let cache = SummaryCache::disabled();
        cache
            .store("origin", &file(b"a", None, 0), &file(b"b", None, 0))
            .expect("store");
        assert_eq!(
            cache.load("origin", CachedKind::Summary).expect("load"),
            None
        );
    }
}
