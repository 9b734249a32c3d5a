//! Python bindings of rostree (PyO3): the extension module `rostree._rostree`, which the
//! `rostree` package (`python/rostree`) re-exports with type stubs.
//!
//! They share the C ABI's safe layer (`rostree_ffi::{repo, read, signing, pull, sysroot}`),
//! so that C and Python do the same thing for the same call. Long operations release the
//! GIL; errors become `rostree.Error` and its subclasses, with the path and the object
//! they are about as `path` and `object`.

use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, PoisonError};

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use rostree_ffi::RostreeErrorCode;
use rostree_ffi::pull::{Cancellable as Flag, CountingProgress};

mod read;
mod repo;
mod sysroot;

create_exception!(
    rostree,
    Error,
    PyException,
    "A rostree operation failed; `path` and `object` name what it was about, if anything."
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

/// The Python exception for a library error, its `path` and `object` attributes set.
fn raise(error: rostree_ffi::errors::Error) -> PyErr {
    let message = error.message().to_string_lossy().into_owned();
    let err = match error.code() {
        RostreeErrorCode::NotFound => NotFoundError::new_err(message),
        RostreeErrorCode::Cancelled => CancelledError::new_err(message),
        RostreeErrorCode::InvalidArgument => InvalidArgumentError::new_err(message),
        RostreeErrorCode::Failed => Error::new_err(message),
    };
    let path = error.path().map(|p| p.to_string_lossy().into_owned());
    let object = error.object().map(|o| o.to_string_lossy().into_owned());
    Python::with_gil(|py| {
        // Setting an attribute of a fresh exception object cannot fail in practice; if it
        // did, the exception would still carry its message.
        let _ = err.value(py).setattr("path", path);
        let _ = err.value(py).setattr("object", object);
    });
    err
}

/// A flag that stops the operations it is passed to.
#[pyclass(module = "rostree", frozen)]
#[derive(Default)]
pub(crate) struct Cancellable(Flag);

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

/// Runs `operation` without the GIL, its progress going to the Python `progress` callback
/// (with the GIL) and `cancellable` stopping it. The first exception the callback raises
/// stops the operation and is raised again in its place.
pub(crate) fn with_progress<T: Send>(
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
    m.add_class::<repo::Repo>()?;
    m.add_class::<repo::PruneResult>()?;
    m.add_class::<read::Commit>()?;
    m.add_class::<read::TreeEntry>()?;
    m.add_class::<read::TreeIterator>()?;
    m.add_class::<read::FileReader>()?;
    m.add_class::<sysroot::Deployment>()?;
    m.add_class::<sysroot::Sysroot>()?;
    Ok(())
}
