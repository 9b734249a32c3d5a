//! A hostile server: objects with the right checksums but bad contents, objects that are
//! too big, cut short or padded, and a `.filez` that inflates far beyond what it declares.
//! Each pull is refused with a message naming what is wrong, under a memory limit, with no
//! ref written; a tree that reaches outside the checkout through a symlink is refused too,
//! and so is one nested deeper than 512 levels.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rostree::core::Checksum;
use rostree::core::object::{Commit, DirTree, FileHeader, Metadata};
use rostree_testutil::TreeSpec;
use rostree_testutil::http::RostreeServe;
use rostree_testutil::repo::{object_path, store_metadata, write_ref};

fn rostree() -> &'static str {
    env!("CARGO_BIN_EXE_rostree")
}

/// `rostree ARGS` on `repo` with its address space capped at 4 GiB: an allocation the size
/// a hostile header names fails instead of succeeding.
fn run(repo: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new("prlimit");
    cmd.arg("--as=4294967296").arg(rostree());
    if let Some((first, rest)) = args.split_first() {
        cmd.arg(first)
            .arg(format!("--repo={}", repo.display()))
            .args(rest);
    }
    cmd.output().expect("running rostree under prlimit")
}

fn ok(repo: &Path, args: &[&str]) -> String {
    let out = run(repo, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A served archive repo with one real commit (`base`) whose pieces the cases reuse.
struct Source {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    root: PathBuf,
    base: Commit,
    file: String,
}

impl Source {
    fn new() -> Source {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("src");
        let tree = tmp.path().join("tree");
        TreeSpec::new().file("f", "content\n", 0o644).create(&tree);
        ok(&dir, &["init", "--mode=archive"]);
        let commit = ok(
            &dir,
            &[
                "commit",
                "-b",
                "base",
                &format!("--tree=dir={}", tree.display()),
            ],
        );
        let data = std::fs::read(object_path(&dir, &commit, "commit")).expect("commit");
        let base = Commit::from_bytes(&data).expect("parse");
        let tree_data = std::fs::read(object_path(&dir, &base.root_tree.to_string(), "dirtree"))
            .expect("dirtree");
        let file = rostree::core::object::DirTreeRef::parse(&tree_data)
            .expect("parse")
            .to_owned()
            .files[0]
            .1
            .to_string();
        Source {
            root: tmp.path().to_owned(),
            _tmp: tmp,
            dir,
            base,
            file,
        }
    }

    /// Stores a commit of `tree` (a dirtree checksum) under ref `name`.
    fn commit_tree(&self, name: &str, tree: &str) -> String {
        let commit = Commit {
            metadata: Metadata::new(),
            parent: None,
            related: Vec::new(),
            subject: name.into(),
            body: String::new(),
            timestamp: 1,
            root_tree: tree.parse().expect("checksum"),
            root_meta: self.base.root_meta,
        };
        let checksum = store_metadata(&self.dir, &commit.to_bytes(), "commit");
        write_ref(&self.dir, name, &checksum);
        checksum
    }

    /// A dirtree holding `files` (name, content checksum) and `dirs` (name, tree).
    fn tree(&self, files: &[(&str, &str)], dirs: &[(&str, &str)]) -> String {
        let tree = DirTree {
            files: files
                .iter()
                .map(|(n, c)| ((*n).to_owned(), c.parse::<Checksum>().expect("checksum")))
                .collect(),
            dirs: dirs
                .iter()
                .map(|(n, t)| {
                    (
                        (*n).to_owned(),
                        t.parse().expect("checksum"),
                        self.base.root_meta,
                    )
                })
                .collect(),
        };
        store_metadata(&self.dir, &tree.to_bytes(), "dirtree")
    }

    /// Pulls `name` into a fresh repo: the refusal's stderr. Checks that no ref was written
    /// and that nothing appeared beside the repo.
    fn refused(&self, name: &str) -> String {
        let serve = RostreeServe::start(Path::new(rostree()), &self.dir);
        let dest = self.root.join(format!("dest-{name}"));
        ok(&dest, &["init", "--mode=bare-user"]);
        ok(
            &dest,
            &["remote", "add", "--no-gpg-verify", "o", serve.url()],
        );
        let before = std::fs::read_dir(&self.root).expect("ls").count();
        let out = run(&dest, &["pull", "o", name]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "{name} was pulled");
        assert_eq!(ok(&dest, &["refs"]), "", "{name}: a ref was written");
        assert_eq!(
            std::fs::read_dir(&self.root).expect("ls").count(),
            before,
            "{name}: something was written beside the repo"
        );
        ok(&dest, &["fsck", "-q"]);
        stderr
    }
}

fn assert_has(stderr: &str, wanted: &str) {
    assert!(stderr.contains(wanted), "wanted {wanted:?} in:\n{stderr}");
}

#[test]
fn bad_names_in_trees_are_refused() {
    let src = Source::new();
    let file = src.file.clone();
    // Upstream's words (the empty name is ours: upstream does not check for it).
    for (case, name, reason) in [
        (
            "dotdot",
            "..",
            "Invalid path uplink filename '..'".to_owned(),
        ),
        (
            "dot",
            ".",
            "Invalid self-referential filename '.'".to_owned(),
        ),
        ("slash", "a/b", "Invalid / in filename a/b".to_owned()),
        ("empty", "", "Invalid empty filename".to_owned()),
        // GVariant strings hold no NUL: refused as malformed before the name is looked at.
        ("nul", "a\0b", "string with an embedded NUL".to_owned()),
    ] {
        let tree = src.tree(&[(name, &file)], &[]);
        src.commit_tree(case, &tree);
        let stderr = src.refused(case);
        assert_has(&stderr, &format!("{tree}.dirtree: "));
        assert_has(&stderr, &reason);
    }
    // The same for a directory's name.
    let inner = src.tree(&[("x", &file)], &[]);
    let tree = src.tree(&[], &[("..", &inner)]);
    src.commit_tree("dir-dotdot", &tree);
    assert_has(
        &src.refused("dir-dotdot"),
        "Invalid path uplink filename '..'",
    );
}

#[test]
fn truncated_padded_and_oversized_objects_are_refused() {
    let src = Source::new();
    let file = src.file.clone();
    let tree = src.tree(&[("f", &file)], &[]);
    // Cut short, and with bytes after the end: the checksum no longer matches.
    for (case, edit) in [
        (
            "truncated",
            Box::new(|d: &mut Vec<u8>| d.truncate(d.len() / 2)) as Box<dyn Fn(&mut Vec<u8>)>,
        ),
        (
            "trailing",
            Box::new(|d: &mut Vec<u8>| d.extend_from_slice(b"extra")),
        ),
    ] {
        let commit = src.commit_tree(case, &tree);
        let path = object_path(&src.dir, &commit, "commit");
        let mut data = std::fs::read(&path).expect("read");
        edit(&mut data);
        std::fs::write(&path, data).expect("write");
        let stderr = src.refused(case);
        assert_has(&stderr, &commit);
    }
    // A dirtree of 11 MiB: over the 10 MiB allowed for metadata, refused before it is
    // all read. (Its checksum is right; only the size is wrong.)
    let names: Vec<String> = (0..150_000).map(|i| format!("{i:0>64}")).collect();
    let files: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), file.as_str())).collect();
    let big = src.tree(&files, &[]);
    let size = std::fs::metadata(object_path(&src.dir, &big, "dirtree"))
        .expect("stat")
        .len();
    assert!(size > 10 << 20, "{size}");
    src.commit_tree("oversized", &big);
    let stderr = src.refused("oversized");
    assert_has(&stderr, "exceeded maximum size of 10485760 bytes");
}

#[test]
fn a_deflate_bomb_is_refused_in_bounded_memory() {
    let src = Source::new();
    let header = FileHeader {
        uid: 0,
        gid: 0,
        mode: 0o100644,
        rdev: 0,
        symlink_target: String::new(),
        xattrs: Default::default(),
    };
    // Declares 4 bytes, inflates to 512 MiB of zeros; and declares 2^62 bytes.
    let zeros = vec![0u8; 512 << 20];
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut encoder, &zeros).expect("deflate");
    let bomb = encoder.finish().expect("deflate");
    drop(zeros);
    for (case, declared) in [("bomb", 4u64), ("huge", 1u64 << 62)] {
        let mut data = header.archive_header(declared);
        data.extend_from_slice(&bomb);
        // Named after what the file would be, had it held what it declares.
        let checksum = rostree_testutil::repo::sha256_hex(case.as_bytes());
        let path = object_path(&src.dir, &checksum, "filez");
        std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
        std::fs::write(&path, &data).expect("write");
        let tree = src.tree(&[("f", &checksum)], &[]);
        src.commit_tree(case, &tree);
        let stderr = src.refused(case);
        assert_has(&stderr, &checksum);
        assert!(!stderr.contains("memory allocation"), "{stderr}");
    }
}

#[test]
fn a_symlink_cannot_lead_a_checkout_outside() {
    let src = Source::new();
    let outside = src.root.join("outside");
    std::fs::create_dir(&outside).expect("mkdir");
    // A symlink `a` to the outside, and a directory `a` holding `x`.
    let header = FileHeader {
        uid: 0,
        gid: 0,
        mode: 0o120777,
        rdev: 0,
        symlink_target: outside.display().to_string(),
        xattrs: Default::default(),
    };
    let link = header.archive_header(0);
    let link_checksum = rostree_testutil::repo::sha256_hex(&header.stream_header());
    let path = object_path(&src.dir, &link_checksum, "filez");
    std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
    std::fs::write(&path, &link).expect("write");
    let inner = src.tree(&[("x", &src.file)], &[]);
    let tree = src.tree(&[("a", &link_checksum)], &[("a", &inner)]);
    src.commit_tree("escape", &tree);
    let serve = RostreeServe::start(Path::new(rostree()), &src.dir);
    let dest = src.root.join("dest");
    ok(&dest, &["init", "--mode=bare-user"]);
    ok(
        &dest,
        &["remote", "add", "--no-gpg-verify", "o", serve.url()],
    );
    let pulled = run(&dest, &["pull", "o", "escape"]);
    assert!(!pulled.status.success(), "the tree was pulled");
    let stderr = String::from_utf8_lossy(&pulled.stderr).into_owned();
    assert_has(&stderr, &format!("{tree}.dirtree: "));
    assert_has(&stderr, "name \"a\" appears twice");
    // Checked out where it lies (the source repo), it is refused as well.
    let target = src.root.join("co");
    let out = run(
        &src.dir,
        &["checkout", "escape", &target.display().to_string()],
    );
    assert!(!out.status.success(), "the checkout went through");
    assert_has(&String::from_utf8_lossy(&out.stderr), "appears twice");
    assert_eq!(
        std::fs::read_dir(&outside).expect("ls").count(),
        0,
        "something was written outside"
    );
}

#[test]
fn a_tree_nested_too_deep_is_refused() {
    let src = Source::new();
    // 600 directories, each inside the next: deeper than any checkout should go.
    let mut tree = src.tree(&[("f", &src.file)], &[]);
    for _ in 0..600 {
        tree = src.tree(&[], &[("d", &tree)]);
    }
    src.commit_tree("deep", &tree);
    let stderr = src.refused("deep");
    assert_has(
        &stderr,
        "Exceeded maximum recursion: directories nested deeper than 512 levels",
    );
}

#[test]
fn a_tree_that_names_itself_is_refused() {
    let src = Source::new();
    // A tree cannot hold its own checksum; a server can still claim it does, serving under
    // a checksum C a tree whose directory `d` is C again. The bytes do not hash to C.
    let placeholder = src.tree(&[("f", &src.file)], &[]);
    let looped = DirTree {
        files: Vec::new(),
        dirs: vec![(
            "d".into(),
            placeholder.parse().expect("checksum"),
            src.base.root_meta,
        )],
    };
    std::fs::write(
        object_path(&src.dir, &placeholder, "dirtree"),
        looped.to_bytes(),
    )
    .expect("write");
    src.commit_tree("loop", &placeholder);
    let stderr = src.refused("loop");
    assert_has(
        &stderr,
        &format!("Corrupted dirtree object; checksum expected='{placeholder}' actual="),
    );
}
