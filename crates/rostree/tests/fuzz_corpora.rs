//! Replays the fuzz corpora (`fuzz/corpus/<target>/`, minimized) and the inputs that once
//! crashed a target (`fuzz/regressions/<target>/`) through the same checks the fuzz
//! targets run, so that what fuzzing found stays fixed without a fuzzing toolchain.

use std::path::{Path, PathBuf};

use rostree::fuzzing::TARGETS;
use rostree::repo::{InitOptions, Repo, RepoMode};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The inputs of `target`: corpus and regressions.
fn inputs(target: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for kind in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz_dir().join(kind).join(target)) else {
            continue;
        };
        out.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()));
    }
    out.sort();
    out
}

#[test]
fn every_target_has_a_corpus() {
    let mut names: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
    names.push("tar_import");
    for name in names {
        assert!(
            fuzz_dir()
                .join("fuzz_targets")
                .join(format!("{name}.rs"))
                .is_file(),
            "no fuzz target for {name}"
        );
        assert!(!inputs(name).is_empty(), "no corpus for {name}");
    }
}

#[test]
fn corpora_replay_cleanly() {
    for (name, check) in TARGETS {
        for input in inputs(name) {
            let data = std::fs::read(&input).expect("reading an input");
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(outcome.is_ok(), "{name}: {} fails", input.display());
        }
    }
}

#[test]
fn tar_corpus_replays_cleanly() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("repo");
    std::fs::create_dir(&path).expect("mkdir");
    let open = || cap_std::fs::Dir::open_ambient_dir(&path, cap_std::ambient_authority());
    let options = InitOptions {
        mode: RepoMode::BareUser,
        ..Default::default()
    };
    Repo::init(open().expect("open"), &path, &options).expect("init");
    let repo = Repo::open(open().expect("open"), &path).expect("open repo");
    for input in inputs("tar_import") {
        let data = std::fs::read(&input).expect("reading an input");
        rostree::fuzzing::tar_import(&repo, &data);
    }
    // Nothing outside the repo: the temp dir holds the repo alone.
    let entries: Vec<_> = std::fs::read_dir(tmp.path())
        .expect("listing")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert_eq!(entries, vec![std::ffi::OsString::from("repo")]);
}
