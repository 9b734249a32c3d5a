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
            } else if std::os::unix::fs::FileTypeExt::is_char_device(&ft) {
                format!("char {}", meta.rdev())
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

/// Runs `checkout ARGS` with both tools from upstream's repo into their own copies of
/// `prepared` (or nothing), and compares the results (and for option conflicts, labelled
/// `conflict-*`, the error line; rostree words file errors its own way).
fn compare_into(p: &Pair, args: &[&str], prepared: Option<&dyn Fn(&Path)>, label: &str) {
    let (up, rs) = (p.path(format!("{label}-up")), p.path(format!("{label}-rs")));
    if let Some(prepare) = prepared {
        prepare(&up);
        prepare(&rs);
    }
    let run = |tool: Tool, dest: &Path| {
        let args: Vec<String> = args.iter().map(|a| a.replace("DEST", &s(dest))).collect();
        p.run(
            tool,
            p.repo(Tool::Upstream),
            std::iter::once("checkout".to_owned()).chain(args),
        )
    };
    let (u, r) = (run(Tool::Upstream, &up), run(Tool::Rostree, &rs));
    assert_eq!(
        u.output.status.success(),
        r.output.status.success(),
        "{label}: upstream {} / rostree {}",
        u.stderr(),
        r.stderr()
    );
    if label.starts_with("conflict") {
        let error_line = |e: String| {
            e.lines()
                .find(|l| l.starts_with("error:"))
                .map(str::to_owned)
        };
        assert_eq!(error_line(u.stderr()), error_line(r.stderr()), "{label}");
    }
    assert_eq!(
        describe_tree(&up, true),
        describe_tree(&rs, true),
        "{label}"
    );
}

/// `--whiteouts`, `--process-passthrough-whiteouts` (as root), a file as `--subpath`,
/// `--from-file`, and the option conflicts, against upstream.
#[test]
fn whiteouts_single_files_and_batches() {
    let p = pair(Mode::BareUser);
    let tree = p.path("tree");
    TreeSpec::new()
        .file("d/f", "f\n", 0o644)
        .symlink("d/l", "f")
        .file(".wh.gone", "", 0o644)
        .file("sub/.wh.olddir", "", 0o644)
        .file("sub/new", "n\n", 0o600)
        .file(".ostree-wh.dev", "", 0o640)
        .file("empty", "", 0o644)
        .create(&tree);
    p.commit(["-b", "main", "--timestamp=@1", &s(&tree)]);
    let layer = |dest: &Path| {
        std::fs::create_dir_all(dest.join("sub/olddir/deep")).expect("mkdir");
        std::fs::write(dest.join("sub/olddir/deep/x"), "x\n").expect("write");
        std::fs::write(dest.join("gone"), "old\n").expect("write");
        std::fs::write(dest.join("kept"), "kept\n").expect("write");
        std::os::unix::fs::symlink("/", dest.join("sub/outside")).expect("symlink");
    };
    compare_into(
        &p,
        &["-U", "--union", "--whiteouts", "main", "DEST"],
        Some(&layer),
        "wh",
    );
    compare_into(
        &p,
        &["-U", "--union", "main", "DEST"],
        Some(&layer),
        "no-wh",
    );
    let root =
        std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").expect("/proc/self"))
            == 0;
    if root {
        compare_into(
            &p,
            &["-U", "--process-passthrough-whiteouts", "main", "DEST"],
            None,
            "passthrough",
        );
    }
    // A single file goes inside the destination directory, new or existing.
    compare_into(&p, &["-U", "--subpath=/d/f", "main", "DEST"], None, "file");
    compare_into(
        &p,
        &["-U", "-H", "--subpath=d/l", "main", "DEST"],
        None,
        "link",
    );
    let existing = |dest: &Path| std::fs::create_dir_all(dest).expect("mkdir");
    compare_into(
        &p,
        &["-U", "--subpath=/empty", "main", "DEST"],
        Some(&existing),
        "in-dir",
    );
    let occupied = |dest: &Path| {
        std::fs::create_dir_all(dest).expect("mkdir");
        std::fs::write(dest.join("f"), "other\n").expect("write");
    };
    compare_into(
        &p,
        &["-U", "--subpath=/d/f", "main", "DEST"],
        Some(&occupied),
        "taken",
    );
    compare_into(
        &p,
        &["-U", "--union", "--subpath=/d/f", "main", "DEST"],
        Some(&occupied),
        "union-file",
    );
    // Batches: NUL-separated revision and subpath pairs, all into one destination.
    let batch = p.path("batch");
    let from_file = format!("--from-file={}", s(&batch));
    for (records, label) in [
        (&b"main\0/d\0main\0sub\0main\0/\0"[..], "from-file"),
        (b"main\0/d\0main\0\0", "from-file-empty"),
        (b"main\0/nothere\0", "from-file-missing"),
    ] {
        std::fs::write(&batch, records).expect("batch");
        compare_into(&p, &["-U", "--union", &from_file, "DEST"], None, label);
    }
    for (i, conflict) in [
        &["--union", "--union-add"][..],
        &["--union", "--union-identical", "-H"],
        &["--union-add", "--union-identical", "-H"],
        &["-H", "-C"],
    ]
    .iter()
    .enumerate()
    {
        let mut args = vec!["-U"];
        args.extend(*conflict);
        args.extend(["main", "DEST"]);
        compare_into(&p, &args, None, &format!("conflict-{i}"));
    }
}

/// A whiteout naming `.` or `..` would empty the target or its parent: refused, and the
/// target keeps its files.
#[test]
fn dot_whiteouts_are_refused() {
    let p = pair(Mode::BareUser);
    for name in [".wh..", ".wh..."] {
        let tree = p.path(format!("tree{}", name.len()));
        TreeSpec::new().file(name, "", 0o644).create(&tree);
        let repo = p.repo(Tool::Rostree);
        p.run(
            Tool::Rostree,
            repo,
            ["commit", "-b", "dots", "--timestamp=@1", &s(&tree)],
        )
        .pipe_ok("commit");
        let dest = p.path(format!("dest{}", name.len()));
        std::fs::create_dir_all(&dest).expect("mkdir");
        std::fs::write(dest.join("keep"), "k\n").expect("write");
        let r = p.run(
            Tool::Rostree,
            repo,
            [
                "checkout",
                "-U",
                "--union",
                "--whiteouts",
                "dots",
                &s(&dest),
            ],
        );
        assert!(!r.output.status.success(), "{name} accepted");
        assert!(r.stderr().contains("Invalid whiteout"), "{}", r.stderr());
        assert!(dest.join("keep").exists() && p.path("").exists());
    }
}

/// Unmounts and detaches on drop, so a failing test leaves no mount behind.
struct Mounted(std::path::PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// On a filesystem that shares blocks (XFS with reflink), `-C` copies are reflinks: the
/// checked-out file's extents are shared with the object, and its content is intact.
/// Needs root to mount the image the test makes; says so and stops otherwise.
#[test]
fn force_copy_reflinks_where_possible() {
    let root =
        std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").expect("/proc/self"))
            == 0;
    if !root {
        eprintln!("not root: cannot mount an XFS image; reflink test not run");
        return;
    }
    let p = pair(Mode::Bare);
    let image = p.path("xfs.img");
    let mnt = p.path("mnt");
    std::fs::create_dir_all(&mnt).expect("mkdir");
    let file = std::fs::File::create(&image).expect("image");
    file.set_len(320 << 20).expect("size");
    rostree_testutil::Invocation::new("mkfs.xfs")
        .args(["-q", "-m", "reflink=1", &s(&image)])
        .ok();
    rostree_testutil::Invocation::new("mount")
        .args(["-o", "loop", &s(&image), &s(&mnt)])
        .ok();
    let _mounted = Mounted(mnt.clone());
    let repo = mnt.join("repo");
    let tree = mnt.join("tree");
    let data = rostree_testutil::tree::pseudo_random_bytes(1 << 20, 3);
    TreeSpec::new()
        .file("big", data.clone(), 0o644)
        .create(&tree);
    let rostree = p.bin(Tool::Rostree);
    for args in [
        vec!["init".to_owned(), "--mode=bare".to_owned()],
        vec!["commit".into(), "-b".into(), "main".into(), s(&tree)],
        vec![
            "checkout".into(),
            "-C".into(),
            "main".into(),
            s(&mnt.join("co")),
        ],
    ] {
        rostree_testutil::Invocation::new(rostree)
            .arg(format!("--repo={}", s(&repo)))
            .args(args)
            .ok();
    }
    let copy = mnt.join("co/big");
    assert_eq!(std::fs::read(&copy).expect("read"), data);
    assert_eq!(
        std::fs::metadata(&copy).expect("stat").nlink(),
        1,
        "a copy, not a link"
    );
    let extents = rostree_testutil::Invocation::new("filefrag")
        .args(["-v", &s(&copy)])
        .ok();
    let extents = String::from_utf8_lossy(&extents.stdout);
    assert!(extents.contains("shared"), "not reflinked:\n{extents}");
}

/// `-H` (no copy fallback) into another file system fails before anything is written, in
/// upstream's words, whatever the repository mode; a copying checkout there works.
#[test]
fn hardlink_checkout_across_devices_is_refused() {
    let p = pair(Mode::Bare);
    let tree = p.path("tree");
    TreeSpec::new().file("a", "a\n", 0o644).create(&tree);
    p.commit(["-b", "main", "--timestamp=@1", &s(&tree)]);
    // /dev/shm is a tmpfs of its own; the test is meaningless (and fails) where it is not.
    let elsewhere = tempfile::tempdir_in("/dev/shm").expect("a temp dir in /dev/shm");
    let dev = |path: &Path| std::fs::metadata(path).expect("stat").dev();
    assert_ne!(
        dev(elsewhere.path()),
        dev(p.repo(Tool::Upstream)),
        "/dev/shm must be another file system"
    );
    for tool in [Tool::Upstream, Tool::Rostree] {
        for flags in [&["-H"][..], &["-U", "-H"]] {
            let dest = elsewhere.path().join(format!("{tool:?}-{}", flags.len()));
            let mut args = vec!["checkout"];
            args.extend(flags);
            args.extend(["main", dest.to_str().expect("utf-8")]);
            let r = p.run(tool, p.repo(Tool::Upstream), &args);
            assert!(!r.output.status.success(), "{tool:?} {flags:?} succeeded");
            assert!(
                r.stderr()
                    .contains("Unable to do hardlink checkout across devices (src="),
                "{tool:?} {flags:?}: {}",
                r.stderr()
            );
            if tool == Tool::Rostree {
                assert!(!dest.exists(), "{flags:?}: rostree left {}", dest.display());
            }
        }
        let copy = elsewhere.path().join(format!("{tool:?}-copy"));
        p.run(
            tool,
            p.repo(Tool::Upstream),
            ["checkout", "main", copy.to_str().expect("utf-8")],
        )
        .pipe_ok("copying checkout");
        assert_eq!(std::fs::read(copy.join("a")).expect("read"), b"a\n");
    }
}
