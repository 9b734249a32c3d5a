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
    p
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
