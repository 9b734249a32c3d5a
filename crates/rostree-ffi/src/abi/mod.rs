//! The C ABI: every exported function, and every `unsafe` of the crate.
//!
//! Each function turns its C arguments into Rust values (checking NULLs and UTF-8), calls
//! the safe layer (the crate's `repo`, `pull` and `sysroot` modules) inside
//! `catch_unwind`, and turns the outcome into a status and a `RostreeError`. No panic
//! crosses the boundary.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, OsStr, c_char, c_int, c_void};
use std::os::unix::ffi::OsStrExt as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use crate::errors::{Error, RostreeErrorCode, c_string};
use crate::pull::{Cancellable, CountingProgress, Counts};
use crate::repo::{Repository, Result};
use crate::sysroot::LoadedSysroot;

/// Size of a buffer that receives a checksum: 64 lowercase hex digits and a NUL.
pub const ROSTREE_CHECKSUM_BUFSIZE: usize = 65;

/// An error: a code, a message and, when it is about one, a path. Free it with
/// `rostree_error_free`. Not to be shared between threads while being freed.
pub struct RostreeError(Error);

/// An open repository. Thread-safety: a repository may be used from several threads at
/// once; reads (resolve, commit, checkout, fsck, pull, list refs) run side by side, while
/// `rostree_repo_remote_add` and `rostree_repo_update_summary` wait for them and run
/// alone. It must not be freed while another thread uses it.
pub struct RostreeRepo(Repository);

/// A loaded sysroot and its deployments, as they were when it was loaded (or last
/// deployed to). Thread-safety: use it from one thread at a time.
pub struct RostreeSysroot(LoadedSysroot);

/// A flag that cancels the operations it is passed to. `rostree_cancellable_cancel` may
/// be called from any thread, also while an operation runs; the cancellable must outlive
/// the operations using it.
pub struct RostreeCancellable(Cancellable);

/// The thread safety the handles' documentation promises, checked at compile time.
const fn thread_safe<T: Send + Sync>() {}
const _: () = {
    thread_safe::<RostreeRepo>();
    thread_safe::<RostreeCancellable>();
    thread_safe::<RostreeError>();
};
/// A sysroot may move between threads (one at a time).
const fn movable<T: Send>() {}
const _: () = movable::<RostreeSysroot>();

/// Progress of a pull: `phase` names a phase that begins (else NULL, and an object was
/// fetched); `done` objects of `total` known so far are fetched, `bytes` bytes received.
/// It may be called on any thread (the caller's or one of the library's workers), but
/// never two calls at once; it must not call back into rostree with the same repository.
pub type RostreeProgressFn = Option<
    unsafe extern "C" fn(
        phase: *const c_char,
        done: u64,
        total: u64,
        bytes: u64,
        user_data: *mut c_void,
    ),
>;

/// The caller's `user_data`, handed back to its progress callback from the library's
/// worker threads.
#[derive(Clone, Copy)]
struct UserData(*mut c_void);

// SAFETY: rostree never dereferences it; it goes back to the caller's callback, one call at
// a time, and the header tells the caller that the callback runs on other threads.
unsafe impl Send for UserData {}
// SAFETY: as above.
unsafe impl Sync for UserData {}

impl UserData {
    /// The pointer (a method, so that closures capture the whole `Sync` wrapper).
    fn get(self) -> *mut c_void {
        self.0
    }
}

/// The library's progress events as calls of the caller's `progress` (or none when NULL).
///
/// # Safety
/// `progress` is NULL or a function as `RostreeProgressFn` says, `user_data` what it takes.
unsafe fn c_progress(
    progress: RostreeProgressFn,
    user_data: *mut c_void,
) -> CountingProgress<impl Fn(Option<&'static str>, Counts) + Sync> {
    let data = UserData(user_data);
    CountingProgress::new(move |phase: Option<&'static str>, counts: Counts| {
        let Some(callback) = progress else {
            return;
        };
        let phase = phase.map(c_string);
        let phase = phase.as_ref().map_or(std::ptr::null(), |p| p.as_ptr());
        // SAFETY: the caller's callback, with the arguments it asked for (promised by the
        // caller of `c_progress`).
        unsafe { callback(phase, counts.done, counts.total, counts.bytes, data.get()) };
    })
}

/// One ref of a listing: its name (`name` or `remote:name`) and its commit's checksum, both
/// valid during the call. Return 0 to go on, nonzero to stop the listing.
pub type RostreeRefFn = Option<
    unsafe extern "C" fn(
        name: *const c_char,
        checksum: *const c_char,
        user_data: *mut c_void,
    ) -> c_int,
>;

/// One name of a listing (a static delta's), valid during the call. Return 0 to go on,
/// nonzero to stop the listing.
pub type RostreeNameFn =
    Option<unsafe extern "C" fn(name: *const c_char, user_data: *mut c_void) -> c_int>;

/// Runs `f`, a panic becoming its fallback value.
fn guard<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// Runs `f` (a panic becoming an error) and returns its status: 0, or the error's code,
/// the error then stored in `*error` unless `error` is NULL or `*error` holds one already
/// (the first error is kept, as GLib does).
///
/// # Safety
/// `error` is NULL or valid for reads and writes of a pointer.
unsafe fn status(error: *mut *mut RostreeError, f: impl FnOnce() -> Result<()>) -> c_int {
    let result = catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| Err(Error::from_panic(p)));
    let Err(e) = result else {
        return 0;
    };
    let code = e.code() as c_int;
    // SAFETY: the caller's promise.
    if let Some(slot) = unsafe { error.as_mut() }
        && slot.is_null()
    {
        *slot = Box::into_raw(Box::new(RostreeError(e)));
    }
    code
}

/// # Safety
/// `ptr` is NULL or a NUL-terminated string that outlives `'a`.
unsafe fn c_str<'a>(ptr: *const c_char, what: &str) -> Result<&'a CStr> {
    if ptr.is_null() {
        return Err(Error::invalid_argument(format!("{what} is NULL")));
    }
    // SAFETY: the caller's promise.
    Ok(unsafe { CStr::from_ptr(ptr) })
}

/// A path: any bytes but NUL, as Unix paths are.
///
/// # Safety
/// As [`c_str`].
unsafe fn c_path<'a>(ptr: *const c_char, what: &str) -> Result<&'a Path> {
    // SAFETY: the caller's promise.
    let bytes = unsafe { c_str(ptr, what) }?.to_bytes();
    Ok(Path::new(OsStr::from_bytes(bytes)))
}

/// A name (ref, remote, stateroot...): UTF-8.
///
/// # Safety
/// As [`c_str`].
unsafe fn c_text<'a>(ptr: *const c_char, what: &str) -> Result<&'a str> {
    // SAFETY: the caller's promise.
    unsafe { c_str(ptr, what) }?
        .to_str()
        .map_err(|_| Error::invalid_argument(format!("{what} is not UTF-8")))
}

/// `n` names from an array (which may be NULL when `n` is 0).
///
/// # Safety
/// `ptrs` is NULL or points to `n` pointers, each as [`c_str`] wants.
unsafe fn c_texts(ptrs: *const *const c_char, n: usize, what: &str) -> Result<Vec<String>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if ptrs.is_null() {
        return Err(Error::invalid_argument(format!("{what} is NULL")));
    }
    // SAFETY: the caller's promise.
    let ptrs = unsafe { std::slice::from_raw_parts(ptrs, n) };
    // SAFETY: the caller's promise, for each element.
    ptrs.iter()
        .map(|p| unsafe { c_text(*p, what) }.map(str::to_owned))
        .collect()
}

/// # Safety
/// `ptr` is NULL or a live handle of type `T`, not mutated elsewhere during `'a`.
unsafe fn handle<'a, T>(ptr: *const T, what: &str) -> Result<&'a T> {
    // SAFETY: the caller's promise.
    unsafe { ptr.as_ref() }.ok_or_else(|| Error::invalid_argument(format!("{what} is NULL")))
}

/// An optional string argument: `None` for NULL.
///
/// # Safety
/// As [`c_text`], NULL allowed.
unsafe fn c_text_or_null<'a>(ptr: *const c_char, what: &str) -> Result<Option<&'a str>> {
    match ptr.is_null() {
        true => Ok(None),
        // SAFETY: the caller's promise.
        false => unsafe { c_text(ptr, what) }.map(Some),
    }
}

/// Hands `text` to C through an optional output pointer (NULL: not wanted), to free with
/// `rostree_string_free`.
///
/// # Safety
/// `out` is NULL or valid for writes of a pointer.
unsafe fn give_text(out: *mut *mut c_char, text: String) {
    if !out.is_null() {
        // SAFETY: the caller's promise.
        unsafe { *out = c_string(text).into_raw() };
    }
}

/// Checks that an output pointer is there before any work is done.
fn out<T>(ptr: *mut T, what: &str) -> Result<*mut T> {
    match ptr.is_null() {
        true => Err(Error::invalid_argument(format!("{what} is NULL"))),
        false => Ok(ptr),
    }
}

/// Writes `checksum` as hex and a NUL.
///
/// # Safety
/// `buf` is valid for writes of [`ROSTREE_CHECKSUM_BUFSIZE`] bytes.
unsafe fn write_checksum(buf: *mut c_char, checksum: &rostree::Checksum) {
    let hex = c_string(checksum.to_string());
    let bytes = hex.as_bytes_with_nul();
    let n = bytes.len().min(ROSTREE_CHECKSUM_BUFSIZE);
    // SAFETY: the caller's promise; `n` bytes fit, and the source is a distinct allocation.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr().cast(), buf, n) };
}

/// Moves `value` to the heap for C to own.
///
/// # Safety
/// `out` is valid for writes of a pointer.
unsafe fn give<T>(out: *mut *mut T, value: T) {
    // SAFETY: the caller's promise.
    unsafe { *out = Box::into_raw(Box::new(value)) };
}

/// Frees what [`give`] handed out.
///
/// # Safety
/// `ptr` is NULL or came from [`give`] and is not used again.
unsafe fn take<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: the caller's promise.
        drop(unsafe { Box::from_raw(ptr) });
    }
}

/// The library's version, as a static string.
#[unsafe(no_mangle)]
pub extern "C" fn rostree_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The error's message (upstream's words where it has them), valid until the error is
/// freed. NULL for a NULL error.
///
/// # Safety
/// `error` is NULL or an error rostree returned and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_error_message(error: *const RostreeError) -> *const c_char {
    // SAFETY: the caller's promise.
    guard(std::ptr::null(), || match unsafe { error.as_ref() } {
        Some(e) => e.0.message().as_ptr(),
        None => std::ptr::null(),
    })
}

/// The error's code (what the failed call returned). `ROSTREE_ERROR_CODE_FAILED` for a
/// NULL error.
///
/// # Safety
/// As `rostree_error_message`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_error_code(error: *const RostreeError) -> RostreeErrorCode {
    // SAFETY: the caller's promise.
    guard(RostreeErrorCode::Failed, || {
        match unsafe { error.as_ref() } {
            Some(e) => e.0.code(),
            None => RostreeErrorCode::Failed,
        }
    })
}

/// The file or directory the error is about, valid until the error is freed; NULL when
/// it names none. Relative paths are relative to the repository or sysroot.
///
/// # Safety
/// As `rostree_error_message`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_error_path(error: *const RostreeError) -> *const c_char {
    // SAFETY: the caller's promise.
    guard(std::ptr::null(), || {
        match unsafe { error.as_ref() }.and_then(|e| e.0.path()) {
            Some(p) => p.as_ptr(),
            None => std::ptr::null(),
        }
    })
}

/// The object the error is about, as `CHECKSUM.TYPE` (`a1b2….commit`, `….dirtree`,
/// `….file`), valid until the error is freed; NULL when it names none.
///
/// # Safety
/// As `rostree_error_message`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_error_object(error: *const RostreeError) -> *const c_char {
    // SAFETY: the caller's promise.
    guard(std::ptr::null(), || {
        match unsafe { error.as_ref() }.and_then(|e| e.0.object()) {
            Some(o) => o.as_ptr(),
            None => std::ptr::null(),
        }
    })
}

/// Frees an error; NULL is ignored.
///
/// # Safety
/// `error` is NULL or an error rostree returned, not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_error_free(error: *mut RostreeError) {
    // SAFETY: the caller's promise.
    guard((), || unsafe { take(error) })
}

/// Frees a string rostree returned for the caller to own; NULL is ignored.
///
/// # Safety
/// `string` is NULL or such a string, not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_string_free(string: *mut c_char) {
    if !string.is_null() {
        // SAFETY: the caller's promise: it came from `CString::into_raw`.
        guard((), || drop(unsafe { CString::from_raw(string) }))
    }
}

/// A new cancellable, not cancelled. Free it with `rostree_cancellable_free`.
#[unsafe(no_mangle)]
pub extern "C" fn rostree_cancellable_new() -> *mut RostreeCancellable {
    guard(std::ptr::null_mut(), || {
        Box::into_raw(Box::new(RostreeCancellable(Cancellable::default())))
    })
}

/// Cancels the operations using `cancellable` (they fail with
/// `ROSTREE_ERROR_CODE_CANCELLED`), and those it is passed to later. Any thread may call it.
///
/// # Safety
/// `cancellable` is NULL or a live cancellable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_cancellable_cancel(cancellable: *const RostreeCancellable) {
    // SAFETY: the caller's promise.
    guard((), || {
        if let Some(c) = unsafe { cancellable.as_ref() } {
            c.0.cancel();
        }
    })
}

/// Frees a cancellable; NULL is ignored.
///
/// # Safety
/// `cancellable` is NULL or a cancellable no operation uses any more, not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_cancellable_free(cancellable: *mut RostreeCancellable) {
    // SAFETY: the caller's promise.
    guard((), || unsafe { take(cancellable) })
}

pub mod read;
pub mod repo;
pub mod sysroot;

#[cfg(test)]
mod tests {
    use std::ptr::{null, null_mut};

    use super::repo::*;
    use super::sysroot::*;
    use super::*;

    fn message(error: *const RostreeError) -> String {
        // SAFETY: a live error's message.
        unsafe { CStr::from_ptr(rostree_error_message(error)) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn panics_become_errors_and_the_first_error_is_kept() {
        let mut error = null_mut();
        // SAFETY: `error` is a valid slot.
        let code = unsafe { status(&mut error, || panic!("boom")) };
        assert_eq!(code, RostreeErrorCode::Failed as c_int);
        assert!(message(error).contains("boom"), "{}", message(error));
        let first = error;
        // SAFETY: as above.
        let code = unsafe { status(&mut error, || Err(Error::invalid_argument("second"))) };
        assert_eq!(code, RostreeErrorCode::InvalidArgument as c_int);
        assert_eq!(error, first);
        // SAFETY: the error rostree made, freed once.
        unsafe { rostree_error_free(error) };
    }

    #[test]
    fn missing_repo_through_the_abi() -> std::result::Result<(), Box<dyn std::error::Error>> {
        let tmp = tempfile::tempdir()?;
        let missing = CString::new(
            tmp.path()
                .join("missing")
                .into_os_string()
                .into_encoded_bytes(),
        )?;
        let (mut repo, mut error) = (null_mut(), null_mut());
        // SAFETY: valid strings and slots.
        let code = unsafe { rostree_repo_open(missing.as_ptr(), &mut repo, &mut error) };
        assert_eq!(code, RostreeErrorCode::NotFound as c_int);
        assert!(repo.is_null());
        // SAFETY: a live error.
        unsafe {
            assert_eq!(rostree_error_code(error), RostreeErrorCode::NotFound);
            assert_eq!(
                CStr::from_ptr(rostree_error_path(error)),
                missing.as_c_str()
            );
            rostree_error_free(error);
        }
        Ok(())
    }

    #[test]
    fn null_arguments_are_invalid() -> std::result::Result<(), Box<dyn std::error::Error>> {
        let tmp = tempfile::tempdir()?;
        let path = CString::new(tmp.path().as_os_str().as_encoded_bytes())?;
        let (mut repo, mut error) = (null_mut(), null_mut());
        let mut checksum = [0 as c_char; ROSTREE_CHECKSUM_BUFSIZE];
        // SAFETY: valid strings, slots and buffers, or NULLs where they are refused.
        unsafe {
            assert_eq!(rostree_repo_open(null(), &mut repo, null_mut()), 3);
            assert_eq!(
                rostree_repo_init(path.as_ptr(), null(), null_mut(), null_mut()),
                3
            );
            assert_eq!(
                rostree_repo_init(path.as_ptr(), c"bare-user".as_ptr(), &mut repo, &mut error),
                0
            );
            assert!(error.is_null());
            let code = rostree_repo_resolve_rev(repo, null(), checksum.as_mut_ptr(), &mut error);
            assert_eq!(code, 3);
            assert_eq!(message(error), "rev is NULL");
            rostree_error_free(error);
            assert_eq!(
                rostree_repo_list_refs(repo, None, null_mut(), null_mut()),
                3
            );
            assert_eq!(rostree_sysroot_deployment_count(null()), 0);
            assert_eq!(rostree_sysroot_deployment_serial(null(), 0), -1);
            assert!(rostree_sysroot_deployment_stateroot(null(), 0).is_null());
            assert_eq!(
                rostree_sysroot_deployment_checksum(null(), 0, checksum.as_mut_ptr()),
                3
            );
            rostree_repo_free(repo);
            rostree_repo_free(null_mut());
            rostree_error_free(null_mut());
            rostree_string_free(null_mut());
        }
        Ok(())
    }

    #[test]
    fn checksums_are_hex_and_nul() {
        let mut buf = [1 as c_char; ROSTREE_CHECKSUM_BUFSIZE];
        let checksum = rostree::Checksum::digest(b"x");
        // SAFETY: a buffer of the size promised.
        unsafe { write_checksum(buf.as_mut_ptr(), &checksum) };
        // SAFETY: written with a NUL.
        let written = unsafe { CStr::from_ptr(buf.as_ptr()) };
        assert_eq!(written.to_str().ok(), Some(checksum.to_string().as_str()));
        assert_eq!(written.to_bytes().len(), 64);
    }

    #[test]
    fn version_is_the_crate_version() {
        // SAFETY: a static string.
        let version = unsafe { CStr::from_ptr(rostree_version()) };
        assert_eq!(version.to_str().ok(), Some(env!("CARGO_PKG_VERSION")));
    }
}
