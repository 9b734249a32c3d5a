//! `checkout` against upstream: both tools check out the same commits (written by upstream
//! and by rostree) with the same flags, and the resulting trees must be the same.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use rostree_testutil::repo::{Pair, Tool};
use rostree_testutil::{Mode, TreeSpec, rich_tree_for_mode, snapshot};

fn pair(mode: Mode) -> Pair {
    Pair::new(env!("CARGO_BIN_EXE_rostree"), mode)
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// What a checked-out entry is: kind, mode, owner, content hash or link target, xattr names,
/// and (where the repo can hardlink) whether it is linked into the repo.
fn describe_tree(root: &Path, with_links: bool) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if !root.exists() {
        // `--allow-noent` on a missing path checks out nothing.
        return out;
    }
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let entry = entry.expect("entry");
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).expect("lstat");
            let rel = path
                .strip_prefix(root)
                .expect("under root")
                .to_string_lossy()
                .into_owned();
            let ft = meta.file_type();
            let detail = if ft.is_symlink() {
                format!(
                    "-> {}",
                    std::fs::read_link(&path).expect("readlink").display()
                )
            } else if ft.is_dir() {
                stack.push(path.clone());
                String::new()
            } else {
                let data = std::fs::read(&path).expect("read");
                let linked = if with_links {
                    format!(" nlink>1={}", meta.nlink() > 1)
                } else {
                    String::new()
                };
                format!("{}{linked}", rostree_testutil::repo::sha256_hex(&data))
            };
            let mut xattrs: Vec<String> = xattr::list(&path)
                .map(|l| l.map(|n| n.to_string_lossy().into_owned()).collect())
                .unwrap_or_default();
            xattrs.sort();
            out.insert(
                rel,
                format!(
                    "{:o} {}:{} {detail} {xattrs:?}",
                    meta.mode(),
                    meta.uid(),
                    meta.gid()
                ),
            );
        }
    }
    let meta = std::fs::symlink_metadata(root).expect("lstat root");
    out.insert(
        ".".into(),
        format!("{:o} {}:{}", meta.mode(), meta.uid(), meta.gid()),
    );
    out
}

/// Checks out `main` with `flags` using both tools from `repo`, and compares.
fn compare_checkouts(p: &Pair, repo: &Path, flags: &[&str], with_links: bool, label: &str) {
    let up = p.path(format!("co-up-{label}"));
    let rs = p.path(format!("co-rs-{label}"));
    let mut args: Vec<String> = vec!["checkout".into()];
    args.extend(flags.iter().map(|f| (*f).to_owned()));
    let u = p.run(
        Tool::Upstream,
        repo,
        args.iter().chain([&"main".to_owned(), &s(&up)]),
    );
    let r = p.run(
        Tool::Rostree,
        repo,
        args.iter().chain([&"main".to_owned(), &s(&rs)]),
    );
    assert_eq!(
        u.output.status.success(),
        r.output.status.success(),
        "{label}: upstream {} / rostree {}",
        u.stderr(),
        r.stderr()
    );
    if !u.output.status.success() {
        assert_eq!(u.stderr(), r.stderr(), "{label}");
        return;
    }
    let (a, b) = (
        describe_tree(&up, with_links),
        describe_tree(&rs, with_links),
    );
    let diffs: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| format!("{k}: upstream {:?} rostree {:?}", a.get(k), b.get(k)))
        .collect();
    assert!(
        diffs.is_empty(),
        "{label}: trees differ:\n{}",
        diffs.join("\n")
    );
}

fn checkout_like_upstream(mode: Mode) {
    let p = pair(mode);
    let tree = p.path("tree");
    rich_tree_for_mode(&tree, mode);
    p.commit(["-b", "main", "--timestamp=@1", &s(&tree)]);
    // Archive checkouts are copies in rostree; upstream's user mode links from a cache.
    let with_links = mode != Mode::Archive;
    for (i, flags) in [
        &[][..],
        &["-U"],
        &["-C"],
        &["-U", "-C"],
        &["-H"],
        &["-U", "-H"],
        &["-M"],
        &["--subpath=/setgid-dir"],
        &["--subpath=/deep"],
        &["--subpath=/nope"],
        &["--subpath=/nope", "--allow-noent"],
    ]
    .iter()
    .enumerate()
    {
        for (repo_label, repo) in [
            ("up", p.repo(Tool::Upstream)),
            ("rs", p.repo(Tool::Rostree)),
        ] {
            let label = format!("{mode}-{i}-{repo_label}");
            compare_checkouts(&p, repo, flags, with_links, &label);
        }
    }
}

macro_rules! per_mode {
    ($($name:ident: $mode:expr),*) => {$(
        #[test]
        fn $name() {
            checkout_like_upstream($mode);
        }
    )*};
}
per_mode!(
    checkout_archive: Mode::Archive,
    checkout_bare: Mode::Bare,
    checkout_bare_user: Mode::BareUser,
    checkout_bare_user_only: Mode::BareUserOnly
);

/// `--union` replaces files and keeps directories, `--union-add` keeps what exists; an
/// existing target without either is an error in both tools.
#[test]
fn union_modes() {
    let p = pair(Mode::Bare);
    let tree = p.path("tree");
    TreeSpec::new()
        .file("a", "new\n", 0o644)
        .file("d/b", "b\n", 0o644)
        .create(&tree);
    p.commit(["-b", "main", "--timestamp=@1", &s(&tree)]);
    for (i, flags) in [&["--union"][..], &["--union-add"], &[]].iter().enumerate() {
        let up = p.path(format!("u{i}"));
        let rs = p.path(format!("r{i}"));
        for dir in [&up, &rs] {
            std::fs::create_dir_all(dir.join("d")).expect("mkdir");
            std::fs::write(dir.join("a"), "old\n").expect("write");
            std::fs::write(dir.join("keep"), "keep\n").expect("write");
        }
        let mut args = vec!["checkout".to_owned()];
        args.extend(flags.iter().map(|f| (*f).to_owned()));
        let u = p.run(
            Tool::Upstream,
            p.repo(Tool::Upstream),
            args.iter().chain([&"main".to_owned(), &s(&up)]),
        );
        let r = p.run(
            Tool::Rostree,
            p.repo(Tool::Upstream),
            args.iter().chain([&"main".to_owned(), &s(&rs)]),
        );
        assert_eq!(
            u.output.status.success(),
            r.output.status.success(),
            "{flags:?}: {} / {}",
            u.stderr(),
            r.stderr()
        );
        assert_eq!(
            describe_tree(&up, false),
            describe_tree(&rs, false),
            "{flags:?}"
        );
    }
}

/// A dirtree naming `..` (or `a/b`) is refused; nothing is written outside the target.
#[test]
fn hostile_dirtrees_are_refused() {
    use rostree::core::Checksum;
    use rostree::core::object::{
        Commit, DirMeta, DirTree, FileHeader, Metadata, Xattrs, content_checksum,
    };
    let p = pair(Mode::BareUser);
    let repo = p.repo(Tool::Rostree).to_owned();
    let header = FileHeader {
        uid: 0,
        gid: 0,
        mode: 0o100644,
        rdev: 0,
        symlink_target: String::new(),
        xattrs: Xattrs::new(),
    };
    // A content object the hostile tree points at (stored by a normal commit).
    let tree = p.path("tree");
    TreeSpec::new().file("x", "payload\n", 0o644).create(&tree);
    p.commit(["-b", "real", "--timestamp=@1", &s(&tree)]);
    let file = content_checksum(&header, b"payload\n");
    let meta = DirMeta {
        uid: 0,
        gid: 0,
        mode: 0o40755,
        xattrs: Xattrs::new(),
    };
    let meta_csum = rostree_testutil::repo::store_metadata(&repo, &meta.to_bytes(), "dirmeta");
    for name in ["..", "a/b", "."] {
        let hostile = DirTree {
            files: vec![(name.to_owned(), file)],
            dirs: vec![],
        };
        let tree_csum =
            rostree_testutil::repo::store_metadata(&repo, &hostile.to_bytes(), "dirtree");
        let commit = Commit {
            metadata: Metadata::new(),
            parent: None,
            related: vec![],
            subject: "hostile".into(),
            body: String::new(),
            timestamp: 1,
            root_tree: Checksum::from_hex(&tree_csum).expect("hex"),
            root_meta: Checksum::from_hex(&meta_csum).expect("hex"),
        };
        let commit_csum =
            rostree_testutil::repo::store_metadata(&repo, &commit.to_bytes(), "commit");
        let outer = p.path(format!("outer-{}", name.replace('/', "_")));
        std::fs::create_dir_all(&outer).expect("mkdir");
        let before = snapshot(&outer);
        let r = p.run(
            Tool::Rostree,
            &repo,
            ["checkout", commit_csum.as_str(), &s(&outer.join("co"))],
        );
        assert!(!r.output.status.success(), "{name:?}: accepted");
        assert!(r.stderr().starts_with("error: "), "{}", r.stderr());
        assert!(!r.stderr().contains("panicked"), "{}", r.stderr());
        // Nothing outside the target: at most the (empty) target itself was created.
        let after = snapshot(&outer);
        let changed: Vec<String> = before
            .diff(&after)
            .into_iter()
            .filter(|d| !d.contains("co"))
            .collect();
        assert!(changed.is_empty(), "{name:?}: {changed:?}");
        assert!(!p.path("escape").exists());
    }
}

/// An object whose content does not match its name is refused by a copying checkout, and
/// the half-written file does not stay behind.
#[test]
fn corrupt_object_is_refused() {
    let p = pair(Mode::Archive);
    let tree = p.path("tree");
    TreeSpec::new()
        .file("f", "genuine content\n", 0o644)
        .create(&tree);
    p.commit(["-b", "main", "--timestamp=@1", &s(&tree)]);
    let repo = p.repo(Tool::Rostree).to_owned();
    // Swap the object's payload for another file's, keeping the name.
    let other = p.path("other");
    TreeSpec::new()
        .file("f", "something else!\n", 0o644)
        .create(&other);
    p.run(
        Tool::Rostree,
        &repo,
        ["commit", "-b", "other", "--timestamp=@2", &s(&other)],
    )
    .pipe_ok("commit");
    // The `.filez` of `/f` in a commit.
    let object_of = |rev: &str| -> std::path::PathBuf {
        let listing = p
            .run(Tool::Rostree, &repo, ["ls", "-C", rev, "/f"])
            .pipe_ok("ls")
            .stdout();
        let csum = listing
            .split_whitespace()
            .nth(4)
            .expect("checksum")
            .to_owned();
        repo.join("objects")
            .join(&csum[..2])
            .join(format!("{}.filez", &csum[2..]))
    };
    std::fs::copy(object_of("other"), object_of("main")).expect("swap");
    let target = p.path("co");
    let r = p.run(Tool::Rostree, &repo, ["checkout", "main", &s(&target)]);
    assert!(!r.output.status.success(), "corrupt object checked out");
    assert!(r.stderr().starts_with("error: "), "{}", r.stderr());
    assert!(!target.join("f").exists(), "the corrupt file stayed");
}

/// A union checkout into a target holding a symlink where the commit has a directory never
/// writes through the symlink.
#[test]
fn union_never_follows_symlinks() {
    let p = pair(Mode::Bare);
    let tree = p.path("tree");
    TreeSpec::new().file("d/f", "f\n", 0o644).create(&tree);
    p.commit(["-b", "main", "--timestamp=@1", &s(&tree)]);
    let outside = p.path("outside");
    std::fs::create_dir_all(&outside).expect("mkdir");
    let target = p.path("target");
    std::fs::create_dir_all(&target).expect("mkdir");
    std::os::unix::fs::symlink(&outside, target.join("d")).expect("symlink");
    for flags in [&["--union"][..], &["--union-add"]] {
        let mut args = vec!["checkout"];
        args.extend(flags);
        args.extend(["main", target.to_str().expect("utf-8")]);
        let r = p.run(Tool::Rostree, p.repo(Tool::Rostree), &args);
        assert!(
            !r.output.status.success(),
            "{flags:?}: followed the symlink"
        );
        assert!(
            std::fs::read_dir(&outside)
                .expect("outside")
                .next()
                .is_none(),
            "{flags:?}: wrote outside"
        );
    }
}
