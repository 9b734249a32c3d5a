//! Describing a file tree as a table of entries, and creating it on disk.
//!
//! ```no_run
//! use rostree_testutil::TreeSpec;
//! let dir = tempfile::tempdir().expect("tempdir");
//! TreeSpec::new()
//!     .file("a.txt", "hello\n", 0o644)
//!     .xattr("a.txt", "user.foo", b"bar")
//!     .symlink("link", "a.txt")
//!     .dir("empty", 0o755)
//!     .create(dir.path());
//! ```
//!
//! Entries are created in table order; missing parent directories are created
//! with mode 0755. Ownership, then permissions, then xattrs are applied after
//! every entry exists (ownership first because `chown` clears setuid bits).
//! Creating devices, owners other than the caller and `trusted.*` xattrs needs
//! root.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::repo::Mode;

/// What one entry of a tree is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A regular file with this content and permission mode (e.g. `0o4755`).
    File {
        /// The file's bytes.
        content: Vec<u8>,
        /// Permission bits, including setuid/setgid/sticky.
        mode: u32,
    },
    /// A directory with this permission mode.
    Dir {
        /// Permission bits.
        mode: u32,
    },
    /// A symbolic link with this (uninterpreted) target.
    Symlink {
        /// The link target, relative, absolute or dangling.
        target: String,
    },
    /// A second name for an entry created earlier (same inode).
    Hardlink {
        /// The existing entry's path, relative to the tree root.
        existing: String,
    },
    /// A named pipe.
    Fifo,
    /// A bound unix-domain socket.
    Socket,
    /// A character device node (needs root).
    CharDevice {
        /// Device major number.
        major: u32,
        /// Device minor number.
        minor: u32,
    },
}

/// One entry: a path relative to the tree root, what it is, and its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path relative to the root; may contain spaces, UTF-8 or newlines.
    pub path: String,
    /// What to create.
    pub kind: Kind,
    /// Extended attributes (name, value) set after creation.
    pub xattrs: Vec<(String, Vec<u8>)>,
    /// `(uid, gid)` to `lchown` to, if any.
    pub owner: Option<(u32, u32)>,
}

/// A table of entries describing a tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeSpec {
    entries: Vec<Entry>,
}

impl TreeSpec {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// The entries, in creation order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Adds an arbitrary entry.
    #[must_use]
    pub fn entry(mut self, path: &str, kind: Kind) -> Self {
        self.entries.push(Entry {
            path: path.to_owned(),
            kind,
            xattrs: Vec::new(),
            owner: None,
        });
        self
    }

    /// A regular file with `content` and permission `mode`.
    #[must_use]
    pub fn file(self, path: &str, content: impl AsRef<[u8]>, mode: u32) -> Self {
        self.entry(
            path,
            Kind::File {
                content: content.as_ref().to_vec(),
                mode,
            },
        )
    }

    /// An empty 0644 file.
    #[must_use]
    pub fn empty_file(self, path: &str) -> Self {
        self.file(path, b"", 0o644)
    }

    /// A 0755 executable.
    #[must_use]
    pub fn executable(self, path: &str, content: impl AsRef<[u8]>) -> Self {
        self.file(path, content, 0o755)
    }

    /// A directory with permission `mode`.
    #[must_use]
    pub fn dir(self, path: &str, mode: u32) -> Self {
        self.entry(path, Kind::Dir { mode })
    }

    /// `depth` nested 0755 directories `prefix/1/2/.../depth`, with a file
    /// `leaf` containing `"leaf\n"` in the innermost one. Returns the spec and
    /// adds nothing else.
    #[must_use]
    pub fn nested_dirs(mut self, prefix: &str, depth: usize) -> Self {
        let mut path = prefix.to_owned();
        self = self.dir(&path, 0o755);
        for level in 1..=depth {
            path = format!("{path}/{level}");
            self = self.dir(&path, 0o755);
        }
        self.file(&format!("{path}/leaf"), b"leaf\n", 0o644)
    }

    /// A symlink to `target`.
    #[must_use]
    pub fn symlink(self, path: &str, target: &str) -> Self {
        self.entry(
            path,
            Kind::Symlink {
                target: target.to_owned(),
            },
        )
    }

    /// A hard link named `path` to the earlier entry `existing`.
    #[must_use]
    pub fn hardlink(self, path: &str, existing: &str) -> Self {
        self.entry(
            path,
            Kind::Hardlink {
                existing: existing.to_owned(),
            },
        )
    }

    /// A named pipe.
    #[must_use]
    pub fn fifo(self, path: &str) -> Self {
        self.entry(path, Kind::Fifo)
    }

    /// A unix-domain socket (bound, then the listener is closed).
    #[must_use]
    pub fn socket(self, path: &str) -> Self {
        self.entry(path, Kind::Socket)
    }

    /// A character device node (root only).
    #[must_use]
    pub fn char_device(self, path: &str, major: u32, minor: u32) -> Self {
        self.entry(path, Kind::CharDevice { major, minor })
    }

    fn find_mut(&mut self, path: &str) -> &mut Entry {
        self.entries
            .iter_mut()
            .rev()
            .find(|e| e.path == path)
            .unwrap_or_else(|| panic!("TreeSpec: no entry {path:?} to modify"))
    }

    /// Adds an xattr to the entry at `path` (which must already be in the table).
    #[must_use]
    pub fn xattr(mut self, path: &str, name: &str, value: &[u8]) -> Self {
        self.find_mut(path)
            .xattrs
            .push((name.to_owned(), value.to_vec()));
        self
    }

    /// Sets the owner of the entry at `path`.
    #[must_use]
    pub fn owner(mut self, path: &str, uid: u32, gid: u32) -> Self {
        self.find_mut(path).owner = Some((uid, gid));
        self
    }

    /// Removes every entry at or under `path`.
    #[must_use]
    pub fn without(mut self, path: &str) -> Self {
        let prefix = format!("{path}/");
        self.entries
            .retain(|e| e.path != path && !e.path.starts_with(&prefix));
        self
    }

    /// Keeps only the entries for which `keep` is true.
    #[must_use]
    pub fn filter(mut self, keep: impl Fn(&Entry) -> bool) -> Self {
        self.entries.retain(|e| keep(e));
        self
    }

    /// Creates the tree under `root` (which is created if needed; its own
    /// mode is set to 0755).
    ///
    /// # Panics
    ///
    /// Panics on any filesystem error.
    pub fn create(&self, root: &Path) {
        std::fs::create_dir_all(root).unwrap_or_else(|e| panic!("mkdir {}: {e}", root.display()));
        set_mode(root, 0o755);
        for e in &self.entries {
            let path = root.join(&e.path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .unwrap_or_else(|err| panic!("mkdir -p {}: {err}", parent.display()));
            }
            create_one(root, &path, &e.kind);
        }
        // Ownership before modes (chown clears setuid/setgid), then xattrs.
        for e in &self.entries {
            if let Some((uid, gid)) = e.owner {
                let path = root.join(&e.path);
                std::os::unix::fs::lchown(&path, Some(uid), Some(gid))
                    .unwrap_or_else(|err| panic!("lchown {}: {err}", path.display()));
            }
        }
        // Directory modes deepest first, so that restrictive modes never stop
        // us from changing what is inside.
        let mut modes: Vec<(PathBuf, u32)> = self
            .entries
            .iter()
            .filter_map(|e| match e.kind {
                Kind::File { mode, .. } | Kind::Dir { mode } => Some((root.join(&e.path), mode)),
                _ => None,
            })
            .collect();
        modes.sort_by_key(|(p, _)| std::cmp::Reverse(p.components().count()));
        for e in &self.entries {
            for (name, value) in &e.xattrs {
                let path = root.join(&e.path);
                xattr::set(&path, name, value)
                    .unwrap_or_else(|err| panic!("setxattr {} {name}: {err}", path.display()));
            }
        }
        for (path, mode) in modes {
            set_mode(&path, mode);
        }
    }
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

fn create_one(root: &Path, path: &Path, kind: &Kind) {
    let shown = path.display();
    match kind {
        Kind::File { content, .. } => {
            std::fs::write(path, content).unwrap_or_else(|e| panic!("write {shown}: {e}"));
        }
        Kind::Dir { .. } => {
            std::fs::create_dir_all(path).unwrap_or_else(|e| panic!("mkdir {shown}: {e}"));
        }
        Kind::Symlink { target } => {
            std::os::unix::fs::symlink(target, path)
                .unwrap_or_else(|e| panic!("symlink {shown}: {e}"));
        }
        Kind::Hardlink { existing } => {
            std::fs::hard_link(root.join(existing), path)
                .unwrap_or_else(|e| panic!("link {shown}: {e}"));
        }
        Kind::Fifo => {
            crate::cmd::run_ok("mkfifo", [path]);
        }
        Kind::Socket => {
            let listener = std::os::unix::net::UnixListener::bind(path)
                .unwrap_or_else(|e| panic!("bind {shown}: {e}"));
            drop(listener);
        }
        Kind::CharDevice { major, minor } => {
            crate::cmd::run_ok(
                "mknod",
                [
                    path.as_os_str(),
                    "c".as_ref(),
                    major.to_string().as_ref(),
                    minor.to_string().as_ref(),
                ],
            );
        }
    }
}

/// Deterministic pseudo-random bytes (xorshift), for incompressible content.
pub fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A tree with every kind of entry OSTree can commit:
///
/// - regular files: plain, empty, executable, setuid, setgid, setuid+setgid+sticky,
///   0600 / 0444 / 0664 / 0777 modes, a 1.5 MiB incompressible file and a 1 MiB
///   compressible one;
/// - a file owned by 1000:1001;
/// - symlinks: relative, absolute, dangling, to a directory, with a space;
/// - an empty dir, a 0700 dir, a 01777 dir, a 02775 dir, nested dirs 8 deep;
/// - names with spaces, UTF-8 and a newline;
/// - `user.*` xattrs on files and dirs (several per file, a binary value),
///   `trusted.*` on a file and a symlink (an xattr with an empty value, which
///   upstream drops, is left to its own test so that it does not mask others);
/// - two hard links to one inode, in different directories.
pub fn rich_tree_spec() -> TreeSpec {
    TreeSpec::new()
        .file("a.txt", "hello\n", 0o644)
        .xattr("a.txt", "user.foo", b"bar")
        .xattr("a.txt", "user.alpha", b"\x00\xff\x01binary")
        .xattr("a.txt", "trusted.t", b"tv")
        .empty_file("empty")
        .executable("exe", "#!/bin/sh\necho hi\n")
        .file("setuid", "suid\n", 0o4755)
        .file("setgid", "sgid\n", 0o2755)
        .file("allbits", "all\n", 0o7777)
        .file("private-file", "secret\n", 0o600)
        .file("readonly", "ro\n", 0o444)
        .file("group-writable", "gw\n", 0o664)
        .file("world-writable", "ww\n", 0o777)
        .file("owned", "owned by 1000\n", 0o640)
        .owner("owned", 1000, 1001)
        .file(
            "big-random",
            pseudo_random_bytes(1_536 * 1024 + 7, 42),
            0o644,
        )
        .file("big-zeros", vec![0u8; 1 << 20], 0o644)
        .symlink("rel-link", "a.txt")
        .symlink("abs-link", "/etc/passwd")
        .symlink("dangling", "does/not/exist")
        .symlink("dir-link", "sub")
        .symlink("link with space", "with space/file name")
        .xattr("rel-link", "trusted.lnk", b"lv")
        .dir("empty-dir", 0o755)
        .dir("private-dir", 0o700)
        .file("private-dir/inside", "in\n", 0o644)
        .dir("sticky", 0o1777)
        .dir("setgid-dir", 0o2775)
        .nested_dirs("deep", 8)
        .dir("sub", 0o755)
        .xattr("sub", "user.dirattr", b"dv")
        .file("sub/nested.txt", "nested\n", 0o644)
        .dir("with space", 0o755)
        .file("with space/file name", "spaced\n", 0o644)
        .dir("ünïcödé", 0o755)
        .file("ünïcödé/日本語.txt", "utf8\n", 0o644)
        .file("new\nline", "newline in name\n", 0o644)
        .file("UPPER", "sorts before lowercase\n", 0o644)
        .file("hard1", "hard linked\n", 0o644)
        .hardlink("sub/hard2", "hard1")
}

/// Creates [`rich_tree_spec`] in `dir` and returns the spec.
pub fn rich_tree(dir: &Path) -> TreeSpec {
    let spec = rich_tree_spec();
    spec.create(dir);
    spec
}

/// Creates the tree used for commits into a repo of `mode`, and returns it.
///
/// Upstream 2022.7 needs no variant: in a `bare-user-only` repo `ostree commit`
/// canonicalizes implicitly (uid/gid 0, `mode & 0755`, xattrs dropped), so setuid
/// files and xattrs are accepted and stripped rather than refused. The same rich
/// tree is therefore used for every mode; the tests also commit it with the
/// explicit flags upstream's docs give for bare-user-only
/// (`--owner-uid=0 --owner-gid=0 --no-xattrs --canonical-permissions`) and check
/// that the result is the same.
pub fn rich_tree_for_mode(dir: &Path, mode: Mode) -> TreeSpec {
    match mode {
        Mode::Archive | Mode::Bare | Mode::BareUser | Mode::BareUserOnly => rich_tree(dir),
    }
}
