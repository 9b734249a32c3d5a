//! `rostree_repo_*`: repositories.

use super::*;

/// Creates a repository at `path` (the directory is made if missing) in `mode`:
/// "archive", "bare", "bare-user" or "bare-user-only" (NULL: "bare"), as `ostree init`;
/// an existing repository is opened as it is. On success `*repo` is the open repository,
/// to free with `rostree_repo_free`.
///
/// # Safety
/// `path` and `mode` (or NULL) are NUL-terminated strings; `repo` is valid for writing a
/// pointer; `error` is NULL or valid for reading and writing a pointer (as for every call
/// with an `error` argument).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_repo_init(
    path: *const c_char,
    mode: *const c_char,
    repo: *mut *mut RostreeRepo,
    error: *mut *mut RostreeError,
) -> c_int {
    // SAFETY: the caller's promises, which the helpers need.
    unsafe {
        status(error, || {
            let repo = out(repo, "repo")?;
            let mode = c_text_or_null(mode, "mode")?.unwrap_or("bare");
            let opened = Repository::init(c_path(path, "path")?, mode)?;
            give(repo, RostreeRepo(opened));
            Ok(())
        })
    }
}

/// Opens the repository at `path`. On success `*repo` is the open repository, to free with
/// `rostree_repo_free`.
///
/// # Safety
/// `path` is a NUL-terminated string; `repo` is valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_repo_open(
    path: *const c_char,
    repo: *mut *mut RostreeRepo,
    error: *mut *mut RostreeError,
) -> c_int {
    // SAFETY: the caller's promises.
    unsafe {
        status(error, || {
            let repo = out(repo, "repo")?;
            give(repo, RostreeRepo(Repository::open(c_path(path, "path")?)?));
            Ok(())
        })
    }
}

/// Frees a repository; NULL is ignored.
///
/// # Safety
/// `repo` is NULL or an open repository that no other thread uses, not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_repo_free(repo: *mut RostreeRepo) {
    // SAFETY: the caller's promise.
    guard((), || unsafe { take(repo) })
}

/// Writes the checksum of the commit `rev` names (a ref, `remote:ref`, a checksum or a
/// unique prefix of one) into `checksum_out`. A revision that names nothing fails with
/// `ROSTREE_ERROR_CODE_NOT_FOUND`.
///
/// # Safety
/// `repo` is an open repository; `rev` a NUL-terminated string; `checksum_out` is valid
/// for writing `ROSTREE_CHECKSUM_BUFSIZE` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_repo_resolve_rev(
    repo: *const RostreeRepo,
    rev: *const c_char,
    checksum_out: *mut c_char,
    error: *mut *mut RostreeError,
) -> c_int {
    // SAFETY: the caller's promises.
    unsafe {
        status(error, || {
            let checksum_out = out(checksum_out, "checksum_out")?;
            let repo = handle(repo, "repo")?;
            let checksum = repo.0.resolve_rev(c_text(rev, "rev")?)?;
            write_checksum(checksum_out, &checksum);
            Ok(())
        })
    }
}

/// Commits the directory `dir` to `branch` with `subject` and `body` (NULL: none) at
/// `timestamp` (seconds since the epoch; -1: now), as `ostree commit --branch=BRANCH
/// --subject=SUBJECT --body=BODY --timestamp=@TIMESTAMP DIR`: the same tree and arguments
/// give the same commit checksum, which is written into `checksum_out`. The branch's
/// current commit, if any, is the parent. (Unlike the command, -1 does not read
/// `SOURCE_DATE_EPOCH`: pass that time explicitly.)
///
/// # Safety
/// `repo` is an open repository; `dir`, `branch`, `subject` and `body` (or NULL) are
/// NUL-terminated strings; `checksum_out` is valid for writing `ROSTREE_CHECKSUM_BUFSIZE`
/// bytes.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments, reason = "the C API's shape")]
pub unsafe extern "C" fn rostree_repo_commit_dir(
    repo: *const RostreeRepo,
    dir: *const c_char,
    branch: *const c_char,
    subject: *const c_char,
    body: *const c_char,
    timestamp: i64,
    checksum_out: *mut c_char,
    error: *mut *mut RostreeError,
) -> c_int {
    // SAFETY: the caller's promises.
    unsafe {
        status(error, || {
            let checksum_out = out(checksum_out, "checksum_out")?;
            let repo = handle(repo, "repo")?;
            let body = c_text_or_null(body, "body")?;
            let timestamp = match timestamp {
                -1 => None,
                t => Some(u64::try_from(t).map_err(|_| {
                    Error::invalid_argument(format!("Invalid timestamp {t} (-1 means now)"))
                })?),
            };
            let checksum = repo.0.commit_dir(
                c_path(dir, "dir")?,
                c_text(branch, "branch")?,
                c_text(subject, "subject")?,
                body,
                timestamp,
                &[],
            )?;
            write_checksum(checksum_out, &checksum);
            Ok(())
        })
    }
}

/// Checks out the commit `rev` names as the new directory `destination` (which must not
/// exist), as `ostree checkout [-U] REV DESTINATION`; `user_mode` is `-U` (files owned by
/// the caller, no extended attributes).
///
/// # Safety
/// `repo` is an open repository; `rev` and `destination` are NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_repo_checkout(
    repo: *const RostreeRepo,
    rev: *const c_char,
    destination: *const c_char,
    user_mode: bool,
    error: *mut *mut RostreeError,
) -> c_int {
    // SAFETY: the caller's promises.
    unsafe {
        status(error, || {
            let repo = handle(repo, "repo")?;
            let rev = c_text(rev, "rev")?;
            repo.0
                .checkout(rev, c_path(destination, "destination")?, user_mode)
        })
    }
}

/// Verifies every object of every commit, as `ostree fsck`; corruption fails it, the
/// message listing what is corrupt.
///
/// # Safety
/// `repo` is an open repository.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_repo_fsck(
    repo: *const RostreeRepo,
    error: *mut *mut RostreeError,
) -> c_int {
    // SAFETY: the caller's promises.
    unsafe { status(error, || handle(repo, "repo")?.0.fsck()) }
}

/// Writes the repository's summary file (unsigned), as `ostree summary -u`.
///
/// # Safety
/// `repo` is an open repository.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_repo_update_summary(
    repo: *const RostreeRepo,
    error: *mut *mut RostreeError,
) -> c_int {
    // SAFETY: the caller's promises.
    unsafe { status(error, || handle(repo, "repo")?.0.update_summary()) }
}

/// Adds the remote `name` at `url` to the repository's config, as `ostree remote add
/// [--no-gpg-verify] NAME URL`; with `gpg_verify` false, commits are pulled from it
/// without GPG signatures. A remote of that name already there is an error.
///
/// # Safety
/// `repo` is an open repository; `name` and `url` are NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_repo_remote_add(
    repo: *const RostreeRepo,
    name: *const c_char,
    url: *const c_char,
    gpg_verify: bool,
    error: *mut *mut RostreeError,
) -> c_int {
    // SAFETY: the caller's promises.
    unsafe {
        status(error, || {
            let repo = handle(repo, "repo")?;
            repo.0
                .remote_add(c_text(name, "name")?, c_text(url, "url")?, gpg_verify)
        })
    }
}

/// Pulls `refs` (`n_refs` of them; none: the remote's `branches`) from the remote
/// `remote_name` with the checks and settings its configuration asks for (GPG signatures
/// unless it says `gpg-verify=false`, its TLS and proxy settings), as `ostree pull`; the
/// refs land as `REMOTE:REF`. `progress` (or NULL) is called with `user_data` as the pull
/// goes, from the library's threads (see `RostreeProgressFn`). Cancelling `cancellable`
/// (or NULL) makes the pull stop and fail with `ROSTREE_ERROR_CODE_CANCELLED`; what was
/// fetched is kept for the next pull.
///
/// # Safety
/// `repo` is an open repository; `remote_name` is a NUL-terminated string; `refs` points to
/// `n_refs` NUL-terminated strings (or is NULL when `n_refs` is 0); `cancellable` is NULL
/// or a live cancellable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments, reason = "the C API's shape")]
pub unsafe extern "C" fn rostree_repo_pull(
    repo: *const RostreeRepo,
    remote_name: *const c_char,
    refs: *const *const c_char,
    n_refs: usize,
    progress: RostreeProgressFn,
    user_data: *mut c_void,
    cancellable: *const RostreeCancellable,
    error: *mut *mut RostreeError,
) -> c_int {
    // SAFETY: the caller's promises.
    unsafe {
        status(error, || {
            let repo = handle(repo, "repo")?;
            let remote = c_text(remote_name, "remote_name")?;
            let refs = c_texts(refs, n_refs, "refs")?;
            let not_cancelled = Cancellable::default();
            let cancellable = cancellable.as_ref().map_or(&not_cancelled, |c| &c.0);
            let progress = c_progress(progress, user_data);
            repo.0.pull(remote, &refs, &progress, cancellable.flag())
        })
    }
}

/// Calls `callback` with `user_data` for each ref (local ones as `name`, remote ones as
/// `remote:name`), sorted by name, until it returns nonzero.
///
/// # Safety
/// `repo` is an open repository; `callback` is a function as `RostreeRefFn` says.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_repo_list_refs(
    repo: *const RostreeRepo,
    callback: RostreeRefFn,
    user_data: *mut c_void,
    error: *mut *mut RostreeError,
) -> c_int {
    // SAFETY: the caller's promises.
    unsafe {
        status(error, || {
            let repo = handle(repo, "repo")?;
            let callback = callback.ok_or_else(|| Error::invalid_argument("callback is NULL"))?;
            for (name, checksum) in repo.0.list_refs()? {
                let name = c_string(name);
                let checksum = c_string(checksum.to_string());
                if callback(name.as_ptr(), checksum.as_ptr(), user_data) != 0 {
                    break;
                }
            }
            Ok(())
        })
    }
}

/// What `rostree_repo_prune` did.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct RostreePruneStats {
    /// Loose objects in the repository before pruning.
    pub objects_total: u64,
    /// Objects deleted.
    pub objects_pruned: u64,
    /// Their size on disk, in bytes.
    pub bytes_freed: u64,
}

/// Deletes the objects no commit needs, as `ostree prune [--refs-only] [--depth=DEPTH]`:
/// with `refs_only`, commits no ref reaches go too; `depth` keeps that many parents of each
/// ref's commit (-1: all of them). `stats` (or NULL) receives what was done.
///
/// # Safety
/// `repo` is an open repository; `stats` is NULL or valid for writing a
/// `RostreePruneStats`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_repo_prune(
    repo: *const RostreeRepo,
    refs_only: bool,
    depth: i32,
    stats: *mut RostreePruneStats,
    error: *mut *mut RostreeError,
) -> c_int {
    // SAFETY: the caller's promises.
    unsafe {
        status(error, || {
            let repo = handle(repo, "repo")?;
            let depth = match depth {
                -1 => None,
                d => Some(u64::try_from(d).map_err(|_| {
                    Error::invalid_argument(format!("Invalid depth {d} (-1 keeps all)"))
                })?),
            };
            let outcome = repo.0.prune(refs_only, depth)?;
            if let Some(stats) = stats.as_mut() {
                *stats = RostreePruneStats {
                    objects_total: outcome.total,
                    objects_pruned: outcome.deleted,
                    bytes_freed: outcome.freed,
                };
            }
            Ok(())
        })
    }
}

/// Adds an ed25519 signature by `secret_key` (base64 of its 64 bytes, as `ostree sign`
/// takes it) to the commit `rev` names.
///
/// # Safety
/// `repo` is an open repository; `rev` and `secret_key` are NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_repo_sign_commit(
    repo: *const RostreeRepo,
    rev: *const c_char,
    secret_key: *const c_char,
    error: *mut *mut RostreeError,
) -> c_int {
    // SAFETY: the caller's promises.
    unsafe {
        status(error, || {
            let repo = handle(repo, "repo")?;
            repo.0
                .sign_commit(c_text(rev, "rev")?, c_text(secret_key, "secret_key")?)
        })
    }
}

/// Checks that the commit `rev` names carries a valid ed25519 signature by one of
/// `public_keys` (`n_keys` of them, base64, as `ostree sign --verify` takes them); a
/// commit without one fails. `message` (or NULL) receives upstream's message naming the
/// key, to free with `rostree_string_free`.
///
/// # Safety
/// `repo` is an open repository; `rev` is a NUL-terminated string; `public_keys` points to
/// `n_keys` NUL-terminated strings; `message` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_repo_verify_commit(
    repo: *const RostreeRepo,
    rev: *const c_char,
    public_keys: *const *const c_char,
    n_keys: usize,
    message: *mut *mut c_char,
    error: *mut *mut RostreeError,
) -> c_int {
    // SAFETY: the caller's promises.
    unsafe {
        status(error, || {
            let repo = handle(repo, "repo")?;
            let keys = c_texts(public_keys, n_keys, "public_keys")?;
            let verified = repo.0.verify_commit(c_text(rev, "rev")?, &keys)?;
            give_text(message, verified);
            Ok(())
        })
    }
}

/// Adds a GPG signature by the secret key `key_id` of the GnuPG home `homedir` (NULL:
/// `$GNUPGHOME` or `~/.gnupg`) to the commit `rev` names, as `ostree gpg-sign
/// --gpg-homedir=HOMEDIR REV KEY-ID`.
///
/// # Safety
/// `repo` is an open repository; `rev`, `key_id` and `homedir` (or NULL) are
/// NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_repo_gpg_sign_commit(
    repo: *const RostreeRepo,
    rev: *const c_char,
    key_id: *const c_char,
    homedir: *const c_char,
    error: *mut *mut RostreeError,
) -> c_int {
    // SAFETY: the caller's promises.
    unsafe {
        status(error, || {
            let repo = handle(repo, "repo")?;
            let homedir = c_text_or_null(homedir, "homedir")?.map(Path::new);
            repo.0
                .gpg_sign_commit(c_text(rev, "rev")?, c_text(key_id, "key_id")?, homedir)
        })
    }
}

/// Generates the static delta from the commit `from` names (NULL: from nothing, every
/// object of `to`) to the one `to` names, with upstream's defaults, as `ostree
/// static-delta generate [--from=FROM | --empty] --to=TO`. `name` (or NULL) receives its
/// name (`FROM-TO`, or `TO`), to free with `rostree_string_free`. Pullers find it once the
/// summary is updated.
///
/// # Safety
/// `repo` is an open repository; `from` (or NULL) and `to` are NUL-terminated strings;
/// `name` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_repo_generate_delta(
    repo: *const RostreeRepo,
    from: *const c_char,
    to: *const c_char,
    name: *mut *mut c_char,
    error: *mut *mut RostreeError,
) -> c_int {
    // SAFETY: the caller's promises.
    unsafe {
        status(error, || {
            let repo = handle(repo, "repo")?;
            let from = c_text_or_null(from, "from")?;
            let generated = repo.0.generate_delta(from, c_text(to, "to")?)?;
            give_text(name, generated);
            Ok(())
        })
    }
}

/// Calls `callback` with `user_data` for each static delta of the repository (named as
/// `ostree static-delta list` names them), until it returns nonzero.
///
/// # Safety
/// `repo` is an open repository; `callback` is a function as `RostreeNameFn` says.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rostree_repo_list_deltas(
    repo: *const RostreeRepo,
    callback: RostreeNameFn,
    user_data: *mut c_void,
    error: *mut *mut RostreeError,
) -> c_int {
    // SAFETY: the caller's promises.
    unsafe {
        status(error, || {
            let repo = handle(repo, "repo")?;
            let callback = callback.ok_or_else(|| Error::invalid_argument("callback is NULL"))?;
            for name in repo.0.list_deltas()? {
                let name = c_string(name);
                if callback(name.as_ptr(), user_data) != 0 {
                    break;
                }
            }
            Ok(())
        })
    }
}
