//! `rostree.Sysroot` and its `Deployment`s.

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use pyo3::prelude::*;
use rostree_ffi::sysroot::LoadedSysroot;

use crate::{Cancellable, Error, raise, with_progress};

/// One deployment of a sysroot.
#[pyclass(module = "rostree", frozen, get_all)]
#[derive(Clone)]
pub(crate) struct Deployment {
    index: usize,
    checksum: String,
    stateroot: String,
    serial: u32,
    refspec: Option<String>,
    version: Option<String>,
    booted: bool,
    pending: bool,
    rollback: bool,
    staged: bool,
    pinned: bool,
    finalization_locked: bool,
    path: PathBuf,
}

#[pymethods]
impl Deployment {
    fn __repr__(&self) -> String {
        format!(
            "Deployment(index={}, stateroot={:?}, checksum={:?}, serial={}, booted={})",
            self.index, self.stateroot, self.checksum, self.serial, self.booted
        )
    }
}

/// A loaded sysroot.
#[pyclass(module = "rostree", frozen)]
pub(crate) struct Sysroot {
    inner: Mutex<LoadedSysroot>,
    path: PathBuf,
}

impl Sysroot {
    fn list(sysroot: &LoadedSysroot) -> Vec<Deployment> {
        sysroot
            .status()
            .iter()
            .filter_map(|d| {
                Some(Deployment {
                    index: d.index,
                    checksum: d.checksum.to_string(),
                    stateroot: d.stateroot.clone(),
                    serial: d.serial,
                    refspec: d.refspec.clone(),
                    version: d.version.clone(),
                    booted: d.booted,
                    pending: d.pending,
                    rollback: d.rollback,
                    staged: d.staged,
                    pinned: d.pinned,
                    finalization_locked: d.finalization_locked,
                    path: sysroot.deployment_path(d.index)?,
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
