//! Memory does not grow with a file's size: a tree holding one 256 MiB file of random data
//! is committed, served, pulled, checked, checked out and exported, and every command's
//! peak RSS (the child's own `ru_maxrss`, from `wait4`) stays under 128 MiB, half the file.
//! Holding the file whole anywhere, or its compressed copy, would break the bound.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rostree_testutil::http::Nginx;

const FILE_SIZE: u64 = 256 << 20;
const BOUND_KIB: u64 = 128 << 10;

/// Runs the command given after two arguments (a file for the peak RSS in KiB, then the
/// program), passing SIGTERM on, and exits as it did.
const PEAK_RSS: &str = r#"
import os, signal, subprocess, sys
p = subprocess.Popen(sys.argv[2:])
signal.signal(signal.SIGTERM, lambda *_: p.terminate())
while True:
    try:
        _, status, usage = os.wait4(p.pid, 0)
        break
    except InterruptedError:
        continue
open(sys.argv[1], "w").write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 0)
"#;

fn rostree() -> &'static str {
    env!("CARGO_BIN_EXE_rostree")
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Runs rostree with `args`, checks it succeeded and stayed under the bound; its stdout.
fn bounded(dir: &Path, what: &str, args: &[&str]) -> String {
    let rss_file = dir.join(format!("{what}.rss"));
    let out = Command::new("python3")
        .arg("-c")
        .arg(PEAK_RSS)
        .arg(&rss_file)
        .arg(rostree())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running python3");
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    check_rss(&rss_file, what);
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn check_rss(rss_file: &Path, what: &str) {
    let kib: u64 = std::fs::read_to_string(rss_file)
        .expect("peak RSS written")
        .trim()
        .parse()
        .expect("a number");
    eprintln!("{what}: peak RSS {} MiB", kib >> 10);
    assert!(
        kib <= BOUND_KIB,
        "{what}: peak RSS {} MiB, over {} MiB for a {} MiB file",
        kib >> 10,
        BOUND_KIB >> 10,
        FILE_SIZE >> 20
    );
}

/// `rostree serve DIR`, its peak RSS written when it is stopped.
struct Serve {
    child: std::process::Child,
    url: String,
    rss_file: PathBuf,
}

impl Serve {
    fn start(dir: &Path, served: &Path) -> Serve {
        let rss_file = dir.join("serve.rss");
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(PEAK_RSS)
            .arg(&rss_file)
            .arg(rostree())
            .args(["serve", "--port=0"])
            .arg(served)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting rostree serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("serve's first line");
        let url = line
            .split_whitespace()
            .last()
            .filter(|u| u.starts_with("http://"))
            .unwrap_or_else(|| panic!("serve printed {line:?}"))
            .to_owned();
        Serve {
            child,
            url,
            rss_file,
        }
    }

    fn stop(mut self) -> PathBuf {
        // SIGTERM to the wrapper, which passes it on and records the peak.
        let status = Command::new("python3")
            .args(["-c", "import os, sys; os.kill(int(sys.argv[1]), 15)"])
            .arg(self.child.id().to_string())
            .status()
            .expect("python3");
        assert!(status.success());
        self.child.wait().expect("serve ends");
        self.rss_file.clone()
    }
}

#[test]
fn a_file_larger_than_the_bound_passes_every_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let tree = d.join("tree");
    std::fs::create_dir(&tree).expect("mkdir");
    let mut random = std::fs::File::open("/dev/urandom").expect("urandom");
    let mut blob = std::fs::File::create(tree.join("blob")).expect("create");
    let copied = std::io::copy(&mut (&mut random).take(FILE_SIZE), &mut blob).expect("fill");
    assert_eq!(copied, FILE_SIZE);
    blob.flush().expect("flush");
    drop(blob);

    let tree_arg = format!("--tree=dir={}", s(&tree));
    let archive = d.join("archive");
    let archive_arg = format!("--repo={}", s(&archive));
    bounded(d, "init", &[&archive_arg, "init", "--mode=archive"]);
    let commit = bounded(
        d,
        "commit-archive",
        &[&archive_arg, "commit", "-b", "big", &tree_arg],
    );
    assert_eq!(commit.len(), 64, "{commit}");
    bounded(d, "summary", &[&archive_arg, "summary", "-u"]);
    bounded(d, "fsck-archive", &[&archive_arg, "fsck"]);

    // Pulled into bare-user from nginx (bodies spill to files) and from rostree serve
    // (which streams large files).
    let nginx = Nginx::start(&archive);
    let serve = Serve::start(d, &archive);
    for (name, url) in [("nginx", nginx.url()), ("serve", serve.url.clone())] {
        let repo = d.join(format!("pulled-{name}"));
        let repo_arg = format!("--repo={}", s(&repo));
        bounded(d, "init", &[&repo_arg, "init", "--mode=bare-user"]);
        bounded(
            d,
            "remote-add",
            &[&repo_arg, "remote", "add", "--no-gpg-verify", "o", &url],
        );
        bounded(d, &format!("pull-{name}"), &[&repo_arg, "pull", "o", "big"]);
        bounded(d, &format!("fsck-{name}"), &[&repo_arg, "fsck"]);
        let rev = bounded(d, "rev-parse", &[&repo_arg, "rev-parse", "o:big"]);
        assert_eq!(rev, commit);
    }
    check_rss(&serve.stop(), "serve");

    // Checked out and exported from the archive repo: inflated as they are written.
    let checkout = d.join("checkout");
    bounded(
        d,
        "checkout-archive",
        &[&archive_arg, "checkout", "-U", "big", &s(&checkout)],
    );
    let same = Command::new("cmp")
        .arg(tree.join("blob"))
        .arg(checkout.join("blob"))
        .status()
        .expect("cmp");
    assert!(same.success(), "the checkout differs from the tree");
    let tar = d.join("big.tar");
    bounded(
        d,
        "export-archive",
        &[
            &archive_arg,
            "export",
            &format!("--output={}", s(&tar)),
            "big",
        ],
    );
    let tar_len = std::fs::metadata(&tar).expect("tar written").len();
    assert!(tar_len > FILE_SIZE, "tar of {tar_len} bytes");

    // Committed into bare-user: the payload streams to its object.
    let bare = d.join("bare");
    let bare_arg = format!("--repo={}", s(&bare));
    bounded(d, "init", &[&bare_arg, "init", "--mode=bare-user"]);
    bounded(
        d,
        "commit-bare-user",
        &[&bare_arg, "commit", "-b", "big", &tree_arg],
    );
}
