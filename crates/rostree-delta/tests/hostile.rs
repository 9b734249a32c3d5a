//! Hostile static deltas are refused by `apply_offline`, and nothing of them lands.
//!
//! Every case starts from a real delta between two real commits (the client holds the
//! from-commit) and keeps one defect: a part's bytes changed, a signature by another key,
//! or a hand-made part whose framing, checksum and sizes are right but whose operations
//! or bytes are not. After each refusal the transaction is dropped, and the client's
//! objects and refs are exactly what they were, no staging is left, and fsck is clean.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use cap_std::{ambient_authority, fs::Dir};
use rostree_core::object::{DirMeta, DirTreeRef, Metadata, Xattrs};
use rostree_core::varint::write_varuint64;
use rostree_core::{Checksum, ObjectType};
use rostree_delta::apply::{SignatureCheck, apply_offline, open_part};
use rostree_delta::format::{PartHeader, encode_payload};
use rostree_delta::{GenerateOptions, Superblock, SuperblockFile, generate};
use rostree_repo::commit::{CommitOptions, TreeSource, commit};
use rostree_repo::fsck::{FsckOptions, fsck};
use rostree_repo::progress::NoProgress;
use rostree_repo::pull_local::{PullLocalOptions, pull_local};
use rostree_repo::{InitOptions, Repo, RepoMode, Transaction};
use rostree_sign::ed25519::{self, SecretKey};
use rostree_sign::signapi::{SigningKey, Verifier};

static NO_STOP: AtomicBool = AtomicBool::new(false);

type Objects = Vec<(ObjectType, Checksum)>;
type Parts = Vec<(Vec<u8>, PartHeader)>;

fn init(path: &Path, mode: RepoMode) -> Repo {
    std::fs::create_dir_all(path).expect("mkdir repo");
    let dir = Dir::open_ambient_dir(path, ambient_authority()).expect("open repo dir");
    let options = InitOptions {
        mode,
        ..Default::default()
    };
    Repo::init(dir, path, &options).expect("init repo")
}

fn pseudo_random(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed;
    let mut next = || {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        (x >> 16) as u8
    };
    (0..n).map(|_| next()).collect()
}

/// The content object named `name` in the root directory of `commit`.
fn file_in(repo: &Repo, commit: &Checksum, name: &str) -> Checksum {
    let root = repo.load_commit(commit).expect("load commit").root_tree;
    let data = repo.load_metadata(ObjectType::DirTree, &root);
    let data = data.expect("load tree");
    let tree = DirTreeRef::parse(&data).expect("parse tree");
    let entry = tree.files.iter().find(|f| f.name == name);
    entry.expect("file in tree").checksum
}

/// Two commits in a source repository and the real delta between them.
struct Fixture {
    tmp: tempfile::TempDir,
    source: Repo,
    from: Checksum,
    to: Checksum,
    /// The real delta's superblock and parts (file bytes, header).
    superblock: Superblock,
    parts: Parts,
    /// A file only the to-commit has, with its content.
    new_file: (Checksum, Vec<u8>),
    /// A file of the from-commit (which the client holds), with its size.
    old_file: (Checksum, u64),
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().expect("tempdir");
        let source = init(&tmp.path().join("source"), RepoMode::Archive);
        let tree = tmp.path().join("tree");
        std::fs::create_dir_all(tree.join("sub")).expect("mkdir tree");
        let write = |name: &str, data: &[u8]| std::fs::write(tree.join(name), data).expect("write");
        let (lib, new) = (pseudo_random(20_000, 3), pseudo_random(3000, 9));
        let mut commits = Vec::new();
        for version in 1..=2u8 {
            write("a.txt", format!("VERSION={version}\n").as_bytes());
            write("lib.so", &[&lib[..1000], &[version], &lib[1001..]].concat());
            write("sub/common", b"unchanged\n");
            if version == 2 {
                write("new.bin", &new);
            }
            let dir = Dir::open_ambient_dir(&tree, ambient_authority()).expect("open tree");
            let options = CommitOptions {
                branch: Some("main".into()),
                ..Default::default()
            };
            let sources = vec![TreeSource::Dir(dir, tree.clone())];
            let done = commit(&source, sources, &NoProgress, &NO_STOP, &options).expect("commit");
            commits.push(done.checksum);
        }
        let (from, to) = (commits[0], commits[1]);
        let delta = tmp.path().join("genuine");
        std::fs::create_dir(&delta).expect("mkdir delta");
        let mut options = GenerateOptions::new(Some(from), to);
        options.output = Some(delta.join("superblock"));
        generate(&source, &options, &NoProgress, &NO_STOP).expect("generate");
        let data = std::fs::read(delta.join("superblock")).expect("read superblock");
        let superblock = Superblock::parse(&data).expect("parse superblock");
        let part = |i: usize| std::fs::read(delta.join(i.to_string())).expect("read part");
        let parts = (superblock.parts.iter().enumerate())
            .map(|(i, h)| (part(i), h.clone()))
            .collect();
        Fixture {
            new_file: (file_in(&source, &to, "new.bin"), new),
            old_file: (file_in(&source, &from, "lib.so"), lib.len() as u64),
            tmp,
            source,
            from,
            to,
            superblock,
            parts,
        }
    }

    /// A client repository holding the from-commit on `main`.
    fn client(&self, name: &str, mode: RepoMode) -> Repo {
        let repo = init(&self.tmp.path().join(name), mode);
        let refs = [("main".to_owned(), self.from)];
        let options = PullLocalOptions::default();
        pull_local(&repo, &self.source, &refs, &NoProgress, &NO_STOP, &options).expect("pull");
        repo
    }

    /// Writes a delta into a new directory `name`: the real superblock with
    /// `parts`, each header's checksum and size those of its file; `wrap` turns the
    /// superblock into the file's bytes.
    fn delta(&self, name: &str, parts: Parts, wrap: impl FnOnce(Vec<u8>) -> Vec<u8>) -> PathBuf {
        let dir = self.tmp.path().join("cases").join(name);
        std::fs::create_dir_all(&dir).expect("mkdir case");
        let mut sb = self.superblock.clone();
        sb.parts.clear();
        for (i, (file, header)) in parts.into_iter().enumerate() {
            std::fs::write(dir.join(i.to_string()), &file).expect("write part");
            sb.parts.push(PartHeader {
                checksum: Checksum::digest(&file),
                compressed_size: file.len() as u64,
                ..header
            });
        }
        let bytes = wrap(sb.to_bytes().expect("encode superblock"));
        std::fs::write(dir.join("superblock"), bytes).expect("write superblock");
        dir
    }

    /// A delta of `parts`, its part files then changed by `mutate`.
    fn mutated(&self, name: &str, parts: Parts, mutate: impl Fn(&mut Vec<u8>)) -> PathBuf {
        let count = parts.len();
        let dir = self.delta(name, parts, |sb| sb);
        for i in 0..count {
            let path = dir.join(i.to_string());
            let mut file = std::fs::read(&path).expect("read part");
            mutate(&mut file);
            std::fs::write(&path, file).expect("write part");
        }
        dir
    }

    /// The real parts after a hand-made one building `objects`.
    fn with_part(&self, name: &str, part: Vec<u8>, objects: Objects) -> PathBuf {
        let mut parts = vec![(part, header(objects, 1 << 20))];
        parts.extend(self.parts.iter().cloned());
        self.delta(name, parts, |sb| sb)
    }
}

fn header(objects: Objects, uncompressed_size: u64) -> PartHeader {
    let (checksum, compressed_size) = (Checksum::digest(b""), 0);
    PartHeader {
        version: 0,
        checksum,
        compressed_size,
        uncompressed_size,
        objects,
    }
}

/// An uncompressed part file: one mode (a plain 0644 file), one empty xattr set.
fn raw_part(blob: &[u8], ops: &[u8]) -> Vec<u8> {
    let payload = encode_payload(&[(0, 0, 0o100644)], &[Xattrs(vec![])], blob, ops);
    [&[0u8][..], &payload].concat()
}

/// Operations: each an opcode and its varuint64 arguments.
fn ops(items: &[(u8, &[u64])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (op, args) in items {
        out.push(*op);
        args.iter().for_each(|a| write_varuint64(&mut out, *a));
    }
    out
}

/// A valid, correctly named dirmeta object nothing in the to-commit uses, and a part
/// splicing it.
fn stray_part() -> (Vec<u8>, PartHeader) {
    let (uid, gid, mode, xattrs) = (4242, 4242, 0o40700, Xattrs::new());
    let stray = DirMeta {
        uid,
        gid,
        mode,
        xattrs,
    }
    .to_bytes();
    let objects = vec![(ObjectType::DirMeta, Checksum::digest(&stray))];
    let part = raw_part(&stray, &ops(&[(b'S', &[stray.len() as u64, 0])]));
    (part, header(objects, stray.len() as u64))
}

/// A blob holding a read source's name (at 0), then a bsdiff patch of one block: `diff`
/// bytes to add to the read source (none follow), `extra` bytes to copy, no seek.
fn patch_blob(source: Checksum, diff: u64, extra: &[u8]) -> Vec<u8> {
    let mut blob = source.as_bytes().to_vec();
    for n in [diff, extra.len() as u64, 0] {
        blob.extend_from_slice(&n.to_le_bytes());
    }
    [blob, extra.to_vec()].concat()
}

/// Operations building a file of `size` bytes by the patch of [`patch_blob`].
fn bsdiff_ops(size: u64, patch_len: u64) -> Vec<u8> {
    let (open, patch) = ([0, 0, size], [32, patch_len]);
    ops(&[(b'r', &[0]), (b'o', &open), (b'B', &patch), (b'c', &[])])
}

fn signed(key: &SecretKey) -> impl FnOnce(Vec<u8>) -> Vec<u8> {
    let key = SigningKey::Ed25519(key.clone());
    move |sb| {
        let mut signatures = Metadata::new();
        key.add_signature(&mut signatures, &sb).expect("sign");
        SuperblockFile::signed_bytes(&sb, &signatures)
    }
}

fn verifier(key: &SecretKey) -> Vec<Verifier> {
    let (trusted, revoked) = (vec![key.public()], vec![]);
    vec![Verifier::Ed25519(ed25519::Verifier { trusted, revoked })]
}

/// An xz part file that inflates to `size` zeros.
fn xz_zeros(size: u64) -> Vec<u8> {
    let mut out = vec![b'x'];
    let options = lzma_rust2::XzOptions::with_preset(1);
    let mut w = lzma_rust2::XzWriter::new(&mut out, options).expect("xz writer");
    std::io::copy(&mut std::io::repeat(0).take(size), &mut w).expect("compress");
    w.finish().expect("compress");
    out
}

/// Every file under `objects/` and `refs/` (with its bytes for refs), and the staging
/// directories left in `tmp/`.
fn snapshot(repo: &Repo) -> (BTreeMap<PathBuf, Vec<u8>>, Vec<String>) {
    fn walk(root: &Path, dir: &Path, read: bool, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten() {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(root, &path, read, out);
                continue;
            }
            let bytes = read.then(|| std::fs::read(&path).expect("read"));
            let rel = path.strip_prefix(root).expect("under root").to_owned();
            out.insert(rel, bytes.unwrap_or_default());
        }
    }
    let mut files = BTreeMap::new();
    walk(repo.path(), &repo.path().join("objects"), false, &mut files);
    walk(repo.path(), &repo.path().join("refs"), true, &mut files);
    let tmp = std::fs::read_dir(repo.path().join("tmp")).expect("read tmp");
    let staging = (tmp.map(|e| e.expect("tmp entry").file_name()))
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| n.contains("staging"))
        .collect();
    (files, staging)
}

fn fsck_errors(repo: &Repo) -> Vec<String> {
    let outcome = fsck(repo, &NoProgress, &NO_STOP, &FsckOptions::default());
    outcome.expect("fsck runs").errors
}

/// A hostile delta: where it is, the keys it is checked with, and phrases one of which
/// the refusal must contain.
struct Case {
    name: &'static str,
    dir: PathBuf,
    keys: Option<Vec<Verifier>>,
    expect: &'static [&'static str],
}

/// Applies `case` to `client`: it must be refused, and nothing may land: not the
/// to-commit, not any object the real delta or a hand-made part builds.
fn assert_refused(f: &Fixture, client: &Repo, case: &Case) -> String {
    let before = snapshot(client);
    let tx = Transaction::begin(client).expect("begin");
    let keys = case.keys.as_deref();
    let check = keys.map_or(SignatureCheck::None, SignatureCheck::Keys);
    let result = apply_offline(&tx, &case.dir, check, &NoProgress, &NO_STOP);
    drop(tx);
    let name = case.name;
    let text = result.expect_err(name).to_string();
    let expected = case.expect.iter().any(|p| text.contains(p));
    assert!(expected, "{name}: expected {:?}: {text}", case.expect);
    assert_eq!(snapshot(client), before, "{name}: the repository changed");
    let stray = stray_part();
    let built = f.parts.iter().chain([&stray]).flat_map(|p| &p.1.objects);
    for (objtype, checksum) in built.chain([&(ObjectType::Commit, f.to)]) {
        let there = client.has_object(*objtype, checksum).expect("lookup");
        assert!(!there, "{name}: {checksum}.{objtype} landed");
    }
    assert_eq!(client.resolve_rev("main").expect("main"), f.from, "{name}");
    assert_eq!(fsck_errors(client), Vec::<String>::new(), "{name}: fsck");
    text
}

const MISMATCH: &[&str] = &["Checksum mismatch in static delta part"];
const BAD_SIG: &[&str] = &["ed25519: Signature couldn't be verified"];
const CORRUPT: &[&str] = &["Corrupted file object"];
const TOO_LONG: &[&str] = &["write more than the file's size"];
const EOF: &[&str] = &["Unexpected EOF"];
const OPEN: &[&str] = &["a file is open"];

fn cases(f: &Fixture) -> Vec<Case> {
    let (new, new_data) = (f.new_file.0, &f.new_file.1);
    let (old, old_size, n) = (f.old_file.0, f.old_file.1, new_data.len() as u64);
    let file = |c: Checksum| vec![(ObjectType::File, c)];
    let real = || f.parts.clone();
    // A hand-made part (blob, ops) building `new`, before the real parts.
    let builds_new =
        |name, blob: &[u8], ops: Vec<u8>| f.with_part(name, raw_part(blob, &ops), file(new));
    // The real part uncompressed, so that a flipped byte meets no xz check first.
    let (xz_part, xz_header) = &f.parts[0];
    let declared = xz_header.uncompressed_size;
    let spool = open_part(&mut &xz_part[..], None, declared, None).expect("real part");
    let payload = spool.read_range(0..spool.len()).expect("read payload");
    let plain = vec![([&[0u8][..], &payload].concat(), xz_header.clone())];
    let flip_last = |p: &mut Vec<u8>| *p.last_mut().expect("not empty") ^= 1;
    let flip_mid = |p: &mut Vec<u8>| {
        let mid = p.len() / 2;
        p[mid] ^= 0x40;
    };
    let mut wrong = new_data.clone();
    wrong[10] ^= 0xff;
    let key = SecretKey::from_seed(&[1; 32]);
    let other_key = SecretKey::from_seed(&[2; 32]);
    let tampered = |sb: Vec<u8>| {
        let mut signatures = Metadata::new();
        let signer = SigningKey::Ed25519(key.clone());
        signer.add_signature(&mut signatures, &sb).expect("sign");
        let mut changed = Superblock::parse(&sb).expect("parse");
        changed.timestamp += 1;
        let changed = changed.to_bytes().expect("encode");
        SuperblockFile::signed_bytes(&changed, &signatures)
    };
    let splice = |len: u64, off: u64| ops(&[(b'S', &[0, 0, len, off])]);
    let write = |size: u64, len: u64, off: u64| {
        ops(&[(b'o', &[0, 0, size]), (b'w', &[len, off]), (b'c', &[])])
    };
    let read_source = |size, len, off| [ops(&[(b'r', &[0])]), write(size, len, off)].concat();
    let root_tree = f.source.load_commit(&f.to).expect("commit").root_tree;
    let root = (ObjectType::DirTree, root_tree);
    let bomb = vec![(xz_zeros(70 << 20), header(file(new), 1))];
    let unreached = [real(), vec![stray_part()]].concat();
    let open_open = raw_part(&[7; 16], &ops(&[(b'o', &[0, 0, 1]), (b'o', &[0, 0, 1])]));
    let new_and_old = [file(new), file(old)].concat();
    let (long_patch, cut_patch) = (patch_blob(old, 0, &[9; 10]), patch_blob(old, 100, &[9; 5]));
    let open_splice = ops(&[(b'o', &[0, 0, 1]), (b'S', &[0, 0, 1, 0])]);
    let bad_tree = raw_part(b"not a tree", &ops(&[(b'S', &[10, 0])]));
    let (blob, old_blob) = (&[7; 16][..], old.as_bytes());
    #[rustfmt::skip]
    let table: Vec<(&'static str, PathBuf, &'static [&'static str])> = vec![
        ("xz part, one byte flipped", f.mutated("flip-xz", real(), flip_mid), MISMATCH),
        ("plain part, one byte flipped", f.mutated("flip", plain, flip_last), MISMATCH),
        ("part truncated", f.mutated("cut", real(), |p| p.truncate(p.len() - 20)), MISMATCH),
        ("signed, checked with another key", f.delta("key", real(), signed(&key)), BAD_SIG),
        ("signed, then changed", f.delta("changed", real(), tampered), BAD_SIG),
        ("ops write past the size", builds_new("long", blob, write(3, 10, 0)), TOO_LONG),
        ("splice past the blob", builds_new("s-out", blob, splice(10, 8)),
            &["Invalid offset/length 8/10"]),
        ("write past the blob", builds_new("w-out", blob, write(20, 20, 0)),
            &["Invalid offset/length 0/20"]),
        ("read past the read source",
            builds_new("r-end", old_blob, read_source(old_size + 10, old_size + 10, 0)), EOF),
        ("read from past the read source",
            builds_new("r-off", old_blob, read_source(1, 1, old_size + 100)), EOF),
        ("two files open", f.with_part("oo", open_open, new_and_old), OPEN),
        ("splice with a file open", builds_new("os", blob, open_splice), OPEN),
        ("bsdiff past the size", builds_new("b-long", &long_patch, bsdiff_ops(3, 34)), TOO_LONG),
        ("bsdiff past its patch", builds_new("b-cut", &cut_patch, bsdiff_ops(100, 29)),
            &["Corrupt bsdiff patch: it ends inside a block"]),
        ("xz bomb", f.delta("bomb", bomb, |sb| sb), &["inflates to more than"]),
        ("unknown compression", f.with_part("z", b"z".to_vec(), file(new)),
            &["Invalid compression type '122'"]),
        ("valid object not reached", f.delta("unreached", unreached, |sb| sb), &["does not reach"]),
        ("file bytes not its name's", builds_new("bad-file", &wrong, splice(n, 0)), CORRUPT),
        ("file shorter than declared", builds_new("short", new_data, write(n, n - 1, 0)), CORRUPT),
        ("dirtree bytes not its name's", f.with_part("bad-tree", bad_tree, vec![root]),
            &["Corrupted dirtree object"]),
    ];
    let keys = |name: &str| match name {
        "signed, checked with another key" => Some(verifier(&other_key)),
        "signed, then changed" => Some(verifier(&key)),
        _ => None,
    };
    let cases = table.into_iter().map(|(name, dir, expect)| Case {
        keys: keys(name),
        name,
        dir,
        expect,
    });
    cases.collect()
}

/// Applies `dir` to `client` and commits: it must land whole and fsck clean.
fn assert_applies(f: &Fixture, client: &Repo, dir: &Path, keys: Option<&[Verifier]>) {
    let tx = Transaction::begin(client).expect("begin");
    let check = keys.map_or(SignatureCheck::None, SignatureCheck::Keys);
    apply_offline(&tx, dir, check, &NoProgress, &NO_STOP).expect("the real delta applies");
    tx.commit().expect("commit");
    for (objtype, checksum) in [(ObjectType::Commit, f.to), (ObjectType::File, f.new_file.0)] {
        assert!(client.has_object(objtype, &checksum).expect("lookup"));
    }
    assert_eq!(fsck_errors(client), Vec::<String>::new());
}

#[test]
fn hostile_deltas_are_refused_and_nothing_lands() {
    let started = std::time::Instant::now();
    let f = Fixture::new();
    let cases = cases(&f);
    for mode in [RepoMode::Archive, RepoMode::BareUserOnly] {
        let client = f.client(&format!("client-{mode:?}"), mode);
        for case in &cases {
            let text = assert_refused(&f, &client, case);
            eprintln!("{mode:?} / {}: {text}", case.name);
        }
        // The same client, after every refusal, takes the real delta.
        let genuine = f.delta(&format!("genuine-{mode:?}"), f.parts.clone(), |sb| sb);
        assert_applies(&f, &client, &genuine, None);
    }
    eprintln!("{} cases in {:?}", cases.len(), started.elapsed());
}

#[test]
fn the_real_delta_applies_signed_or_not() {
    let f = Fixture::new();
    let key = SecretKey::from_seed(&[1; 32]);
    let plain = f.delta("plain", f.parts.clone(), |sb| sb);
    let client = f.client("plain-client", RepoMode::Archive);
    assert_applies(&f, &client, &plain, None);
    let signed_dir = f.delta("signed", f.parts.clone(), signed(&key));
    let client = f.client("signed-client", RepoMode::Archive);
    assert_applies(&f, &client, &signed_dir, Some(&verifier(&key)));
}

/// Offline, nothing can be fetched afterwards: a delta that leaves out the commit's trees
/// is refused (and its stray object with it), where a pull would fetch them.
#[test]
fn an_unreached_object_is_refused_even_when_the_trees_are_missing() {
    let f = Fixture::new();
    let (part, header) = stray_part();
    let case = Case {
        name: "stray object, no trees",
        dir: f.delta("unreached-no-trees", vec![(part, header)], |sb| sb),
        expect: &["leaves out"],
        keys: None,
    };
    assert_refused(&f, &f.client("client", RepoMode::Archive), &case);
}
