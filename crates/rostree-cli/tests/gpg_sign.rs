//! GPG signatures made by rostree, with keys read from a GnuPG home directory (made here by
//! `gpg`; rostree itself never runs it), checked by upstream `ostree`: `show
//! --gpg-verify-remote`, `pull` with gpg-verify and gpg-verify-summary, `remote summary`.
//! Refusals are compared with upstream refusing the same commands.

use std::path::{Path, PathBuf};

use rostree_testutil::http::RostreeServe;
use rostree_testutil::repo::{Pair, Run, Tool, fsck};
use rostree_testutil::{Invocation, Mode, TreeSpec};

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// One GnuPG home holding the keys of the tests, made by `gpg`.
struct Home {
    dir: PathBuf,
}

impl Home {
    fn new(p: &Pair) -> Home {
        let dir = p.path("gnupg");
        std::fs::create_dir_all(&dir).expect("mkdir");
        Invocation::new("chmod").args(["700", &s(&dir)]).ok();
        Home { dir }
    }

    fn gpg(&self, passphrase: &str, args: &[&str]) -> String {
        let out = Invocation::new("gpg")
            .args([
                "--batch",
                "--homedir",
                &s(&self.dir),
                "--passphrase",
                passphrase,
                "--pinentry-mode",
                "loopback",
            ])
            .args(args)
            .ok();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Fingerprints (primary first, then subkeys) of the key whose user ID holds `uid`.
    fn fingerprints(&self, uid: &str) -> Vec<String> {
        self.gpg("", &["--with-colons", "--list-keys", uid])
            .lines()
            .filter(|l| l.starts_with("fpr:"))
            .filter_map(|l| l.split(':').nth(9).map(str::to_owned))
            .collect()
    }

    /// A primary key that signs; returns its fingerprint.
    fn add_key(&self, name: &str, algo: &str, passphrase: &str) -> String {
        let uid = format!("{name} <{name}@example.com>");
        self.gpg(
            passphrase,
            &["--quick-gen-key", &uid, algo, "sign", "never"],
        );
        self.fingerprints(&uid).remove(0)
    }

    /// A primary key that only certifies, with an ed25519 signing subkey; returns the
    /// fingerprints of both.
    fn add_key_with_subkey(&self, name: &str) -> (String, String) {
        let uid = format!("{name} <{name}@example.com>");
        self.gpg("", &["--quick-gen-key", &uid, "ed25519", "cert", "never"]);
        let primary = self.fingerprints(&uid).remove(0);
        self.gpg(
            "",
            &["--quick-add-key", &primary, "ed25519", "sign", "never"],
        );
        let subkey = self.fingerprints(&uid).remove(1);
        (primary, subkey)
    }

    fn export(&self, path: &Path, keys: &[&str]) {
        let exported = Invocation::new("gpg")
            .args(["--batch", "--homedir", &s(&self.dir), "--export"])
            .args(keys)
            .ok();
        std::fs::write(path, exported.stdout).expect("writing the public keys");
    }
}

fn error_line(r: &Run) -> String {
    r.stderr()
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_default()
        .to_owned()
}

/// `show --gpg-verify-remote` output without the commit's own lines, which differ between
/// the two repos.
fn signature_report(r: &Run) -> String {
    let out = r.stdout();
    out.split_once("Found ")
        .map(|(_, rest)| format!("Found {rest}"))
        .unwrap_or(out)
}

#[test]
fn rostree_gpg_signatures_verify_in_upstream() {
    let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), Mode::Archive);
    let home = Home::new(&p);
    let alice = home.add_key("alice", "rsa2048", "");
    let (carol, carol_sub) = home.add_key_with_subkey("carol");
    let trusted = p.path("trusted.gpg");
    home.export(&trusted, &[&alice, &carol]);
    let tree = p.path("tree");
    TreeSpec::new()
        .file("a", "a\n", 0o644)
        .file("d/b", "b\n", 0o755)
        .create(&tree);
    let homedir = format!("--gpg-homedir={}", s(&home.dir));
    let rs = p.repo(Tool::Rostree).to_owned();
    let rostree = |args: &[&str]| p.run(Tool::Rostree, &rs, args);
    // Named by a piece of its user ID.
    rostree(&[
        "commit",
        "-b",
        "main",
        "--gpg-sign=alice@example.com",
        &homedir,
        &format!("--tree=dir={}", s(&tree)),
    ])
    .pipe_ok("signed commit");
    // Named by its primary key: the signing subkey signs, as with gpg.
    rostree(&["gpg-sign", "main", &carol, &homedir]).pipe_ok("gpg-sign");
    rostree(&["summary", "-u", &format!("--gpg-sign={alice}"), &homedir]).pipe_ok("summary");
    fsck(&rs);

    // Both tools describe the signatures alike, and upstream finds them good. `show` takes
    // the keys of a remote of the repo it runs on.
    let show = |tool: Tool| p.run(tool, &rs, ["show", "main", "--gpg-verify-remote=o"]);
    p.run(
        Tool::Upstream,
        &rs,
        ["remote", "add", "o", "file:///dev/null"],
    )
    .pipe_ok("remote add");
    p.run(
        Tool::Upstream,
        &rs,
        ["remote", "gpg-import", "-k", &s(&trusted), "o"],
    )
    .pipe_ok("gpg-import");
    let up = show(Tool::Upstream);
    up.pipe_ok("upstream show");
    let report = signature_report(&up);
    assert!(report.starts_with("Found 2 signatures:"), "{report}");
    assert_eq!(report.matches("Good signature from").count(), 2, "{report}");
    assert!(
        report.contains(&format!("using RSA key ID {}", &alice[24..])),
        "{report}"
    );
    assert!(
        report.contains(&format!("using EdDSA key ID {}", &carol_sub[24..])),
        "{report}"
    );
    let mine = show(Tool::Rostree);
    mine.pipe_ok("rostree show");
    assert_eq!(signature_report(&mine), report);
    // Unasked, `show` lists them too: checked with the keys of all remotes, or with those
    // of a --gpg-homedir directory.
    let keydir = p.path("keydir");
    std::fs::create_dir_all(&keydir).expect("mkdir");
    std::fs::copy(&trusted, keydir.join("trusted.gpg")).expect("copy");
    let homedir_arg = format!("--gpg-homedir={}", s(&keydir));
    for args in [vec!["show", "main"], vec!["show", "main", &homedir_arg]] {
        let [u, r] = [Tool::Upstream, Tool::Rostree].map(|tool| p.run(tool, &rs, &args));
        assert_eq!(
            r.pipe_ok("show").stdout(),
            u.pipe_ok("show").stdout(),
            "{args:?}"
        );
    }
    std::fs::remove_file(rs.join("o.trustedkeys.gpg")).expect("dropping the remote's keys");
    let [u, r] = [Tool::Upstream, Tool::Rostree].map(|tool| p.run(tool, &rs, ["show", "main"]));
    let unknown = u.pipe_ok("show").stdout();
    assert!(unknown.contains("public key not found"), "{unknown}");
    assert_eq!(r.pipe_ok("show").stdout(), unknown);
    let [u, r] = [Tool::Upstream, Tool::Rostree]
        .map(|tool| p.run(tool, &rs, ["show", "main", &homedir_arg]));
    assert_eq!(r.pipe_ok("show").stdout(), u.pipe_ok("show").stdout());
    p.run(
        Tool::Upstream,
        &rs,
        ["remote", "gpg-import", "-k", &s(&trusted), "o"],
    )
    .pipe_ok("gpg-import");

    // Upstream pulls it over HTTP, checking the commit's and the summary's signatures.
    let serve = RostreeServe::start(p.bin(Tool::Rostree), &rs);
    let dst = p.path("upstream-pull");
    let up = |args: &[&str]| p.run(Tool::Upstream, &dst, args);
    up(&["init", "--mode=bare-user"]).pipe_ok("init");
    up(&[
        "remote",
        "add",
        "--set=gpg-verify-summary=true",
        "o",
        serve.url(),
    ])
    .pipe_ok("remote add");
    // Without the keys, upstream refuses.
    let refused = up(&["pull", "o", "main"]);
    assert!(!refused.output.status.success(), "{}", refused.stdout());
    up(&["remote", "gpg-import", "-k", &s(&trusted), "o"]).pipe_ok("gpg-import");
    up(&["remote", "summary", "o"]).pipe_ok("remote summary");
    up(&["pull", "o", "main"]).pipe_ok("upstream pull");
    let pulled = up(&["rev-parse", "o:main"]).pipe_ok("rev-parse").stdout();
    let local = rostree(&["rev-parse", "main"])
        .pipe_ok("rev-parse")
        .stdout();
    assert_eq!(pulled, local);
    // And rostree pulls it the same way.
    let mine = p.path("rostree-pull");
    let rs_pull = |args: &[&str]| p.run(Tool::Rostree, &mine, args);
    rs_pull(&["init", "--mode=bare-user"]).pipe_ok("init");
    rs_pull(&[
        "remote",
        "add",
        "--set=gpg-verify-summary=true",
        &format!("--gpg-import={}", s(&trusted)),
        "o",
        serve.url(),
    ])
    .pipe_ok("remote add");
    rs_pull(&["pull", "o", "main"]).pipe_ok("rostree pull");
    let pulled = rs_pull(&["rev-parse", "o:main"])
        .pipe_ok("rev-parse")
        .stdout();
    assert_eq!(pulled, local);
}

#[test]
fn gpg_signing_refusals_match_upstream() {
    let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), Mode::Archive);
    let home = Home::new(&p);
    let alice = home.add_key("alice", "rsa2048", "");
    home.add_key("bob", "ed25519", "");
    let tree = p.path("tree");
    TreeSpec::new().file("a", "a\n", 0o644).create(&tree);
    let homedir = format!("--gpg-homedir={}", s(&home.dir));
    let tree_arg = format!("--tree=dir={}", s(&tree));
    let both = |args: &[&str]| -> (Run, Run) { p.both(args) };
    let same_refusal = |args: &[&str]| {
        let (u, r) = both(args);
        assert!(!u.output.status.success(), "{args:?}");
        assert!(!r.output.status.success(), "{args:?}");
        assert_eq!(error_line(&r), error_line(&u), "{args:?}");
        error_line(&r)
    };
    // A key the home does not have: nothing is committed.
    let missing = same_refusal(&[
        "commit",
        "-b",
        "main",
        "--gpg-sign=DEADBEEFDEADBEEF",
        &homedir,
        &tree_arg,
    ]);
    assert_eq!(
        missing,
        format!(
            "error: No gpg key found with ID DEADBEEFDEADBEEF (homedir: {})",
            s(&home.dir)
        )
    );
    for tool in [Tool::Upstream, Tool::Rostree] {
        let refs = p.run(tool, p.repo(tool), ["refs"]).pipe_ok("refs").stdout();
        assert_eq!(refs, "", "{tool:?}");
    }
    // Two keys answer to "example.com".
    same_refusal(&[
        "commit",
        "-b",
        "main",
        "--gpg-sign=example.com",
        &homedir,
        &tree_arg,
    ]);
    // Each tool signs its own commit; signing again with the same key is refused.
    for tool in [Tool::Upstream, Tool::Rostree] {
        p.run(
            tool,
            p.repo(tool),
            [
                "commit",
                "-b",
                "main",
                "--timestamp=@1",
                &format!("--gpg-sign={alice}"),
                &homedir,
                &tree_arg,
            ],
        )
        .pipe_ok("signed commit");
    }
    let short = &alice[32..];
    // Upstream matches signatures to key IDs only for keys in its global keyring
    // ($OSTREE_GPG_HOME); rostree goes by the issuer the signature names, keyring or not.
    // With the key there, both tools agree.
    let global = p.path("global-keys");
    std::fs::create_dir_all(&global).expect("mkdir");
    home.export(&global.join("alice.gpg"), &[&alice]);
    let with_global = |tool: Tool, args: &[&str]| -> Run {
        let inv = p
            .invocation(tool, p.repo(tool), args)
            .env("OSTREE_GPG_HOME", &global);
        Run {
            command: inv.display(),
            output: inv.output(),
        }
    };
    let again = [Tool::Upstream, Tool::Rostree]
        .map(|tool| with_global(tool, &["gpg-sign", "main", short, &homedir]));
    for run in &again {
        assert_eq!(
            error_line(run),
            format!("error: Commit is already signed with GPG key {short}"),
            "{}",
            run.command
        );
    }
    let without_global = p.run(
        Tool::Rostree,
        p.repo(Tool::Rostree),
        ["gpg-sign", "main", short, &homedir],
    );
    assert_eq!(error_line(&without_global), error_line(&again[1]));
    same_refusal(&["gpg-sign", "main"]);
    same_refusal(&["gpg-sign"]);
    // Deleting by key ID, then again when there is none left.
    for expected in ["Signatures deleted: 1\n", "Signatures deleted: 0\n"] {
        let [u, r] = [Tool::Upstream, Tool::Rostree]
            .map(|tool| with_global(tool, &["gpg-sign", "--delete", "main", short]));
        assert_eq!(u.pipe_ok("delete").stdout(), expected);
        assert_eq!(r.pipe_ok("delete").stdout(), expected);
    }
    fsck(p.repo(Tool::Rostree));
}

#[test]
fn passphrase_protected_keys_are_refused_with_a_reason() {
    let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), Mode::Archive);
    let home = Home::new(&p);
    let dave = home.add_key("dave", "rsa2048", "secret");
    let tree = p.path("tree");
    TreeSpec::new().file("a", "a\n", 0o644).create(&tree);
    let rs = p.repo(Tool::Rostree).to_owned();
    let run = p.run(
        Tool::Rostree,
        &rs,
        [
            "commit",
            "-b",
            "main",
            &format!("--gpg-sign={dave}"),
            &format!("--gpg-homedir={}", s(&home.dir)),
            &format!("--tree=dir={}", s(&tree)),
        ],
    );
    assert!(!run.output.status.success());
    assert!(
        error_line(&run).contains(&format!(
            "The secret key {dave} is protected by a passphrase"
        )),
        "{}",
        run.stderr()
    );
    let refs = p.run(Tool::Rostree, &rs, ["refs"]).pipe_ok("refs").stdout();
    assert_eq!(refs, "");
    let objects = std::fs::read_dir(rs.join("objects"))
        .expect("objects")
        .filter_map(Result::ok)
        .filter(|e| std::fs::read_dir(e.path()).is_ok_and(|mut d| d.next().is_some()))
        .count();
    assert_eq!(objects, 0, "objects were written for a refused commit");
}

/// Pulls that must not happen, refused by both tools before any ref moves: an unsigned
/// commit, one signed by an untrusted key, one whose signature covers other bytes, one
/// whose ref binding names another ref, and a summary whose signature does not match it.
/// rostree's message names the commit and the reason.
#[test]
fn refused_pulls_name_the_commit_and_the_reason() {
    let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), Mode::Archive);
    let home = Home::new(&p);
    let alice = home.add_key("alice", "rsa2048", "");
    let bob = home.add_key("bob", "rsa2048", "");
    let trusted = p.path("alice.gpg");
    home.export(&trusted, &[&alice]);
    let tree = p.path("tree");
    TreeSpec::new().file("a", "a\n", 0o644).create(&tree);
    let homedir = format!("--gpg-homedir={}", s(&home.dir));
    let tree_arg = format!("--tree=dir={}", s(&tree));
    let src = p.repo(Tool::Rostree).to_owned();
    let rostree = |args: &[&str]| p.run(Tool::Rostree, &src, args);
    let commit = |branch: &str, key: Option<&str>, subject: &str| -> String {
        let sign = key.map(|k| format!("--gpg-sign={k}"));
        let mut args = vec!["commit", "-b", branch, "-s", subject, &tree_arg, &homedir];
        if let Some(sign) = &sign {
            args.push(sign);
        }
        rostree(&args).pipe_ok("commit").stdout().trim().to_owned()
    };
    commit("main", Some(&alice), "good");
    let plain = commit("plain", None, "unsigned");
    let untrusted = commit("untrusted", Some(&bob), "by bob");
    // A good signature, moved onto another commit.
    let signed = commit("donor", Some(&alice), "donor");
    let tampered = commit("tampered", None, "tampered");
    let meta = |c: &str| src.join(format!("objects/{}/{}.commitmeta", &c[..2], &c[2..]));
    std::fs::copy(meta(&signed), meta(&tampered)).expect("copying the signature");
    // Signed and bound to `bound`, then published as `sidegrade`.
    let bound = commit("bound", Some(&alice), "bound elsewhere");
    std::fs::write(src.join("refs/heads/sidegrade"), format!("{bound}\n")).expect("ref");
    rostree(&["summary", "-u", &format!("--gpg-sign={alice}"), &homedir]).pipe_ok("summary");
    let serve = RostreeServe::start(p.bin(Tool::Rostree), &src);

    let setup = |name: &str, extra: &[&str]| -> [PathBuf; 2] {
        let dirs = [p.path(format!("{name}-up")), p.path(format!("{name}-rs"))];
        for (tool, dir) in [(Tool::Upstream, &dirs[0]), (Tool::Rostree, &dirs[1])] {
            p.run(tool, dir, ["init", "--mode=archive"]).pipe_ok("init");
            let mut args = vec!["remote", "add"];
            args.extend(extra);
            args.extend(["o", serve.url()]);
            p.run(tool, dir, &args).pipe_ok("remote add");
            p.run(tool, dir, ["remote", "gpg-import", "-k", &s(&trusted), "o"])
                .pipe_ok("gpg-import");
        }
        dirs
    };
    // (rostree's stderr, upstream's)
    let refused = |dirs: &[PathBuf; 2], branch: &str| -> (String, String) {
        let u = p.run(Tool::Upstream, &dirs[0], ["pull", "o", branch]);
        let r = p.run(Tool::Rostree, &dirs[1], ["pull", "o", branch]);
        assert!(!u.output.status.success(), "upstream pulled {branch}");
        assert!(!r.output.status.success(), "rostree pulled {branch}");
        for (tool, dir) in [(Tool::Upstream, &dirs[0]), (Tool::Rostree, &dirs[1])] {
            let refs = p.run(tool, dir, ["refs"]).pipe_ok("refs").stdout();
            assert_eq!(refs, "", "{tool:?} moved a ref pulling {branch}");
        }
        (r.stderr(), u.stderr())
    };
    let dirs = setup("commits", &[]);
    for (branch, checksum, reason, as_upstream) in [
        ("plain", &plain, "no signatures found", true),
        ("untrusted", &untrusted, "public key not found", true),
        (
            "tampered",
            &tampered,
            "BAD signature from \"alice <alice@example.com>\"",
            true,
        ),
        ("sidegrade", &bound, "sidegrade", false),
    ] {
        let (message, upstream) = refused(&dirs, branch);
        assert!(
            message.contains(checksum.as_str()) && message.contains(reason),
            "{branch}: {message}"
        );
        if as_upstream {
            assert_eq!(message, upstream, "{branch}");
        }
    }
    p.run(Tool::Rostree, &dirs[1], ["pull", "o", "main"])
        .pipe_ok("the good commit still pulls");

    // A summary signature over another summary.
    let old_signature = std::fs::read(src.join("summary.sig")).expect("summary.sig");
    // Metadata makes it differ even within the same second.
    rostree(&["summary", "-u", "--add-metadata=changed='yes'"]).pipe_ok("summary");
    std::fs::write(src.join("summary.sig"), old_signature).expect("stale summary.sig");
    let dirs = setup("summary", &["--set=gpg-verify-summary=true"]);
    let (message, _) = refused(&dirs, "main");
    assert!(message.contains("summary"), "{message}");
}

/// A GnuPG 1 home (`pubring.gpg`, `secring.gpg`, no `private-keys-v1.d`), as upstream's
/// test suite ships one: rostree signs with its secret keys (RSA and an Ed25519 subkey),
/// and upstream verifies the signatures.
#[test]
fn gnupg1_homes_sign() {
    let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), Mode::Archive);
    let home = Home::new(&p);
    let rsa = home.add_key("old-rsa", "rsa2048", "");
    let (primary, _subkey) = home.add_key_with_subkey("old-ed");
    let old_home = p.path("gnupg1");
    std::fs::create_dir_all(&old_home).expect("mkdir");
    home.export(&old_home.join("pubring.gpg"), &[&rsa, &primary]);
    let secrets = Invocation::new("gpg")
        .args([
            "--batch",
            "--homedir",
            &s(&home.dir),
            "--export-secret-keys",
            &rsa,
            &primary,
        ])
        .ok();
    std::fs::write(old_home.join("secring.gpg"), secrets.stdout).expect("secring");
    let tree = p.path("tree");
    TreeSpec::new().file("a", "a\n", 0o644).create(&tree);
    let repo = p.repo(Tool::Rostree).to_owned();
    for key in [&rsa[24..], &primary[..]] {
        p.run(
            Tool::Rostree,
            &repo,
            [
                "commit",
                "-b",
                "main",
                &format!("--gpg-sign={key}"),
                &format!("--gpg-homedir={}", s(&old_home)),
                &s(&tree),
            ],
        )
        .pipe_ok("commit signed with a GnuPG 1 key");
        let keyring = p.path("trusted.gpg");
        home.export(&keyring, &[&rsa, &primary]);
        p.run(
            Tool::Upstream,
            &repo,
            [
                "remote",
                "add",
                "--if-not-exists",
                "o",
                "http://127.0.0.1:1",
            ],
        )
        .pipe_ok("remote add");
        p.run(
            Tool::Upstream,
            &repo,
            ["remote", "gpg-import", "--keyring", &s(&keyring), "o"],
        )
        .pipe_ok("gpg-import");
        let shown = p
            .run(
                Tool::Upstream,
                &repo,
                ["show", "--gpg-verify-remote=o", "main"],
            )
            .pipe_ok("show")
            .stdout();
        assert!(shown.contains("Found 1 signature:"), "{shown}");
        assert!(shown.contains("Good signature from"), "{shown}");
    }
}
