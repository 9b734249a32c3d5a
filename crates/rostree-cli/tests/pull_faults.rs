//! `pull` against a server that misbehaves: a corrupted object fails the pull naming it and
//! moves no ref (a second pull fetches only the rest); dropped connections are resumed with
//! range requests; bursts of 5xx are retried; a stalled response trips the timeout.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rostree_testutil::faulty::{Fault, FaultyServer};
use rostree_testutil::repo::{Pair, Run, Tool};
use rostree_testutil::{Mode, TreeSpec};

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// An upstream-written archive repo (ref `main`) and the path of its largest object.
fn source() -> (Pair, String) {
    let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), Mode::Archive);
    let tree = p.path("tree");
    let mut spec = TreeSpec::new().file(
        "big",
        rostree_testutil::tree::pseudo_random_bytes(400_000, 5),
        0o644,
    );
    for i in 0..40 {
        spec = spec.file(&format!("d{}/f{i}", i % 4), format!("file {i}\n"), 0o644);
    }
    spec.create(&tree);
    p.run(
        Tool::Upstream,
        p.repo(Tool::Upstream),
        ["commit", "-b", "main", "--timestamp=@1", &s(&tree)],
    )
    .pipe_ok("commit");
    p.run(Tool::Upstream, p.repo(Tool::Upstream), ["summary", "-u"])
        .pipe_ok("summary");
    let mut largest: Option<(u64, PathBuf)> = None;
    for dir in std::fs::read_dir(p.repo(Tool::Upstream).join("objects"))
        .expect("objects")
        .flatten()
    {
        for f in std::fs::read_dir(dir.path()).expect("dir").flatten() {
            let len = f.metadata().expect("stat").len();
            if largest.as_ref().is_none_or(|(l, _)| len > *l) {
                largest = Some((len, f.path()));
            }
        }
    }
    let (_, path) = largest.expect("objects");
    let rel = path
        .strip_prefix(p.repo(Tool::Upstream))
        .expect("inside")
        .to_string_lossy()
        .into_owned();
    (p, rel)
}

/// A fresh bare-user repo with remote `o` at `url`.
fn dest(p: &Pair, name: &str, url: &str) -> PathBuf {
    let dest = p.path(name);
    p.run(Tool::Rostree, &dest, ["init", "--mode=bare-user"])
        .pipe_ok("init");
    p.run(
        Tool::Rostree,
        &dest,
        ["remote", "add", "--no-gpg-verify", "o", url],
    )
    .pipe_ok("remote add");
    dest
}

fn pull(p: &Pair, dest: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["pull"];
    args.extend(extra);
    args.extend(["o", "main"]);
    p.run(Tool::Rostree, dest, args)
}

fn fsck_both(p: &Pair, dest: &Path) {
    for tool in [Tool::Upstream, Tool::Rostree] {
        p.run(tool, dest, ["fsck"]).pipe_ok("fsck");
    }
}

#[test]
fn corrupt_object_fails_and_rerun_completes() {
    let (p, big) = source();
    let bad = big.clone();
    let server = FaultyServer::start(p.repo(Tool::Upstream), move |path, _| {
        if path == bad {
            Fault::Corrupt
        } else {
            Fault::None
        }
    });
    let dest = dest(&p, "dest", &server.url());
    let r = pull(&p, &dest, &[]);
    assert!(
        !r.output.status.success(),
        "pull of a corrupt object succeeded"
    );
    let checksum: String = big
        .trim_start_matches("objects/")
        .replace('/', "")
        .trim_end_matches(".filez")
        .to_owned();
    assert!(r.stderr().contains(&checksum), "{}", r.stderr());
    assert!(r.stderr().contains("Corrupted"), "{}", r.stderr());
    let refs = p
        .run(Tool::Rostree, &dest, ["refs"])
        .pipe_ok("refs")
        .stdout();
    assert_eq!(refs, "", "a ref moved");
    // What was fetched stays, marked partial: both tools' fsck accept the repo.
    fsck_both(&p, &dest);
    // Against a good server the rest comes, and only the rest.
    let good = FaultyServer::start(p.repo(Tool::Upstream), |_, _| Fault::None);
    p.run(Tool::Rostree, &dest, ["remote", "delete", "o"])
        .pipe_ok("remote delete");
    p.run(
        Tool::Rostree,
        &dest,
        ["remote", "add", "--no-gpg-verify", "o", &good.url()],
    )
    .pipe_ok("remote add");
    pull(&p, &dest, &[]).pipe_ok("second pull");
    let objects: Vec<String> = good
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("objects/") && !r.ends_with(".commitmeta"))
        .collect();
    assert_eq!(objects, vec![big.clone()], "fetched again what it had");
    let refs = p
        .run(Tool::Rostree, &dest, ["refs"])
        .pipe_ok("refs")
        .stdout();
    assert_eq!(refs, "o:main\n");
    fsck_both(&p, &dest);
}

#[test]
fn dropped_connection_is_resumed_with_a_range() {
    let (p, big) = source();
    let dropped = big.clone();
    let server = FaultyServer::start(p.repo(Tool::Upstream), move |path, seen| {
        if path == dropped && seen == 0 {
            Fault::Drop
        } else {
            Fault::None
        }
    });
    let dest = dest(&p, "dest", &server.url());
    pull(&p, &dest, &[]).pipe_ok("pull through a dropped connection");
    let log = server.requests();
    assert!(
        log.iter().any(|r| r.starts_with(&format!("{big} range="))),
        "no range request: {log:?}"
    );
    fsck_both(&p, &dest);
}

#[test]
fn server_errors_are_retried() {
    let (p, _) = source();
    let server = FaultyServer::start(p.repo(Tool::Upstream), |path, seen| {
        if path.starts_with("objects/") && seen < 2 {
            Fault::Status(503)
        } else {
            Fault::None
        }
    });
    let dest = dest(&p, "dest", &server.url());
    pull(&p, &dest, &[]).pipe_ok("pull through 503s");
    fsck_both(&p, &dest);
    // A server that keeps failing fails the pull, after the retries asked for.
    let broken = FaultyServer::start(p.repo(Tool::Upstream), |path, _| {
        if path.ends_with(".dirtree") {
            Fault::Status(500)
        } else {
            Fault::None
        }
    });
    let dest = self::dest(&p, "dest2", &broken.url());
    let r = pull(&p, &dest, &["--network-retries=2"]);
    assert!(!r.output.status.success());
    assert!(
        r.stderr().contains("Server returned HTTP 500"),
        "{}",
        r.stderr()
    );
    let tries = broken
        .requests()
        .iter()
        .filter(|r| r.ends_with(".dirtree"))
        .count();
    assert_eq!(tries, 3, "one try and two retries");
}

#[test]
fn stalled_response_times_out() {
    let (p, big) = source();
    let stalled = big.clone();
    let server = FaultyServer::start(p.repo(Tool::Upstream), move |path, _| {
        if path == stalled {
            Fault::Stall(Duration::from_secs(60))
        } else {
            Fault::None
        }
    });
    let dest = dest(&p, "dest", &server.url());
    let start = Instant::now();
    let r = pull(&p, &dest, &["--stall-timeout=1", "--network-retries=1"]);
    assert!(!r.output.status.success());
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    assert!(r.stderr().contains("no progress"), "{}", r.stderr());
}
