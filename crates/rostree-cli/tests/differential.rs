//! Differential tests: upstream `ostree` (the oracle, /usr/bin/ostree 2022.7)
//! and `rostree` run the same commands; commits must get the same checksums,
//! repos must hold the same objects, and every read command must print the same
//! bytes whichever tool runs it on whichever tool's repo.
//!
//! Most scenarios run once per repo mode (`archive`, `bare`, `bare-user`,
//! `bare-user-only`); the `per_mode!` macro makes one test per mode so that a
//! failure names its mode.

use std::path::Path;

use rostree_testutil::repo::{Pair, Tool, object_path};
use rostree_testutil::tree::{TreeSpec, pseudo_random_bytes};
use rostree_testutil::{Invocation, Mode, rich_tree_for_mode, snapshot};

const ROSTREE: &str = env!("CARGO_BIN_EXE_rostree");

/// The commit options every tree commit in `rich_commit` uses.
const STD_ARGS: &[&str] = &[
    "-b",
    "main",
    "-s",
    "subject",
    "-m",
    "body",
    "--timestamp=2020-01-01T00:00:00Z",
    "--add-metadata-string=version=1.2.3",
    "--add-metadata=n=uint32 7",
];

fn pair(mode: Mode) -> Pair {
    Pair::new(ROSTREE, mode)
}

fn s(p: &Path) -> String {
    p.to_str().expect("temp paths are UTF-8").to_owned()
}

/// `args` followed by `extra`, as owned strings.
fn with(args: &[&str], extra: &[&str]) -> Vec<String> {
    args.iter().chain(extra).map(|a| (*a).to_owned()).collect()
}

/// Sorted lines: for `refs`, whose upstream order is GHashTable order.
fn sorted_lines(out: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(out);
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    lines.join("\n").into_bytes()
}

/// Runs every command in `cmds` through [`Pair::cross`], reporting all
/// differences at once.
fn cross_all(p: &Pair, cmds: &[&[&str]]) {
    p.cross_all(cmds);
}

/// [`cross_all`] for commands built at run time.
fn cross_owned(p: &Pair, cmds: &[Vec<String>]) {
    let slices: Vec<&[String]> = cmds.iter().map(Vec::as_slice).collect();
    p.cross_all(&slices);
}

/// `[a, b, c]` as owned strings.
fn cmd(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

/// Both tools must fail (non-zero) on their own repo, rostree cleanly, and
/// neither repo may change.
fn both_fail(p: &Pair, args: &[String]) {
    let before = (snapshot(&p.up), snapshot(&p.rs));
    let (u, r) = p.both(args);
    assert!(
        !u.output.status.success(),
        "upstream unexpectedly succeeded: {}\n{}",
        u.command,
        rostree_testutil::describe(&u.output)
    );
    assert_clean_error(&r);
    let du = before.0.diff(&snapshot(&p.up));
    let dr = before.1.diff(&snapshot(&p.rs));
    assert!(du.is_empty(), "upstream changed its repo: {du:?}");
    assert!(
        dr.is_empty(),
        "rostree changed its repo on failure ({}): {dr:?}",
        r.command
    );
}

/// A failed rostree run: non-zero, no panic, one `error: ...` line on stderr.
fn assert_clean_error(r: &rostree_testutil::repo::Run) {
    let err = r.stderr();
    assert!(
        !r.output.status.success()
            && r.output.status.code() != Some(101)
            && !err.contains("panicked")
            && err.starts_with("error: ")
            && err.ends_with('\n')
            && err.lines().count() == 1,
        "rostree did not fail cleanly with one `error: ...` line: {}\n{}",
        r.command,
        rostree_testutil::describe(&r.output)
    );
}

/// Makes a module `$name` with one test per repo mode calling `$name(mode)`.
/// `per_mode!(name: ["reason"] [] [] [])` marks the tests of some modes
/// (archive, bare, bare-user, bare-user-only, in that order) as ignored with a
/// reason; `per_mode!(name: all "reason")` marks all four.
macro_rules! per_mode {
    ($name:ident) => {
        per_mode!($name: [] [] [] []);
    };
    ($name:ident: all $reason:literal) => {
        per_mode!($name: [$reason] [$reason] [$reason] [$reason]);
    };
    ($name:ident: [$($a:literal)?] [$($b:literal)?] [$($c:literal)?] [$($d:literal)?]) => {
        mod $name {
            use super::*;
            #[test]
            $(#[ignore = $a])?
            fn archive() {
                super::$name(Mode::Archive);
            }
            #[test]
            $(#[ignore = $b])?
            fn bare() {
                super::$name(Mode::Bare);
            }
            #[test]
            $(#[ignore = $c])?
            fn bare_user() {
                super::$name(Mode::BareUser);
            }
            #[test]
            $(#[ignore = $d])?
            fn bare_user_only() {
                super::$name(Mode::BareUserOnly);
            }
        }
    };
}

// ---------------------------------------------------------------------------
// Scenarios run in every repo mode.

per_mode!(rich_commit);
per_mode!(canonical_flags);
per_mode!(layering);
per_mode!(tar_tree);
per_mode!(cpio_tree);
per_mode!(ref_tree_through_modifiers);
per_mode!(tar_pathname_filter);
per_mode!(orphan_parent_bindings);
per_mode!(ownership_and_permissions);
per_mode!(statoverride);
per_mode!(skip_list);
per_mode!(detached_metadata);
per_mode!(messages);
per_mode!(skip_if_unchanged);
per_mode!(unknown_parent_refused_but_readable);
per_mode!(cat_follows_symlinks);
per_mode!(canonical_permissions);
per_mode!(generate_sizes);
per_mode!(consume);
per_mode!(empty_xattr_value);
per_mode!(orphan_with_branch);
per_mode!(body_file_wins_over_body);
per_mode!(remote_refspec_branch);
per_mode!(duplicate_bind_refs);

/// Upstream keeps duplicates in `ostree.ref-binding` (`--bind-ref` repeated, or
/// equal to `-b`): the list is sorted but not deduplicated.
fn duplicate_bind_refs(mode: Mode) {
    let p = pair(mode);
    let tree = p.path("tree");
    TreeSpec::new().file("f", "f\n", 0o644).create(&tree);
    let t = s(&tree);
    p.commit([
        "-b",
        "br",
        "--bind-ref=zz",
        "--bind-ref=aa",
        "--bind-ref=zz",
        "--bind-ref=br",
        "-s",
        "dup",
        "--timestamp=@1",
        &t,
    ]);
    p.assert_same_objects();
    p.cross(["show", "--print-metadata-key=ostree.ref-binding", "br"]);
}

/// A deliberate difference: upstream does not check that `--parent=CSUM` exists and writes
/// a commit with a dangling parent; rostree refuses it with a clear error and writes nothing
/// (issue #2: "a missing parent" is bad input). rostree still reads upstream's commit with the
/// dangling parent exactly as upstream does.
fn unknown_parent_refused_but_readable(mode: Mode) {
    let p = pair(mode);
    let tree = p.path("tree");
    TreeSpec::new().file("f", "f\n", 0o644).create(&tree);
    let zeros = "0".repeat(64);
    let args = [
        "commit".to_owned(),
        "-b".into(),
        "ghost".into(),
        format!("--parent={zeros}"),
        "-s".into(),
        "ghost".into(),
        "--timestamp=@1".into(),
        s(&tree),
    ];
    let before = snapshot(p.repo(Tool::Rostree));
    let (up, rs) = p.both(&args);
    up.pipe_ok("upstream (the oracle)");
    assert!(
        !rs.output.status.success(),
        "rostree accepted a missing parent"
    );
    assert_eq!(
        rs.stderr().trim_end(),
        format!("error: No such metadata object {zeros}.commit"),
        "{}",
        rs.command
    );
    let after = snapshot(p.repo(Tool::Rostree));
    assert!(before.diff(&after).is_empty(), "{:?}", before.diff(&after));
    // Reading upstream's repo: both tools print the same thing.
    for cmd in [&["log", "ghost"][..], &["show", "--raw", "ghost"][..]] {
        let u = p.run(Tool::Upstream, p.repo(Tool::Upstream), cmd);
        let r = p.run(Tool::Rostree, p.repo(Tool::Upstream), cmd);
        u.pipe_ok("upstream");
        r.pipe_ok("rostree");
        assert_eq!(u.stdout(), r.stdout(), "{cmd:?}");
    }
}

/// `--orphan -b REF`: no parent, but REF is still written and bound.
fn orphan_with_branch(mode: Mode) {
    let p = pair(mode);
    let tree = p.path("tree");
    TreeSpec::new().file("f", "f\n", 0o644).create(&tree);
    let t = s(&tree);
    p.commit(["-b", "ob", "-s", "first", "--timestamp=@1", &t]);
    p.commit(["--orphan", "-b", "ob", "-s", "orphan", "--timestamp=@2", &t]);
    p.assert_same_objects();
    cross_all(
        &p,
        &[
            &["rev-parse", "ob"],
            &["log", "ob"],
            &["show", "--raw", "ob"],
        ],
    );
}

/// `-F/--body-file` wins over `-m/--body` when both are given.
fn body_file_wins_over_body(mode: Mode) {
    let p = pair(mode);
    let tree = p.path("tree");
    TreeSpec::new().file("f", "f\n", 0o644).create(&tree);
    let body = p.path("body");
    std::fs::write(&body, "from the file\n").expect("write body");
    p.commit([
        "-b",
        "main",
        "-s",
        "subj",
        "-m",
        "from -m",
        &format!("--body-file={}", s(&body)),
        "--timestamp=@6",
        &s(&tree),
    ]);
    p.assert_same_objects();
    cross_all(&p, &[&["log", "main"], &["show", "--raw", "main"]]);
}

/// `-b remote:ref` writes `refs/remotes/remote/ref` and binds `remote:ref`.
fn remote_refspec_branch(mode: Mode) {
    let p = pair(mode);
    let tree = p.path("tree");
    TreeSpec::new().file("f", "f\n", 0o644).create(&tree);
    let t = s(&tree);
    p.commit(["-b", "rem:x", "-s", "one", "--timestamp=@13", &t]);
    p.commit(["-b", "rem:x", "-s", "two", "--timestamp=@14", &t]);
    for repo in [&p.up, &p.rs] {
        assert!(
            repo.join("refs/remotes/rem/x").is_file(),
            "{}",
            repo.display()
        );
    }
    p.assert_same_objects();
    cross_all(
        &p,
        &[
            &["rev-parse", "rem:x"],
            &["rev-parse", "x"],
            &["log", "rem:x"],
            &["show", "--raw", "rem:x"],
        ],
    );
    p.cross_with(["refs"], sorted_lines);
}

/// The main scenario: the rich tree committed by both tools with the standard
/// options, then a second commit on top, then every read command cross-wise.
fn rich_commit(mode: Mode) {
    let p = pair(mode);
    let tree = p.path("tree");
    rich_tree_for_mode(&tree, mode);
    let c1 = p.commit(with(STD_ARGS, &[&s(&tree)]));
    p.assert_same_objects();

    // A second commit on top: one file changed, one removed, one added.
    std::fs::write(tree.join("a.txt"), "hello again\n").expect("rewrite a.txt");
    std::fs::remove_file(tree.join("readonly")).expect("rm readonly");
    std::fs::write(tree.join("sub/added"), "added\n").expect("write sub/added");
    let c2 = p.commit([
        "-b",
        "main",
        "-s",
        "second",
        "--timestamp=2020-01-02T03:04:05Z",
        &s(&tree),
    ]);
    assert_ne!(c1, c2);
    p.assert_same_objects();

    let c1_prefix = &c1[..10];
    cross_all(
        &p,
        &[
            &["log", "main"],
            &["show", "main"],
            &["show", &c1],
            &["show", c1_prefix],
            &["show", "--raw", "main"],
            &["show", "--raw", &c1],
            &["show", "--print-metadata-key=version", "main^"],
            &["show", "--print-metadata-key=n", "main^"],
            &["show", "--print-metadata-key=ostree.ref-binding", "main"],
            &["ls", "-R", "main"],
            &["ls", "-R", "main^"],
            &["ls", "-R", "-X", "-C", "main"],
            &["ls", "-R", "-X", "-C", &c1],
            &["ls", "main", "/sub"],
            &["ls", "-d", "main", "/sub"],
            &["ls", "-C", "main", "/deep/1/2"],
            &["ls", "-X", "main", "/a.txt", "/rel-link", "/sub/hard2"],
            &["ls", "-R", "--nul-filenames-only", "main"],
            &["cat", "main", "/a.txt"],
            &["cat", "main^", "/a.txt"],
            &["cat", "main", "/big-random"],
            &["cat", "main", "/big-zeros", "/empty"],
            &["cat", "main", "/with space/file name", "ünïcödé/日本語.txt"],
            &["cat", "main", "/sub/hard2"],
            &["cat", "main", "/deep/1/2/3/4/5/6/7/8/leaf"],
            &["rev-parse", "main"],
            &["rev-parse", "main^"],
            &["rev-parse", c1_prefix],
            &["rev-parse", &c1],
        ],
    );
    // Paths in a tree with a newline in the name and content of the new file.
    p.cross(["cat", "main", "/new\nline"]);
    p.cross(["ls", "main", "/new\nline"]);
}

/// The flags upstream's docs give for bare-user-only commits; in a
/// bare-user-only repo they must not change the result (upstream canonicalizes
/// implicitly).
fn canonical_flags(mode: Mode) {
    let p = pair(mode);
    let tree = p.path("tree");
    rich_tree_for_mode(&tree, mode);
    let flags = [
        "--owner-uid=0",
        "--owner-gid=0",
        "--no-xattrs",
        "--canonical-permissions",
    ];
    let explicit = p.commit(with(
        &flags,
        &["-b", "explicit", "--timestamp=@0", &s(&tree)],
    ));
    let implicit = p.commit(["-b", "implicit", "--timestamp=@0", &s(&tree)]);
    if mode == Mode::BareUserOnly {
        // Only the ref binding differs, so compare the trees.
        let a = p.cross(["ls", "-R", "-X", "-C", "explicit"]);
        let b = p.cross(["ls", "-R", "-X", "-C", "implicit"]);
        assert_eq!(
            a, b,
            "bare-user-only: explicit canonical flags changed the tree"
        );
    } else {
        assert_ne!(explicit, implicit);
    }
    p.assert_same_objects();
    cross_all(
        &p,
        &[
            &["ls", "-R", "-X", "-C", "explicit"],
            &["show", "--raw", "explicit"],
        ],
    );
}

/// `--tree=dir= --tree=dir=` layering (replace files, merge dirs, later dirmeta
/// wins), `--tree=ref=main --tree=dir=other`, and the two conflict errors.
fn layering(mode: Mode) {
    let p = pair(mode);
    let l1 = p.path("L1");
    let l2 = p.path("L2");
    TreeSpec::new()
        .file("f", "one\n", 0o644)
        .file("only1", "only one\n", 0o644)
        .dir("d", 0o755)
        .file("d/x", "x\n", 0o644)
        .dir("fd", 0o755)
        .file("df", "file\n", 0o644)
        .create(&l1);
    TreeSpec::new()
        .file("f", "two\n", 0o600)
        .symlink("only1", "target")
        .dir("d", 0o700)
        .xattr("d", "user.layer", b"2")
        .file("d/y", "y\n", 0o644)
        .dir("e", 0o755)
        .file("e/z", "z\n", 0o755)
        .create(&l2);
    let common = ["--timestamp=2021-06-01T00:00:00Z", "-s", "layers"];
    let dir1 = format!("--tree=dir={}", s(&l1));
    let dir2 = format!("--tree=dir={}", s(&l2));
    p.commit(with(&common, &["-b", "lay", &dir1, &dir2]));
    p.commit(with(&common, &["-b", "rev", &dir2, &dir1]));
    p.commit(with(&common, &["-b", "main", &dir1]));
    p.commit(with(&common, &["-b", "onref", "--tree=ref=main", &dir2]));
    p.commit(with(&common, &["-b", "refonly", "--tree=ref=lay"]));
    p.assert_same_objects();
    cross_all(
        &p,
        &[
            &["ls", "-R", "-X", "-C", "lay"],
            &["ls", "-R", "-X", "-C", "rev"],
            &["ls", "-R", "-X", "-C", "onref"],
            &["ls", "-R", "refonly"],
            &["rev-parse", "refonly"],
        ],
    );
}

/// Writes a tar (optionally gzipped) with python's tarfile: a `./` entry, a dir
/// with odd ownership, a setuid file, a symlink, a hard link and an empty dir.
fn make_tar(path: &Path, gzip: bool) {
    let script = r#"
import io, sys, tarfile
path, gz = sys.argv[1], sys.argv[2] == "1"
t = tarfile.open(path, "w:gz" if gz else "w", format=tarfile.GNU_FORMAT)
def add(name, type, mode, uid=0, gid=0, data=b"", link=""):
    i = tarfile.TarInfo(name)
    i.type, i.mode, i.uid, i.gid, i.mtime, i.linkname = type, mode, uid, gid, 1600000000, link
    i.size = len(data) if type == tarfile.REGTYPE else 0
    t.addfile(i, io.BytesIO(data) if type == tarfile.REGTYPE else None)
add("./", tarfile.DIRTYPE, 0o755)
add("./d/", tarfile.DIRTYPE, 0o750, 1234, 5678)
add("./d/f", tarfile.REGTYPE, 0o4751, 1234, 5678, b"tar file\n")
add("./d/big", tarfile.REGTYPE, 0o644, data=bytes(range(256)) * 600)
add("./link", tarfile.SYMTYPE, 0o777, link="d/f")
add("./abs", tarfile.SYMTYPE, 0o777, link="/etc/passwd")
add("./hl", tarfile.LNKTYPE, 0o4751, 1234, 5678, link="./d/f")
add("./empty/", tarfile.DIRTYPE, 0o1777)
add("./sp ace é", tarfile.REGTYPE, 0o600, 7, 8, b"x")
t.close()
"#;
    Invocation::new("python3")
        .args(["-c", script, &s(path), if gzip { "1" } else { "0" }])
        .ok();
}

/// `--tree=tar=`: plain and gzipped tarballs, alone and layered.
fn tar_tree(mode: Mode) {
    let p = pair(mode);
    let tar = p.path("t.tar");
    let tgz = p.path("t.tar.gz");
    make_tar(&tar, false);
    make_tar(&tgz, true);
    let plain = p.commit([
        "-b",
        "tar",
        "--timestamp=@1600000000",
        &format!("--tree=tar={}", s(&tar)),
    ]);
    let gz = p.commit([
        "-b",
        "tgz",
        "--timestamp=@1600000000",
        &format!("--tree=tar={}", s(&tgz)),
    ]);
    assert_ne!(plain, gz, "different ref bindings");
    let dir = p.path("base");
    TreeSpec::new()
        .file("base-file", "b\n", 0o644)
        .dir("d", 0o755)
        .file("d/under", "u\n", 0o644)
        .create(&dir);
    p.commit([
        "-b",
        "mixed",
        "--timestamp=@1600000000",
        &format!("--tree=dir={}", s(&dir)),
        &format!("--tree=tar={}", s(&tar)),
    ]);
    p.assert_same_objects();
    cross_all(
        &p,
        &[
            &["ls", "-R", "-X", "-C", "tar"],
            &["ls", "-R", "-X", "-C", "tgz"],
            &["ls", "-R", "-C", "mixed"],
            &["cat", "tar", "/hl", "/d/big"],
        ],
    );
}

/// A tree with hard links and a symlink, archived by GNU cpio in `newc` and `odc` formats.
fn make_cpio(p: &Pair) -> (std::path::PathBuf, std::path::PathBuf) {
    let tree = p.path("cpio-tree");
    TreeSpec::new()
        .dir("usr", 0o755)
        .dir("usr/bin", 0o755)
        .file("usr/bin/foo", "contents\n", 0o755)
        .file("usr/bin/setuidme", "s\n", 0o644)
        .file("usr/bin/skipme", "skip\n", 0o644)
        .symlink("usr/bin/sl", "foo")
        .create(&tree);
    std::fs::hard_link(tree.join("usr/bin/foo"), tree.join("usr/bin/bar")).expect("link");
    let mut out = Vec::new();
    for format in ["newc", "odc"] {
        let archive = p.path(format!("t.{format}.cpio"));
        Invocation::new("sh")
            .args([
                "-c",
                &format!(
                    "cd {} && find . | LC_ALL=C sort | cpio --quiet -o -H {format} > {}",
                    s(&tree),
                    s(&archive)
                ),
            ])
            .ok();
        out.push(archive);
    }
    (out.remove(0), out.remove(0))
}

/// `--tree=tar=` with cpio archives (as libarchive reads them upstream), from a file and
/// from standard input, with `--statoverride` and `--skip-list`.
fn cpio_tree(mode: Mode) {
    let p = pair(mode);
    let (newc, odc) = make_cpio(&p);
    let overrides = p.path("statoverride");
    std::fs::write(&overrides, "2048 /usr/bin/setuidme\n").expect("write");
    let skip = p.path("skiplist");
    std::fs::write(&skip, "/usr/bin/skipme\n").expect("write");
    for (branch, archive) in [("newc", &newc), ("odc", &odc)] {
        p.commit([
            "-b",
            branch,
            "--timestamp=@1600000000",
            &format!("--statoverride={}", s(&overrides)),
            &format!("--skip-list={}", s(&skip)),
            &format!("--tree=tar={}", s(archive)),
        ]);
    }
    // The same commits; the object sets differ by design: upstream's libarchive hands over
    // the first name of a hard-linked file as an empty file, whose object it stores before
    // the data comes with the last name, and leaves it unreferenced.
    cross_all(
        &p,
        &[
            &["ls", "-R", "-C", "newc"],
            &["ls", "-R", "-C", "odc"],
            &["cat", "newc", "/usr/bin/bar"],
        ],
    );
    // From standard input: the same commit as from the file.
    let from_file = p.repo(Tool::Rostree).to_owned();
    let stdin = Invocation::new(ROSTREE)
        .args([
            &format!("--repo={}", s(&from_file)),
            "commit",
            "-b",
            "stdin",
            "--timestamp=@1600000000",
            "--tree=tar=-",
        ])
        .stdin_file(&newc)
        .ok();
    let by_file = p
        .run(
            Tool::Rostree,
            &from_file,
            [
                "commit",
                "-b",
                "file",
                "--timestamp=@1600000000",
                &format!("--tree=tar={}", s(&newc)),
            ],
        )
        .pipe_ok("commit")
        .stdout();
    let tree_of = |rev: &str| {
        p.run(Tool::Rostree, &from_file, ["ls", "-R", "-C", rev])
            .pipe_ok("ls")
            .stdout()
    };
    assert!(!String::from_utf8_lossy(&stdin.stdout).trim().is_empty());
    assert!(!by_file.trim().is_empty());
    assert_eq!(tree_of("stdin"), tree_of("file"));
}

/// `--tree=ref=` passes every entry of the stored tree through the modifier (owners,
/// canonical permissions, statoverride, skip-list); `--base` takes it as it is.
fn ref_tree_through_modifiers(mode: Mode) {
    let p = pair(mode);
    let tree = p.path("tree");
    TreeSpec::new()
        .dir("baz", 0o755)
        .file("baz/cow", "moo\n", 0o644)
        .file("baz/tool", "#!/bin/sh\n", 0o755)
        .symlink("baz/link", "cow")
        .create(&tree);
    p.commit(["-b", "base", "--timestamp=@1", &s(&tree)]);
    let overrides = p.path("statoverride");
    std::fs::write(&overrides, "2048 /baz/tool\n").expect("write");
    let skip = p.path("skiplist");
    std::fs::write(&skip, "/baz/cow\n").expect("write");
    let extra = p.path("extra");
    TreeSpec::new().file("extra", "x\n", 0o644).create(&extra);
    for (branch, args) in [
        (
            "owners",
            vec![
                "--tree=ref=base".to_owned(),
                "--owner-uid=7".into(),
                "--owner-gid=8".into(),
            ],
        ),
        (
            "canonical",
            vec![
                "--tree=ref=base".to_owned(),
                "--canonical-permissions".into(),
            ],
        ),
        (
            "override",
            vec![
                "--tree=ref=base".to_owned(),
                format!("--statoverride={}", s(&overrides)),
            ],
        ),
        (
            "skip",
            vec![
                "--tree=ref=base".to_owned(),
                format!("--skip-list={}", s(&skip)),
            ],
        ),
        (
            "on-base",
            vec!["--base=base".to_owned(), "--owner-uid=42".into(), s(&extra)],
        ),
    ] {
        if mode == Mode::BareUserOnly && branch == "override" {
            // A setuid file is refused there, by both.
            continue;
        }
        let mut all = vec!["-b".to_owned(), branch.to_owned(), "--timestamp=@1".into()];
        all.extend(args);
        p.commit(all);
        cross_all(&p, &[&["ls", "-R", branch]]);
    }
    p.assert_same_objects();
}

/// `--tree=tar= --tar-pathname-filter=REGEX,REPLACEMENT`: prefixes, anchored and unanchored
/// renames, and a filter that matches nothing.
fn tar_pathname_filter(mode: Mode) {
    let p = pair(mode);
    let tgz = p.path("t.tar.gz");
    make_tar(&tgz, true);
    for (i, filter) in [
        "^nosuchfile/,nootherfile/",
        "^,foo/",
        "^d/,e/",
        "/f$,/g",
        "(d)/(f),\\2/\\1",
    ]
    .iter()
    .enumerate()
    {
        p.commit([
            "-b",
            &format!("f{i}"),
            "--timestamp=@1600000000",
            "--tar-autocreate-parents",
            &format!("--tar-pathname-filter={filter}"),
            &format!("--tree=tar={}", s(&tgz)),
        ]);
        cross_all(&p, &[&["ls", "-R", "-C", &format!("f{i}")]]);
    }
    p.assert_same_objects();
    both_fail(
        &p,
        &cmd(&[
            "commit",
            "-b",
            "bad",
            "--tar-pathname-filter=nocomma",
            &format!("--tree=tar={}", s(&tgz)),
        ]),
    );
}

/// `--orphan`, `--parent=none`, explicit and unknown `--parent`, `--no-bindings`,
/// `--bind-ref`.
fn orphan_parent_bindings(mode: Mode) {
    let p = pair(mode);
    let tree = p.path("tree");
    TreeSpec::new().file("f", "f\n", 0o644).create(&tree);
    let t = s(&tree);
    let ts = "--timestamp=2022-02-02T02:02:02Z";
    // A subject, so that the "(no subject)" line is not what is tested here.
    let subj = "--subject=o";
    let c1 = p.commit(["-b", "main", ts, subj, &t]);
    let c2 = p.commit(["-b", "main", ts, "-s", "child", &t]);
    let orphan = p.commit(["--orphan", ts, subj, &t]);
    let none = p.commit(["-b", "main", "--parent=none", ts, "-s", "reparented", &t]);
    let explicit = p.commit(["-b", "other", &format!("--parent={c1}"), ts, subj, &t]);
    let nobind = p.commit(["-b", "nb", "--no-bindings", "--bind-ref=x", ts, subj, &t]);
    let bind = p.commit(["-b", "br", "--bind-ref=zz", "--bind-ref=aa", ts, subj, &t]);
    let orphan_bind = p.commit(["--orphan", "--bind-ref=other", ts, subj, &t]);
    p.assert_same_objects();
    let mut cmds = Vec::new();
    for c in [
        &c1,
        &c2,
        &orphan,
        &none,
        &explicit,
        &nobind,
        &bind,
        &orphan_bind,
    ] {
        cmds.push(cmd(&["show", "--raw", c]));
        cmds.push(cmd(&["log", c]));
    }
    for args in [&["rev-parse", "main"][..], &["rev-parse", "other^"]] {
        cmds.push(cmd(args));
    }
    cross_owned(&p, &cmds);
    p.cross_with(["refs"], sorted_lines);
    // (--parent values that are not a full checksum: see errors.rs.)
    both_fail(&p, &with(&["commit", ts], &[&t]));
}

/// `--owner-uid/--owner-gid`, `--canonical-permissions`, `--no-xattrs`.
fn ownership_and_permissions(mode: Mode) {
    let p = pair(mode);
    let tree = p.path("tree");
    rich_tree_for_mode(&tree, mode);
    let t = s(&tree);
    let ts = "--timestamp=@1";
    p.commit(["-b", "owner", "--owner-uid=5", "--owner-gid=6", ts, &t]);
    p.commit(["-b", "uidonly", "--owner-uid=5", ts, &t]);
    p.commit(["-b", "noxattrs", "--no-xattrs", ts, &t]);
    p.assert_same_objects();
    let cmds: Vec<Vec<String>> = ["owner", "uidonly", "noxattrs"]
        .iter()
        .map(|r| cmd(&["ls", "-R", "-X", "-C", r]))
        .collect();
    cross_owned(&p, &cmds);
}

/// `--statoverride` (the mode number is parsed as DECIMAL) and its errors.
fn statoverride(mode: Mode) {
    let p = pair(mode);
    let tree = p.path("tree");
    TreeSpec::new()
        .file("a", "a\n", 0o644)
        .file("b", "b\n", 0o644)
        .file("c", "c\n", 0o755)
        .dir("d", 0o755)
        .file("d/e", "e\n", 0o644)
        .create(&tree);
    let so = p.path("so");
    // +2048 = 04000 (setuid); =420 = 0644; +04000 is decimal 4000 = 0o7640;
    // =0755 is decimal 755 = 0o1363; "+" wins over "=" for the same path.
    std::fs::write(
        &so,
        "+2048 /a\n=420 /c\n\n+04000 /b\n=0755 /d\n+8 /d/e\n=0 /d/e\n+512 /\n",
    )
    .expect("write statoverride");
    let t = s(&tree);
    p.commit([
        "-b",
        "so",
        "--timestamp=@2",
        &format!("--statoverride={}", s(&so)),
        &t,
    ]);
    p.assert_same_objects();
    p.cross(["ls", "-R", "so"]);

    let unmatched = p.path("so-unmatched");
    std::fs::write(&unmatched, "+2048 /nonexist\n").expect("write");
    let (u, r) = p.both([
        "commit",
        "-b",
        "bad",
        &format!("--statoverride={}", s(&unmatched)),
        &t,
    ]);
    assert!(!u.output.status.success() && !r.output.status.success());
    assert_eq!(u.stderr(), r.stderr(), "unmatched statoverride messages");
    let malformed = p.path("so-malformed");
    std::fs::write(&malformed, "nospace\n").expect("write");
    both_fail(
        &p,
        &with(
            &["commit", "-b", "bad"],
            &[&format!("--statoverride={}", s(&malformed)), &t],
        ),
    );
}

/// `--skip-list`: files and whole dirs skipped; unmatched paths fail.
fn skip_list(mode: Mode) {
    let p = pair(mode);
    let tree = p.path("tree");
    rich_tree_for_mode(&tree, mode);
    let t = s(&tree);
    let list = p.path("skip");
    std::fs::write(&list, "/a.txt\n\n/sub\n/deep/1/2\n/with space/file name\n").expect("write");
    p.commit([
        "-b",
        "skipped",
        "--timestamp=@3",
        &format!("--skip-list={}", s(&list)),
        &t,
    ]);
    p.assert_same_objects();
    p.cross(["ls", "-R", "-C", "skipped"]);

    let bad = p.path("skip-bad");
    std::fs::write(&bad, "a.txt\n").expect("write");
    let (u, r) = p.both([
        "commit",
        "-b",
        "bad",
        &format!("--skip-list={}", s(&bad)),
        &t,
    ]);
    assert!(!u.output.status.success() && !r.output.status.success());
    assert_eq!(u.stderr(), r.stderr(), "unmatched skip-list messages");
}

/// `--add-detached-metadata-string` and `show --print-detached-metadata-key`.
fn detached_metadata(mode: Mode) {
    let p = pair(mode);
    let tree = p.path("tree");
    TreeSpec::new().file("f", "f\n", 0o644).create(&tree);
    let c = p.commit([
        "-b",
        "main",
        "--timestamp=@4",
        "-s",
        "detached",
        "--add-detached-metadata-string=k=v",
        "--add-detached-metadata-string=other=a=b",
        "--add-metadata-string=version=9",
        "--add-metadata-string=version=10",
        "--add-metadata=list=['a','b']",
        "--add-metadata=i=-3",
        "--add-metadata=t=(1, \"x\")",
        &s(&tree),
    ]);
    assert!(object_path(&p.rs, &c, "commitmeta").exists());
    p.assert_same_objects();
    cross_all(
        &p,
        &[
            &["show", "--print-detached-metadata-key=k", "main"],
            &["show", "--print-detached-metadata-key=other", "main"],
            &["show", "--print-metadata-key=version", "main"],
            &["show", "--print-metadata-key=list", "main"],
            &["show", "--print-metadata-key=i", "main"],
            &["show", "--print-metadata-key=t", "main"],
            &["show", "main"],
            &["show", "--raw", "main"],
        ],
    );
    for args in [
        ["show", "--print-detached-metadata-key=nosuch", "main"],
        ["show", "--print-metadata-key=nosuch", "main"],
    ] {
        let (u, r) = p.both(args);
        assert!(!u.output.status.success());
        assert_clean_error(&r);
    }
}

/// `--generate-sizes` on a small tree (small files, symlinks, dirs): same
/// commit checksum, so the same `ostree.sizes` (upstream only writes it in
/// archive repos, and records a symlink's unpacked size as its target length).
fn generate_sizes(mode: Mode) {
    let p = pair(mode);
    let tree = p.path("tree");
    TreeSpec::new()
        .file("a.txt", "hello\n", 0o644)
        .file("exe", "#!/bin/sh\n", 0o755)
        .empty_file("empty")
        .symlink("rel", "a.txt")
        .symlink("abs", "/etc/passwd")
        .dir("d", 0o755)
        .file("d/f", "in d\n", 0o644)
        .create(&tree);
    p.commit([
        "-b",
        "main",
        "--generate-sizes",
        "--timestamp=@5",
        &s(&tree),
    ]);
    p.assert_same_objects();
    cross_all(
        &p,
        &[
            &["show", "--raw", "main"],
            &["show", "--print-sizes", "main"],
        ],
    );
}

/// `--generate-sizes` on the rich tree in an archive repo, whose big files make
/// the archived (compressed) sizes depend on the deflate implementation.
#[test]
fn generate_sizes_rich_archive() {
    let p = pair(Mode::Archive);
    let tree = p.path("tree");
    rich_tree_for_mode(&tree, Mode::Archive);
    p.commit([
        "-b",
        "main",
        "--generate-sizes",
        "--timestamp=@5",
        &s(&tree),
    ]);
    p.assert_same_objects();
    p.cross(["show", "--print-sizes", "main"]);
}

/// `-s`/`-m`/`-F` (`-F` wins over `-m`), multi-line subjects and bodies.
fn messages(mode: Mode) {
    let p = pair(mode);
    let tree = p.path("tree");
    TreeSpec::new().file("f", "f\n", 0o644).create(&tree);
    let t = s(&tree);
    let body = p.path("body");
    std::fs::write(&body, "line1\nline2\n\n  indented\nline5\n").expect("write body");
    let bf = format!("--body-file={}", s(&body));
    let ts = "--timestamp=@6";
    let cases = [
        with(&["-b", "m1", ts, "-s", "subj"], &[&bf, &t]),
        with(&["-b", "m3", ts, "-F"], &[&s(&body), &t]),
        with(
            &[
                "-b",
                "m4",
                ts,
                "-s",
                "multi\nline subject",
                "-m",
                "b1\n  b2\n",
            ],
            &[&t],
        ),
        with(&["-b", "m5", ts, "-m", "body only"], &[&t]),
        with(&["-b", "m6", ts], &[&t]),
        with(&["-b", "m7", ts, "-s", "it's \"quoted\" é\ttab"], &[&t]),
    ];
    for case in &cases {
        p.commit(case);
    }
    p.assert_same_objects();
    let mut cmds = Vec::new();
    for r in ["m1", "m4"] {
        cmds.push(cmd(&["log", r]));
    }
    // m3, m5 and m6 have no subject, m7 quotes: their `log` is checked by
    // `no_subject_line` and `gvariant_string_escaping`.
    for r in ["m1", "m3", "m4", "m5", "m6"] {
        cmds.push(cmd(&["show", "--raw", r]));
    }
    cross_owned(&p, &cmds);
}

/// `--consume` deletes the source dir after the commit.
fn consume(mode: Mode) {
    let p = pair(mode);
    let spec = TreeSpec::new()
        .file("f", "f\n", 0o644)
        .dir("d", 0o755)
        .file("d/g", "g\n", 0o644);
    let src_u = p.path("src-u");
    let src_r = p.path("src-r");
    spec.create(&src_u);
    spec.create(&src_r);
    let args = |src: &Path| {
        cmd(&[
            "commit",
            "-b",
            "main",
            "-s",
            "c",
            "--timestamp=@7",
            "--consume",
            &s(src),
        ])
    };
    let u = p
        .run(Tool::Upstream, &p.up, args(&src_u))
        .pipe_ok("upstream commit --consume")
        .stdout();
    let r = p.run(Tool::Rostree, &p.rs, args(&src_r));
    assert_eq!(u, r.stdout(), "commit --consume checksums: {}", r.command);
    assert!(!src_u.exists(), "upstream --consume removes the source dir");
    assert!(
        !src_r.exists(),
        "rostree --consume must remove the source dir: {}",
        r.command
    );
    p.assert_same_objects();
}

/// `--skip-if-unchanged` writes nothing and prints the parent when the tree
/// is the parent's, whatever the subject.
fn skip_if_unchanged(mode: Mode) {
    let p = pair(mode);
    let tree = p.path("tree");
    TreeSpec::new()
        .file("f", "f\n", 0o644)
        .dir("d", 0o755)
        .file("d/g", "g\n", 0o644)
        .create(&tree);
    let first = p.commit(["-b", "main", "-s", "first", "--timestamp=@8", &s(&tree)]);
    let same = p.commit([
        "-b",
        "main",
        "--timestamp=@9",
        "-s",
        "different subject",
        "--skip-if-unchanged",
        &s(&tree),
    ]);
    assert_eq!(first, same, "--skip-if-unchanged prints the parent");
    std::fs::write(tree.join("d/new"), "new\n").expect("write");
    let changed = p.commit([
        "-b",
        "main",
        "--timestamp=@10",
        "-s",
        "changed",
        "--skip-if-unchanged",
        &s(&tree),
    ]);
    assert_ne!(first, changed);
    p.assert_same_objects();
    p.cross(["log", "main"]);
}

/// `cat` follows symlinks inside the commit (relative targets).
fn cat_follows_symlinks(mode: Mode) {
    let p = pair(mode);
    let tree = p.path("tree");
    rich_tree_for_mode(&tree, mode);
    p.commit(["-b", "main", "-s", "s", "--timestamp=@1", &s(&tree)]);
    cross_all(
        &p,
        &[
            &["cat", "main", "/rel-link"],
            &["cat", "main", "/link with space"],
            &["cat", "main", "/a.txt", "/rel-link", "/exe"],
        ],
    );
}

/// `--canonical-permissions`: `mode & (S_IFMT|0755)`, uid/gid 0, and all xattrs
/// dropped, on files, symlinks, dirs and the root.
fn canonical_permissions(mode: Mode) {
    let p = pair(mode);
    let tree = p.path("tree");
    rich_tree_for_mode(&tree, mode);
    p.commit([
        "-b",
        "canon",
        "--canonical-permissions",
        "-s",
        "canon",
        "--timestamp=@1",
        &s(&tree),
    ]);
    p.assert_same_objects();
    p.cross(["ls", "-R", "-X", "-C", "canon"]);
}

/// Upstream silently drops xattrs whose value is empty (on files and dirs), but
/// keeps a one-byte NUL value.
fn empty_xattr_value(mode: Mode) {
    let p = pair(mode);
    let tree = p.path("tree");
    TreeSpec::new()
        .empty_file("empty")
        .xattr("empty", "user.empty-value", b"")
        .file("f", "f\n", 0o644)
        .xattr("f", "user.empty-value", b"")
        .xattr("f", "user.kept", b"k")
        .file("nul", "n\n", 0o644)
        .xattr("nul", "user.nul", b"\0")
        .dir("d", 0o755)
        .xattr("d", "user.empty-dir-value", b"")
        .create(&tree);
    p.commit(["-b", "main", "--timestamp=@30", &s(&tree)]);
    p.assert_same_objects();
    p.cross(["ls", "-R", "-X", "-C", "main"]);
}

// ---------------------------------------------------------------------------
// Mode-independent commands: run on one or two modes.

/// `--timestamp` formats accepted and rejected by upstream.
#[test]
fn timestamp_formats() {
    let p = pair(Mode::Archive);
    let tree = p.path("tree");
    TreeSpec::new().file("f", "f\n", 0o644).create(&tree);
    let t = s(&tree);
    let mut cmds = Vec::new();
    for (i, ts) in [
        "2020-01-01T00:00:00Z",
        "2020-01-01 00:00:00",
        "2020-01-01",
        "2020-01-01T12:34:56+02:00",
        "2020-01-01T12:34:56-0530",
        "@1577836800",
        "@0",
        "2020-01-01T00:00:00.5Z",
        "1999-12-31T23:59:59Z",
        "2038-01-19T03:14:08Z",
    ]
    .iter()
    .enumerate()
    {
        let branch = format!("t{i}");
        p.commit(["-b", &branch, "-s", ts, &format!("--timestamp={ts}"), &t]);
        cmds.push(cmd(&["show", "--raw", &branch]));
        cmds.push(cmd(&["log", &branch]));
    }
    cross_owned(&p, &cmds);
    for bad in ["1577836800", "garbage", "2020-13-45"] {
        both_fail(
            &p,
            &with(
                &["commit", "-b", "bad"],
                &[&format!("--timestamp={bad}"), &t],
            ),
        );
    }
    // SOURCE_DATE_EPOCH is the default timestamp.
    let run = |tool: Tool| {
        p.invocation(tool, p.repo(tool), ["commit", "-b", "sde", &t])
            .env("SOURCE_DATE_EPOCH", "1234567890")
            .ok()
            .stdout
    };
    assert_eq!(
        run(Tool::Upstream),
        run(Tool::Rostree),
        "commit with SOURCE_DATE_EPOCH=1234567890"
    );
}

/// `refs` listing (compared as sorted sets), `--create`, `--delete`, prefixes,
/// remote refs, `reset`.
#[test]
fn refs_create_delete_reset() {
    for mode in [Mode::Archive, Mode::BareUser] {
        let p = pair(mode);
        let mut failures: Vec<String> = Vec::new();
        let tree = p.path("tree");
        TreeSpec::new().file("f", "f\n", 0o644).create(&tree);
        let t = s(&tree);
        let c1 = p.commit(["-b", "main", "-s", "1", "--timestamp=@10", &t]);
        let c2 = p.commit(["-b", "main", "-s", "2", "--timestamp=@11", &t]);
        p.commit(["-b", "a/b/c", "-s", "3", "--timestamp=@12", &t]);
        let mut write = |args: &[&str]| {
            if let Err(e) = p.try_both_ok(args) {
                failures.push(e);
            }
        };
        write(&["refs", "--create=other", "main"]);
        write(&["refs", "--create=foo/bar", "main^"]);
        write(&["refs", "--create=foo/baz", &c1[..8]]);
        write(&["refs", "--create=o:remote-ref", "main"]);
        write(&["refs", "--create=日本", "main"]);
        let mut reads: Vec<Vec<String>> = Vec::new();
        for args in [
            &["refs"][..],
            &["refs", "foo"],
            &["refs", "--list", "foo"],
            &["refs", "o:"],
            &["refs", "nosuch"],
            &["refs", "foo", "a"],
        ] {
            reads.push(cmd(args));
        }
        for args in &reads {
            if let Err(e) = p.try_cross_with(args, sorted_lines) {
                failures.push(e);
            }
        }
        for args in [
            &["rev-parse", "other"][..],
            &["rev-parse", "foo/bar"],
            &["rev-parse", "o:remote-ref"],
            &["rev-parse", "remote-ref"],
            &["rev-parse", "日本"],
        ] {
            if let Err(e) = p.try_cross_with(args, <[u8]>::to_vec) {
                failures.push(e);
            }
        }
        // Existing ref without --force fails; with --force it is overwritten.
        both_fail(&p, &cmd(&["refs", "--create=other", "main^"]));
        if let Err(e) = p.try_both_ok(["refs", "--force", "--create=other", "main^"]) {
            failures.push(e);
        }
        p.cross(["rev-parse", "other"]);
        both_fail(&p, &cmd(&["refs", "--create=new", "nosuch"]));
        both_fail(&p, &cmd(&["refs", "--create=bad ref", "main"]));
        // Deleting.
        for prefix in ["other", "foo", "o:remote-ref", "nosuch"] {
            if let Err(e) = p.try_both_ok(["refs", "--delete", prefix]) {
                failures.push(e);
            }
        }
        if let Err(e) = p.try_cross_with(["refs"], sorted_lines) {
            failures.push(e);
        }
        // reset: backwards, forwards, to a prefix.
        for target in ["main^", &c2, &c1[..12]] {
            if let Err(e) = p.try_both_ok(["reset", "main", target]) {
                failures.push(e);
            }
            p.cross(["rev-parse", "main"]);
        }
        both_fail(&p, &cmd(&["reset", "nosuch", "main"]));
        both_fail(&p, &cmd(&["reset", "main", "nosuch"]));
        // Ref files are `csum\n`.
        for repo in [&p.up, &p.rs] {
            let content = std::fs::read_to_string(repo.join("refs/heads/main")).expect("ref");
            assert_eq!(content, format!("{c1}\n"));
        }
        assert!(failures.is_empty(), "[{mode}]\n{}", failures.join("\n\n"));
    }
}

/// `config get/set/unset`: same output and a byte-identical config file.
#[test]
fn config_get_set_unset() {
    let p = pair(Mode::BareUser);
    let mut failures = Vec::new();
    let check_config = |step: &str, failures: &mut Vec<String>| {
        let a = std::fs::read_to_string(p.up.join("config")).expect("upstream config");
        let b = std::fs::read_to_string(p.rs.join("config")).expect("rostree config");
        if a != b {
            failures.push(format!(
                "config files differ after `{step}`:\n--- upstream ---\n{a}\n--- rostree ---\n{b}"
            ));
            // Carry on from the same state.
            std::fs::write(p.rs.join("config"), a).expect("resync config");
        }
    };
    let steps: &[&[&str]] = &[
        &["config", "set", "core.foo", "bar"],
        &["config", "set", "newsec.key", "val with spaces"],
        &["config", "set", "a.b", "line1\nline2"],
        &[
            "config",
            "set",
            "remote \"o\".url",
            "http://example.invalid/",
        ],
        &["config", "--group=core", "set", "grouped", "g"],
        &["config", "unset", "core.foo"],
        &["config", "unset", "core.never-set"],
        &["config", "unset", "nosuchgroup.key"],
    ];
    for step in steps {
        if let Err(e) = p.try_both_ok(*step) {
            failures.push(e);
        }
        check_config(&step.join(" "), &mut failures);
    }
    for args in [
        &["config", "get", "core.mode"][..],
        &["config", "get", "core.repo_version"],
        &["config", "get", "a.b"],
        &["config", "get", "newsec.key"],
        &["config", "get", "remote \"o\".url"],
        &["config", "--group=core", "get", "grouped"],
        &["config", "--group=remote \"o\"", "get", "url"],
    ] {
        if let Err(e) = p.try_cross_with(args, <[u8]>::to_vec) {
            failures.push(e);
        }
    }
    for args in [
        &["config", "get", "core.nosuch"][..],
        &["config", "get", "nosuch.key"],
        &["config", "get", "nodot"],
        &["config", "frob", "a.b"],
    ] {
        let (u, r) = p.both(args);
        assert!(!u.output.status.success(), "{args:?}");
        // Both fail; the exact messages are compared by `config_error_messages`.
        if r.output.status.success() {
            failures.push(format!(
                "{args:?}: upstream stderr {:?}, rostree {}",
                u.stderr(),
                rostree_testutil::describe(&r.output)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// `checksum` of files, dirs, symlinks, xattrs, `--ignore-xattrs`.
#[test]
fn checksum_paths() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let tree = tmp.path().join("tree");
    rostree_testutil::rich_tree(&tree);
    let ostree = rostree_testutil::upstream_ostree();
    let mut failures = Vec::new();
    for rel in [
        "a.txt",
        "empty",
        "exe",
        "setuid",
        "owned",
        "big-random",
        "rel-link",
        "abs-link",
        "dangling",
        "sub",
        "private-dir",
        "sticky",
        "with space/file name",
        "new\nline",
        "",
    ] {
        for flags in [&[][..], &["--ignore-xattrs"]] {
            let path = tree.join(rel);
            let args: Vec<String> = flags
                .iter()
                .map(|f| (*f).to_owned())
                .chain([s(&path)])
                .collect();
            let u = Invocation::new(&ostree).arg("checksum").args(&args).ok();
            let r = Invocation::new(ROSTREE)
                .arg("checksum")
                .args(&args)
                .output();
            if u.stdout != r.stdout || !r.status.success() {
                failures.push(format!(
                    "checksum {args:?}\n upstream: {}\n rostree: {}",
                    String::from_utf8_lossy(&u.stdout).trim(),
                    rostree_testutil::describe(&r)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A large number of small files and wide directories commit identically
/// (exercises parallel commit paths and dirtree sorting).
#[test]
fn wide_tree() {
    for mode in [Mode::Archive, Mode::BareUser] {
        let p = pair(mode);
        let mut spec = TreeSpec::new();
        for i in 0..300 {
            spec = spec.file(
                &format!("w/f{i:03}-{}", "x".repeat(i % 7)),
                pseudo_random_bytes(i * 13, i as u64 + 1),
                if i % 3 == 0 { 0o755 } else { 0o644 },
            );
        }
        for i in 0..40 {
            spec = spec.file(&format!("w/d{i}/inner"), format!("{i}\n"), 0o644);
        }
        let tree = p.path("tree");
        spec.create(&tree);
        p.commit(["-b", "wide", "--timestamp=@20", &s(&tree)]);
        p.assert_same_objects();
        p.cross(["ls", "-R", "-C", "wide"]);
    }
}

/// A small pair with two commits on `main` (the first with metadata).
fn two_commits(mode: Mode) -> Pair {
    let p = pair(mode);
    let tree = p.path("tree");
    TreeSpec::new()
        .file("f", "f\n", 0o644)
        .dir("with space", 0o755)
        .file("with space/g", "g\n", 0o644)
        .dir("sub", 0o755)
        .file("sub/h", "h\n", 0o644)
        .create(&tree);
    p.commit(with(STD_ARGS, &[&s(&tree)]));
    p.commit(["-b", "main", "-s", "second", "--timestamp=@2", &s(&tree)]);
    p
}

/// `log --raw`: each commit is `commit CSUM` followed by its variant text.
#[test]
fn log_raw() {
    let p = two_commits(Mode::Archive);
    cross_all(&p, &[&["log", "--raw", "main"], &["log", "--raw", "main^"]]);
}

/// `ls COMMIT PATH` with PATH not starting with `/` prints `/PATH`.
#[test]
fn ls_relative_path() {
    let p = two_commits(Mode::Archive);
    cross_all(
        &p,
        &[
            &["ls", "main", "with space"],
            &["ls", "main", "sub"],
            &["ls", "-R", "main", "sub"],
            &["ls", "-d", "main", "sub/h"],
        ],
    );
}

/// A commit with no subject prints `(no subject)` in `log` and `show`.
#[test]
fn no_subject_line() {
    let p = pair(Mode::Archive);
    let tree = p.path("tree");
    TreeSpec::new().file("f", "f\n", 0o644).create(&tree);
    let t = s(&tree);
    let body = p.path("body");
    std::fs::write(&body, "line1\n\nline3\n").expect("write body");
    p.commit(["-b", "none", "--timestamp=@1", &t]);
    p.commit(["-b", "bodyonly", "-m", "body only", "--timestamp=@1", &t]);
    p.commit(["-b", "file", "-F", &s(&body), "--timestamp=@1", &t]);
    p.commit([
        "-b",
        "version",
        "--add-metadata-string=version=1.0",
        "--timestamp=@1",
        &t,
    ]);
    cross_all(
        &p,
        &[
            &["log", "none"],
            &["show", "none"],
            &["log", "bodyonly"],
            &["log", "file"],
            &["show", "version"],
        ],
    );
}

/// GVariant text format strings: `"` delimiters when the string contains `'`,
/// escapes for `\\`, controls and quotes (in `show --raw`,
/// `--print-metadata-key`, `ls -X`).
#[test]
fn gvariant_string_escaping() {
    let p = pair(Mode::Archive);
    let tree = p.path("tree");
    TreeSpec::new()
        .file("f", "f\n", 0o644)
        .xattr("f", "user.q", b"it's")
        .create(&tree);
    let t = s(&tree);
    p.commit([
        "-b",
        "main",
        "-s",
        "it's \"quoted\" é\ttab",
        "-m",
        "back\\slash \u{1}\u{7f} a\"b",
        "--add-metadata-string=q=it's",
        "--add-metadata-string=dq=say \"hi\"",
        "--add-metadata-string=both='\"",
        "--timestamp=@1",
        &t,
    ]);
    cross_all(
        &p,
        &[
            &["show", "--raw", "main"],
            &["log", "--raw", "main"],
            &["show", "--print-metadata-key=q", "main"],
            &["show", "--print-metadata-key=dq", "main"],
            &["show", "--print-metadata-key=both", "main"],
            &["ls", "-X", "main", "/f"],
        ],
    );
}

/// Layering a file over a directory, or a directory over a file, fails
/// (upstream: `Can't replace directory with file: NAME` and vice versa).
#[test]
fn layering_conflicts() {
    for mode in Mode::ALL {
        let p = pair(mode);
        let l1 = p.path("L1");
        TreeSpec::new()
            .dir("fd", 0o755)
            .file("fd/in", "x\n", 0o644)
            .file("df", "file\n", 0o644)
            .create(&l1);
        let l2 = p.path("L2");
        TreeSpec::new()
            .file("fd", "now a file\n", 0o644)
            .create(&l2);
        let l3 = p.path("L3");
        TreeSpec::new()
            .dir("df", 0o755)
            .file("df/in", "x\n", 0o644)
            .create(&l3);
        let dir = |l: &Path| format!("--tree=dir={}", s(l));
        both_fail(&p, &cmd(&["commit", "-b", "bad", &dir(&l1), &dir(&l2)]));
        both_fail(&p, &cmd(&["commit", "-b", "bad", &dir(&l1), &dir(&l3)]));
    }
}

/// `config` keys are split at the FIRST dot: `a.b.c` is key `b.c` in group `a`.
#[test]
fn config_key_with_dots() {
    let p = pair(Mode::Archive);
    p.both_ok(["config", "set", "a.b.c", "v"]);
    let a = std::fs::read_to_string(p.up.join("config")).expect("upstream config");
    let b = std::fs::read_to_string(p.rs.join("config")).expect("rostree config");
    assert_eq!(a, b, "config after `config set a.b.c v`");
    p.cross(["config", "get", "a.b.c"]);
}

/// `refs PREFIX` where PREFIX is itself a ref lists that ref, as PREFIX.
#[test]
fn refs_exact_ref_prefix() {
    let p = two_commits(Mode::Archive);
    p.both_ok(["refs", "--create=foo/bar", "main"]);
    cross_all(
        &p,
        &[
            &["refs", "main"],
            &["refs", "foo/bar"],
            &["refs", "--list", "main"],
        ],
    );
}

/// `checksum` of a fifo and a device node: upstream checksums them.
#[test]
fn checksum_special_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let special = tmp.path().join("special");
    TreeSpec::new()
        .fifo("fifo")
        .char_device("null", 1, 3)
        .create(&special);
    let ostree = rostree_testutil::upstream_ostree();
    let mut failures = Vec::new();
    for rel in ["fifo", "null"] {
        let path = s(&special.join(rel));
        let u = Invocation::new(&ostree).args(["checksum", &path]).ok();
        let r = Invocation::new(ROSTREE).args(["checksum", &path]).output();
        if u.stdout != r.stdout {
            failures.push(format!(
                "checksum {path}\n upstream: {}\n rostree: {}",
                String::from_utf8_lossy(&u.stdout).trim(),
                rostree_testutil::describe(&r)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `checksum` skips xattrs with an empty value, as commit does.
#[test]
fn checksum_empty_xattr_value() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let tree = tmp.path().join("tree");
    TreeSpec::new()
        .empty_file("empty")
        .xattr("empty", "user.empty-value", b"")
        .dir("d", 0o755)
        .xattr("d", "user.empty-value", b"")
        .create(&tree);
    let ostree = rostree_testutil::upstream_ostree();
    for rel in ["empty", "d"] {
        let path = s(&tree.join(rel));
        let u = Invocation::new(&ostree).args(["checksum", &path]).ok();
        let r = Invocation::new(ROSTREE).args(["checksum", &path]).output();
        assert_eq!(
            String::from_utf8_lossy(&u.stdout),
            String::from_utf8_lossy(&r.stdout),
            "checksum {path}: {}",
            rostree_testutil::describe(&r)
        );
    }
}

/// `config` error messages are upstream's, word for word.
#[test]
fn config_error_messages() {
    let p = pair(Mode::Archive);
    let mut failures = Vec::new();
    for args in [
        &["config", "get", "core.nosuch"][..],
        &["config", "get", "nosuch.key"],
        &["config", "get", "nodot"],
        &["config", "frob", "a.b"],
    ] {
        let (u, r) = p.both(args);
        if u.stderr() != r.stderr() {
            failures.push(format!(
                "{args:?}: upstream stderr {:?}, rostree stderr {:?}",
                u.stderr(),
                r.stderr()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Collection refs (`refs -c`, mirrors, `--create=cid:ref`, `-c --delete`), the
/// `ostree.collection-binding` of a repo with a collection ID, and aliases (`-A`).
#[test]
fn collections_and_aliases() {
    let p = pair(Mode::Archive);
    let tree = p.path("tree");
    TreeSpec::new().file("f", "f\n", 0o644).create(&tree);
    p.both_ok(["config", "set", "core.collection-id", "org.example.Os"]);
    p.commit(["-b", "main", "-s", "c", "--timestamp=@1", &s(&tree)]);
    p.assert_same_objects();
    p.cross([
        "show",
        "--print-metadata-key=ostree.collection-binding",
        "main",
    ]);
    p.both_ok(["refs", "-c", "--create=org.other.Os:sub/x", "main"]);
    p.both_ok(["refs", "-c", "--create=org.other.Os:newref", "main"]);
    p.both_ok(["refs", "--create=aliasx", "-A", "main"]);
    p.cross_with(["refs", "-c"], sorted_lines);
    p.cross_with(["refs", "-c", "org.other.Os"], sorted_lines);
    p.cross_with(["refs"], sorted_lines);
    p.cross(["refs", "-A"]);
    p.cross(["rev-parse", "aliasx"]);
    // An aliased ref cannot be deleted; an invalid collection ID is refused.
    let (u, r) = p.both(["refs", "--delete", "main"]);
    assert!(!u.output.status.success() && !r.output.status.success());
    assert_eq!(u.stderr(), r.stderr());
    let (u, r) = p.both(["refs", "-c", "main"]);
    assert!(!u.output.status.success() && !r.output.status.success());
    assert_eq!(u.stderr(), r.stderr());
    p.both_ok(["refs", "-c", "--delete", "org.other.Os"]);
    p.cross_with(["refs", "-c"], sorted_lines);
}

/// Writes a tar of `(name, kind, mode, uid, gid)` members (`d` dir, `f` file) with python.
/// A tar member: name, kind (`d` or `f`), mode, uid, gid.
type Member<'a> = (&'a str, char, u32, u32, u32);

fn tar_of(path: &Path, members: &[Member<'_>]) {
    let spec: Vec<String> = members
        .iter()
        .map(|(n, k, m, u, g)| format!("{n}|{k}|{m}|{u}|{g}"))
        .collect();
    let script = r#"
import io, sys, tarfile
t = tarfile.open(sys.argv[1], "w", format=tarfile.GNU_FORMAT)
for spec in sys.argv[2:]:
    name, kind, mode, uid, gid = spec.split("|")
    i = tarfile.TarInfo(name)
    i.mode, i.uid, i.gid, i.mtime = int(mode), int(uid), int(gid), 1600000000
    if kind == "d":
        i.type = tarfile.DIRTYPE
        t.addfile(i)
    else:
        data = name.encode() + b"\n"
        i.size = len(data)
        t.addfile(i, io.BytesIO(data))
t.close()
"#;
    let mut args = vec!["-c".to_owned(), script.to_owned(), s(path)];
    args.extend(spec);
    Invocation::new("python3").args(args).ok();
}

/// `--tar-autocreate-parents`: created parents (and a root without `./`) take the owner of
/// the member that needed them; without the flag a missing parent, or a missing root, is an
/// error in both tools.
#[test]
fn tar_autocreate_parents() {
    tar_autocreate_parents_in(Mode::Archive, &[]);
    // Directories made for a missing parent keep the archive's owner: no `--owner-*`,
    // canonicalization or bare-user-only rule applies to them.
    tar_autocreate_parents_in(Mode::Archive, &["--owner-uid=7", "--owner-gid=8"]);
    tar_autocreate_parents_in(Mode::BareUserOnly, &[]);
    tar_autocreate_parents_in(Mode::Archive, &["--canonical-permissions"]);
}

fn tar_autocreate_parents_in(mode: Mode, extra: &[&str]) {
    let p = pair(mode);
    let cases: [(&str, &[Member<'_>]); 5] = [
        (
            "noroot",
            &[
                ("d/", 'd', 0o755, 1234, 5678),
                ("d/f", 'f', 0o644, 1234, 5678),
            ],
        ),
        ("fileonly", &[("a/b/f", 'f', 0o644, 1234, 5678)]),
        ("dirfirst", &[("x/y/", 'd', 0o700, 1234, 5678)]),
        (
            "noparent",
            &[("./", 'd', 0o755, 0, 0), ("sub/f", 'f', 0o644, 7, 8)],
        ),
        // Every directory on the way takes the creator's owner, existing ones too.
        (
            "deeper",
            &[
                ("./", 'd', 0o755, 0, 0),
                ("d/", 'd', 0o700, 1, 1),
                ("d/sub/f", 'f', 0o644, 7, 8),
                ("e/f", 'f', 0o644, 9, 9),
            ],
        ),
    ];
    for (name, members) in cases {
        let tar = p.path(format!("{name}.tar"));
        tar_of(&tar, members);
        let tree = format!("--tree=tar={}", s(&tar));
        let mut args = vec![
            "-b",
            name,
            "--tar-autocreate-parents",
            "--timestamp=@1",
            &tree,
        ];
        args.extend(extra);
        p.commit(args);
        p.cross(["ls", "-R", name]);
        if !extra.is_empty() {
            // Upstream stores objects of an archive it then refuses; without the same
            // options those would not match the commit's, so the refusal is checked once.
            continue;
        }
        let (u, r) = p.both([
            "commit",
            "-b",
            &format!("{name}-strict"),
            "--timestamp=@1",
            &tree,
        ]);
        assert!(
            !u.output.status.success(),
            "upstream accepted {name} without autocreate"
        );
        assert!(
            !r.output.status.success(),
            "rostree accepted {name} without autocreate"
        );
        assert_eq!(u.stderr(), r.stderr(), "{name}");
    }
    if extra.is_empty() {
        p.assert_same_objects();
    }
}

/// `--bootable` (kernel keys through a hash-ordered dict, bindings included, duplicates
/// collapsed), `--keep-metadata`, `--mode-ro-executables`, `--base`.
fn bootable_and_metadata_options(mode: Mode) {
    let p = pair(mode);
    let tree = p.path("tree");
    TreeSpec::new()
        .file("usr/lib/modules/5.10.0/vmlinuz", "kernel\n", 0o644)
        .file("usr/bin/tool", "tool\n", 0o4775)
        .file("usr/bin/ro", "ro\n", 0o700)
        .create(&tree);
    let t = s(&tree);
    p.commit([
        "-b",
        "main",
        "--add-metadata-string=version=2.0",
        "--timestamp=@1",
        &t,
    ]);
    p.commit([
        "-b",
        "main",
        "--bootable",
        "--keep-metadata=version",
        "--add-metadata-string=version=3",
        "--add-metadata=z=5",
        "--add-metadata-string=a=1",
        "--add-metadata-string=a=2",
        "--bind-ref=other",
        "--mode-ro-executables",
        "--timestamp=@2",
        &t,
    ]);
    let many: Vec<String> = (0..12)
        .map(|i| format!("--add-metadata-string=k{i}={i}"))
        .collect();
    let mut args = vec![
        "-b".to_owned(),
        "many".into(),
        "--bootable".into(),
        "--timestamp=@3".into(),
    ];
    args.extend(many);
    args.push(t.clone());
    p.commit(&args);
    let layer = p.path("layer");
    TreeSpec::new().file("extra", "x\n", 0o644).create(&layer);
    p.commit([
        "-b",
        "based",
        "--base=main",
        &format!("--tree=dir={}", s(&layer)),
        "--timestamp=@4",
    ]);
    p.assert_same_objects();
    cross_all(
        &p,
        &[
            &["show", "--raw", "main"],
            &["show", "--raw", "many"],
            &["ls", "-R", "main"],
            &["ls", "-R", "based"],
        ],
    );
    // No kernel: both refuse.
    let plain = p.path("plain");
    TreeSpec::new().file("f", "f\n", 0o644).create(&plain);
    let (u, r) = p.both(["commit", "-b", "nk", "--bootable", &s(&plain)]);
    assert!(!u.output.status.success() && !r.output.status.success());
    assert_eq!(u.stderr(), r.stderr());
}
per_mode!(bootable_and_metadata_options);

/// `refs` in upstream's exact (GLib hash-table) order, with nested, UTF-8 and remote refs.
#[test]
fn refs_exact_order() {
    let p = pair(Mode::Archive);
    let tree = p.path("tree");
    TreeSpec::new().file("f", "f\n", 0o644).create(&tree);
    p.commit(["-b", "main", "--timestamp=@1", &s(&tree)]);
    for name in [
        "foo", "bar", "baz", "zeta", "alpha", "a/b", "a/c", "b", "x1", "x2", "x3", "héllo",
        "q/r/s", "o:x", "o:y", "zz:main",
    ] {
        p.both_ok(["refs", &format!("--create={name}"), "main"]);
    }
    for extra in (0..40).map(|i| format!("--create=bulk/{i:02}")) {
        p.both_ok(["refs", &extra, "main"]);
    }
    cross_all(
        &p,
        &[
            &["refs"],
            &["refs", "bulk"],
            &["refs", "--list", "q"],
            &["refs", "o:"],
        ],
    );
}

/// `-e`: the message comes from `$EDITOR` (and wins over `-s`); `SOURCE_DATE_EPOCH` sets the
/// timestamp, read as a leading integer.
#[test]
fn editor_and_source_date_epoch() {
    let p = pair(Mode::Archive);
    let tree = p.path("tree");
    TreeSpec::new().file("f", "f\n", 0o644).create(&tree);
    let editor = p.path("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nprintf 'Subj line\\n\\nbody here\\n# comment\\nmore\\n' > \"$1\"\n",
    )
    .expect("write editor");
    Invocation::new("chmod").args(["+x", &s(&editor)]).ok();
    let mut sums = Vec::new();
    for tool in [Tool::Upstream, Tool::Rostree] {
        let repo = p.repo(tool);
        let edited = p
            .invocation(
                tool,
                repo,
                [
                    "commit",
                    "-e",
                    "-s",
                    "ignored",
                    "-b",
                    "m",
                    "--timestamp=@1",
                    &s(&tree),
                ],
            )
            .env("EDITOR", &editor)
            .ok();
        let epoch = p
            .invocation(tool, repo, ["commit", "-b", "e", &s(&tree)])
            .env("SOURCE_DATE_EPOCH", "1e3")
            .ok();
        let failed = p
            .invocation(tool, repo, ["commit", "-e", "-b", "f", &s(&tree)])
            .env("EDITOR", "false")
            .output();
        assert!(!failed.status.success());
        sums.push((edited.stdout, epoch.stdout, failed.stderr));
    }
    assert_eq!(sums[0], sums[1]);
    p.assert_same_objects();
}

/// `show` of dirtree, dirmeta and content objects by checksum (also `--raw`, `-B`), and `-B`
/// on commits and metadata keys.
fn show_objects(mode: Mode) {
    let p = pair(mode);
    let tree = p.path("tree");
    TreeSpec::new()
        .file("a.txt", "hello\n", 0o644)
        .symlink("l", "a.txt")
        .dir("d", 0o700)
        .create(&tree);
    p.commit([
        "-b",
        "main",
        "--add-metadata=n=uint32 5",
        "--add-metadata-string=version=1.0",
        "--timestamp=@1",
        &s(&tree),
    ]);
    let listing = p.cross(["ls", "-R", "-C", "main"]);
    let listing = String::from_utf8_lossy(&listing).into_owned();
    let mut cmds: Vec<Vec<String>> = vec![
        cmd(&["show", "-B", "main"]),
        cmd(&["show", "-B", "--print-metadata-key=n", "main"]),
        cmd(&["show", "--print-metadata-key=n", "main"]),
    ];
    for line in listing.lines() {
        // `TYPE+MODE UID GID SIZE CHECKSUM [DIRMETA] PATH`
        let fields: Vec<&str> = line.split_whitespace().collect();
        for csum in fields.iter().filter(|f| f.len() == 64) {
            for flags in [&[][..], &["--raw"], &["-B"]] {
                let mut c = vec!["show".to_owned()];
                c.extend(flags.iter().map(|f| (*f).to_owned()));
                c.push((*csum).to_owned());
                cmds.push(c);
            }
        }
    }
    cross_owned(&p, &cmds);
    let zeros = "0".repeat(64);
    let (u, r) = p.both(["show", zeros.as_str()]);
    assert!(!u.output.status.success() && !r.output.status.success());
    assert_eq!(u.stderr(), r.stderr());
}
per_mode!(show_objects);

/// Summaries of a repository with a collection ID, as upstream writes them: the own
/// collection's refs as the refs, other collections (mirrors, remotes with a collection ID)
/// in `ostree.summary.collection-map`, the `ostree-metadata` commit each `summary -u`
/// makes (byte for byte, at a fixed `SOURCE_DATE_EPOCH`); `refs -c --create` of the own
/// collection is a head, and `refs -c --delete` of it deletes the heads.
#[test]
fn summary_with_collections() {
    let p = pair(Mode::Archive);
    let tree = p.path("tree");
    TreeSpec::new().file("f", "f\n", 0o644).create(&tree);
    p.both_ok(["config", "set", "core.collection-id", "org.example.Os"]);
    p.commit(["-b", "main", "-s", "c", "--timestamp=@1", &s(&tree)]);
    p.both_ok(["refs", "-c", "--create=org.other.Os:mirrored", "main"]);
    p.both_ok(["refs", "-c", "--create=org.example.Os:own", "main"]);
    p.both_ok([
        "remote",
        "add",
        "--no-gpg-verify",
        "--collection-id=org.remote.Os",
        "r",
        "http://example.com/",
    ]);
    p.both_ok([
        "remote",
        "add",
        "--no-gpg-verify",
        "plain",
        "http://example.com/",
    ]);
    p.both_ok(["refs", "--create=r:fetched", "main"]);
    p.both_ok(["refs", "--create=plain:other", "main"]);
    p.cross(["refs", "own"]);
    for extra in [&[][..], &["--add-metadata=key='value'", "-m", "n=@t 123"]] {
        for tool in [Tool::Upstream, Tool::Rostree] {
            let mut args = vec!["summary", "-u"];
            args.extend(extra);
            p.invocation(tool, p.repo(tool), &args)
                .env("SOURCE_DATE_EPOCH", "1000000000")
                .ok();
        }
    }
    // The same commits, made of the same bytes; the same summary but its time of writing.
    p.cross(["rev-parse", "ostree-metadata"]);
    p.cross(["log", "ostree-metadata"]);
    p.cross(["show", "--raw", "ostree-metadata"]);
    let without_time = |out: &[u8]| -> Vec<u8> {
        String::from_utf8_lossy(out)
            .lines()
            .filter(|l| !l.starts_with("Last-Modified"))
            .flat_map(|l| format!("{l}\n").into_bytes())
            .collect()
    };
    let view = p.cross_with(["summary", "--view"], without_time);
    let view = String::from_utf8_lossy(&view);
    for wanted in [
        "* (org.example.Os, main)",
        "* (org.other.Os, mirrored)",
        "* (org.remote.Os, fetched)",
        "Collection ID (ostree.summary.collection-id): org.example.Os",
        "Collection Map (ostree.summary.collection-map): (printed above)",
    ] {
        assert!(view.contains(wanted), "{wanted} in {view}");
    }
    assert!(!view.contains(", other)"), "{view}");
    p.cross_with(["refs", "-c"], sorted_lines);
    p.both_ok(["refs", "-c", "--delete", "org.example.Os"]);
    p.cross_with(["refs"], sorted_lines);
    p.cross_with(["refs", "-c"], sorted_lines);
}
