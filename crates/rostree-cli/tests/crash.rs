//! Crash consistency: commit, pull (from `rostree serve` on 127.0.0.1), prune and checkout
//! killed with SIGKILL at seeded random moments. After every kill the repository must pass
//! `rostree fsck` and upstream `ostree fsck`, every ref must name a complete commit, and
//! running the operation again must complete (and clean up what the dead one left in
//! `tmp/`).
//!
//! `ROSTREE_CRASH_KILLS` sets the kills per operation (default 20; the full run uses 200:
//! `ROSTREE_CRASH_KILLS=200 cargo test --release -p rostree-cli --test crash`), and
//! `ROSTREE_CRASH_SEED` the seed (see `rostree_testutil::crash`); a failure names the seed and
//! the kill.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rostree_testutil::TreeSpec;
use rostree_testutil::crash::{Harness, run_and_kill, time_of};
use rostree_testutil::http::RostreeServe;
use rostree_testutil::repo::fsck as upstream_fsck;
use rostree_testutil::tree::pseudo_random_bytes;

fn rostree() -> &'static str {
    env!("CARGO_BIN_EXE_rostree")
}

fn rostree_cmd(repo: &Path, args: &[&str]) -> Command {
    rostree_testutil::repo_command(rostree(), repo, args)
}

/// Runs to the end; returns stdout.
fn run_ok(repo: &Path, args: &[&str], context: &str) -> String {
    let out = rostree_cmd(repo, args).output().expect("running rostree");
    assert!(
        out.status.success(),
        "{context}: rostree {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The checks after every kill and every completed rerun.
fn check_repo(repo: &Path, context: &str) {
    run_ok(repo, &["fsck", "-q"], context);
    upstream_fsck(repo);
    for name in run_ok(repo, &["refs"], context).lines() {
        let commit = run_ok(repo, &["rev-parse", name], context);
        let commit = commit.trim();
        assert!(
            !repo.join(format!("state/{commit}.commitpartial")).exists(),
            "{context}: ref {name} names the incomplete commit {commit}"
        );
        run_ok(repo, &["ls", "-R", commit], context);
    }
}

/// What dead transactions left: nothing once a later one has started.
fn assert_no_stale_staging(repo: &Path, context: &str) {
    let left: Vec<String> = std::fs::read_dir(repo.join("tmp"))
        .expect("tmp")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("rostree-staging-"))
        .collect();
    assert!(left.is_empty(), "{context}: left in tmp/: {left:?}");
}

/// A tree of `files` files (some of 64 KiB) whose contents depend on `generation`.
fn write_tree(dir: &Path, files: usize, generation: u64) {
    let mut spec = TreeSpec::new();
    for i in 0..files {
        let len = if i % 10 == 0 { 64 * 1024 } else { 700 };
        // A tenth of the files change each generation.
        let version = if i % 10 == (generation % 10) as usize {
            generation
        } else {
            0
        };
        spec = spec.file(
            &format!("d{}/f{i}", i % 16),
            pseudo_random_bytes(len, (i as u64) << 20 | version),
            0o644,
        );
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).expect("clearing the tree");
    }
    spec.create(dir);
}

fn init(repo: &Path, mode: &str) {
    run_ok(repo, &["init", &format!("--mode={mode}")], "init");
}

#[test]
fn killed_commits_leave_a_sound_repo() {
    let mut h = Harness::new("commit");
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = tmp.path().join("repo");
    let tree = tmp.path().join("tree");
    init(&repo, "archive");
    write_tree(&tree, 400, 1);
    let tree_arg = format!("--tree=dir={}", tree.display());
    let full = time_of(rostree_cmd(&repo, &["commit", "-b", "main", &tree_arg]));
    let mut finished = 0;
    for kill in 0..h.kills {
        write_tree(&tree, 400, kill as u64 + 2);
        let delay = h.rng.delay(full.mul_f64(1.2));
        let ctx = h.context("commit", kill, delay);
        let args = ["commit", "-b", "main", "-s", "killed", &tree_arg];
        if run_and_kill(rostree_cmd(&repo, &args), delay) {
            finished += 1;
        }
        // Whether or not the ref moved, it names a complete commit.
        check_repo(&repo, &ctx);
        let commit = run_ok(
            &repo,
            &["commit", "-b", "main", "-s", "rerun", &tree_arg],
            &ctx,
        );
        assert_eq!(
            run_ok(&repo, &["rev-parse", "main"], &ctx).trim(),
            commit.trim(),
            "{ctx}"
        );
        assert_no_stale_staging(&repo, &ctx);
        check_repo(&repo, &ctx);
    }
    assert!(
        finished < h.kills,
        "no commit was killed before it finished"
    );
}

#[test]
fn killed_pulls_leave_a_sound_repo() {
    let mut h = Harness::new("pull");
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("src");
    let tree = tmp.path().join("tree");
    init(&src, "archive");
    write_tree(&tree, 400, 1);
    let tree_arg = format!("--tree=dir={}", tree.display());
    run_ok(&src, &["commit", "-b", "main", &tree_arg], "source");
    write_tree(&tree, 400, 2);
    let head = run_ok(&src, &["commit", "-b", "main", &tree_arg], "source");
    run_ok(&src, &["summary", "-u"], "source");
    let serve = RostreeServe::start(Path::new(rostree()), &src);
    let fresh = |n: usize| -> PathBuf {
        let dest = tmp.path().join(format!("dest{n}"));
        init(&dest, "bare-user");
        run_ok(
            &dest,
            &["remote", "add", "--no-gpg-verify", "o", serve.url()],
            "remote add",
        );
        dest
    };
    let pull = ["pull", "--depth=1", "o", "main"];
    let full = time_of(rostree_cmd(&fresh(usize::MAX), &pull));
    for kill in 0..h.kills {
        let dest = fresh(kill);
        let delay = h.rng.delay(full.mul_f64(1.2));
        let ctx = h.context("pull", kill, delay);
        run_and_kill(rostree_cmd(&dest, &pull), delay);
        check_repo(&dest, &ctx);
        run_ok(&dest, &pull, &ctx);
        assert_eq!(
            run_ok(&dest, &["rev-parse", "o:main"], &ctx).trim(),
            head.trim(),
            "{ctx}"
        );
        assert_no_stale_staging(&dest, &ctx);
        check_repo(&dest, &ctx);
        std::fs::remove_dir_all(&dest).expect("cleaning up");
    }
}

#[test]
fn killed_prunes_leave_a_sound_repo() {
    let mut h = Harness::new("prune");
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = tmp.path().join("repo");
    let tree = tmp.path().join("tree");
    init(&repo, "archive");
    write_tree(&tree, 300, 1);
    let tree_arg = format!("--tree=dir={}", tree.display());
    run_ok(&repo, &["commit", "-b", "main", &tree_arg], "base");
    // Garbage for each prune: two commits on a ref that is then deleted.
    let make_garbage = |generation: u64| {
        for g in [generation * 2, generation * 2 + 1] {
            write_tree(&tree, 300, g + 2);
            run_ok(&repo, &["commit", "-b", "doomed", &tree_arg], "garbage");
        }
        run_ok(&repo, &["refs", "--delete", "doomed"], "garbage");
    };
    make_garbage(1000);
    let full = time_of(rostree_cmd(&repo, &["prune", "--refs-only"]));
    for kill in 0..h.kills {
        make_garbage(kill as u64);
        let delay = h.rng.delay(full.mul_f64(1.2));
        let ctx = h.context("prune", kill, delay);
        run_and_kill(rostree_cmd(&repo, &["prune", "--refs-only"]), delay);
        check_repo(&repo, &ctx);
        run_ok(&repo, &["prune", "--refs-only"], &ctx);
        check_repo(&repo, &ctx);
        let left = run_ok(&repo, &["prune", "--refs-only", "--no-prune"], &ctx);
        assert!(
            left.contains("Total objects: ") && left.contains("No unreachable objects"),
            "{ctx}: {left}"
        );
    }
}

#[test]
fn killed_checkouts_leave_a_sound_repo() {
    let mut h = Harness::new("checkout");
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = tmp.path().join("repo");
    let tree = tmp.path().join("tree");
    init(&repo, "archive");
    write_tree(&tree, 400, 1);
    run_ok(
        &repo,
        &[
            "commit",
            "-b",
            "main",
            &format!("--tree=dir={}", tree.display()),
        ],
        "commit",
    );
    let reference = tmp.path().join("reference");
    let full = time_of(rostree_cmd(
        &repo,
        &["checkout", "main", &reference.display().to_string()],
    ));
    for kill in 0..h.kills {
        let target = tmp.path().join("co");
        let target_arg = target.display().to_string();
        let delay = h.rng.delay(full.mul_f64(1.2));
        let ctx = h.context("checkout", kill, delay);
        run_and_kill(
            rostree_cmd(&repo, &["checkout", "main", &target_arg]),
            delay,
        );
        check_repo(&repo, &ctx);
        if target.exists() {
            std::fs::remove_dir_all(&target).expect("clearing the checkout");
        }
        run_ok(&repo, &["checkout", "main", &target_arg], &ctx);
        let diff = Command::new("diff")
            .args(["-r", "--no-dereference"])
            .arg(&reference)
            .arg(&target)
            .output()
            .expect("diff");
        assert!(
            diff.status.success(),
            "{ctx}: {}",
            String::from_utf8_lossy(&diff.stdout)
        );
        std::fs::remove_dir_all(&target).expect("clearing the checkout");
    }
}

/// RFC 8032 7.1 test 1 in libsodium's format: the secret key, and its public key.
const ED25519_SECRET: &str =
    "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2DXWpgBgrEKt9VL/tPJZAc6DuFy89qmIyWvAhpo9wdRGg==";
const ED25519_PUBLIC: &str = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

/// Whether every signature `metadata` (a `summary.sig` or `.commitmeta`) holds is good over
/// `data`: ed25519 ones by the test key, GPG ones as the real `gpg` checks them. Returns
/// (ed25519 count, GPG count).
fn check_signatures(
    metadata: &[u8],
    data: &[u8],
    gpg: &rostree_testutil::gnupg::GpgKey,
    scratch: &Path,
    context: &str,
) -> (usize, usize) {
    use rostree::core::object::Metadata;
    let metadata = Metadata::from_bytes(metadata)
        .unwrap_or_else(|e| panic!("{context}: signatures do not parse: {e}"));
    let public = rostree::sign::ed25519::PublicKey::from_base64(ED25519_PUBLIC).expect("key");
    let ed25519 = rostree::sign::ed25519::signatures(&metadata).expect("ed25519 signatures");
    for sig in &ed25519 {
        assert!(
            public.verifies(data, sig),
            "{context}: an ed25519 signature does not match what it signs"
        );
    }
    let gpg_sigs = rostree::sign::gpg::signatures(&metadata).expect("gpg signatures");
    let data_file = scratch.join("signed-data");
    std::fs::write(&data_file, data).expect("write data");
    for sig in &gpg_sigs {
        let sig_file = scratch.join("signature.gpg");
        std::fs::write(&sig_file, sig).expect("write signature");
        let status = Command::new("gpg")
            .args(["--batch", "--quiet", "--homedir"])
            .arg(&gpg.home)
            .arg("--verify")
            .arg(&sig_file)
            .arg(&data_file)
            .stderr(Stdio::null())
            .status()
            .expect("running gpg");
        assert!(
            status.success(),
            "{context}: a GPG signature does not match what it signs"
        );
    }
    (ed25519.len(), gpg_sigs.len())
}

#[test]
fn killed_signed_summaries_never_keep_a_stale_signature() {
    let mut h = Harness::new("summary-sign");
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = tmp.path().join("repo");
    let tree = tmp.path().join("tree");
    let key = rostree_testutil::gnupg::GpgKey::new(tmp.path(), "summary", "never");
    init(&repo, "archive");
    write_tree(&tree, 20, 1);
    let tree_arg = format!("--tree=dir={}", tree.display());
    run_ok(&repo, &["commit", "-b", "main", &tree_arg], "commit");
    let [gpg_sign, gpg_home] = key.sign_args();
    let sign = format!("--sign={ED25519_SECRET}");
    let args = ["summary", "-u", &gpg_sign, &gpg_home, &sign];
    let full = time_of(rostree_cmd(&repo, &args));
    let mut finished = 0;
    for kill in 0..h.kills {
        // A new summary each time, so that the old signatures no longer match it.
        run_ok(
            &repo,
            &["commit", "-b", &format!("b{kill}"), &tree_arg],
            "commit",
        );
        let delay = h.rng.delay(full.mul_f64(1.2));
        let ctx = h.context("summary -u --sign --gpg-sign", kill, delay);
        let done = run_and_kill(rostree_cmd(&repo, &args), delay);
        finished += usize::from(done);
        let summary = std::fs::read(repo.join("summary")).expect("a summary is always there");
        match std::fs::read(repo.join("summary.sig")) {
            Ok(sig) => {
                let counts = check_signatures(&sig, &summary, &key, tmp.path(), &ctx);
                if done {
                    assert_eq!(counts, (1, 1), "{ctx}: both signatures made");
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                assert!(!done, "{ctx}: finished, but left no summary.sig");
            }
            Err(e) => panic!("{ctx}: reading summary.sig: {e}"),
        }
    }
    assert!(
        finished < h.kills,
        "no summary update was killed before it finished"
    );
}

#[test]
fn killed_signed_commits_never_leave_a_ref_unsigned() {
    let mut h = Harness::new("commit-sign");
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = tmp.path().join("repo");
    let tree = tmp.path().join("tree");
    let key = rostree_testutil::gnupg::GpgKey::new(tmp.path(), "commit", "never");
    init(&repo, "archive");
    write_tree(&tree, 100, 1);
    let tree_arg = format!("--tree=dir={}", tree.display());
    let [gpg_sign, gpg_home] = key.sign_args();
    let sign = format!("--sign={ED25519_SECRET}");
    let args = [
        "commit", "-b", "main", &gpg_sign, &gpg_home, &sign, &tree_arg,
    ];
    let first = run_ok(&repo, &args, "first commit");
    let full = time_of(rostree_cmd(&repo, &args));
    let mut finished = 0;
    let mut moved = 0;
    let mut before = first.trim().to_owned();
    for kill in 0..h.kills {
        write_tree(&tree, 100, kill as u64 + 2);
        let delay = h.rng.delay(full.mul_f64(1.2));
        let ctx = h.context("commit --sign --gpg-sign", kill, delay);
        finished += usize::from(run_and_kill(rostree_cmd(&repo, &args), delay));
        check_repo(&repo, &ctx);
        let head = run_ok(&repo, &["rev-parse", "main"], &ctx)
            .trim()
            .to_owned();
        moved += usize::from(head != before);
        let (prefix, rest) = head.split_at(2);
        let object = |ext: &str| repo.join(format!("objects/{prefix}/{rest}.{ext}"));
        let data = std::fs::read(object("commit")).expect("the commit");
        let meta = std::fs::read(object("commitmeta"))
            .unwrap_or_else(|e| panic!("{ctx}: main names {head}, which has no signatures: {e}"));
        let counts = check_signatures(&meta, &data, &key, tmp.path(), &ctx);
        assert_eq!(
            counts,
            (1, 1),
            "{ctx}: main names {head}, not signed by both keys"
        );
        before = head;
    }
    assert!(
        finished < h.kills,
        "no commit was killed before it finished"
    );
    assert!(moved > 0, "no killed commit moved the ref");
}
