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
    assert!(sysroot.status().is_empty());
    let error = failure(sysroot.deploy("demo", "no/such/ref", &[]));
    assert_eq!(error.code(), RostreeErrorCode::NotFound);
    let error = failure(LoadedSysroot::load(&tmp.path().join("nothing")).map(|_| ()));
    assert_eq!(error.code(), RostreeErrorCode::NotFound);
    Ok(())
}

#[test]
fn commits_trees_and_files_are_read_back() -> TestResult {
    use crate::read::EntryKind;
    use std::io::Read;
    let tmp = tempfile::tempdir()?;
    let tree = tree(tmp.path())?;
    std::os::unix::fs::symlink("usr/bin/hello", tree.join("hello"))?;
    let repo = Repository::init(&tmp.path().join("repo"), "archive")?;
    let meta = [("version".to_owned(), "1.0".to_owned())];
    let first = repo.commit_dir(&tree, "main", "one", Some("b"), Some(7), &meta)?;
    let info = repo.read_commit("main")?;
    assert_eq!(
        (
            info.checksum,
            info.parent,
            info.subject.as_str(),
            info.body.as_str()
        ),
        (first, None, "one", "b")
    );
    assert_eq!((info.timestamp, info.version.as_deref()), (7, Some("1.0")));
    let second = repo.commit_dir(&tree, "main", "two", None, Some(8), &[])?;
    let info = repo.read_commit("main")?;
    assert_eq!(
        (info.checksum, info.parent, info.version),
        (second, Some(first), None)
    );

    // As `ostree ls -R`: files first, then each directory and what it holds.
    let mut walk = repo.walk("main", "/", true)?;
    let mut listed = Vec::new();
    while let Some(entry) = walk.next_entry()? {
        listed.push((entry.path, entry.kind, entry.size, entry.symlink_target));
    }
    let hello = "#!/bin/sh\necho hello\n";
    assert_eq!(
        listed,
        [
            ("/README".to_owned(), EntryKind::File, 7, None),
            (
                "/hello".into(),
                EntryKind::Symlink,
                0,
                Some("usr/bin/hello".into())
            ),
            ("/usr".into(), EntryKind::Directory, 0, None),
            ("/usr/bin".into(), EntryKind::Directory, 0, None),
            (
                "/usr/bin/hello".into(),
                EntryKind::File,
                hello.len() as u64,
                None
            ),
        ]
    );
    let mut top = repo.walk("main", "/", false)?;
    let mut count = 0;
    while top.next_entry()?.is_some() {
        count += 1;
    }
    assert_eq!(count, 3, "/README, /hello and /usr");
    // The walk keeps the repository: it outlives the handle.
    let mut walk = repo.walk("main", "/usr/bin/hello", true)?;
    drop(repo);
    let only = walk.next_entry()?.map(|e| e.path);
    assert_eq!(
        (only.as_deref(), walk.next_entry()?),
        (Some("/usr/bin/hello"), None)
    );

    // Files stream; a symlink is followed within the commit.
    let repo = Repository::open(&tmp.path().join("repo"))?;
    let mut file = repo.open_file("main", "/hello")?;
    assert_eq!(file.size(), hello.len() as u64);
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    assert_eq!(text, hello);
    let error = failure(repo.open_file("main", "/usr").map(|_| ()));
    assert_eq!(error.code(), RostreeErrorCode::InvalidArgument);
    let error = failure(repo.open_file("main", "/nothing").map(|_| ()));
    assert_eq!(error.code(), RostreeErrorCode::NotFound);
    Ok(())
}

#[test]
fn missing_objects_are_named() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let repo = Repository::init(&tmp.path().join("repo"), "archive")?;
    let commit = repo.commit_dir(&tree(tmp.path())?, "main", "one", None, Some(7), &[])?;
    let hex = commit.to_string();
    let object = tmp
        .path()
        .join(format!("repo/objects/{}/{}.commit", &hex[..2], &hex[2..]));
    std::fs::remove_file(object)?;
    let error = failure(repo.read_commit("main"));
    assert_eq!(error.code(), RostreeErrorCode::NotFound);
    assert_eq!(
        error.object().map(|o| o.to_bytes()),
        Some(format!("{hex}.commit").as_bytes())
    );
    Ok(())
}

#[test]
fn prune_signatures_and_deltas() -> TestResult {
    use rostree::sign::ed25519::SecretKey;
    let tmp = tempfile::tempdir()?;
    let tree = tree(tmp.path())?;
    let repo = Repository::init(&tmp.path().join("repo"), "archive")?;
    let first = repo.commit_dir(&tree, "main", "one", None, Some(7), &[])?;
    std::fs::write(tree.join("README"), "changed\n")?;
    let second = repo.commit_dir(&tree, "main", "two", None, Some(8), &[])?;

    let key = SecretKey::from_seed(&[7; 32]);
    let other = SecretKey::from_seed(&[8; 32]);
    let public = key.public().to_base64();
    let error = failure(repo.verify_commit("main", std::slice::from_ref(&public)));
    assert_eq!(error.code(), RostreeErrorCode::Failed);
    repo.sign_commit("main", &key.to_base64())?;
    let message = repo.verify_commit("main", &[other.public().to_base64(), public])?;
    assert!(message.contains(&key.public().to_hex()), "{message}");
    assert!(
        repo.verify_commit("main", &[other.public().to_base64()])
            .is_err()
    );
    let error = failure(repo.sign_commit("main", "not a key"));
    assert_eq!(error.code(), RostreeErrorCode::InvalidArgument);

    let name = repo.generate_delta(Some("main^"), "main")?;
    assert_eq!(name, format!("{first}-{second}"));
    assert_eq!(repo.list_deltas()?, [name]);

    // Nothing is unreachable while the history is kept; depth 0 drops the first commit,
    // its tree and the README it had.
    assert_eq!(repo.prune(true, None)?.deleted, 0);
    let outcome = repo.prune(true, Some(0))?;
    assert_eq!(outcome.deleted, 3, "{outcome:?}");
    assert!(outcome.freed > 0);
    assert!(repo.read_commit(&first.to_string()).is_err());
    assert_eq!(
        repo.list_deltas()?.len(),
        1,
        "a delta goes with its target only"
    );
    repo.fsck()?;
    Ok(())
}
