//! Objects: where each lives, whether it is here (or in `core.parent`), reading metadata
//! (checked against its name) and content (as a stream), and partial-commit marks.

use super::*;

/// Archive objects up to this size are read whole (most are: a tree's files are small).
pub(super) const READ_AT_ONCE: u64 = 256 << 10;

/// Decodes a `.filez` object (as archive repos store content, and as HTTP remotes serve it):
/// its header and its whole payload. The size a header claims is bounded by what DEFLATE can
/// expand to, so a hostile header cannot make this allocate without limit.
pub fn decode_filez(data: &[u8]) -> std::result::Result<(FileHeader, Vec<u8>), String> {
    let (archive, compressed) = parse_archive_header(data).map_err(|e| e.to_string())?;
    if archive.header.is_symlink() {
        return Ok((archive.header, Vec::new()));
    }
    let payload =
        crate::deflate::inflate_exact(compressed, archive.size).map_err(|e| e.to_string())?;
    Ok((archive.header, payload))
}

/// Parses a stored commit, naming it when it does not parse.
pub(crate) fn parse_commit<'a>(data: &'a [u8], checksum: &Checksum) -> Result<CommitRef<'a>> {
    CommitRef::parse(data).map_err(|e| Error::Corrupt {
        objtype: ObjectType::Commit,
        checksum: *checksum,
        reason: e.to_string(),
    })
}

/// Parses a stored dirtree, naming it when it does not parse.
pub(crate) fn parse_dirtree<'a>(data: &'a [u8], checksum: &Checksum) -> Result<DirTreeRef<'a>> {
    DirTreeRef::parse(data).map_err(|e| Error::Corrupt {
        objtype: ObjectType::DirTree,
        checksum: *checksum,
        reason: e.to_string(),
    })
}

impl Repo {
    /// The path of an object relative to the repo, for messages.
    pub fn object_path(&self, objtype: ObjectType, checksum: &Checksum) -> PathBuf {
        Path::new("objects").join(checksum.relative_path(objtype, self.mode.is_archive()))
    }

    /// Whether the object is stored.
    pub fn has_object(&self, objtype: ObjectType, checksum: &Checksum) -> Result<bool> {
        if self.has_object_here(objtype, checksum)? {
            return Ok(true);
        }
        match &self.parent {
            Some(parent) => parent.has_object(objtype, checksum),
            None => Ok(false),
        }
    }

    /// Whether this repository itself (not its parent) holds the object.
    pub fn has_object_here(&self, objtype: ObjectType, checksum: &Checksum) -> Result<bool> {
        let rel = checksum.relative_path(objtype, self.mode.is_archive());
        match sys::lstat_at(&self.objects, rel.as_ref()) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e).ctx("checking", self.object_path(objtype, checksum)),
        }
    }

    /// Reads a metadata object's bytes, verifying they hash to its name (except commitmeta,
    /// which is named after its commit).
    pub fn load_metadata(&self, objtype: ObjectType, checksum: &Checksum) -> Result<Vec<u8>> {
        self.load_metadata_checked(objtype, checksum, true)
    }

    /// [`Repo::load_metadata`] without the hash check, for what trusts this repository as
    /// upstream trusts a local one (a `pull-local` without `--untrusted`).
    pub fn load_metadata_trusted(
        &self,
        objtype: ObjectType,
        checksum: &Checksum,
    ) -> Result<Vec<u8>> {
        self.load_metadata_checked(objtype, checksum, false)
    }

    pub(super) fn load_metadata_checked(
        &self,
        objtype: ObjectType,
        checksum: &Checksum,
        verify: bool,
    ) -> Result<Vec<u8>> {
        match (
            self.load_metadata_here(objtype, checksum, verify),
            &self.parent,
        ) {
            (Err(Error::MissingObject { .. }), Some(parent)) => {
                parent.load_metadata_checked(objtype, checksum, verify)
            }
            (result, _) => result,
        }
    }

    pub(super) fn load_metadata_here(
        &self,
        objtype: ObjectType,
        checksum: &Checksum,
        verify: bool,
    ) -> Result<Vec<u8>> {
        let rel = checksum.relative_path(objtype, self.mode.is_archive());
        let data = match crate::sys::read_beneath(&self.objects, &rel) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::MissingObject {
                    objtype,
                    checksum: *checksum,
                });
            }
            Err(e) => return Err(e).ctx("reading", self.object_path(objtype, checksum)),
        };
        if verify && objtype != ObjectType::CommitMeta {
            let actual = Checksum::digest(&data);
            if actual != *checksum {
                return Err(Error::ChecksumMismatch {
                    objtype,
                    expected: *checksum,
                    actual,
                });
            }
        }
        Ok(data)
    }

    /// Where a commit's partial mark lives: `state/<commit>.commitpartial`, empty when a
    /// pull left the commit's tree incomplete, `f` when fsck found it damaged.
    pub fn partial_mark_path(commit: &Checksum) -> PathBuf {
        PathBuf::from(format!("state/{commit}.commitpartial"))
    }

    /// Whether the commit is marked partial (its tree may be incomplete).
    pub fn commit_is_partial(&self, commit: &Checksum) -> bool {
        self.dir.exists(Self::partial_mark_path(commit))
    }

    /// Marks the commit partial (a pull is about to fetch its tree, or fetched only it).
    pub fn mark_commit_partial(&self, commit: &Checksum) -> Result<()> {
        let path = Self::partial_mark_path(commit);
        self.dir
            .write(&path, b"")
            .ctx("writing", self.path.join(&path))
    }

    /// Removes the commit's partial mark (absent is fine).
    pub fn clear_commit_partial(&self, commit: &Checksum) -> Result<()> {
        let path = Self::partial_mark_path(commit);
        match self.dir.remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).ctx("deleting", self.path.join(&path)),
        }
    }

    /// Reads the detached metadata of a commit, if any.
    pub fn load_commitmeta(&self, commit: &Checksum) -> Result<Option<Vec<u8>>> {
        match self.load_metadata(ObjectType::CommitMeta, commit) {
            Ok(d) => Ok(Some(d)),
            Err(Error::MissingObject { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Loads and validates a commit.
    pub fn load_commit(&self, checksum: &Checksum) -> Result<Commit> {
        let data = self.load_metadata(ObjectType::Commit, checksum)?;
        CommitRef::parse(&data)
            .and_then(|c| c.to_owned())
            .map_err(|e| Error::Corrupt {
                objtype: ObjectType::Commit,
                checksum: *checksum,
                reason: e.to_string(),
            })
    }

    /// Loads and validates a dirmeta.
    pub fn load_dirmeta(&self, checksum: &Checksum) -> Result<DirMeta> {
        let data = self.load_metadata(ObjectType::DirMeta, checksum)?;
        DirMeta::from_bytes(&data).map_err(|e| Error::Corrupt {
            objtype: ObjectType::DirMeta,
            checksum: *checksum,
            reason: e.to_string(),
        })
    }

    /// Opens a content object: its header and a payload to read, inflated as it is read in
    /// an archive repository, so that no file is ever whole in memory. The content is not
    /// re-hashed here; fsck does that.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::io::Read;
    /// use cap_std::{ambient_authority, fs::Dir};
    /// use rostree_core::object::FileHeader;
    /// use rostree_repo::{InitOptions, Repo, RepoMode, Transaction};
    ///
    /// let tmp = tempfile::tempdir()?;
    /// let dir = Dir::open_ambient_dir(tmp.path(), ambient_authority())?;
    /// let init = InitOptions { mode: RepoMode::Archive, ..Default::default() };
    /// let repo = Repo::init(dir, tmp.path(), &init)?;
    /// let header = FileHeader {
    ///     uid: 0, gid: 0, mode: 0o100644, rdev: 0,
    ///     symlink_target: String::new(), xattrs: Default::default(),
    /// };
    /// let tx = Transaction::begin(&repo)?;
    /// let checksum = tx.write_content_stream(&header, &mut &b"hello\n"[..])?;
    /// tx.commit()?;
    ///
    /// let (stored, mut payload) = repo.open_content(&checksum)?;
    /// let mut text = String::new();
    /// payload.read_to_string(&mut text)?;
    /// assert_eq!((stored.mode, text.as_str()), (0o100644, "hello\n"));
    /// # Ok(()) }
    /// ```
    pub fn open_content(&self, checksum: &Checksum) -> Result<(FileHeader, Payload)> {
        match (self.open_content_here(checksum), &self.parent) {
            (Err(Error::MissingObject { .. }), Some(parent)) => parent.open_content(checksum),
            (result, _) => result,
        }
    }

    pub(super) fn open_content_here(&self, checksum: &Checksum) -> Result<(FileHeader, Payload)> {
        let rel = checksum.relative_path(ObjectType::File, self.mode.is_archive());
        let path = || self.object_path(ObjectType::File, checksum);
        let missing = || Error::MissingObject {
            objtype: ObjectType::File,
            checksum: *checksum,
        };
        let corrupt = |reason: String| Error::Corrupt {
            objtype: ObjectType::File,
            checksum: *checksum,
            reason,
        };
        let not_found = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
        match self.mode {
            RepoMode::Archive => {
                let mut file = match self.objects.open(&rel) {
                    Ok(f) => f,
                    Err(e) if not_found(&e) => return Err(missing()),
                    Err(e) => return Err(e).ctx("reading", path()),
                };
                let len = file.metadata().ctx("stat", path())?.len();
                if len <= READ_AT_ONCE {
                    let mut data = Vec::with_capacity(len as usize);
                    file.read_to_end(&mut data).ctx("reading", path())?;
                    let (archive, compressed) =
                        parse_archive_header(&data).map_err(|e| corrupt(e.to_string()))?;
                    if archive.header.is_symlink() {
                        return Ok((archive.header, Payload::None));
                    }
                    if archive.size <= INFLATE_AT_ONCE {
                        let out = crate::deflate::inflate_exact(compressed, archive.size)
                            .map_err(|e| corrupt(e.to_string()))?;
                        return Ok((archive.header, Payload::Bytes(std::io::Cursor::new(out))));
                    }
                    crate::deflate::check_ratio(compressed.len() as u64, archive.size)
                        .map_err(|e| corrupt(e.to_string()))?;
                    let start = data.len() - compressed.len();
                    data.drain(..start);
                    let inflater = Inflater::new(
                        Box::new(std::io::Cursor::new(data)) as Box<dyn BufRead + Send>,
                        archive.size,
                    );
                    return Ok((archive.header, Payload::Inflating(Box::new(inflater))));
                }
                let mut reader = std::io::BufReader::with_capacity(128 << 10, file);
                let archive =
                    read_archive_header(&mut reader).map_err(|e| corrupt(e.to_string()))?;
                if archive.header.is_symlink() {
                    return Ok((archive.header, Payload::None));
                }
                crate::deflate::check_ratio(len, archive.size)
                    .map_err(|e| corrupt(e.to_string()))?;
                let inflater =
                    Inflater::new(Box::new(reader) as Box<dyn BufRead + Send>, archive.size);
                Ok((archive.header, Payload::Inflating(Box::new(inflater))))
            }
            RepoMode::BareSplitXattrs => Err(Error::ReadUnsupported {
                mode: RepoMode::BareSplitXattrs,
            }),
            RepoMode::BareUser => {
                // bare-user objects are always regular files; anything else (a fifo would
                // block the open) is corruption.
                match sys::lstat_at(&self.objects, rel.as_ref()) {
                    Ok(st) if st.st_mode & 0o170000 == 0o100000 => {}
                    Ok(_) => return Err(corrupt("not a regular file".into())),
                    Err(e) if not_found(&e) => return Err(missing()),
                    Err(e) => return Err(e).ctx("stat", path()),
                }
                let mut file = match self.objects.open(&rel) {
                    Ok(f) => f,
                    Err(e) if not_found(&e) => return Err(missing()),
                    Err(e) => return Err(e).ctx("opening", path()),
                };
                let meta = sys::fd_xattr(&file, "user.ostreemeta")
                    .ctx("reading xattrs of", path())?
                    .ok_or_else(|| corrupt("missing user.ostreemeta xattr".into()))?;
                let meta = DirMeta::from_bytes(&meta).map_err(|e| corrupt(e.to_string()))?;
                let mut header = FileHeader {
                    uid: meta.uid,
                    gid: meta.gid,
                    mode: meta.mode,
                    rdev: 0,
                    symlink_target: String::new(),
                    xattrs: meta.xattrs,
                };
                if header.is_symlink() {
                    let mut target = Vec::new();
                    file.read_to_end(&mut target).ctx("reading", path())?;
                    if target.last() == Some(&0) {
                        target.pop();
                    }
                    header.symlink_target = String::from_utf8(target)
                        .map_err(|_| corrupt("symlink target is not UTF-8".into()))?;
                    return Ok((header, Payload::None));
                }
                Ok((header, Payload::File(file)))
            }
            RepoMode::Bare | RepoMode::BareUserOnly => {
                let st = match sys::lstat_at(&self.objects, rel.as_ref()) {
                    Ok(st) => st,
                    Err(e) if not_found(&e) => return Err(missing()),
                    Err(e) => return Err(e).ctx("reading", path()),
                };
                if !matches!(st.st_mode & 0o170000, 0o100000 | 0o120000) {
                    return Err(corrupt("neither a regular file nor a symlink".into()));
                }
                let bare = self.mode == RepoMode::Bare;
                let mut header = FileHeader {
                    uid: if bare { st.st_uid } else { 0 },
                    gid: if bare { st.st_gid } else { 0 },
                    mode: st.st_mode,
                    rdev: 0,
                    symlink_target: String::new(),
                    xattrs: Xattrs::new(),
                };
                if header.is_symlink() {
                    let target = rustix::fs::readlinkat(&self.objects, rel.as_str(), Vec::new())
                        .ctx("reading link", path())?;
                    header.symlink_target = target
                        .into_string()
                        .map_err(|_| corrupt("symlink target is not UTF-8".into()))?;
                    if bare && !self.disable_xattrs {
                        let (dir, name) = rel.split_at(2);
                        let sub = self.objects.open_dir(dir).ctx("opening", path())?;
                        header.xattrs = sys::link_xattrs(&sub, name[1..].as_ref())
                            .ctx("reading xattrs of", path())?;
                    }
                    return Ok((header, Payload::None));
                }
                let file = self.objects.open(&rel).ctx("opening", path())?;
                if bare && !self.disable_xattrs {
                    header.xattrs = sys::fd_xattrs(&file).ctx("reading xattrs of", path())?;
                }
                Ok((header, Payload::File(file)))
            }
        }
    }

    /// A content object's header and payload size, without reading the payload.
    pub fn file_info(&self, checksum: &Checksum) -> Result<(FileHeader, u64)> {
        if self.mode != RepoMode::Archive {
            let (header, payload) = self.open_content(checksum)?;
            let size = match payload {
                Payload::File(f) => f
                    .metadata()
                    .ctx("stat", self.object_path(ObjectType::File, checksum))?
                    .len(),
                _ => 0,
            };
            return Ok((header, size));
        }
        let rel = checksum.relative_path(ObjectType::File, true);
        let path = || self.object_path(ObjectType::File, checksum);
        let mut file = match self.objects.open(&rel) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(parent) = &self.parent {
                    return parent.file_info(checksum);
                }
                return Err(Error::MissingObject {
                    objtype: ObjectType::File,
                    checksum: *checksum,
                });
            }
            Err(e) => return Err(e).ctx("opening", path()),
        };
        let corrupt = |reason: String| Error::Corrupt {
            objtype: ObjectType::File,
            checksum: *checksum,
            reason,
        };
        let archive = read_archive_header(&mut file).map_err(|e| corrupt(e.to_string()))?;
        Ok((archive.header, archive.size))
    }
}
