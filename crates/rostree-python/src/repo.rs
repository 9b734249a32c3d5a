//! `rostree.Repo`: a repository, and what `prune` reports.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use rostree_ffi::repo::Repository;

use crate::read::{self, Commit, FileReader, TreeIterator};
use crate::{Cancellable, raise, with_progress};

/// An OSTree repository.
#[pyclass(module = "rostree", frozen)]
pub(crate) struct Repo {
    pub(crate) inner: Arc<Repository>,
    path: PathBuf,
}

#[pymethods]
impl Repo {
    /// Opens the repository at `path`.
    #[staticmethod]
    fn open(py: Python<'_>, path: PathBuf) -> PyResult<Repo> {
        let inner = py
            .allow_threads(|| Repository::open(&path))
            .map_err(raise)?;
        Ok(Repo {
            inner: Arc::new(inner),
            path,
        })
    }

    /// Makes a repository at `path` in `mode` ("archive", "bare", "bare-user",
    /// "bare-user-only").
    #[staticmethod]
    #[pyo3(signature = (path, mode = "bare"))]
    fn init(py: Python<'_>, path: PathBuf, mode: &str) -> PyResult<Repo> {
        let inner = py
            .allow_threads(|| Repository::init(&path, mode))
            .map_err(raise)?;
        Ok(Repo {
            inner: Arc::new(inner),
            path,
        })
    }

    /// The path the repository was opened at.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// Commits the directory `tree` to `branch`; returns the commit checksum.
    #[pyo3(signature = (tree, *, branch, subject, body = None, timestamp = None, metadata = None))]
    #[allow(clippy::too_many_arguments)]
    fn commit(
        &self,
        py: Python<'_>,
        tree: PathBuf,
        branch: &str,
        subject: &str,
        body: Option<&str>,
        timestamp: Option<u64>,
        metadata: Option<Bound<'_, PyDict>>,
    ) -> PyResult<String> {
        // In the dict's order, as upstream writes `--add-metadata-string` pairs in the
        // order given (the order is part of the commit, so of its checksum).
        let mut pairs = Vec::new();
        for (key, value) in metadata.iter().flat_map(|m| m.iter()) {
            pairs.push((key.extract::<String>()?, value.extract::<String>()?));
        }
        let metadata = pairs;
        py.allow_threads(|| {
            self.inner
                .commit_dir(&tree, branch, subject, body, timestamp, &metadata)
        })
        .map(|c| c.to_string())
        .map_err(raise)
    }

    /// The commit `rev` names.
    fn resolve_rev(&self, py: Python<'_>, rev: &str) -> PyResult<String> {
        py.allow_threads(|| self.inner.resolve_rev(rev))
            .map(|c| c.to_string())
            .map_err(raise)
    }

    /// Every ref and its commit.
    fn refs(&self, py: Python<'_>) -> PyResult<BTreeMap<String, String>> {
        let refs = py.allow_threads(|| self.inner.list_refs()).map_err(raise)?;
        Ok(refs.into_iter().map(|(n, c)| (n, c.to_string())).collect())
    }

    /// Checks the commit `rev` out as the new directory `destination`.
    #[pyo3(signature = (rev, destination, *, user_mode = false))]
    fn checkout(
        &self,
        py: Python<'_>,
        rev: &str,
        destination: PathBuf,
        user_mode: bool,
    ) -> PyResult<()> {
        py.allow_threads(|| self.inner.checkout(rev, &destination, user_mode))
            .map_err(raise)
    }

    /// Verifies every object of every commit.
    fn fsck(&self, py: Python<'_>) -> PyResult<()> {
        py.allow_threads(|| self.inner.fsck()).map_err(raise)
    }

    /// Writes the summary file, as `ostree summary -u`.
    fn update_summary(&self, py: Python<'_>) -> PyResult<()> {
        py.allow_threads(|| self.inner.update_summary())
            .map_err(raise)
    }

    /// Adds a remote, as `ostree remote add [--no-gpg-verify] NAME URL`.
    #[pyo3(signature = (name, url, *, gpg_verify = true))]
    fn remote_add(&self, py: Python<'_>, name: &str, url: &str, gpg_verify: bool) -> PyResult<()> {
        py.allow_threads(|| self.inner.remote_add(name, url, gpg_verify))
            .map_err(raise)
    }

    /// Pulls `refs` from `remote` with the checks its configuration asks for.
    #[pyo3(signature = (remote, refs = None, *, progress = None, cancellable = None))]
    fn pull(
        &self,
        py: Python<'_>,
        remote: &str,
        refs: Option<Vec<String>>,
        progress: Option<PyObject>,
        cancellable: Option<Py<Cancellable>>,
    ) -> PyResult<()> {
        let refs = refs.unwrap_or_default();
        with_progress(py, progress, cancellable, |reporter, flag| {
            self.inner.pull(remote, &refs, reporter, flag)
        })
    }

    /// The commit `rev` names.
    fn read_commit(&self, py: Python<'_>, rev: &str) -> PyResult<Commit> {
        read::read_commit(&self.inner, py, rev)
    }

    /// The entries below `path` in the commit `rev` names (all below it when
    /// `recursive`), read as they are iterated.
    #[pyo3(signature = (rev, path = "/", *, recursive = false))]
    fn walk(
        &self,
        py: Python<'_>,
        rev: &str,
        path: &str,
        recursive: bool,
    ) -> PyResult<TreeIterator> {
        read::walk(&self.inner, py, rev, path, recursive)
    }

    /// The file at `path` in the commit `rev` names, open for reading.
    fn open_file(&self, py: Python<'_>, rev: &str, path: &str) -> PyResult<FileReader> {
        read::open_file(&self.inner, py, rev, path)
    }

    /// Deletes the objects no commit needs, as `ostree prune [--refs-only] [--depth]`.
    #[pyo3(signature = (*, refs_only = false, depth = None))]
    fn prune(&self, py: Python<'_>, refs_only: bool, depth: Option<u64>) -> PyResult<PruneResult> {
        let outcome = py
            .allow_threads(|| self.inner.prune(refs_only, depth))
            .map_err(raise)?;
        Ok(PruneResult {
            objects_total: outcome.total,
            objects_pruned: outcome.deleted,
            bytes_freed: outcome.freed,
        })
    }

    /// Adds an ed25519 signature by `secret_key` (base64) to the commit `rev` names.
    fn sign_commit(&self, py: Python<'_>, rev: &str, secret_key: &str) -> PyResult<()> {
        py.allow_threads(|| self.inner.sign_commit(rev, secret_key))
            .map_err(raise)
    }

    /// Checks the commit's ed25519 signatures against `public_keys` (base64); returns the
    /// message naming the key that verified it.
    fn verify_commit(
        &self,
        py: Python<'_>,
        rev: &str,
        public_keys: Vec<String>,
    ) -> PyResult<String> {
        py.allow_threads(|| self.inner.verify_commit(rev, &public_keys))
            .map_err(raise)
    }

    /// Adds a GPG signature by `key_id` from the GnuPG home `homedir`.
    #[pyo3(signature = (rev, key_id, *, homedir = None))]
    fn gpg_sign_commit(
        &self,
        py: Python<'_>,
        rev: &str,
        key_id: &str,
        homedir: Option<PathBuf>,
    ) -> PyResult<()> {
        py.allow_threads(|| self.inner.gpg_sign_commit(rev, key_id, homedir.as_deref()))
            .map_err(raise)
    }

    /// Generates the static delta to the commit `to` names, from `from_rev`'s (default:
    /// from nothing); returns its name.
    #[pyo3(signature = (to, *, from_rev = None))]
    fn generate_delta(&self, py: Python<'_>, to: &str, from_rev: Option<&str>) -> PyResult<String> {
        py.allow_threads(|| self.inner.generate_delta(from_rev, to))
            .map_err(raise)
    }

    /// The repository's static deltas, by name.
    fn deltas(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        py.allow_threads(|| self.inner.list_deltas()).map_err(raise)
    }
}

/// What `Repo.prune` did.
#[pyclass(module = "rostree", frozen, get_all)]
pub(crate) struct PruneResult {
    objects_total: u64,
    objects_pruned: u64,
    bytes_freed: u64,
}

#[pymethods]
impl PruneResult {
    fn __repr__(&self) -> String {
        format!(
            "PruneResult(objects_total={}, objects_pruned={}, bytes_freed={})",
            self.objects_total, self.objects_pruned, self.bytes_freed
        )
    }
}
