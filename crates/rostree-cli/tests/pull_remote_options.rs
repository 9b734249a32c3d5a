//! `pull` honours the remote's connection settings: TLS with a pinned CA (`tls-ca-path`),
//! `tls-permissive`, client certificates; basic auth in the URL; `proxy`; the cookie jar;
//! `contenturl`; `mirrorlist=` and `metalink=` URLs. Servers are nginx (Debian's) and the test's own.

use std::path::{Path, PathBuf};

use rostree_testutil::faulty::{Fault, FaultyServer};
use rostree_testutil::http::{Nginx, make_pki};
use rostree_testutil::repo::{Pair, Tool};
use rostree_testutil::{Mode, TreeSpec};

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// An upstream-written archive repo with ref `main` and a summary.
fn source() -> Pair {
    let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), Mode::Archive);
    let tree = p.path("tree");
    TreeSpec::new()
        .file("a", "a\n", 0o644)
        .file("d/b", "b\n", 0o600)
        .symlink("l", "a")
        .create(&tree);
    let src = p.repo(Tool::Upstream);
    p.run(
        Tool::Upstream,
        src,
        ["commit", "-b", "main", "--timestamp=@1", &s(&tree)],
    )
    .pipe_ok("commit");
    p.run(Tool::Upstream, src, ["summary", "-u"])
        .pipe_ok("summary");
    p
}

/// A fresh repo with remote `o` (`url`, then `remote add` options) for rostree.
fn dest(p: &Pair, name: &str, url: &str, options: &[String]) -> PathBuf {
    let dest = p.path(name);
    p.run(Tool::Rostree, &dest, ["init", "--mode=bare-user"])
        .pipe_ok("init");
    let mut args = vec!["remote".to_owned(), "add".into(), "--no-gpg-verify".into()];
    args.extend(options.iter().cloned());
    args.extend(["o".into(), url.into()]);
    p.run(Tool::Rostree, &dest, &args).pipe_ok("remote add");
    dest
}

/// Each tool, in a bare-user repo of its own, adds remote `o` (`remote_args` end with its
/// URL), pulls `main` and leaves a repo upstream's fsck accepts.
fn both_pull(p: &Pair, name: &str, remote_args: &[String]) {
    for tool in [Tool::Upstream, Tool::Rostree] {
        let dest = p.path(format!("{name}-{tool:?}"));
        p.run(tool, &dest, ["init", "--mode=bare-user"])
            .pipe_ok("init");
        let (url, options) = remote_args.split_last().expect("a URL");
        let mut args = vec!["remote", "add", "--no-gpg-verify"];
        args.extend(options.iter().map(String::as_str));
        args.extend(["o", url.as_str()]);
        p.run(tool, &dest, &args).pipe_ok("remote add");
        p.run(tool, &dest, ["pull", "o", "main"]).pipe_ok("pull");
        p.run(Tool::Upstream, &dest, ["fsck"]).pipe_ok("fsck");
    }
}

fn pull_ok(p: &Pair, dest: &Path) {
    p.run(Tool::Rostree, dest, ["pull", "o", "main"])
        .pipe_ok("pull");
    p.run(Tool::Upstream, dest, ["fsck"]).pipe_ok("fsck");
}

fn pull_fails(p: &Pair, dest: &Path, message: &str) {
    let r = p.run(
        Tool::Rostree,
        dest,
        ["pull", "--network-retries=0", "o", "main"],
    );
    assert!(!r.output.status.success(), "pull succeeded");
    assert!(
        r.stderr().contains(message),
        "wanted {message:?}: {}",
        r.stderr()
    );
    let refs = p
        .run(Tool::Rostree, dest, ["refs"])
        .pipe_ok("refs")
        .stdout();
    assert_eq!(refs, "");
}

#[test]
fn tls_pinned_permissive_and_client_certificates() {
    let p = source();
    let pki = p.path("pki");
    make_pki(&pki);
    let cert = |f: &str| s(&pki.join(f));
    let server_tls = format!(
        "ssl_certificate {};\nssl_certificate_key {};",
        cert("server.pem"),
        cert("server.key")
    );
    let https = Nginx::start_with(p.repo(Tool::Upstream), "ssl", &server_tls);
    let url = https.https_url();
    let set = |kv: &str| format!("--set={kv}");
    // The test CA is nobody's root: without it the server is refused.
    pull_fails(&p, &dest(&p, "untrusted", &url, &[]), "certificate");
    pull_ok(
        &p,
        &dest(
            &p,
            "pinned",
            &url,
            &[set(&format!("tls-ca-path={}", cert("ca.pem")))],
        ),
    );
    pull_ok(
        &p,
        &dest(&p, "permissive", &url, &[set("tls-permissive=true")]),
    );
    // A server that wants a client certificate.
    let mutual = Nginx::start_with(
        p.repo(Tool::Upstream),
        "ssl",
        &format!(
            "{server_tls}\nssl_client_certificate {};\nssl_verify_client on;",
            cert("ca.pem")
        ),
    );
    let url = mutual.https_url();
    let ca = set(&format!("tls-ca-path={}", cert("ca.pem")));
    pull_fails(
        &p,
        &dest(&p, "no-client-cert", &url, std::slice::from_ref(&ca)),
        "400",
    );
    pull_ok(
        &p,
        &dest(
            &p,
            "client-cert",
            &url,
            &[
                ca,
                set(&format!("tls-client-cert-path={}", cert("client.pem"))),
                set(&format!("tls-client-key-path={}", cert("client.key"))),
            ],
        ),
    );
}

#[test]
fn basic_auth_in_the_url() {
    let p = source();
    let htpasswd = p.path("htpasswd");
    let hash = rostree_testutil::Invocation::new("openssl")
        .args(["passwd", "-apr1", "s3cret"])
        .ok();
    let hash = String::from_utf8_lossy(&hash.stdout).trim().to_owned();
    std::fs::write(&htpasswd, format!("user:{hash}\n")).expect("htpasswd");
    let nginx = Nginx::start_with(
        p.repo(Tool::Upstream),
        "",
        &format!(
            "auth_basic \"repo\";\nauth_basic_user_file {};",
            s(&htpasswd)
        ),
    );
    let with_auth = nginx.url().replace("http://", "http://user:s3cret@");
    pull_ok(&p, &dest(&p, "auth", &with_auth, &[]));
    pull_fails(&p, &dest(&p, "no-auth", &nginx.url(), &[]), "401");
}

#[test]
fn proxy_and_cookies() {
    let p = source();
    let proxy = FaultyServer::start(p.repo(Tool::Upstream), |_, _| Fault::None);
    // The remote's own host does not resolve: only the proxy can reach "it".
    let dest = dest(
        &p,
        "proxied",
        "http://repo.invalid/",
        &[format!("--set=proxy={}", proxy.url())],
    );
    for (name, value) in [("session", "abc"), ("token", "xyz")] {
        p.run(
            Tool::Rostree,
            &dest,
            [
                "remote",
                "add-cookie",
                "o",
                "repo.invalid",
                "/",
                name,
                value,
            ],
        )
        .pipe_ok("add-cookie");
    }
    pull_ok(&p, &dest);
    let log = proxy.requests();
    assert!(!log.is_empty());
    for entry in &log {
        assert!(entry.contains(" proxied"), "{entry}");
        assert!(entry.contains("cookie=session=abc; token=xyz"), "{entry}");
    }
}

#[test]
fn contenturl_and_mirrorlist() {
    let p = source();
    // As upstream splits them: the summary, refs and signatures from `url`, which has no
    // objects; every object (and static delta) from `contenturl`, which has no signatures.
    let metadata = FaultyServer::start(p.repo(Tool::Upstream), |path, _| {
        if path.starts_with("objects/") && !path.ends_with(".commitmeta") {
            Fault::Status(404)
        } else {
            Fault::None
        }
    });
    let content = FaultyServer::start(p.repo(Tool::Upstream), |path, _| {
        if path.starts_with("objects/") && !path.ends_with(".commitmeta") {
            Fault::None
        } else {
            Fault::Status(404)
        }
    });
    both_pull(
        &p,
        "split",
        &[format!("--contenturl={}", content.url()), metadata.url()],
    );
    assert!(
        content.requests().iter().all(|r| (r.starts_with("objects/")
            && !r.ends_with(".commitmeta"))
            || r.starts_with("delta")),
        "{:?}",
        content.requests()
    );
    assert!(content.requests().iter().any(|r| r.ends_with(".dirtree")));
    // A mirror list: the first mirror down, the second without one file, the third whole.
    // Each file is asked of the mirrors in turn, as upstream does.
    let lists = p.path("lists");
    std::fs::create_dir_all(&lists).expect("mkdir");
    let dead = format!("http://127.0.0.1:{}/", rostree_testutil::http::free_port());
    let partial = FaultyServer::start(p.repo(Tool::Upstream), |path, _| {
        if path.ends_with(".filez") {
            Fault::Status(404)
        } else {
            Fault::None
        }
    });
    let good = FaultyServer::start(p.repo(Tool::Upstream), |_, _| Fault::None);
    std::fs::write(
        lists.join("mirrors"),
        format!("# mirrors\n{dead}\n\n{}\n{}\n", partial.url(), good.url()),
    )
    .expect("list");
    let list_server = FaultyServer::start(&lists, |_, _| Fault::None);
    both_pull(
        &p,
        "mirrored",
        &[format!("mirrorlist={}mirrors", list_server.url())],
    );
    assert!(partial.requests().iter().any(|r| r.ends_with(".commit")));
    // What the partial mirror had was not asked of the whole one.
    assert!(
        good.requests()
            .iter()
            .all(|r| !r.ends_with(".commit") && !r.ends_with(".dirtree") && r != "summary"),
        "{:?}",
        good.requests()
    );
    assert!(good.requests().iter().any(|r| r.ends_with(".filez")));
}

/// `metalink=` remotes: the summary is taken from the first URL whose file has the size
/// and digest the metalink gives, and the repository is that URL's directory; a metalink
/// that is wrong fails both tools with upstream's words.
#[test]
fn metalink_remotes() {
    let p = source();
    let repo = p.repo(Tool::Upstream);
    let summary = std::fs::read(repo.join("summary")).expect("summary");
    let digest = |algo: &str| {
        let out = rostree_testutil::Invocation::new(format!("{algo}sum"))
            .arg(repo.join("summary"))
            .ok();
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    let server = FaultyServer::start(repo, |_, _| Fault::None);
    let links = p.path("links");
    std::fs::create_dir_all(&links).expect("mkdir");
    let metalink = |size: usize, sha512: &str| {
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/">
  <files>
    <file name="summary">
      <size>{size}</size>
      <verification>
        <hash type="md5">{md5}</hash>
        <hash type="sha256">{sha256}</hash>
        <hash type="sha512">{sha512}</hash>
      </verification>
      <resources maxconnections="1">
        <url protocol="http" type="http" location="US" preference="100">{url}nosuchfile</url>
        <url protocol="http" type="http" location="US" preference="99">{url}summary</url>
      </resources>
    </file>
  </files>
</metalink>
"#,
            md5 = digest("md5"),
            sha256 = digest("sha256"),
            url = server.url(),
        )
    };
    let good = metalink(summary.len(), &digest("sha512"));
    std::fs::write(links.join("good.xml"), &good).expect("write");
    std::fs::write(links.join("bad-hash.xml"), metalink(summary.len(), "bacon")).expect("write");
    std::fs::write(links.join("bad-size.xml"), metalink(3, &digest("sha512"))).expect("write");
    std::fs::write(links.join("not-xml.xml"), "bacon\n").expect("write");
    let link_server = FaultyServer::start(&links, |_, _| Fault::None);
    for tool in [Tool::Upstream, Tool::Rostree] {
        for (file, refusal) in [
            ("good.xml", None),
            ("bad-hash.xml", Some("Invalid hash digest for sha512")),
            (
                "bad-size.xml",
                Some("Expected size is 3 bytes but content is"),
            ),
            ("not-xml.xml", Some("Document must begin with an element")),
        ] {
            let dest = p.path(format!("{file}-{tool:?}"));
            p.run(tool, &dest, ["init", "--mode=archive"])
                .pipe_ok("init");
            p.run(
                tool,
                &dest,
                [
                    "remote",
                    "add",
                    "--no-gpg-verify",
                    "o",
                    &format!("metalink={}{file}", link_server.url()),
                ],
            )
            .pipe_ok("remote add");
            let r = p.run(tool, &dest, ["pull", "o", "main"]);
            match refusal {
                None => {
                    r.pipe_ok("pull");
                    p.run(Tool::Upstream, &dest, ["fsck"]).pipe_ok("fsck");
                    let refs = p
                        .run(tool, &dest, ["remote", "refs", "o"])
                        .pipe_ok("refs")
                        .stdout();
                    assert_eq!(refs, "o:main\n");
                }
                Some(words) => {
                    assert!(!r.output.status.success(), "{tool:?} {file}: pulled");
                    assert!(
                        r.stderr().contains(words),
                        "{tool:?} {file}: {}",
                        r.stderr()
                    );
                }
            }
        }
    }
}

/// `--localcache-repo`: objects a local repository has are taken from it (checked all the
/// same), and only the rest is fetched.
#[test]
fn localcache_repo_saves_requests() {
    let p = source();
    let server = FaultyServer::start(p.repo(Tool::Upstream), |_, _| Fault::None);
    // A cache holding the whole commit, in another mode.
    let cache = p.path("cache");
    p.run(Tool::Rostree, &cache, ["init", "--mode=bare-user"])
        .pipe_ok("init");
    p.run(
        Tool::Rostree,
        &cache,
        ["pull-local", &s(p.repo(Tool::Upstream)), "main"],
    )
    .pipe_ok("pull-local");
    let dest = dest(&p, "cached", &server.url(), &[]);
    p.run(
        Tool::Rostree,
        &dest,
        ["pull", "-L", &s(&cache), "o", "main"],
    )
    .pipe_ok("pull -L");
    p.run(Tool::Upstream, &dest, ["fsck"]).pipe_ok("fsck");
    let fetched: Vec<String> = server
        .requests()
        .into_iter()
        .filter(|r| r.ends_with(".dirtree") || r.ends_with(".dirmeta") || r.ends_with(".filez"))
        .collect();
    assert!(
        fetched.is_empty(),
        "fetched what the cache had: {fetched:?}"
    );
}

/// The line a pull ends with counts as upstream's does: fetched objects (the detached
/// metadata asked for among them), what `--localcache-repo` gave, the bytes written; only
/// the bytes transferred and the seconds may differ.
#[test]
fn pull_summary_line_as_upstream() {
    let p = source();
    let cache = p.path("cache");
    p.run(Tool::Upstream, &cache, ["init", "--mode=archive"])
        .pipe_ok("init");
    p.run(
        Tool::Upstream,
        &cache,
        ["pull-local", &s(p.repo(Tool::Upstream)), "main"],
    )
    .pipe_ok("pull-local");
    // A new commit of the same tree with one file more: the cache has most of it.
    let tree = p.path("tree");
    std::fs::write(tree.join("new"), "new file\n").expect("write");
    p.run(
        Tool::Upstream,
        p.repo(Tool::Upstream),
        ["commit", "-b", "main", "--timestamp=@2", &s(&tree)],
    )
    .pipe_ok("commit");
    // Served without a summary, as a repository fresh from commits is.
    std::fs::remove_file(p.repo(Tool::Upstream).join("summary")).expect("rm summary");
    let server = FaultyServer::start(p.repo(Tool::Upstream), |_, _| Fault::None);
    let mut lines = Vec::new();
    for tool in [Tool::Upstream, Tool::Rostree] {
        // Into an archive repo, which upstream never pulls static deltas into: rostree does
        // not have them yet, and upstream counts its probes for them.
        let dest = p.path(format!("dest-{tool:?}"));
        p.run(tool, &dest, ["init", "--mode=archive"])
            .pipe_ok("init");
        p.run(
            tool,
            &dest,
            ["remote", "add", "--no-gpg-verify", "o", &server.url()],
        )
        .pipe_ok("remote add");
        for args in [
            vec!["pull", "-L", &s(&cache), "o", "main"],
            vec!["pull", "o", "main"],
        ] {
            let out = p.run(tool, &dest, &args).pipe_ok("pull").stdout();
            lines.push((tool, out.lines().last().unwrap_or_default().to_owned()));
        }
    }
    let shape = |line: &str| -> Vec<String> {
        line.split("; ")
            .map(|part| match part.split_once(" transferred in ") {
                Some((amount, _)) => {
                    let unit = amount.rsplit(' ').next().unwrap_or_default();
                    format!("N {unit} transferred in N seconds")
                }
                None => part.to_owned(),
            })
            .collect()
    };
    let (upstream, rostree) = lines.split_at(2);
    for ((_, u), (_, r)) in upstream.iter().zip(rostree) {
        assert_eq!(shape(r), shape(u), "rostree: {r}\nupstream: {u}");
    }
    assert!(
        upstream[0].1.contains(" content local)"),
        "{}",
        upstream[0].1
    );
}

/// `http-headers` are sent with every request, as `--http-header` is, and the User-Agent
/// ends with `--append-user-agent`'s string; remotes that must not
/// be pulled from (`unconfigured-state`, `custom-backend`) or that want signatures checked
/// are refused with a message naming the setting, and nothing is written.
#[test]
fn remote_settings_honoured_or_refused() {
    let p = source();
    let server = FaultyServer::start(p.repo(Tool::Upstream), |_, _| Fault::None);
    let dest = dest(
        &p,
        "headers",
        &server.url(),
        &["--set=http-headers=X-Config=one;".to_owned()],
    );
    p.run(
        Tool::Rostree,
        &dest,
        [
            "pull",
            "--http-header=X-Flag=two",
            "--append-user-agent",
            "dodo/2.15",
            "o",
            "main",
        ],
    )
    .pipe_ok("pull");
    for entry in server.requests() {
        assert!(
            entry.contains(" x-config=one") && entry.contains(" x-flag=two"),
            "{entry}"
        );
    }
    for agent in server.user_agents() {
        assert_eq!(agent, "libostree/2022.7 dodo/2.15");
    }
    for (setting, message) in [
        (
            "unconfigured-state=Use the vendor's updater",
            "Use the vendor's updater",
        ),
        ("custom-backend=flatpak", "uses custom backend 'flatpak'"),
        ("gpg-verify-summary=true", "gpg-verify-summary"),
        // As upstream: every type may verify, none finds a signature.
        ("sign-verify=true", "No signatures found for commit"),
    ] {
        let dest = self::dest(
            &p,
            &format!("refused-{}", setting.len()),
            &server.url(),
            &[format!("--set={setting}")],
        );
        let before = rostree_testutil::snapshot(&dest);
        pull_fails(&p, &dest, message);
        assert!(
            before.diff(&rostree_testutil::snapshot(&dest)).is_empty(),
            "{setting}"
        );
    }
}
