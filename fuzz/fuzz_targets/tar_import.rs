//! See `rostree::fuzzing::tar_import`: archives committed into one scratch repo.
#![no_main]
use std::path::PathBuf;
use std::sync::OnceLock;

use rostree::repo::{InitOptions, Repo, RepoMode};

fn scratch() -> &'static (tempfile::TempDir, PathBuf) {
    static SCRATCH: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    SCRATCH.get_or_init(|| {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("repo");
        std::fs::create_dir(&path).expect("mkdir");
        let dir = cap_std::fs::Dir::open_ambient_dir(&path, cap_std::ambient_authority())
            .expect("open");
        let options = InitOptions {
            mode: RepoMode::BareUser,
            ..Default::default()
        };
        Repo::init(dir, &path, &options).expect("init");
        (tmp, path)
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (_, path) = scratch();
    let dir =
        cap_std::fs::Dir::open_ambient_dir(path, cap_std::ambient_authority()).expect("open");
    let repo = Repo::open(dir, path).expect("open repo");
    rostree::fuzzing::tar_import(&repo, data);
});
