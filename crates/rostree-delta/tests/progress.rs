//! Static delta generate and apply report each part, and stop when interrupted.

use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use cap_std::{ambient_authority, fs::Dir};
use rostree_delta::apply::{SignatureCheck, apply_offline};
use rostree_delta::{Error, GenerateOptions, generate};
use rostree_repo::commit::{CommitOptions, TreeSource, commit};
use rostree_repo::progress::{Event, NoProgress, Progress};
use rostree_repo::{InitOptions, Repo, RepoMode, Transaction};

#[derive(Default)]
struct Parts(Mutex<Vec<(u64, u64)>>);

impl Progress for Parts {
    fn event(&self, event: Event) {
        if let Event::DeltaPart { objects, bytes } = event {
            self.0.lock().expect("not poisoned").push((objects, bytes));
        }
    }
}

impl Parts {
    fn take(&self) -> Vec<(u64, u64)> {
        let mut parts = std::mem::take(&mut *self.0.lock().expect("not poisoned"));
        parts.sort();
        parts
    }
}

fn init(path: &std::path::Path) -> Repo {
    std::fs::create_dir(path).expect("mkdir");
    let dir = Dir::open_ambient_dir(path, ambient_authority()).expect("open");
    let options = InitOptions {
        mode: RepoMode::Archive,
        ..Default::default()
    };
    Repo::init(dir, path, &options).expect("init")
}

#[test]
fn generate_and_apply_report_every_part() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (source, repo) = (
        init(&tmp.path().join("source")),
        init(&tmp.path().join("repo")),
    );
    let tree = tmp.path().join("tree");
    std::fs::create_dir(&tree).expect("mkdir");
    // Incompressible files of 40 KiB, so that 64 KiB parts hold one or two each.
    let mut x = 7u32;
    for i in 0..5 {
        let data: Vec<u8> = (0..40 << 10)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as u8
            })
            .collect();
        std::fs::write(tree.join(format!("f{i}")), data).expect("write");
    }
    let interrupt = AtomicBool::new(false);
    let sources = vec![TreeSource::Dir(
        Dir::open_ambient_dir(&tree, ambient_authority()).expect("open"),
        tree.clone(),
    )];
    let options = CommitOptions {
        branch: Some("main".into()),
        ..Default::default()
    };
    let tip = commit(&source, sources, &NoProgress, &interrupt, &options)
        .expect("commit")
        .checksum;

    let parts = Parts::default();
    let mut options = GenerateOptions::new(None, tip);
    options.max_chunk_size = 64 << 10;
    options.output = Some(tmp.path().join("delta/superblock"));
    std::fs::create_dir(tmp.path().join("delta")).expect("mkdir");
    let stop = AtomicBool::new(true);
    assert!(matches!(
        generate(&source, &options, &parts, &stop),
        Err(Error::Cancelled)
    ));
    let outcome = generate(&source, &options, &parts, &interrupt).expect("generate");
    let generated = parts.take();
    let mut expected: Vec<(u64, u64)> = outcome
        .parts
        .iter()
        .map(|p| (p.objects as u64, p.compressed))
        .collect();
    expected.sort();
    assert!(expected.len() > 1, "the files fill several parts");
    assert_eq!(generated, expected);

    let delta = tmp.path().join("delta");
    let tx = Transaction::begin(&repo).expect("begin");
    assert!(matches!(
        apply_offline(&tx, &delta, SignatureCheck::None, &parts, &stop),
        Err(Error::Cancelled)
    ));
    drop(tx);
    let tx = Transaction::begin(&repo).expect("begin");
    apply_offline(&tx, &delta, SignatureCheck::None, &parts, &interrupt).expect("apply");
    tx.commit().expect("commit");
    assert_eq!(parts.take(), expected);
    assert!(
        repo.has_object(rostree_core::ObjectType::Commit, &tip)
            .expect("lookup")
    );
}
