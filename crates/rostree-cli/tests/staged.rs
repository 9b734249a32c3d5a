//! A booted system, played in a temporary sysroot (`ROSTREE_TEST_RUN_DIR` holds
//! `ostree-booted`, `ROSTREE_TEST_ROOT` names the booted deployment's root): staged
//! deployments finalized with late `/etc` edits, locked finalization, a failed finalization
//! reported at the next boot, and the booted, pending and rollback deployments in `status`
//! (text and `--json`), `set-default`, `pin booted` and a refused `undeploy` of the booted
//! one.

use std::path::PathBuf;
use std::process::Output;

use rostree_testutil::cmd::Invocation;

fn rostree() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rostree"))
}

/// A sysroot with one deployment of `os` (v1), booted.
struct Booted {
    _tmp: tempfile::TempDir,
    sysroot: PathBuf,
    run: PathBuf,
    root: PathBuf,
    tree: PathBuf,
}

impl Booted {
    fn new() -> Booted {
        let tmp = tempfile::tempdir().expect("tempdir");
        let t = tmp.path();
        let sysroot = t.join("sysroot");
        let run = t.join("run");
        std::fs::create_dir_all(&sysroot).expect("mkdir");
        std::fs::create_dir_all(&run).expect("mkdir");
        let tree = t.join("tree");
        for (path, data) in [
            ("usr/lib/modules/5.0/vmlinuz", "kernel\n"),
            ("usr/lib/modules/5.0/initramfs.img", "initramfs\n"),
            ("usr/etc/os-release", "ID=testos\nPRETTY_NAME=\"TestOS\"\n"),
            ("usr/etc/config", "default\n"),
        ] {
            let p = tree.join(path);
            std::fs::create_dir_all(p.parent().expect("a parent")).expect("mkdir");
            std::fs::write(p, data).expect("write");
        }
        let mut b = Booted {
            _tmp: tmp,
            root: PathBuf::new(),
            sysroot,
            run,
            tree,
        };
        let s = b.sysroot.to_str().expect("utf-8").to_owned();
        b.ok(&["admin", "init-fs", "--modern", &s]);
        b.ok(&["admin", "os-init", "testos"]);
        b.commit("1");
        b.ok(&["admin", "deploy", "--os=testos", "os"]);
        b.root = PathBuf::from(b.ok(&["admin", "--print-current-dir"]).trim());
        std::fs::write(b.run.join("ostree-booted"), "").expect("touch");
        b
    }

    fn commit(&self, version: &str) {
        let repo = format!("--repo={}/ostree/repo", self.sysroot.display());
        let tree = format!("--tree=dir={}", self.tree.display());
        let version = format!("--add-metadata-string=version={version}");
        self.ok(&[&repo, "commit", "-b", "os", &tree, &version]);
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Invocation::new(rostree())
            .env("OSTREE_SYSROOT", &self.sysroot)
            .env("OSTREE_SYSROOT_DEBUG", "mutable-deployments")
            .args(args);
        if !self.root.as_os_str().is_empty() {
            cmd = cmd
                .env("ROSTREE_TEST_RUN_DIR", &self.run)
                .env("ROSTREE_TEST_ROOT", &self.root);
        }
        cmd.output()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn err(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// The first lines of `status`: stateroot, deployment and marks.
    fn heads(&self) -> Vec<String> {
        self.ok(&["admin", "status"])
            .lines()
            .filter(|l| !l.starts_with("    "))
            .map(|l| {
                let mark = &l[..1];
                let state = l
                    .split_once(" (")
                    .map_or("", |(_, s)| s.trim_end_matches(')'));
                format!("{mark}{state}")
            })
            .collect()
    }
}

#[test]
fn a_staged_deployment_is_finalized_with_late_etc_edits() {
    let b = Booted::new();
    assert_eq!(b.heads(), ["*"]);
    b.commit("2");
    b.ok(&["admin", "deploy", "--os=testos", "--stage", "os"]);
    assert_eq!(b.heads(), [" staged", "*"]);
    // Nothing in the loader yet: the staged deployment boots only once finalized.
    let entries = std::fs::read_dir(b.sysroot.join("boot/loader/entries")).expect("entries");
    assert_eq!(entries.count(), 1);
    std::fs::write(b.root.join("etc/late"), "edited after staging\n").expect("edit");
    b.ok(&["admin", "finalize-staged"]);
    assert_eq!(b.heads(), [" pending", "*"]);
    let new = PathBuf::from(b.ok(&["admin", "--print-current-dir"]).trim());
    assert_ne!(new, b.root);
    assert_eq!(
        std::fs::read_to_string(new.join("etc/late")).expect("carried over"),
        "edited after staging\n"
    );
    let json = b.ok(&["admin", "status", "--json"]);
    for field in [
        "\"booted\": false",
        "\"pending\": true",
        "\"booted\": true",
        "\"version\": \"2\"",
        "\"version\": \"1\"",
    ] {
        assert!(json.contains(field), "{field}: {json}");
    }
    // The booted deployment stays; the rollback becomes the default on request.
    assert!(
        b.err(&["admin", "undeploy", "1"])
            .contains("Cannot undeploy currently booted deployment 1")
    );
    b.ok(&["admin", "set-default", "1"]);
    assert_eq!(b.heads(), ["*", " rollback"]);
    assert_eq!(
        b.ok(&["admin", "pin", "booted"]),
        "Deployment booted is now pinned\n"
    );
    assert!(b.ok(&["admin", "status"]).contains("Pinned: yes"));
    b.ok(&["admin", "cleanup"]);
}

#[test]
fn locked_finalization_leaves_the_deployment_staged() {
    let b = Booted::new();
    b.commit("2");
    b.ok(&[
        "admin",
        "deploy",
        "--os=testos",
        "--lock-finalization",
        "os",
    ]);
    let json = b.ok(&["admin", "status", "--json"]);
    assert!(json.contains("\"finalization-locked\": true"), "{json}");
    b.ok(&["admin", "finalize-staged"]);
    assert_eq!(b.heads(), [" staged", "*"]);
    b.ok(&["admin", "lock-finalization", "--unlock"]);
    b.ok(&["admin", "finalize-staged"]);
    assert_eq!(b.heads(), [" pending", "*"]);
    // Upgrades stage as upstream's do when asked.
    b.commit("3");
    b.ok(&[
        "admin",
        "upgrade",
        "--os=testos",
        "--deploy-only",
        "--stage",
    ]);
    // As upstream counts them, the staged deployment is the pending one.
    assert_eq!(b.heads(), [" staged", " ", "*"]);
}

#[test]
fn a_failed_finalization_is_reported_at_the_next_boot() {
    let b = Booted::new();
    // The new tree makes `config.d` a directory where the machine added a file of that
    // name: the merge at shutdown refuses it.
    std::fs::create_dir_all(b.tree.join("usr/etc/config.d")).expect("mkdir");
    std::fs::write(b.tree.join("usr/etc/config.d/a"), "a\n").expect("write");
    b.commit("2");
    b.ok(&["admin", "deploy", "--os=testos", "--stage", "os"]);
    std::fs::write(b.root.join("etc/config.d"), "a local file\n").expect("add");
    let err = b.err(&["admin", "finalize-staged"]);
    assert!(
        err.contains("Modified config file newly defaults to directory 'config.d'"),
        "{err}"
    );
    let stamp = b.sysroot.join("boot/ostree/finalize-failure.stamp");
    assert!(stamp.exists(), "the failure is recorded");
    // The machine boots what it booted before.
    assert_eq!(
        PathBuf::from(b.ok(&["admin", "--print-current-dir"]).trim()),
        b.root
    );
    let err = b.err(&["admin", "boot-complete"]);
    assert!(
        err.contains("ostree-finalize-staged.service failed on previous boot: During /etc merge"),
        "{err}"
    );
    assert!(!stamp.exists());
    b.ok(&["admin", "boot-complete"]);
}

#[test]
fn staging_needs_a_booted_system() {
    let b = Booted::new();
    std::fs::remove_file(b.run.join("ostree-booted")).expect("not booted");
    b.commit("2");
    let err = b.err(&["admin", "deploy", "--os=testos", "--stage", "os"]);
    assert!(
        err.ends_with(
            "error: Cannot stage deployment: Not currently booted into an OSTree system\n"
        ),
        "{err}"
    );
}
