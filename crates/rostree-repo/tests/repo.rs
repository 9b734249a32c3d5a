//! Integration tests of the repository crate: every writable mode, refs, revisions,
//! transactions, commit inputs and the refusal of bad input.

use std::io::Write;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::sync::atomic::AtomicBool;

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use rostree_core::ObjectType;
use rostree_repo::commit::{CommitOptions, ParentSpec, TreeSource, parse_statoverride};
use rostree_repo::progress::NoProgress;
use rostree_repo::{Error, InitOptions, RefKind, Repo, RepoMode, Transaction};

fn commit(
    repo: &Repo,
    sources: Vec<TreeSource>,
    interrupt: &AtomicBool,
    options: &CommitOptions,
) -> Result<rostree_repo::commit::CommitOutcome, Error> {
    rostree_repo::commit::commit(repo, sources, &NoProgress, interrupt, options)
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// The modes this process can write: bare needs root to record ownership.
fn modes() -> Vec<RepoMode> {
    let mut m = vec![
        RepoMode::Archive,
        RepoMode::BareUser,
        RepoMode::BareUserOnly,
    ];
    if is_root() {
        m.push(RepoMode::Bare);
    }
    m
}

fn open(path: &Path) -> Dir {
    std::fs::create_dir_all(path).expect("mkdir");
    Dir::open_ambient_dir(path, ambient_authority()).expect("open dir")
}

fn init(path: &Path, mode: RepoMode) -> Repo {
    Repo::init(
        open(path),
        path,
        &InitOptions {
            mode,
            collection_id: None,
        },
    )
    .expect("init")
}

fn make_tree(root: &Path) {
    std::fs::create_dir_all(root.join("usr/bin")).expect("mkdir");
    std::fs::create_dir_all(root.join("empty")).expect("mkdir");
    std::fs::write(root.join("usr/bin/tool"), b"#!/bin/sh\necho hi\n").expect("write");
    std::fs::set_permissions(
        root.join("usr/bin/tool"),
        std::fs::Permissions::from_mode(0o755),
    )
    .expect("chmod");
    std::fs::write(root.join("readme"), b"hello\n").expect("write");
    std::fs::write(root.join("zero"), b"").expect("write");
    std::fs::write(root.join("big"), vec![0x5a; 300_000]).expect("write");
    symlink("usr/bin/tool", root.join("link")).expect("symlink");
    symlink("/nonexistent", root.join("dangling")).expect("symlink");
}

fn commit_dir(
    repo: &Repo,
    dir: &Path,
    branch: &str,
) -> Result<rostree_repo::commit::CommitOutcome, Error> {
    let options = CommitOptions {
        branch: Some(branch.to_owned()),
        subject: "s".into(),
        timestamp: Some(1_577_836_800),
        ..Default::default()
    };
    commit(
        repo,
        vec![TreeSource::Dir(open(dir), dir.to_owned())],
        &AtomicBool::new(false),
        &options,
    )
}

fn read_path(repo: &Repo, rev: &str, path: &str) -> Vec<u8> {
    let commit = repo
        .load_commit(&repo.resolve_rev(rev).expect("rev"))
        .expect("commit");
    let mut tree = commit.root_tree;
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    for (i, part) in parts.iter().enumerate() {
        let data = repo
            .load_metadata(ObjectType::DirTree, &tree)
            .expect("dirtree");
        let view = rostree_core::object::DirTreeRef::parse(&data).expect("parse");
        if i + 1 == parts.len() {
            let file = view
                .files
                .iter()
                .find(|f| f.name == *part)
                .expect("file in tree");
            let (_, payload) = repo.open_content(&file.checksum).expect("read");
            return payload.into_bytes().expect("payload");
        }
        tree = view
            .dirs
            .iter()
            .find(|d| d.name == *part)
            .expect("dir in tree")
            .tree;
    }
    panic!("empty path");
}

#[test]
fn every_mode_commits_and_reads_back_the_same_checksum() {
    let tmp = tempfile::tempdir().expect("tempdir");
    make_tree(&tmp.path().join("tree"));
    let mut checksums = Vec::new();
    for mode in modes() {
        let path = tmp.path().join(format!("repo-{mode}"));
        let repo = init(&path, mode);
        assert_eq!(Repo::open(open(&path), &path).expect("reopen").mode(), mode);
        let out = commit_dir(&repo, &tmp.path().join("tree"), "main").expect("commit");
        assert!(out.written);
        assert_eq!(read_path(&repo, "main", "/readme"), b"hello\n", "{mode}");
        assert_eq!(
            read_path(&repo, "main", "/big"),
            vec![0x5a; 300_000],
            "{mode}"
        );
        assert_eq!(read_path(&repo, "main", "/zero"), b"", "{mode}");
        // No staging directory survives a committed transaction.
        let leftovers: Vec<_> = std::fs::read_dir(path.join("tmp"))
            .expect("tmp")
            .flatten()
            .filter(|e| e.file_name() != "cache" && e.file_name() != "rostree-lock-turnstile")
            .collect();
        assert!(leftovers.is_empty(), "{mode}: {leftovers:?}");
        checksums.push(out.checksum);
    }
    // Root-owned files only hash alike across modes when the committer is root; as another
    // user, bare-user-only records 0:0 where the others record the real owner.
    if is_root() {
        assert!(checksums.windows(2).all(|w| w[0] == w[1]), "{checksums:?}");
    }
}

#[test]
fn refs_resolve_and_list() {
    let tmp = tempfile::tempdir().expect("tempdir");
    make_tree(&tmp.path().join("tree"));
    let repo = init(&tmp.path().join("repo"), RepoMode::Archive);
    let first = commit_dir(&repo, &tmp.path().join("tree"), "os/x86_64/stable")
        .expect("commit")
        .checksum;
    std::fs::write(tmp.path().join("tree/readme"), b"changed\n").expect("write");
    let second = commit_dir(&repo, &tmp.path().join("tree"), "os/x86_64/stable")
        .expect("commit")
        .checksum;
    assert_eq!(repo.resolve_rev("os/x86_64/stable").expect("rev"), second);
    assert_eq!(
        repo.resolve_rev("os/x86_64/stable^").expect("parent"),
        first
    );
    assert!(matches!(
        repo.resolve_rev("os/x86_64/stable^^"),
        Err(Error::NoParent { commit }) if commit == first
    ));
    // A unique prefix of a commit checksum resolves; a ref name that is no prefix does not.
    let hex = second.to_hex();
    assert_eq!(repo.resolve_rev(&hex[..10]).expect("prefix"), second);
    assert!(matches!(
        repo.resolve_rev("nosuch"),
        Err(Error::RefNotFound(_))
    ));
    repo.set_ref(&RefKind::Remote("origin".into()), "main", Some(&first))
        .expect("remote ref");
    assert_eq!(repo.resolve_rev("origin:main").expect("remote"), first);
    assert_eq!(repo.resolve_rev("main").expect("remote fallback"), first);
    let local = repo.list_refs(&RefKind::Local).expect("list");
    assert_eq!(local.keys().collect::<Vec<_>>(), ["os/x86_64/stable"]);
    assert_eq!(repo.list_ref_remotes().expect("remotes"), ["origin"]);
    for bad in ["..", "a//b", "/x", "-x", "a b"] {
        assert!(
            repo.set_ref(&RefKind::Local, bad, Some(&first)).is_err(),
            "{bad}"
        );
    }
    repo.set_ref(&RefKind::Local, "os/x86_64/stable", None)
        .expect("delete");
    assert!(
        repo.read_ref(&RefKind::Local, "os/x86_64/stable")
            .expect("read")
            .is_none()
    );
}

#[test]
fn dropped_transaction_leaves_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = init(&tmp.path().join("repo"), RepoMode::BareUser);
    {
        let tx = Transaction::begin(&repo).expect("begin");
        let c = tx
            .write_metadata(ObjectType::DirMeta, &[0; 12])
            .expect("write");
        assert!(tx.has_object(ObjectType::DirMeta, &c).expect("has"));
        assert!(!repo.has_object(ObjectType::DirMeta, &c).expect("has"));
    }
    let tmp_entries: Vec<_> = std::fs::read_dir(tmp.path().join("repo/tmp"))
        .expect("tmp")
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n != "cache" && n != "rostree-lock-turnstile")
        .collect();
    assert!(tmp_entries.is_empty(), "{tmp_entries:?}");
    assert_eq!(
        std::fs::read_dir(tmp.path().join("repo/objects"))
            .expect("objects")
            .count(),
        0
    );
}

#[test]
fn interrupted_commit_changes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    make_tree(&tmp.path().join("tree"));
    let repo = init(&tmp.path().join("repo"), RepoMode::Archive);
    let dir = tmp.path().join("tree");
    let result = commit(
        &repo,
        vec![TreeSource::Dir(open(&dir), dir.clone())],
        &AtomicBool::new(true),
        &CommitOptions {
            branch: Some("main".into()),
            ..Default::default()
        },
    );
    assert!(matches!(result, Err(Error::Cancelled)));
    assert!(
        repo.read_ref(&RefKind::Local, "main")
            .expect("read")
            .is_none()
    );
    assert_eq!(
        std::fs::read_dir(tmp.path().join("repo/objects"))
            .expect("objects")
            .count(),
        0
    );
}

#[test]
fn bad_trees_are_refused_without_writing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = init(&tmp.path().join("repo"), RepoMode::Archive);
    let tree = tmp.path().join("fifo-tree");
    std::fs::create_dir_all(&tree).expect("mkdir");
    std::fs::write(tree.join("ok"), b"x").expect("write");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        tree.join("pipe"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .expect("mkfifo");
    let err = commit_dir(&repo, &tree, "main").expect_err("fifo refused");
    assert!(
        err.to_string()
            .contains("Not a regular file or symlink: pipe"),
        "{err}"
    );
    assert!(
        repo.read_ref(&RefKind::Local, "main")
            .expect("read")
            .is_none()
    );
    assert_eq!(
        std::fs::read_dir(tmp.path().join("repo/objects"))
            .expect("objects")
            .count(),
        0
    );

    let err = commit_dir(&repo, &tree, "bad..//ref").expect_err("bad ref");
    assert!(matches!(err, Error::RefName(_)), "{err}");

    std::fs::remove_file(tree.join("pipe")).expect("rm");
    let options = CommitOptions {
        branch: Some("main".into()),
        parent: Some(ParentSpec::Commit(rostree_core::Checksum::from_array(
            [0; 32],
        ))),
        ..Default::default()
    };
    let err = commit(
        &repo,
        vec![TreeSource::Dir(open(&tree), tree.clone())],
        &AtomicBool::new(false),
        &options,
    )
    .expect_err("missing parent");
    assert!(matches!(err, Error::MissingObject { .. }), "{err}");
}

#[test]
fn corrupt_objects_are_reported() {
    let tmp = tempfile::tempdir().expect("tempdir");
    make_tree(&tmp.path().join("tree"));
    let path = tmp.path().join("repo");
    let repo = init(&path, RepoMode::Archive);
    let c = commit_dir(&repo, &tmp.path().join("tree"), "main")
        .expect("commit")
        .checksum;
    let object = path
        .join("objects")
        .join(c.relative_path(ObjectType::Commit, true));
    let mut bytes = std::fs::read(&object).expect("read");
    bytes[3] ^= 0xff;
    std::fs::write(&object, &bytes).expect("write");
    assert!(matches!(
        repo.load_commit(&c),
        Err(Error::ChecksumMismatch { .. })
    ));
    std::fs::remove_file(&object).expect("rm");
    assert!(matches!(
        repo.load_commit(&c),
        Err(Error::MissingObject { .. })
    ));
}

#[test]
fn tar_layers_over_ref_and_keeps_hardlinks() {
    let tmp = tempfile::tempdir().expect("tempdir");
    make_tree(&tmp.path().join("tree"));
    let repo = init(&tmp.path().join("repo"), RepoMode::BareUser);
    commit_dir(&repo, &tmp.path().join("tree"), "base").expect("commit");
    let mut builder = tar::Builder::new(Vec::new());
    let new_header = || {
        let mut h = tar::Header::new_gnu();
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_mode(0o644);
        h
    };
    // Parents must be in the archive (or --tar-autocreate-parents given), as upstream.
    let mut dir = new_header();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o755);
    dir.set_size(0);
    builder
        .append_data(&mut dir, "new/", &b""[..])
        .expect("append");
    let mut header = new_header();
    header.set_size(4);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    builder
        .append_data(&mut header, "new/file", &b"data"[..])
        .expect("append");
    let mut link = new_header();
    link.set_entry_type(tar::EntryType::Link);
    link.set_size(0);
    builder
        .append_link(&mut link, "new/hardlink", "new/file")
        .expect("link");
    let mut over = new_header();
    over.set_size(8);
    over.set_mode(0o644);
    builder
        .append_data(&mut over, "readme", &b"replaced"[..])
        .expect("append");
    let data = builder.into_inner().expect("tar");
    let options = CommitOptions {
        branch: Some("layered".into()),
        ..Default::default()
    };
    commit(
        &repo,
        vec![
            TreeSource::Ref("base".into()),
            TreeSource::Tar(Box::new(std::io::Cursor::new(data)), "t.tar".into()),
        ],
        &AtomicBool::new(false),
        &options,
    )
    .expect("commit");
    assert_eq!(read_path(&repo, "layered", "/readme"), b"replaced");
    assert_eq!(read_path(&repo, "layered", "/new/hardlink"), b"data");
    assert_eq!(
        read_path(&repo, "layered", "/usr/bin/tool"),
        b"#!/bin/sh\necho hi\n"
    );
}

#[test]
fn statoverride_parses_decimal_like_upstream() {
    let parsed = parse_statoverride("+2048 /a\n=420 /b\n+1 /b\n+3.9 /c\nx /d\n").expect("parse");
    assert_eq!(parsed["/a"].add, Some(0o4000));
    assert_eq!((parsed["/b"].add, parsed["/b"].set), (Some(1), Some(0o644)));
    assert_eq!(parsed["/c"].add, Some(3));
    assert_eq!(parsed["/d"].add, Some(0));
    assert!(parse_statoverride("nospace\n").is_err());
}

#[test]
fn unmatched_skip_list_is_an_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    make_tree(&tmp.path().join("tree"));
    let repo = init(&tmp.path().join("repo"), RepoMode::Archive);
    let mut options = CommitOptions {
        branch: Some("main".into()),
        ..Default::default()
    };
    options.modifier.skip = ["/readme".to_owned(), "/nope".to_owned()].into();
    let dir = tmp.path().join("tree");
    let err = commit(
        &repo,
        vec![TreeSource::Dir(open(&dir), dir.clone())],
        &AtomicBool::new(false),
        &options,
    )
    .expect_err("unmatched");
    match err {
        Error::UnmatchedPaths { kind, paths } => {
            assert_eq!(kind, "skip-list");
            assert_eq!(paths, ["/nope"]);
        }
        other => panic!("unexpected {other}"),
    }
    let _ = std::io::stderr().flush();
}

#[test]
fn files_past_the_in_memory_limit_stream() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let tree = tmp.path().join("tree");
    std::fs::create_dir_all(&tree).expect("mkdir");
    // 33 MiB, mostly a hole, with marks at both ends so truncation would show.
    let big = tree.join("big");
    let file = std::fs::File::create(&big).expect("create");
    file.set_len(33 << 20).expect("extend");
    drop(file);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(&big)
        .expect("open");
    f.write_all(b"start").expect("write");
    std::io::Seek::seek(&mut f, std::io::SeekFrom::End(-3)).expect("seek");
    f.write_all(b"end").expect("write");
    drop(f);
    let expected = std::fs::read(&big).expect("read");
    let mut checksums = Vec::new();
    for mode in [RepoMode::Archive, RepoMode::BareUser] {
        let repo = init(&tmp.path().join(format!("repo-{mode}")), mode);
        let mut options = CommitOptions {
            branch: Some("main".into()),
            timestamp: Some(1),
            generate_sizes: true,
            ..Default::default()
        };
        options.no_bindings = true;
        let out = commit(
            &repo,
            vec![TreeSource::Dir(open(&tree), tree.clone())],
            &AtomicBool::new(false),
            &options,
        )
        .expect("commit");
        let data = read_path(&repo, "main", "/big");
        assert!(
            data == expected,
            "{mode}: content differs after a streamed commit"
        );
        checksums.push(out.checksum);
    }
    // Sizes are only recorded in archive repos, so only the trees can be compared.
    let root = |mode: RepoMode, c| {
        let repo = Repo::open(open(&tmp.path().join(format!("repo-{mode}"))), "r").expect("open");
        repo.load_commit(c).expect("commit").root_tree
    };
    assert_eq!(
        root(RepoMode::Archive, &checksums[0]),
        root(RepoMode::BareUser, &checksums[1])
    );
}

#[test]
fn an_interrupted_export_stops_with_cancelled() {
    use rostree_repo::export::{ExportOptions, export};
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = init(&tmp.path().join("repo"), RepoMode::Archive);
    make_tree(&tmp.path().join("tree"));
    let outcome = commit_dir(&repo, &tmp.path().join("tree"), "main").expect("commit");
    let c = repo.load_commit(&outcome.checksum).expect("commit object");
    let options = ExportOptions::default();
    let run = |stop: bool| {
        let interrupt = AtomicBool::new(stop);
        export(
            &repo,
            (c.root_tree, c.root_meta),
            0,
            Vec::new(),
            &NoProgress,
            &interrupt,
            &options,
        )
    };
    assert!(!run(false).expect("export").is_empty());
    assert!(matches!(run(true), Err(Error::Cancelled)));
}

/// Records what an operation reports.
#[derive(Default)]
struct Recorder(std::sync::Mutex<Vec<rostree_repo::progress::Event>>);

impl rostree_repo::progress::Progress for Recorder {
    fn event(&self, event: rostree_repo::progress::Event) {
        self.0.lock().expect("not poisoned").push(event);
    }
}

impl Recorder {
    fn take(&self) -> Vec<rostree_repo::progress::Event> {
        std::mem::take(&mut *self.0.lock().expect("not poisoned"))
    }

    /// What `pick` takes of the events recorded so far (which are cleared).
    fn pick<T>(&self, pick: impl FnMut(&rostree_repo::progress::Event) -> Option<T>) -> Vec<T> {
        self.take().iter().filter_map(pick).collect()
    }
}

#[test]
fn long_operations_report_each_file_and_object() {
    use rostree_repo::checkout::{CheckoutOptions, checkout};
    use rostree_repo::export::{ExportOptions, export};
    use rostree_repo::progress::Event;
    use rostree_repo::prune::{PruneOptions, prune};
    use rostree_repo::pull_local::{PullLocalOptions, pull_local};
    let tmp = tempfile::tempdir().expect("tempdir");
    let source = init(&tmp.path().join("source"), RepoMode::Archive);
    let repo = init(&tmp.path().join("repo"), RepoMode::BareUser);
    make_tree(&tmp.path().join("tree"));
    // tool, readme, zero, big and the two symlinks; 18 + 6 + 0 + 300000 payload bytes.
    let (files, payload_bytes) = (6, 300_024);
    let tip = commit_dir(&source, &tmp.path().join("tree"), "main")
        .expect("commit")
        .checksum;
    let interrupt = AtomicBool::new(false);
    let recorder = Recorder::default();

    // pull-local: every content object queued, then each reported as it is stored.
    let refs = [("main".to_owned(), tip)];
    let options = PullLocalOptions::default();
    let pulled = pull_local(&repo, &source, &refs, &recorder, &interrupt, &options).expect("pull");
    let events = recorder.take();
    assert_eq!(events.first(), Some(&Event::ObjectsQueued(files)));
    let fetched: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            Event::ObjectFetched {
                bytes,
                metadata: false,
            } => Some(*bytes),
            _ => None,
        })
        .collect();
    assert_eq!((fetched.len() as u64, pulled.content), (files, files));
    assert_eq!(fetched.iter().sum::<u64>(), payload_bytes);

    // checkout: one event per file, linked as the outcome counts them.
    let c = repo.load_commit(&tip).expect("commit object");
    let target = open(tmp.path());
    let options = CheckoutOptions {
        user_mode: true,
        ..Default::default()
    };
    let root = (c.root_tree, c.root_meta);
    let out = checkout(
        &repo,
        root,
        &target,
        "co".as_ref(),
        &recorder,
        &interrupt,
        &options,
    )
    .expect("checkout");
    let linked = recorder.pick(|e| match e {
        Event::FileCheckedOut { linked } => Some(*linked),
        _ => None,
    });
    assert_eq!(linked.len() as u64, files);
    assert_eq!(linked.iter().filter(|l| **l).count() as u64, out.hardlinked);
    assert!(out.hardlinked > 0, "a user checkout of bare-user links");

    // export: one event per file, with its size.
    let options = ExportOptions::default();
    export(
        &repo,
        root,
        0,
        std::io::sink(),
        &recorder,
        &interrupt,
        &options,
    )
    .expect("export");
    let sizes = recorder.pick(|e| match e {
        Event::FileExported { bytes } => Some(*bytes),
        _ => None,
    });
    assert_eq!(sizes.len() as u64, files);
    assert_eq!(sizes.iter().sum::<u64>(), payload_bytes);

    // prune: its phases, then each object deleted, adding up to what it freed.
    std::fs::write(tmp.path().join("tree/readme"), b"changed\n").expect("write");
    commit_dir(&repo, &tmp.path().join("tree"), "main").expect("second commit");
    let options = PruneOptions {
        refs_only: true,
        depth: Some(0),
        ..Default::default()
    };
    let pruned = prune(&repo, &recorder, &interrupt, &options).expect("prune");
    let events = recorder.take();
    assert!(events.contains(&Event::Phase("Finding reachable objects")));
    let freed: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            Event::ObjectPruned { bytes } => Some(*bytes),
            _ => None,
        })
        .collect();
    assert!(pruned.deleted > 0);
    assert_eq!(freed.len() as u64, pruned.deleted);
    assert_eq!(freed.iter().sum::<u64>(), pruned.freed);
}
