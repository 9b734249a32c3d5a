//! An `--inline` superblock past the metadata size limit is refused before anything is
//! written; the same delta with its parts in files is fine.

use std::sync::atomic::AtomicBool;

use cap_std::{ambient_authority, fs::Dir};
use rostree_delta::generate::MAX_METADATA_SIZE;
use rostree_delta::{Error, GenerateOptions, generate};
use rostree_repo::commit::{CommitOptions, TreeSource, commit};
use rostree_repo::deltas::list_static_deltas;
use rostree_repo::progress::NoProgress;
use rostree_repo::{InitOptions, Repo, RepoMode};

#[test]
fn an_inline_superblock_past_the_metadata_limit_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("repo");
    std::fs::create_dir(&path).expect("mkdir");
    let dir = Dir::open_ambient_dir(&path, ambient_authority()).expect("open");
    let options = InitOptions {
        mode: RepoMode::Archive,
        ..Default::default()
    };
    let repo = Repo::init(dir, &path, &options).expect("init");
    let tree = tmp.path().join("tree");
    std::fs::create_dir(&tree).expect("mkdir");
    // Incompressible, so the one part (and the superblock holding it) passes 10 MiB.
    let mut x = 1u32;
    let data: Vec<u8> = (0..MAX_METADATA_SIZE + (1 << 20))
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect();
    std::fs::write(tree.join("big"), data).expect("write");
    let sources = vec![TreeSource::Dir(
        Dir::open_ambient_dir(&tree, ambient_authority()).expect("open"),
        tree.clone(),
    )];
    let commit_options = CommitOptions {
        branch: Some("main".into()),
        ..Default::default()
    };
    let interrupt = AtomicBool::new(false);
    let tip = commit(&repo, sources, &NoProgress, &interrupt, &commit_options)
        .expect("commit")
        .checksum;

    let mut options = GenerateOptions::new(None, tip);
    options.inline = true;
    // In a part, not fetched on its own as a fallback (`--min-fallback-size=0`).
    options.min_fallback_size = 0;
    let err = generate(&repo, &options, &NoProgress, &interrupt).expect_err("too large");
    let Error::InlineTooLarge { size, limit } = err else {
        panic!("unexpected error: {err}");
    };
    assert!(size > limit && limit == MAX_METADATA_SIZE, "{size} {limit}");
    assert!(err.to_string().contains("without --inline"), "{err}");
    // Nothing written: no delta, and no directory for one.
    assert!(list_static_deltas(&repo).expect("list").is_empty());
    let entries = std::fs::read_dir(path.join("deltas"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(entries, 0, "deltas/ stays empty");

    options.inline = false;
    generate(&repo, &options, &NoProgress, &interrupt).expect("parts in files");
    assert_eq!(list_static_deltas(&repo).expect("list").len(), 1);
}
