//! `prune` against upstream: the same repo pruned by each tool keeps the same objects and
//! prints the same report.

use std::path::Path;

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
    let (up, rs) = (p.path("up-copy"), p.path("rs-copy"));
    for dst in [&up, &rs] {
        Invocation::new("cp")
            .args(["-a", &s(p.repo(Tool::Upstream)), &s(dst)])
            .ok();
    }
    for step in &steps {
        let u = p.run(Tool::Upstream, &up, step);
        let r = p.run(Tool::Rostree, &rs, step);
        assert_eq!(
            u.output.status.success(),
            r.output.status.success(),
            "{step:?}: {} / {}",
            u.stderr(),
            r.stderr()
        );
        assert_eq!(u.stdout(), r.stdout(), "{mode} {step:?}");
        assert_eq!(
            object_names(&up),
            object_names(&rs),
            "{mode} {step:?}: objects left"
        );
    }
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
