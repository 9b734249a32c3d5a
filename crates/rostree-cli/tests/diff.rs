//! `diff` against upstream: commit against commit, a commit against its parent, and a
//! commit against a directory, with files changed, removed, added, retyped and re-moded.

use std::path::Path;

use rostree_testutil::repo::{Pair, Tool};
use rostree_testutil::{Mode, TreeSpec};

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[test]
fn diff_like_upstream() {
    let p = Pair::new(env!("CARGO_BIN_EXE_rostree"), Mode::Archive);
    let (t1, t2) = (p.path("t1"), p.path("t2"));
    TreeSpec::new()
        .file("a", "a\n", 0o644)
        .file("sub/m", "x\n", 0o644)
        .file("gone/f", "g\n", 0o644)
        .file("retyped", "file\n", 0o644)
        .symlink("l", "a")
        .dir("moded", 0o755)
        .create(&t1);
    TreeSpec::new()
        .file("a", "a\n", 0o700)
        .file("sub/m", "changed\n", 0o644)
        .dir("retyped", 0o755)
        .file("retyped/inner", "i\n", 0o644)
        .symlink("l", "sub")
        .dir("moded", 0o711)
        .file("new", "n\n", 0o644)
        .file("newdir/deep/n", "n\n", 0o644)
        .create(&t2);
    p.commit(["-b", "main", "--timestamp=@1", &s(&t1)]);
    p.commit(["-b", "main", "--timestamp=@2", &s(&t2)]);
    let t2_dir = s(&t2);
    let t1_dir = s(&t1);
    for repo in [p.repo(Tool::Upstream), p.repo(Tool::Rostree)] {
        for args in [
            vec!["diff", "main^", "main"],
            vec!["diff", "main", "main^"],
            vec!["diff", "main"],
            vec!["diff", "main^", t2_dir.as_str()],
            vec!["diff", "main", t1_dir.as_str()],
            vec!["diff", "--fs-diff", "main"],
            vec!["diff", "--stats", "main^", "main"],
            vec!["diff", "--stats", "main"],
            vec!["diff", "--stats", "main", "main"],
            vec!["diff", "--stats", "--fs-diff", "main", "main^"],
        ] {
            let u = p.run(Tool::Upstream, repo, &args);
            let r = p.run(Tool::Rostree, repo, &args);
            u.pipe_ok("upstream diff");
            r.pipe_ok("rostree diff");
            assert_eq!(u.stdout(), r.stdout(), "{args:?}");
        }
        // Statistics need two commits: a directory fails, after the file list.
        let args = ["diff", "--stats", "--fs-diff", "main^", t2_dir.as_str()];
        let u = p.run(Tool::Upstream, repo, args);
        let r = p.run(Tool::Rostree, repo, args);
        assert!(!u.output.status.success() && !r.output.status.success());
        assert_eq!(u.stdout(), r.stdout());
    }
}
