//! `pull` over HTTP against upstream: the same upstream-written archive repository, served by
//! nginx and by `rostree serve`, pulled by both tools into every mode gives the same objects
//! and refs, and both tools' fsck passes; upstream pulls what rostree writes and serves.

use std::path::Path;

use rostree_testutil::http::{Nginx, RostreeServe};
use rostree_testutil::repo::{Pair, Tool};
use rostree_testutil::{Mode, TreeSpec, compare_object_dirs, rich_tree};

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// A fresh repo of `mode` at `repo`, made by `tool`, with remote `o` at `url` (and any
/// extra `remote add` options).
fn init_with_remote(p: &Pair, tool: Tool, repo: &Path, mode: &str, url: &str, extra: &[&str]) {
    p.run(tool, repo, ["init", &format!("--mode={mode}")])
        .pipe_ok("init");
    let mut args = vec!["remote", "add", "--no-gpg-verify"];
    args.extend(extra);
    args.extend(["o", url]);
    p.run(tool, repo, &args).pipe_ok("remote add");
}

/// A source pair with history on `main` and a second ref, each tool's repo with a summary.
fn source() -> Pair {
    let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), Mode::Archive);
    let (t1, t2) = (p.path("t1"), p.path("t2"));
    rich_tree(&t1);
    TreeSpec::new()
        .file("usr/bin/tool", "#!/bin/sh\necho 2\n", 0o755)
        .file("etc/os-release", "VERSION=2\n", 0o644)
        .symlink("etc/alias", "os-release")
        .file(
            "big",
            rostree_testutil::tree::pseudo_random_bytes(300_000, 9),
            0o644,
        )
        .create(&t2);
    p.commit(["-b", "main", "--timestamp=@1", "-s", "one", &s(&t1)]);
    p.commit(["-b", "main", "--timestamp=@2", "-s", "two", &s(&t2)]);
    p.commit(["-b", "other/ref", "--timestamp=@3", &s(&t2)]);
    p.both_ok(["summary", "-u"]);
    p
}

/// Pulls `refs` from `url` with both tools into fresh repos of `mode`; compares.
fn pull_both(p: &Pair, url: &str, mode: Mode, args: &[&str], label: &str) {
    let (up, rs) = (p.path(format!("{label}-up")), p.path(format!("{label}-rs")));
    for (tool, repo) in [(Tool::Upstream, &up), (Tool::Rostree, &rs)] {
        init_with_remote(p, tool, repo, mode.as_str(), url, &[]);
        let mut pull = vec!["pull", "o"];
        pull.extend(args);
        p.run(tool, repo, &pull)
            .pipe_ok(&format!("{label}: {tool:?} pull"));
    }
    compare_object_dirs(&up, &rs);
    for repo in [&up, &rs] {
        let refs = |tool| p.run(tool, repo, ["refs"]).pipe_ok("refs").stdout();
        assert_eq!(refs(Tool::Upstream), refs(Tool::Rostree), "{label}");
        for tool in [Tool::Upstream, Tool::Rostree] {
            p.run(tool, repo, ["fsck"])
                .pipe_ok(&format!("{label}: {tool:?} fsck"));
        }
    }
    let log = |repo: &Path| {
        p.run(Tool::Upstream, repo, ["log", "o:main"])
            .pipe_ok("log")
            .stdout()
    };
    assert_eq!(log(&up), log(&rs), "{label}");
}

#[test]
fn pull_from_nginx_and_rostree_serve() {
    let p = source();
    let src = p.repo(Tool::Upstream);
    let nginx = Nginx::start(src);
    let serve = RostreeServe::start(p.bin(Tool::Rostree), src);
    for (url, server) in [(nginx.url(), "nginx"), (serve.url().to_owned(), "serve")] {
        for mode in [Mode::BareUser, Mode::Archive, Mode::Bare] {
            pull_both(
                &p,
                &url,
                mode,
                &["--depth=-1", "main", "other/ref"],
                &format!("{server}-{mode}"),
            );
        }
        pull_both(
            &p,
            &url,
            Mode::BareUser,
            &["main"],
            &format!("{server}-depth0"),
        );
        pull_both(
            &p,
            &url,
            Mode::BareUser,
            &["--commit-metadata-only", "--depth=1", "main"],
            &format!("{server}-commits"),
        );
    }
}

/// Upstream pulls a repository rostree wrote, served by `rostree serve` and by nginx.
#[test]
fn upstream_pulls_from_rostree() {
    let p = source();
    let served = p.repo(Tool::Rostree);
    let serve = RostreeServe::start(p.bin(Tool::Rostree), served);
    let nginx = Nginx::start(served);
    for (url, server) in [(serve.url().to_owned(), "serve"), (nginx.url(), "nginx")] {
        let dest = p.path(format!("dest-{server}"));
        let up = |args: &[&str]| p.run(Tool::Upstream, &dest, args);
        up(&["init", "--mode=bare-user"]).pipe_ok("init");
        up(&["remote", "add", "--no-gpg-verify", "o", &url]).pipe_ok("remote add");
        up(&["pull", "--depth=-1", "o", "main", "other/ref"]).pipe_ok("upstream pull");
        for tool in [Tool::Upstream, Tool::Rostree] {
            p.run(tool, &dest, ["fsck"]).pipe_ok("fsck");
        }
        let rev = |repo: &Path, r: &str| {
            p.run(Tool::Upstream, repo, ["rev-parse", r])
                .pipe_ok("rev-parse")
                .stdout()
        };
        assert_eq!(rev(&dest, "o:main"), rev(served, "main"), "{server}");
        assert_eq!(
            rev(&dest, "o:other/ref"),
            rev(served, "other/ref"),
            "{server}"
        );
    }
}

/// Refused: a ref the remote lacks, a remote with GPG verification on (until rostree checks
/// signatures), a URL rostree cannot fetch; nothing is written.
#[test]
fn pull_refusals() {
    let p = source();
    let serve = RostreeServe::start(p.bin(Tool::Rostree), p.repo(Tool::Upstream));
    let dest = p.path("dest");
    let rs = |args: &[&str]| p.run(Tool::Rostree, &dest, args);
    rs(&["init", "--mode=archive"]).pipe_ok("init");
    rs(&["remote", "add", "--no-gpg-verify", "o", serve.url()]).pipe_ok("remote add");
    rs(&["remote", "add", "signed", serve.url()]).pipe_ok("remote add");
    rs(&[
        "remote",
        "add",
        "--no-gpg-verify",
        "ftp",
        "ftp://example.com/repo",
    ])
    .pipe_ok("remote add");
    let before = rostree_testutil::snapshot(&dest);
    for (args, message) in [
        (
            &["pull", "o", "nope"][..],
            "No such branch 'nope' in repository summary",
        ),
        (&["pull", "signed", "main"], "gpg-verify"),
        (
            &["pull", "ftp", "main"],
            "Invalid URI scheme in ftp://example.com/repo",
        ),
        (&["pull", "missing", "main"], "Remote \"missing\" not found"),
    ] {
        let r = rs(args);
        assert!(!r.output.status.success(), "{args:?} succeeded");
        assert!(r.stderr().contains(message), "{args:?}: {}", r.stderr());
    }
    assert!(before.diff(&rostree_testutil::snapshot(&dest)).is_empty());
}

/// `--json`: one JSON object per line; counts and totals never go backwards; the last line
/// says what was fetched, and everything known was fetched.
#[test]
fn pull_json_progress() {
    let p = source();
    let serve = RostreeServe::start(p.bin(Tool::Rostree), p.repo(Tool::Upstream));
    let dest = p.path("dest");
    init_with_remote(&p, Tool::Rostree, &dest, "bare-user", serve.url(), &[]);
    let out = p
        .run(
            Tool::Rostree,
            &dest,
            ["pull", "--json", "--depth=-1", "o", "main"],
        )
        .pipe_ok("pull --json")
        .stdout();
    let field = |line: &str, name: &str| -> u64 {
        let start = line
            .find(&format!("\"{name}\":"))
            .unwrap_or_else(|| panic!("{name} in {line}"))
            + name.len()
            + 3;
        line[start..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{name} in {line}"))
    };
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() >= 3, "{out}");
    let (mut fetched, mut total) = (0, 0);
    for line in &lines {
        assert!(
            line.starts_with("{\"event\":\"") && line.ends_with('}'),
            "{line}"
        );
        assert!(
            field(line, "fetched") >= fetched && field(line, "total") >= total,
            "{out}"
        );
        fetched = field(line, "fetched");
        total = field(line, "total");
    }
    let last = lines.last().expect("lines");
    assert!(last.starts_with("{\"event\":\"done\""), "{last}");
    assert_eq!(fetched, total, "{out}");
    assert_eq!(
        field(last, "metadata")
            + field(last, "content")
            + field(last, "metadata_local")
            + field(last, "content_local"),
        fetched,
        "{out}"
    );
    p.run(Tool::Rostree, &dest, ["fsck"]).pipe_ok("fsck");
}

/// `remote refs` and `remote summary [--raw]` print what upstream prints; without a summary
/// on the server both fail with upstream's words.
#[test]
fn remote_refs_and_summary() {
    let p = source();
    let serve = RostreeServe::start(p.bin(Tool::Rostree), p.repo(Tool::Upstream));
    let empty = p.path("empty");
    p.run(Tool::Upstream, &empty, ["init", "--mode=archive"])
        .pipe_ok("init");
    let bare = RostreeServe::start(p.bin(Tool::Rostree), &empty);
    let dest = p.path("dest");
    p.run(Tool::Upstream, &dest, ["init", "--mode=archive"])
        .pipe_ok("init");
    for (name, url) in [("o", serve.url()), ("none", bare.url())] {
        p.run(
            Tool::Upstream,
            &dest,
            ["remote", "add", "--no-gpg-verify", name, url],
        )
        .pipe_ok("remote add");
    }
    for args in [
        &["remote", "refs", "o"][..],
        &["remote", "summary", "o"],
        &["remote", "summary", "--raw", "o"],
        &["remote", "refs", "none"],
        &["remote", "summary", "none"],
    ] {
        let u = p.run(Tool::Upstream, &dest, args);
        let r = p.run(Tool::Rostree, &dest, args);
        assert_eq!(
            u.output.status.success(),
            r.output.status.success(),
            "{args:?}: {} / {}",
            u.stderr(),
            r.stderr()
        );
        assert_eq!(u.stdout(), r.stdout(), "{args:?}");
        assert_eq!(u.stderr().trim(), r.stderr().trim(), "{args:?}");
    }
}

/// `--mirror` with no refs takes every ref as a local branch and copies the summary;
/// `--timestamp-check` and `--timestamp-check-from-rev` refuse an older commit with
/// upstream's words and change nothing.
#[test]
fn mirror_and_timestamp_checks() {
    let p = source();
    let src = p.repo(Tool::Upstream);
    let serve = RostreeServe::start(p.bin(Tool::Rostree), src);
    let (up, rs) = (p.path("m-up"), p.path("m-rs"));
    for (tool, repo) in [(Tool::Upstream, &up), (Tool::Rostree, &rs)] {
        init_with_remote(&p, tool, repo, "archive", serve.url(), &[]);
        p.run(tool, repo, ["pull", "--mirror", "o"])
            .pipe_ok("pull --mirror");
        assert_eq!(
            std::fs::read(repo.join("summary")).expect("mirrored summary"),
            std::fs::read(src.join("summary")).expect("source summary"),
            "{tool:?}"
        );
    }
    let refs = |repo: &Path| {
        p.run(Tool::Upstream, repo, ["refs"])
            .pipe_ok("refs")
            .stdout()
    };
    assert_eq!(refs(&up), refs(&rs));
    let mut names: Vec<String> = refs(&rs).lines().map(str::to_owned).collect();
    names.sort();
    assert_eq!(names, ["main", "other/ref"]);
    // Plain (not mirror) repos whose remote ref the timestamp checks compare with.
    let (up, rs) = (p.path("t-up"), p.path("t-rs"));
    for (tool, repo) in [(Tool::Upstream, &up), (Tool::Rostree, &rs)] {
        init_with_remote(&p, tool, repo, "archive", serve.url(), &[]);
        p.run(tool, repo, ["pull", "o", "main"]).pipe_ok("pull");
    }
    // Move the served main back to its parent: a checked pull refuses it.
    let old = p
        .run(Tool::Upstream, src, ["rev-parse", "main^"])
        .pipe_ok("rev-parse")
        .stdout();
    let new = p
        .run(Tool::Upstream, src, ["rev-parse", "main"])
        .pipe_ok("rev-parse")
        .stdout();
    p.run(Tool::Upstream, src, ["reset", "main", old.trim()])
        .pipe_ok("reset");
    p.run(Tool::Upstream, src, ["summary", "-u"])
        .pipe_ok("summary");
    let from_rev = format!("--timestamp-check-from-rev={}", new.trim());
    for args in [
        &["pull", "-T", "o", "main"][..],
        &["pull", &from_rev, "o", "main"],
    ] {
        let before = rostree_testutil::snapshot(&rs);
        let u = p.run(Tool::Upstream, &up, args);
        let r = p.run(Tool::Rostree, &rs, args);
        assert!(
            !u.output.status.success() && !r.output.status.success(),
            "{args:?}"
        );
        assert_eq!(u.stderr().trim(), r.stderr().trim(), "{args:?}");
        assert!(
            before.diff(&rostree_testutil::snapshot(&rs)).is_empty(),
            "{args:?}"
        );
    }
    for (tool, repo) in [(Tool::Upstream, &up), (Tool::Rostree, &rs)] {
        p.run(tool, repo, ["pull", "o", "main"])
            .pipe_ok("unchecked pull");
        p.run(tool, repo, ["pull", "-T", "o", "main"])
            .pipe_ok("same commit again");
    }
    assert_eq!(refs(&up), refs(&rs));
}

/// A ref whose commit binds other refs is refused by both tools with upstream's words
/// (unless `--disable-verify-bindings`); so is a commit of another collection than the
/// remote's.
#[test]
fn bindings_are_checked() {
    let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), Mode::Archive);
    let tree = p.path("tree");
    TreeSpec::new().file("a", "a\n", 0o644).create(&tree);
    let src = p.repo(Tool::Upstream);
    p.run(
        Tool::Upstream,
        src,
        ["config", "set", "core.collection-id", "org.example.A"],
    )
    .pipe_ok("config");
    p.run(
        Tool::Upstream,
        src,
        ["commit", "-b", "main", "--timestamp=@1", &s(&tree)],
    )
    .pipe_ok("commit");
    p.run(Tool::Upstream, src, ["refs", "--create=other", "main"])
        .pipe_ok("refs");
    p.run(Tool::Upstream, src, ["summary", "-u"])
        .pipe_ok("summary");
    let serve = RostreeServe::start(p.bin(Tool::Rostree), src);
    let cases: &[(&[&str], &[&str], bool)] = &[
        (&[], &["other"], false),
        (&[], &["--disable-verify-bindings", "other"], true),
        (&[], &["main"], true),
        (&["--collection-id=org.example.B"], &["main"], false),
        (&["--collection-id=org.example.A"], &["main"], true),
    ];
    for (i, (add, pull, ok)) in cases.iter().enumerate() {
        let (up, rs) = (p.path(format!("b{i}-up")), p.path(format!("b{i}-rs")));
        let mut outcomes = Vec::new();
        for (tool, repo) in [(Tool::Upstream, &up), (Tool::Rostree, &rs)] {
            init_with_remote(&p, tool, repo, "archive", serve.url(), add);
            let mut args = vec!["pull", "o"];
            args.extend(*pull);
            outcomes.push(p.run(tool, repo, &args));
        }
        let (u, r) = (&outcomes[0], &outcomes[1]);
        assert_eq!(
            u.output.status.success(),
            *ok,
            "{add:?} {pull:?}: {}",
            u.stderr()
        );
        assert_eq!(
            r.output.status.success(),
            *ok,
            "{add:?} {pull:?}: {}",
            r.stderr()
        );
        if !ok {
            assert_eq!(u.stderr().trim(), r.stderr().trim(), "{add:?} {pull:?}");
            let refs = p.run(Tool::Rostree, &rs, ["refs"]).pipe_ok("refs").stdout();
            assert_eq!(refs, "");
        }
    }
}

/// `--subpath` fetches the directories down to the path and everything below it, leaving the
/// commit partial, as upstream; `--bareuseronly-files` refuses setuid or world-writable
/// content; `--dry-run` needs `--require-static-deltas`.
#[test]
fn subpath_bareuseronly_and_dry_run() {
    let p = source();
    let serve = RostreeServe::start(p.bin(Tool::Rostree), p.repo(Tool::Upstream));
    let old = p
        .run(
            Tool::Upstream,
            p.repo(Tool::Upstream),
            ["rev-parse", "main^"],
        )
        .pipe_ok("rev-parse")
        .stdout();
    let cases: &[(&[&str], bool)] = &[
        (
            &["--subpath=/usr", "--subpath=/etc/os-release", "o", "main"],
            true,
        ),
        (&["--subpath=/nothere", "o", "main"], true),
        (&["--bareuseronly-files", "o", old.trim()], false),
        (&["--bareuseronly-files", "o", "main"], true),
        (&["--dry-run", "o", "main"], false),
    ];
    for (i, (args, ok)) in cases.iter().enumerate() {
        let (up, rs) = (p.path(format!("s{i}-up")), p.path(format!("s{i}-rs")));
        let mut runs = Vec::new();
        for (tool, repo) in [(Tool::Upstream, &up), (Tool::Rostree, &rs)] {
            init_with_remote(&p, tool, repo, "bare-user", serve.url(), &[]);
            let mut all = vec!["pull"];
            all.extend(*args);
            runs.push(p.run(tool, repo, &all));
        }
        assert_eq!(
            runs[0].output.status.success(),
            *ok,
            "{args:?}: {}",
            runs[0].stderr()
        );
        assert_eq!(
            runs[1].output.status.success(),
            *ok,
            "{args:?}: {}",
            runs[1].stderr()
        );
        if *ok {
            compare_object_dirs(&up, &rs);
            let states = |repo: &Path| {
                let mut v: Vec<String> = std::fs::read_dir(repo.join("state"))
                    .expect("state")
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                v.sort();
                v
            };
            assert_eq!(states(&up), states(&rs), "{args:?}");
            for tool in [Tool::Upstream, Tool::Rostree] {
                p.run(tool, &rs, ["fsck"]).pipe_ok("fsck");
            }
        }
    }
    // A relative subpath: upstream aborts on an assertion; rostree says what is wrong.
    let r = p.run(
        Tool::Rostree,
        &p.path("s0-rs"),
        ["pull", "--subpath=etc", "o", "main"],
    );
    assert!(!r.output.status.success());
    assert!(r.stderr().contains("must be absolute"), "{}", r.stderr());
}
