//! Error paths: every case here must make rostree exit non-zero with exactly one
//! `error: ...` line on stderr, without panicking, and leave the repository's
//! `objects/`, `refs/` and `config` unchanged. Upstream `ostree` is run on the
//! same input; where it fails too, that is asserted (both must fail), and where
//! upstream does something else (it does not verify checksums on read, and it
//! crashes on some truncated objects) the comment says so.

use std::path::{Path, PathBuf};

use rostree_testutil::repo::{
    Pair, Run, Tool, object_path, read_ref, repoint_metadata, store_metadata, write_ref,
};
use rostree_testutil::{Invocation, Mode, TreeSpec, describe, snapshot, upstream_ostree};

const ROSTREE: &str = env!("CARGO_BIN_EXE_rostree");

fn s(p: &Path) -> String {
    p.to_str().expect("temp paths are UTF-8").to_owned()
}

/// Why `run` is not a clean rostree failure, if it is not.
fn clean_error_problem(r: &Run) -> Option<String> {
    let err = r.stderr();
    let ok = !r.output.status.success()
        && r.output.status.code() != Some(101)
        && !err.contains("panicked")
        && err.starts_with("error: ")
        && err.ends_with('\n')
        && err.lines().count() == 1;
    (!ok).then(|| {
        format!(
            "rostree did not fail cleanly with one `error: ...` line: {}\n{}",
            r.command,
            describe(&r.output)
        )
    })
}

/// Runs `args` with both tools, each on its own repo of `p`; both must fail,
/// rostree cleanly, and neither repo may change. Returns the problems found.
fn both_fail(p: &Pair, args: &[&str]) -> Vec<String> {
    let before = (snapshot(&p.up), snapshot(&p.rs));
    let (u, r) = p.both(args);
    let mut problems = Vec::new();
    if u.output.status.success() {
        problems.push(format!(
            "upstream unexpectedly succeeded (test assumption wrong): {}\n{}",
            u.command,
            describe(&u.output)
        ));
    }
    problems.extend(clean_error_problem(&r));
    let du = before.0.diff(&snapshot(&p.up));
    let dr = before.1.diff(&snapshot(&p.rs));
    if !du.is_empty() {
        problems.push(format!("upstream changed its repo ({}): {du:?}", u.command));
    }
    if !dr.is_empty() {
        problems.push(format!(
            "rostree changed its repo on failure ({}): {dr:?}",
            r.command
        ));
    }
    problems
}

fn assert_no_problems(problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{} problem(s):\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}

// ---------------------------------------------------------------------------
// Commit errors.

/// A fifo, a unix socket or a device node anywhere in the tree: upstream says
/// `error: Not a regular file or symlink: NAME`.
#[test]
fn commit_special_files() {
    let mut problems = Vec::new();
    for mode in Mode::ALL {
        let p = Pair::new(ROSTREE, mode);
        let base = TreeSpec::new()
            .file("a", "a\n", 0o644)
            .dir("sub", 0o755)
            .file("sub/b", "b\n", 0o644);
        for (name, spec) in [
            ("fifo", base.clone().fifo("sub/fifo")),
            ("socket", base.clone().socket("sub/sock")),
            ("chardev", base.clone().char_device("sub/null", 1, 3)),
        ] {
            let tree = p.path(name);
            spec.create(&tree);
            // A first, good commit so that the failing one has a parent.
            let good = p.path(format!("{name}-good"));
            base.create(&good);
            p.commit(["-b", name, "--timestamp=@1", &s(&good)]);
            problems.extend(
                both_fail(&p, &["commit", "-b", name, "--timestamp=@2", &s(&tree)])
                    .into_iter()
                    .map(|e| format!("[{mode}] {e}")),
            );
        }
    }
    assert_no_problems(&problems);
}

/// An unreadable file and an unreadable directory, committing as `nobody`
/// into a repo owned by `nobody`.
#[test]
fn commit_unreadable_as_nobody() {
    const NOBODY: u32 = 65534;
    let mut problems = Vec::new();
    for mode in [Mode::BareUser, Mode::Archive] {
        let p = Pair::new(ROSTREE, mode);
        let top = p.tmp.path();
        std::fs::set_permissions(top, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod temp dir");
        let spec = TreeSpec::new()
            .file("ok", "ok\n", 0o644)
            .owner("ok", NOBODY, NOBODY)
            .dir("sub", 0o755)
            .owner("sub", NOBODY, NOBODY)
            .file("sub/secret", "secret\n", 0o000)
            .owner("sub/secret", NOBODY, NOBODY);
        let file_tree = p.path("file-tree");
        spec.create(&file_tree);
        let dir_tree = p.path("dir-tree");
        TreeSpec::new()
            .file("ok", "ok\n", 0o644)
            .dir("locked", 0o000)
            .file("locked/x", "x\n", 0o644)
            .owner("locked", NOBODY, NOBODY)
            .create(&dir_tree);
        Invocation::new("chown")
            .args(["-R", "65534:65534", &s(&p.up), &s(&p.rs)])
            .ok();
        for tree in [&file_tree, &dir_tree] {
            let before = (snapshot(&p.up), snapshot(&p.rs));
            let args = ["commit", "-b", "main", "--timestamp=@1", &s(tree)];
            let run = |tool: Tool| {
                let inv = p
                    .invocation(tool, p.repo(tool), args)
                    .as_user(NOBODY, NOBODY);
                Run {
                    command: inv.display(),
                    output: inv.output(),
                }
            };
            let u = run(Tool::Upstream);
            let r = run(Tool::Rostree);
            if u.output.status.success() {
                problems.push(format!(
                    "[{mode}] upstream unexpectedly succeeded: {}\n{}",
                    u.command,
                    describe(&u.output)
                ));
            }
            problems.extend(clean_error_problem(&r).map(|e| format!("[{mode}] {e}")));
            let dr = before.1.diff(&snapshot(&p.rs));
            if !dr.is_empty() {
                problems.push(format!("[{mode}] rostree changed its repo: {dr:?}"));
            }
            let du = before.0.diff(&snapshot(&p.up));
            if !du.is_empty() {
                problems.push(format!("[{mode}] upstream changed its repo: {du:?}"));
            }
        }
    }
    assert_no_problems(&problems);
}

/// Invalid ref names for `-b`, and `--parent` values that are not a full
/// lowercase checksum (upstream: `Invalid rev ...`).
#[test]
fn commit_invalid_refs_and_parents() {
    let p = Pair::new(ROSTREE, Mode::Archive);
    let tree = p.path("tree");
    TreeSpec::new().file("f", "f\n", 0o644).create(&tree);
    let t = s(&tree);
    let c = p.commit(["-b", "main", "--timestamp=@1", &t]);
    let mut problems = Vec::new();
    for bad in [
        "..", "a//b", "/x", "x/", ".a", "-a", "a b", "a~b", "o:", "a/../b",
    ] {
        problems.extend(both_fail(&p, &["commit", "-b", bad, "--timestamp=@2", &t]));
    }
    let upper = c.to_uppercase();
    for parent in [&upper, "nonsense"] {
        problems.extend(both_fail(
            &p,
            &[
                "commit",
                "-b",
                "main",
                &format!("--parent={parent}"),
                "--timestamp=@2",
                &t,
            ],
        ));
    }
    // Neither --branch nor --orphan.
    problems.extend(both_fail(&p, &["commit", "--timestamp=@2", &t]));
    // Bad trees and metadata.
    for args in [
        &["commit", "-b", "main", "--tree=foo=bar"][..],
        &["commit", "-b", "main", "--tree=nodelim"],
        &["commit", "-b", "main", "--tree=dir=/nonexistent"],
        &["commit", "-b", "main", "--tree=ref=nosuchref"],
        &["commit", "-b", "main", "--tree=tar=/nonexistent.tar"],
        &["commit", "-b", "main", "--add-metadata-string=noequals", &t],
        &["commit", "-b", "main", "--add-metadata=k=nothing", &t],
        &["commit", "-b", "main", "--body-file=/nonexistent", &t],
        &["commit", "-b", "main", "--statoverride=/nonexistent", &t],
        &["commit", "-b", "main", "--skip-list=/nonexistent", &t],
        &["commit", "-b", "main", "/nonexistent"],
    ] {
        problems.extend(both_fail(&p, args));
    }
    assert_no_problems(&problems);
}

// ---------------------------------------------------------------------------
// Reading damaged repositories.

/// A repo written by upstream for the corruption tests, with what they need.
struct Damaged {
    _tmp: tempfile::TempDir,
    repo: PathBuf,
    commit: String,
    root_tree: String,
    root_meta: String,
    /// Content checksum of `/sub/f`.
    file: String,
}

fn upstream_repo(mode: Mode) -> Damaged {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = tmp.path().join("repo");
    let tree = tmp.path().join("tree");
    TreeSpec::new()
        .file("t", "top\n", 0o644)
        .dir("sub", 0o755)
        .file("sub/f", "in sub\n", 0o644)
        .create(&tree);
    let ostree = upstream_ostree();
    let repo_arg = format!("--repo={}", s(&repo));
    Invocation::new(&ostree)
        .args(["init", &repo_arg, &format!("--mode={mode}")])
        .ok();
    let out = Invocation::new(&ostree)
        .args([
            "commit",
            &repo_arg,
            "-b",
            "main",
            "-s",
            "subj",
            "--timestamp=@1",
            &s(&tree),
        ])
        .ok();
    let commit = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let field = |args: &[&str], n: usize| {
        let out = Invocation::new(&ostree)
            .arg("ls")
            .arg(&repo_arg)
            .args(args)
            .ok();
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .nth(n)
            .expect("ls -C field")
            .to_owned()
    };
    let root_tree = field(&["-d", "-C", "main", "/"], 4);
    let root_meta = field(&["-d", "-C", "main", "/"], 5);
    let file = field(&["-C", "main", "/sub/f"], 4);
    Damaged {
        _tmp: tmp,
        repo,
        commit,
        root_tree,
        root_meta,
        file,
    }
}

/// What rostree must do with a read command on a damaged repo.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Fail cleanly (whatever upstream does).
    Fail,
    /// Fail cleanly, and upstream fails too.
    BothFail,
    /// The object is not needed: same stdout and status as upstream.
    SameAsUpstream,
}

fn check_reads(d: &Damaged, what: &str, cases: &[(&[&str], Expect)]) -> Vec<String> {
    let ostree = upstream_ostree();
    let repo_arg = format!("--repo={}", s(&d.repo));
    let mut problems = Vec::new();
    for (args, expect) in cases {
        let before = snapshot(&d.repo);
        let run = |bin: &Path| {
            let inv = Invocation::new(bin)
                .arg(args[0])
                .arg(&repo_arg)
                .args(&args[1..]);
            Run {
                command: inv.display(),
                output: inv.output(),
            }
        };
        let u = run(&ostree);
        let r = run(Path::new(ROSTREE));
        let label = format!("[{what}] {args:?} ({expect:?})");
        match expect {
            Expect::Fail | Expect::BothFail => {
                if let Some(e) = clean_error_problem(&r) {
                    problems.push(format!("{label}: {e}\n(upstream: {})", describe(&u.output)));
                }
                if matches!(expect, Expect::BothFail) && u.output.status.success() {
                    problems.push(format!(
                        "{label}: upstream unexpectedly succeeded (test assumption wrong)"
                    ));
                }
            }
            Expect::SameAsUpstream => {
                if u.output.stdout != r.output.stdout
                    || u.output.status.success() != r.output.status.success()
                {
                    problems.push(format!(
                        "{label}: differs from upstream\n== {}\n{}\n== {}\n{}",
                        u.command,
                        describe(&u.output),
                        r.command,
                        describe(&r.output)
                    ));
                }
                if r.output.status.code() == Some(101) || r.stderr().contains("panicked") {
                    problems.push(format!("{label}: rostree panicked"));
                }
            }
        }
        let diff = before.diff(&snapshot(&d.repo));
        if !diff.is_empty() {
            problems.push(format!("{label}: the repo changed: {diff:?}"));
        }
    }
    problems
}

fn write_file(path: &Path, data: &[u8]) {
    std::fs::write(path, data).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn read_file(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Commands that need the commit object.
const NEED_COMMIT: &[&[&str]] = &[
    &["log", "main"],
    &["show", "main"],
    &["show", "--raw", "main"],
    &["ls", "main"],
    &["ls", "-R", "main"],
    &["cat", "main", "/t"],
    &["rev-parse", "main^"],
];

/// A byte flipped in the commit object (its subject): the content no longer
/// hashes to the name. Upstream does not verify on read and prints the damaged
/// commit; rostree must refuse it. `rev-parse main` only reads the ref.
#[test]
fn read_corrupted_commit() {
    let mut problems = Vec::new();
    for mode in [Mode::Archive, Mode::BareUser] {
        let d = upstream_repo(mode);
        let path = object_path(&d.repo, &d.commit, "commit");
        let mut data = read_file(&path);
        let at = data
            .windows(4)
            .position(|w| w == b"subj")
            .expect("subject in commit");
        data[at] ^= 0x01;
        write_file(&path, &data);
        let mut cases: Vec<(&[&str], Expect)> =
            NEED_COMMIT.iter().map(|c| (*c, Expect::Fail)).collect();
        cases.push((&["rev-parse", "main"], Expect::SameAsUpstream));
        problems.extend(check_reads(
            &d,
            &format!("{mode} flipped commit byte"),
            &cases,
        ));
    }
    assert_no_problems(&problems);
}

/// A commit object cut in half (upstream segfaults on most commands here).
#[test]
fn read_truncated_commit() {
    let d = upstream_repo(Mode::Archive);
    let path = object_path(&d.repo, &d.commit, "commit");
    let data = read_file(&path);
    write_file(&path, &data[..data.len() / 2]);
    let cases: Vec<(&[&str], Expect)> = NEED_COMMIT.iter().map(|c| (*c, Expect::Fail)).collect();
    assert_no_problems(&check_reads(&d, "truncated commit", &cases));
}

/// The root dirtree cut in half: listing and cat fail; log/show do not need it.
#[test]
fn read_truncated_dirtree() {
    let mut problems = Vec::new();
    for mode in [Mode::Archive, Mode::BareUser] {
        let d = upstream_repo(mode);
        let path = object_path(&d.repo, &d.root_tree, "dirtree");
        let data = read_file(&path);
        write_file(&path, &data[..data.len() / 2]);
        problems.extend(check_reads(
            &d,
            &format!("{mode} truncated dirtree"),
            &[
                (&["ls", "main"], Expect::Fail),
                (&["ls", "-R", "main"], Expect::Fail),
                (&["ls", "main", "/sub"], Expect::Fail),
                (&["cat", "main", "/t"], Expect::Fail),
                (&["cat", "main", "/sub/f"], Expect::Fail),
                (&["log", "main"], Expect::SameAsUpstream),
                (&["show", "main"], Expect::SameAsUpstream),
                (&["rev-parse", "main"], Expect::SameAsUpstream),
            ],
        ));
    }
    assert_no_problems(&problems);
}

/// A dirmeta with one byte appended, stored under its new sha256 (so the name
/// matches) and made the root dirmeta of a new commit: the variant is not in
/// normal form, which rostree must reject where the dirmeta is read.
#[test]
fn read_non_normal_dirmeta() {
    let mut problems = Vec::new();
    for mode in [Mode::Archive, Mode::BareUser] {
        let d = upstream_repo(mode);
        let mut data = read_file(&object_path(&d.repo, &d.root_meta, "dirmeta"));
        data.push(0);
        let bad_meta = store_metadata(&d.repo, &data, "dirmeta");
        let new_commit = repoint_metadata(&d.repo, &d.commit, "commit", &d.root_meta, &bad_meta);
        write_ref(&d.repo, "main", &new_commit);
        assert_eq!(read_ref(&d.repo, "main"), new_commit);
        problems.extend(check_reads(
            &d,
            &format!("{mode} non-normal dirmeta"),
            &[
                (&["ls", "-d", "main", "/"], Expect::Fail),
                (&["ls", "main"], Expect::Fail),
                (&["ls", "-R", "main"], Expect::Fail),
                (&["log", "main"], Expect::SameAsUpstream),
                (&["rev-parse", "main"], Expect::SameAsUpstream),
            ],
        ));
    }
    assert_no_problems(&problems);
}

/// Missing objects: the commit, the root dirtree, a content object.
#[test]
fn read_missing_objects() {
    let mut problems = Vec::new();
    for mode in [Mode::Archive, Mode::BareUser] {
        let d = upstream_repo(mode);
        std::fs::remove_file(object_path(&d.repo, &d.commit, "commit")).expect("rm commit");
        let mut cases: Vec<(&[&str], Expect)> =
            NEED_COMMIT.iter().map(|c| (*c, Expect::BothFail)).collect();
        cases.push((&["rev-parse", "main"], Expect::SameAsUpstream));
        problems.extend(check_reads(&d, &format!("{mode} missing commit"), &cases));

        let d = upstream_repo(mode);
        std::fs::remove_file(object_path(&d.repo, &d.root_tree, "dirtree")).expect("rm dirtree");
        problems.extend(check_reads(
            &d,
            &format!("{mode} missing root dirtree"),
            &[
                (&["ls", "main"], Expect::BothFail),
                (&["cat", "main", "/t"], Expect::BothFail),
                (&["log", "main"], Expect::SameAsUpstream),
                (&["show", "main"], Expect::SameAsUpstream),
            ],
        ));

        let d = upstream_repo(mode);
        let ext = if mode == Mode::Archive {
            "filez"
        } else {
            "file"
        };
        std::fs::remove_file(object_path(&d.repo, &d.file, ext)).expect("rm file object");
        problems.extend(check_reads(
            &d,
            &format!("{mode} missing file object"),
            &[
                (&["cat", "main", "/sub/f"], Expect::BothFail),
                (&["ls", "-R", "main"], Expect::BothFail),
                (&["ls", "main", "/sub/f"], Expect::BothFail),
                (&["cat", "main", "/t"], Expect::SameAsUpstream),
                (&["ls", "main"], Expect::SameAsUpstream),
                (&["log", "main"], Expect::SameAsUpstream),
            ],
        ));
    }
    assert_no_problems(&problems);
}

/// Bad paths and revs on a healthy repo.
#[test]
fn read_bad_paths_and_revs() {
    let d = upstream_repo(Mode::Archive);
    let cases: &[(&[&str], Expect)] = &[
        (&["ls", "main", "/nonexistent"], Expect::BothFail),
        (&["ls", "main", "/t/x"], Expect::BothFail),
        (&["cat", "main", "/nonexistent"], Expect::BothFail),
        (&["cat", "main", "/"], Expect::BothFail),
        (&["cat", "main", "/sub"], Expect::BothFail),
        (&["log", "nosuch"], Expect::BothFail),
        (&["show", "nosuch"], Expect::BothFail),
        (&["ls", "nosuch"], Expect::BothFail),
        (&["cat", "nosuch", "/t"], Expect::BothFail),
        (&["rev-parse", "nosuch"], Expect::BothFail),
        (&["rev-parse", "bad ref"], Expect::BothFail),
        (&["rev-parse", "main^"], Expect::BothFail),
        (
            &["show", "--print-metadata-key=nosuch", "main"],
            Expect::BothFail,
        ),
        (
            &["show", "--print-detached-metadata-key=k", "main"],
            Expect::BothFail,
        ),
        (&["refs", "--create=x", "nosuch"], Expect::BothFail),
        (&["reset", "nosuch", "main"], Expect::BothFail),
        (&["reset", "main", "nosuch"], Expect::BothFail),
        (&["config", "get", "core.nosuch"], Expect::BothFail),
        (&["config", "get", "nodot"], Expect::BothFail),
    ];
    assert_no_problems(&check_reads(&d, "healthy repo", cases));
}

/// `--repo` pointing at something that is not a repo, and a repo whose config
/// is garbage or names an unknown mode.
#[test]
fn bad_repo_and_config() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let not_repo = tmp.path().join("not-a-repo");
    std::fs::create_dir(&not_repo).expect("mkdir");
    let a_file = tmp.path().join("a-file");
    write_file(&a_file, b"x\n");
    let tree = tmp.path().join("tree");
    TreeSpec::new().file("f", "f\n", 0o644).create(&tree);
    let t = s(&tree);

    let garbage = upstream_repo(Mode::Archive);
    write_file(&garbage.repo.join("config"), b"garbage\n");
    let bad_mode = upstream_repo(Mode::Archive);
    write_file(
        &bad_mode.repo.join("config"),
        b"[core]\nrepo_version=1\nmode=garbage\n",
    );

    let repos: Vec<(String, PathBuf)> = vec![
        ("empty dir".to_owned(), not_repo),
        ("regular file".to_owned(), a_file),
        ("nonexistent".to_owned(), tmp.path().join("nonexistent")),
        ("garbage config".to_owned(), garbage.repo.clone()),
        ("unknown mode".to_owned(), bad_mode.repo.clone()),
    ];
    let commands: &[&[&str]] = &[
        &["log", "main"],
        &["show", "main"],
        &["ls", "main"],
        &["cat", "main", "/t"],
        &["rev-parse", "main"],
        &["refs"],
        &["config", "get", "core.mode"],
        &["reset", "main", "main"],
        &["commit", "-b", "main", "--timestamp=@1", &t],
    ];
    let ostree = upstream_ostree();
    let mut problems = Vec::new();
    for (what, repo) in &repos {
        for args in commands {
            let before = snapshot(repo);
            let repo_arg = format!("--repo={}", s(repo));
            let run = |bin: &Path| {
                let inv = Invocation::new(bin)
                    .arg(args[0])
                    .arg(&repo_arg)
                    .args(&args[1..])
                    .cwd(tmp.path());
                Run {
                    command: inv.display(),
                    output: inv.output(),
                }
            };
            let u = run(&ostree);
            let r = run(Path::new(ROSTREE));
            if u.output.status.success() {
                problems.push(format!(
                    "[{what}] upstream unexpectedly succeeded: {}",
                    u.command
                ));
            }
            problems.extend(clean_error_problem(&r).map(|e| format!("[{what}] {e}")));
            let diff = before.diff(&snapshot(repo));
            if !diff.is_empty() {
                problems.push(format!("[{what}] {args:?} changed the repo: {diff:?}"));
            }
        }
    }
    assert_no_problems(&problems);
}

/// `--parent` must be a full 64-character checksum: a ref name or a partial
/// checksum is refused by upstream (`error: Invalid rev main`).
#[test]
fn commit_parent_not_a_checksum() {
    let p = Pair::new(ROSTREE, Mode::Archive);
    let tree = p.path("tree");
    TreeSpec::new().file("f", "f\n", 0o644).create(&tree);
    let t = s(&tree);
    let c = p.commit(["-b", "main", "--timestamp=@1", &t]);
    let mut problems = Vec::new();
    for parent in ["main", "abcd", &c[..10]] {
        problems.extend(both_fail(
            &p,
            &[
                "commit",
                "-b",
                "main",
                &format!("--parent={parent}"),
                "--timestamp=@2",
                &t,
            ],
        ));
    }
    assert_no_problems(&problems);
}

/// `ls` does not normalize paths: a trailing slash or a double slash is an error.
#[test]
fn ls_unnormalized_paths() {
    let d = upstream_repo(Mode::Archive);
    assert_no_problems(&check_reads(
        &d,
        "healthy repo",
        &[
            (&["ls", "main", "/sub/"], Expect::BothFail),
            (&["ls", "main", "//sub"], Expect::BothFail),
            (&["ls", "main", "/sub/../sub"], Expect::BothFail),
            (&["ls", "main", "./sub"], Expect::BothFail),
        ],
    ));
}

/// `refs --delete` with no PREFIX is an error (upstream: `At least one PREFIX
/// is required when deleting refs`) and must not delete anything.
#[test]
fn refs_delete_requires_prefix() {
    let d = upstream_repo(Mode::Archive);
    assert_no_problems(&check_reads(
        &d,
        "healthy repo",
        &[(&["refs", "--delete"], Expect::BothFail)],
    ));
}

/// `ls -d main /` needs the root dirtree too: upstream fails when it is missing.
#[test]
fn ls_dironly_missing_root_dirtree() {
    let d = upstream_repo(Mode::Archive);
    std::fs::remove_file(object_path(&d.repo, &d.root_tree, "dirtree")).expect("rm dirtree");
    assert_no_problems(&check_reads(
        &d,
        "missing root dirtree",
        &[(&["ls", "-d", "main", "/"], Expect::BothFail)],
    ));
}

/// Config values as upstream reads them when it opens a repository: what it refuses, both
/// tools refuse with the same line (and change nothing); what it takes (numbers read as
/// `g_ascii_strtoull` reads them, the zlib level clamped), both take.
#[test]
fn config_values_are_read_as_upstream_reads_them() {
    let tree_dir = tempfile::tempdir().expect("tempdir");
    let tree = tree_dir.path().join("tree");
    TreeSpec::new().file("f", "f\n", 0o644).create(&tree);
    let t = s(&tree);
    // (line added to [core], upstream refuses it)
    let cases: &[(&str, bool)] = &[
        ("fsync=maybe", true),
        ("disable-xattrs=2", true),
        ("per-object-fsync=yes", true),
        ("locking=perhaps", true),
        ("archive=true", true),
        ("min-free-space-percent=120", true),
        ("min-free-space-size=12XB", true),
        ("repo_version=2", true),
        ("lock-timeout-secs=abc", false),
        ("min-free-space-percent=abc", false),
        ("tmp-expiry-secs=soon", false),
        ("fsync=false", false),
    ];
    let mut problems = Vec::new();
    for (line, refused) in cases {
        let p = Pair::new(ROSTREE, Mode::Archive);
        for tool in [Tool::Upstream, Tool::Rostree] {
            let config = p.repo(tool).join("config");
            let text = std::fs::read_to_string(&config).expect("config");
            let key = line.split('=').next().expect("a key");
            // The line replaces one of the same key (repo_version), or joins [core].
            let kept: Vec<&str> = text
                .lines()
                .filter(|l| !l.starts_with(&format!("{key}=")))
                .collect();
            let mut edited = kept
                .join("\n")
                .replacen("[core]", &format!("[core]\n{line}"), 1);
            edited.push('\n');
            std::fs::write(&config, edited).expect("write config");
        }
        let args = ["commit", "-b", "main", "--timestamp=@1", &t];
        if *refused {
            problems.extend(
                both_fail(&p, &args)
                    .into_iter()
                    .map(|e| format!("[{line}] {e}")),
            );
            let (u, r) = p.both(["refs"]);
            if u.stderr() != r.stderr() {
                problems.push(format!(
                    "[{line}] the refusals differ:\n  upstream: {}  rostree:  {}",
                    u.stderr(),
                    r.stderr()
                ));
            }
        } else {
            let (u, r) = p.both(args);
            if !u.output.status.success() || !r.output.status.success() {
                problems.push(format!(
                    "[{line}] not taken by both: upstream {} / rostree {}",
                    describe(&u.output),
                    describe(&r.output)
                ));
            }
        }
    }
    // An out-of-range zlib level is clamped, as upstream clamps it; the objects still read.
    let p = Pair::new(ROSTREE, Mode::Archive);
    for tool in [Tool::Upstream, Tool::Rostree] {
        let config = p.repo(tool).join("config");
        let mut text = std::fs::read_to_string(&config).expect("config");
        text.push_str("[archive]\nzlib-level=42\n");
        std::fs::write(&config, text).expect("write config");
    }
    p.both_ok(["commit", "-b", "main", "--timestamp=@1", &t]);
    p.both_ok(["fsck"]);
    assert_no_problems(&problems);
}
