//! `pull-local` against upstream: copying the same source into repos of every mode gives the
//! same objects and refs, and a repo upstream's fsck accepts.

use std::path::Path;

use rostree_testutil::repo::{Pair, Tool};
use rostree_testutil::{Invocation, Mode, TreeSpec};

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn listing(repo: &Path) -> Vec<String> {
    let out = Invocation::new("find")
        .args([
            s(&repo.join("objects")),
            s(&repo.join("refs")),
            "-type".into(),
            "f".into(),
        ])
        .ok();
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.strip_prefix(&s(repo)).unwrap_or(l).to_owned())
        .collect();
    lines.sort();
    lines
}

#[test]
fn pull_local_like_upstream() {
    for src_mode in [Mode::Archive, Mode::BareUser] {
        let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), src_mode);
        let (t1, t2) = (p.path("t1"), p.path("t2"));
        TreeSpec::new()
            .file("a", "a\n", 0o644)
            .symlink("l", "a")
            .dir("d", 0o700)
            .file("d/big", vec![7u8; 50_000], 0o755)
            .create(&t1);
        TreeSpec::new().file("b", "b\n", 0o600).create(&t2);
        p.commit(["-b", "main", "--timestamp=@1", &s(&t1)]);
        p.commit(["-b", "main", "--timestamp=@2", &s(&t2)]);
        p.commit(["-b", "x/y", "--timestamp=@3", &s(&t1)]);
        let source = p.repo(Tool::Upstream).to_owned();
        for dst in [
            Mode::Archive,
            Mode::Bare,
            Mode::BareUser,
            Mode::BareUserOnly,
        ] {
            for args in [
                &[][..],
                &["--depth=-1", "main"],
                &["--remote=o", "x/y"],
                &["--untrusted", "main"],
            ] {
                let (u, r) = (p.path(format!("u-{dst}")), p.path(format!("r-{dst}")));
                let _ = std::fs::remove_dir_all(&u);
                let _ = std::fs::remove_dir_all(&r);
                for (tool, repo) in [(Tool::Upstream, &u), (Tool::Rostree, &r)] {
                    p.run(tool, repo, ["init", &format!("--mode={dst}")])
                        .pipe_ok("init");
                }
                let mut full = vec!["pull-local".to_owned(), s(&source)];
                full.extend(args.iter().map(|a| (*a).to_owned()));
                let ur = p.run(Tool::Upstream, &u, &full);
                let rr = p.run(Tool::Rostree, &r, &full);
                assert_eq!(
                    ur.output.status.success(),
                    rr.output.status.success(),
                    "{src_mode}->{dst} {args:?}: {} / {}",
                    ur.stderr(),
                    rr.stderr()
                );
                assert_eq!(listing(&u), listing(&r), "{src_mode}->{dst} {args:?}");
                if rr.output.status.success() {
                    p.run(Tool::Upstream, &r, ["fsck"])
                        .pipe_ok("upstream fsck of rostree's pull");
                }
            }
        }
    }
}

/// Which of `repo`'s objects share their inode with the same object of `source`.
fn linked_objects(repo: &Path, source: &Path) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    listing(repo)
        .into_iter()
        .filter(|rel| rel.starts_with("/objects/"))
        .filter(|rel| {
            let (a, b) = (repo.join(&rel[1..]), source.join(&rel[1..]));
            match (std::fs::symlink_metadata(a), std::fs::symlink_metadata(b)) {
                (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
                _ => false,
            }
        })
        .collect()
}

/// The commits marked partial in `repo`.
fn partial_marks(repo: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(repo.join("state"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".commitpartial"))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Objects are hard-linked where upstream links them; commits copied without their trees
/// stay partial until a later copy completes them; `--bareuseronly-files` refuses what
/// upstream refuses.
#[test]
fn pull_local_links_marks_and_refuses_like_upstream() {
    for src_mode in [Mode::Archive, Mode::BareUser] {
        let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), src_mode);
        let (t1, t2) = (p.path("t1"), p.path("t2"));
        TreeSpec::new()
            .file("a", "a\n", 0o644)
            .symlink("l", "a")
            .file("setuid", "s\n", 0o4755)
            .create(&t1);
        TreeSpec::new().file("b", "b\n", 0o600).create(&t2);
        p.commit(["-b", "main", "--timestamp=@1", &s(&t1)]);
        p.commit(["-b", "main", "--timestamp=@2", &s(&t2)]);
        let source = p.repo(Tool::Upstream).to_owned();
        for dst in [Mode::Archive, Mode::BareUser, Mode::BareUserOnly] {
            let (u, r) = (p.path(format!("u-{dst}")), p.path(format!("r-{dst}")));
            let _ = std::fs::remove_dir_all(&u);
            let _ = std::fs::remove_dir_all(&r);
            for (tool, repo) in [(Tool::Upstream, &u), (Tool::Rostree, &r)] {
                p.run(tool, repo, ["init", &format!("--mode={dst}")])
                    .pipe_ok("init");
            }
            let steps: [&[&str]; 4] = [
                &["--depth=1", "--commit-metadata-only", "main"],
                &["main"],
                &["--depth=1", "main"],
                &["--depth=-1", "main"],
            ];
            for args in steps {
                let mut full = vec!["pull-local".to_owned(), s(&source)];
                full.extend(args.iter().map(|a| (*a).to_owned()));
                let ur = p.run(Tool::Upstream, &u, &full);
                let rr = p.run(Tool::Rostree, &r, &full);
                let what = format!("{src_mode}->{dst} {args:?}");
                assert_eq!(
                    ur.output.status.success(),
                    rr.output.status.success(),
                    "{what}: {} / {}",
                    ur.stderr(),
                    rr.stderr()
                );
                assert_eq!(listing(&u), listing(&r), "{what}");
                assert_eq!(partial_marks(&u), partial_marks(&r), "{what}");
                assert_eq!(
                    linked_objects(&u, &source),
                    linked_objects(&r, &source),
                    "{what}: hard links"
                );
            }
            // A fresh copy with --bareuseronly-files meets the setuid file and stops.
            let (u, r) = (p.path(format!("u2-{dst}")), p.path(format!("r2-{dst}")));
            let args = [
                "pull-local",
                &s(&source),
                "--bareuseronly-files",
                "--depth=1",
                "main",
            ];
            for (tool, repo) in [(Tool::Upstream, &u), (Tool::Rostree, &r)] {
                p.run(tool, repo, ["init", &format!("--mode={dst}")])
                    .pipe_ok("init");
                let run = p.run(tool, repo, args);
                assert!(
                    !run.output.status.success(),
                    "{tool:?} {dst}: the setuid file passed"
                );
                assert!(
                    run.stderr().contains("invalid mode"),
                    "{tool:?}: {}",
                    run.stderr()
                );
            }
            assert_eq!(
                listing(&r)
                    .iter()
                    .filter(|l| l.starts_with("/refs"))
                    .count(),
                0
            );
        }
    }
}

/// A commit stored under another name: `summary -u` describes it and a trusted `pull-local`
/// takes it as upstream does (a local repository is trusted); `--untrusted` and an HTTP pull
/// refuse it in upstream's words.
#[test]
fn misnamed_commit_trusted_locally_refused_otherwise() {
    let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), Mode::Archive);
    let tree = p.path("tree");
    TreeSpec::new().file("a", "a\n", 0o644).create(&tree);
    p.commit(["-b", "main", "--timestamp=@1", &s(&tree)]);
    let src = p.repo(Tool::Upstream);
    let rev = p
        .run(Tool::Upstream, src, ["rev-parse", "main"])
        .pipe_ok("rev-parse")
        .stdout()
        .trim()
        .to_owned();
    let fake = rostree::core::Checksum::digest(format!("{rev} hello\n").as_bytes()).to_hex();
    let objects = src.join("objects");
    std::fs::create_dir_all(objects.join(&fake[..2])).expect("mkdir");
    std::fs::rename(
        objects
            .join(&rev[..2])
            .join(format!("{}.commit", &rev[2..])),
        objects
            .join(&fake[..2])
            .join(format!("{}.commit", &fake[2..])),
    )
    .expect("rename");
    std::fs::write(src.join("refs/heads/main"), format!("{fake}\n")).expect("ref");
    let wanted = format!("Corrupted commit object; checksum expected='{fake}' actual='{rev}'");
    for tool in [Tool::Upstream, Tool::Rostree] {
        p.run(tool, src, ["summary", "-u"]).pipe_ok("summary -u");
        let fsck = p.run(tool, src, ["fsck"]);
        assert!(!fsck.output.status.success(), "{tool:?} fsck passed");
        assert!(
            fsck.stderr().contains(&wanted),
            "{tool:?}: {}",
            fsck.stderr()
        );
        let dest = p.path(format!("trusted-{tool:?}"));
        p.run(tool, &dest, ["init", "--mode=bare-user"])
            .pipe_ok("init");
        p.run(tool, &dest, ["pull-local", &s(src), "main"])
            .pipe_ok("trusted pull-local");
        let dest = p.path(format!("untrusted-{tool:?}"));
        p.run(tool, &dest, ["init", "--mode=bare-user"])
            .pipe_ok("init");
        let r = p.run(tool, &dest, ["pull-local", "--untrusted", &s(src), "main"]);
        assert!(!r.output.status.success(), "{tool:?} --untrusted passed");
        assert!(r.stderr().contains(&wanted), "{tool:?}: {}", r.stderr());
    }
}
