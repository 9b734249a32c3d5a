//! Python bindings of rostree (PyO3): the extension module `rostree._rostree`, which the
//! `rostree` package (`python/rostree`) re-exports with type stubs.
//!
//! They share the C ABI's safe layer (`rostree_ffi::{repo, pull, sysroot}`), so that C and
//! Python do the same thing for the same call. Long operations release the GIL; errors
//! become `rostree.Error` and its subclasses, with the path they are about as `path`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError};

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rostree_ffi::RostreeErrorCode;
use rostree_ffi::pull::{Cancellable as Flag, CountingProgress};
use rostree_ffi::repo::Repository;
use rostree_ffi::sysroot::LoadedSysroot;

create_exception!(
    rostree,
    Error,
    PyException,
    "A rostree operation failed; `path` names what it was about, if anything."
);
create_exception!(
    rostree,
    NotFoundError,
    Error,
    "A file, repository, ref, remote or object does not exist."
);
create_exception!(
    rostree,
    CancelledError,
    Error,
    "The operation was cancelled through its Cancellable."
);
create_exception!(
    rostree,
    InvalidArgumentError,
    Error,
    "An argument was not valid."
);

/// The Python exception for a library error, its `path` attribute set.
fn raise(error: rostree_ffi::errors::Error) -> PyErr {
    let message = error.message().to_string_lossy().into_owned();
    let err = match error.code() {
        RostreeErrorCode::NotFound => NotFoundError::new_err(message),
        RostreeErrorCode::Cancelled => CancelledError::new_err(message),
        RostreeErrorCode::InvalidArgument => InvalidArgumentError::new_err(message),
        RostreeErrorCode::Failed => Error::new_err(message),
    };
    let path = error.path().map(|p| p.to_string_lossy().into_owned());
    Python::with_gil(|py| {
        // Setting an attribute of a fresh exception object cannot fail in practice; if it
        // did, the exception would still carry its message.
        let _ = err.value(py).setattr("path", path);
    });
    err
}

/// A flag that stops the operations it is passed to.
#[pyclass(module = "rostree", frozen)]
#[derive(Default)]
struct Cancellable(Flag);

#[pymethods]
impl Cancellable {
    #[new]
    fn new() -> Self {
        Cancellable::default()
    }

    /// Asks the operations watching this flag to stop; callable from any thread.
    fn cancel(&self) {
        self.0.cancel();
    }

    /// Whether `cancel()` was called.
    #[getter]
    fn cancelled(&self) -> bool {
        self.0.flag().load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// An OSTree repository.
#[pyclass(module = "rostree", frozen)]
struct Repo {
    inner: Arc<Repository>,
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
}

/// Runs `operation` without the GIL, its progress going to the Python `progress` callback
/// (with the GIL) and `cancellable` stopping it. The first exception the callback raises
/// stops the operation and is raised again in its place.
fn with_progress<T: Send>(
    py: Python<'_>,
    progress: Option<PyObject>,
    cancellable: Option<Py<Cancellable>>,
    operation: impl FnOnce(&dyn rostree_ffi::Progress, &AtomicBool) -> rostree_ffi::repo::Result<T>
    + Send,
) -> PyResult<T> {
    let flag = cancellable.map(|c| c.get().0.clone()).unwrap_or_default();
    let raised: Mutex<Option<PyErr>> = Mutex::new(None);
    let report = |phase: Option<&'static str>, counts: rostree_ffi::pull::Counts| {
        let Some(callback) = &progress else { return };
        Python::with_gil(|py| {
            if let Err(e) = callback.call1(py, (phase, counts.done, counts.total, counts.bytes)) {
                let mut first = raised.lock().unwrap_or_else(PoisonError::into_inner);
                first.get_or_insert(e);
                flag.cancel();
            }
        });
    };
    let outcome = py.allow_threads(|| operation(&CountingProgress::new(report), flag.flag()));
    if let Some(e) = raised.into_inner().unwrap_or_else(PoisonError::into_inner) {
        return Err(e);
    }
    outcome.map_err(raise)
}

/// One deployment of a sysroot.
#[pyclass(module = "rostree", frozen, get_all)]
#[derive(Clone)]
struct Deployment {
    checksum: String,
    stateroot: String,
    serial: u32,
    booted: bool,
    path: PathBuf,
}

#[pymethods]
impl Deployment {
    fn __repr__(&self) -> String {
        format!(
            "Deployment(stateroot={:?}, checksum={:?}, serial={}, booted={})",
            self.stateroot, self.checksum, self.serial, self.booted
        )
    }
}

/// A loaded sysroot.
#[pyclass(module = "rostree", frozen)]
struct Sysroot {
    inner: Mutex<LoadedSysroot>,
    path: PathBuf,
}

impl Sysroot {
    fn list(sysroot: &LoadedSysroot) -> Vec<Deployment> {
        (0..sysroot.deployments().len())
            .filter_map(|i| {
                let d = sysroot.deployments().get(i)?;
                Some(Deployment {
                    checksum: d.checksum.to_string(),
                    stateroot: d.stateroot.clone(),
                    serial: d.serial,
                    booted: sysroot.is_booted(i),
                    path: sysroot.deployment_path(i)?,
                })
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LoadedSysroot> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[pymethods]
impl Sysroot {
    /// Loads the sysroot at `path`.
    #[new]
    fn new(py: Python<'_>, path: PathBuf) -> PyResult<Sysroot> {
        let inner = py
            .allow_threads(|| LoadedSysroot::load(&path))
            .map_err(raise)?;
        Ok(Sysroot {
            inner: Mutex::new(inner),
            path,
        })
    }

    /// Lays out a sysroot at `path` and the stateroot `stateroot` in it.
    #[staticmethod]
    fn init(py: Python<'_>, path: PathBuf, stateroot: &str) -> PyResult<()> {
        py.allow_threads(|| rostree_ffi::sysroot::init(&path, stateroot))
            .map_err(raise)
    }

    /// The deployments, the default first.
    #[getter]
    fn deployments(&self) -> Vec<Deployment> {
        Sysroot::list(&self.lock())
    }

    /// Loads the sysroot again from disk.
    fn reload(&self, py: Python<'_>) -> PyResult<()> {
        let fresh = py
            .allow_threads(|| LoadedSysroot::load(&self.path))
            .map_err(raise)?;
        *self.lock() = fresh;
        Ok(())
    }

    /// Upgrades `stateroot` (default: the booted one's) from its origin; returns whether a
    /// new deployment was made.
    #[pyo3(signature = (stateroot = None, *, allow_downgrade = false, progress = None, cancellable = None))]
    fn upgrade(
        &self,
        py: Python<'_>,
        stateroot: Option<&str>,
        allow_downgrade: bool,
        progress: Option<PyObject>,
        cancellable: Option<Py<Cancellable>>,
    ) -> PyResult<bool> {
        with_progress(py, progress, cancellable, |reporter, flag| {
            self.lock()
                .upgrade(stateroot, allow_downgrade, reporter, flag)
        })
    }

    /// Makes deployment `index` the default (1 is the rollback).
    fn set_default(&self, py: Python<'_>, index: usize) -> PyResult<()> {
        py.allow_threads(|| self.lock().set_default(index))
            .map_err(raise)
    }

    /// Deploys `refspec` as the new default deployment of `stateroot`; returns it.
    #[pyo3(signature = (stateroot, refspec, *, kargs = Vec::new()))]
    fn deploy(
        &self,
        py: Python<'_>,
        stateroot: &str,
        refspec: &str,
        kargs: Vec<String>,
    ) -> PyResult<Deployment> {
        let deployments = py.allow_threads(|| {
            let mut sysroot = self.lock();
            sysroot.deploy(stateroot, refspec, &kargs)?;
            Ok(Sysroot::list(&sysroot))
        });
        deployments
            .map_err(raise)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::new_err("the deployment is not in the sysroot after deploying"))
    }
}

/// The extension module.
#[pymodule]
fn _rostree(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("Error", py.get_type::<Error>())?;
    m.add("NotFoundError", py.get_type::<NotFoundError>())?;
    m.add("CancelledError", py.get_type::<CancelledError>())?;
    m.add(
        "InvalidArgumentError",
        py.get_type::<InvalidArgumentError>(),
    )?;
    m.add_class::<Cancellable>()?;
    m.add_class::<Repo>()?;
    m.add_class::<Deployment>()?;
    m.add_class::<Sysroot>()?;
    Ok(())
}
