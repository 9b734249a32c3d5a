//! S-expressions as GnuPG's agent stores secret keys (`private-keys-v1.d/<keygrip>.key`).
//!
//! ```text
//! extended format   Created: 20261130T201511
//!                   Key: (private-key (rsa (n #00E7…#)(e #010001#)(d #…#)(p #…#)(q #…#)(u #…#)))
//!                        lines after the first start with a space and continue the value;
//!                        a #hex# string may be cut across them
//! canonical format  (11:private-key(3:rsa(1:n257:<257 bytes>)…))
//! ```
//!
//! Both are read into one tree; atoms are tokens, `#hex#`, `"quoted"`, `|base64|` or
//! `N:verbatim` bytes.

use base64::Engine;

/// An S-expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sexp {
    /// A string of bytes.
    Atom(Vec<u8>),
    /// A parenthesised list.
    List(Vec<Sexp>),
}

/// Why a key file did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid S-expression at byte {at}: {what}")]
pub struct Error {
    /// Where, in the expression.
    pub at: usize,
    /// What was wrong.
    pub what: &'static str,
}

/// Lists deeper than this are refused, so hostile input cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

impl Sexp {
    /// The list's first element, when it is an atom.
    pub fn head(&self) -> Option<&[u8]> {
        match self {
            Sexp::List(items) => match items.first() {
                Some(Sexp::Atom(a)) => Some(a),
                _ => None,
            },
            Sexp::Atom(_) => None,
        }
    }

    /// The elements of a list (none for an atom).
    pub fn items(&self) -> &[Sexp] {
        match self {
            Sexp::List(items) => items,
            Sexp::Atom(_) => &[],
        }
    }

    /// The first sub-list whose head is `name`.
    pub fn find(&self, name: &str) -> Option<&Sexp> {
        self.items()
            .iter()
            .find(|item| item.head() == Some(name.as_bytes()))
    }

    /// The atom after the head of the sub-list named `name`: `(name value)`.
    pub fn value(&self, name: &str) -> Option<&[u8]> {
        match self.find(name)?.items().get(1)? {
            Sexp::Atom(a) => Some(a),
            Sexp::List(_) => None,
        }
    }
}

/// The S-expression of a key file in either format.
pub fn parse_key_file(data: &[u8]) -> Result<Sexp, Error> {
    let start = data
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .ok_or(Error {
            at: 0,
            what: "empty",
        })?;
    if data[start] == b'(' {
        return parse(data);
    }
    // Extended format: find the `Key:` field and join its continuation lines.
    let text = data;
    let mut value = Vec::new();
    let mut in_key = false;
    for line in text.split(|&b| b == b'\n') {
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            if in_key {
                value.push(b' ');
                value.extend_from_slice(line);
            }
            continue;
        }
        in_key = false;
        if let Some(rest) = line.strip_prefix(b"Key:") {
            in_key = true;
            value.extend_from_slice(rest);
        }
    }
    if value.is_empty() {
        return Err(Error {
            at: 0,
            what: "no Key: field",
        });
    }
    parse(&value)
}

/// Parses one S-expression (with nothing but whitespace after it).
pub fn parse(data: &[u8]) -> Result<Sexp, Error> {
    let mut parser = Parser { data, at: 0 };
    parser.skip_space();
    let sexp = parser.expr(0)?;
    parser.skip_space();
    if parser.at != data.len() {
        return Err(parser.error("trailing bytes"));
    }
    Ok(sexp)
}

struct Parser<'a> {
    data: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn error(&self, what: &'static str) -> Error {
        Error { at: self.at, what }
    }

    fn peek(&self) -> Option<u8> {
        self.data.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.at += 1;
        }
    }

    fn expr(&mut self, depth: usize) -> Result<Sexp, Error> {
        match self.peek() {
            Some(b'(') => {
                if depth >= MAX_DEPTH {
                    return Err(self.error("nested too deeply"));
                }
                self.at += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_space();
                    match self.peek() {
                        Some(b')') => {
                            self.at += 1;
                            return Ok(Sexp::List(items));
                        }
                        None => return Err(self.error("unclosed list")),
                        Some(_) => items.push(self.expr(depth + 1)?),
                    }
                }
            }
            Some(_) => self.atom().map(Sexp::Atom),
            None => Err(self.error("unexpected end")),
        }
    }

    /// The bytes up to `end`, from just after the opening delimiter.
    fn delimited(&mut self, end: u8) -> Result<&[u8], Error> {
        self.at += 1;
        let start = self.at;
        let len = self.data[start..]
            .iter()
            .position(|&b| b == end)
            .ok_or_else(|| self.error("unterminated string"))?;
        self.at = start + len + 1;
        Ok(&self.data[start..start + len])
    }

    fn atom(&mut self) -> Result<Vec<u8>, Error> {
        let at = self.at;
        match self.peek() {
            Some(b'#') => {
                let digits: Vec<u8> = self
                    .delimited(b'#')?
                    .iter()
                    .copied()
                    .filter(|b| !b.is_ascii_whitespace())
                    .collect();
                if !digits.len().is_multiple_of(2) {
                    return Err(Error {
                        at,
                        what: "odd number of hex digits",
                    });
                }
                digits
                    .chunks(2)
                    .map(|pair| {
                        let text = std::str::from_utf8(pair).ok();
                        text.and_then(|t| u8::from_str_radix(t, 16).ok())
                            .ok_or(Error {
                                at,
                                what: "bad hex digit",
                            })
                    })
                    .collect()
            }
            Some(b'|') => {
                let text: Vec<u8> = self
                    .delimited(b'|')?
                    .iter()
                    .copied()
                    .filter(|b| !b.is_ascii_whitespace())
                    .collect();
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|_| Error {
                        at,
                        what: "bad base64",
                    })
            }
            Some(b'"') => self.quoted(),
            Some(b) if b.is_ascii_digit() => {
                let digits = self.data[at..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                if self.data.get(at + digits) == Some(&b':') {
                    let len: usize = std::str::from_utf8(&self.data[at..at + digits])
                        .ok()
                        .and_then(|t| t.parse().ok())
                        .ok_or_else(|| self.error("bad length"))?;
                    let start = at + digits + 1;
                    let bytes = start
                        .checked_add(len)
                        .and_then(|end| self.data.get(start..end))
                        .ok_or_else(|| self.error("verbatim string runs past the end"))?;
                    self.at = start + len;
                    Ok(bytes.to_vec())
                } else {
                    Ok(self.token())
                }
            }
            Some(_) => {
                let token = self.token();
                if token.is_empty() {
                    return Err(self.error("unexpected character"));
                }
                Ok(token)
            }
            None => Err(self.error("unexpected end")),
        }
    }

    fn token(&mut self) -> Vec<u8> {
        let start = self.at;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b"-./_:*+=".contains(&b))
        {
            self.at += 1;
        }
        self.data[start..self.at].to_vec()
    }

    fn quoted(&mut self) -> Result<Vec<u8>, Error> {
        self.at += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    let escaped = self
                        .data
                        .get(self.at + 1)
                        .copied()
                        .ok_or_else(|| self.error("unterminated string"))?;
                    out.push(match escaped {
                        b'n' => b'\n',
                        b't' => b'\t',
                        b'r' => b'\r',
                        other => other,
                    });
                    self.at += 2;
                }
                Some(b) => {
                    out.push(b);
                    self.at += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atom(s: &[u8]) -> Sexp {
        Sexp::Atom(s.to_vec())
    }

    #[test]
    fn both_formats_give_the_same_tree() {
        let extended = b"Created: 20261130T201511\nKey: (private-key (ecc (curve Ed25519)(q\n  #40AB\n CD#)\n (d \"x\\\"y\")\n ))\nLabel: other\n";
        let canonical = b"(11:private-key(3:ecc(5:curve7:Ed25519)(1:q3:\x40\xab\xcd)(1:d3:x\"y)))";
        let want = Sexp::List(vec![
            atom(b"private-key"),
            Sexp::List(vec![
                atom(b"ecc"),
                Sexp::List(vec![atom(b"curve"), atom(b"Ed25519")]),
                Sexp::List(vec![atom(b"q"), atom(b"\x40\xab\xcd")]),
                Sexp::List(vec![atom(b"d"), atom(b"x\"y")]),
            ]),
        ]);
        assert_eq!(parse_key_file(extended).expect("extended"), want);
        assert_eq!(parse_key_file(canonical).expect("canonical"), want);
        let key = &want.items()[1];
        assert_eq!(key.value("q"), Some(&b"\x40\xab\xcd"[..]));
        assert_eq!(key.value("n"), None);
    }

    #[test]
    fn base64_atoms() {
        assert_eq!(
            parse(b"(k (a |aGk=|))").expect("base64").value("a"),
            Some(&b"hi"[..])
        );
    }

    #[test]
    fn refused() {
        for bad in [
            &b""[..],
            b"(",
            b"(a",
            b"(a #0#)",
            b"(a #zz#)",
            b"(a 9:abc)",
            b"(a 99999999999999999999999:abc)",
            b"(a) b",
            b"(a |!!|)",
            b"(a \"x)",
            b"Created: x\n",
            b"(a \x01)",
        ] {
            assert!(parse_key_file(bad).is_err(), "{bad:?}");
        }
        let deep = format!("{}{}", "(".repeat(100), ")".repeat(100));
        assert!(parse(deep.as_bytes()).is_err());
    }
}
