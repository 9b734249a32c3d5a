//! rostree-prepare-root refuses bad input before it mounts anything: each case ends with
//! its message, the emergency shell, exit status 1, and the machine as it was. Run for real
//! in a private mount namespace (so root is needed, and CI runs as root), with the case's
//! kernel command line bind-mounted over /proc/cmdline.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

/// A sysroot with one good deployment, plus the links and trees the cases aim at.
fn sysroot(root: &Path) {
    let good = root.join("ostree/deploy/os/deploy/good.0");
    for dir in ["usr", "etc", "var", "sysroot"] {
        std::fs::create_dir_all(good.join(dir)).expect("deployment");
    }
    let unbootable = root.join("ostree/deploy/os/deploy/nosysroot.0");
    for dir in ["usr", "etc", "var"] {
        std::fs::create_dir_all(unbootable.join(dir)).expect("deployment");
    }
    let farm = root.join("ostree/boot.1.0/os/abc");
    std::fs::create_dir_all(&farm).expect("farm");
    symlink("boot.1.0", root.join("ostree/boot.1")).expect("link");
    symlink("../../../deploy/os/deploy/good.0", farm.join("0")).expect("link");
    symlink("../../../deploy/os/deploy/gone.0", farm.join("1")).expect("link");
    symlink("loop", farm.join("loop")).expect("link");
    symlink("../../../deploy/os/deploy/nosysroot.0", farm.join("2")).expect("link");
    symlink("/etc", farm.join("3")).expect("link");
}

/// Every path under `root` with its kind, to compare before and after.
fn listing(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readdir") {
            let entry = entry.expect("entry");
            let kind = entry.file_type().expect("type");
            out.push(format!("{} {:?}", entry.path().display(), kind));
            if kind.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn bad_targets_are_refused_with_a_message_and_a_shell() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test mounts in a private namespace and needs root (CI runs as root)"
    );
    let temp = tempfile::tempdir().expect("temp dir");
    let root = temp.path().join("sysroot");
    sysroot(&root);
    let before = listing(&root);
    let cases = [
        ("root=/dev/vda rw", "no OSTree target"),
        ("ostree=/ostree/../etc", "is outside /ostree"),
        ("ostree=/etc/passwd", "is outside /ostree"),
        (
            "ostree=/ostree/boot.1/os/abc/1",
            "resolving the OSTree target",
        ),
        (
            "ostree=/ostree/boot.1/os/abc/9",
            "finding the OSTree target",
        ),
        ("ostree=/ostree/boot.1/os/abc/loop", "is a symlink loop"),
        (
            "ostree=/ostree/boot.1/os/abc/2",
            "has no /sysroot directory",
        ),
        (
            "ostree=/ostree/boot.1/os/abc/3",
            "which is not a deployment",
        ),
    ];
    for (cmdline, want) in cases {
        let cmdline_file = temp.path().join("cmdline");
        std::fs::write(&cmdline_file, format!("{cmdline}\n")).expect("cmdline");
        let out = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(concat!(
                r#"mount --bind "$1" /proc/cmdline || exit 99; "#,
                r#"before=$(wc -l </proc/self/mountinfo); "$2" "$3" </dev/null; rc=$?; "#,
                r#"echo "mounts: $before -> $(wc -l </proc/self/mountinfo)" >&2; exit $rc"#
            ))
            .arg("sh")
            .arg(&cmdline_file)
            .arg(env!("CARGO_BIN_EXE_rostree-prepare-root"))
            .arg(&root)
            .output()
            .expect("unshare runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{cmdline}: {stderr}");
        assert!(
            stderr.contains("rostree-prepare-root: error: ") && stderr.contains(want),
            "{cmdline}: want {want:?} in {stderr}"
        );
        assert!(
            stderr.contains("starting an emergency shell"),
            "{cmdline}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{cmdline}: {stderr}");
        let mounts = stderr
            .lines()
            .find_map(|l| l.strip_prefix("mounts: "))
            .and_then(|l| l.split_once(" -> "));
        assert!(
            matches!(mounts, Some((a, b)) if a == b),
            "{cmdline}: mounts changed: {mounts:?}"
        );
        assert_eq!(listing(&root), before, "{cmdline}: the sysroot changed");
        assert!(
            !Path::new("/sysroot.tmp").exists(),
            "{cmdline}: /sysroot.tmp was made"
        );
    }
}

#[test]
fn usage() {
    let out = Command::new(env!("CARGO_BIN_EXE_rostree-prepare-root"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: rostree-prepare-root SYSROOT"));
}
