//! Many writers on one repository at once, with prunes running all along: rostree commits
//! to their own refs, upstream `ostree` commits, pulls over HTTP (`rostree serve`) and
//! pull-locals, while a pruner makes garbage and prunes it. When time is up, every ref
//! names the last commit its writer reported, every commit any writer reported is complete,
//! and both fsck's pass. Also: a lock held too long makes a writer fail, in time, with a
//! clear message (`lock-timeout-secs`).
//!
//! `ROSTREE_CONCURRENCY_SECS` sets how long the writers run (default 8; the full run uses
//! 60: `ROSTREE_CONCURRENCY_SECS=60 cargo test --release -p rostree-cli --test concurrency`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rostree_testutil::TreeSpec;
use rostree_testutil::http::RostreeServe;
use rostree_testutil::repo::fsck as upstream_fsck;
use rostree_testutil::upstream_ostree;

fn rostree() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rostree"))
}

fn run(bin: &Path, repo: &Path, args: &[&str]) -> Output {
    rostree_testutil::repo_command(bin, repo, args)
        .output()
        .expect("running")
}

fn run_ok(bin: &Path, repo: &Path, args: &[&str]) -> String {
    let out = run(bin, repo, args);
    assert!(
        out.status.success(),
        "{} {args:?} on {}: {}",
        bin.display(),
        repo.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A small tree unique to (writer, round).
fn tree(dir: &Path, writer: &str, round: usize) -> String {
    if dir.exists() {
        std::fs::remove_dir_all(dir).expect("clearing");
    }
    let mut spec = TreeSpec::new();
    for i in 0..12 {
        spec = spec.file(
            &format!("d{}/f{i}", i % 3),
            format!("{writer} {round} {i}\n").repeat(1 + i * 40),
            0o644,
        );
    }
    // Shared by every writer: objects that several transactions store at once.
    spec = spec.file("common", "the same for all\n", 0o644);
    spec.create(dir);
    format!("--tree=dir={}", dir.display())
}

fn duration() -> Duration {
    let secs = std::env::var("ROSTREE_CONCURRENCY_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    Duration::from_secs(secs)
}

/// What the writers reported: (ref as the repo lists it, commit), in order.
type Log = Mutex<Vec<(String, String)>>;

#[test]
fn writers_and_prunes_lose_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = tmp.path();
    let repo = base.join("repo");
    let ostree = upstream_ostree();
    run_ok(&rostree(), &repo, &["init", "--mode=archive"]);
    // Sources: served over HTTP, and local.
    let served = base.join("served");
    run_ok(&rostree(), &served, &["init", "--mode=archive"]);
    let served_tree = tree(&base.join("served-tree"), "served", 0);
    run_ok(&rostree(), &served, &["commit", "-b", "p", &served_tree]);
    run_ok(&rostree(), &served, &["summary", "-u"]);
    let serve = RostreeServe::start(&rostree(), &served);
    run_ok(
        &rostree(),
        &repo,
        &["remote", "add", "--no-gpg-verify", "o", serve.url()],
    );
    let local = base.join("local");
    run_ok(&rostree(), &local, &["init", "--mode=archive"]);

    let log: Log = Mutex::new(Vec::new());
    let deadline = Instant::now() + duration();
    let prunes = Mutex::new(0usize);
    std::thread::scope(|s| {
        // Four rostree committers and one upstream committer, each on its own ref.
        for (i, bin) in [rostree(), rostree(), rostree(), rostree(), ostree.clone()]
            .into_iter()
            .enumerate()
        {
            let (repo, log) = (&repo, &log);
            let name = format!("w{i}");
            s.spawn(move || {
                let dir = base.join(format!("tree-{name}"));
                let mut round = 0;
                while Instant::now() < deadline {
                    let tree_arg = tree(&dir, &name, round);
                    let commit = run_ok(&bin, repo, &["commit", "-b", &name, &tree_arg]);
                    log.lock().expect("log").push((name.clone(), commit));
                    round += 1;
                }
            });
        }
        // Pulls over HTTP: the source moves on, the repo pulls it.
        {
            let (repo, served, log) = (&repo, &served, &log);
            s.spawn(move || {
                let dir = base.join("tree-served");
                let mut round = 1;
                while Instant::now() < deadline {
                    let tree_arg = tree(&dir, "served", round);
                    let commit = run_ok(&rostree(), served, &["commit", "-b", "p", &tree_arg]);
                    run_ok(&rostree(), served, &["summary", "-u"]);
                    run_ok(&rostree(), repo, &["pull", "o", "p"]);
                    log.lock().expect("log").push(("o:p".into(), commit));
                    round += 1;
                }
            });
        }
        // Pull-locals, by rostree and by upstream, from one local source.
        for (bin, name) in [(rostree(), "l0"), (ostree.clone(), "l1")] {
            let (repo, local, log) = (&repo, &local, &log);
            s.spawn(move || {
                let dir = base.join(format!("tree-{name}"));
                let mut round = 0;
                while Instant::now() < deadline {
                    let tree_arg = tree(&dir, name, round);
                    let commit = run_ok(&rostree(), local, &["commit", "-b", name, &tree_arg]);
                    let src = local.display().to_string();
                    run_ok(&bin, repo, &["pull-local", &src, name]);
                    log.lock().expect("log").push((name.into(), commit));
                    round += 1;
                }
            });
        }
        // The pruner: garbage (a commit on a ref then deleted), then a prune.
        {
            let (repo, prunes) = (&repo, &prunes);
            s.spawn(move || {
                let dir = base.join("tree-garbage");
                let mut round = 0;
                while Instant::now() < deadline {
                    let tree_arg = tree(&dir, "garbage", round);
                    run_ok(&rostree(), repo, &["commit", "-b", "doomed", &tree_arg]);
                    run_ok(&rostree(), repo, &["refs", "--delete", "doomed"]);
                    run_ok(&rostree(), repo, &["prune", "--refs-only"]);
                    *prunes.lock().expect("count") += 1;
                    round += 1;
                }
            });
        }
    });

    let log = log.into_inner().expect("log");
    let prunes = prunes.into_inner().expect("count");
    // The turnstile lets prunes through a steady stream of writers.
    assert!(prunes >= 3, "only {prunes} prunes ran");
    // Every ref names its writer's last commit.
    let mut last = std::collections::BTreeMap::new();
    for (name, commit) in &log {
        last.insert(name.clone(), commit.clone());
    }
    assert_eq!(last.len(), 8, "a writer never wrote: {:?}", last.keys());
    for (name, commit) in &last {
        assert_eq!(
            &run_ok(&rostree(), &repo, &["rev-parse", name]),
            commit,
            "{name}"
        );
    }
    // Every commit reported is there, whole (refs keep their whole history).
    for (name, commit) in &log {
        let out = run(&rostree(), &repo, &["ls", "-R", commit]);
        assert!(out.status.success(), "{name}: commit {commit} lost");
    }
    run_ok(&rostree(), &repo, &["fsck", "-q"]);
    upstream_fsck(&repo);
    eprintln!(
        "{} commits by 8 writers and {prunes} prunes in {:?}",
        log.len(),
        duration()
    );
}

#[test]
fn a_held_lock_times_out_with_a_clear_message() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = tmp.path().join("repo");
    run_ok(&rostree(), &repo, &["init", "--mode=archive"]);
    run_ok(
        &rostree(),
        &repo,
        &["config", "set", "core.lock-timeout-secs", "2"],
    );
    let tree_arg = tree(&tmp.path().join("tree"), "t", 0);
    run_ok(&rostree(), &repo, &["commit", "-b", "main", &tree_arg]);
    let before = run_ok(&rostree(), &repo, &["rev-parse", "main"]);
    // Another process holds the lock exclusively (as a prune does) for longer: an
    // open-file-description lock, the kind upstream and rostree take.
    let holder_script = "import fcntl, struct, sys, time\n\
        f = open(sys.argv[1], 'r+')\n\
        fcntl.fcntl(f, fcntl.F_OFD_SETLKW, struct.pack('hhqqi4x', fcntl.F_WRLCK, 0, 0, 0, 0))\n\
        print('locked', flush=True)\n\
        time.sleep(30)\n";
    let mut holder = Command::new("python3")
        .args(["-c", holder_script])
        .arg(repo.join(".lock"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("reading");
    assert_eq!(line, "locked\n");
    let tree_arg = tree(&tmp.path().join("tree"), "t", 1);
    let start = Instant::now();
    let out = run(&rostree(), &repo, &["commit", "-b", "main", &tree_arg]);
    let waited = start.elapsed();
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "Locking repo {} timed out after 2 seconds",
            repo.display()
        )),
        "{stderr}"
    );
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    assert_eq!(run_ok(&rostree(), &repo, &["rev-parse", "main"]), before);
    run_ok(&rostree(), &repo, &["fsck", "-q"]);
}
