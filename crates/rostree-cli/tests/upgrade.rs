//! `admin upgrade` end to end with real parts: a repository upstream signs with a real GPG
//! key, served by nginx with a static delta between the releases; a sysroot deployed from
//! v1 and booted (played in a temp sysroot); an upgrade to v2 through the delta, v2 then
//! pending and, once booted, v1 the rollback; a rollback by `set-default`; and an unsigned v3
//! refused with nothing changed.

use std::path::{Path, PathBuf};

use rostree_testutil::cmd::{Invocation, upstream_ostree};
use rostree_testutil::gnupg::GpgKey;
use rostree_testutil::http::Nginx;

fn rostree() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rostree"))
}

fn write(path: &Path, data: &str) {
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(path, data).expect("write");
}

/// Runs `bin` on the sysroot (booted as `booted` says) and returns what it did.
fn run(
    bin: &Path,
    sysroot: &Path,
    booted: Option<(&Path, &Path)>,
    args: &[&str],
) -> std::process::Output {
    let mut cmd = Invocation::new(bin)
        .env("OSTREE_SYSROOT", sysroot)
        .env("OSTREE_SYSROOT_DEBUG", "mutable-deployments")
        .args(args);
    if let Some((run_dir, root)) = booted {
        cmd = cmd
            .env("ROSTREE_TEST_RUN_DIR", run_dir)
            .env("ROSTREE_TEST_ROOT", root);
    }
    cmd.output()
}

fn ok(bin: &Path, sysroot: &Path, booted: Option<(&Path, &Path)>, args: &[&str]) -> String {
    let out = run(bin, sysroot, booted, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A deployment's fields in `status --json`, as `name=value` words.
fn json_fields(json: &str, checksum: &str) -> String {
    let start = json
        .find(&format!("\"checksum\": \"{checksum}\""))
        .expect("listed");
    let end = json[start..].find('}').expect("closed") + start;
    json[start..end]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The state an upgrade must not touch when it fails.
fn snapshot(sysroot: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["boot/loader/entries", "ostree/deploy/testos/deploy"] {
        let mut names: Vec<String> = std::fs::read_dir(sysroot.join(dir))
            .expect("listing")
            .map(|e| {
                let e = e.expect("entry");
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                format!("{dir}/{} {text}", e.file_name().to_string_lossy())
            })
            .collect();
        names.sort();
        out.extend(names);
    }
    out.push(format!(
        "{:?}",
        std::fs::read_link(sysroot.join("boot/loader"))
    ));
    out
}

#[test]
fn upgrades_through_a_delta_roll_back_and_refuse_unsigned_commits() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let key = GpgKey::new(t, "os", "never");
    let [gpg_sign, gpg_home] = key.sign_args();
    let upstream = upstream_ostree();
    let served = t.join("served");
    let served_arg = format!("--repo={}", served.display());
    let none = Path::new("/");
    ok(
        &upstream,
        none,
        None,
        &[&served_arg, "init", "--mode=archive"],
    );
    let tree = t.join("tree");
    write(&tree.join("usr/lib/modules/5.0/vmlinuz"), "kernel\n");
    write(
        &tree.join("usr/lib/modules/5.0/initramfs.img"),
        "initramfs\n",
    );
    write(
        &tree.join("usr/etc/os-release"),
        "ID=testos\nPRETTY_NAME=\"TestOS\"\n",
    );
    for i in 0..50 {
        write(
            &tree.join(format!("usr/share/data/{i}")),
            &format!("{i} v1\n").repeat(200),
        );
    }
    let tree_arg = format!("--tree=dir={}", tree.display());
    let commit = |version: &str, signed: bool, day: u32| -> String {
        let version = format!("--add-metadata-string=version={version}");
        let timestamp = format!("--timestamp=2024-01-{day:02}T00:00:00Z");
        let mut args = vec![
            served_arg.as_str(),
            "commit",
            "-b",
            "os",
            &tree_arg,
            &version,
            &timestamp,
        ];
        if signed {
            args.extend([gpg_sign.as_str(), gpg_home.as_str()]);
        }
        let out = ok(&upstream, none, None, &args);
        ok(&upstream, none, None, &[&served_arg, "summary", "-u"]);
        out.trim().to_owned()
    };
    let v1 = commit("1", true, 1);
    let log = t.join("access.log");
    let nginx = Nginx::start_with(&served, "", &format!("access_log {};", log.display()));

    let sysroot = t.join("sysroot");
    std::fs::create_dir(&sysroot).expect("mkdir");
    let s = sysroot.to_str().expect("utf-8");
    let ros = rostree();
    ok(&ros, &sysroot, None, &["admin", "init-fs", "--modern", s]);
    ok(&ros, &sysroot, None, &["admin", "os-init", "testos"]);
    let sysrepo = format!("--repo={s}/ostree/repo");
    let import = format!("--gpg-import={}", key.public.display());
    ok(
        &ros,
        &sysroot,
        None,
        &[&sysrepo, "remote", "add", &import, "origin", &nginx.url()],
    );
    ok(&ros, &sysroot, None, &[&sysrepo, "pull", "origin", "os"]);
    ok(
        &ros,
        &sysroot,
        None,
        &["admin", "deploy", "--os=testos", "origin:os"],
    );
    let root_v1 = PathBuf::from(ok(&ros, &sysroot, None, &["admin", "--print-current-dir"]).trim());
    let run_dir = t.join("run");
    std::fs::create_dir(&run_dir).expect("mkdir");
    std::fs::write(run_dir.join("ostree-booted"), "").expect("booted");
    let booted_v1 = Some((run_dir.as_path(), root_v1.as_path()));

    // v2: a tenth of the files changed, and a delta from v1.
    for i in 0..5 {
        write(
            &tree.join(format!("usr/share/data/{i}")),
            &format!("{i} v2\n").repeat(200),
        );
    }
    let v2 = commit("2", true, 2);
    ok(
        &upstream,
        none,
        None,
        &[
            &served_arg,
            "static-delta",
            "generate",
            "--from",
            &v1,
            "--to",
            &v2,
        ],
    );
    ok(&upstream, none, None, &[&served_arg, "summary", "-u"]);
    std::fs::write(&log, "").expect("truncate the log");
    let out = ok(
        &ros,
        &sysroot,
        booted_v1,
        &["admin", "upgrade", "--os=testos", "--json"],
    );
    // One count through the pull and the deployment, never going back; the outcome last.
    let mut done = 0u64;
    for line in out.lines() {
        assert!(
            line.starts_with("{\"event\":\"") && line.ends_with('}'),
            "{out}"
        );
        let count: u64 = line
            .split_once("\"done\":")
            .and_then(|(_, rest)| rest.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{line}"));
        assert!(count >= done, "{out}");
        done = count;
    }
    assert!(out.contains("\"phase\":\"checking out\""), "{out}");
    let last = out.lines().last().expect("lines");
    assert!(
        last.contains(&format!("\"deployment\":\"{v2}.0\"")),
        "{last}"
    );
    assert!(done > 50, "objects and files counted: {out}");
    let requests = std::fs::read_to_string(&log).expect("access log");
    assert!(
        requests.contains("/deltas/"),
        "no delta was fetched:\n{requests}"
    );
    let json = ok(&ros, &sysroot, booted_v1, &["admin", "status", "--json"]);
    assert!(
        json_fields(&json, &v2).contains("\"booted\": false, \"pending\": true"),
        "{json}"
    );
    assert!(
        json_fields(&json, &v1)
            .contains("\"booted\": true, \"pending\": false, \"rollback\": false"),
        "{json}"
    );

    // Booted into v2, v1 is the rollback; set-default makes it the default again.
    let root_v2 =
        PathBuf::from(ok(&ros, &sysroot, booted_v1, &["admin", "--print-current-dir"]).trim());
    assert!(
        root_v2.to_string_lossy().contains(&v2),
        "{}",
        root_v2.display()
    );
    let booted_v2 = Some((run_dir.as_path(), root_v2.as_path()));
    let json = ok(&ros, &sysroot, booted_v2, &["admin", "status", "--json"]);
    assert!(
        json_fields(&json, &v1).contains("\"rollback\": true"),
        "{json}"
    );
    ok(&ros, &sysroot, booted_v2, &["admin", "set-default", "1"]);
    let current = ok(&ros, &sysroot, booted_v2, &["admin", "--print-current-dir"]);
    assert_eq!(PathBuf::from(current.trim()), root_v1);
    // Upstream reads the result.
    let status = ok(&upstream, &sysroot, None, &["admin", "status"]);
    assert!(status.find(&v1) < status.find(&v2), "{status}");

    // An unsigned v3 is refused, and nothing changes.
    write(&tree.join("usr/share/data/0"), "v3\n");
    commit("3", false, 3);
    let before = snapshot(&sysroot);
    let out = run(
        &ros,
        &sysroot,
        booted_v2,
        &["admin", "upgrade", "--os=testos"],
    );
    assert!(!out.status.success(), "an unsigned commit was deployed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("GPG"), "{stderr}");
    assert_eq!(snapshot(&sysroot), before);
}
