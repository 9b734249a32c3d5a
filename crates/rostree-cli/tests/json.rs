//! `--json` on every reporting command (docs/json.md): each output parses, follows the
//! schema's conventions, and carries the same facts as the command's text output (same
//! refs, checksums, paths and counts).

use std::path::{Path, PathBuf};

use rostree_testutil::cmd::Invocation;
use serde_json::Value;

const ROSTREE: &str = env!("CARGO_BIN_EXE_rostree");

/// Runs rostree with `args` (and `OSTREE_SYSROOT` when given), which must succeed; stdout.
fn text(sysroot: Option<&Path>, args: &[&str]) -> String {
    let mut invocation = Invocation::new(ROSTREE)
        .env("OSTREE_SYSROOT_DEBUG", "mutable-deployments")
        .args(args);
    if let Some(sysroot) = sysroot {
        invocation = invocation.env("OSTREE_SYSROOT", sysroot);
    }
    String::from_utf8_lossy(&invocation.ok().stdout).into_owned()
}

/// The same with `--json` added, parsed.
fn json(sysroot: Option<&Path>, args: &[&str]) -> Value {
    let mut with_json = args.to_vec();
    with_json.push("--json");
    let out = text(sysroot, &with_json);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}:\n{out}"))
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect()
}

fn field<'a>(items: &'a Value, name: &str) -> Vec<&'a Value> {
    items
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {items}"))
        .iter()
        .map(|item| &item[name])
        .collect()
}

/// The string field `name` of every item of an array.
fn column(items: &Value, name: &str) -> Vec<String> {
    strings(&Value::Array(
        field(items, name).into_iter().cloned().collect(),
    ))
}

/// A command's text output, line by line.
fn lines_of(output: String) -> Vec<String> {
    output.lines().map(str::to_owned).collect()
}

fn is_hex_checksum(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// An archive repo with `main` at two commits (the first with a version), `other`, a
/// summary and a delta between the two commits of `main`.
struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    repo_arg: String,
    first: String,
    second: String,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().to_owned();
    let tree = root.join("tree");
    std::fs::create_dir_all(tree.join("etc/sub")).expect("mkdir");
    std::fs::write(tree.join("etc/a.conf"), "one\n").expect("write");
    std::fs::write(tree.join("gone"), "going\n").expect("write");
    std::os::unix::fs::symlink("a.conf", tree.join("etc/link")).expect("symlink");
    let repo_arg = format!("--repo={}", root.join("repo").display());
    let tree_arg = format!("--tree=dir={}", tree.display());
    text(None, &[&repo_arg, "init", "--mode=archive"]);
    let commit = |extra: &[&str]| {
        let mut args = vec![repo_arg.as_str(), "commit", "-b", "main", &tree_arg];
        args.extend_from_slice(extra);
        text(None, &args).trim().to_owned()
    };
    let first = commit(&[
        "-s",
        "first",
        "--add-metadata-string=version=1.0",
        "--timestamp=2024-05-01 12:00:00 +0000",
    ]);
    std::fs::write(tree.join("etc/a.conf"), "two\n").expect("write");
    std::fs::write(tree.join("etc/sub/new"), "new\n").expect("write");
    std::fs::remove_file(tree.join("gone")).expect("rm");
    let second = commit(&["-s", "second", "-m", "a body"]);
    text(None, &[&repo_arg, "refs", "--create=other", &first]);
    text(
        None,
        &[
            &repo_arg,
            "static-delta",
            "generate",
            &format!("--from={first}"),
            &format!("--to={second}"),
        ],
    );
    text(None, &[&repo_arg, "summary", "-u"]);
    Fixture {
        _tmp: tmp,
        root,
        repo_arg,
        first,
        second,
    }
}

#[test]
fn log_show_rev_parse_and_refs() {
    let f = fixture();
    let r = f.repo_arg.as_str();

    let log = json(None, &[r, "log", "main"]);
    let log_text = text(None, &[r, "log", "main"]);
    let text_commits: Vec<&str> = log_text
        .lines()
        .filter_map(|l| l.strip_prefix("commit "))
        .collect();
    let commits = &log["commits"];
    let json_commits: Vec<&str> = field(commits, "checksum")
        .iter()
        .map(|v| v.as_str().expect("hex"))
        .collect();
    assert_eq!(json_commits, text_commits);
    assert_eq!(json_commits, [f.second.as_str(), f.first.as_str()]);
    assert_eq!(log["history_complete"], true);
    let first = &commits[1];
    assert_eq!(first["parent"], Value::Null);
    assert_eq!(commits[0]["parent"], f.first.as_str());
    assert_eq!(first["version"], "1.0");
    assert_eq!(first["metadata"]["version"], "1.0");
    assert_eq!(first["timestamp"], "2024-05-01T12:00:00Z");
    assert_eq!(first["timestamp_unix"], 1_714_564_800);
    assert!(log_text.contains("Date:  2024-05-01 12:00:00 +0000"));
    assert_eq!(commits[0]["subject"], "second");
    assert_eq!(commits[0]["body"], "a body");
    for key in ["root_tree", "root_meta", "content_checksum"] {
        assert!(is_hex_checksum(&first[key]), "{key}: {first}");
    }
    let content = log_text
        .lines()
        .find_map(|l| l.strip_prefix("ContentChecksum:  "))
        .expect("a content checksum line");
    assert_eq!(commits[0]["content_checksum"], content);

    let show = json(None, &[r, "show", "main"]);
    let show_text = text(None, &[r, "show", "main"]);
    for line in [
        format!("commit {}", show["checksum"].as_str().expect("checksum")),
        format!("Parent:  {}", show["parent"].as_str().expect("parent")),
        format!(
            "ContentChecksum:  {}",
            show["content_checksum"].as_str().expect("content checksum")
        ),
        format!("    {}", show["subject"].as_str().expect("subject")),
        format!("    {}", show["body"].as_str().expect("body")),
    ] {
        assert!(
            show_text.lines().any(|l| l == line),
            "{line:?} not in:\n{show_text}"
        );
    }
    assert_eq!(show["checksum"], f.second.as_str());
    assert_eq!(show["subject"], "second");
    assert_eq!(show["detached_metadata"], Value::Null);
    let key = json(None, &[r, "show", "--print-metadata-key=version", &f.first]);
    assert_eq!(key, serde_json::json!({"key": "version", "value": "1.0"}));

    let parsed = json(None, &[r, "rev-parse", "main", "other"]);
    let text_revs: Vec<String> = lines_of(text(None, &[r, "rev-parse", "main", "other"]));
    assert_eq!(column(&parsed["revs"], "checksum"), text_revs);
    assert_eq!(parsed["revs"][1]["rev"], "other");

    let refs = json(None, &[r, "refs"]);
    let mut names = column(&refs["refs"], "name");
    let mut text_names: Vec<String> = lines_of(text(None, &[r, "refs"]));
    names.sort();
    text_names.sort();
    assert_eq!(names, text_names);
    assert_eq!(names, ["main", "other"]);
    for item in refs["refs"].as_array().expect("refs") {
        let name = item["name"].as_str().expect("name");
        assert_eq!(item["checksum"], text(None, &[r, "rev-parse", name]).trim());
        assert_eq!(item["remote"], Value::Null);
    }
}

#[test]
fn show_objects_aliases_and_collections() {
    let f = fixture();
    let r = f.repo_arg.as_str();
    // A file and a directory object, by checksum.
    let listing = json(None, &[r, "ls", "-R", "main"]);
    let entries = listing["entries"].as_array().expect("entries");
    let conf = entries
        .iter()
        .find(|e| e["path"] == "/etc/a.conf")
        .expect("/etc/a.conf");
    let file = conf["checksum"].as_str().expect("checksum");
    let shown = json(None, &[r, "show", file]);
    let shown_text = text(None, &[r, "show", file]);
    assert_eq!(shown["type"], "file");
    assert_eq!(shown["file_type"], "regular");
    for line in [
        format!("Object: {file}"),
        format!("Size: {}", shown["size"]),
        format!(
            "Mode: 0{:o}",
            0o100000 | shown["mode"].as_u64().expect("mode")
        ),
        format!("Uid: {}", shown["uid"]),
    ] {
        assert!(
            shown_text.lines().any(|l| l == line),
            "{line:?} not in:\n{shown_text}"
        );
    }
    assert_eq!(shown["size"], conf["size"]);
    assert_eq!(shown["mode"], conf["mode"]);
    let tree = entries[0]["dirtree"].as_str().expect("dirtree");
    let shown_tree = json(None, &[r, "show", tree]);
    assert_eq!(
        shown_tree,
        serde_json::json!({"type": "dirtree", "checksum": tree})
    );
    assert_eq!(text(None, &[r, "show", tree]), format!("dirtree {tree}\n"));

    text(None, &[r, "refs", "--alias", "--create=stable", "main"]);
    let aliases = json(None, &[r, "refs", "--alias"]);
    assert_eq!(
        aliases,
        serde_json::json!({"aliases": [{"name": "stable", "target": "main", "checksum": f.second}]})
    );
    assert_eq!(text(None, &[r, "refs", "--alias"]), "stable -> main\n");

    let collection_repo = format!("--repo={}", f.root.join("collection").display());
    let c = collection_repo.as_str();
    text(
        None,
        &[
            c,
            "init",
            "--mode=archive",
            "--collection-id=org.example.Os",
        ],
    );
    let tree_arg = format!("--tree=dir={}", f.root.join("tree").display());
    let tip = text(None, &[c, "commit", "-b", "os/stable", &tree_arg]);
    let refs = json(None, &[c, "refs", "--collections"]);
    assert_eq!(
        text(None, &[c, "refs", "--collections"]),
        "(org.example.Os, os/stable)\n"
    );
    assert_eq!(refs["refs"][0]["collection_id"], "org.example.Os");
    assert_eq!(refs["refs"][0]["name"], "os/stable");
    assert_eq!(refs["refs"][0]["checksum"], tip.trim());
}

#[test]
fn ls_lists_what_the_text_lists() {
    let f = fixture();
    let r = f.repo_arg.as_str();
    let listing = json(None, &[r, "ls", "-R", "-C", "main"]);
    assert_eq!(listing["commit"], f.second.as_str());
    let entries = listing["entries"].as_array().expect("entries");
    let lines = text(None, &[r, "ls", "-R", "-C", "main"]);
    let lines: Vec<&str> = lines.lines().collect();
    assert_eq!(entries.len(), lines.len());
    for (entry, line) in entries.iter().zip(&lines) {
        let path = entry["path"].as_str().expect("path");
        let kind = match entry["type"].as_str().expect("type") {
            "directory" => 'd',
            "symlink" => 'l',
            "file" => '-',
            other => panic!("type {other}"),
        };
        let mode = entry["mode"].as_u64().expect("mode");
        assert!(
            line.starts_with(&format!("{kind}0{mode:04o} 0 0 ")),
            "{line} vs {entry}"
        );
        match entry["symlink_target"].as_str() {
            Some(target) => assert!(line.ends_with(&format!("{path} -> {target}")), "{line}"),
            None => assert!(line.ends_with(path), "{line}"),
        }
        let sums = match kind {
            'd' => format!(
                "{} {}",
                entry["dirtree"].as_str().expect("dirtree"),
                entry["dirmeta"].as_str().expect("dirmeta")
            ),
            _ => entry["checksum"].as_str().expect("checksum").to_owned(),
        };
        assert!(line.contains(&sums), "{line} vs {entry}");
    }
    let conf = entries
        .iter()
        .find(|e| e["path"] == "/etc/a.conf")
        .expect("/etc/a.conf");
    assert_eq!(conf["size"], 4);
}

#[test]
fn summary_and_remote_commands() {
    let f = fixture();
    let r = f.repo_arg.as_str();
    let summary = json(None, &[r, "summary", "--view"]);
    assert_eq!(
        json(None, &[r, "summary"]),
        summary,
        "--json implies --view"
    );
    let view = text(None, &[r, "summary", "--view"]);
    let refs = summary["refs"].as_array().expect("refs");
    let names: Vec<&str> = refs
        .iter()
        .map(|x| x["name"].as_str().expect("name"))
        .collect();
    let text_names: Vec<&str> = view.lines().filter_map(|l| l.strip_prefix("* ")).collect();
    assert_eq!(names, text_names);
    for item in refs {
        assert!(view.contains(item["checksum"].as_str().expect("checksum")));
        assert!(item["commit_size"].as_u64().expect("size") > 0);
    }
    let main = refs.iter().find(|x| x["name"] == "main").expect("main");
    assert_eq!(main["checksum"], f.second.as_str());
    let other = refs.iter().find(|x| x["name"] == "other").expect("other");
    assert_eq!(other["version"], "1.0");
    assert_eq!(other["timestamp"], "2024-05-01T12:00:00Z");
    assert!(
        summary["last_modified_unix"]
            .as_u64()
            .expect("last-modified")
            > 1_700_000_000
    );
    assert!(summary["metadata"]["ostree.static-deltas"].is_object());

    let url = format!("file://{}", f.root.join("repo").display());
    text(
        None,
        &[r, "remote", "add", "--no-gpg-verify", "origin", &url],
    );
    let remotes = json(None, &[r, "remote", "list"]);
    assert_eq!(
        remotes,
        serde_json::json!({"remotes": [{"name": "origin", "url": url}]})
    );
    assert_eq!(text(None, &[r, "remote", "list"]), "origin\n");

    let remote_refs = json(None, &[r, "remote", "refs", "origin"]);
    let text_refs: Vec<String> = lines_of(text(None, &[r, "remote", "refs", "origin"]));
    assert_eq!(column(&remote_refs["refs"], "name"), text_refs);
    assert_eq!(remote_refs["refs"][0]["remote"], "origin");
    let remote_summary = json(None, &[r, "remote", "summary", "origin"]);
    assert_eq!(remote_summary["refs"], summary["refs"]);
}

#[test]
fn fsck_prune_and_diff() {
    let f = fixture();
    let r = f.repo_arg.as_str();
    let report = json(None, &[r, "fsck"]);
    let fsck_text = text(None, &[r, "fsck"]);
    assert_eq!(report["ok"], true);
    assert_eq!(report["errors"], serde_json::json!([]));
    let verified = report["commits_verified"].as_u64().expect("count");
    assert!(
        fsck_text.contains(&format!("object fsck of {verified} commits completed")),
        "{fsck_text}"
    );
    let objects = report["objects"].as_u64().expect("objects");
    assert!(
        fsck_text.contains(&format!("({objects}/{objects})")),
        "{fsck_text}"
    );

    let diff = json(None, &[r, "diff", &f.first, &f.second]);
    let diff_text = text(None, &[r, "diff", &f.first, &f.second]);
    let mut from_text: Vec<String> = Vec::new();
    for (mark, key) in [("M", "modified"), ("D", "removed"), ("A", "added")] {
        for path in strings(&diff[key]) {
            from_text.push(format!("{mark}    {path}"));
        }
    }
    assert_eq!(from_text, diff_text.lines().collect::<Vec<_>>());
    assert_eq!(strings(&diff["removed"]), ["/gone"]);
    assert_eq!(diff["stats"], Value::Null);
    let stats = json(None, &[r, "diff", "--stats", &f.first, &f.second]);
    assert_eq!(stats["modified"], Value::Null);
    let stats_text = text(None, &[r, "diff", "--stats", &f.first, &f.second]);
    let common = stats["stats"]["common_objects"].as_u64().expect("common");
    assert!(stats_text.contains(&format!("Common Object Count: {common}\n")));

    // Dropping `other` leaves nothing unreachable (the first commit is main's parent);
    // --depth=0 then drops the first commit and what only it reaches.
    text(None, &[r, "refs", "--delete", "other"]);
    let dry = json(
        None,
        &[r, "prune", "--refs-only", "--depth=0", "--no-prune"],
    );
    assert_eq!(dry["dry_run"], true);
    let deleted = dry["objects_deleted"].as_u64().expect("deleted");
    assert!(deleted > 0, "{dry}");
    let dry_text = text(
        None,
        &[r, "prune", "--refs-only", "--depth=0", "--no-prune"],
    );
    assert!(
        dry_text.starts_with(&format!(
            "Total objects: {}\nWould delete: {deleted} objects, freeing ",
            dry["objects_total"]
        )),
        "{dry_text}"
    );
    let pruned = json(None, &[r, "prune", "--refs-only", "--depth=0"]);
    assert_eq!(pruned["objects_deleted"], deleted);
    assert_eq!(pruned["objects_total"], dry["objects_total"]);
    assert!(pruned["bytes_freed"].as_u64().expect("freed") > 0);
    let again = text(None, &[r, "prune", "--refs-only", "--depth=0"]);
    let total = pruned["objects_total"].as_u64().expect("total") - deleted;
    assert_eq!(
        again,
        format!("Total objects: {total}\nNo unreachable objects\n")
    );
}

#[test]
fn log_says_where_history_ends() {
    let f = fixture();
    let r = f.repo_arg.as_str();
    let first = f
        .root
        .join("repo/objects")
        .join(&f.first[..2])
        .join(format!("{}.commit", &f.first[2..]));
    std::fs::remove_file(first).expect("drop the first commit");
    let log = json(None, &[r, "log", "main"]);
    assert_eq!(log["history_complete"], false);
    assert_eq!(column(&log["commits"], "checksum"), [f.second.as_str()]);
    let log_text = text(None, &[r, "log", "main"]);
    assert!(
        log_text.ends_with("<< History beyond this commit not fetched >>\n"),
        "{log_text}"
    );
}

#[test]
fn fsck_reports_corruption() {
    let f = fixture();
    let r = f.repo_arg.as_str();
    let listing = json(None, &[r, "ls", "-R", "main", "/etc/a.conf"]);
    let file = listing["entries"][0]["checksum"]
        .as_str()
        .expect("checksum")
        .to_owned();
    let object = f
        .root
        .join("repo/objects")
        .join(&file[..2])
        .join(format!("{}.filez", &file[2..]));
    let mut bytes = std::fs::read(&object).expect("read the object");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&object, bytes).expect("corrupt the object");

    let args = [r, "fsck", "--all"];
    let out = Invocation::new(ROSTREE).args(args).arg("--json").output();
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).expect("a report on stdout");
    let error: Value = serde_json::from_slice(&out.stderr).expect("an error object on stderr");
    assert_eq!(report["ok"], false);
    assert!(error["error"]["message"].is_string());
    let text_run = Invocation::new(ROSTREE).args(args).output();
    let stderr = String::from_utf8_lossy(&text_run.stderr);
    let errors = report["errors"].as_array().expect("errors");
    assert!(!errors.is_empty());
    for e in errors {
        let e = e.as_str().expect("an error line");
        assert!(stderr.lines().any(|l| l == e), "{e:?} not in:\n{stderr}");
        assert!(e.contains(&file), "{e}");
    }
}

#[test]
fn static_delta_list_and_show() {
    let f = fixture();
    let r = f.repo_arg.as_str();
    let list = json(None, &[r, "static-delta", "list"]);
    let name = format!("{}-{}", f.first, f.second);
    assert_eq!(
        list,
        serde_json::json!({"deltas": [{"name": name, "from": f.first, "to": f.second}]})
    );
    assert_eq!(
        text(None, &[r, "static-delta", "list"]),
        format!("{name}\n")
    );
    let show = json(None, &[r, "static-delta", "show", &name]);
    let show_text = text(None, &[r, "static-delta", "show", &name]);
    assert_eq!(show["from"], f.first.as_str());
    assert_eq!(show["to"], f.second.as_str());
    assert_eq!(show["signed"], false);
    let parts = show["parts"].as_array().expect("parts");
    assert!(show_text.contains(&format!("Number of parts: {}\n", parts.len())));
    for (i, part) in parts.iter().enumerate() {
        assert!(show_text.contains(&format!(
            "PartMeta{i}: nobjects={} size={} usize={}\n",
            part["objects"], part["size"], part["uncompressed_size"]
        )));
    }
    assert!(show_text.contains(&format!("Total Size: {} (", show["size"])));
    assert!(show_text.contains(&format!("Timestamp: {}\n", show["timestamp_unix"])));
}

#[test]
fn admin_status_and_config_diff() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let t = tmp.path();
    let sysroot = t.join("sysroot");
    std::fs::create_dir_all(&sysroot).expect("mkdir");
    let s = sysroot.to_str().expect("utf-8");
    let tree = t.join("tree");
    for (path, data) in [
        ("usr/lib/modules/6.1.0/vmlinuz", "a kernel\n"),
        ("usr/lib/modules/6.1.0/initramfs.img", "an initramfs\n"),
        ("usr/etc/os-release", "NAME=TestOS\nID=testos\n"),
        ("usr/etc/changed.conf", "default\n"),
        ("usr/etc/removed.conf", "default\n"),
    ] {
        let path = tree.join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, data).expect("write");
    }
    let sysroot_opt = Some(sysroot.as_path());
    text(sysroot_opt, &["admin", "init-fs", "--modern", s]);
    text(sysroot_opt, &["admin", "os-init", "testos"]);
    let repo_arg = format!("--repo={s}/ostree/repo");
    let tree_arg = format!("--tree=dir={}", tree.display());
    let commit = text(
        sysroot_opt,
        &[
            &repo_arg,
            "commit",
            "-b",
            "testos/stable",
            "--add-metadata-string=version=7",
            &tree_arg,
        ],
    );
    text(
        sysroot_opt,
        &["admin", "deploy", "--os=testos", "testos/stable"],
    );

    let status = json(sysroot_opt, &["admin", "status"]);
    let deployments = status["deployments"].as_array().expect("deployments");
    assert_eq!(deployments.len(), 1);
    let d = &deployments[0];
    // Upstream 2025.3's names, as upstream prints them.
    for key in [
        "checksum",
        "stateroot",
        "refspec",
        "serial",
        "index",
        "booted",
        "pending",
        "rollback",
        "finalization-locked",
        "soft-reboot-target",
        "staged",
        "pinned",
        "unlocked",
        "version",
    ] {
        assert!(d.get(key).is_some(), "no {key} in {d}");
    }
    assert_eq!(d["checksum"], commit.trim());
    assert_eq!(d["version"], "7");
    let status_text = text(sysroot_opt, &["admin", "status"]);
    assert!(
        status_text.contains(&format!("testos {}.0", commit.trim())),
        "{status_text}"
    );

    let deploy_dir = sysroot
        .join("ostree/deploy/testos/deploy")
        .join(format!("{}.0", commit.trim()));
    std::fs::write(deploy_dir.join("etc/changed.conf"), "local\n").expect("write");
    std::fs::remove_file(deploy_dir.join("etc/removed.conf")).expect("rm");
    std::fs::write(deploy_dir.join("etc/added.conf"), "local\n").expect("write");
    let diff = json(sysroot_opt, &["admin", "config-diff", "--os=testos"]);
    let diff_text = text(sysroot_opt, &["admin", "config-diff", "--os=testos"]);
    let mut from_json = Vec::new();
    for (mark, key) in [("M", "modified"), ("D", "removed"), ("A", "added")] {
        for path in strings(&diff[key]) {
            from_json.push(format!("{mark}    {path}"));
        }
    }
    assert_eq!(from_json, diff_text.lines().collect::<Vec<_>>());
    assert_eq!(strings(&diff["added"]), ["added.conf"]);
    assert_eq!(diff["stateroot"], "testos");
    assert_eq!(diff["deployment"], commit.trim());
}

#[test]
fn errors_are_one_json_object_on_stderr() {
    let f = fixture();
    for args in [
        vec![f.repo_arg.as_str(), "log", "nosuchref", "--json"],
        vec![f.repo_arg.as_str(), "refs", "--json", "--no-such-option"],
        vec!["--repo=/nonexistent/repo", "fsck", "--json"],
    ] {
        let out = Invocation::new(ROSTREE).args(&args).output();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let error: Value =
            serde_json::from_str(&stderr).unwrap_or_else(|e| panic!("{args:?}: {e}: {stderr}"));
        let message = error["error"]["message"].as_str().expect("a message");
        assert!(!message.is_empty());
    }
    // Without --json the same error is text.
    let out = Invocation::new(ROSTREE)
        .args([f.repo_arg.as_str(), "log", "nosuchref"])
        .output();
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: "));
}
