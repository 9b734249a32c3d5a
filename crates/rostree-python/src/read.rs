//! Reading a repository: `Repo.read_commit`, `Repo.walk` (an iterator of tree entries) and
//! `Repo.open_file` (a file to read, streamed).

use std::io::Read as _;
use std::sync::{Mutex, PoisonError};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use rostree_ffi::read::{self, EntryKind};

use crate::raise;
use rostree_ffi::repo::Repository;

/// A commit.
#[pyclass(module = "rostree", frozen, get_all)]
pub(crate) struct Commit {
    checksum: String,
    parent: Option<String>,
    subject: String,
    body: String,
    timestamp: u64,
    version: Option<String>,
}

#[pymethods]
impl Commit {
    fn __repr__(&self) -> String {
        format!(
            "Commit(checksum={:?}, subject={:?}, timestamp={})",
            self.checksum, self.subject, self.timestamp
        )
    }
}

/// One entry of a commit's tree.
#[pyclass(module = "rostree", frozen, get_all)]
pub(crate) struct TreeEntry {
    path: String,
    kind: &'static str,
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    checksum: String,
    symlink_target: Option<String>,
}

#[pymethods]
impl TreeEntry {
    fn __repr__(&self) -> String {
        format!(
            "TreeEntry(path={:?}, kind={:?}, mode=0o{:o}, size={})",
            self.path, self.kind, self.mode, self.size
        )
    }
}

impl From<read::Entry> for TreeEntry {
    fn from(entry: read::Entry) -> TreeEntry {
        TreeEntry {
            path: entry.path,
            kind: match entry.kind {
                EntryKind::File => "file",
                EntryKind::Directory => "directory",
                EntryKind::Symlink => "symlink",
            },
            mode: entry.mode,
            uid: entry.uid,
            gid: entry.gid,
            size: entry.size,
            checksum: entry.checksum.to_string(),
            symlink_target: entry.symlink_target,
        }
    }
}

/// The entries of a tree, read as they are iterated.
#[pyclass(module = "rostree", frozen)]
pub(crate) struct TreeIterator(Mutex<read::TreeWalker>);

#[pymethods]
impl TreeIterator {
    fn __iter__(this: PyRef<'_, Self>) -> PyRef<'_, Self> {
        this
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<TreeEntry>> {
        let next = py.allow_threads(|| {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .next_entry()
        });
        Ok(next.map_err(raise)?.map(TreeEntry::from))
    }
}

/// A file of a commit, open for reading.
#[pyclass(module = "rostree", frozen)]
pub(crate) struct FileReader {
    /// `None` once closed.
    reader: Mutex<Option<read::FileReader>>,
    size: u64,
}

#[pymethods]
impl FileReader {
    /// The file's size in bytes.
    #[getter]
    fn size(&self) -> u64 {
        self.size
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.lock().is_none()
    }

    /// Up to `size` bytes (all that is left when negative); `b""` at the end.
    #[pyo3(signature = (size = -1))]
    fn read<'py>(&self, py: Python<'py>, size: i64) -> PyResult<Bound<'py, PyBytes>> {
        let data = py.allow_threads(|| {
            let mut guard = self.lock();
            let reader = guard
                .as_mut()
                .ok_or_else(|| PyValueError::new_err("I/O operation on closed file"))?;
            let mut data = Vec::new();
            let read = match u64::try_from(size) {
                Ok(limit) => reader.take(limit).read_to_end(&mut data),
                Err(_) => reader.read_to_end(&mut data),
            };
            read.map_err(|e| crate::Error::new_err(format!("read: {e}")))?;
            Ok::<_, PyErr>(data)
        })?;
        Ok(PyBytes::new(py, &data))
    }

    /// Closes the file; reading it afterwards raises `ValueError`.
    fn close(&self) {
        self.lock().take();
    }

    fn __enter__(this: PyRef<'_, Self>) -> PyRef<'_, Self> {
        this
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close();
        false
    }
}

impl FileReader {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<read::FileReader>> {
        self.reader.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `Repo.read_commit`.
pub(crate) fn read_commit(repo: &Repository, py: Python<'_>, rev: &str) -> PyResult<Commit> {
    let c = py.allow_threads(|| repo.read_commit(rev)).map_err(raise)?;
    Ok(Commit {
        checksum: c.checksum.to_string(),
        parent: c.parent.map(|p| p.to_string()),
        subject: c.subject,
        body: c.body,
        timestamp: c.timestamp,
        version: c.version,
    })
}

/// `Repo.walk`.
pub(crate) fn walk(
    repo: &Repository,
    py: Python<'_>,
    rev: &str,
    path: &str,
    recursive: bool,
) -> PyResult<TreeIterator> {
    let walker = py
        .allow_threads(|| repo.walk(rev, path, recursive))
        .map_err(raise)?;
    Ok(TreeIterator(Mutex::new(walker)))
}

/// `Repo.open_file`.
pub(crate) fn open_file(
    repo: &Repository,
    py: Python<'_>,
    rev: &str,
    path: &str,
) -> PyResult<FileReader> {
    let reader = py
        .allow_threads(|| repo.open_file(rev, path))
        .map_err(raise)?;
    Ok(FileReader {
        size: reader.size(),
        reader: Mutex::new(Some(reader)),
    })
}
