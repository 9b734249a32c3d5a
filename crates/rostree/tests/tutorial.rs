//! `examples/tutorial.rs`, the Rust tutorial's program, run as a program: upstream's fsck
//! passes on the repositories it writes, and upstream reads the sysroot it deploys into.

use std::process::Command;

use rostree_testutil::cmd::{Invocation, example, upstream_ostree};

fn upstream(args: &[&str]) -> String {
    let out = Invocation::new(upstream_ostree()).args(args).ok();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn field<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line {prefix}… in\n{out}"))
}

#[test]
fn the_tutorial_commits_serves_pulls_and_deploys() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let work = tmp.path();
    let out = Command::new(example("tutorial"))
        .arg(work)
        .output()
        .expect("running the example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let commit = field(&stdout, "committed ");
    assert_eq!(field(&stdout, "pulled os/stable "), commit);
    assert_eq!(
        field(&stdout, "deployment "),
        format!("{commit} stateroot os serial 0 refspec origin:os/stable version 1.0")
    );

    let repo = format!("--repo={}", work.join("repo").display());
    upstream(&[&repo, "fsck"]);
    let sysroot = format!("--sysroot={}", work.join("sysroot").display());
    let status = upstream(&["admin", &sysroot, "status"]);
    assert!(status.contains(&format!("os {commit}.0")), "{status}");
    assert!(status.contains("Version: 1.0"), "{status}");
    let system_repo = format!("--repo={}", work.join("sysroot/ostree/repo").display());
    upstream(&[&system_repo, "fsck"]);
    let entries = work.join("sysroot/boot/loader/entries");
    let entry = std::fs::read_dir(&entries)
        .expect("the loader's entries")
        .map(|e| e.expect("entry").path())
        .next()
        .expect("one entry");
    let text = std::fs::read_to_string(entry).expect("the entry");
    assert!(
        text.contains("options quiet ostree=/ostree/boot."),
        "{text}"
    );
}
