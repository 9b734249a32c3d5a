//! Kernel command lines as upstream ostree 2022.7 edits them (`options` of a boot entry,
//! `--karg*` options, `/proc/cmdline`).
//!
//! The 2022.7 model knows no quoting: a command line is split on every single space, so two
//! consecutive spaces give an empty argument that survives a round trip. Each argument is a
//! key with an optional value, split at the first `=` (`k` has no value, `k=` an empty one).

use std::fmt;

/// Why [`KernelArgs::delete`] refused; the messages are upstream's.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KargsError {
    /// No argument has the key.
    #[error("No key '{0}' found")]
    NoKey(String),
    /// The key exists but not with the requested value (payload is `key=value`).
    #[error("No karg '{0}' found")]
    NoKarg(String),
    /// A bare key was given but the key has several values and none of them is valueless.
    #[error("Multiple values for key '{0}' found")]
    MultipleValues(String),
}

/// An ordered kernel command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelArgs {
    /// Arguments in command-line order; several may share a key.
    entries: Vec<(String, Option<String>)>,
}

/// Splits `k=v` at the first `=`.
fn split_arg(arg: &str) -> (&str, Option<&str>) {
    match arg.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (arg, None),
    }
}

/// Splits like `g_strsplit (s, " ", -1)`, which yields nothing at all for an empty string.
fn split_spaces(s: &str) -> impl Iterator<Item = &str> {
    (!s.is_empty()).then(|| s.split(' ')).into_iter().flatten()
}

impl KernelArgs {
    /// An empty command line.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a command line by appending every space-separated item (an empty line gives no
    /// arguments).
    pub fn parse(line: &str) -> Self {
        let mut kargs = Self::new();
        for arg in split_spaces(line) {
            kargs.append(arg);
        }
        kargs
    }

    /// Imports the contents of `/proc/cmdline`: trailing whitespace removed, then every item
    /// appended except the bootloader-added `BOOT_IMAGE=` (GRUB) and `initrd=` (sd-boot) ones.
    pub fn from_proc_cmdline(text: &str) -> Self {
        // g_strchomp's notion of whitespace, which (like Rust's) leaves out \v.
        let text = text.trim_end_matches(|c: char| c.is_ascii_whitespace());
        let mut kargs = Self::new();
        for arg in split_spaces(text) {
            if !arg.starts_with("BOOT_IMAGE=") && !arg.starts_with("initrd=") {
                kargs.append(arg);
            }
        }
        kargs
    }

    /// Adds `arg` at the end, even if its key is already present.
    pub fn append(&mut self, arg: &str) {
        let (key, value) = split_arg(arg);
        self.entries
            .push((key.to_owned(), value.map(str::to_owned)));
    }

    /// Sets `arg` as the only value of its key: every existing argument with that key is
    /// removed and the new one takes the place of the first of them; a new key goes last.
    pub fn replace(&mut self, arg: &str) {
        let (key, value) = split_arg(arg);
        let new = (key.to_owned(), value.map(str::to_owned));
        match self.entries.iter().position(|(k, _)| k == key) {
            Some(first) => {
                // Everything before `first` has another key, so removing the rest of the
                // key's entries leaves `first` where it was.
                self.entries.retain(|(k, _)| k != key);
                self.entries.insert(first, new);
            }
            None => self.entries.push(new),
        }
    }

    /// Appends `arg` unless its key is already present (whatever the value).
    pub fn append_if_missing(&mut self, arg: &str) {
        if !self.contains_key(split_arg(arg).0) {
            self.append(arg);
        }
    }

    /// Removes one argument, as `--karg-delete` does.
    ///
    /// A key with a single argument is removed by its bare key or by its exact `key=value`.
    /// Among several arguments of a key, the first one whose value is exactly that of `arg`
    /// is removed (a bare key then only matches a valueless argument).
    pub fn delete(&mut self, arg: &str) -> Result<(), KargsError> {
        let (key, value) = split_arg(arg);
        let positions: Vec<usize> = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, (k, _))| k == key)
            .map(|(i, _)| i)
            .collect();
        let victim = match positions.as_slice() {
            [] => return Err(KargsError::NoKey(key.to_owned())),
            &[only] => {
                if let Some(v) = value
                    && self.entries[only].1.as_deref() != Some(v)
                {
                    return Err(KargsError::NoKarg(format!("{key}={v}")));
                }
                only
            }
            several => {
                match several
                    .iter()
                    .copied()
                    .find(|&i| self.entries[i].1.as_deref() == value)
                {
                    Some(i) => i,
                    None if value.is_none() => {
                        return Err(KargsError::MultipleValues(arg.to_owned()));
                    }
                    None => return Err(KargsError::NoKarg(arg.to_owned())),
                }
            }
        };
        self.entries.remove(victim);
        Ok(())
    }

    /// The value of the last argument with `key`: `None` if the key is absent, `Some(None)`
    /// if that argument has no `=`.
    pub fn get_last_value(&self, key: &str) -> Option<Option<&str>> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_deref())
    }

    /// Whether any argument has `key`.
    pub fn contains_key(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k == key)
    }

    /// Whether there are no arguments at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every argument as text (`k`, `k=` or `k=v`), in order.
    pub fn iter(&self) -> impl Iterator<Item = String> + '_ {
        self.entries.iter().map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k.clone(),
        })
    }
}

impl fmt::Display for KernelArgs {
    /// The arguments joined with single spaces (the `options` value of a boot entry).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, arg) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(&arg)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print_round_trip() {
        // (input, expected items)
        let cases: &[(&str, &[&str])] = &[
            ("", &[]),
            ("quiet", &["quiet"]),
            ("root=LABEL=MOO quiet", &["root=LABEL=MOO", "quiet"]),
            ("a  b", &["a", "", "b"]),
            (" a", &["", "a"]),
            ("a ", &["a", ""]),
            (" ", &["", ""]),
            ("EMPTYLIST= k", &["EMPTYLIST=", "k"]),
            ("x:y =v", &["x:y", "=v"]),
        ];
        for (input, items) in cases {
            let kargs = KernelArgs::parse(input);
            assert_eq!(kargs.iter().collect::<Vec<_>>(), *items, "{input:?}");
            assert_eq!(kargs.to_string(), *input, "{input:?}");
            assert_eq!(kargs.is_empty(), items.is_empty());
        }
    }

    #[test]
    fn values_split_at_first_equals() {
        let kargs = KernelArgs::parse("root=LABEL=MOO quiet EMPTY= =lone");
        let cases: &[(&str, Option<Option<&str>>)] = &[
            ("root", Some(Some("LABEL=MOO"))),
            ("quiet", Some(None)),
            ("EMPTY", Some(Some(""))),
            ("", Some(Some("lone"))),
            ("missing", None),
            ("root=LABEL", None),
        ];
        for (key, want) in cases {
            assert_eq!(kargs.get_last_value(key), *want, "{key:?}");
            assert_eq!(kargs.contains_key(key), want.is_some(), "{key:?}");
        }
        let dup = KernelArgs::parse("console=a console=b quiet=1 quiet");
        assert_eq!(dup.get_last_value("console"), Some(Some("b")));
        assert_eq!(dup.get_last_value("quiet"), Some(None));
    }

    #[test]
    fn proc_cmdline_import() {
        let cases: &[(&str, &str)] = &[
            ("", ""),
            ("\n", ""),
            (
                "BOOT_IMAGE=/vmlinuz-5 root=/dev/sda1 ro initrd=/initrd.img quiet\n",
                "root=/dev/sda1 ro quiet",
            ),
            ("a b -- c d \t\r\n", "a b -- c d"),
            // \v is not whitespace for g_strchomp.
            ("a\x0b", "a\x0b"),
            // Leading and inner space runs are kept as empty arguments.
            (" a  b\n", " a  b"),
            ("xBOOT_IMAGE=1 initrd", "xBOOT_IMAGE=1 initrd"),
        ];
        for (text, want) in cases {
            assert_eq!(
                KernelArgs::from_proc_cmdline(text).to_string(),
                *want,
                "{text:?}"
            );
        }
    }

    /// One editing step of a karg sequence.
    enum Op {
        Append(&'static str),
        Replace(&'static str),
        AppendIfMissing(&'static str),
        Delete(&'static str),
    }

    fn run(start: &str, ops: &[Op]) -> Result<String, KargsError> {
        let mut kargs = KernelArgs::parse(start);
        for op in ops {
            match op {
                Op::Append(a) => kargs.append(a),
                Op::Replace(a) => kargs.replace(a),
                Op::AppendIfMissing(a) => kargs.append_if_missing(a),
                Op::Delete(a) => kargs.delete(a)?,
            }
        }
        Ok(kargs.to_string())
    }

    #[test]
    fn editing_rules() {
        use Op::*;
        let cases: &[(&str, &[Op], &str)] = &[
            ("", &[Append("a"), Append("a")], "a a"),
            ("console=a", &[Append("console=b")], "console=a console=b"),
            ("a b=1 c b=2 d", &[Replace("b=3")], "a b=3 c d"),
            ("a b c", &[Replace("b")], "a b c"),
            ("a", &[Replace("b=1")], "a b=1"),
            ("a b=1", &[Replace("b=")], "a b="),
            ("", &[Replace("x")], "x"),
            ("k=1 k=2", &[AppendIfMissing("k=3")], "k=1 k=2"),
            ("k", &[AppendIfMissing("k=3")], "k"),
            ("k", &[AppendIfMissing("j=3")], "k j=3"),
            ("a quiet b", &[Delete("quiet")], "a b"),
            ("a FOO=BAR b", &[Delete("FOO")], "a b"),
            ("a FOO=BAR b", &[Delete("FOO=BAR")], "a b"),
            ("x=1 x=2 x=1", &[Delete("x=1")], "x=2 x=1"),
            ("x=1 x x=2", &[Delete("x")], "x=1 x=2"),
            ("x=1 x= x=2", &[Delete("x=")], "x=1 x=2"),
            // The `a  b` empty argument has the empty key.
            ("a  b", &[Delete("")], "a b"),
        ];
        for (start, ops, want) in cases {
            assert_eq!(run(start, ops).as_deref(), Ok(*want), "{start:?}");
        }
    }

    #[test]
    fn delete_errors() {
        let cases: &[(&str, &str, &str)] = &[
            ("a b", "c", "No key 'c' found"),
            ("a b", "c=1", "No key 'c' found"),
            ("quiet", "quiet=1", "No karg 'quiet=1' found"),
            ("FOO=BAR", "FOO=BAZ", "No karg 'FOO=BAZ' found"),
            ("FOO=BAR", "FOO=", "No karg 'FOO=' found"),
            ("x=1 x=2", "x", "Multiple values for key 'x' found"),
            ("x=1 x=2", "x=3", "No karg 'x=3' found"),
            ("x x", "x=", "No karg 'x=' found"),
        ];
        for (start, arg, msg) in cases {
            let mut kargs = KernelArgs::parse(start);
            let err = kargs.delete(arg).expect_err(arg);
            assert_eq!(err.to_string(), *msg, "{start:?} - {arg:?}");
            assert_eq!(kargs.to_string(), *start, "failed delete must not edit");
        }
    }

    /// A `--karg*` sequence observed with upstream's `admin deploy`, with the merge
    /// deployment's options as the starting point of each deploy and `ostree=` replaced last.
    #[test]
    fn deploy_sequence_with_merge() {
        use Op::*;
        let o = "ostree=/ostree/boot.1/testos/c/0";
        let steps: &[(&[Op], &str)] = &[
            (
                &[Replace("root=LABEL=MOO"), Replace("quiet")],
                "root=LABEL=MOO quiet ostree=/ostree/boot.1/testos/c/0",
            ),
            (
                &[Replace("FOO=BAR")],
                "root=LABEL=MOO quiet ostree=/ostree/boot.1/testos/c/0 FOO=BAR",
            ),
            (
                &[Replace("TESTARG=TESTVALUE")],
                "root=LABEL=MOO quiet ostree=/ostree/boot.1/testos/c/0 FOO=BAR TESTARG=TESTVALUE",
            ),
            (
                &[
                    Replace("root=LABEL=NEW"),
                    Append("console=a"),
                    Append("console=b"),
                ],
                "root=LABEL=NEW quiet ostree=/ostree/boot.1/testos/c/0 FOO=BAR \
                 TESTARG=TESTVALUE console=a console=b",
            ),
            (
                &[Replace("console=c")],
                "root=LABEL=NEW quiet ostree=/ostree/boot.1/testos/c/0 FOO=BAR \
                 TESTARG=TESTVALUE console=c",
            ),
            (
                &[Delete("FOO")],
                "root=LABEL=NEW quiet ostree=/ostree/boot.1/testos/c/0 TESTARG=TESTVALUE console=c",
            ),
        ];
        let mut options = String::new();
        for (ops, want) in steps {
            let mut kargs = KernelArgs::parse(&options);
            for op in *ops {
                match op {
                    Replace(a) => kargs.replace(a),
                    Append(a) => kargs.append(a),
                    Delete(a) => kargs.delete(a).expect("key present"),
                    AppendIfMissing(a) => kargs.append_if_missing(a),
                }
            }
            kargs.replace(o);
            options = kargs.to_string();
            assert_eq!(options, *want);
        }
    }

    /// No-initramfs trees: `init=` is replaced before `ostree=` (as upstream's test-no-initramfs
    /// entries show).
    #[test]
    fn init_then_ostree_order() {
        let init = "init=/ostree/boot.0/testos/c/0/usr/lib/ostree/ostree-prepare-root";
        let ostree = "ostree=/ostree/boot.0/testos/c/0";
        let cases: &[(&str, &str)] = &[
            (
                "root=/dev/sda2 ostree=/old rootwait",
                "root=/dev/sda2 ostree=/ostree/boot.0/testos/c/0 rootwait \
                 init=/ostree/boot.0/testos/c/0/usr/lib/ostree/ostree-prepare-root",
            ),
            (
                "root=/dev/sda2 ostree=/old init=/old rootwait",
                "root=/dev/sda2 ostree=/ostree/boot.0/testos/c/0 \
                 init=/ostree/boot.0/testos/c/0/usr/lib/ostree/ostree-prepare-root rootwait",
            ),
            (
                "root=LABEL=rootfs",
                "root=LABEL=rootfs init=/ostree/boot.0/testos/c/0/usr/lib/ostree/\
                 ostree-prepare-root ostree=/ostree/boot.0/testos/c/0",
            ),
        ];
        for (start, want) in cases {
            let mut kargs = KernelArgs::parse(start);
            kargs.replace(init);
            kargs.replace(ostree);
            assert_eq!(kargs.to_string(), *want);
        }
    }

    /// Upstream's observed `admin kargs edit-in-place --append-if-missing` and
    /// `admin instutil set-kargs` results.
    #[test]
    fn admin_kargs_examples() {
        let mut kargs = KernelArgs::parse("root=LABEL=MOO quiet ostree=/ostree/boot.1/t/c/0");
        for arg in [
            "TESTARG=TESTVALUE",
            "ARGWITHOUTKEY",
            "quiet",
            "TESTARG=TESTVALUE",
        ] {
            kargs.append_if_missing(arg);
        }
        assert_eq!(
            kargs.to_string(),
            "root=LABEL=MOO quiet ostree=/ostree/boot.1/t/c/0 TESTARG=TESTVALUE ARGWITHOUTKEY"
        );

        let mut kargs = KernelArgs::new();
        for arg in [
            "FOO=BAZ",
            "FOO=BIF",
            "TESTARG=TESTVALUE",
            "KEYWORD",
            "EMPTYLIST=",
        ] {
            kargs.append(arg);
        }
        kargs.replace("ostree=/ostree/boot.0/testos/c/0");
        let first = kargs.to_string();
        assert_eq!(
            first,
            "FOO=BAZ FOO=BIF TESTARG=TESTVALUE KEYWORD EMPTYLIST= ostree=/ostree/boot.0/testos/c/0"
        );
        let mut kargs = KernelArgs::parse(&first);
        kargs.replace("FOO=XXX");
        kargs.append("A=1");
        kargs.append("x:y");
        kargs.replace("ostree=/ostree/boot.1/testos/c/0");
        assert_eq!(
            kargs.to_string(),
            "FOO=XXX TESTARG=TESTVALUE KEYWORD EMPTYLIST= ostree=/ostree/boot.1/testos/c/0 A=1 x:y"
        );
    }
}
