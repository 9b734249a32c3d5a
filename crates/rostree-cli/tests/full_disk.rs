//! Full disks: commits and pulls into a small tmpfs (mounted by the test; needs root, as
//! CI is) until ENOSPC, and the repo's free-space floor (`min-free-space-percent`,
//! `min-free-space-size`). Each fails with a clear message, the ref unchanged, no staging
//! left behind, and the repo clean for both fsck's.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rostree_testutil::TreeSpec;
use rostree_testutil::http::RostreeServe;
use rostree_testutil::repo::fsck as upstream_fsck;
use rostree_testutil::upstream_ostree;

fn rostree() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rostree"))
}

fn run(bin: &Path, repo: &Path, args: &[&str]) -> Output {
    rostree_testutil::repo_command(bin, repo, args)
        .output()
        .expect("running")
}

fn ok(repo: &Path, args: &[&str]) -> String {
    let out = run(&rostree(), repo, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A tmpfs of `mib` MiB, unmounted on drop.
struct SmallFs {
    _tmp: tempfile::TempDir,
    path: PathBuf,
}

impl SmallFs {
    fn new(mib: u32) -> SmallFs {
        assert!(
            rustix_is_root(),
            "the full-disk tests mount a tmpfs and need root (CI runs as root)"
        );
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("fs");
        std::fs::create_dir(&path).expect("mkdir");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(&path)
            .status()
            .expect("mount");
        assert!(status.success(), "mounting a tmpfs");
        SmallFs { _tmp: tmp, path }
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

fn rustix_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Bytes DEFLATE cannot shrink (xorshift64*).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A tree of incompressible files, `mib` MiB in all.
fn big_tree(dir: &Path, mib: usize, seed: u64) -> String {
    let mut spec = TreeSpec::new();
    for i in 0..mib * 4 {
        spec = spec.file(&format!("f{i}"), noise(256 << 10, seed + i as u64), 0o644);
    }
    spec.create(dir);
    format!("--tree=dir={}", dir.display())
}

/// What `statvfs` says a user may still write on the file system of `path`.
fn available_bytes(path: &Path) -> u64 {
    let out = Command::new("stat")
        .args(["-f", "-c", "%a %S"])
        .arg(path)
        .output()
        .expect("stat -f");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut numbers = text
        .split_whitespace()
        .map(|n| n.parse::<u64>().expect("a number"));
    let (blocks, block_size) = (numbers.next(), numbers.next());
    blocks.expect("blocks") * block_size.expect("block size")
}

fn staging_left(repo: &Path) -> Vec<String> {
    std::fs::read_dir(repo.join("tmp"))
        .expect("tmp")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("rostree-staging"))
        .collect()
}

fn assert_intact(repo: &Path, main: &str) {
    assert_eq!(ok(repo, &["rev-parse", "main"]), main);
    assert_eq!(staging_left(repo), Vec::<String>::new());
    ok(repo, &["fsck", "-q"]);
    upstream_fsck(repo);
}

#[test]
fn commits_until_the_disk_is_full() {
    let fs = SmallFs::new(8);
    let work = tempfile::tempdir().expect("tempdir");
    let repo = fs.path.join("repo");
    ok(&repo, &["init", "--mode=archive"]);
    ok(
        &repo,
        &["config", "set", "core.min-free-space-percent", "0"],
    );
    let small = big_tree(&work.path().join("small"), 1, 1);
    let main = ok(&repo, &["commit", "-b", "main", &small]);
    let big = big_tree(&work.path().join("big"), 12, 100);
    let out = run(&rostree(), &repo, &["commit", "-b", "main", &big]);
    assert!(!out.status.success(), "12 MiB fit in 8");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert_intact(&repo, &main);
    // The space came back: a small commit goes through.
    let again = big_tree(&work.path().join("again"), 1, 7);
    ok(&repo, &["commit", "-b", "other", &again]);
}

#[test]
fn pulls_until_the_disk_is_full() {
    let fs = SmallFs::new(8);
    let work = tempfile::tempdir().expect("tempdir");
    let src = work.path().join("src");
    ok(&src, &["init", "--mode=archive"]);
    let small = big_tree(&work.path().join("small"), 1, 1);
    let main = ok(&src, &["commit", "-b", "main", &small]);
    let big = big_tree(&work.path().join("big"), 12, 100);
    ok(&src, &["commit", "-b", "big", &big]);
    ok(&src, &["summary", "-u"]);
    let serve = RostreeServe::start(&rostree(), &src);
    let repo = fs.path.join("repo");
    ok(&repo, &["init", "--mode=bare-user"]);
    ok(
        &repo,
        &["config", "set", "core.min-free-space-percent", "0"],
    );
    ok(
        &repo,
        &["remote", "add", "--no-gpg-verify", "o", serve.url()],
    );
    ok(&repo, &["pull", "o", "main"]);
    ok(&repo, &["refs", "--create=main", "o:main"]);
    let out = run(&rostree(), &repo, &["pull", "o", "big"]);
    assert!(!out.status.success(), "12 MiB fit in 8");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(
        run(&rostree(), &repo, &["rev-parse", "o:big"])
            .status
            .code()
            != Some(0)
    );
    assert_intact(&repo, &main);
}

#[test]
fn the_free_space_floor_is_kept_as_upstream_keeps_it() {
    let fs = SmallFs::new(16);
    let work = tempfile::tempdir().expect("tempdir");
    let tree = big_tree(&work.path().join("tree"), 6, 3);
    for (setting, value, message) in [
        (
            "min-free-space-percent",
            "70",
            "min-free-space-percent '70%' would be exceeded, at least ",
        ),
        (
            "min-free-space-size",
            "12MB",
            "min-free-space-size 12MB would be exceeded, at least ",
        ),
    ] {
        for (tool, bin) in [("upstream", upstream_ostree()), ("rostree", rostree())] {
            let repo = fs.path.join(format!("{tool}-{setting}"));
            ok(&repo, &["init", "--mode=archive"]);
            ok(&repo, &["config", "set", &format!("core.{setting}"), value]);
            let out = run(&bin, &repo, &["commit", "-b", "main", &tree]);
            assert!(!out.status.success(), "{tool} {setting}");
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(stderr.contains(message), "{tool} {setting}: {stderr}");
            assert!(run(&rostree(), &repo, &["rev-parse", "main"]).status.code() != Some(0));
            if tool == "rostree" {
                assert_eq!(staging_left(&repo), Vec::<String>::new());
                ok(&repo, &["fsck", "-q"]);
            }
            std::fs::remove_dir_all(&repo).expect("cleaning up");
        }
    }
}

/// A repo already under its floor still takes metadata (upstream keeps housekeeping out of the
/// check: a transaction starts, and only content objects are refused), in both tools alike.
#[test]
fn under_the_floor_metadata_is_written_and_content_refused() {
    let fs = SmallFs::new(16);
    let work = tempfile::tempdir().expect("tempdir");
    let empty = work.path().join("empty");
    std::fs::create_dir_all(empty.join("usr/share")).expect("mkdir");
    let with_file = work.path().join("with-file");
    std::fs::create_dir_all(&with_file).expect("mkdir");
    std::fs::write(with_file.join("motd"), "hello\n").expect("write");
    for (setting, value, message) in [
        (
            "min-free-space-percent",
            "99",
            "min-free-space-percent '99%' would be exceeded, at least ",
        ),
        (
            "min-free-space-size",
            "1TB",
            "min-free-space-size 1048576MB would be exceeded, at least ",
        ),
    ] {
        for (tool, bin) in [("upstream", upstream_ostree()), ("rostree", rostree())] {
            let repo = fs.path.join(format!("{tool}-{setting}"));
            ok(&repo, &["init", "--mode=archive"]);
            ok(&repo, &["config", "set", &format!("core.{setting}"), value]);
            // 99% of 16 MiB leaves 160 KiB: fill the rest but for room for the metadata.
            let filler = fs.path.join("filler");
            let room = available_bytes(&fs.path);
            std::fs::write(&filler, noise(room.saturating_sub(96 << 10) as usize, 1))
                .expect("filling");
            let tree = format!("--tree=dir={}", empty.display());
            let out = run(&bin, &repo, &["commit", "-b", "main", &tree]);
            assert!(
                out.status.success(),
                "{tool} {setting}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let main = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            let tree = format!("--tree=dir={}", with_file.display());
            let out = run(&bin, &repo, &["commit", "-b", "main", &tree]);
            assert!(!out.status.success(), "{tool} {setting}: content written");
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(stderr.contains(message), "{tool} {setting}: {stderr}");
            assert_intact(&repo, &main);
            std::fs::remove_dir_all(&repo).expect("cleaning up");
            std::fs::remove_file(&filler).expect("cleaning up");
        }
    }
}
