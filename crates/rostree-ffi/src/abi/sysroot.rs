//! `rostree_sysroot_*`: sysroots and their deployments.

use super::*;

/// Lays out a sysroot at `path` (the directory is made if missing) with the stateroot
/// `stateroot`, as `ostree admin init-fs PATH` then `ostree admin --sysroot=PATH os-init
/// STATEROOT`. A stateroot that exists already is an error.
///
/// # Safety
/// `path` and `stateroot` are NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_sysroot_init(
    path: *const c_char,
    stateroot: *const c_char,
    error: *mut *mut RostreeError,
) -> c_int {
    // SAFETY: the caller's promises.
    unsafe {
        status(error, || {
            crate::sysroot::init(c_path(path, "path")?, c_text(stateroot, "stateroot")?)
        })
    }
}

/// Loads the sysroot at `path` and its deployments (`OSTREE_SYSROOT_DEBUG` applies, as for
/// the `ostree` command). On success `*sysroot` is the loaded sysroot, to free with
/// `rostree_sysroot_free`.
///
/// # Safety
/// `path` is a NUL-terminated string; `sysroot` is valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_sysroot_load(
    path: *const c_char,
    sysroot: *mut *mut RostreeSysroot,
    error: *mut *mut RostreeError,
) -> c_int {
    // SAFETY: the caller's promises.
    unsafe {
        status(error, || {
            let sysroot = out(sysroot, "sysroot")?;
            let loaded = LoadedSysroot::load(c_path(path, "path")?)?;
            give(sysroot, RostreeSysroot(loaded));
            Ok(())
        })
    }
}

/// Frees a sysroot; NULL is ignored.
///
/// # Safety
/// `sysroot` is NULL or a loaded sysroot, not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_sysroot_free(sysroot: *mut RostreeSysroot) {
    // SAFETY: the caller's promise.
    guard((), || unsafe { take(sysroot) })
}

/// How many deployments the sysroot has (0 for NULL); index 0 is the default one.
///
/// # Safety
/// `sysroot` is NULL or a loaded sysroot.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_sysroot_deployment_count(sysroot: *const RostreeSysroot) -> usize {
    // SAFETY: the caller's promise.
    guard(0, || {
        unsafe { sysroot.as_ref() }.map_or(0, |s| s.0.deployments().len())
    })
}

/// Writes the commit checksum of deployment `index` into `checksum_out`. Returns 0, or
/// `ROSTREE_ERROR_CODE_INVALID_ARGUMENT` when there is no such deployment (or an argument
/// is NULL).
///
/// # Safety
/// `sysroot` is NULL or a loaded sysroot; `checksum_out` is NULL or valid for writing
/// `ROSTREE_CHECKSUM_BUFSIZE` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_sysroot_deployment_checksum(
    sysroot: *const RostreeSysroot,
    index: usize,
    checksum_out: *mut c_char,
) -> c_int {
    // SAFETY: the caller's promises.
    unsafe {
        status(std::ptr::null_mut(), || {
            let checksum_out = out(checksum_out, "checksum_out")?;
            let sysroot = handle(sysroot, "sysroot")?;
            let deployment = sysroot.0.deployments().get(index).ok_or_else(|| {
                Error::invalid_argument(format!("Out of range deployment index {index}"))
            })?;
            write_checksum(checksum_out, &deployment.checksum);
            Ok(())
        })
    }
}

/// The stateroot of deployment `index`, valid until the sysroot is freed or deployed to;
/// NULL when there is no such deployment.
///
/// # Safety
/// `sysroot` is NULL or a loaded sysroot.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_sysroot_deployment_stateroot(
    sysroot: *const RostreeSysroot,
    index: usize,
) -> *const c_char {
    // SAFETY: the caller's promise.
    unsafe { deployment_text(sysroot, |s| s.stateroot(index)) }
}

/// The serial of deployment `index` (which tells deployments of one commit apart); -1
/// when there is no such deployment.
///
/// # Safety
/// `sysroot` is NULL or a loaded sysroot.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_sysroot_deployment_serial(
    sysroot: *const RostreeSysroot,
    index: usize,
) -> i64 {
    // SAFETY: the caller's promise.
    guard(-1, || {
        unsafe { sysroot.as_ref() }
            .and_then(|s| s.0.deployments().get(index))
            .map_or(-1, |d| i64::from(d.serial))
    })
}

/// Deployment state: the running system booted it.
pub const ROSTREE_DEPLOYMENT_BOOTED: u32 = 1;
/// Deployment state: it boots next, in place of the booted one of its stateroot.
pub const ROSTREE_DEPLOYMENT_PENDING: u32 = 1 << 1;
/// Deployment state: the booted one's predecessor, kept to roll back to.
pub const ROSTREE_DEPLOYMENT_ROLLBACK: u32 = 1 << 2;
/// Deployment state: staged, to be written into the bootloader's list at shutdown.
pub const ROSTREE_DEPLOYMENT_STAGED: u32 = 1 << 3;
/// Deployment state: pinned, so that cleanup never removes it.
pub const ROSTREE_DEPLOYMENT_PINNED: u32 = 1 << 4;
/// Deployment state: staged with its finalization locked.
pub const ROSTREE_DEPLOYMENT_FINALIZATION_LOCKED: u32 = 1 << 5;

/// The state of deployment `index` as `ostree admin status` marks it: the
/// `ROSTREE_DEPLOYMENT_*` flags that hold, or'ed (0 when there is no such deployment).
///
/// # Safety
/// `sysroot` is NULL or a loaded sysroot.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_sysroot_deployment_state(
    sysroot: *const RostreeSysroot,
    index: usize,
) -> u32 {
    // SAFETY: the caller's promise.
    guard(0, || {
        let Some(d) = unsafe { sysroot.as_ref() }.and_then(|s| s.0.status().get(index)) else {
            return 0;
        };
        [
            (d.booted, ROSTREE_DEPLOYMENT_BOOTED),
            (d.pending, ROSTREE_DEPLOYMENT_PENDING),
            (d.rollback, ROSTREE_DEPLOYMENT_ROLLBACK),
            (d.staged, ROSTREE_DEPLOYMENT_STAGED),
            (d.pinned, ROSTREE_DEPLOYMENT_PINNED),
            (
                d.finalization_locked,
                ROSTREE_DEPLOYMENT_FINALIZATION_LOCKED,
            ),
        ]
        .into_iter()
        .filter(|(holds, _)| *holds)
        .fold(0, |flags, (_, flag)| flags | flag)
    })
}

/// The `version` of deployment `index`'s commit, valid until the sysroot is freed or
/// deployed to; NULL when it has none or there is no such deployment.
///
/// # Safety
/// `sysroot` is NULL or a loaded sysroot.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_sysroot_deployment_version(
    sysroot: *const RostreeSysroot,
    index: usize,
) -> *const c_char {
    // SAFETY: the caller's promise.
    unsafe { deployment_text(sysroot, |s| s.version(index)) }
}

/// The refspec deployment `index`'s origin follows (what an upgrade pulls), valid until
/// the sysroot is freed or deployed to; NULL when its origin names none or there is no
/// such deployment.
///
/// # Safety
/// `sysroot` is NULL or a loaded sysroot.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_sysroot_deployment_refspec(
    sysroot: *const RostreeSysroot,
    index: usize,
) -> *const c_char {
    // SAFETY: the caller's promise.
    unsafe { deployment_text(sysroot, |s| s.refspec(index)) }
}

/// The directory of deployment `index` (its root file system), absolute when the sysroot
/// was loaded by an absolute path; NULL when there is no such deployment. Free it with
/// `rostree_string_free`.
///
/// # Safety
/// `sysroot` is NULL or a loaded sysroot.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_sysroot_deployment_path(
    sysroot: *const RostreeSysroot,
    index: usize,
) -> *mut c_char {
    // SAFETY: the caller's promise.
    guard(std::ptr::null_mut(), || {
        unsafe { sysroot.as_ref() }
            .and_then(|s| s.0.deployment_path(index))
            .and_then(|path| {
                CString::new(std::os::unix::ffi::OsStringExt::into_vec(
                    path.into_os_string(),
                ))
                .ok()
            })
            .map_or(std::ptr::null_mut(), CString::into_raw)
    })
}

/// Deploys `refspec` (a ref, `remote:ref` or checksum of the sysroot's repository) as the
/// new default deployment of `stateroot`, as `ostree admin --sysroot=PATH deploy
/// --os=STATEROOT --karg=K… REFSPEC`: under the sysroot's lock, `/etc` merged from the
/// stateroot's current deployment, the bootloader entries written, older deployments of
/// the stateroot dropped and the repository pruned. Each of the `n_kargs` `kargs`
/// (`NAME=VALUE`) replaces the same-named argument of the current deployment's; with none,
/// its arguments carry over. The sysroot is loaded again afterwards.
///
/// # Safety
/// `sysroot` is a loaded sysroot no other thread uses; `stateroot` and `refspec` are
/// NUL-terminated strings; `kargs` points to `n_kargs` NUL-terminated strings (or is NULL
/// when `n_kargs` is 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_sysroot_deploy(
    sysroot: *mut RostreeSysroot,
    stateroot: *const c_char,
    refspec: *const c_char,
    kargs: *const *const c_char,
    n_kargs: usize,
    error: *mut *mut RostreeError,
) -> c_int {
    // SAFETY: the caller's promises.
    unsafe {
        status(error, || {
            let sysroot = sysroot
                .as_mut()
                .ok_or_else(|| Error::invalid_argument("sysroot is NULL"))?;
            let stateroot = c_text(stateroot, "stateroot")?;
            let refspec = c_text(refspec, "refspec")?;
            let kargs = c_texts(kargs, n_kargs, "kargs")?;
            sysroot.0.deploy(stateroot, refspec, &kargs)
        })
    }
}

/// Upgrades `stateroot` (NULL: the booted deployment's) as `ostree admin --sysroot=PATH
/// upgrade [--os=STATEROOT] [--allow-downgrade]`: under the sysroot's lock, pulls what the
/// stateroot's current deployment's origin names, with the checks its remote's
/// configuration asks for, and when that is a new commit deploys it as the new default,
/// the current one kept as the rollback. `*changed` (when not NULL) tells whether it
/// deployed. `progress`, `user_data` and `cancellable` are as for `rostree_repo_pull`. The
/// sysroot is loaded again afterwards.
///
/// # Safety
/// `sysroot` is a loaded sysroot no other thread uses; `stateroot` is NULL or a
/// NUL-terminated string; `changed` is NULL or writable; `progress` is NULL or as
/// `RostreeProgressFn` says; `cancellable` is NULL or a live cancellable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments, reason = "the C API's shape")]
pub unsafe extern "C" fn rostree_sysroot_upgrade(
    sysroot: *mut RostreeSysroot,
    stateroot: *const c_char,
    allow_downgrade: bool,
    progress: RostreeProgressFn,
    user_data: *mut c_void,
    cancellable: *const RostreeCancellable,
    changed: *mut bool,
    error: *mut *mut RostreeError,
) -> c_int {
    // SAFETY: the caller's promises.
    unsafe {
        status(error, || {
            let sysroot = sysroot
                .as_mut()
                .ok_or_else(|| Error::invalid_argument("sysroot is NULL"))?;
            let stateroot = match stateroot.is_null() {
                true => None,
                false => Some(c_text(stateroot, "stateroot")?),
            };
            let not_cancelled = Cancellable::default();
            let cancellable = cancellable.as_ref().map_or(&not_cancelled, |c| &c.0);
            let progress = c_progress(progress, user_data);
            let deployed =
                sysroot
                    .0
                    .upgrade(stateroot, allow_downgrade, &progress, cancellable.flag())?;
            if let Some(changed) = changed.as_mut() {
                *changed = deployed;
            }
            Ok(())
        })
    }
}

/// Makes deployment `index` the default, as `ostree admin --sysroot=PATH set-default
/// INDEX`: index 1 is the rollback, so this is how to roll back. The other deployments
/// keep their order; the sysroot is loaded again afterwards.
///
/// # Safety
/// `sysroot` is a loaded sysroot no other thread uses.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_sysroot_set_default(
    sysroot: *mut RostreeSysroot,
    index: usize,
    error: *mut *mut RostreeError,
) -> c_int {
    // SAFETY: the caller's promises.
    unsafe {
        status(error, || {
            let sysroot = sysroot
                .as_mut()
                .ok_or_else(|| Error::invalid_argument("sysroot is NULL"))?;
            sysroot.0.set_default(index)
        })
    }
}

/// A text of a deployment that the loaded sysroot keeps as a C string (NULL for a NULL
/// sysroot or no text).
///
/// # Safety
/// `sysroot` is NULL or a loaded sysroot.
unsafe fn deployment_text(
    sysroot: *const RostreeSysroot,
    text: impl FnOnce(&LoadedSysroot) -> Option<&CStr>,
) -> *const c_char {
    guard(std::ptr::null(), || {
        // SAFETY: the caller's promise.
        unsafe { sysroot.as_ref() }
            .and_then(|s| text(&s.0))
            .map_or(std::ptr::null(), CStr::as_ptr)
    })
}
