//! The safe layer, on real repositories and sysroots in temporary directories.

use std::path::Path;
use std::sync::Mutex;

use rostree::{Event, Progress};

use crate::errors::RostreeErrorCode;
use crate::pull::{Cancellable, CountingProgress, Counts};
use crate::repo::Repository;
use crate::sysroot::LoadedSysroot;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A tree of two files under `dir/tree`.
fn tree(dir: &Path) -> std::io::Result<std::path::PathBuf> {
    let tree = dir.join("tree");
    std::fs::create_dir_all(tree.join("usr/bin"))?;
    std::fs::write(tree.join("usr/bin/hello"), "#!/bin/sh\necho hello\n")?;
    std::fs::write(tree.join("README"), "a tree\n")?;
    Ok(tree)
}

fn failure<T: std::fmt::Debug>(result: crate::repo::Result<T>) -> crate::errors::Error {
    match result {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e,
    }
}

#[test]
fn missing_repo_is_not_found_with_its_path() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let missing = tmp.path().join("missing");
    let error = failure(Repository::open(&missing));
    assert_eq!(error.code(), RostreeErrorCode::NotFound);
    assert_eq!(
        error.path().map(|p| p.to_bytes()),
        Some(missing.as_os_str().as_encoded_bytes())
    );
    assert!(
        error
            .message()
            .to_str()?
            .contains("No such file or directory")
    );
    Ok(())
}

#[test]
fn bad_mode_and_unknown_ref_are_told_apart() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let error = failure(Repository::init(&tmp.path().join("r"), "zip"));
    assert_eq!(error.code(), RostreeErrorCode::InvalidArgument);
    let repo = Repository::init(&tmp.path().join("r"), "bare-user")?;
    let error = failure(repo.resolve_rev("no/such/ref"));
    assert_eq!(error.code(), RostreeErrorCode::NotFound);
    assert_eq!(error.message().to_str()?, "Refspec 'no/such/ref' not found");
    Ok(())
}

#[test]
fn commit_checkout_and_refs() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let tree = tree(tmp.path())?;
    let repo = Repository::init(&tmp.path().join("repo"), "archive")?;
    let first = repo.commit_dir(&tree, "main", "one", None, Some(1_700_000_000), &[])?;
    // The same tree, arguments and time give the same commit, as upstream's do.
    let other = Repository::init(&tmp.path().join("other"), "bare-user")?;
    assert_eq!(
        other.commit_dir(&tree, "main", "one", None, Some(1_700_000_000), &[])?,
        first
    );
    let second = repo.commit_dir(&tree, "main", "two", Some("body"), None, &[])?;
    assert_ne!(first, second);
    assert_eq!(repo.resolve_rev("main")?, second);
    assert_eq!(repo.resolve_rev("main^")?, first);
    assert_eq!(repo.list_refs()?, vec![("main".to_owned(), second)]);
    repo.fsck()?;
    repo.update_summary()?;
    assert!(tmp.path().join("repo/summary").exists());
    let out = tmp.path().join("out");
    repo.checkout("main", &out, true)?;
    assert_eq!(std::fs::read_to_string(out.join("README"))?, "a tree\n");
    // A checkout never overwrites.
    assert_eq!(
        failure(repo.checkout("main", &out, true)).code(),
        RostreeErrorCode::Failed
    );
    Ok(())
}

#[test]
fn symlinked_tree_is_refused() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let tree = tree(tmp.path())?;
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&tree, &link)?;
    let repo = Repository::init(&tmp.path().join("repo"), "archive")?;
    let error = failure(repo.commit_dir(&link, "main", "s", None, None, &[]));
    assert_eq!(error.code(), RostreeErrorCode::InvalidArgument);
    Ok(())
}

/// A source repository with `main` committed, and a bare-user repository with the remote
/// `origin` pointing at it.
fn source_and_copy(dir: &Path) -> Result<Repository, Box<dyn std::error::Error>> {
    let source = Repository::init(&dir.join("source"), "archive")?;
    source.commit_dir(&tree(dir)?, "main", "s", None, Some(1), &[])?;
    let copy = Repository::init(&dir.join("copy"), "bare-user")?;
    let url = format!("file://{}", dir.join("source").display());
    copy.remote_add("origin", &url, false)?;
    // Twice is refused, as `ostree remote add` without --if-not-exists.
    assert_eq!(
        failure(copy.remote_add("origin", &url, false)).code(),
        RostreeErrorCode::Failed
    );
    Ok(copy)
}

#[test]
fn pull_reports_progress_and_lands_the_ref() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let copy = source_and_copy(tmp.path())?;
    let calls = Mutex::new(Vec::new());
    let progress = CountingProgress::new(|phase, counts| {
        if let Ok(mut c) = calls.lock() {
            c.push((phase, counts));
        }
    });
    copy.pull(
        "origin",
        &["main".to_owned()],
        &progress,
        Cancellable::default().flag(),
    )?;
    let source = Repository::open(&tmp.path().join("source"))?;
    assert_eq!(
        copy.resolve_rev("origin:main")?,
        source.resolve_rev("main")?
    );
    let calls = calls.into_inner().unwrap_or_default();
    assert!(calls.iter().any(|(phase, _)| phase.is_some()));
    let last = calls.last().map(|(_, c)| *c).unwrap_or_default();
    assert!(last.done > 0 && last.done <= last.total, "{last:?}");
    copy.fsck()?;
    Ok(())
}

#[test]
fn cancelled_pull_fails_cancelled() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let copy = source_and_copy(tmp.path())?;
    let cancellable = Cancellable::default();
    let other = cancellable.clone();
    std::thread::spawn(move || other.cancel()).join().ok();
    let error = failure(copy.pull(
        "origin",
        &["main".to_owned()],
        &rostree::NoProgress,
        cancellable.flag(),
    ));
    assert_eq!(error.code(), RostreeErrorCode::Cancelled);
    assert!(copy.resolve_rev("origin:main").is_err());
    Ok(())
}

#[test]
fn pull_of_unknown_remote_is_not_found() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let copy = source_and_copy(tmp.path())?;
    let error = failure(copy.pull(
        "nowhere",
        &[],
        &rostree::NoProgress,
        Cancellable::default().flag(),
    ));
    assert_eq!(error.code(), RostreeErrorCode::NotFound);
    Ok(())
}

#[test]
fn progress_counts_only_go_up() {
    let seen = Mutex::new(Vec::new());
    let progress = CountingProgress::new(|phase, counts| {
        if let Ok(mut s) = seen.lock() {
            s.push((phase, counts));
        }
    });
    progress.event(Event::Phase("Fetching"));
    progress.event(Event::ObjectsQueued(2));
    progress.event(Event::ObjectFetched {
        bytes: 10,
        metadata: true,
    });
    progress.event(Event::DeltaPart {
        objects: 3,
        bytes: 5,
    });
    progress.event(Event::Warning("ignored".to_owned()));
    let seen = seen.into_inner().unwrap_or_default();
    let counts = |done, total, bytes| Counts { done, total, bytes };
    assert_eq!(
        seen,
        vec![
            (Some("Fetching"), counts(0, 0, 0)),
            (None, counts(1, 2, 10)),
            (None, counts(4, 4, 15)),
        ]
    );
}

#[test]
fn sysroot_init_load_and_refusals() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let path = tmp.path().join("sysroot");
    crate::sysroot::init(&path, "demo")?;
    assert!(path.join("ostree/deploy/demo/var/tmp").is_dir());
    assert!(path.join("ostree/repo/config").is_file());
    // The stateroot exists now.
    assert_eq!(
        failure(crate::sysroot::init(&path, "demo")).code(),
        RostreeErrorCode::Failed
    );
    let mut sysroot = LoadedSysroot::load(&path)?;
    assert!(sysroot.deployments().is_empty());
    assert_eq!(sysroot.stateroot(0), None);
    assert_eq!(sysroot.deployment_path(0), None);
    assert!(!sysroot.is_booted(0));
    let error = failure(sysroot.deploy("demo", "no/such/ref", &[]));
    assert_eq!(error.code(), RostreeErrorCode::NotFound);
    let error = failure(LoadedSysroot::load(&tmp.path().join("nothing")).map(|_| ()));
    assert_eq!(error.code(), RostreeErrorCode::NotFound);
    Ok(())
}
