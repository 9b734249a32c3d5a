//! `remote` against upstream: the same commands leave the same config, print the same
//! lists and fail the same way.

use std::path::Path;

use rostree_testutil::Mode;
use rostree_testutil::repo::{Pair, Tool};

fn config(repo: &Path) -> String {
    std::fs::read_to_string(repo.join("config")).expect("config")
}

#[test]
fn remote_config_like_upstream() {
    let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), Mode::Archive);
    let steps: &[&[&str]] = &[
        &[
            "remote",
            "add",
            "--no-gpg-verify",
            "o",
            "http://example.com/repo",
            "main",
            "x/y",
        ],
        &[
            "remote",
            "add",
            "--contenturl=http://c",
            "--custom-backend=foo",
            "--set=a=1",
            "--set=tls-permissive=true",
            "--no-sign-verify",
            "--collection-id=org.example.C",
            "z",
            "http://z",
            "b1",
        ],
        &[
            "remote",
            "add",
            "--set=url=http://other",
            "--set=branches=q",
            "y",
            "http://y",
            "b2",
        ],
        &["remote", "add", "m", "mirrorlist=http://m/list"],
        &["remote", "add", "ml", "metalink=http://m/metalink.xml"],
        &["remote", "add", "o", "http://again"],
        &["remote", "add", "--if-not-exists", "o", "http://again"],
        &["remote", "add", "--force", "o", "http://replaced"],
        &["remote", "add", "bad/name", "http://x"],
        &["remote", "add", "onlyname"],
        &["remote", "list"],
        &["remote", "list", "-u"],
        &["remote", "show-url", "o"],
        &["remote", "show-url", "ml"],
        &["remote", "show-url", "nope"],
        &["remote", "delete", "nope"],
        &["remote", "delete", "--if-exists", "nope"],
        &["remote", "delete", "y"],
        &["remote", "list", "-u"],
    ];
    for step in steps {
        let (u, r) = p.both(*step);
        assert_eq!(
            u.output.status.success(),
            r.output.status.success(),
            "{step:?}: {} / {}",
            u.stderr(),
            r.stderr()
        );
        assert_eq!(u.stdout(), r.stdout(), "{step:?}");
        let error_line = |e: String| {
            e.lines()
                .find(|l| l.starts_with("error:"))
                .map(str::to_owned)
        };
        assert_eq!(error_line(u.stderr()), error_line(r.stderr()), "{step:?}");
        assert_eq!(
            config(p.repo(Tool::Upstream)),
            config(p.repo(Tool::Rostree)),
            "{step:?}"
        );
    }
}

/// Cookies: added, replaced, deleted; a missing one is an error; the jar is curl's format.
#[test]
fn remote_cookies() {
    let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), Mode::Archive);
    p.both_ok(["remote", "add", "o", "http://example.com"]);
    for step in [
        &["remote", "add-cookie", "o", "example.com", "/", "c1", "v1"][..],
        &["remote", "add-cookie", "o", "example.com", "/", "c2", "v2"],
        &["remote", "delete-cookie", "o", "example.com", "/", "c1"],
    ] {
        p.both_ok(step);
    }
    let (u, r) = p.both(["remote", "delete-cookie", "o", "example.com", "/", "c1"]);
    assert!(!u.output.status.success() && !r.output.status.success());
    assert!(
        r.stderr().contains("Cookie not found in jar"),
        "{}",
        r.stderr()
    );
    let jar = |tool: Tool| {
        let text = std::fs::read_to_string(p.repo(tool).join("o.cookies.txt")).expect("jar");
        // The expiry is "now + ten years": equal to the minute.
        text.lines()
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                let expires: u64 = f[4].parse().expect("expiry");
                format!("{} {} {} {}", f[0], f[5], f[6], expires / 60)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(jar(Tool::Upstream), jar(Tool::Rostree));
    let listed = p
        .run(
            Tool::Rostree,
            p.repo(Tool::Rostree),
            ["remote", "list-cookies", "o"],
        )
        .pipe_ok("list-cookies")
        .stdout();
    assert!(listed.contains("Name: c2\nContent: v2\n"), "{listed}");
    // Deleting the remote takes its jar along.
    p.both_ok(["remote", "delete", "o"]);
    assert!(!p.repo(Tool::Rostree).join("o.cookies.txt").exists());
}
