//! Writing a commit's tree as a tar archive, the way upstream's `export` lays it out: `./`
//! first, then each directory's files before its subdirectories, the commit time as every
//! entry's mtime, and xattrs as PAX `SCHILY.xattr.*` records.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use rostree_core::object::{DirTreeRef, FileHeader};
use rostree_core::{Checksum, ObjectType};

use crate::error::{Error, Result};
use crate::progress::{Event, Progress};
use crate::repo::Repo;

/// Options of [`export`].
#[derive(Clone, Debug, Default)]
pub struct ExportOptions {
    /// Prepended to every name, verbatim (upstream adds no separator).
    pub prefix: String,
    /// Leave xattrs out.
    pub no_xattrs: bool,
}

struct Exporter<'a, W: Write> {
    repo: &'a Repo,
    builder: tar::Builder<W>,
    mtime: u64,
    options: &'a ExportOptions,
    progress: &'a dyn Progress,
    interrupt: &'a AtomicBool,
}

fn io_err(e: std::io::Error) -> Error {
    Error::WritingArchive { source: e }
}

impl<W: Write> Exporter<'_, W> {
    fn header(
        &self,
        kind: tar::EntryType,
        mode: u32,
        uid: u32,
        gid: u32,
        size: u64,
    ) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(mode & 0o7777);
        h.set_uid(u64::from(uid));
        h.set_gid(u64::from(gid));
        h.set_size(size);
        h.set_mtime(self.mtime);
        h
    }

    fn xattrs(&mut self, xattrs: &rostree_core::object::Xattrs) -> Result<()> {
        if self.options.no_xattrs || xattrs.is_empty() {
            return Ok(());
        }
        // Written in reverse: importers (upstream's and ours) take PAX records back to front,
        // so the stored order comes back as it was.
        let records: Vec<(String, &[u8])> = xattrs
            .0
            .iter()
            .rev()
            .map(|(name, value)| {
                (
                    format!("SCHILY.xattr.{}", String::from_utf8_lossy(name)),
                    value.as_slice(),
                )
            })
            .collect();
        self.builder
            .append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), *v)))
            .map_err(io_err)
    }

    /// Writes the directory entry `name`, then its files and subdirectories as `base` +
    /// their names.
    fn dir(&mut self, name: &str, base: &str, tree: &Checksum, meta: &Checksum) -> Result<()> {
        let dirmeta = self.repo.load_dirmeta(meta)?;
        self.xattrs(&dirmeta.xattrs)?;
        let mut h = self.header(
            tar::EntryType::Directory,
            dirmeta.mode,
            dirmeta.uid,
            dirmeta.gid,
            0,
        );
        self.builder
            .append_data(&mut h, name, std::io::empty())
            .map_err(io_err)?;
        let data = self.repo.load_metadata(ObjectType::DirTree, tree)?;
        let listing = DirTreeRef::parse(&data)
            .map_err(|e| Error::Corrupt {
                objtype: ObjectType::DirTree,
                checksum: *tree,
                reason: e.to_string(),
            })?
            .to_owned();
        for (file, checksum) in &listing.files {
            self.file(&format!("{base}{file}"), checksum)?;
        }
        for (sub, t, m) in &listing.dirs {
            let path = format!("{base}{sub}/");
            self.dir(&path, &path, t, m)?;
        }
        Ok(())
    }

    fn file(&mut self, name: &str, checksum: &Checksum) -> Result<()> {
        if self.interrupt.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        let (header, payload): (FileHeader, _) = self.repo.open_content(checksum)?;
        self.xattrs(&header.xattrs)?;
        if header.is_symlink() {
            let mut h = self.header(
                tar::EntryType::Symlink,
                header.mode,
                header.uid,
                header.gid,
                0,
            );
            self.builder
                .append_link(&mut h, name, &header.symlink_target)
                .map_err(io_err)?;
            self.progress.event(Event::FileExported { bytes: 0 });
            return Ok(());
        }
        let corrupt = |e: std::io::Error| Error::Corrupt {
            objtype: ObjectType::File,
            checksum: *checksum,
            reason: e.to_string(),
        };
        let size = payload.size().map_err(corrupt)?;
        let mut h = self.header(
            tar::EntryType::Regular,
            header.mode,
            header.uid,
            header.gid,
            size,
        );
        // The tar entry streams from the object; one that reads short or long is corrupt,
        // and the archive cannot be finished honestly.
        let mut exact = ExactSize {
            inner: payload,
            left: size,
            interrupt: self.interrupt,
        };
        let interrupt = self.interrupt;
        self.builder
            .append_data(&mut h, name, &mut exact)
            .map_err(|e| match e.kind() {
                _ if interrupt.load(Ordering::Relaxed) => Error::Cancelled,
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof => corrupt(e),
                _ => io_err(e),
            })?;
        if exact.left != 0 {
            return Err(corrupt(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "object ended early",
            )));
        }
        self.progress.event(Event::FileExported { bytes: size });
        Ok(())
    }
}

/// Writes the tree `tree`/`meta` of a commit made at `mtime` to `out` as a tar archive;
/// [`Error::Cancelled`] once `interrupt` is set.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::io::Read;
/// use std::sync::atomic::AtomicBool;
/// use cap_std::{ambient_authority, fs::Dir};
/// use rostree_repo::commit::{CommitOptions, TreeSource, commit};
/// use rostree_repo::export::{ExportOptions, export};
/// use rostree_repo::{InitOptions, Repo, RepoMode, progress::NoProgress};
///
/// let tmp = tempfile::tempdir()?;
/// std::fs::create_dir_all(tmp.path().join("tree/etc"))?;
/// std::fs::write(tmp.path().join("tree/etc/os-release"), "ID=example\n")?;
/// std::fs::create_dir(tmp.path().join("repo"))?;
/// let repo_dir = Dir::open_ambient_dir(tmp.path().join("repo"), ambient_authority())?;
/// let options = InitOptions { mode: RepoMode::Archive, ..Default::default() };
/// let repo = Repo::init(repo_dir, tmp.path().join("repo"), &options)?;
/// let tree = Dir::open_ambient_dir(tmp.path().join("tree"), ambient_authority())?;
/// let sources = vec![TreeSource::Dir(tree, tmp.path().join("tree"))];
/// let options = CommitOptions { branch: Some("main".into()), ..Default::default() };
/// let outcome = commit(&repo, sources, &NoProgress, &AtomicBool::new(false), &options)?;
///
/// // `ostree export main`, into memory.
/// let c = repo.load_commit(&outcome.checksum)?;
/// let options = ExportOptions::default();
/// let stop = AtomicBool::new(false);
/// let root = (c.root_tree, c.root_meta);
/// let tar = export(&repo, root, c.timestamp, Vec::new(), &NoProgress, &stop, &options)?;
/// let mut names = Vec::new();
/// for entry in tar::Archive::new(&tar[..]).entries()? {
///     let mut entry = entry?;
///     assert_eq!(entry.header().mtime()?, c.timestamp);
///     names.push(entry.path()?.display().to_string());
///     if entry.header().entry_type().is_file() {
///         let mut text = String::new();
///         entry.read_to_string(&mut text)?;
///         assert_eq!(text, "ID=example\n");
///     }
/// }
/// assert_eq!(names, ["./", "etc/", "etc/os-release"]);
/// # Ok(()) }
/// ```
pub fn export<W: Write>(
    repo: &Repo,
    (tree, meta): (Checksum, Checksum),
    mtime: u64,
    out: W,
    progress: &dyn Progress,
    interrupt: &AtomicBool,
    options: &ExportOptions,
) -> Result<W> {
    let mut exporter = Exporter {
        repo,
        builder: tar::Builder::new(out),
        mtime,
        options,
        progress,
        interrupt,
    };
    // The root is `./` with children below it unprefixed; with a prefix it is `PREFIX/` and
    // the children are `PREFIX` + path, verbatim, as upstream writes them.
    if options.prefix.is_empty() {
        exporter.dir("./", "", &tree, &meta)?;
    } else {
        let root = format!("{}/", options.prefix.trim_end_matches('/'));
        exporter.dir(&root, &options.prefix, &tree, &meta)?;
    }
    exporter.builder.into_inner().map_err(io_err)
}

/// A payload that must give exactly `left` more bytes (what the tar header announced), and
/// stops when interrupted (a 2 GiB file need not be written to the end first).
struct ExactSize<'a, R> {
    inner: R,
    left: u64,
    interrupt: &'a AtomicBool,
}

impl<R: std::io::Read> std::io::Read for ExactSize<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        if self.interrupt.load(Ordering::Relaxed) {
            // Not `Interrupted`, which copy loops retry.
            return Err(std::io::Error::other("interrupted"));
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "object ended early",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}
