//! Crash consistency of deployments: `admin deploy`, `undeploy` and `cleanup` killed with
//! SIGKILL at seeded random moments (see `rostree_testutil::crash`). After every kill both
//! tools' `admin status` read the sysroot alike, the live loader is whole (every entry of
//! one boot version, each naming a complete deployment), and the system repository passes
//! both fsck's; running the operation again completes and leaves no deployment that no
//! entry names.

use std::path::Path;
use std::process::Command;

use rostree_testutil::TreeSpec;
use rostree_testutil::cmd::upstream_ostree;
use rostree_testutil::crash::{Harness, run_and_kill, time_of};
use rostree_testutil::repo::fsck as upstream_fsck;
use rostree_testutil::tree::pseudo_random_bytes;

fn rostree() -> &'static str {
    env!("CARGO_BIN_EXE_rostree")
}

/// `bin` on the sysroot `root` (deployment roots left mutable, so the temp dir can go).
fn command(bin: impl AsRef<std::ffi::OsStr>, root: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.env("OSTREE_SYSROOT", root)
        .env("OSTREE_SYSROOT_DEBUG", "mutable-deployments")
        .args(args);
    cmd
}

fn run_ok(bin: impl AsRef<std::ffi::OsStr>, root: &Path, args: &[&str], context: &str) -> String {
    let out = command(bin, root, args).output().expect("running");
    assert!(
        out.status.success(),
        "{context}: {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An OS tree whose files and (every other generation) kernel depend on `generation`.
fn write_os_tree(dir: &Path, generation: u64) {
    let mut spec = TreeSpec::new()
        .file(
            "usr/lib/modules/5.0/vmlinuz",
            format!("kernel {}\n", generation / 2).into_bytes(),
            0o644,
        )
        .file("usr/lib/modules/5.0/initramfs.img", b"initramfs\n", 0o644)
        .file(
            "usr/etc/os-release",
            b"ID=testos\nPRETTY_NAME=\"TestOS\"\n",
            0o644,
        )
        .file(
            "usr/etc/config",
            format!("default {generation}\n").into_bytes(),
            0o644,
        );
    for i in 0..200u64 {
        let version = if i % 10 == generation % 10 {
            generation
        } else {
            0
        };
        spec = spec.file(
            &format!("usr/share/d{}/f{i}", i % 8),
            pseudo_random_bytes(2048, i << 20 | version),
            0o644,
        );
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).expect("clearing the tree");
    }
    spec.create(dir);
}

/// The checks after every kill and every completed rerun.
fn check_sysroot(root: &Path, context: &str) {
    let ours = run_ok(rostree(), root, &["admin", "status"], context);
    let theirs = run_ok(upstream_ostree(), root, &["admin", "status"], context);
    assert_eq!(ours, theirs, "{context}: the two tools' status");
    let loader = std::fs::read_link(root.join("boot/loader")).expect("boot/loader");
    let loader = loader.to_string_lossy().into_owned();
    let version = loader.strip_prefix("loader.").expect("loader.N");
    let repo = format!("--repo={}/ostree/repo", root.display());
    let mut entries = 0;
    for entry in
        std::fs::read_dir(root.join("boot").join(&loader).join("entries")).expect("entries")
    {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("read");
        entries += 1;
        let link = text
            .split_whitespace()
            .find_map(|w| w.strip_prefix("ostree="))
            .expect("an ostree= argument");
        assert!(
            link.starts_with(&format!("/ostree/boot.{version}/")),
            "{context}: {loader} holds an entry of another loader: {link}"
        );
        let deployment = std::fs::canonicalize(root.join(link.trim_start_matches('/')))
            .expect("the entry's deployment");
        let name = deployment
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        let commit = name.split('.').next().expect("csum.serial");
        let listing = run_ok(
            upstream_ostree(),
            root,
            &[&repo, "ls", "-R", "--nul-filenames-only", commit],
            context,
        );
        for path in listing.split('\0').filter(|p| !p.is_empty()) {
            assert!(
                deployment
                    .join(path.trim_start_matches('/'))
                    .symlink_metadata()
                    .is_ok(),
                "{context}: {name} lacks {path}"
            );
        }
        assert!(
            deployment.join("etc/config").is_file(),
            "{context}: {name} has no /etc"
        );
    }
    let listed = ours.lines().filter(|l| l.starts_with("  testos ")).count();
    assert_eq!(entries, listed, "{context}: entries and deployments");
    let sysrepo = root.join("ostree/repo");
    run_ok(rostree(), root, &[&repo, "fsck", "-q"], context);
    upstream_fsck(&sysrepo);
}

/// After a completed operation: every deployment directory is one an entry names.
fn check_no_orphans(root: &Path, context: &str) {
    let status = run_ok(rostree(), root, &["admin", "status"], context);
    let mut listed: Vec<String> = status
        .lines()
        .filter_map(|l| l.strip_prefix("  testos "))
        .map(str::to_owned)
        .collect();
    let names: Vec<String> = std::fs::read_dir(root.join("ostree/deploy/testos/deploy"))
        .expect("deploy dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    listed.sort();
    // Each deployment: its directory, origin file and (after a merge) rostree's report.
    for suffix in ["", ".origin", ".etc-merge"] {
        let mut of_kind: Vec<String> = names
            .iter()
            .filter(|n| n.split('.').count() == 2 + usize::from(!suffix.is_empty()))
            .filter_map(|n| n.strip_suffix(suffix))
            .map(str::to_owned)
            .collect();
        of_kind.sort();
        // Not every deployment has a report (the first had nothing to merge from).
        assert!(
            of_kind.iter().all(|n| listed.contains(n)),
            "{context}: {suffix} files of deployments gone: {of_kind:?} vs {listed:?}"
        );
        if suffix != ".etc-merge" {
            assert_eq!(of_kind, listed, "{context}: deployments on disk ({suffix})");
        }
    }
}

/// A source repository of OS trees on `os`, and a sysroot with the stateroot `testos`.
struct Fixture {
    dir: std::path::PathBuf,
    root: std::path::PathBuf,
    source: std::path::PathBuf,
    tree: std::path::PathBuf,
    sys_arg: String,
    generation: u64,
}

impl Fixture {
    fn new(dir: &Path) -> Fixture {
        let root = dir.join("sysroot");
        std::fs::create_dir(&root).expect("mkdir");
        let f = Fixture {
            dir: dir.to_owned(),
            sys_arg: format!("--repo={}/ostree/repo", root.display()),
            root,
            source: dir.join("source"),
            tree: dir.join("tree"),
            generation: 0,
        };
        run_ok(
            rostree(),
            dir,
            &[&f.src_arg(), "init", "--mode=archive"],
            "init",
        );
        let root_arg = f.root.to_str().expect("utf-8");
        run_ok(
            rostree(),
            &f.root,
            &["admin", "init-fs", root_arg],
            "init-fs",
        );
        run_ok(
            rostree(),
            &f.root,
            &["admin", "os-init", "testos"],
            "os-init",
        );
        f
    }

    fn src_arg(&self) -> String {
        format!("--repo={}", self.source.display())
    }

    /// Commits the next generation of the OS tree to the source's `os`.
    fn commit(&mut self, context: &str) {
        self.generation += 1;
        write_os_tree(&self.tree, self.generation);
        let tree_arg = format!("--tree=dir={}", self.tree.display());
        run_ok(
            rostree(),
            &self.dir,
            &[&self.src_arg(), "commit", "-b", "os", &tree_arg],
            context,
        );
    }
}

#[test]
fn killed_deploys_undeploys_and_cleanups_leave_a_bootable_sysroot() {
    let mut h = Harness::new("admin");
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut f = Fixture::new(tmp.path());
    let root = f.root.clone();
    let source_path = f.source.to_str().expect("utf-8").to_owned();
    let sys_arg = f.sys_arg.clone();
    let mut new_commit = |context: &str| {
        f.commit(context);
        run_ok(
            rostree(),
            &root,
            &[&sys_arg, "pull-local", &source_path, "os"],
            context,
        );
    };
    let deploy: &[&str] = &["admin", "deploy", "--os=testos", "os"];
    new_commit("first");
    run_ok(rostree(), &root, deploy, "first deploy");
    new_commit("timing");
    let full = time_of(command(rostree(), &root, deploy));
    for kill in 0..h.kills {
        new_commit("next commit");
        let delay = h.rng.delay(full.mul_f64(1.2));
        let ctx = h.context("deploy", kill, delay);
        run_and_kill(command(rostree(), &root, deploy), delay);
        check_sysroot(&root, &ctx);
        run_ok(rostree(), &root, deploy, &ctx);
        check_sysroot(&root, &ctx);
        check_no_orphans(&root, &ctx);

        let delay = h.rng.delay(full.mul_f64(1.2));
        let ctx = h.context("undeploy", kill, delay);
        let undeploy: &[&str] = &["admin", "undeploy", "1"];
        run_and_kill(command(rostree(), &root, undeploy), delay);
        check_sysroot(&root, &ctx);

        let delay = h.rng.delay(full.mul_f64(0.5));
        let ctx = h.context("cleanup", kill, delay);
        run_and_kill(command(rostree(), &root, &["admin", "cleanup"]), delay);
        check_sysroot(&root, &ctx);
        run_ok(rostree(), &root, &["admin", "cleanup"], &ctx);
        check_sysroot(&root, &ctx);
        check_no_orphans(&root, &ctx);
    }
}

/// `admin upgrade` from a `file://` remote and `admin finalize-staged` on a booted system
/// (played with `ROSTREE_TEST_RUN_DIR`/`ROSTREE_TEST_ROOT`), killed at seeded moments: the
/// sysroot stays whole, and a rerun (then a cleanup) completes with no orphan.
#[test]
fn killed_upgrades_and_finalizations_leave_a_bootable_sysroot() {
    let mut h = Harness::new("upgrade");
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let mut f = Fixture::new(t);
    let root = f.root.clone();
    let sys_arg = f.sys_arg.clone();
    let run_dir = t.join("run");
    std::fs::create_dir(&run_dir).expect("mkdir");
    std::fs::write(run_dir.join("ostree-booted"), "").expect("booted");
    let url = format!("file://{}", f.source.display());
    run_ok(
        rostree(),
        &root,
        &[&sys_arg, "remote", "add", "--no-gpg-verify", "origin", &url],
        "remote",
    );
    let mut new_commit = |context: &str| f.commit(context);
    new_commit("first");
    run_ok(
        rostree(),
        &root,
        &[&sys_arg, "pull", "origin", "os"],
        "first pull",
    );
    run_ok(
        rostree(),
        &root,
        &["admin", "deploy", "--os=testos", "origin:os"],
        "first deploy",
    );
    let upgrade: &[&str] = &["admin", "upgrade", "--os=testos"];
    new_commit("timing");
    let full = time_of(command(rostree(), &root, upgrade));
    let booted = |args: &[&str]| {
        let current = run_ok(
            rostree(),
            &root,
            &["admin", "--print-current-dir"],
            "current",
        );
        let mut cmd = command(rostree(), &root, args);
        cmd.env("ROSTREE_TEST_RUN_DIR", &run_dir)
            .env("ROSTREE_TEST_ROOT", current.trim());
        cmd
    };
    for kill in 0..h.kills {
        new_commit("next commit");
        let delay = h.rng.delay(full.mul_f64(1.2));
        let ctx = h.context("upgrade", kill, delay);
        run_and_kill(command(rostree(), &root, upgrade), delay);
        check_sysroot(&root, &ctx);
        run_ok(rostree(), &root, upgrade, &ctx);
        check_sysroot(&root, &ctx);
        // A rerun that finds the commit deployed already says so and stops, as upstream's;
        // what the killed one left goes with the next cleanup.
        run_ok(rostree(), &root, &["admin", "cleanup"], &ctx);
        check_no_orphans(&root, &ctx);

        new_commit("staged commit");
        let out = booted(&["admin", "upgrade", "--os=testos", "--stage"])
            .output()
            .expect("staging");
        assert!(
            out.status.success(),
            "{ctx}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let delay = h.rng.delay(full.mul_f64(0.8));
        let ctx = h.context("finalize-staged", kill, delay);
        run_and_kill(booted(&["admin", "finalize-staged"]), delay);
        check_sysroot(&root, &ctx);
        for args in [&["admin", "finalize-staged"][..], &["admin", "cleanup"][..]] {
            let out = booted(args).output().expect("running");
            assert!(
                out.status.success(),
                "{ctx}: {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        check_sysroot(&root, &ctx);
        check_no_orphans(&root, &ctx);
    }
}
