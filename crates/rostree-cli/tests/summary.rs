//! `summary` against upstream: the generated file is upstream's byte for byte but for its
//! last-modified time, and each tool reads the other's.

use std::path::Path;

use rostree_testutil::repo::{Pair, Tool};
use rostree_testutil::{Mode, TreeSpec};

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The view without its time line.
fn timeless(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with("Last-Modified"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn summary_like_upstream() {
    let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), Mode::Archive);
    let tree = p.path("tree");
    TreeSpec::new().file("a", "a\n", 0o644).create(&tree);
    p.commit([
        "-b",
        "main",
        "--add-metadata-string=version=1.2",
        "--timestamp=@1",
        &s(&tree),
    ]);
    p.commit(["-b", "x/y", "--timestamp=@2", &s(&tree)]);
    for extra in [
        &[][..],
        &[
            "--add-metadata=k=5",
            "--add-metadata=s='x'",
            "-m",
            "u=uint64 7",
        ],
    ] {
        let mut args = vec!["summary", "-u"];
        args.extend(extra);
        p.both_ok(&args);
        let read = |tool, repo| {
            p.run(tool, repo, ["summary", "-v"])
                .pipe_ok("summary -v")
                .stdout()
        };
        let reference = timeless(&read(Tool::Upstream, p.repo(Tool::Upstream)));
        for (tool, repo) in [
            (Tool::Upstream, p.repo(Tool::Rostree)),
            (Tool::Rostree, p.repo(Tool::Rostree)),
            (Tool::Rostree, p.repo(Tool::Upstream)),
        ] {
            assert_eq!(timeless(&read(tool, repo)), reference, "{extra:?}");
        }
        let up = std::fs::read(p.repo(Tool::Upstream).join("summary")).expect("summary");
        let rs = std::fs::read(p.repo(Tool::Rostree).join("summary")).expect("summary");
        assert_eq!(up.len(), rs.len(), "{extra:?}");
        // Only the 8 bytes of the time may differ.
        let differing = up.iter().zip(&rs).filter(|(a, b)| a != b).count();
        assert!(differing <= 8, "{extra:?}: {differing} bytes differ");
        assert_eq!(
            std::fs::read_to_string(p.repo(Tool::Upstream).join("config")).expect("config"),
            std::fs::read_to_string(p.repo(Tool::Rostree).join("config")).expect("config"),
        );
    }
}
