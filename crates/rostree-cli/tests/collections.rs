//! Collections across repositories, against upstream: `find-remotes --finders=config`
//! (byte-identical reports, the same pulls), `create-usb` (the same refs, summary and
//! layout on the drive), mirror pulls into `refs/mirrors`, and pulls from `file://`
//! remotes of any mode.

use std::path::{Path, PathBuf};

use rostree_testutil::gnupg::GpgKey;
use rostree_testutil::repo::{Pair, Tool};
use rostree_testutil::{Invocation, Mode, TreeSpec};

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

const TOOLS: [Tool; 2] = [Tool::Upstream, Tool::Rostree];

/// Two source repos with collection IDs (one bare, one archive) with summaries, written by
/// upstream and signed with `key`; returns their paths.
fn sources(p: &Pair, key: &GpgKey) -> (PathBuf, PathBuf) {
    let tree = p.path("tree");
    TreeSpec::new()
        .file("a", "a\n", 0o644)
        .file("d/b", "b\n", 0o600)
        .create(&tree);
    let apps = p.path("apps");
    let os = p.path("os");
    for (repo, mode, id, refs) in [
        (&apps, "bare", "org.example.Apps", &["app1", "app2"][..]),
        (&os, "archive", "org.example.Os", &["os/main"][..]),
    ] {
        let run = |args: &[&str]| {
            p.run(Tool::Upstream, repo, args).pipe_ok("source");
        };
        run(&[
            "init",
            &format!("--mode={mode}"),
            &format!("--collection-id={id}"),
        ]);
        for (i, name) in refs.iter().enumerate() {
            let [sign, home] = key.sign_args();
            run(&[
                "commit",
                "-b",
                name,
                &format!("--timestamp=@{}", i + 1),
                &sign,
                &home,
                &s(&tree),
            ]);
        }
        run(&["summary", "-u"]);
    }
    (apps, os)
}

/// A repo with remotes for both sources, made by `tool`, trusting `key` when given.
fn client(
    p: &Pair,
    tool: Tool,
    name: &str,
    (apps, os): (&Path, &Path),
    key: Option<&GpgKey>,
) -> PathBuf {
    let repo = p.path(format!("{name}-{tool:?}"));
    let run = |args: &[&str]| {
        p.run(tool, &repo, args).pipe_ok("client");
    };
    run(&["init", "--mode=archive"]);
    for (remote, src, id) in [
        ("apps-remote", apps, "org.example.Apps"),
        ("os-remote", os, "org.example.Os"),
    ] {
        let import = key.map(|k| format!("--gpg-import={}", s(&k.public)));
        let mut args = vec!["remote", "add", "--no-gpg-verify"];
        args.extend(import.as_deref());
        let id = format!("--collection-id={id}");
        let url = format!("file://{}", s(src));
        args.extend([id.as_str(), remote, url.as_str()]);
        run(&args);
    }
    repo
}

fn listing(p: &Pair, repo: &Path, args: &[&str]) -> String {
    let mut lines: Vec<String> = p
        .run(Tool::Upstream, repo, args)
        .pipe_ok("list")
        .stdout()
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines.join("\n")
}

#[test]
fn mirror_pulls_and_local_remotes_of_any_mode() {
    let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), Mode::Archive);
    let key = GpgKey::new(&p.path(""), "signer", "never");
    let (apps, os) = sources(&p, &key);
    let mut outputs = Vec::new();
    for tool in TOOLS {
        let repo = client(&p, tool, "mirror", (&apps, &os), None);
        // From a bare repo over file://, and a mirror pull into refs/mirrors.
        let plain = p
            .run(tool, &repo, ["pull", "apps-remote", "app1"])
            .pipe_ok("pull")
            .stdout();
        let mirrored = p
            .run(tool, &repo, ["pull", "--mirror", "os-remote", "os/main"])
            .pipe_ok("pull --mirror")
            .stdout();
        outputs.push((plain, mirrored));
        p.run(Tool::Upstream, &repo, ["fsck"]).pipe_ok("fsck");
    }
    assert_eq!(outputs[0], outputs[1]);
    let [u, r] = TOOLS.map(|t| p.path(format!("mirror-{t:?}")));
    for args in [&["refs"][..], &["refs", "-c"]] {
        assert_eq!(listing(&p, &u, args), listing(&p, &r, args), "{args:?}");
    }
    assert!(r.join("refs/mirrors/org.example.Os/os/main").is_file());
}

#[test]
fn find_remotes_as_upstream() {
    let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), Mode::Archive);
    let key = GpgKey::new(&p.path(""), "signer", "never");
    let (apps, os) = sources(&p, &key);
    let asks: [&[&str]; 4] = [
        &["org.example.Apps", "app1"],
        &["org.example.Apps", "app1", "org.example.Os", "os/main"],
        &["org.example.Apps", "app1", "org.example.Apps", "not-an-app"],
        &["org.example.Nothing", "x"],
    ];
    for tool in TOOLS {
        client(&p, tool, "find", (&apps, &os), Some(&key));
        client(&p, tool, "nokeys", (&apps, &os), None);
    }
    for ask in asks {
        let mut args = vec!["find-remotes", "--finders=config"];
        args.extend(ask);
        let [u, r] = TOOLS.map(|t| {
            p.run(t, &p.path(format!("find-{t:?}")), &args)
                .pipe_ok("find-remotes")
                .stdout()
        });
        assert_eq!(r, u, "{ask:?}");
        assert!(
            u.contains("Result 0: file://") || u.contains("No results."),
            "{u}"
        );
    }
    // Pulling forces GPG verification, as upstream's pull_from_remotes does, whatever
    // `gpg-verify` says: without the key both tools fail with the same words.
    for tool in TOOLS {
        let r = p.run(
            tool,
            &p.path(format!("nokeys-{tool:?}")),
            [
                "find-remotes",
                "--finders=config",
                "--pull",
                "org.example.Apps",
                "app1",
            ],
        );
        assert!(
            !r.output.status.success(),
            "{tool:?} pulled without the key"
        );
        assert!(
            r.stderr()
                .contains("Failed to pull some refs from the remotes: (org.example.Apps, app1)"),
            "{tool:?}: {}",
            r.stderr()
        );
    }
    // Pull, then make one source newer: both find and pull the newer commit.
    let pull = [
        "find-remotes",
        "--finders=config",
        "--pull",
        "org.example.Apps",
        "app1",
        "org.example.Os",
        "os/main",
    ];
    let tree = p.path("tree");
    for round in 0..2 {
        let [u, r] = TOOLS.map(|t| {
            p.run(t, &p.path(format!("find-{t:?}")), pull)
                .pipe_ok("find-remotes --pull")
                .stdout()
        });
        assert_eq!(r, u);
        assert!(u.ends_with("Pulled 2/2 refs successfully.\n"), "{u}");
        let [ur, rr] = TOOLS.map(|t| p.path(format!("find-{t:?}")));
        assert_eq!(listing(&p, &ur, &["refs"]), listing(&p, &rr, &["refs"]));
        p.run(Tool::Upstream, &rr, ["fsck"]).pipe_ok("fsck");
        if round == 0 {
            std::fs::write(tree.join("new"), "new\n").expect("write");
            let [sign, home] = key.sign_args();
            p.run(
                Tool::Upstream,
                &os,
                [
                    "commit",
                    "-b",
                    "os/main",
                    "--timestamp=@9",
                    &sign,
                    &home,
                    &s(&tree),
                ],
            )
            .pipe_ok("commit");
            p.run(Tool::Upstream, &os, ["summary", "-u"])
                .pipe_ok("summary");
        }
    }
    let errors: [(&[&str], &str); 3] = [
        (
            &["org.example.Apps", "app1", "org.example.Os"],
            "Only complete COLLECTION-ID REF pairs may be specified",
        ),
        (
            &["--mirror", "org.example.Apps", "app1"],
            "When --mirror is specified, --pull must also be",
        ),
        (
            &["--finders=config,config", "org.example.Apps", "app1"],
            "Unknown or duplicate finder type",
        ),
    ];
    for (extra, words) in errors {
        let mut args = vec!["find-remotes"];
        args.extend(extra);
        for tool in TOOLS {
            let r = p.run(tool, &p.path(format!("find-{tool:?}")), &args);
            assert!(!r.output.status.success(), "{tool:?} {extra:?}");
            assert!(r.stderr().contains(words), "{tool:?}: {}", r.stderr());
        }
    }
}

#[test]
fn create_usb_as_upstream() {
    let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), Mode::Archive);
    let key = GpgKey::new(&p.path(""), "signer", "never");
    let (apps, os) = sources(&p, &key);
    let local = client(&p, Tool::Upstream, "local", (&apps, &os), None);
    for (remote, r) in [
        ("apps-remote", "app1"),
        ("apps-remote", "app2"),
        ("os-remote", "os/main"),
    ] {
        p.run(Tool::Upstream, &local, ["pull", remote, r])
            .pipe_ok("pull");
    }
    for (dest, first, more) in [
        (
            None,
            &["org.example.Apps", "app1", "org.example.Os", "os/main"][..],
            &[][..],
        ),
        (
            Some("some-dest"),
            &["org.example.Apps", "app1"][..],
            &["org.example.Apps", "app2"][..],
        ),
    ] {
        let mut results = Vec::new();
        for tool in TOOLS {
            let mount = p.path(format!("mount-{}-{tool:?}", dest.unwrap_or("default")));
            std::fs::create_dir_all(&mount).expect("mkdir");
            let mut out = String::new();
            for refs in [first, more].into_iter().filter(|r| !r.is_empty()) {
                let mut args = vec!["create-usb".to_owned()];
                args.extend(dest.map(|d| format!("--destination-repo={d}")));
                args.push(s(&mount));
                args.extend(refs.iter().map(|r| (*r).to_owned()));
                out.push_str(&p.run(tool, &local, &args).pipe_ok("create-usb").stdout());
            }
            let repo = mount.join(dest.unwrap_or(".ostree/repo"));
            let refs = listing(&p, &repo, &["refs", "-c"]);
            let summary: Vec<String> = p
                .run(Tool::Upstream, &repo, ["summary", "-v"])
                .pipe_ok("summary")
                .stdout()
                .lines()
                .filter(|l| !l.starts_with("Last-Modified"))
                .map(str::to_owned)
                .collect();
            let link = std::fs::read_link(mount.join(".ostree/repos.d/00-generated")).ok();
            let links = std::fs::read_dir(mount.join(".ostree/repos.d"))
                .map(|d| d.count())
                .unwrap_or(0);
            p.run(Tool::Upstream, &repo, ["fsck"]).pipe_ok("fsck");
            let mode = Invocation::new("grep")
                .args(["^mode=", &s(&repo.join("config"))])
                .ok()
                .stdout;
            results.push((out.replace(&s(&mount), "MOUNT"), refs, summary, link, mode));
            if tool == Tool::Rostree && dest.is_some() {
                // Better than upstream, which adds a link per run: the one there is reused.
                assert_eq!(links, 1);
            }
        }
        assert_eq!(results[0], results[1], "{dest:?}");
    }
    // Refusals, in upstream's words.
    let mount = p.path("mount-refusals");
    std::fs::create_dir_all(&mount).expect("mkdir");
    let refusals: [(&[&str], &str); 3] = [
        (&[], "A MOUNT-PATH must be specified"),
        (
            &["MOUNT"],
            "At least one COLLECTION-ID REF pair must be specified",
        ),
        (
            &[
                "--commit=app1",
                "MOUNT",
                "org.example.Apps",
                "app1",
                "org.example.Apps",
                "app2",
            ],
            "The --commit option can only be used when a single COLLECTION-ID REF pair is specified",
        ),
    ];
    for (args, words) in refusals {
        let args: Vec<String> = std::iter::once("create-usb".to_owned())
            .chain(args.iter().map(|a| a.replace("MOUNT", &s(&mount))))
            .collect();
        for tool in TOOLS {
            let r = p.run(tool, &local, &args);
            assert!(!r.output.status.success(), "{tool:?} {args:?}");
            assert!(r.stderr().contains(words), "{tool:?}: {}", r.stderr());
        }
    }
}
