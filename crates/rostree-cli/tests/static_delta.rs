//! Static deltas against upstream: deltas either tool generates are applied by the other
//! (offline and by pulls over HTTP) into repositories upstream's fsck accepts; `show` and a
//! pull's `--dry-run` print what upstream prints for the same delta; errors are upstream's.

use std::path::{Path, PathBuf};

use rostree_testutil::http::RostreeServe;
use rostree_testutil::repo::{Pair, Tool};
use rostree_testutil::{Mode, TreeSpec};

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// An archive repo (written by upstream) with `main` at a second commit that modifies a
/// file (a bsdiff candidate), adds files and a symlink, and keeps the rest; returns the
/// pair and the two commits.
fn source() -> (Pair, String, String) {
    let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), Mode::Archive);
    let (t1, t2) = (p.path("t1"), p.path("t2"));
    let lines = |n: usize| (0..n).map(|i| format!("line {i}\n")).collect::<String>();
    TreeSpec::new()
        .file("same", "unchanged\n", 0o644)
        .file("lib/data.txt", lines(3000), 0o644)
        .file("exec", "#!/bin/sh\n", 0o755)
        .create(&t1);
    TreeSpec::new()
        .file("same", "unchanged\n", 0o644)
        .file("lib/data.txt", lines(3100), 0o644)
        .file("exec", "#!/bin/sh\n", 0o755)
        .file("added", "an added file\n", 0o600)
        .symlink("link", "same")
        .dir("empty", 0o700)
        .create(&t2);
    let up = p.repo(Tool::Upstream).to_owned();
    for (tree, time) in [(&t1, "@1"), (&t2, "@2")] {
        p.run(
            Tool::Upstream,
            &up,
            [
                "commit",
                "-b",
                "main",
                &format!("--timestamp={time}"),
                &s(tree),
            ],
        )
        .pipe_ok("commit");
    }
    let rev = |r: &str| {
        p.run(Tool::Upstream, &up, ["rev-parse", r])
            .pipe_ok("rev-parse")
            .stdout()
            .trim()
            .to_owned()
    };
    let (from, to) = (rev("main^"), rev("main"));
    (p, from, to)
}

/// A bare-user repo holding `commit` of `src`.
fn client(p: &Pair, name: &str, src: &Path, commit: &str) -> PathBuf {
    let repo = p.path(name);
    p.run(Tool::Upstream, &repo, ["init", "--mode=bare-user"])
        .pipe_ok("init");
    p.run(Tool::Upstream, &repo, ["pull-local", &s(src), commit])
        .pipe_ok("pull-local");
    repo
}

/// A bare-user repo made by `tool` with remote `o` at `url`, holding `main` at `commit`.
fn http_client(p: &Pair, tool: Tool, name: &str, url: &str, commit: &str) -> PathBuf {
    let repo = p.path(name);
    p.run(tool, &repo, ["init", "--mode=bare-user"])
        .pipe_ok("init");
    p.run(tool, &repo, ["remote", "add", "--no-gpg-verify", "o", url])
        .pipe_ok("remote add");
    p.run(tool, &repo, ["pull", "o", &format!("main@{commit}")])
        .pipe_ok("pull the old commit");
    repo
}

fn delta_dir(repo: &Path) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(repo.join("deltas"))
        .expect("deltas/")
        .flat_map(|e| std::fs::read_dir(e.expect("entry").path()).expect("deltas/XX"))
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.remove(0)
}

#[test]
fn deltas_apply_offline_across_tools() {
    let (p, from, to) = source();
    let src = p.repo(Tool::Upstream).to_owned();
    for generator in [Tool::Upstream, Tool::Rostree] {
        let variants = [
            &["main"][..],
            &["--inline", "main"],
            &["--disable-bsdiff", "main"],
        ];
        for (variant, args) in variants.into_iter().enumerate() {
            let _ = std::fs::remove_dir_all(src.join("deltas"));
            let mut full = vec!["static-delta", "generate"];
            full.extend(args);
            p.run(generator, &src, &full).pipe_ok("generate");
            let dir = delta_dir(&src);
            for applier in [Tool::Upstream, Tool::Rostree] {
                let name = format!("c-{generator:?}-{applier:?}-{variant}");
                let repo = client(&p, &name, &src, &from);
                p.run(applier, &repo, ["static-delta", "apply-offline", &s(&dir)])
                    .pipe_ok("apply-offline");
                p.run(Tool::Upstream, &repo, ["fsck"])
                    .pipe_ok("upstream fsck after apply-offline");
                let checkout = p.path(format!("{name}-co"));
                p.run(
                    Tool::Upstream,
                    &repo,
                    ["checkout", "-U", &to, &s(&checkout)],
                )
                .pipe_ok("checkout of the delta's commit");
                assert_eq!(
                    std::fs::read_to_string(checkout.join("added")).expect("added"),
                    "an added file\n"
                );
            }
            // Both tools describe the delta alike, whoever made it (upstream's `show`
            // cannot read inline parts; rostree's can).
            if args.contains(&"--inline") {
                continue;
            }
            let name = format!("{from}-{to}");
            let (u, r) = (
                p.run(Tool::Upstream, &src, ["static-delta", "show", &name]),
                p.run(Tool::Rostree, &src, ["static-delta", "show", &name]),
            );
            u.pipe_ok("upstream show");
            assert_eq!(
                u.stdout(),
                r.stdout(),
                "show of {generator:?}'s delta {args:?}"
            );
            let (u, r) = (
                p.run(Tool::Upstream, &src, ["static-delta", "list"]),
                p.run(Tool::Rostree, &src, ["static-delta", "list"]),
            );
            assert_eq!(u.stdout(), r.stdout());
        }
    }
}

/// rostree's deltas as upstream reads them: big-endian part headers, from nothing, and a
/// file left out as a fallback that a pull fetches on its own.
#[test]
fn rostree_deltas_are_what_upstream_reads() {
    let (p, from, to) = source();
    let src = p.repo(Tool::Upstream).to_owned();
    p.run(
        Tool::Rostree,
        &src,
        [
            "static-delta",
            "generate",
            "--swap-endianness",
            "--empty",
            "main",
        ],
    )
    .pipe_ok("generate --swap-endianness --empty");
    let show = p
        .run(Tool::Upstream, &src, ["static-delta", "show", &to])
        .pipe_ok("upstream show")
        .stdout();
    assert!(show.contains("Endianness: big\n"), "{show}");
    assert!(show.contains("From <scratch>\n"), "{show}");
    let empty = client(&p, "from-nothing", &src, &from);
    p.run(
        Tool::Upstream,
        &empty,
        ["static-delta", "apply-offline", &s(&delta_dir(&src))],
    )
    .pipe_ok("upstream applies rostree's byte-swapped delta");
    p.run(Tool::Upstream, &empty, ["fsck"]).pipe_ok("fsck");
    std::fs::remove_dir_all(src.join("deltas")).expect("rm deltas");

    // A third commit with a file over the fallback size (1 MB here).
    let t3 = p.path("t3");
    let big: Vec<u8> = (0..1_500_000u32).map(|i| (i * 7 % 251) as u8).collect();
    TreeSpec::new().file("big", big.clone(), 0o644).create(&t3);
    p.run(
        Tool::Upstream,
        &src,
        ["commit", "-b", "main", "--timestamp=@3", &s(&t3)],
    )
    .pipe_ok("commit");
    p.run(
        Tool::Rostree,
        &src,
        ["static-delta", "generate", "--min-fallback-size=1", "main"],
    )
    .pipe_ok("generate with a fallback");
    let show = p
        .run(
            Tool::Rostree,
            &src,
            [
                "static-delta",
                "show",
                &format!("{to}-{}", rev(&p, &src, "main")),
            ],
        )
        .pipe_ok("show")
        .stdout();
    assert!(show.contains("Number of fallback entries: 1\n"), "{show}");
    p.run(Tool::Rostree, &src, ["summary", "-u"])
        .pipe_ok("summary -u");
    let serve = RostreeServe::start(p.bin(Tool::Rostree), &src);
    for tool in [Tool::Upstream, Tool::Rostree] {
        let repo = http_client(&p, tool, &format!("fallback-{tool:?}"), serve.url(), &to);
        p.run(
            tool,
            &repo,
            ["pull", "--require-static-deltas", "o", "main"],
        )
        .pipe_ok("pull through rostree's delta");
        p.run(Tool::Upstream, &repo, ["fsck"])
            .pipe_ok("upstream fsck");
        let checkout = p.path(format!("fallback-{tool:?}-co"));
        p.run(
            Tool::Upstream,
            &repo,
            ["checkout", "-U", "o:main", &s(&checkout)],
        )
        .pipe_ok("checkout");
        assert_eq!(std::fs::read(checkout.join("big")).expect("big"), big);
    }
}

fn rev(p: &Pair, repo: &Path, r: &str) -> String {
    p.run(Tool::Upstream, repo, ["rev-parse", r])
        .pipe_ok("rev-parse")
        .stdout()
        .trim()
        .to_owned()
}

/// A pull through a delta over HTTP, with upstream's dry-run figures; the same pull with
/// deltas disabled; the refusals.
#[test]
fn pulls_use_deltas_as_upstream() {
    let (p, from, to) = source();
    let src = p.repo(Tool::Upstream).to_owned();
    p.run(Tool::Upstream, &src, ["static-delta", "generate", "main"])
        .pipe_ok("generate");
    p.run(Tool::Upstream, &src, ["summary", "-u"])
        .pipe_ok("summary -u");
    let serve = RostreeServe::start(p.bin(Tool::Rostree), &src);
    let mut dry_runs = Vec::new();
    for tool in [Tool::Upstream, Tool::Rostree] {
        let repo = http_client(&p, tool, &format!("pull-{tool:?}"), serve.url(), &from);
        let dry = p
            .run(
                tool,
                &repo,
                ["pull", "--require-static-deltas", "--dry-run", "o", "main"],
            )
            .pipe_ok("dry run")
            .stdout();
        dry_runs.push(dry);
        let r = p.run(
            tool,
            &repo,
            ["pull", "--require-static-deltas", "o", "main"],
        );
        r.pipe_ok("pull through the delta");
        if tool == Tool::Rostree {
            assert!(r.stdout().contains("1 delta parts, "), "{}", r.stdout());
        }
        p.run(Tool::Upstream, &repo, ["fsck"])
            .pipe_ok("upstream fsck");
        let head = p
            .run(Tool::Upstream, &repo, ["rev-parse", "o:main"])
            .pipe_ok("rev-parse")
            .stdout();
        assert_eq!(head.trim(), to);
    }
    assert_eq!(dry_runs[0], dry_runs[1]);
    assert!(
        dry_runs[0].starts_with("Delta update: 0/1 parts, "),
        "{}",
        dry_runs[0]
    );

    // Refusals, in upstream's words, changing nothing.
    let archive = p.path("archive-client");
    let bare = p.path("bare-client");
    for (repo, mode) in [(&archive, "archive"), (&bare, "bare-user")] {
        p.run(Tool::Rostree, repo, ["init", &format!("--mode={mode}")])
            .pipe_ok("init");
        p.run(
            Tool::Rostree,
            repo,
            ["remote", "add", "--no-gpg-verify", "o", serve.url()],
        )
        .pipe_ok("remote add");
    }
    std::fs::remove_dir_all(src.join("deltas")).expect("rm deltas");
    std::fs::remove_dir_all(src.join("delta-indexes")).expect("rm delta-indexes");
    p.run(Tool::Upstream, &src, ["summary", "-u"])
        .pipe_ok("summary -u");
    for (repo, args, words) in [
        (
            &archive,
            &["pull", "--require-static-deltas", "o", "main"][..],
            "Can't use static deltas in an archive repo",
        ),
        (
            &bare,
            &["pull", "--require-static-deltas", "o", "main"],
            "deltas required, but none found",
        ),
    ] {
        let before = rostree_testutil::snapshot(repo);
        for tool in [Tool::Upstream, Tool::Rostree] {
            let r = p.run(tool, repo, args);
            assert!(!r.output.status.success(), "{tool:?} {args:?} succeeded");
            assert!(r.stderr().contains(words), "{tool:?}: {}", r.stderr());
        }
        assert!(before.diff(&rostree_testutil::snapshot(repo)).is_empty());
    }
}

#[test]
fn generate_errors_and_options_as_upstream() {
    let (p, _, to) = source();
    let src = p.repo(Tool::Upstream).to_owned();
    for (args, words) in [
        (
            &["static-delta", "generate"][..],
            "TO revision must be specified",
        ),
        (
            &["static-delta", "generate", "--empty", "--from=main", "main"],
            "Cannot specify both --empty and --from=REV",
        ),
        (
            &["static-delta", "generate", "--set-endianness=x", "main"],
            "Invalid endianness 'x'",
        ),
        (&["static-delta", "delete", &to], "Can't find delta"),
        (
            &["static-delta", "show", "nonsense"],
            "Invalid rev nonsense",
        ),
    ] {
        for tool in [Tool::Upstream, Tool::Rostree] {
            let r = p.run(tool, &src, args);
            assert!(!r.output.status.success(), "{tool:?} {args:?} succeeded");
            assert!(
                r.stderr().contains(words),
                "{tool:?} {args:?}: {}",
                r.stderr()
            );
        }
    }
    p.run(
        Tool::Rostree,
        &src,
        ["static-delta", "generate", "--empty", "main"],
    )
    .pipe_ok("generate");
    let again = p
        .run(
            Tool::Rostree,
            &src,
            ["static-delta", "generate", "-n", "--empty", "main"],
        )
        .pipe_ok("generate -n")
        .stdout();
    assert_eq!(again, format!("Delta {to} already exists.\n"));
    p.run(Tool::Rostree, &src, ["static-delta", "reindex"])
        .pipe_ok("reindex");
    for tool in [Tool::Upstream, Tool::Rostree] {
        let indexes = p
            .run(tool, &src, ["static-delta", "indexes"])
            .pipe_ok("indexes")
            .stdout();
        assert_eq!(indexes, format!("{to}\n"), "{tool:?}");
    }
    p.run(Tool::Rostree, &src, ["static-delta", "delete", &to])
        .pipe_ok("delete");
    let list = p
        .run(Tool::Upstream, &src, ["static-delta", "list"])
        .pipe_ok("list")
        .stdout();
    assert_eq!(list, "(No static deltas)\n");
}
