//! `prune` against upstream: the same repo pruned by each tool keeps the same objects and
//! prints the same report.

use std::path::{Path, PathBuf};

use rostree_testutil::repo::{Pair, Tool};
use rostree_testutil::{Invocation, Mode, TreeSpec};

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn object_names(repo: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for dir in std::fs::read_dir(repo.join("objects"))
        .expect("objects")
        .flatten()
    {
        for f in std::fs::read_dir(dir.path()).expect("subdir").flatten() {
            out.push(f.file_name().to_string_lossy().into_owned());
        }
    }
    out.sort();
    out
}

/// Runs `steps` with both tools on their own copies of `src`, one after the other, and
/// demands the same success, stdout, first error line, objects and deltas after each.
/// Returns the copies (upstream's, rostree's) and how many steps failed.
fn run_steps(p: &Pair, src: &Path, steps: &[Vec<String>]) -> (PathBuf, PathBuf, usize) {
    let (up, rs) = (p.path("up-copy"), p.path("rs-copy"));
    for dst in [&up, &rs] {
        Invocation::new("cp").args(["-a", &s(src), &s(dst)]).ok();
    }
    let mut failures = 0;
    for step in steps {
        let u = p.run(Tool::Upstream, &up, step);
        let r = p.run(Tool::Rostree, &rs, step);
        assert_eq!(
            u.output.status.success(),
            r.output.status.success(),
            "{step:?}: {} / {}",
            u.stderr(),
            r.stderr()
        );
        if !u.output.status.success() {
            failures += 1;
            // Upstream adds its usage text to some of these.
            let error_line = |e: String| {
                e.lines()
                    .find(|l| l.starts_with("error:"))
                    .unwrap_or_default()
                    .to_owned()
            };
            assert_eq!(error_line(u.stderr()), error_line(r.stderr()), "{step:?}");
        }
        assert_eq!(u.stdout(), r.stdout(), "{step:?}: {}", u.stderr());
        assert_eq!(object_names(&up), object_names(&rs), "{step:?}: objects");
        assert_eq!(delta_files(&up), delta_files(&rs), "{step:?}: deltas");
    }
    (up, rs, failures)
}

fn check(mode: Mode) {
    let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), mode);
    let (t1, t2, t3) = (p.path("t1"), p.path("t2"), p.path("t3"));
    TreeSpec::new()
        .file("a", "one\n", 0o644)
        .file("shared", "s\n", 0o644)
        .create(&t1);
    TreeSpec::new()
        .file("b", "two\n", 0o644)
        .file("shared", "s\n", 0o644)
        .create(&t2);
    TreeSpec::new()
        .file("c", "three\n", 0o644)
        .dir("d", 0o700)
        .create(&t3);
    p.commit(["-b", "a", "-s", "1", "--timestamp=@1", &s(&t1)]);
    let first = p.commit(["-b", "a", "-s", "2", "--timestamp=@2", &s(&t2)]);
    p.commit(["-b", "a", "-s", "3", "--timestamp=@3", &s(&t3)]);
    p.commit([
        "-b",
        "b",
        "-s",
        "b",
        "--add-detached-metadata-string=k=v",
        "--timestamp=@4",
        &s(&t3),
    ]);
    let steps: Vec<Vec<String>> = vec![
        vec!["prune".into()],
        vec![
            "prune".into(),
            "--refs-only".into(),
            "--depth=1".into(),
            "--no-prune".into(),
        ],
        vec!["prune".into(), "--refs-only".into(), "--depth=1".into()],
        vec!["refs".into(), "--delete".into(), "b".into()],
        vec!["prune".into(), "--refs-only".into()],
        vec!["prune".into(), format!("--delete-commit={first}")],
        vec!["prune".into(), "--refs-only".into(), "--depth=0".into()],
    ];
    // Both tools prune copies of the same repo, step by step.
    let (_, rs, failures) = run_steps(&p, p.repo(Tool::Upstream), &steps);
    assert_eq!(failures, 0, "{mode}");
    // What is left is a sound repository for both tools.
    for tool in [Tool::Upstream, Tool::Rostree] {
        p.run(tool, &rs, ["fsck"]).pipe_ok("fsck after prune");
    }
}

#[test]
fn prune_archive() {
    check(Mode::Archive);
}

#[test]
fn prune_bare_user() {
    check(Mode::BareUser);
}

/// Every file under `deltas/`, relative.
fn delta_files(repo: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = vec![repo.join("deltas")];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            out.push(s(path.strip_prefix(repo).expect("under repo")));
            if entry.file_type().expect("type").is_dir() {
                pending.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The branch rules (`--keep-younger-than`, `--retain-branch-depth`, `--only-branch`),
/// `--commit-only`, static deltas and the errors, step by step on copies of one repo.
#[test]
fn prune_branch_rules_and_deltas() {
    let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), Mode::Archive);
    let mut main = Vec::new();
    for i in 1..=5u32 {
        let t = p.path(format!("m{i}"));
        TreeSpec::new()
            .file(&format!("m{i}"), format!("{i}\n"), 0o644)
            .file("shared", "s\n", 0o644)
            .create(&t);
        main.push(p.commit([
            "-b".into(),
            "main".into(),
            format!("--timestamp=@{}", i * 1000),
            s(&t),
        ]));
    }
    for i in 1..=3u32 {
        let t = p.path(format!("o{i}"));
        TreeSpec::new()
            .file(&format!("o{i}"), format!("{i}\n"), 0o644)
            .create(&t);
        p.commit([
            "-b".into(),
            "other".into(),
            format!("--timestamp=@{}", 500 + i * 1000),
            s(&t),
        ]);
    }
    let src = p.repo(Tool::Upstream);
    std::fs::create_dir_all(src.join("refs/remotes/origin")).expect("mkdir");
    std::fs::write(
        src.join("refs/remotes/origin/main"),
        format!("{}\n", main[2]),
    )
    .expect("ref");
    // Deltas from upstream: to the head from its parent and from nothing, and to an old commit.
    for args in [
        vec!["static-delta", "generate", "main"],
        vec!["static-delta", "generate", "--empty", "main"],
        vec!["static-delta", "generate", "--empty", &main[1]],
    ] {
        p.run(Tool::Upstream, src, args)
            .pipe_ok("static-delta generate");
    }
    assert_eq!(delta_files(src).len(), 3 + 3 * 3, "{:?}", delta_files(src));
    let steps: Vec<Vec<String>> = [
        vec!["--static-deltas-only"],
        vec!["--delete-commit=main", "--no-prune"],
        vec!["--retain-branch-depth=main"],
        vec!["--retain-branch-depth=main=x"],
        vec!["--only-branch=nope"],
        vec!["--keep-younger-than=garbage"],
        vec!["--refs-only", "--depth=3", "--commit-only", "--no-prune"],
        vec!["--keep-younger-than=@2500", "--no-prune"],
        vec!["--only-branch=other", "--depth=0", "--no-prune"],
        vec![
            "--only-branch=other",
            "--retain-branch-depth=other=1",
            "--depth=0",
        ],
        // Both refs on main's history keep all of it: upstream stops a walk at a commit that
        // another ref already reached, so it would lose m1 and m2 to whichever came first.
        vec![
            "--keep-younger-than=@3500",
            "--retain-branch-depth=main=-1",
            "--retain-branch-depth=origin:main=-1",
            "--commit-only",
        ],
        // (Not `=0`: upstream loses a zero depth and applies --depth instead.)
        vec![
            "--retain-branch-depth=main=2",
            "--retain-branch-depth=origin:main=1x",
        ],
        vec!["--refs-only"],
        vec![
            "--static-deltas-only",
            &format!("--delete-commit={}", main[4]),
        ],
        vec!["--keep-younger-than=@4500"],
    ]
    .iter()
    .map(|args| {
        std::iter::once("prune".to_owned())
            .chain(args.iter().map(|a| a.to_string()))
            .collect()
    })
    .collect();
    let (_, rs, failures) = run_steps(&p, src, &steps);
    assert_eq!(failures, 6);
    // The last steps deleted commits, old deltas and then the head's deltas.
    let log = p.run(Tool::Upstream, &rs, ["log", "main"]).stdout();
    assert_eq!(
        log.lines().filter(|l| l.starts_with("commit ")).count(),
        1,
        "{log}"
    );
    assert!(
        delta_files(&rs)
            .iter()
            .all(|f| f.len() == "deltas/XX".len())
    );
    for tool in [Tool::Upstream, Tool::Rostree] {
        p.run(tool, &rs, ["fsck"]).pipe_ok("fsck after prune");
    }
}

/// Where rostree deliberately parts from upstream: a zero depth is kept (upstream loses it and
/// applies `--depth`), and a ref asking for all history gets it even when another ref's
/// shorter walk reached the shared commits first (upstream's result depends on hash order).
#[test]
fn prune_branch_depths_as_asked() {
    let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), Mode::Archive);
    let mut commits = Vec::new();
    for i in 1..=3u32 {
        let t = p.path(format!("t{i}"));
        TreeSpec::new()
            .file(&format!("f{i}"), "x\n", 0o644)
            .create(&t);
        commits.push(p.commit([
            "-b".into(),
            "main".into(),
            format!("--timestamp=@{i}"),
            s(&t),
        ]));
    }
    let repo = p.repo(Tool::Rostree);
    let history = |r: &str| {
        p.run(Tool::Rostree, repo, ["log", r])
            .pipe_ok("log")
            .stdout()
            .lines()
            .filter(|l| l.starts_with("commit "))
            .count()
    };
    // `base` (on commit 2) is walked before `main`, in name order.
    p.run(Tool::Rostree, repo, ["refs", "--create=base", &commits[1]])
        .pipe_ok("refs --create");
    p.run(
        Tool::Rostree,
        repo,
        [
            "prune",
            "--retain-branch-depth=base=0",
            "--retain-branch-depth=main=-1",
        ],
    )
    .pipe_ok("prune");
    assert_eq!(history("main"), 3);
    p.run(Tool::Rostree, repo, ["refs", "--delete", "base"])
        .pipe_ok("refs --delete");
    p.run(
        Tool::Rostree,
        repo,
        ["prune", "--retain-branch-depth=main=0"],
    )
    .pipe_ok("prune");
    assert_eq!(history("main"), 1);
    p.run(Tool::Upstream, repo, ["fsck"])
        .pipe_ok("upstream fsck");
}
