//! ed25519 signatures (`commit --sign`, `sign`, `sign --verify`, `sign -d`, pulls with
//! `sign-verify`). Debian's upstream ostree is built without libsodium, so it cannot make or
//! check these: the keys are RFC 8032's test vectors in libsodium's format, and upstream is
//! used to read the detached metadata rostree writes (its type and content).

use std::path::Path;

use rostree_testutil::http::RostreeServe;
use rostree_testutil::repo::{Pair, Run, Tool};
use rostree_testutil::{Mode, TreeSpec};

/// RFC 8032 7.1 test 1: libsodium's 64-byte secret key (seed, then public key) and public key.
const SECRET_A: &str =
    "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2DXWpgBgrEKt9VL/tPJZAc6DuFy89qmIyWvAhpo9wdRGg==";
const PUBLIC_A: &str = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
const HEX_A: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
/// RFC 8032 7.1 test 2.
const SECRET_B: &str =
    "TM0Imyj/ltqdtsNG7BFOD1uKMZ81q6Yk2oz27U+4pvs9QBfD6EOJWpK3CqdNG368nJgszy7ElozAzVXxKvRmDA==";
const PUBLIC_B: &str = "PUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw=";

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn rs<'a>(p: &Pair, repo: &Path, args: impl IntoIterator<Item = &'a str>) -> Run {
    p.run(Tool::Rostree, repo, args)
}

/// A repo with `main` signed by key A (via `commit --sign`) and `plain` unsigned.
fn signed_repo() -> (Pair, String, String) {
    let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), Mode::Archive);
    let tree = p.path("tree");
    TreeSpec::new().file("a", "a\n", 0o644).create(&tree);
    let repo = p.repo(Tool::Rostree).to_owned();
    let signed = rs(
        &p,
        &repo,
        [
            "commit",
            "-b",
            "main",
            "--timestamp=@1",
            &format!("--sign={SECRET_A}"),
            &s(&tree),
        ],
    )
    .pipe_ok("commit --sign")
    .stdout();
    let plain = rs(
        &p,
        &repo,
        ["commit", "-b", "plain", "--timestamp=@2", &s(&tree)],
    )
    .pipe_ok("commit")
    .stdout();
    rs(&p, &repo, ["summary", "-u"]).pipe_ok("summary");
    (p, signed.trim().to_owned(), plain.trim().to_owned())
}

/// What upstream reads in the detached metadata under `ostree.sign.ed25519`.
fn upstream_signatures(p: &Pair, repo: &Path, commit: &str) -> String {
    p.run(
        Tool::Upstream,
        repo,
        [
            "show",
            "--print-detached-metadata-key=ostree.sign.ed25519",
            commit,
        ],
    )
    .stdout()
}

#[test]
fn sign_verify_and_delete() {
    let (p, signed, plain) = signed_repo();
    let repo = p.repo(Tool::Rostree).to_owned();
    // Upstream sees one 64-byte signature in an `aay`.
    let shown = upstream_signatures(&p, &repo, &signed);
    assert!(
        shown.starts_with("[[byte 0x") || shown.starts_with("[@ay ["),
        "{shown}"
    );
    assert_eq!(shown.matches("0x").count(), 64, "{shown}");
    let ok = rs(&p, &repo, ["sign", "--verify", "main", PUBLIC_A])
        .pipe_ok("verify")
        .stdout();
    assert_eq!(
        ok,
        format!("ed25519: Signature verified successfully with key '{HEX_A}'\n")
    );
    for (args, message) in [
        (
            vec!["sign", "--verify", "main", PUBLIC_B],
            "couldn't be verified",
        ),
        (
            vec!["sign", "--verify", "plain", PUBLIC_A],
            "No valid signatures found: No signatures found",
        ),
        (
            vec!["sign", "--verify", "main", "not-a-key"],
            "Invalid KEY 'not-a-key'",
        ),
        (vec!["sign", "main", PUBLIC_A], "Invalid KEY"),
        (vec!["sign", "main"], "Need at least one KEY-ID"),
        (
            vec!["sign", "--sign-type=spki", "main", SECRET_A],
            "not implemented",
        ),
    ] {
        let r = rs(&p, &repo, args.iter().copied());
        assert!(!r.output.status.success(), "{args:?}");
        assert!(r.stderr().contains(message), "{args:?}: {}", r.stderr());
    }
    // A second key signs too: signatures are appended, and either key verifies.
    rs(&p, &repo, ["sign", "main", SECRET_B]).pipe_ok("sign");
    assert_eq!(
        upstream_signatures(&p, &repo, &signed)
            .matches("0x")
            .count(),
        128
    );
    rs(&p, &repo, ["sign", "--verify", "main", PUBLIC_B]).pipe_ok("verify B");
    // Keys from a file, and from a keys directory with a revocation.
    let keys = p.path("keys");
    std::fs::create_dir_all(keys.join("trusted.ed25519.d")).expect("mkdir");
    std::fs::write(
        keys.join("trusted.ed25519.d/vendor"),
        format!("{PUBLIC_A}\n"),
    )
    .expect("keys");
    let keys_dir = format!("--keys-dir={}", s(&keys));
    rs(&p, &repo, ["sign", "--verify", &keys_dir, "main"]).pipe_ok("verify from dir");
    std::fs::write(keys.join("revoked.ed25519"), format!("{PUBLIC_A}\n")).expect("revoke");
    let r = rs(&p, &repo, ["sign", "--verify", &keys_dir, "main"]);
    assert!(!r.output.status.success(), "a revoked key verified");
    let file = p.path("keys.txt");
    std::fs::write(&file, format!("\n{PUBLIC_B}\n")).expect("file");
    rs(
        &p,
        &repo,
        [
            "sign",
            "--verify",
            &format!("--keys-file={}", s(&file)),
            "main",
        ],
    )
    .pipe_ok("verify from file");
    // Deleting B's signature leaves A's.
    rs(&p, &repo, ["sign", "-d", "main", PUBLIC_B]).pipe_ok("delete");
    assert_eq!(
        upstream_signatures(&p, &repo, &signed)
            .matches("0x")
            .count(),
        64
    );
    assert!(
        !rs(&p, &repo, ["sign", "--verify", "main", PUBLIC_B])
            .output
            .status
            .success()
    );
    rs(&p, &repo, ["sign", "--verify", "main", PUBLIC_A]).pipe_ok("A still");
    let _ = plain;
    p.run(Tool::Upstream, &repo, ["fsck"])
        .pipe_ok("upstream fsck");
}

/// A pull from a remote with `sign-verify` takes a commit signed by a trusted key, and
/// refuses one that is unsigned, signed by another key, or carries a signature made over
/// other bytes; a refused pull writes nothing.
#[test]
fn pull_with_sign_verify() {
    let (p, signed, plain) = signed_repo();
    let src = p.repo(Tool::Rostree).to_owned();
    let serve = RostreeServe::start(p.bin(Tool::Rostree), &src);
    let dest = |name: &str, spec: &str| {
        let dest = p.path(name);
        rs(&p, &dest, ["init", "--mode=bare-user"]).pipe_ok("init");
        rs(
            &p,
            &dest,
            [
                "remote",
                "add",
                "--no-gpg-verify",
                &format!("--sign-verify={spec}"),
                "o",
                serve.url(),
            ],
        )
        .pipe_ok("remote add");
        dest
    };
    let good = dest("good", &format!("ed25519=inline:{PUBLIC_A}"));
    let config = std::fs::read_to_string(good.join("config")).expect("config");
    assert!(
        config.contains(&format!(
            "verification-ed25519-key={PUBLIC_A}\nsign-verify=ed25519"
        )),
        "{config}"
    );
    rs(&p, &good, ["pull", "o", "main"]).pipe_ok("signed pull");
    p.run(Tool::Upstream, &good, ["fsck"]).pipe_ok("fsck");
    let refused = |dest: &Path, r#ref: &str, message: &str| {
        let before = rostree_testutil::snapshot(dest);
        let r = rs(&p, dest, ["pull", "o", r#ref]);
        assert!(!r.output.status.success(), "{ref} accepted");
        assert!(r.stderr().contains(message), "{}", r.stderr());
        assert!(
            before.diff(&rostree_testutil::snapshot(dest)).is_empty(),
            "{ref}"
        );
    };
    let unsigned = dest("unsigned", &format!("ed25519=inline:{PUBLIC_A}"));
    refused(
        &unsigned,
        "plain",
        // Upstream's words for a commit with no signature of a type the remote accepts.
        &format!("No signatures found for commit {plain}"),
    );
    let key_file = p.path("b.keys");
    std::fs::write(&key_file, format!("{PUBLIC_B}\n")).expect("keys");
    let other = dest("other-key", &format!("ed25519=file:{}", s(&key_file)));
    refused(&other, "main", "couldn't be verified");
    // Main's signature moved onto plain: a signature over other bytes.
    let meta = |c: &str| src.join(format!("objects/{}/{}.commitmeta", &c[..2], &c[2..]));
    std::fs::copy(meta(&signed), meta(&plain)).expect("copy commitmeta");
    let moved = dest("moved", &format!("ed25519=inline:{PUBLIC_A}"));
    refused(&moved, "plain", "couldn't be verified");
}

/// `summary --sign` writes `summary.sig` (an `a{sv}` upstream reads); a remote with
/// `sign-verify-summary` pulls only with a summary signed by its key, refusing a missing
/// or stale signature.
#[test]
fn signed_summaries() {
    let (p, _, _) = signed_repo();
    let src = p.repo(Tool::Rostree).to_owned();
    rs(&p, &src, ["summary", "-u", &format!("--sign={SECRET_A}")]).pipe_ok("summary --sign");
    let sig = std::fs::read(src.join("summary.sig")).expect("summary.sig");
    // Upstream can still read and view the summary.
    p.run(Tool::Upstream, &src, ["summary", "-v"])
        .pipe_ok("upstream summary -v");
    let serve = RostreeServe::start(p.bin(Tool::Rostree), &src);
    let dest = |name: &str, public: &str| {
        let dest = p.path(name);
        rs(&p, &dest, ["init", "--mode=archive"]).pipe_ok("init");
        rs(
            &p,
            &dest,
            [
                "remote",
                "add",
                "--no-gpg-verify",
                "--set=sign-verify-summary=true",
                &format!("--set=verification-ed25519-key={public}"),
                "o",
                serve.url(),
            ],
        )
        .pipe_ok("remote add");
        dest
    };
    let good = dest("good", PUBLIC_A);
    rs(&p, &good, ["pull", "o", "main"]).pipe_ok("pull with a signed summary");
    rs(&p, &good, ["remote", "refs", "o"]).pipe_ok("remote refs");
    let refused = |dest: &Path, message: &str| {
        for args in [&["pull", "o", "main"][..], &["remote", "summary", "o"]] {
            let r = rs(&p, dest, args.iter().copied());
            assert!(!r.output.status.success(), "{args:?} accepted");
            assert!(r.stderr().contains(message), "{args:?}: {}", r.stderr());
        }
    };
    refused(
        &dest("wrong", PUBLIC_B),
        "Can't verify summary: ed25519: Signature couldn't be verified",
    );
    // A new summary (other bytes, whatever the clock says) with the old signature beside it.
    rs(&p, &src, ["summary", "-u", "--add-metadata=changed='yes'"]).pipe_ok("summary -u");
    assert!(
        !src.join("summary.sig").exists(),
        "summary -u keeps a stale signature"
    );
    let stale = dest("stale", PUBLIC_A);
    refused(&stale, "no summary.sig found");
    std::fs::write(src.join("summary.sig"), &sig).expect("restore old signature");
    refused(&stale, "Can't verify summary");
}

/// Upstream's `dummy` type (its test signature: the key's bytes), behind
/// `OSTREE_DUMMY_SIGN_ENABLED=1` as upstream has it: rostree and upstream make the same
/// detached metadata and verify each other's; without the switch both refuse.
#[test]
fn dummy_signatures_as_upstream() {
    let (p, signed, _) = signed_repo();
    let repo = p.repo(Tool::Rostree).to_owned();
    let run = |tool: Tool, args: &[&str], enabled: bool| {
        let mut inv = p.invocation(tool, &repo, args);
        if enabled {
            inv = inv.env("OSTREE_DUMMY_SIGN_ENABLED", "1");
        }
        inv.output()
    };
    let key = [
        "show",
        "--print-detached-metadata-key=ostree.sign.dummy",
        "main",
    ];
    for (signer, checker) in [
        (Tool::Rostree, Tool::Upstream),
        (Tool::Upstream, Tool::Rostree),
    ] {
        // The signature goes after any there; start from the ed25519 one alone.
        let meta = repo.join(format!(
            "objects/{}/{}.commitmeta",
            &signed[..2],
            &signed[2..]
        ));
        let before = std::fs::read(&meta).expect("commitmeta");
        let out = run(
            signer,
            &["sign", "--sign-type=dummy", "main", "sekrit"],
            true,
        );
        assert!(
            out.status.success(),
            "{signer:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let shown = p.run(Tool::Upstream, &repo, key).pipe_ok("show").stdout();
        assert!(
            shown.contains("0x73, 0x65, 0x6b, 0x72, 0x69, 0x74"),
            "{shown}"
        );
        let out = run(
            checker,
            &["sign", "--sign-type=dummy", "--verify", "main", "sekrit"],
            true,
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "dummy: Signature verified\n"
        );
        for tool in [Tool::Upstream, Tool::Rostree] {
            let refused = run(
                tool,
                &["sign", "--sign-type=dummy", "--verify", "main", "sekrit"],
                false,
            );
            assert!(
                !refused.status.success(),
                "{tool:?} verified without the switch"
            );
            let wrong = run(
                tool,
                &["sign", "--sign-type=dummy", "--verify", "main", "other"],
                true,
            );
            assert!(!wrong.status.success(), "{tool:?} took the wrong key");
        }
        std::fs::write(&meta, before).expect("restore");
    }
    // Both write the same bytes.
    let meta = repo.join(format!(
        "objects/{}/{}.commitmeta",
        &signed[..2],
        &signed[2..]
    ));
    let before = std::fs::read(&meta).expect("commitmeta");
    let mut made = Vec::new();
    for tool in [Tool::Upstream, Tool::Rostree] {
        std::fs::write(&meta, &before).expect("restore");
        assert!(
            run(tool, &["sign", "--sign-type=dummy", "main", "k"], true)
                .status
                .success()
        );
        made.push(std::fs::read(&meta).expect("commitmeta"));
    }
    assert_eq!(made[0], made[1]);
}
