//! Running commands: upstream `ostree`, `rostree` and helper tools.
//!
//! Every command runs with a deterministic environment: `TZ=UTC`, `LC_ALL=C.UTF-8`,
//! and none of `OSTREE_REPO`, `OSTREE_SYSROOT`, `SOURCE_DATE_EPOCH`, `EDITOR`,
//! `VISUAL` or `OSTREE_EDITOR`, so that both tools see the same inputs.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Variables removed from every child's environment.
const SCRUBBED_ENV: &[&str] = &[
    "OSTREE_REPO",
    "OSTREE_SYSROOT",
    "SOURCE_DATE_EPOCH",
    "EDITOR",
    "VISUAL",
    "OSTREE_EDITOR",
    "OSTREE_DEBUG_HOME",
    "OSTREE_SKIP_CACHE",
    "OSTREE_REPO_TEST_ERROR",
];

/// The example program `name` of the crate under test, which `cargo test` builds beside
/// the test binaries (in `target/<profile>/examples/`).
///
/// # Panics
///
/// Panics if it is not built.
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/");
    let path = profile_dir.join("examples").join(name);
    assert!(path.is_file(), "{} is not built", path.display());
    path
}

/// The path of upstream `ostree`, found on `PATH`.
///
/// # Panics
///
/// Panics if there is no `ostree` on `PATH`: differential tests must fail,
/// never silently skip, when the oracle is missing.
pub fn upstream_ostree() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join("ostree");
        if is_executable(&candidate) {
            return candidate;
        }
    }
    panic!(
        "\n\n*** upstream ostree is required for differential tests: apt-get install ostree ***\n\
         (no executable `ostree` found on PATH={})\n",
        path.to_string_lossy()
    );
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A command line to run, with optional working directory, environment and user.
#[derive(Debug, Clone)]
pub struct Invocation {
    program: OsString,
    args: Vec<OsString>,
    cwd: Option<PathBuf>,
    env: Vec<(OsString, OsString)>,
    user: Option<(u32, u32)>,
    stdin: Option<PathBuf>,
}

impl Invocation {
    /// A new invocation of `program` with no arguments.
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Self {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            cwd: None,
            env: Vec::new(),
            user: None,
            stdin: None,
        }
    }

    /// Feeds the file at `path` on standard input (closed by default).
    #[must_use]
    pub fn stdin_file(mut self, path: impl AsRef<Path>) -> Self {
        self.stdin = Some(path.as_ref().to_owned());
        self
    }

    /// Appends one argument.
    #[must_use]
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Appends several arguments.
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Runs in `dir` instead of the test's working directory.
    #[must_use]
    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Self {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// Sets an environment variable (overriding the deterministic defaults).
    #[must_use]
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Runs as `uid`/`gid` with no supplementary groups, through
    /// `setpriv --reuid --regid --clear-groups` (the caller must be root).
    #[must_use]
    pub fn as_user(mut self, uid: u32, gid: u32) -> Self {
        self.user = Some((uid, gid));
        self
    }

    /// The command line as one printable string (for failure messages).
    pub fn display(&self) -> String {
        let mut out = String::new();
        if let Some((uid, gid)) = self.user {
            out.push_str(&format!(
                "setpriv --reuid={uid} --regid={gid} --clear-groups "
            ));
        }
        out.push_str(&shell_quote(&self.program));
        for a in &self.args {
            out.push(' ');
            out.push_str(&shell_quote(a));
        }
        out
    }

    fn command(&self) -> Command {
        let mut cmd = match self.user {
            Some((uid, gid)) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={gid}"))
                    .arg("--clear-groups")
                    .arg(&self.program);
                c
            }
            None => Command::new(&self.program),
        };
        cmd.args(&self.args);
        for key in SCRUBBED_ENV {
            cmd.env_remove(key);
        }
        cmd.env("TZ", "UTC").env("LC_ALL", "C.UTF-8");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        match &self.stdin {
            Some(path) => {
                let file = std::fs::File::open(path)
                    .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
                cmd.stdin(file);
            }
            None => {
                cmd.stdin(Stdio::null());
            }
        }
        cmd
    }

    /// Runs the command and captures its stdout, stderr and status.
    ///
    /// # Panics
    ///
    /// Panics if the program cannot be started at all.
    pub fn output(&self) -> Output {
        self.command()
            .output()
            .unwrap_or_else(|e| panic!("cannot run `{}`: {e}", self.display()))
    }

    /// Runs the command and panics, showing both streams, unless it exits 0.
    pub fn ok(&self) -> Output {
        let out = self.output();
        assert!(
            out.status.success(),
            "command failed: {}\n{}",
            self.display(),
            describe(&out)
        );
        out
    }
}

fn shell_quote(s: &OsStr) -> String {
    let s = s.to_string_lossy();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=./:@,+^".contains(c))
    {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// `program SUBCOMMAND --repo=REPO ARGS...` (the first of `args` is the subcommand), stdin
/// closed, ready to run or spawn: for tests that start and stop the tools themselves.
pub fn repo_command(program: impl AsRef<OsStr>, repo: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(program);
    if let Some((subcommand, rest)) = args.split_first() {
        cmd.arg(subcommand)
            .arg(format!("--repo={}", repo.display()))
            .args(rest);
    }
    cmd.stdin(std::process::Stdio::null());
    cmd
}

/// Runs `program args...` and captures stdout, stderr and status.
pub fn run<I, S>(program: impl AsRef<OsStr>, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Invocation::new(program).args(args).output()
}

/// Runs `program args...` and panics, showing both streams, unless it exits 0.
pub fn run_ok<I, S>(program: impl AsRef<OsStr>, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Invocation::new(program).args(args).ok()
}

/// A readable description of an output: status, stdout and stderr.
///
/// Streams longer than 4000 bytes are cut, with their total length shown.
pub fn describe(out: &Output) -> String {
    format!(
        "status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--------------",
        out.status,
        shorten(&out.stdout),
        shorten(&out.stderr)
    )
}

/// `data` as lossy UTF-8, cut to its first 4000 bytes if longer.
pub fn shorten(data: &[u8]) -> String {
    const MAX: usize = 4000;
    if data.len() <= MAX {
        String::from_utf8_lossy(data).into_owned()
    } else {
        format!(
            "{}\n[... {} bytes in all]",
            String::from_utf8_lossy(&data[..MAX]),
            data.len()
        )
    }
}

/// The stdout of `out` as UTF-8 (lossy).
pub fn stdout_str(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The stderr of `out` as UTF-8 (lossy).
pub fn stderr_str(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
