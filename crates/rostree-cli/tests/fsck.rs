//! `fsck` against upstream: clean repos pass in both tools; a repo corrupted in each way
//! fails in both, naming the same object; `--delete` marks the same commits partial.

use std::path::{Path, PathBuf};

use rostree_testutil::repo::{Pair, Tool};
use rostree_testutil::{Mode, TreeSpec};

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn objects_with_ext(repo: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in std::fs::read_dir(repo.join("objects"))
        .expect("objects")
        .flatten()
    {
        for f in std::fs::read_dir(dir.path()).expect("subdir").flatten() {
            if f.path().extension().is_some_and(|e| e == ext) {
                out.push(f.path());
            }
        }
    }
    out.sort();
    out
}

/// Copies `src` repo to `dst` (both tools then check identical bytes).
fn copy_repo(src: &Path, dst: &Path) {
    rostree_testutil::Invocation::new("cp")
        .args(["-a", &s(src), &s(dst)])
        .ok();
}

fn setup(mode: Mode) -> Pair {
    let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), mode);
    let tree = p.path("tree");
    TreeSpec::new()
        .file("a.txt", "hello\n", 0o644)
        .file(
            "big",
            rostree_testutil::tree::pseudo_random_bytes(100_000, 7),
            0o644,
        )
        .symlink("l", "a.txt")
        .dir("d", 0o755)
        .file("d/inner", "inner\n", 0o600)
        .create(&tree);
    p.commit(["-b", "main", "--timestamp=@1", &s(&tree)]);
    // A second commit sharing most of the first's objects: a problem in one of those is
    // reported for both commits and marks both partial.
    std::fs::write(tree.join("d/second"), "second\n").expect("write");
    p.commit(["-b", "main", "--timestamp=@2", &s(&tree)]);
    p
}

/// The lines fsck reports problems with, commit lists sorted (upstream lists them in hash
/// table order).
fn problem_lines(stderr: &str) -> Vec<String> {
    let mut lines: Vec<String> = stderr
        .lines()
        .filter(|l| {
            ["In commits ", "Object missing", "Marking commit", "error:"]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .map(|l| {
            let (error, line) = match l.strip_prefix("error: ") {
                Some(rest) => ("error: ", rest),
                None => ("", l),
            };
            for prefix in ["In commits ", "Object missing in commits "] {
                if let Some(rest) = line.strip_prefix(prefix)
                    && let Some((list, tail)) = rest.split_once(": ")
                {
                    let mut commits: Vec<&str> = list.split(", ").collect();
                    commits.sort();
                    return format!("{error}{prefix}{}: {tail}", commits.join(", "));
                }
            }
            l.to_owned()
        })
        .collect();
    lines.sort();
    lines
}

type Corruption = fn(&Path, bool);

fn corruptions() -> Vec<(&'static str, Corruption)> {
    vec![
        ("flipped byte", |repo, archive| {
            let ext = if archive { "filez" } else { "file" };
            let f = objects_with_ext(repo, ext)
                .into_iter()
                .find(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 50_000))
                .expect("big object");
            let mut data = std::fs::read(&f).expect("read");
            let at = data.len() - 10;
            data[at] ^= 0xff;
            std::fs::write(&f, data).expect("write");
        }),
        ("truncated file", |repo, archive| {
            let ext = if archive { "filez" } else { "file" };
            let f = objects_with_ext(repo, ext)
                .into_iter()
                .find(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 50_000))
                .expect("big object");
            let data = std::fs::read(&f).expect("read");
            std::fs::write(&f, &data[..data.len() / 2]).expect("write");
        }),
        ("missing object", |repo, archive| {
            let ext = if archive { "filez" } else { "file" };
            let f = objects_with_ext(repo, ext)
                .into_iter()
                .next()
                .expect("object");
            std::fs::remove_file(f).expect("rm");
        }),
        ("missing dirtree", |repo, _| {
            let f = objects_with_ext(repo, "dirtree")
                .into_iter()
                .next()
                .expect("dirtree");
            std::fs::remove_file(f).expect("rm");
        }),
        ("wrong-type object", |repo, _| {
            // A dirmeta's bytes stored under a dirtree's name.
            let tree = objects_with_ext(repo, "dirtree")
                .into_iter()
                .next()
                .expect("dirtree");
            let meta = objects_with_ext(repo, "dirmeta")
                .into_iter()
                .next()
                .expect("dirmeta");
            std::fs::copy(meta, tree).expect("copy");
        }),
    ]
}

fn check_mode(mode: Mode) {
    let p = setup(mode);
    let archive = mode == Mode::Archive;
    // Clean: both succeed on both repos, with the same output.
    for repo in [p.repo(Tool::Upstream), p.repo(Tool::Rostree)] {
        let u = p.run(Tool::Upstream, repo, ["fsck"]);
        let r = p.run(Tool::Rostree, repo, ["fsck"]);
        u.pipe_ok("upstream fsck");
        r.pipe_ok("rostree fsck");
        assert_eq!(u.stdout(), r.stdout());
    }
    for (what, corrupt) in corruptions() {
        let base = p.path(format!("base-{}", what.replace(' ', "-")));
        copy_repo(p.repo(Tool::Rostree), &base);
        corrupt(&base, archive);
        for flags in [&[][..], &["--all"], &["--delete"]] {
            let (ur, rr) = (p.path("u-copy"), p.path("r-copy"));
            let _ = std::fs::remove_dir_all(&ur);
            let _ = std::fs::remove_dir_all(&rr);
            copy_repo(&base, &ur);
            copy_repo(&base, &rr);
            let mut args = vec!["fsck"];
            args.extend(flags);
            let u = p.run(Tool::Upstream, &ur, &args);
            let r = p.run(Tool::Rostree, &rr, &args);
            assert!(
                !u.output.status.success(),
                "{mode} {what} {flags:?}: upstream passed"
            );
            assert!(
                !r.output.status.success(),
                "{mode} {what} {flags:?}: rostree passed: {}",
                r.stdout()
            );
            assert!(!r.stderr().contains("panicked"), "{}", r.stderr());
            assert_eq!(
                problem_lines(&r.stderr()),
                problem_lines(&u.stderr()),
                "{mode} {what} {flags:?}: reports"
            );
            let states = |repo: &Path| -> Vec<String> {
                std::fs::read_dir(repo.join("state"))
                    .map(|d| {
                        d.flatten()
                            .map(|e| e.file_name().to_string_lossy().into_owned())
                            .collect()
                    })
                    .unwrap_or_default()
            };
            assert_eq!(
                states(&ur),
                states(&rr),
                "{mode} {what} {flags:?}: partial markers"
            );
        }
    }
}

#[test]
fn fsck_archive() {
    check_mode(Mode::Archive);
}

#[test]
fn fsck_bare_user() {
    check_mode(Mode::BareUser);
}

#[test]
fn fsck_bare() {
    check_mode(Mode::Bare);
}

/// Runs `fsck ARGS` with both tools on copies of `base`; both must agree on success, stdout
/// and the error line. Returns rostree's copy.
fn same_fsck(p: &Pair, base: &Path, args: &[&str], expect_ok: bool) -> PathBuf {
    let (ur, rr) = (p.path("u-copy"), p.path("r-copy"));
    for dst in [&ur, &rr] {
        let _ = std::fs::remove_dir_all(dst);
        copy_repo(base, dst);
    }
    let mut all = vec!["fsck"];
    all.extend(args);
    let u = p.run(Tool::Upstream, &ur, &all);
    let r = p.run(Tool::Rostree, &rr, &all);
    assert_eq!(
        u.output.status.success(),
        expect_ok,
        "{args:?}: {}",
        u.stderr()
    );
    assert_eq!(
        r.output.status.success(),
        expect_ok,
        "{args:?}: {}",
        r.stderr()
    );
    assert_eq!(u.stdout(), r.stdout(), "{args:?}");
    let error_line = |e: String| {
        e.lines()
            .find(|l| l.starts_with("error:"))
            .map(str::to_owned)
    };
    assert_eq!(error_line(u.stderr()), error_line(r.stderr()), "{args:?}");
    rr
}

/// `--verify-bindings` and `--verify-back-refs` fail where upstream does, with its words;
/// `--add-tombstones` records the missing parent.
#[test]
fn fsck_bindings_and_tombstones() {
    let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), Mode::Archive);
    let tree = p.path("tree");
    TreeSpec::new().file("a", "a\n", 0o644).create(&tree);
    let c1 = p.commit(["-b", "main", "--timestamp=@1", &s(&tree)]);
    TreeSpec::new().file("b", "b\n", 0o644).create(&tree);
    let c2 = p.commit(["-b", "main", "--timestamp=@2", &s(&tree)]);
    let orphan = p.commit(["--orphan", "--timestamp=@3", &s(&tree)]);
    p.commit(["-b", "nob", "--no-bindings", "--timestamp=@4", &s(&tree)]);
    let base = p.path("base");
    copy_repo(p.repo(Tool::Upstream), &base);
    // Bindings hold for main and nob (no bindings at all pass); back-refs fail for c1, which
    // binds main although main moved on.
    same_fsck(&p, &base, &["--verify-bindings"], true);
    same_fsck(&p, &base, &["--verify-back-refs"], false);
    // Refs their commits do not name: upstream reports the first in its table's order.
    let unbound = p.path("unbound");
    copy_repo(&base, &unbound);
    for (name, commit) in [("other", &c2), ("orph", &orphan), ("x/y", &c2)] {
        p.run(
            Tool::Upstream,
            &unbound,
            ["refs", &format!("--create={name}"), commit],
        )
        .pipe_ok("refs --create");
    }
    same_fsck(&p, &unbound, &[], true);
    same_fsck(&p, &unbound, &["--verify-bindings"], false);
    // A missing parent: plain fsck agrees; --add-tombstones writes the parent's tombstone and
    // keeps the child (upstream 2022.7 deletes the child instead, refs and all).
    let holed = p.path("holed");
    copy_repo(&base, &holed);
    std::fs::remove_file(rostree_testutil::repo::object_path(&holed, &c1, "commit"))
        .expect("remove parent");
    same_fsck(&p, &holed, &[], true);
    let run = |args: &[&str]| {
        let mut all = vec!["fsck"];
        all.extend(args);
        p.run(Tool::Rostree, &holed, all).pipe_ok("fsck").stdout()
    };
    let out = run(&["--add-tombstones"]);
    assert!(
        out.contains(&format!("Adding tombstone for commit {c1}\n")),
        "{out}"
    );
    assert!(rostree_testutil::repo::object_path(&holed, &c1, "tombstone-commit").exists());
    assert!(rostree_testutil::repo::object_path(&holed, &c2, "commit").exists());
    let config = std::fs::read_to_string(holed.join("config")).expect("config");
    assert!(config.contains("tombstone-commits=true"), "{config}");
    assert!(!run(&["--add-tombstones"]).contains("Adding tombstone"));
    p.run(Tool::Upstream, &holed, ["fsck"])
        .pipe_ok("upstream fsck");
}
