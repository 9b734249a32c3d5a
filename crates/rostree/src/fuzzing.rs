//! The checks the fuzz targets (`fuzz/`) run on each input, shared with the regression test
//! that replays their corpora (`tests/fuzz_corpora.rs`). Each takes hostile bytes; a check
//! fails by panicking, which is what the fuzzer reports.
//!
//! Parsers must refuse bad input without panicking, and what they accept must re-encode to
//! the same bytes (they take only GVariant normal form).

use std::sync::atomic::AtomicBool;

use rostree_core::gvariant::{Type, Value, parse_text, print_text};
use rostree_core::keyfile::KeyFile;
use rostree_core::object::{
    Commit, CommitRef, DirMeta, DirTreeRef, FileHeader, Metadata, Summary, parse_archive_header,
    parse_stream_header, verify_bindings,
};
use rostree_repo::Repo;
use rostree_repo::commit::{CommitOptions, TreeSource, commit as commit_trees};

/// Commit objects.
pub fn commit(data: &[u8]) {
    let borrowed = CommitRef::parse(data);
    if let Ok(commit) = Commit::from_bytes(data) {
        assert!(
            borrowed.is_ok(),
            "the owned parser took what the borrowed one refused"
        );
        assert_eq!(commit.to_bytes(), data);
        let _ = verify_bindings(&commit.metadata, None, Some("main"));
    }
}

/// Dirtree objects (names are checked: no `..`, `/`, NUL or empty name).
pub fn dirtree(data: &[u8]) {
    if let Ok(tree) = DirTreeRef::parse(data) {
        assert_eq!(tree.to_owned().to_bytes(), data);
    }
}

/// Dirmeta objects.
pub fn dirmeta(data: &[u8]) {
    if let Ok(meta) = DirMeta::from_bytes(data) {
        assert_eq!(meta.to_bytes(), data);
    }
}

/// Content headers: a file header, and one framed as in a content stream and in `.filez`.
pub fn content_header(data: &[u8]) {
    if let Ok(header) = FileHeader::from_bytes(data) {
        assert_eq!(header.to_bytes(), data);
    }
    let _ = parse_stream_header(data);
    let _ = parse_archive_header(data);
}

/// Whole `.filez` objects: the payload is inflated with a bound.
pub fn filez(data: &[u8]) {
    let _ = rostree_repo::decode_filez(data);
}

/// Summary files.
pub fn summary(data: &[u8]) {
    if let Ok(summary) = Summary::from_bytes(data) {
        let _ = summary.to_bytes();
    }
}

/// `a{sv}` documents: detached commit metadata and `summary.sig`, with their signatures
/// read out and checked as pulls do.
pub fn metadata(data: &[u8]) {
    if let Ok(metadata) = Metadata::from_bytes(data) {
        assert_eq!(metadata.to_bytes(), data);
        let _ = rostree_sign::ed25519::signatures(&metadata);
        if let Ok(signatures) = rostree_sign::gpg::signatures(&metadata) {
            let keyring = rostree_sign::gpg::Keyring::new();
            let _ = keyring.verify(b"data", &signatures);
            let _ = keyring.report(b"data", &signatures);
        }
    }
}

/// GKeyFile text (repo `config`): what parses writes back to text with the same groups
/// and keys.
pub fn keyfile(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(kf) = KeyFile::parse(text) {
        let again = KeyFile::parse(&kf.to_data()).expect("a written key file parses");
        assert_eq!(again.groups(), kf.groups());
        for group in kf.groups() {
            assert_eq!(again.keys(group), kf.keys(group));
        }
    }
}

/// GVariant: a type string, a newline, serialized data; what decodes prints as text that
/// parses back to the same value.
pub fn gvariant(data: &[u8]) {
    let Some(split) = data.iter().position(|&b| b == b'\n') else {
        return;
    };
    let Ok(type_string) = std::str::from_utf8(&data[..split]) else {
        return;
    };
    let Ok(ty) = Type::parse(type_string) else {
        return;
    };
    if let Ok(value) = Value::from_bytes(&ty, &data[split + 1..]) {
        let text = print_text(&value, true);
        let parsed = parse_text(&text, Some(&ty)).expect("printed text parses");
        if text.contains("nan") {
            // A NaN is not equal to itself, and its payload does not print: compare the
            // texts instead.
            assert_eq!(print_text(&parsed, true), text);
        } else {
            assert_eq!(parsed, value, "{text}");
        }
    }
}

/// GnuPG secret-key files and keyboxes.
pub fn gnupg(data: &[u8]) {
    let _ = rostree_sign::sexp::parse_key_file(data);
    let _ = rostree_sign::gnupg::keybox_blocks(data);
}

/// OpenPGP keyrings, and a signature check against what they hold.
pub fn openpgp(data: &[u8]) {
    let mut keyring = rostree_sign::gpg::Keyring::new();
    let _ = keyring.add(data);
    let _ = keyring.verify(b"data", &[data.to_vec()]);
    let _ = keyring.describe();
}

/// Metalink documents (`metalink=` remotes), and the check of a file against one.
pub fn metalink(data: &[u8]) {
    if let Ok(link) = rostree_pull::metalink::parse(&String::from_utf8_lossy(data), "summary") {
        let _ = link.verify(data);
    }
}

/// A tar archive committed into `repo` (`commit --tree=tar=`): refused or committed,
/// without a ref.
pub fn tar_import(repo: &Repo, data: &[u8]) {
    let source = TreeSource::Tar(
        Box::new(std::io::Cursor::new(data.to_vec())),
        "fuzz.tar".into(),
    );
    let _ = commit_trees(
        repo,
        vec![source],
        &rostree_repo::progress::NoProgress,
        &AtomicBool::new(false),
        &CommitOptions::default(),
    );
}

/// A fuzz target's check.
pub type Check = fn(&[u8]);

/// Static delta superblock files, signed or not: what parses encodes back to a superblock
/// that parses to the same parts, fallbacks and commits.
pub fn delta_superblock(data: &[u8]) {
    use rostree_delta::{Superblock, SuperblockFile};
    let Ok(file) = SuperblockFile::parse(data) else {
        return;
    };
    let Ok(sb) = Superblock::parse(&file.superblock) else {
        return;
    };
    // A commit that is not in normal form cannot be written again; that is refused.
    if let Ok(bytes) = sb.to_bytes() {
        let again = Superblock::parse(&bytes).expect("an encoded superblock parses");
        assert_eq!(again.parts, sb.parts);
        assert_eq!(again.fallbacks, sb.fallbacks);
        assert_eq!((again.from, again.to), (sb.from, sb.to));
        assert_eq!(again.commit, sb.commit);
    }
}

/// Static delta part files: decompressed within bounds, their payload and operations read
/// (for objects of every type, as a hostile header could list).
pub fn delta_part(data: &[u8]) {
    use rostree_core::{Checksum, ObjectType};
    use rostree_delta::apply::{open_part, part_stats};
    let Ok(payload) = open_part(&mut &data[..], None, 1 << 20, None) else {
        return;
    };
    for objtype in [ObjectType::File, ObjectType::DirTree] {
        let objects: Vec<_> = (0..64u8)
            .map(|i| (objtype, Checksum::digest(&[i])))
            .collect();
        let _ = part_stats(&objects, &payload);
    }
}

/// The operation interpreter on its own: `data` is a 4-byte little-endian length, that many
/// bytes of operations, then the blob. Every range an operation reads lies inside the blob,
/// and bsdiff patches applied to a fixed old file end (in error or not) within the bytes
/// the patch holds.
pub fn delta_ops(data: &[u8]) {
    use std::io::Read;

    use rostree_core::{Checksum, ObjectType};
    use rostree_delta::bsdiff::Patcher;
    use rostree_delta::ops::{Action, Blob, Piece, parse_ops};
    let Some((len, rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let len = (u32::from_le_bytes(*len) as usize).min(rest.len());
    let (ops, blob) = rest.split_at(len);
    let mut checksum_at = |offset: u64| {
        let at = offset as usize;
        Ok(Checksum::from_slice(&blob[at..at + 32]).expect("parse_ops checks the range"))
    };
    for objtype in [ObjectType::File, ObjectType::DirMeta] {
        let objects: Vec<_> = (0..64u8)
            .map(|i| (objtype, Checksum::digest(&[i])))
            .collect();
        let view = Blob {
            len: blob.len() as u64,
            checksum_at: &mut checksum_at,
            n_modes: 2,
            n_xattrs: 2,
        };
        let Ok((actions, _)) = parse_ops(ops, &objects, view) else {
            continue;
        };
        let old: Vec<u8> = (0..4096u32).map(|i| (i % 251) as u8).collect();
        for action in actions {
            let pieces = match action {
                Action::Metadata { data, .. } => vec![Piece::Blob(data)],
                Action::Content { pieces, .. } => pieces,
            };
            for piece in pieces {
                match piece {
                    Piece::Blob(range) => assert!(range.end <= blob.len() as u64),
                    Piece::Patch { patch, .. } => {
                        assert!(patch.end <= blob.len() as u64);
                        let patch_len = patch.end - patch.start;
                        let mut patcher = Patcher::new(&old[..], old.len() as u64, blob, patch);
                        let mut out = Vec::new();
                        if (&mut patcher).take(1 << 20).read_to_end(&mut out).is_ok() {
                            assert!(out.len() as u64 <= patch_len);
                        }
                    }
                    Piece::Source { .. } => {}
                }
            }
        }
    }
}

/// The checks by fuzz target name (all but `tar_import`, which needs a repo).
pub const TARGETS: &[(&str, Check)] = &[
    ("commit", commit),
    ("dirtree", dirtree),
    ("dirmeta", dirmeta),
    ("content_header", content_header),
    ("filez", filez),
    ("summary", summary),
    ("metadata", metadata),
    ("keyfile", keyfile),
    ("gvariant", gvariant),
    ("gnupg", gnupg),
    ("openpgp", openpgp),
    ("metalink", metalink),
    ("delta_superblock", delta_superblock),
    ("delta_part", delta_part),
    ("delta_ops", delta_ops),
];
