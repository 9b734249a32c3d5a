//! `examples/pull_remote.rs`, run as a program: it pulls a remote that upstream `ostree`
//! configured (GPG verification on, the key imported with `remote add --gpg-import`) from
//! nginx, and refuses a commit the key did not sign. Everything around it is upstream's.

use std::path::Path;
use std::process::Command;

use rostree_testutil::cmd::{Invocation, example, upstream_ostree};
use rostree_testutil::gnupg::GpgKey;
use rostree_testutil::http::Nginx;

fn ostree(repo: &Path, args: &[&str]) -> String {
    let out = Invocation::new(upstream_ostree())
        .arg(format!("--repo={}", repo.display()))
        .args(args)
        .ok();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn the_example_pulls_with_gpg_verification() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    let key = GpgKey::new(d, "example", "never");
    let served = d.join("served");
    let tree = d.join("tree");
    std::fs::create_dir_all(tree.join("etc")).expect("mkdir");
    std::fs::write(tree.join("etc/os-release"), "ID=example\n").expect("write");
    ostree(&served, &["init", "--mode=archive"]);
    let [gpg_sign, gpg_home] = key.sign_args();
    let tree_arg = format!("--tree=dir={}", tree.display());
    let signed = ostree(
        &served,
        &["commit", "-b", "main", &gpg_sign, &gpg_home, &tree_arg],
    );
    ostree(&served, &["commit", "-b", "unsigned", &tree_arg]);
    ostree(&served, &["summary", "-u"]);
    let nginx = Nginx::start(&served);

    let local = d.join("local");
    ostree(&local, &["init", "--mode=bare-user"]);
    let import = format!("--gpg-import={}", key.public.display());
    ostree(
        &local,
        &[
            "remote",
            "add",
            "--set=branches=main;",
            &import,
            "origin",
            &nginx.url(),
        ],
    );
    let out = Command::new(example("pull_remote"))
        .arg(&local)
        .arg("origin")
        .output()
        .expect("running the example");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("main {signed}\n")
    );
    assert_eq!(ostree(&local, &["rev-parse", "origin:main"]), signed);
    ostree(&local, &["fsck"]);

    // The same remote will not give a commit its key did not sign.
    let out = Command::new(example("pull_remote"))
        .arg(&local)
        .arg("origin")
        .arg("unsigned")
        .output()
        .expect("running the example");
    assert!(!out.status.success(), "an unsigned commit was pulled");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("GPG"), "{stderr}");
    assert!(!local.join("refs/remotes/origin/unsigned").exists());
}
