//! Pulls through static deltas against a server that misbehaves: a delta that cannot be
//! used (corrupt or missing part, corrupt superblock) is fetched as objects instead, with a
//! warning, unless deltas are required, when the pull fails and no ref moves; a pull run
//! again after a failure fetches only the parts not yet built; a dropped part is resumed
//! with a range request.

use std::path::{Path, PathBuf};

use rostree_testutil::faulty::{Fault, FaultyServer};
use rostree_testutil::repo::{Pair, Run, Tool};
use rostree_testutil::{Mode, TreeSpec};

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// An upstream archive repo where `main` goes from A to B, B adding six incompressible
/// 700 kB files; upstream's delta A→B in 1 MB chunks (three parts) and a summary listing
/// it. Returns the pair and the two commits.
fn source() -> (Pair, String, String) {
    let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), Mode::Archive);
    let up = p.repo(Tool::Upstream).to_owned();
    let mut spec = TreeSpec::new().file("kept", "the same in both\n", 0o644);
    let mut commits = Vec::new();
    for (name, version) in [("a", 0u32), ("b", 1)] {
        if version == 1 {
            for i in 0..6 {
                let data = rostree_testutil::tree::pseudo_random_bytes(700_000, 100 + i);
                spec = spec.file(&format!("new/f{i}"), data, 0o644);
            }
        }
        let tree = p.path(name);
        spec.clone().create(&tree);
        let time = format!("--timestamp=@{}", version + 1);
        p.run(
            Tool::Upstream,
            &up,
            ["commit", "-b", "main", &time, &s(&tree)],
        )
        .pipe_ok("commit");
        let rev = p.run(Tool::Upstream, &up, ["rev-parse", "main"]);
        commits.push(rev.pipe_ok("rev-parse").stdout().trim().to_owned());
    }
    p.run(
        Tool::Upstream,
        &up,
        ["static-delta", "generate", "--max-chunk-size=1", "main"],
    )
    .pipe_ok("generate");
    p.run(Tool::Upstream, &up, ["summary", "-u"])
        .pipe_ok("summary");
    let [a, b] = <[String; 2]>::try_from(commits).expect("two commits");
    (p, a, b)
}

/// The delta's files as the server names them: (superblock, parts in order).
fn delta_paths(p: &Pair) -> (String, Vec<String>) {
    let deltas = p.repo(Tool::Upstream).join("deltas");
    let prefix = std::fs::read_dir(&deltas)
        .expect("deltas/")
        .flatten()
        .next();
    let prefix = prefix.expect("one delta").path();
    let dir = std::fs::read_dir(&prefix)
        .expect("deltas/XX")
        .flatten()
        .next();
    let dir = dir.expect("one delta").path();
    let rel = dir
        .strip_prefix(p.repo(Tool::Upstream))
        .expect("inside")
        .to_string_lossy()
        .into_owned();
    let mut parts: Vec<u32> = std::fs::read_dir(&dir)
        .expect("delta dir")
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .collect();
    parts.sort();
    let parts = parts.iter().map(|i| format!("{rel}/{i}")).collect();
    (format!("{rel}/superblock"), parts)
}

/// A bare-user repo with remote `o` at `url`, holding `main` at `commit`.
fn client(p: &Pair, name: &str, url: &str, commit: &str) -> PathBuf {
    let repo = p.path(name);
    p.run(Tool::Rostree, &repo, ["init", "--mode=bare-user"])
        .pipe_ok("init");
    p.run(
        Tool::Rostree,
        &repo,
        ["remote", "add", "--no-gpg-verify", "o", url],
    )
    .pipe_ok("remote add");
    p.run(
        Tool::Rostree,
        &repo,
        ["pull", "o", &format!("main@{commit}")],
    )
    .pipe_ok("pull the old commit");
    repo
}

fn head(p: &Pair, repo: &Path) -> String {
    let r = p.run(Tool::Upstream, repo, ["rev-parse", "o:main"]);
    r.pipe_ok("rev-parse").stdout().trim().to_owned()
}

fn fsck_both(p: &Pair, repo: &Path) {
    for tool in [Tool::Upstream, Tool::Rostree] {
        p.run(tool, repo, ["fsck"]).pipe_ok("fsck");
    }
}

fn pull(p: &Pair, repo: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["pull"];
    args.extend_from_slice(extra);
    args.extend(["o", "main"]);
    p.run(Tool::Rostree, repo, args)
}

#[test]
fn unusable_deltas_fall_back_to_objects_unless_required() {
    let (p, a, b) = source();
    let (superblock, parts) = delta_paths(&p);
    assert_eq!(parts.len(), 3, "{parts:?}");
    let cases = [
        (
            superblock.clone(),
            Fault::Corrupt,
            "Invalid checksum for static delta",
        ),
        (
            parts[1].clone(),
            Fault::Corrupt,
            "Checksum mismatch in static delta part",
        ),
        (parts[2].clone(), Fault::Status(404), "is missing"),
    ];
    for (n, (bad, fault, words)) in cases.into_iter().enumerate() {
        let path = bad.clone();
        let server = FaultyServer::start(p.repo(Tool::Upstream), move |req, _| {
            if req == path { fault } else { Fault::None }
        });
        // Required: the pull fails in the delta's words, and the ref stays at A.
        let repo = client(&p, &format!("required-{n}"), &server.url(), &a);
        let r = pull(&p, &repo, &["--require-static-deltas"]);
        assert!(!r.output.status.success(), "{bad}: pull succeeded");
        assert!(r.stderr().contains(words), "{bad}: {}", r.stderr());
        assert_eq!(head(&p, &repo), a, "{bad}: the ref moved");
        fsck_both(&p, &repo);
        // Not required: a warning, then B whole from objects.
        let repo = client(&p, &format!("fallback-{n}"), &server.url(), &a);
        let r = pull(&p, &repo, &[]);
        r.pipe_ok("pull falling back to objects");
        assert!(r.stderr().contains("warning: "), "{bad}: {}", r.stderr());
        assert!(r.stderr().contains(words), "{bad}: {}", r.stderr());
        assert_eq!(head(&p, &repo), b);
        fsck_both(&p, &repo);
        let requests = server.requests();
        assert!(requests.iter().any(|r| r.starts_with("objects/")), "{bad}");
    }
}

#[test]
fn a_pull_run_again_fetches_only_the_parts_not_built() {
    let (p, a, b) = source();
    let (_, parts) = delta_paths(&p);
    let missing = parts[1].clone();
    let failing = FaultyServer::start(p.repo(Tool::Upstream), move |req, _| {
        if req == missing {
            Fault::Status(404)
        } else {
            Fault::None
        }
    });
    let repo = client(&p, "client", &failing.url(), &a);
    let r = pull(&p, &repo, &["--require-static-deltas"]);
    assert!(!r.output.status.success(), "the pull succeeded");
    assert_eq!(head(&p, &repo), a);
    fsck_both(&p, &repo);
    let first: Vec<String> = failing.requests();
    // Every part was asked for (they are fetched together).
    for part in &parts {
        assert!(first.contains(part), "{part} not fetched: {first:?}");
    }
    let good = FaultyServer::start(p.repo(Tool::Upstream), |_, _| Fault::None);
    p.run(Tool::Rostree, &repo, ["remote", "delete", "o"])
        .pipe_ok("remote delete");
    let url = good.url();
    p.run(
        Tool::Rostree,
        &repo,
        ["remote", "add", "--no-gpg-verify", "o", &url],
    )
    .pipe_ok("remote add");
    let r = pull(&p, &repo, &["--require-static-deltas"]);
    r.pipe_ok("second pull");
    assert!(r.stdout().contains("3 delta parts"), "{}", r.stdout());
    let fetched: Vec<String> = good
        .requests()
        .into_iter()
        .filter(|r| parts.contains(r))
        .collect();
    assert_eq!(fetched, vec![parts[1].clone()], "parts fetched again");
    assert_eq!(head(&p, &repo), b);
    fsck_both(&p, &repo);
}

#[test]
fn a_dropped_part_is_resumed_with_a_range() {
    let (p, a, b) = source();
    let (_, parts) = delta_paths(&p);
    let dropped = parts[0].clone();
    let server = FaultyServer::start(p.repo(Tool::Upstream), move |req, seen| {
        if req == dropped && seen == 0 {
            Fault::Drop
        } else {
            Fault::None
        }
    });
    let repo = client(&p, "client", &server.url(), &a);
    pull(&p, &repo, &["--require-static-deltas"]).pipe_ok("pull through a dropped part");
    let log = server.requests();
    assert!(
        log.iter()
            .any(|r| r.starts_with(&format!("{} range=", parts[0]))),
        "no range request: {log:?}"
    );
    assert_eq!(head(&p, &repo), b);
    fsck_both(&p, &repo);
}
