//! GPG signatures made by upstream `ostree` (with real GnuPG keys made here by `gpg`)
//! checked by rostree's own OpenPGP code: pulls with `gpg-verify` (the default) and
//! `gpg-verify-summary`, `remote gpg-import`, `remote add --gpg-import`; refusals worded
//! as upstream's, compared with upstream refusing the same pulls.

use std::path::{Path, PathBuf};

use rostree_testutil::http::RostreeServe;
use rostree_testutil::repo::{Pair, Run, Tool};
use rostree_testutil::{Invocation, Mode, TreeSpec};

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// A GnuPG home with one signing key; returns (home, fingerprint, exported public key file).
fn make_key(p: &Pair, name: &str, expire: &str) -> (PathBuf, String, PathBuf) {
    let key = rostree_testutil::gnupg::GpgKey::new(&p.path(""), name, expire);
    (key.home, key.fingerprint, key.public)
}

/// Runs `gpg` on `home` as if it were `time` (a fixed clock, GnuPG's
/// `--faked-system-time`), without a passphrase; returns its stdout.
fn gpg_at(home: &Path, time: &str, args: &[&str]) -> String {
    let out = Invocation::new("gpg")
        .args([
            "--batch",
            "--homedir",
            &s(home),
            "--passphrase",
            "",
            "--pinentry-mode",
            "loopback",
            "--faked-system-time",
            time,
        ])
        .args(args)
        .ok();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Makes `key` (a fingerprint) of `home` expire a year after 2020-06-01, long ago: the
/// self-signature is made on a fixed clock, so the expiry is the same on every run.
fn expire_long_ago(home: &Path, key: &str, subkey: Option<&str>) {
    let mut args = vec!["--quick-set-expire", key, "1y"];
    args.extend(subkey);
    gpg_at(home, "20200601T000000", &args);
}

/// Revokes `key` of `home` with the certificate GnuPG made with it (its lines are
/// ':'-guarded).
fn revoke(p: &Pair, home: &Path, key: &str) {
    let cert = std::fs::read_to_string(home.join(format!("openpgp-revocs.d/{key}.rev")))
        .expect("revocation certificate");
    let cert: String = cert
        .lines()
        .map(|l| l.strip_prefix(':').unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    let cert_file = p.path(format!("revoke-{key}.asc"));
    std::fs::write(&cert_file, cert).expect("cert");
    Invocation::new("gpg")
        .args(["--batch", "--homedir", &s(home), "--import", &s(&cert_file)])
        .ok();
}

/// `home`'s public key `key` as a binary keyring file.
fn export(p: &Pair, home: &Path, keys: &[&str], name: &str) -> PathBuf {
    let file = p.path(name);
    let exported = Invocation::new("gpg")
        .args(["--batch", "--homedir", &s(home), "--export"])
        .args(keys)
        .ok();
    std::fs::write(&file, exported.stdout).expect("export");
    file
}

fn error_line(r: &Run) -> String {
    r.stderr()
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn upstream_gpg_signatures_verify_in_rostree() {
    let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), Mode::Archive);
    let (home_a, key_a, public_a) = make_key(&p, "alice", "never");
    let (_, _, public_b) = make_key(&p, "bob", "never");
    let tree = p.path("tree");
    TreeSpec::new().file("a", "a\n", 0o644).create(&tree);
    let src = p.repo(Tool::Upstream).to_owned();
    let up = |args: &[&str]| p.run(Tool::Upstream, &src, args);
    let sign = [
        format!("--gpg-sign={key_a}"),
        format!("--gpg-homedir={}", s(&home_a)),
    ];
    up(&[
        "commit",
        "-b",
        "main",
        "--timestamp=@1",
        &sign[0],
        &sign[1],
        &s(&tree),
    ])
    .pipe_ok("signed commit");
    up(&["commit", "-b", "plain", "--timestamp=@2", &s(&tree)]).pipe_ok("commit");
    up(&["summary", "-u", &sign[0], &sign[1]]).pipe_ok("signed summary");
    let serve = RostreeServe::start(p.bin(Tool::Rostree), &src);
    // Each tool in its own repo, set up alike, runs the same pulls.
    let setup = |name: &str, key: &Path, extra: &[&str]| -> [PathBuf; 2] {
        let dirs = [p.path(format!("{name}-up")), p.path(format!("{name}-rs"))];
        for (tool, dir) in [(Tool::Upstream, &dirs[0]), (Tool::Rostree, &dirs[1])] {
            p.run(tool, dir, ["init", "--mode=archive"]).pipe_ok("init");
            let mut args = vec!["remote", "add"];
            args.extend(extra);
            args.extend(["o", serve.url()]);
            p.run(tool, dir, &args).pipe_ok("remote add");
            let import = p.run(
                tool,
                dir,
                ["remote", "gpg-import", "--keyring", &s(key), "o"],
            );
            import.pipe_ok("gpg-import");
            assert_eq!(
                import.stdout(),
                "Imported 1 GPG key to remote \"o\"\n",
                "{tool:?}"
            );
        }
        dirs
    };
    let same = |dirs: &[PathBuf; 2], args: &[&str], ok: bool| {
        let u = p.run(Tool::Upstream, &dirs[0], args);
        let r = p.run(Tool::Rostree, &dirs[1], args);
        assert_eq!(u.output.status.success(), ok, "{args:?}: {}", u.stderr());
        assert_eq!(r.output.status.success(), ok, "{args:?}: {}", r.stderr());
        if !ok {
            assert_eq!(error_line(&u), error_line(&r), "{args:?}");
            let refs = p
                .run(Tool::Rostree, &dirs[1], ["refs"])
                .pipe_ok("refs")
                .stdout();
            assert_eq!(refs, "", "{args:?}");
        }
    };
    let trusting_a = setup("a", &public_a, &[]);
    same(&trusting_a, &["pull", "o", "plain"], false);
    // pull-local checks the same way, with the keys of the remote it names.
    let local = |r: &str| -> Vec<String> {
        vec![
            "pull-local".into(),
            "--remote=o".into(),
            "--gpg-verify".into(),
            s(&src),
            r.into(),
        ]
    };
    for (r, ok) in [("plain", false), ("main", true)] {
        let args = local(r);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        same(&trusting_a, &args, ok);
    }
    same(&trusting_a, &["pull", "o", "main"], true);
    // The signature listing of `show`, on either repo.
    for repo in &trusting_a {
        let show = |tool| {
            p.run(tool, repo, ["show", "--gpg-verify-remote=o", "o:main"])
                .pipe_ok("show --gpg-verify-remote")
                .stdout()
        };
        let listing = show(Tool::Rostree);
        assert_eq!(show(Tool::Upstream), listing);
        assert!(
            listing.contains("Good signature from \"alice <alice@example.com>\""),
            "{listing}"
        );
    }
    // The keyring upstream wrote (GnuPG adds trust packets to it) reads with its user IDs.
    let listed = p
        .run(
            Tool::Rostree,
            &trusting_a[0],
            ["remote", "gpg-list-keys", "o"],
        )
        .pipe_ok("gpg-list-keys")
        .stdout();
    assert!(
        listed.contains("UID: alice <alice@example.com>"),
        "{listed}"
    );
    p.run(Tool::Upstream, &trusting_a[1], ["fsck"])
        .pipe_ok("fsck");
    let trusting_b = setup("b", &public_b, &[]);
    same(&trusting_b, &["pull", "o", "main"], false);
    // Summaries: signed by A, so B's keyring refuses them.
    let summary_a = setup("sa", &public_a, &["--set=gpg-verify-summary=true"]);
    same(&summary_a, &["pull", "o", "main"], true);
    let summary_b = setup(
        "sb",
        &public_b,
        &["--set=gpg-verify-summary=true", "--no-gpg-verify"],
    );
    let r = p.run(Tool::Rostree, &summary_b[1], ["pull", "o", "main"]);
    assert!(!r.output.status.success());
    assert!(
        r.stderr().contains("Can't verify summary"),
        "{}",
        r.stderr()
    );
    // Keys given at `remote add`, and listed.
    let dest = p.path("added");
    let rs = |args: &[&str]| p.run(Tool::Rostree, &dest, args);
    rs(&["init", "--mode=bare-user"]).pipe_ok("init");
    let added = rs(&[
        "remote",
        "add",
        &format!("--gpg-import={}", s(&public_a)),
        "o",
        serve.url(),
    ]);
    added.pipe_ok("remote add --gpg-import");
    assert_eq!(added.stdout(), "Imported 1 GPG key to remote \"o\"\n");
    let listed = rs(&["remote", "gpg-list-keys", "o"])
        .pipe_ok("list")
        .stdout();
    assert!(
        listed.contains(&key_a) && listed.contains("alice <alice@example.com>"),
        "{listed}"
    );
    rs(&["pull", "o", "main"]).pipe_ok("pull");
}

/// A commit signed by a key that has since expired, or been revoked, is refused by both
/// tools (rostree names the reason).
#[test]
fn expired_and_revoked_keys_are_refused() {
    let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), Mode::Archive);
    let (home_old, key_old, _) = make_key(&p, "brief", "never");
    let (home_rev, key_rev, _) = make_key(&p, "revoked", "never");
    let tree = p.path("tree");
    TreeSpec::new().file("a", "a\n", 0o644).create(&tree);
    let src = p.repo(Tool::Upstream).to_owned();
    for (branch, key, home) in [("old", &key_old, &home_old), ("rev", &key_rev, &home_rev)] {
        p.run(
            Tool::Upstream,
            &src,
            [
                "commit",
                "-b",
                branch,
                &format!("--gpg-sign={key}"),
                &format!("--gpg-homedir={}", s(home)),
                &s(&tree),
            ],
        )
        .pipe_ok("signed commit");
    }
    expire_long_ago(&home_old, &key_old, None);
    let public_old = export(&p, &home_old, &[&key_old], "brief-now.gpg");
    revoke(&p, &home_rev, &key_rev);
    let public_rev = export(&p, &home_rev, &[&key_rev], "revoked-now.gpg");
    let serve = RostreeServe::start(p.bin(Tool::Rostree), &src);
    for (branch, public, reason) in [
        ("old", &public_old, "Key expired"),
        ("rev", &public_rev, "Key revoked"),
    ] {
        for tool in [Tool::Upstream, Tool::Rostree] {
            let dest = p.path(format!("{branch}-{tool:?}"));
            p.run(tool, &dest, ["init", "--mode=archive"])
                .pipe_ok("init");
            p.run(tool, &dest, ["remote", "add", "o", serve.url()])
                .pipe_ok("remote add");
            p.run(
                tool,
                &dest,
                ["remote", "gpg-import", "--keyring", &s(public), "o"],
            )
            .pipe_ok("gpg-import");
            let r = p.run(tool, &dest, ["pull", "o", branch]);
            assert!(!r.output.status.success(), "{tool:?} pulled {branch}");
            // Both describe the signature, as upstream's error does.
            assert!(r.stderr().contains(reason), "{tool:?}: {}", r.stderr());
        }
    }
}

/// `show` describes each signature as upstream (gpgme) does, byte for byte: good, by a key
/// expired since, by a subkey whose primary key expired, by a revoked key, by an unknown
/// key. Keys and expiries are made on a fixed clock.
#[test]
fn show_describes_signatures_as_upstream() {
    let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), Mode::Archive);
    let home = p.path("gnupg-many");
    std::fs::create_dir_all(&home).expect("mkdir");
    Invocation::new("chmod").args(["700", &s(&home)]).ok();
    let created = "20200101T000000";
    let fingerprint = |uid: &str| -> String {
        gpg_at(&home, created, &["--with-colons", "--list-keys", uid])
            .lines()
            .find(|l| l.starts_with("fpr:"))
            .and_then(|l| l.split(':').nth(9))
            .expect("fingerprint")
            .to_owned()
    };
    for name in ["good", "old", "sub", "gone", "stranger"] {
        gpg_at(
            &home,
            created,
            &[
                "--quick-gen-key",
                &format!("{name} <{name}@example.com>"),
                "rsa2048",
                "sign",
                "never",
            ],
        );
    }
    let [good, old, sub, gone, stranger] = ["good", "old", "sub", "gone", "stranger"]
        .map(|n| fingerprint(&format!("<{n}@example.com>")));
    gpg_at(
        &home,
        created,
        &["--quick-add-key", &sub, "rsa2048", "sign", "never"],
    );
    let tree = p.path("tree");
    TreeSpec::new().file("a", "a\n", 0o644).create(&tree);
    let repo = p.repo(Tool::Rostree).to_owned();
    let mut args = vec![
        "commit".to_owned(),
        "-b".into(),
        "main".into(),
        format!("--gpg-homedir={}", s(&home)),
        s(&tree),
    ];
    for key in [&good, &old, &sub, &gone, &stranger] {
        args.push(format!("--gpg-sign={key}"));
    }
    p.run(Tool::Rostree, &repo, &args).pipe_ok("signed commit");
    expire_long_ago(&home, &old, None);
    expire_long_ago(&home, &sub, None);
    revoke(&p, &home, &gone);
    let keyring = export(&p, &home, &[&good, &old, &sub, &gone], "known.gpg");
    let mut shown = Vec::new();
    for tool in [Tool::Upstream, Tool::Rostree] {
        let dest = p.path(format!("show-{tool:?}"));
        p.run(tool, &dest, ["init", "--mode=archive"])
            .pipe_ok("init");
        p.run(tool, &dest, ["remote", "add", "o", "http://127.0.0.1:1"])
            .pipe_ok("remote add");
        p.run(
            tool,
            &dest,
            ["remote", "gpg-import", "--keyring", &s(&keyring), "o"],
        )
        .pipe_ok("gpg-import");
        p.run(tool, &dest, ["pull-local", &s(&repo), "main"])
            .pipe_ok("pull-local");
        shown.push(
            p.run(tool, &dest, ["show", "--gpg-verify-remote=o", "main"])
                .pipe_ok("show")
                .stdout(),
        );
    }
    let text = &shown[1];
    for expected in [
        "Found 5 signatures:",
        "Good signature from \"good <good@example.com>\"",
        "BAD signature from \"old <old@example.com>\"",
        // GLib pads the day with a figure space.
        "Key expired Tue Jun \u{2007}1 00:00:00 2021",
        "Primary key expired Tue Jun \u{2007}1 00:00:00 2021",
        "Key revoked",
        "Can't check signature: public key not found",
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
    assert_eq!(shown[0], shown[1], "upstream's show, then rostree's");
}

/// `remote gpg-import` and `gpg-list-keys` as upstream: keys chosen by fingerprint or key
/// ID, keys already held not counted, armored exports one after another on stdin, a key
/// that expired or was revoked since updated in place; listings byte for byte (subkeys,
/// times, WKD URLs, expiry and revocation marks); a remote's listing without the global
/// keys, the global listing without a remote; `remote delete` takes the keyring along.
#[test]
fn gpg_import_and_list_keys_as_upstream() {
    let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), Mode::Archive);
    let (home_a, key_a, _) = make_key(&p, "alice", "never");
    let (home_b, key_b, _) = make_key(&p, "bob", "never");
    // A signing subkey, made on a fixed clock too.
    gpg_at(
        &home_a,
        "20200201T000000",
        &["--quick-add-key", &key_a, "rsa2048", "sign", "never"],
    );
    let armored = |home: &Path, key: &str| {
        let out = Invocation::new("gpg")
            .args(["--batch", "--homedir", &s(home), "--armor", "--export", key])
            .ok();
        out.stdout
    };
    let both = p.path("both.asc");
    std::fs::write(
        &both,
        [armored(&home_a, &key_a), armored(&home_b, &key_b)].concat(),
    )
    .expect("keys");
    let global = p.path("global");
    std::fs::create_dir_all(&global).expect("mkdir");
    std::fs::copy(
        export(&p, &home_b, &[&key_b], "b.gpg"),
        global.join("b.gpg"),
    )
    .expect("cp");
    let run = |tool: Tool, repo: &Path, args: &[&str], stdin: Option<&Path>| {
        let mut inv = p
            .invocation(tool, repo, args)
            .env("TZ", "UTC")
            .env("OSTREE_GPG_HOME", &global);
        if let Some(file) = stdin {
            inv = inv.stdin_file(file);
        }
        let output = inv.output();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .find(|l| l.starts_with("error:"))
                .unwrap_or_default()
                .to_owned(),
        )
    };
    let mut transcripts = Vec::new();
    for tool in [Tool::Upstream, Tool::Rostree] {
        let repo = p.path(format!("repo-{tool:?}"));
        let mut log = Vec::new();
        let mut step = |args: &[&str], stdin: Option<&Path>| {
            log.push((args.join(" "), run(tool, &repo, args, stdin)));
        };
        step(&["init", "--mode=archive"], None);
        step(&["remote", "add", "R", "http://example.com/repo"], None);
        step(&["remote", "add", "S", "http://example.com/repo"], None);
        let both = s(&both);
        let long_id_b = &key_b[key_b.len() - 16..];
        step(
            &["remote", "gpg-import", "--keyring", &both, "R", long_id_b],
            None,
        );
        step(
            &[
                "remote",
                "gpg-import",
                "--keyring",
                &both,
                "R",
                &key_a,
                &key_b,
            ],
            None,
        );
        step(&["remote", "gpg-import", "--keyring", &both, "R"], None);
        step(
            &["remote", "gpg-import", "--keyring", &both, "R", "DEADBEEF"],
            None,
        );
        step(&["remote", "gpg-list-keys", "R"], None);
        step(&["remote", "gpg-list-keys", "S"], None);
        step(&["remote", "gpg-list-keys"], None);
        step(
            &["remote", "gpg-import", "--stdin", "S"],
            Some(std::path::Path::new(&both)),
        );
        step(
            &["remote", "gpg-import", "--stdin", "--keyring", &both, "S"],
            None,
        );
        step(&["remote", "gpg-import", "S"], None);
        transcripts.push((log, repo));
    }
    // Expired, then revoked: each re-imported into both repos.
    expire_long_ago(&home_a, &key_a, None);
    let expired = p.path("expired.asc");
    std::fs::write(&expired, armored(&home_a, &key_a)).expect("write");
    revoke(&p, &home_a, &key_a);
    let revoked = p.path("revoked.asc");
    std::fs::write(&revoked, armored(&home_a, &key_a)).expect("write");
    for (log, repo) in &mut transcripts {
        let tool = if repo.ends_with("repo-Upstream") {
            Tool::Upstream
        } else {
            Tool::Rostree
        };
        for keys in [&expired, &revoked] {
            let import = ["remote", "gpg-import", "--keyring", &s(keys), "R"];
            log.push((import.join(" "), run(tool, repo, &import, None)));
            let list = ["remote", "gpg-list-keys", "R"];
            log.push((list.join(" "), run(tool, repo, &list, None)));
        }
        let delete = ["remote", "delete", "R"];
        log.push((delete.join(" "), run(tool, repo, &delete, None)));
        assert!(
            !repo.join("R.trustedkeys.gpg").exists(),
            "{tool:?} kept the keyring"
        );
    }
    let (upstream, rostree) = (&transcripts[0].0, &transcripts[1].0);
    assert_eq!(upstream.len(), rostree.len());
    for ((step, u), (_, r)) in upstream.iter().zip(rostree) {
        assert_eq!(r, u, "{step}");
    }
    // The listings showed what they should (so that agreeing is not agreeing on nothing).
    let listed = |needle: &str| upstream.iter().any(|(_, (_, out, _))| out.contains(needle));
    for needle in [
        "  Subkey: ",
        "  Expired: ",
        " (revoked)",
        "  Direct update URL: https://",
    ] {
        assert!(listed(needle), "no {needle:?} in {upstream:#?}");
    }
}

/// A commit already stored is checked again against the keys of the remote it is pulled
/// from, as upstream checks it; `gpgkeypath` lists use `;` or `,` but not both, and name
/// missing files in upstream's words.
#[test]
fn stored_commits_are_verified_again_and_key_paths_are_checked() {
    let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), Mode::Archive);
    let (home_a, key_a, public_a) = make_key(&p, "alice", "never");
    let (_, _, public_b) = make_key(&p, "bob", "never");
    let tree = p.path("tree");
    TreeSpec::new().file("a", "a\n", 0o644).create(&tree);
    let src = p.repo(Tool::Upstream).to_owned();
    p.run(
        Tool::Upstream,
        &src,
        [
            "commit",
            "-b",
            "main",
            "--timestamp=@1",
            &format!("--gpg-sign={key_a}"),
            &format!("--gpg-homedir={}", s(&home_a)),
            &s(&tree),
        ],
    )
    .pipe_ok("signed commit");
    let url = format!("file://{}", s(&src));
    let missing = p.path("missing.asc");
    let cases: [(&str, String, Option<&str>); 5] = [
        ("good", s(&public_a), None),
        ("other", s(&public_b), Some("public key not found")),
        (
            "mixed",
            format!("{};{},{}", s(&public_b), s(&public_a), s(&public_a)),
            Some("key value list contains more than one separator"),
        ),
        (
            "absent",
            format!("{},{}", s(&public_a), s(&missing)),
            Some("No such file or directory"),
        ),
        (
            "listed",
            format!("{};{};", s(&public_b), s(&public_a)),
            None,
        ),
    ];
    for tool in [Tool::Upstream, Tool::Rostree] {
        let dest = p.path(format!("dest-{tool:?}"));
        p.run(tool, &dest, ["init", "--mode=archive"])
            .pipe_ok("init");
        for (name, keypath, refusal) in &cases {
            p.run(
                tool,
                &dest,
                [
                    "remote",
                    "add",
                    &format!("--set=gpgkeypath={keypath}"),
                    name,
                    &url,
                ],
            )
            .pipe_ok("remote add");
            // After "good", the commit is stored: the others pull it again.
            let r = p.run(tool, &dest, ["pull", name, "main"]);
            match refusal {
                None => {
                    r.pipe_ok("pull");
                }
                Some(words) => {
                    assert!(!r.output.status.success(), "{tool:?} {name}: pulled");
                    assert!(
                        r.stderr().contains(words),
                        "{tool:?} {name}: {}",
                        r.stderr()
                    );
                }
            }
        }
    }
}
