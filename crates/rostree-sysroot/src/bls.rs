//! Boot Loader Specification entry files (`boot/loader.N/entries/ostree-*.conf`) as upstream
//! ostree 2022.7 reads and writes them, and the version order the entries are sorted in.

use std::cmp::Ordering;

/// Keys written first, in this order, when present (the order of the BLS example).
const FIXED_KEYS: [&str; 6] = [
    "title",
    "version",
    "options",
    "devicetree",
    "linux",
    "initrd",
];

/// One boot entry: `key value` pairs plus any extra initrds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BootEntry {
    /// Keys in first-insertion order; a key appears once.
    keys: Vec<(String, String)>,
    /// The second and later `initrd` lines; the first one is the `initrd` key.
    overlay_initrds: Vec<String>,
}

impl BootEntry {
    /// An entry without keys.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses an entry file.
    ///
    /// Only lines starting with an ASCII letter count; each is split at its first space or
    /// tab into a key and the verbatim rest, and lines without a separator are ignored. A
    /// repeated key overwrites the earlier value, except `initrd`, whose repeats become
    /// overlay initrds.
    pub fn parse(text: &str) -> Self {
        let mut entry = Self::new();
        for line in text.split('\n') {
            if !line.starts_with(|c: char| c.is_ascii_alphabetic()) {
                continue;
            }
            let Some((key, value)) = line.split_once([' ', '\t']) else {
                continue;
            };
            if key == "initrd" && entry.get("initrd").is_some() {
                entry.overlay_initrds.push(value.to_owned());
            } else {
                entry.set(key, value);
            }
        }
        entry
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.keys
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Sets `key`; an existing key keeps its place, a new one goes last.
    pub fn set(&mut self, key: &str, value: &str) {
        match self.keys.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => value.clone_into(v),
            None => self.keys.push((key.to_owned(), value.to_owned())),
        }
    }

    /// Removes `key` if present.
    pub fn remove(&mut self, key: &str) {
        self.keys.retain(|(k, _)| k != key);
    }

    /// The extra initrds, written as additional `initrd` lines after the main one.
    pub fn overlay_initrds(&self) -> &[String] {
        &self.overlay_initrds
    }

    /// Replaces the extra initrds (upstream only sets them on entries that have `initrd`).
    pub fn set_overlay_initrds(&mut self, v: Vec<String>) {
        self.overlay_initrds = v;
    }

    /// The file contents: `title`, `version`, `options`, `devicetree`, `linux`, `initrd`
    /// (those present), then one `initrd` line per overlay initrd, then every other key in
    /// insertion order; each line `key value\n`.
    ///
    /// Upstream writes the other keys in hash-table order; with zero or one of them (the
    /// cases ostree itself produces) that is the same file.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mut line = |key: &str, value: &str| {
            out.push_str(key);
            out.push(' ');
            out.push_str(value);
            out.push('\n');
        };
        for key in FIXED_KEYS {
            if let Some(value) = self.get(key) {
                line(key, value);
            }
        }
        for initrd in &self.overlay_initrds {
            line("initrd", initrd);
        }
        for (key, value) in &self.keys {
            if !FIXED_KEYS.contains(&key.as_str()) {
                line(key, value);
            }
        }
        out
    }
}

/// Sort order of boot entries: by `version` descending with [`strverscmp`], entries with a
/// version before those without.
///
/// Two entries without a version compare equal (upstream's comparator is inconsistent there
/// and their order is unspecified).
pub fn compare_versions_desc(a: &BootEntry, b: &BootEntry) -> Ordering {
    match (a.get("version"), b.get("version")) {
        (Some(a), Some(b)) => strverscmp(b, a),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Compares two strings the way glibc's `strverscmp` does: runs of digits compare as
/// numbers, except that runs with leading zeros compare as fractional parts (`"000"` <
/// `"00"` < `"01"` < `"0"` < `"1"`).
pub fn strverscmp(a: &str, b: &str) -> Ordering {
    // glibc's state machine. States: Normal, Integer, Fraction, Zeros (leading zeros only);
    // character classes: other, non-zero digit, zero.
    const N: usize = 0;
    const I: usize = 3;
    const F: usize = 6;
    const Z: usize = 9;
    const NEXT: [usize; 12] = [
        N, I, Z, // Normal
        N, I, I, // Integer
        N, F, F, // Fraction
        N, F, Z, // Zeros
    ];
    /// Outcome after the first difference, by state and the classes of both characters.
    #[derive(Clone, Copy)]
    enum Res {
        /// The byte difference decides.
        Cmp,
        /// The longer digit run wins; equal lengths fall back to the byte difference.
        Len,
        /// The first string sorts first.
        Less,
        /// The first string sorts last.
        Greater,
    }
    use Res::{Cmp as C, Greater as G, Len as L, Less as S};
    const RESULT: [Res; 36] = [
        // x/x x/d x/0 d/x d/d d/0 0/x 0/d 0/0
        C, C, C, C, L, C, C, C, C, // Normal
        C, S, S, G, L, L, G, L, L, // Integer
        C, C, C, C, C, C, C, C, C, // Fraction
        C, G, G, S, C, C, S, C, C, // Zeros
    ];

    // The C strings' terminating NUL is part of the algorithm.
    let at = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    let class = |c: u8| usize::from(c == b'0') + usize::from(c.is_ascii_digit());
    let (p1, p2) = (a.as_bytes(), b.as_bytes());

    let mut i = 0;
    let (mut c1, mut c2) = (at(p1, 0), at(p2, 0));
    let mut state = N + class(c1);
    while c1 == c2 {
        if c1 == 0 {
            return Ordering::Equal;
        }
        state = NEXT[state];
        i += 1;
        c1 = at(p1, i);
        c2 = at(p2, i);
        state += class(c1);
    }
    let diff = c1.cmp(&c2);
    match RESULT[state * 3 + class(c2)] {
        Res::Cmp => diff,
        Res::Less => Ordering::Less,
        Res::Greater => Ordering::Greater,
        Res::Len => {
            // Both runs continue from the differing digit; the one that goes on longer is
            // the bigger number.
            let mut j = i + 1;
            loop {
                let d1 = at(p1, j).is_ascii_digit();
                let d2 = at(p2, j).is_ascii_digit();
                match (d1, d2) {
                    (true, true) => j += 1,
                    (true, false) => return Ordering::Greater,
                    (false, true) => return Ordering::Less,
                    (false, false) => return diff,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C1: &str = "7bd091ad6955c0e7ef41bab65adb016275664b55efc0d10a0c8cb263da3c1e4e";

    /// Entry files upstream wrote in its test runs (admin-test, test-no-initramfs,
    /// test-admin-deploy-uboot); each must round-trip byte for byte.
    fn upstream_entries() -> Vec<String> {
        vec![
            format!(
                "title TestOS 42 1.0.9 (ostree:0)\n\
                 version 1\n\
                 options root=LABEL=MOO quiet ostree=/ostree/boot.1/testos/{C1}/0\n\
                 linux /ostree/testos-{C1}/vmlinuz-3.6.0\n\
                 initrd /ostree/testos-{C1}/initramfs-3.6.0.img\n"
            ),
            "title TestOS 42 (ostree:0)\n\
             version 2\n\
             options root=LABEL=rootfs ostree=/ostree/boot.0/testos/07d5c4/0 \
             init=/ostree/boot.0/testos/07d5c4/0/usr/lib/ostree/ostree-prepare-root\n\
             devicetree /ostree/testos-07d5c4/devicetree-3.6.0\n\
             linux /ostree/testos-07d5c4/vmlinuz-3.6.0\n"
                .to_owned(),
            "title TestOS 42 (ostree:testos:0)\n\
             version 4\n\
             options console=/dev/foo console=/dev/bar ostree=/ostree/boot.0/testos/a803/0\n\
             linux /ostree/testos-a803/vmlinuz-3.6.0\n\
             initrd /ostree/testos-a803/initramfs-3.6.0.img\n\
             fdtdir /ostree/testos-a803/dtb\n"
                .to_owned(),
            format!(
                "title TestOS 42 1.0.10 (ostree:otheros:3)\n\
                 version 1\n\
                 options ostree=/ostree/boot.0/otheros/{C1}/1\n\
                 linux /ostree/otheros-{C1}/vmlinuz-3.6.0\n\
                 initrd /ostree/otheros-{C1}/initramfs-3.6.0.img\n"
            ),
            "title t\noptions \n".to_owned(),
        ]
    }

    #[test]
    fn upstream_files_round_trip() {
        for text in upstream_entries() {
            let entry = BootEntry::parse(&text);
            assert_eq!(entry.to_text(), text);
        }
        let entry = BootEntry::parse(&upstream_entries()[2]);
        assert_eq!(entry.get("fdtdir"), Some("/ostree/testos-a803/dtb"));
        assert_eq!(entry.get("version"), Some("4"));
        assert_eq!(
            BootEntry::parse(&upstream_entries()[4]).get("options"),
            Some("")
        );
    }

    #[test]
    fn parse_rules() {
        /// Input text, expected `get` results, expected overlay initrds.
        type Case<'a> = (&'a str, &'a [(&'a str, Option<&'a str>)], &'a [&'a str]);
        let cases: &[Case] = &[
            ("", &[("title", None)], &[]),
            ("title a b\n", &[("title", Some("a b"))], &[]),
            ("title\tx y\n", &[("title", Some("x y"))], &[]),
            // The rest is kept verbatim, extra whitespace included.
            ("title  x \r", &[("title", Some(" x \r"))], &[]),
            ("title \t x", &[("title", Some("\t x"))], &[]),
            // No separator, or not starting with a letter: ignored.
            ("title\n", &[("title", None)], &[]),
            (
                "# title x\n title y\n1key z\n",
                &[("title", None), ("1key", None)],
                &[],
            ),
            ("_k v\n", &[("_k", None)], &[]),
            ("Zk v\n", &[("Zk", Some("v"))], &[]),
            ("k=v x\n", &[("k=v", Some("x"))], &[]),
            // Later duplicates overwrite.
            ("title a\ntitle b\n", &[("title", Some("b"))], &[]),
            // Later initrds become overlays.
            (
                "initrd /a\ninitrd /b\ninitrd /c\n",
                &[("initrd", Some("/a"))],
                &["/b", "/c"],
            ),
            ("linux /l", &[("linux", Some("/l"))], &[]),
        ];
        for (text, keys, overlays) in cases {
            let entry = BootEntry::parse(text);
            for (key, want) in *keys {
                assert_eq!(entry.get(key), *want, "{text:?} {key:?}");
            }
            assert_eq!(entry.overlay_initrds(), *overlays, "{text:?}");
        }
    }

    #[test]
    fn write_order() {
        let cases: &[(&str, &str)] = &[
            // Fixed keys are reordered, unknown keys follow in insertion order.
            (
                "zz 1\ninitrd /i\nlinux /l\nfdtdir /d\ntitle T\nversion 3\naa 2\noptions o\n",
                "title T\nversion 3\noptions o\nlinux /l\ninitrd /i\nzz 1\nfdtdir /d\naa 2\n",
            ),
            // Overlay initrds right after the main one, before other keys.
            (
                "initrd /a\nfdtdir /d\ninitrd /b\nlinux /l\ninitrd /c\n",
                "linux /l\ninitrd /a\ninitrd /b\ninitrd /c\nfdtdir /d\n",
            ),
            ("title\tT", "title T\n"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(BootEntry::parse(input).to_text(), *want, "{input:?}");
        }
    }

    #[test]
    fn edit_keys() {
        let mut e = BootEntry::parse("title T\nzz 1\naa 2\n");
        e.set("zz", "9");
        e.set("new", "n");
        e.set("version", "1");
        e.remove("aa");
        e.remove("missing");
        assert_eq!(e.to_text(), "title T\nversion 1\nzz 9\nnew n\n");
        e.set("initrd", "/i");
        e.set_overlay_initrds(vec!["/o1".into(), "/o2".into()]);
        assert_eq!(e.overlay_initrds(), ["/o1", "/o2"]);
        assert_eq!(
            e.to_text(),
            "title T\nversion 1\ninitrd /i\ninitrd /o1\ninitrd /o2\nzz 9\nnew n\n"
        );
        assert_eq!(BootEntry::new(), BootEntry::parse(""));
    }

    #[test]
    fn strverscmp_cases() {
        use Ordering::*;
        let cases: &[(&str, &str, Ordering)] = &[
            ("", "", Equal),
            ("a", "a", Equal),
            ("10", "9", Greater),
            ("9", "10", Less),
            ("1.0.10", "1.0.9", Greater),
            ("1.0.9", "1.0.10", Less),
            ("000", "00", Less),
            ("00", "01", Less),
            ("01", "010", Less),
            ("010", "09", Less),
            ("09", "0", Less),
            ("0", "1", Less),
            ("1", "9", Less),
            ("9", "10", Less),
            ("alpha", "beta", Less),
            ("a", "", Greater),
            ("", "1", Less),
            ("item#99", "item#100", Less),
            ("abc", "abd", Less),
            ("1a", "1b", Less),
            ("12", "12a", Less),
            ("20261206.0", "20261206.1", Less),
            ("2", "12", Less),
            ("100", "99", Greater),
            ("1.01", "1.1", Less),
            ("1.001", "1.01", Less),
            ("x0", "x00", Greater),
            ("a9", "a10", Less),
            ("0a", "00", Greater),
        ];
        for (a, b, want) in cases {
            assert_eq!(strverscmp(a, b), *want, "{a:?} vs {b:?}");
            assert_eq!(strverscmp(b, a), want.reverse(), "{b:?} vs {a:?}");
        }
    }

    #[test]
    fn sort_version_descending() {
        let entry = |v: Option<&str>| {
            let mut e = BootEntry::new();
            if let Some(v) = v {
                e.set("version", v);
            }
            e
        };
        let mut list = [
            entry(Some("2")),
            entry(None),
            entry(Some("10")),
            entry(Some("1")),
            entry(Some("9")),
        ];
        list.sort_by(compare_versions_desc);
        let versions: Vec<_> = list.iter().map(|e| e.get("version")).collect();
        assert_eq!(
            versions,
            [Some("10"), Some("9"), Some("2"), Some("1"), None]
        );
        assert_eq!(
            compare_versions_desc(&entry(None), &entry(None)),
            Ordering::Equal
        );
    }
}
