//! The manual and the completion scripts, made from the command definition: the pages
//! render with man(1), and a TAB in a real bash completes what the parser accepts.

use std::path::{Path, PathBuf};
use std::process::Command;

use rostree_testutil::{run_ok, stdout_str};

const ROSTREE: &str = env!("CARGO_BIN_EXE_rostree");

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn man_pages_render() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = stdout_str(&run_ok(
        ROSTREE,
        ["man-pages".as_ref(), dir.path().as_os_str()],
    ));
    assert!(out.contains("pages written"), "{out}");
    let rendered = Command::new("man")
        .arg("-l")
        .arg(dir.path().join("rostree-commit.1"))
        .env("MANWIDTH", "100")
        .env("MAN_KEEP_FORMATTING", "0")
        .output()
        .expect("run man (apt-get install man-db)");
    assert!(rendered.status.success(), "{rendered:?}");
    // man(1) on a pipe still overstrikes bold; what matters is the words.
    let plain = strip_overstrike(&String::from_utf8_lossy(&rendered.stdout));
    for wanted in [
        "ROSTREE-COMMIT(1)",
        "rostree commit [OPTION",
        "--subject",
        "One line subject",
    ] {
        assert!(plain.contains(wanted), "{wanted:?} not in:\n{plain}");
    }
}

/// Bold in man's output to a pipe is "c\bc"; keeps one of each pair.
fn strip_overstrike(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if i + 2 < chars.len() && chars[i + 1] == '\u{8}' {
            i += 2;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

#[test]
fn completion_scripts_for_three_shells() {
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout_str(&run_ok(ROSTREE, ["completions", shell]));
        for word in ["commit", "static-delta", "--repo"] {
            assert!(script.contains(word), "{shell}: no {word}");
        }
        assert!(
            !script.contains("man-pages"),
            "{shell}: lists the hidden man-pages"
        );
    }
    let bad = rostree_testutil::run(ROSTREE, ["completions", "tcsh"]);
    assert!(!bad.status.success());
}

/// What a TAB after `line` makes of it in an interactive bash with rostree's script.
fn complete(script: &Path, line: &str) -> String {
    let out = Command::new("python3")
        .arg(repo_root().join("tests/package/bash_complete.py"))
        .arg(script)
        .arg(line)
        .output()
        .expect("run python3");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .trim_end_matches('\n')
        .to_owned()
}

#[test]
fn bash_completes_commands_and_subcommands() {
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("rostree.bash");
    std::fs::write(&script, run_ok(ROSTREE, ["completions", "bash"]).stdout).expect("write");
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .status()
        .expect("bash -n");
    assert!(syntax.success());
    for (typed, completed) in [
        ("rostree --repo=X com", "rostree --repo=X commit "),
        ("rostree admin dep", "rostree admin deploy "),
        ("rostree static-delta gen", "rostree static-delta generate "),
        ("rostree remote sh", "rostree remote show-url "),
    ] {
        assert_eq!(complete(&script, typed), completed, "{typed}<TAB>");
    }
    // A test of the test: a word nothing starts with stays as typed.
    assert_eq!(complete(&script, "rostree zzz"), "rostree zzz");
}
