//! Metalink files (`metalink=URL` remotes): an XML document naming where a repository's
//! `summary` can be fetched, with its size and a SHA-256 or SHA-512 digest. The first URL
//! whose file matches gives the summary, and its directory is the repository.
//!
//! ```text
//! <metalink version="3.0" xmlns="http://www.metalinker.org/">
//!   <files>
//!     <file name="summary">
//!       <size>1234</size>
//!       <verification>
//!         <hash type="sha256">...64 hex...</hash>
//!         <hash type="sha512">...128 hex...</hash>
//!       </verification>
//!       <resources>
//!         <url protocol="http" ...>http://mirror/repo/summary</url>
//!       </resources>
//!     </file>
//!   </files>
//! </metalink>
//! ```
//!
//! Read as upstream reads it: elements it does not know are passed over whole, the first
//! `<file>` named after the wanted file is taken, other files are ignored, non-HTTP URLs
//! are ignored, and the errors are upstream's words. The XML is read by a small parser of
//! the subset GLib's GMarkup accepts (elements, attributes, text, entities, comments,
//! processing instructions, CDATA).

use sha2::Digest as _;

/// What a metalink says of the wanted file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metalink {
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, lowercase hex, if given.
    pub sha256: Option<String>,
    /// Its SHA-512, lowercase hex, if given.
    pub sha512: Option<String>,
    /// Where it is, in document order.
    pub urls: Vec<String>,
}

/// Reads `xml` for the file named `wanted`; errors are upstream's words.
pub fn parse(xml: &str, wanted: &str) -> Result<Metalink, String> {
    let mut reader = Reader::new(xml);
    let mut machine = Machine {
        wanted,
        ..Machine::default()
    };
    while let Some(event) = reader.next()? {
        match event {
            Event::Start { name, attributes } => machine.start(&name, &attributes)?,
            Event::End => machine.end(),
            Event::Text(text) => machine.text(&text),
        }
    }
    machine.finish()
}

impl Metalink {
    /// Checks fetched bytes against the size and the digest (SHA-512 when given).
    pub fn verify(&self, data: &[u8]) -> Result<(), String> {
        if data.len() as u64 != self.size {
            return Err(format!(
                "Expected size is {} bytes but content is {} bytes",
                self.size,
                data.len()
            ));
        }
        let (expected, actual) = match (&self.sha512, &self.sha256) {
            (Some(expected), _) => (expected, hex(&sha2::Sha512::digest(data))),
            (None, Some(expected)) => (expected, hex(&sha2::Sha256::digest(data))),
            (None, None) => return Ok(()),
        };
        if *expected != actual {
            return Err(format!(
                "Expected checksum is {expected} but actual is {actual}"
            ));
        }
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    #[default]
    Initial,
    Metalink,
    Files,
    File,
    Size,
    Verification,
    Hash,
    Resources,
    Url,
    Passthrough,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HashType {
    Sha256,
    Sha512,
}

#[derive(Default)]
struct Machine<'w> {
    wanted: &'w str,
    state: State,
    passthrough_depth: usize,
    passthrough_previous: State,
    found_a_file: bool,
    found_ours: bool,
    /// The type of the last `<hash>` seen, when it is one upstream accepts.
    hash_type: Option<HashType>,
    result: Metalink,
}

impl Machine<'_> {
    fn go(&mut self, state: State) {
        if state == State::Passthrough {
            self.passthrough_previous = self.state;
        }
        self.state = state;
    }

    fn start(&mut self, name: &str, attributes: &[(String, String)]) -> Result<(), String> {
        let attribute = |wanted: &str| {
            attributes
                .iter()
                .find(|(n, _)| n == wanted)
                .map(|(_, v)| v.as_str())
                .ok_or_else(|| format!("element '{name}' requires attribute '{wanted}'"))
        };
        let next = match (self.state, name) {
            (State::Initial, "metalink") => State::Metalink,
            (State::Metalink, "files") => State::Files,
            // A file already taken: the others are ignored.
            (State::Files, _) if !self.result.urls.is_empty() => State::Passthrough,
            (State::Files, "file") => {
                let file_name = attribute("name")?;
                self.found_a_file = true;
                if file_name == self.wanted {
                    self.found_ours = true;
                    State::File
                } else {
                    State::Passthrough
                }
            }
            (State::File, "size") => State::Size,
            (State::File, "verification") => State::Verification,
            (State::File, "resources") => State::Resources,
            (State::Verification, "hash") => {
                self.hash_type = match attribute("type")? {
                    "sha256" => Some(HashType::Sha256),
                    "sha512" => Some(HashType::Sha512),
                    _ => None,
                };
                State::Hash
            }
            (State::Resources, _) if self.result.size == 0 => {
                return Err("No <size> element found or it is zero".into());
            }
            (State::Resources, _) if self.hash_type.is_none() => {
                return Err("No <verification> element with known <hash type=> found".into());
            }
            (State::Resources, "url") => match attribute("protocol")? {
                "http" | "https" => State::Url,
                // Other protocols are ignored.
                _ => State::Passthrough,
            },
            (State::Passthrough, _) => {
                self.passthrough_depth += 1;
                return Ok(());
            }
            _ => State::Passthrough,
        };
        self.go(next);
        Ok(())
    }

    fn end(&mut self) {
        self.state = match self.state {
            State::Initial => State::Initial,
            State::Metalink => State::Initial,
            State::Files => State::Metalink,
            State::File => State::Files,
            State::Size | State::Verification | State::Resources => State::File,
            State::Hash => State::Verification,
            State::Url => State::Resources,
            State::Passthrough if self.passthrough_depth > 0 => {
                self.passthrough_depth -= 1;
                State::Passthrough
            }
            State::Passthrough => self.passthrough_previous,
        };
    }

    fn text(&mut self, text: &str) {
        match self.state {
            State::Size => self.result.size = leading_u64(text),
            State::Hash => match self.hash_type {
                Some(HashType::Sha256) => self.result.sha256 = Some(text.to_owned()),
                Some(HashType::Sha512) => self.result.sha512 = Some(text.to_owned()),
                None => {}
            },
            State::Url if is_url(text) => self.result.urls.push(text.to_owned()),
            _ => {}
        }
    }

    fn finish(self) -> Result<Metalink, String> {
        if !self.found_a_file {
            return Err("No <file> element found".into());
        }
        if !self.found_ours {
            return Err(format!("No <file name='{}'> found", self.wanted));
        }
        let result = self.result;
        if result.sha256.is_none() && result.sha512.is_none() {
            return Err("No <verification> hash for sha256 or sha512 found".into());
        }
        let lower_hex = |s: &str, len| {
            s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        };
        if result.sha256.as_deref().is_some_and(|h| !lower_hex(h, 64)) {
            return Err("Invalid hash digest for sha256".into());
        }
        if result.sha512.as_deref().is_some_and(|h| !lower_hex(h, 128)) {
            return Err("Invalid hash digest for sha512".into());
        }
        if result.urls.is_empty() {
            return Err("No <url method='http'> elements found".into());
        }
        Ok(result)
    }
}

/// A leading decimal number, as `g_ascii_strtoull` reads one (0 without digits).
fn leading_u64(text: &str) -> u64 {
    let text = text.trim_start();
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    // Past the largest value it reads as the largest, as strtoull does.
    match end {
        0 => 0,
        _ => text[..end].parse().unwrap_or(u64::MAX),
    }
}

/// Whether `text` is a URL the fetcher can use (others are skipped, as upstream skips URLs
/// it cannot parse).
fn is_url(text: &str) -> bool {
    ["http://", "https://"].iter().any(|scheme| {
        text.strip_prefix(scheme)
            .is_some_and(|rest| !rest.is_empty())
    }) && !text.contains(char::is_whitespace)
}

enum Event {
    Start {
        name: String,
        attributes: Vec<(String, String)>,
    },
    End,
    Text(String),
}

/// A pull parser of the XML subset GMarkup reads. Errors name the position as GLib's do.
struct Reader<'a> {
    text: &'a str,
    at: usize,
    /// Open elements, innermost last.
    open: Vec<String>,
    /// An element that closed itself (`<a/>`) still owes its end event.
    pending_end: bool,
    seen_root: bool,
}

impl<'a> Reader<'a> {
    fn new(text: &'a str) -> Self {
        Reader {
            text,
            at: 0,
            open: Vec::new(),
            pending_end: false,
            seen_root: false,
        }
    }

    fn error(&self, at: usize, message: &str) -> String {
        let before = &self.text[..at.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("Error on line {line} char {column}: {message}")
    }

    fn rest(&self) -> &'a str {
        &self.text[self.at..]
    }

    fn next(&mut self) -> Result<Option<Event>, String> {
        if self.pending_end {
            self.pending_end = false;
            self.open.pop();
            return Ok(Some(Event::End));
        }
        loop {
            let rest = self.rest();
            if rest.is_empty() {
                if let Some(name) = self.open.last() {
                    let message = format!(
                        "Document ended unexpectedly with elements still open — \u{201c}{name}\u{201d} was the last element opened"
                    );
                    return Err(self.error(self.at, &message));
                }
                if !self.seen_root {
                    return Err(
                        self.error(self.at, "Document was empty or contained only whitespace")
                    );
                }
                return Ok(None);
            }
            if let Some(after) = rest.strip_prefix("<!--") {
                let end = after.find("-->").ok_or_else(|| {
                    self.error(self.at, "Document ended unexpectedly inside a comment")
                })?;
                self.at += 4 + end + 3;
                continue;
            }
            if let Some(after) = rest.strip_prefix("<?") {
                let end = after.find("?>").ok_or_else(|| {
                    self.error(
                        self.at,
                        "Document ended unexpectedly inside a processing instruction",
                    )
                })?;
                self.at += 2 + end + 2;
                continue;
            }
            if let Some(after) = rest.strip_prefix("<![CDATA[") {
                let end = after.find("]]>").ok_or_else(|| {
                    self.error(
                        self.at,
                        "Document ended unexpectedly inside a CDATA section",
                    )
                })?;
                self.at += 9 + end + 3;
                if self.open.is_empty() {
                    return Err(
                        self.error(self.at, "Document must begin with an element (e.g. <book>)")
                    );
                }
                return Ok(Some(Event::Text(after[..end].to_owned())));
            }
            if rest.starts_with("<!") {
                // A DOCTYPE: skipped, as GMarkup passes it over.
                let end = rest
                    .find('>')
                    .ok_or_else(|| self.error(self.at, "Document ended unexpectedly"))?;
                self.at += end + 1;
                continue;
            }
            if let Some(after) = rest.strip_prefix("</") {
                let end = after.find('>').ok_or_else(|| {
                    self.error(self.at, "Document ended unexpectedly inside the close tag")
                })?;
                let name = after[..end].trim_end();
                match self.open.last() {
                    Some(open) if open == name => {}
                    _ => {
                        let message = format!(
                            "Element \u{201c}{name}\u{201d} was closed, but the currently open element is \u{201c}{}\u{201d}",
                            self.open.last().map_or("", String::as_str)
                        );
                        return Err(self.error(self.at, &message));
                    }
                }
                self.at += 2 + end + 1;
                self.open.pop();
                return Ok(Some(Event::End));
            }
            if rest.starts_with('<') {
                return self.start_tag().map(Some);
            }
            // Text up to the next tag.
            let end = rest.find('<').unwrap_or(rest.len());
            let raw = &rest[..end];
            let start = self.at;
            self.at += end;
            if self.open.is_empty() {
                if raw.trim().is_empty() {
                    continue;
                }
                let message = if self.seen_root {
                    "Document ended unexpectedly"
                } else {
                    "Document must begin with an element (e.g. <book>)"
                };
                return Err(self.error(start, message));
            }
            return Ok(Some(Event::Text(self.unescape(raw, start)?)));
        }
    }

    fn start_tag(&mut self) -> Result<Event, String> {
        let start = self.at;
        if self.open.is_empty() && self.seen_root {
            return Err(self.error(start, "Document ended unexpectedly"));
        }
        let rest = self.rest();
        let body_end = tag_end(rest)
            .ok_or_else(|| self.error(start, "Document ended unexpectedly inside an element"))?;
        let mut body = &rest[1..body_end];
        let self_closing = body.ends_with('/');
        if self_closing {
            body = &body[..body.len() - 1];
        }
        let name_end = body.find(|c: char| c.is_whitespace()).unwrap_or(body.len());
        let name = &body[..name_end];
        if name.is_empty()
            || !name
                .chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_' || c == ':')
        {
            return Err(self.error(
                start,
                "Odd character after \u{201c}<\u{201d}, expected an element name",
            ));
        }
        let mut attributes = Vec::new();
        let mut attrs = body[name_end..].trim_start();
        while !attrs.is_empty() {
            let eq = attrs
                .find('=')
                .ok_or_else(|| self.error(start, "Attribute without a value"))?;
            let attr_name = attrs[..eq].trim().to_owned();
            let after = attrs[eq + 1..].trim_start();
            let quote = after
                .chars()
                .next()
                .filter(|c| *c == '"' || *c == '\'')
                .ok_or_else(|| self.error(start, "Attribute values must be quoted"))?;
            let value_end = after[1..]
                .find(quote)
                .ok_or_else(|| self.error(start, "Unterminated attribute value"))?;
            let value = self.unescape(&after[1..1 + value_end], start)?;
            attributes.push((attr_name, value));
            attrs = after[1 + value_end + 1..].trim_start();
        }
        self.at += body_end + 1;
        self.seen_root = true;
        self.open.push(name.to_owned());
        self.pending_end = self_closing;
        Ok(Event::Start {
            name: name.to_owned(),
            attributes,
        })
    }

    /// Replaces the five named entities and character references.
    fn unescape(&self, raw: &str, at: usize) -> Result<String, String> {
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw;
        while let Some(amp) = rest.find('&') {
            out.push_str(&rest[..amp]);
            let after = &rest[amp + 1..];
            let semi = after
                .find(';')
                .ok_or_else(|| self.error(at, "Entity did not end with a semicolon"))?;
            let entity = &after[..semi];
            let ch = match entity {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
                    .ok()
                    .and_then(char::from_u32),
                e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
                _ => None,
            };
            let ch = ch.ok_or_else(|| {
                self.error(
                    at,
                    &format!("Entity name \u{201c}{entity}\u{201d} is not known"),
                )
            })?;
            out.push(ch);
            rest = &after[semi + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// Where a start tag's `>` is, outside quoted attribute values.
fn tag_end(text: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(file: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<metalink version=\"3.0\" xmlns=\"http://www.metalinker.org/\">\n  <files>\n{file}\n  </files>\n</metalink>\n"
        )
    }

    const SHA256: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    fn summary_file(hashes: &str, urls: &str) -> String {
        format!(
            "<file name=\"summary\"><size>5</size><verification>{hashes}</verification><resources maxconnections=\"1\">{urls}</resources></file>"
        )
    }

    fn url(u: &str) -> String {
        format!("<url protocol=\"http\" type=\"http\" location=\"US\" preference=\"100\">{u}</url>")
    }

    #[test]
    fn reads_what_upstream_reads() {
        let hashes = format!(
            "<hash type=\"md5\">5d41402abc4b2a76b9719d911017c592</hash><hash type=\"sha256\">{SHA256}</hash>"
        );
        let urls = format!(
            "{}<url protocol=\"ftp\" type=\"ftp\" location=\"US\" preference=\"1\">ftp://x/summary</url>{}",
            url("http://a/repo/summary.bad"),
            url("http://b/repo/summary")
        );
        // Unknown elements, nested, anywhere, are passed over; so is a second file.
        let xml = document(&format!(
            "<deeply><nested><x>hi</x></nested></deeply><file name=\"other\"><size>1</size></file>{}{}",
            summary_file(&hashes, &urls),
            summary_file("", "")
        ));
        let link = parse(&xml, "summary").expect("parses");
        assert_eq!(link.size, 5);
        assert_eq!(link.sha256.as_deref(), Some(SHA256));
        assert_eq!(
            link.urls,
            ["http://a/repo/summary.bad", "http://b/repo/summary"]
        );
        link.verify(b"hello").expect("matches");
        assert_eq!(
            link.verify(b"hullo").expect_err("differs"),
            format!(
                "Expected checksum is {SHA256} but actual is {}",
                hex(&sha2::Sha256::digest(b"hullo"))
            )
        );
        assert_eq!(
            link.verify(b"moo").expect_err("short"),
            "Expected size is 5 bytes but content is 3 bytes"
        );
    }

    #[test]
    fn errors_in_upstreams_words() {
        let good_hash = format!("<hash type=\"sha256\">{SHA256}</hash>");
        let u = url("http://a/summary");
        for (xml, wanted) in [
            (document(&summary_file("<hash type=\"sha512\">bacon</hash>", &u)), "Invalid hash digest for sha512".to_owned()),
            (document(&summary_file("<hash type=\"md5\">x</hash>", &u)), "No <verification> element with known <hash type=> found".to_owned()),
            (document(&summary_file(&good_hash, "")), "No <url method='http'> elements found".to_owned()),
            (document("<file name=\"other\"></file>"), "No <file name='summary'> found".to_owned()),
            (document(""), "No <file> element found".to_owned()),
            (document(&summary_file(&good_hash, &u).replace("<size>5</size>", "")), "No <size> element found or it is zero".to_owned()),
            ("bacon\n".to_owned(), "Error on line 1 char 1: Document must begin with an element (e.g. <book>)".to_owned()),
            ("<metalink><files></metalink>".to_owned(), "Error on line 1 char 18: Element \u{201c}metalink\u{201d} was closed, but the currently open element is \u{201c}files\u{201d}".to_owned()),
            ("<metalink>".to_owned(), "Error on line 1 char 11: Document ended unexpectedly with elements still open — \u{201c}metalink\u{201d} was the last element opened".to_owned()),
        ] {
            assert_eq!(parse(&xml, "summary").expect_err(&xml), wanted, "{xml}");
        }
    }

    #[test]
    fn entities_and_self_closing_elements() {
        let xml = document(&summary_file(
            &format!("<hash type='sha256'>{SHA256}</hash><empty/>"),
            &url("http://a/r?x=1&amp;y=&#50;"),
        ));
        let link = parse(&xml, "summary").expect("parses");
        assert_eq!(link.urls, ["http://a/r?x=1&y=2"]);
    }
}
