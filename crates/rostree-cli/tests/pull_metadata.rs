//! What a pull keeps beside the objects: the cache of signed summaries
//! (`tmp/cache/summaries`, `--cache-dir`, conditional requests, recovery from a bad cache,
//! `prune`), and a commit's detached metadata, fetched again for a commit already pulled.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rostree_testutil::http::Nginx;
use rostree_testutil::repo::{Pair, Run, Tool};
use rostree_testutil::{Mode, TreeSpec};

/// RFC 8032 7.1 test 1 in libsodium's format (secret: seed then public key).
const SECRET: &str =
    "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2DXWpgBgrEKt9VL/tPJZAc6DuFy89qmIyWvAhpo9wdRGg==";
const PUBLIC: &str = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn rs<'a>(p: &Pair, repo: &Path, args: impl IntoIterator<Item = &'a str>) -> Run {
    p.run(Tool::Rostree, repo, args)
}

/// A served archive repo (`main`, signed summary) and nginx serving it, with an access log.
struct Served {
    p: Pair,
    src: PathBuf,
    log: PathBuf,
    _nginx: Nginx,
    url: String,
}

impl Served {
    fn new() -> Served {
        let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), Mode::Archive);
        let src = p.repo(Tool::Rostree).to_owned();
        Served::commit_and_sign(&p, &src, "one");
        let log = p.path("access.log");
        let nginx = Nginx::start_with(&src, "", &format!("access_log {} combined;", s(&log)));
        let url = nginx.url();
        Served {
            p,
            src,
            log,
            _nginx: nginx,
            url,
        }
    }

    /// A new commit on `main` and a new signed summary. The files get a modification time
    /// of their own (a fixed one per update), as upstream's tests `touch` them: HTTP
    /// validators have one-second resolution, and the signature's size never changes.
    fn commit_and_sign(p: &Pair, src: &Path, content: &str) {
        static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tree = p.path(format!("tree-{content}"));
        TreeSpec::new().file("a", content, 0o644).create(&tree);
        rs(p, src, ["commit", "-b", "main", &s(&tree)]).pipe_ok("commit");
        rs(p, src, ["summary", "-u", &format!("--sign={SECRET}")]).pipe_ok("summary --sign");
        let when =
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000 + 1000 * serial);
        for name in ["summary", "summary.sig"] {
            std::fs::File::options()
                .write(true)
                .open(src.join(name))
                .and_then(|f| f.set_modified(when))
                .expect("set mtime");
        }
    }

    /// A client repo whose remote `o` requires a summary signed by the key.
    fn client(&self, name: &str) -> PathBuf {
        let dest = self.p.path(name);
        rs(&self.p, &dest, ["init", "--mode=archive"]).pipe_ok("init");
        rs(
            &self.p,
            &dest,
            [
                "remote",
                "add",
                "--no-gpg-verify",
                "--set=sign-verify-summary=true",
                &format!("--set=verification-ed25519-key={PUBLIC}"),
                "o",
                &self.url,
            ],
        )
        .pipe_ok("remote add");
        dest
    }

    /// The access log's lines for `path`, as `STATUS` strings, since the last call.
    fn requests(&self, path: &str) -> Vec<String> {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        std::fs::write(&self.log, "").expect("truncate the log");
        log.lines()
            .filter(|l| l.contains(&format!("GET /{path} ")))
            .filter_map(|l| l.split("\" ").nth(1)?.split(' ').next().map(str::to_owned))
            .collect()
    }
}

fn cached(repo: &Path) -> (Vec<u8>, Vec<u8>, u64) {
    let dir = repo.join("tmp/cache/summaries");
    let summary = std::fs::read(dir.join("o")).expect("cached summary");
    let sig = std::fs::read(dir.join("o.sig")).expect("cached summary.sig");
    let inode = std::fs::metadata(dir.join("o")).expect("stat").ino();
    (summary, sig, inode)
}

#[test]
fn signed_summaries_are_cached() {
    let served = Served::new();
    let (p, src) = (&served.p, &served.src);
    let dest = served.client("client");
    rs(p, &dest, ["pull", "o", "main"]).pipe_ok("pull");
    let (summary, sig, inode) = cached(&dest);
    assert_eq!(
        summary,
        std::fs::read(src.join("summary")).expect("summary")
    );
    assert_eq!(
        sig,
        std::fs::read(src.join("summary.sig")).expect("summary.sig")
    );
    served.requests("summary");

    // Unchanged on the server: the signature is asked for with its validators (nginx
    // answers 304), the summary is not fetched, the cache is not rewritten.
    rs(p, &dest, ["pull", "o", "main"]).pipe_ok("second pull");
    assert_eq!(served.requests("summary.sig"), ["304"]);
    assert_eq!(cached(&dest).2, inode, "the cache was rewritten");
    let log = std::fs::read_to_string(&served.log).unwrap_or_default();
    assert!(
        !log.contains("GET /summary "),
        "the summary was fetched again: {log}"
    );

    // Changed on the server: both fetched, checked, cached.
    Served::commit_and_sign(p, src, "two");
    rs(p, &dest, ["pull", "o", "main"]).pipe_ok("pull after an update");
    let (summary, sig, _) = cached(&dest);
    assert_eq!(
        summary,
        std::fs::read(src.join("summary")).expect("summary")
    );
    assert_eq!(
        sig,
        std::fs::read(src.join("summary.sig")).expect("summary.sig")
    );

    // A cached summary that its (current) signature does not cover is noticed: an error
    // when upstream's debug switch asks for one, else fetched anew and the cache mended.
    let stale = p.path("stale-summary");
    let dir = dest.join("tmp/cache/summaries");
    std::fs::copy(dir.join("o"), &stale).expect("copy");
    Served::commit_and_sign(p, src, "three");
    std::fs::copy(src.join("summary.sig"), dir.join("o.sig")).expect("new sig");
    std::fs::copy(&stale, dir.join("o")).expect("old summary");
    let failed = p
        .invocation(Tool::Rostree, &dest, ["pull", "o", "main"])
        .env("OSTREE_REPO_TEST_ERROR", "invalid-cache")
        .output();
    assert!(!failed.status.success(), "a bad cache went unnoticed");
    assert!(
        String::from_utf8_lossy(&failed.stderr)
            .contains("cached summary invalid and OSTREE_REPO_TEST_ERROR_INVALID_CACHE"),
        "{}",
        String::from_utf8_lossy(&failed.stderr)
    );
    rs(p, &dest, ["pull", "o", "main"]).pipe_ok("pull mends the cache");
    assert_eq!(
        cached(&dest).0,
        std::fs::read(src.join("summary")).expect("summary")
    );

    // prune drops the entries of remotes that are gone.
    for name in ["gone", "gone.sig"] {
        std::fs::write(dir.join(name), b"x").expect("write");
    }
    rs(p, &dest, ["prune", "--refs-only"]).pipe_ok("prune");
    assert!(!dir.join("gone").exists() && !dir.join("gone.sig").exists());
    assert!(dir.join("o").exists() && dir.join("o.sig").exists());

    // --cache-dir puts it elsewhere; OSTREE_SKIP_CACHE keeps none.
    let other = served.client("other");
    let cache_dir = p.path("cache-dir");
    std::fs::create_dir(&cache_dir).expect("mkdir");
    rs(
        p,
        &other,
        [
            "pull",
            &format!("--cache-dir={}", s(&cache_dir)),
            "o",
            "main",
        ],
    )
    .pipe_ok("pull --cache-dir");
    assert!(cache_dir.join("summaries/o.sig").is_file());
    assert!(!other.join("tmp/cache/summaries/o").exists());
    let uncached = served.client("uncached");
    p.invocation(Tool::Rostree, &uncached, ["pull", "o", "main"])
        .env("OSTREE_SKIP_CACHE", "1")
        .ok();
    assert!(!uncached.join("tmp/cache/summaries/o").exists());
}

#[test]
fn detached_metadata_is_fetched_again() {
    let served = Served::new();
    let (p, src) = (&served.p, &served.src);
    let dest = p.path("client");
    for tool in [Tool::Upstream, Tool::Rostree] {
        let dest = p.path(format!("client-{tool:?}"));
        p.run(tool, &dest, ["init", "--mode=archive"])
            .pipe_ok("init");
        p.run(
            tool,
            &dest,
            ["remote", "add", "--no-gpg-verify", "o", &served.url],
        )
        .pipe_ok("remote add");
        p.run(tool, &dest, ["pull", "o", "main"]).pipe_ok("pull");
    }
    let key = [
        "show",
        "--print-detached-metadata-key=ostree.sign.ed25519",
        "main",
    ];
    let signatures = |tool: Tool| -> String {
        let dest = p.path(format!("client-{tool:?}"));
        p.run(Tool::Upstream, &dest, key).stdout()
    };
    assert_eq!(signatures(Tool::Rostree), "");
    // Signed after the first pull: the next pull brings the signature.
    rs(p, src, ["sign", "main", SECRET]).pipe_ok("sign");
    for tool in [Tool::Upstream, Tool::Rostree] {
        let dest = p.path(format!("client-{tool:?}"));
        p.run(tool, &dest, ["pull", "o", "main"])
            .pipe_ok("pull again");
    }
    // (GVariant text shows the signature as `[[byte 0x…]]`, or as `[b"…"]` when its bytes
    // happen to end in the only NUL: only its presence is checked here.)
    assert!(
        signatures(Tool::Rostree).starts_with('['),
        "{}",
        signatures(Tool::Rostree)
    );
    assert_eq!(signatures(Tool::Upstream), signatures(Tool::Rostree));
    // Detached metadata that is not metadata at all: nothing needs it, the pull goes on.
    let commit = rs(p, src, ["rev-parse", "main"])
        .pipe_ok("rev-parse")
        .stdout();
    let commit = commit.trim();
    let meta = src.join(format!(
        "objects/{}/{}.commitmeta",
        &commit[..2],
        &commit[2..]
    ));
    std::fs::write(&meta, b"borkborkbork\n").expect("corrupt");
    Served::commit_and_sign(p, src, "two");
    let new = rs(p, src, ["rev-parse", "main"])
        .pipe_ok("rev-parse")
        .stdout();
    let new_meta = src.join(format!(
        "objects/{}/{}.commitmeta",
        &new[..2],
        new[2..].trim()
    ));
    std::fs::write(&new_meta, b"borkborkbork\n").expect("corrupt");
    rs(
        p,
        &dest.with_file_name("client-Rostree"),
        ["pull", "o", "main"],
    )
    .pipe_ok("pull past unreadable detached metadata");
    // With verification on, the same pull is refused.
    let strict = served.client("strict");
    rs(
        p,
        &strict,
        ["config", "set", "remote \"o\".sign-verify", "true"],
    )
    .pipe_ok("config");
    let r = rs(p, &strict, ["pull", "o", "main"]);
    assert!(
        !r.output.status.success(),
        "a pull that needs signatures took broken ones"
    );
}
