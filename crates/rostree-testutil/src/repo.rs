//! Repositories for differential tests: a [`Pair`] (one repo written by each
//! tool), [`snapshot`]s of a repo's files, and helpers to corrupt objects.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Output;

use sha2::{Digest, Sha256};

use crate::cmd::{Invocation, describe, upstream_ostree};

/// The repository modes both tools can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// `archive` (written to the config as `archive-z2`).
    Archive,
    /// `bare`: real files with real ownership and xattrs.
    Bare,
    /// `bare-user`: metadata in the `user.ostreemeta` xattr.
    BareUser,
    /// `bare-user-only`: no ownership or xattrs.
    BareUserOnly,
}

impl Mode {
    /// Every mode, in a fixed order.
    pub const ALL: [Mode; 4] = [
        Mode::Archive,
        Mode::Bare,
        Mode::BareUser,
        Mode::BareUserOnly,
    ];

    /// The `--mode=` argument of `init`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Archive => "archive",
            Mode::Bare => "bare",
            Mode::BareUser => "bare-user",
            Mode::BareUserOnly => "bare-user-only",
        }
    }

    /// Parses a `core.mode` config value (`archive-z2` and `archive` both mean archive).
    pub fn from_config(value: &str) -> Option<Mode> {
        Some(match value.trim() {
            "archive" | "archive-z2" => Mode::Archive,
            "bare" => Mode::Bare,
            "bare-user" => Mode::BareUser,
            "bare-user-only" => Mode::BareUserOnly,
            _ => return None,
        })
    }

    /// Reads the mode of the repository at `repo` from its `config`.
    ///
    /// # Panics
    ///
    /// Panics if the config cannot be read or has no known mode.
    pub fn of_repo(repo: &Path) -> Mode {
        let config = std::fs::read_to_string(repo.join("config"))
            .unwrap_or_else(|e| panic!("reading {}/config: {e}", repo.display()));
        config
            .lines()
            .find_map(|l| l.strip_prefix("mode="))
            .and_then(Mode::from_config)
            .unwrap_or_else(|| panic!("no known core.mode in {}/config:\n{config}", repo.display()))
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which tool to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// Upstream `ostree`.
    Upstream,
    /// `rostree`.
    Rostree,
}

/// Two repositories of the same mode in one temporary directory: `up`, written
/// by upstream `ostree`, and `rs`, written by `rostree`.
///
/// Write operations ([`Pair::both`], [`Pair::commit`]) run each tool on its own
/// repo with identical arguments; read operations ([`Pair::cross`]) run both tools
/// on both repos and demand byte-identical stdout.
#[derive(Debug)]
pub struct Pair {
    /// Owns the directory; everything is under `tmp.path()`.
    pub tmp: tempfile::TempDir,
    /// The mode of both repos.
    pub mode: Mode,
    /// Upstream `ostree`.
    pub ostree: PathBuf,
    /// The `rostree` binary under test.
    pub rostree: PathBuf,
    /// The repo upstream writes.
    pub up: PathBuf,
    /// The repo rostree writes.
    pub rs: PathBuf,
}

impl Pair {
    /// Creates the temp dir and `init`s both repos in `mode`; checks that the two
    /// `config` files are identical.
    pub fn new(rostree: impl Into<PathBuf>, mode: Mode) -> Self {
        let tmp = tempfile::Builder::new()
            .prefix("rostree-diff-")
            .tempdir()
            .expect("creating a temp dir for the repos");
        let ostree = upstream_ostree();
        let pair = Pair {
            up: tmp.path().join("up-repo"),
            rs: tmp.path().join("rs-repo"),
            tmp,
            mode,
            ostree,
            rostree: rostree.into(),
        };
        let mode_arg = format!("--mode={mode}");
        pair.run(Tool::Upstream, &pair.up, ["init", &mode_arg])
            .pipe_ok("upstream init");
        pair.run(Tool::Rostree, &pair.rs, ["init", &mode_arg])
            .pipe_ok("rostree init");
        let a = std::fs::read(pair.up.join("config")).expect("reading upstream config");
        let b = std::fs::read(pair.rs.join("config")).expect("reading rostree config");
        assert_eq!(
            String::from_utf8_lossy(&a),
            String::from_utf8_lossy(&b),
            "init --mode={mode}: config files differ (left: upstream, right: rostree)"
        );
        pair
    }

    /// A path inside the pair's temp dir.
    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.tmp.path().join(rel)
    }

    /// The binary of `tool`.
    pub fn bin(&self, tool: Tool) -> &Path {
        match tool {
            Tool::Upstream => &self.ostree,
            Tool::Rostree => &self.rostree,
        }
    }

    /// The repo `tool` writes.
    pub fn repo(&self, tool: Tool) -> &Path {
        match tool {
            Tool::Upstream => &self.up,
            Tool::Rostree => &self.rs,
        }
    }

    /// `tool SUBCOMMAND --repo=REPO ARGS...`, run in the temp dir.
    pub fn invocation<I, S>(&self, tool: Tool, repo: &Path, args: I) -> Invocation
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut args = args.into_iter();
        let mut inv = Invocation::new(self.bin(tool)).cwd(self.tmp.path());
        if let Some(sub) = args.next() {
            inv = inv.arg(sub);
        }
        let mut repo_arg = std::ffi::OsString::from("--repo=");
        repo_arg.push(repo);
        inv.arg(repo_arg).args(args)
    }

    /// Runs `tool SUBCOMMAND --repo=REPO ARGS...` and returns a [`Run`].
    pub fn run<I, S>(&self, tool: Tool, repo: &Path, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let inv = self.invocation(tool, repo, args);
        let output = inv.output();
        Run {
            command: inv.display(),
            output,
        }
    }

    /// Runs the same command with each tool on its own repo: (upstream, rostree).
    pub fn both<I, S>(&self, args: I) -> (Run, Run)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<std::ffi::OsString> =
            args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        (
            self.run(Tool::Upstream, &self.up, &args),
            self.run(Tool::Rostree, &self.rs, &args),
        )
    }

    /// Runs a write command with each tool on its own repo; both must succeed
    /// with identical stdout, which is returned.
    pub fn both_ok<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.try_both_ok(args)
            .unwrap_or_else(|report| panic!("{report}"))
    }

    /// Like [`Pair::both_ok`], but returns the failure report instead of
    /// panicking (upstream failing still panics: the oracle must work).
    pub fn try_both_ok<I, S>(&self, args: I) -> Result<String, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let (u, r) = self.both(args);
        u.pipe_ok("upstream (the oracle)");
        if !r.output.status.success() || u.output.stdout != r.output.stdout {
            // Name the objects that differ, to point at the cause.
            let diffs = crate::compare::object_dir_differences(&self.up, &self.rs);
            return Err(format!(
                "[{}] upstream and rostree disagree\n== upstream: {}\n{}\n== rostree: {}\n{}\n\
                 == object differences (a = upstream's repo, b = rostree's):\n{}",
                self.mode,
                u.command,
                describe(&u.output),
                r.command,
                describe(&r.output),
                diffs.join("\n")
            ));
        }
        Ok(String::from_utf8_lossy(&u.output.stdout)
            .trim_end()
            .to_owned())
    }

    /// `commit ARGS...` with both tools; both must print the same checksum,
    /// which is returned.
    pub fn commit<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut all = vec![std::ffi::OsString::from("commit")];
        all.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        let csum = self.both_ok(all);
        assert_eq!(csum.len(), 64, "commit printed {csum:?}");
        csum
    }

    /// Runs a read command with both tools on both repos, demands identical
    /// stdout and exit status for all four runs, and returns upstream's stdout
    /// on its own repo.
    pub fn cross<I, S>(&self, args: I) -> Vec<u8>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cross_with(args, <[u8]>::to_vec)
    }

    /// Like [`Pair::cross`], but compares `normalize(stdout)` instead of the raw
    /// bytes (e.g. sorted lines for `refs`, whose order is hash-table order).
    pub fn cross_with<I, S>(&self, args: I, normalize: impl Fn(&[u8]) -> Vec<u8>) -> Vec<u8>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.try_cross_with(args, normalize)
            .unwrap_or_else(|report| panic!("{report}"))
    }

    /// Like [`Pair::cross_with`], but returns the failure report instead of
    /// panicking, so that a test can collect every difference before failing.
    pub fn try_cross_with<I, S>(
        &self,
        args: I,
        normalize: impl Fn(&[u8]) -> Vec<u8>,
    ) -> Result<Vec<u8>, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<std::ffi::OsString> =
            args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let reference = self.run(Tool::Upstream, &self.up, &args);
        let expected = normalize(&reference.output.stdout);
        let mut failures = Vec::new();
        for (tool, repo) in [
            (Tool::Rostree, &self.up),
            (Tool::Upstream, &self.rs),
            (Tool::Rostree, &self.rs),
        ] {
            let run = self.run(tool, repo, &args);
            if normalize(&run.output.stdout) != expected
                || run.output.status.success() != reference.output.status.success()
            {
                failures.push(format!("== {}\n{}", run.command, describe(&run.output)));
            }
        }
        if failures.is_empty() {
            Ok(expected)
        } else {
            Err(format!(
                "[{}] outputs differ from upstream's on its own repo\n== reference: {}\n{}\n{}",
                self.mode,
                reference.command,
                describe(&reference.output),
                failures.join("\n")
            ))
        }
    }

    /// Runs every command through [`Pair::try_cross_with`] (raw stdout) and
    /// panics at the end with the report of every one that differed.
    pub fn cross_all<S: AsRef<OsStr>>(&self, commands: &[&[S]]) {
        let failures: Vec<String> = commands
            .iter()
            .filter_map(|cmd| self.try_cross_with(*cmd, <[u8]>::to_vec).err())
            .collect();
        assert!(
            failures.is_empty(),
            "{} of {} cross-checked commands differ:\n\n{}",
            failures.len(),
            commands.len(),
            failures.join("\n\n")
        );
    }

    /// Asserts that the two repos hold the same objects ([`compare_object_dirs`])
    /// and that upstream's `fsck` accepts rostree's repo.
    ///
    /// [`compare_object_dirs`]: crate::compare_object_dirs
    pub fn assert_same_objects(&self) {
        crate::compare::compare_object_dirs(&self.up, &self.rs);
        fsck(&self.rs);
    }
}

/// Runs upstream `ostree fsck` on `repo` and asserts success with no error,
/// corruption or missing-object report.
pub fn fsck(repo: &Path) {
    let mut arg = std::ffi::OsString::from("--repo=");
    arg.push(repo);
    let inv = Invocation::new(upstream_ostree()).arg("fsck").arg(arg);
    let out = inv.output();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let lower = text.to_lowercase();
    assert!(
        out.status.success()
            && !lower.contains("error:")
            && !lower.contains("corrupt")
            && !lower.contains("missing")
            && !lower.contains("warning"),
        "upstream fsck rejects {}:\n{}",
        repo.display(),
        describe(&out)
    );
}

/// One command that ran, and its output.
#[derive(Debug)]
pub struct Run {
    /// The command line, for messages.
    pub command: String,
    /// What it produced.
    pub output: Output,
}

impl Run {
    /// Panics (showing the command and both streams) unless it exited 0.
    pub fn pipe_ok(&self, what: &str) -> &Self {
        assert!(
            self.output.status.success(),
            "{what} failed: {}\n{}",
            self.command,
            describe(&self.output)
        );
        self
    }

    /// stdout as (lossy) UTF-8.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    /// stderr as (lossy) UTF-8.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
}

/// What a [`Snapshot`] records for one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A directory.
    Dir,
    /// A regular file's content.
    File(Vec<u8>),
    /// A symlink's target.
    Symlink(PathBuf),
    /// Anything else.
    Other,
}

/// The files under `objects/` and `refs/` of a repo, plus `config`, with their
/// contents. (`tmp/` is left out: upstream itself leaves `tmp/staging-*` dirs
/// behind after some failed commits.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot(pub BTreeMap<PathBuf, Node>);

/// Records everything under `objects/` and `refs/`, and the `config` file, of `repo`.
pub fn snapshot(repo: &Path) -> Snapshot {
    let mut map = BTreeMap::new();
    for top in ["objects", "refs", "config"] {
        walk(repo, Path::new(top), &mut map);
    }
    Snapshot(map)
}

fn walk(root: &Path, rel: &Path, map: &mut BTreeMap<PathBuf, Node>) {
    let path = root.join(rel);
    let Ok(meta) = std::fs::symlink_metadata(&path) else {
        return;
    };
    let ft = meta.file_type();
    if ft.is_dir() {
        map.insert(rel.to_owned(), Node::Dir);
        let mut names: Vec<_> = std::fs::read_dir(&path)
            .unwrap_or_else(|e| panic!("readdir {}: {e}", path.display()))
            .map(|e| e.expect("readdir entry").file_name())
            .collect();
        names.sort();
        for name in names {
            walk(root, &rel.join(name), map);
        }
    } else if ft.is_symlink() {
        let target = std::fs::read_link(&path).expect("readlink");
        map.insert(rel.to_owned(), Node::Symlink(target));
    } else if ft.is_file() {
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        map.insert(rel.to_owned(), Node::File(data));
    } else {
        map.insert(rel.to_owned(), Node::Other);
    }
}

impl Snapshot {
    /// A list of paths added, removed or changed from `self` to `after`
    /// (empty when equal).
    pub fn diff(&self, after: &Snapshot) -> Vec<String> {
        let mut out = Vec::new();
        for (path, node) in &self.0 {
            match after.0.get(path) {
                None => out.push(format!("removed: {}", path.display())),
                Some(n) if n != node => out.push(format!("changed: {}", path.display())),
                Some(_) => {}
            }
        }
        for path in after.0.keys() {
            if !self.0.contains_key(path) {
                out.push(format!("added: {}", path.display()));
            }
        }
        out
    }
}

/// The hex sha256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The loose-object path `objects/XX/REST.EXT` of `csum` in `repo`.
pub fn object_path(repo: &Path, csum: &str, ext: &str) -> PathBuf {
    repo.join("objects")
        .join(&csum[..2])
        .join(format!("{}.{ext}", &csum[2..]))
}

/// Writes `data` as a metadata object named after its sha256 and returns the checksum.
pub fn store_metadata(repo: &Path, data: &[u8], ext: &str) -> String {
    let csum = sha256_hex(data);
    let path = object_path(repo, &csum, ext);
    std::fs::create_dir_all(path.parent().expect("object dir")).expect("mkdir objects/XX");
    std::fs::write(&path, data).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    csum
}

/// Points local ref `name` at `csum` by writing `refs/heads/NAME`.
pub fn write_ref(repo: &Path, name: &str, csum: &str) {
    let path = repo.join("refs/heads").join(name);
    std::fs::write(&path, format!("{csum}\n"))
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Reads local ref `name`.
pub fn read_ref(repo: &Path, name: &str) -> String {
    let path = repo.join("refs/heads").join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_owned()
}

/// Replaces every occurrence of `from` in `data` by `to` (same length); panics
/// if there is none.
pub fn replace_bytes(data: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len(), "replace_bytes needs equal lengths");
    let mut out = data.to_vec();
    let mut found = false;
    let mut i = 0;
    while i + from.len() <= out.len() {
        if &out[i..i + from.len()] == from {
            out[i..i + from.len()].copy_from_slice(to);
            found = true;
            i += from.len();
        } else {
            i += 1;
        }
    }
    assert!(found, "replace_bytes: pattern not found");
    out
}

/// Replaces, inside metadata object `parent` (of type `ext`), the raw 32-byte
/// checksum `old` by `new`; stores the result under its new name (the old file
/// stays) and returns the new checksum.
pub fn repoint_metadata(repo: &Path, parent: &str, ext: &str, old: &str, new: &str) -> String {
    let path = object_path(repo, parent, ext);
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let old = hex::decode(old).expect("old checksum is hex");
    let new = hex::decode(new).expect("new checksum is hex");
    store_metadata(repo, &replace_bytes(&data, &old, &new), ext)
}
