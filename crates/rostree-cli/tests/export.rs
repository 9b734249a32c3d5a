//! `export` against upstream: the same tar listing; rostree's export is lossless (committing
//! it with either tool gives back the original tree, xattrs included, where upstream's own
//! export drops bare-user xattrs); and both tools import upstream's tar alike.

use std::path::Path;

use rostree_testutil::repo::{Pair, Tool};
use rostree_testutil::{Invocation, Mode, rich_tree_for_mode};

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn root_tree(p: &Pair, repo: &Path, rev: &str) -> String {
    let out = p
        .run(Tool::Upstream, repo, ["ls", "-d", "-C", rev, "/"])
        .pipe_ok("ls")
        .stdout();
    out.split_whitespace()
        .nth(4)
        .expect("dirtree column")
        .to_owned()
}

#[test]
fn export_round_trip() {
    let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), Mode::BareUser);
    let tree = p.path("tree");
    rich_tree_for_mode(&tree, Mode::BareUser);
    p.commit(["-b", "main", "--timestamp=@1", &s(&tree)]);
    let repo = p.repo(Tool::Upstream).to_owned();
    let original = root_tree(&p, &repo, "main");
    for args in [
        &["export", "main"][..],
        &["export", "--subpath=/deep", "--prefix=p/", "main"],
    ] {
        let mut tars = Vec::new();
        for tool in [Tool::Upstream, Tool::Rostree] {
            let out = p.invocation(tool, &repo, args).ok();
            let tar = p.path(format!("{tool:?}-{}.tar", args.len()));
            std::fs::write(&tar, &out.stdout).expect("write tar");
            let listing = Invocation::new("tar").args(["-tvf", &s(&tar)]).ok().stdout;
            tars.push((tar, listing));
        }
        assert_eq!(tars[0].1, tars[1].1, "{args:?}: tar listings differ");
        if args.len() > 2 {
            continue;
        }
        let mut imported = Vec::new();
        let mut listings = Vec::new();
        let original_listing = p
            .run(Tool::Upstream, &repo, ["ls", "-R", "-X", "main"])
            .pipe_ok("ls")
            .stdout();
        for (tar, _) in &tars {
            for tool in [Tool::Upstream, Tool::Rostree] {
                let target = p.path(format!("import-{tool:?}"));
                let _ = std::fs::remove_dir_all(&target);
                p.run(tool, &target, ["init", "--mode=bare-user"])
                    .pipe_ok("init");
                p.run(
                    tool,
                    &target,
                    [
                        "commit",
                        "-b",
                        "back",
                        "--timestamp=@1",
                        &format!("--tree=tar={}", s(tar)),
                    ],
                )
                .pipe_ok("commit tar");
                imported.push(root_tree(&p, &target, "back"));
                listings.push(
                    p.run(Tool::Upstream, &target, ["ls", "-R", "-X", "back"])
                        .pipe_ok("ls")
                        .stdout(),
                );
            }
        }
        // imported: [upstream tar by upstream, by rostree, rostree tar by upstream, by rostree]
        assert_eq!(
            imported[0], imported[1],
            "both tools import upstream's tar alike"
        );
        if imported[2] != original {
            let diff: Vec<String> = listings[2]
                .lines()
                .zip(original_listing.lines())
                .filter(|(a, b)| a != b)
                .map(|(a, b)| format!("imported {a}\noriginal {b}"))
                .collect();
            panic!(
                "upstream import of rostree's export differs:\n{}",
                diff.join("\n")
            );
        }
        assert_eq!(
            imported[3], original,
            "rostree imports its own export losslessly"
        );
    }
}

/// A tar with xattrs in arbitrary PAX order commits to the same checksum in both tools
/// (upstream keeps the records' reverse order rather than sorting them).
#[test]
fn tar_xattr_order_like_upstream() {
    let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), Mode::BareUser);
    let tar = p.path("x.tar");
    let script = r#"
import io, sys, tarfile
t = tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT)
d = tarfile.TarInfo("./"); d.type = tarfile.DIRTYPE; d.mode = 0o755; t.addfile(d)
f = tarfile.TarInfo("f"); f.mode = 0o644; f.size = 2
f.pax_headers = {"SCHILY.xattr.user.zz": "1", "SCHILY.xattr.user.aa": "2", "SCHILY.xattr.user.mm": "3"}
t.addfile(f, io.BytesIO(b"f\n"))
t.close()
"#;
    Invocation::new("python3")
        .args(["-c", script, &s(&tar)])
        .ok();
    p.commit([
        "-b",
        "x",
        "--timestamp=@1",
        &format!("--tree=tar={}", s(&tar)),
    ]);
    p.assert_same_objects();
}
