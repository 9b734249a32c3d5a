//! `os-release` files as upstream ostree 2022.7 reads them to title boot entries.

use std::collections::HashMap;

/// Parses an `os-release` file into its variables.
///
/// Lines starting with `#` and lines without `=` are skipped; the key is everything before
/// the first `=` (untrimmed) and the value is the rest, shell-unquoted like GLib's
/// `g_shell_unquote`. Lines whose quoting does not parse are skipped; a later line for the
/// same key wins.
pub fn parse_os_release(text: &str) -> HashMap<String, String> {
    text.split('\n')
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .filter_map(|(key, quoted)| Some((key.to_owned(), shell_unquote(quoted)?)))
        .collect()
}

/// Removes shell quoting the way `g_shell_unquote` (GLib 2.74) does, or `None` for an
/// unterminated quote.
///
/// Outside quotes a backslash escapes any character and a backslash-newline vanishes.
/// Single quotes are literal. Inside double quotes a backslash escapes only `"`, `\`, `` ` ``,
/// `$` and newline (the newline is kept) and is itself kept before anything else.
fn shell_unquote(quoted: &str) -> Option<String> {
    let mut out = String::with_capacity(quoted.len());
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\n') | None => {}
                Some(escaped) => out.push(escaped),
            },
            '\'' => loop {
                match chars.next()? {
                    '\'' => break,
                    inner => out.push(inner),
                }
            },
            '"' => loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => match chars.next()? {
                        escaped @ ('"' | '\\' | '`' | '$' | '\n') => out.push(escaped),
                        // Not an escape: the backslash stays. The character after it is
                        // neither a quote nor a backslash, so it is plain text.
                        other => {
                            out.push('\\');
                            out.push(other);
                        }
                    },
                    inner => out.push(inner),
                }
            },
            plain => out.push(plain),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquote_like_glib() {
        // Expectations checked against GLib 2.74's g_shell_unquote.
        let cases: &[(&str, Option<&str>)] = &[
            ("", Some("")),
            ("abc", Some("abc")),
            ("\"a b\"", Some("a b")),
            ("'a\\b'", Some("a\\b")),
            ("'a\"b'", Some("a\"b")),
            ("\"a\\\"b\"", Some("a\"b")),
            ("\"a\\$b\\`\\\\c\\d\"", Some("a$b`\\c\\d")),
            ("\"x\\q\"", Some("x\\q")),
            ("\"\\\nx\"", Some("\nx")),
            ("a\\ b\\\\c", Some("a b\\c")),
            ("a\\\nb", Some("ab")),
            ("a\\", Some("a")),
            ("\"a\"b'c'd", Some("abcd")),
            ("'it'\\''s'", Some("it's")),
            ("\"abc", None),
            ("'abc", None),
            ("\"a\\", None),
            ("\"a\\\"", None),
            ("x'", None),
        ];
        for (quoted, want) in cases {
            assert_eq!(shell_unquote(quoted).as_deref(), *want, "{quoted:?}");
        }
    }

    #[test]
    fn parse_lines() {
        let text = "NAME=TestOS\n\
                    VERSION=42\n\
                    ID=testos\n\
                    VERSION_ID=42\n\
                    PRETTY_NAME=\"TestOS 42\"\n\
                    # PRETTY_NAME=commented\n\
                    #ID=no\n\
                    no equals sign\n\
                    BAD=\"unterminated\n\
                    \x20SPACED = 'v w'\n\
                    EQ=a=b\n\
                    EMPTY=\n\
                    DUP=1\n\
                    DUP=2\n\
                    =nokey";
        let want: &[(&str, &str)] = &[
            ("NAME", "TestOS"),
            ("VERSION", "42"),
            ("ID", "testos"),
            ("VERSION_ID", "42"),
            ("PRETTY_NAME", "TestOS 42"),
            (" SPACED ", " v w"),
            ("EQ", "a=b"),
            ("EMPTY", ""),
            ("DUP", "2"),
            ("", "nokey"),
        ];
        let got = parse_os_release(text);
        let want: HashMap<String, String> = want
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(got, want);
        assert!(parse_os_release("").is_empty());
    }
}
