//! GLib key files ("GKeyFile"), the INI-like format of OSTree's repo `config` and of deployment
//! `.origin` files.
//!
//! [`KeyFile`] follows GLib's parsing rules but, unlike GLib, keeps every line exactly as it was
//! read: writing back a file that was not edited gives the same bytes, comments, blank lines,
//! spacing around `=` and line endings included. Only the lines an edit touches are rewritten,
//! in GLib's `key=value` form.
//!
//! Syntax, as GLib reads it:
//! - a line is split on `\n`; a `\r` right before the `\n` is dropped;
//! - whitespace (space, tab, `\n`, form feed, `\r`) at the start of a line is ignored;
//! - a line that is then empty or starts with `#` is a comment;
//! - `[name]` starts a group; spaces and tabs may follow the `]`; the name is taken verbatim and
//!   must be non-empty, without `[`, `]` or control characters;
//! - `key=value` sets a key: whitespace around the key and before the value is ignored, whitespace
//!   after the value is kept; keys are `name` or `name[locale]`, and localized keys are plain,
//!   separate keys here;
//! - a key may appear twice in a group and a group may appear twice in a file: lookups see the
//!   last value and one merged group, as in GLib, and every line is kept.

use std::fmt;
use std::str::FromStr;

/// Errors from parsing a key file, reading a typed value, or editing with an invalid name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// A `key=value` line comes before the first group header (GLib's words).
    #[error("Key file does not start with a group")]
    KeyBeforeGroup {
        /// 1-based line number.
        line: usize,
    },
    /// A line starting with `[` has no `]` (GLib's words: it is no group then).
    #[error("Key file contains line “{text}” which is not a key-value pair, group, or comment")]
    UnterminatedGroup {
        /// 1-based line number.
        line: usize,
        /// The line, without its line ending.
        text: String,
    },
    /// A group header names an invalid group (empty, or with `[` or a control character).
    #[error("Invalid group name: {name}")]
    BadGroupName {
        /// 1-based line number.
        line: usize,
        /// The text between the brackets.
        name: String,
    },
    /// The key of a `key=value` line is not a valid key name.
    #[error("Invalid key name: {key}")]
    BadKeyName {
        /// 1-based line number.
        line: usize,
        /// The key, without surrounding whitespace.
        key: String,
    },
    /// A line that is neither a comment, a blank line, a group header nor a `key=value` pair.
    #[error("Key file contains line “{text}” which is not a key-value pair, group, or comment")]
    InvalidLine {
        /// 1-based line number.
        line: usize,
        /// The line, without its line ending.
        text: String,
    },
    /// A value holds a backslash that does not start a known escape sequence.
    #[error(
        "line {line}: key {key:?} in group {group:?} has an invalid escape sequence in {value:?}"
    )]
    InvalidEscape {
        /// 1-based line number of the key in the current text.
        line: usize,
        /// The group.
        group: String,
        /// The key.
        key: String,
        /// The raw value.
        value: String,
    },
    /// A value cannot be read as the requested type.
    #[error(
        "line {line}: key {key:?} in group {group:?} has value {value:?}, which is not {expected}"
    )]
    InvalidValue {
        /// 1-based line number of the key in the current text.
        line: usize,
        /// The group.
        group: String,
        /// The key.
        key: String,
        /// The raw value.
        value: String,
        /// What was asked for, e.g. "a boolean".
        expected: &'static str,
    },
    /// A group name given to a setter cannot be written as a group header.
    #[error("invalid group name {0:?}")]
    InvalidGroupName(String),
    /// A key given to a setter cannot be written as a key.
    #[error("invalid key name {0:?}")]
    InvalidKeyName(String),
    /// A raw value given to [`KeyFile::set_raw`] would not read back the same.
    #[error("invalid raw value {0:?}: it must not hold line breaks nor start with whitespace")]
    InvalidRawValue(String),
}

/// How a line ended in the parsed text; only the last line can have none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Lf,
    CrLf,
    None,
}

impl Ending {
    fn as_str(self) -> &'static str {
        match self {
            Ending::Lf => "\n",
            Ending::CrLf => "\r\n",
            Ending::None => "",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// A `#` comment or a blank line.
    Comment,
    Group(String),
    /// `value_start` is the byte offset of the value in the line's text.
    Entry {
        key: String,
        value_start: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    text: String,
    ending: Ending,
    kind: Kind,
}

impl Line {
    /// A `key=value` line. Whitespace that starts the value is not part of it, as on a read:
    /// escaping leaves a leading form feed, which has no escape, as it is.
    fn entry(key: &str, value: &str) -> Line {
        let skipped = value.len() - value.trim_start_matches(is_glib_space).len();
        Line {
            text: format!("{key}={value}"),
            ending: Ending::Lf,
            kind: Kind::Entry {
                key: key.to_owned(),
                value_start: key.len() + 1 + skipped,
            },
        }
    }

    fn is_hash_comment(&self) -> bool {
        self.kind == Kind::Comment && self.text.trim_start_matches(is_glib_space).starts_with('#')
    }
}

/// One `key=value` line, seen with the group it belongs to.
struct Entry<'a> {
    index: usize,
    group: &'a str,
    key: &'a str,
    value: &'a str,
}

/// A parsed key file that remembers its exact text.
///
/// Lookups by group and key follow GLib: a missing group or key is `None`, the last of duplicate
/// keys wins, and groups that appear more than once are merged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFile {
    lines: Vec<Line>,
}

/// GLib's `g_ascii_isspace`, which unlike C's `isspace` leaves out vertical tab.
fn is_glib_space(c: char) -> bool {
    c.is_ascii_whitespace()
}

/// C's `isspace`, which `strtol` uses to skip leading whitespace.
fn is_c_space(c: char) -> bool {
    c.is_ascii_whitespace() || c == '\x0b'
}

fn is_group_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(|c: char| c == '[' || c == ']' || c.is_ascii_control())
}

/// GLib's key name rule: a non-empty name that neither starts nor ends with a space, optionally
/// followed by `[locale]` where the locale holds alphanumerics and `-_.@`.
fn is_key_name(key: &str) -> bool {
    let base_end = key.find(['[', ']', '=']).unwrap_or(key.len());
    let (base, rest) = key.split_at(base_end);
    if base.is_empty() || base.starts_with(' ') || base.ends_with(' ') {
        return false;
    }
    if rest.is_empty() {
        return true;
    }
    match rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        Some(locale) => locale
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '@')),
        None => false,
    }
}

/// Stricter than [`is_key_name`]: GLib writes any such key, but some of them would read back as
/// another key, a comment or a broken line.
fn is_writable_key_name(key: &str) -> bool {
    is_key_name(key)
        && !key.starts_with('#')
        && !key.starts_with(is_glib_space)
        && !key.ends_with(is_glib_space)
        && !key.contains(['\n', '\r'])
}

fn classify(text: &str, line: usize, in_group: bool) -> Result<Kind, KeyFileError> {
    let trimmed = text.trim_start_matches(is_glib_space);
    let indent = text.len() - trimmed.len();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(Kind::Comment);
    }
    if let Some(after_bracket) = trimmed.strip_prefix('[') {
        let Some((name, tail)) = after_bracket.split_once(']') else {
            return Err(KeyFileError::UnterminatedGroup {
                line,
                text: text.to_owned(),
            });
        };
        if !tail.chars().all(|c| c == ' ' || c == '\t') {
            return Err(KeyFileError::InvalidLine {
                line,
                text: text.to_owned(),
            });
        }
        if !is_group_name(name) {
            return Err(KeyFileError::BadGroupName {
                line,
                name: name.to_owned(),
            });
        }
        return Ok(Kind::Group(name.to_owned()));
    }
    let eq = match trimmed.find('=') {
        Some(eq) if eq > 0 => eq,
        _ => {
            return Err(KeyFileError::InvalidLine {
                line,
                text: text.to_owned(),
            });
        }
    };
    if !in_group {
        return Err(KeyFileError::KeyBeforeGroup { line });
    }
    let key = trimmed[..eq].trim_end_matches(is_glib_space);
    if !is_key_name(key) {
        return Err(KeyFileError::BadKeyName {
            line,
            key: key.to_owned(),
        });
    }
    let after_eq = &trimmed[eq + 1..];
    let value = after_eq.trim_start_matches(is_glib_space);
    Ok(Kind::Entry {
        key: key.to_owned(),
        value_start: indent + eq + 1 + (after_eq.len() - value.len()),
    })
}

/// GLib's string escaping. Leading spaces and tabs are escaped so they survive the whitespace
/// trimming on read. Like GLib, a newline or carriage return does not end the leading run, and
/// an escaped separator starts a new one.
fn escape(value: &str, escape_separator: bool) -> String {
    let mut out = String::with_capacity(value.len());
    let mut leading = true;
    for c in value.chars() {
        match c {
            ' ' if leading => out.push_str("\\s"),
            '\t' if leading => out.push_str("\\t"),
            ' ' | '\t' => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\\' => {
                out.push_str("\\\\");
                leading = false;
            }
            ';' if escape_separator => {
                out.push_str("\\;");
                leading = true;
            }
            _ => {
                out.push(c);
                leading = false;
            }
        }
    }
    out
}

/// Undoes [`escape`]. With `split`, an unescaped `;` separates pieces and `\;` is a literal `;`;
/// without it, `\;` is an invalid escape as in `g_key_file_get_string`. `None` on a bad escape.
fn unescape(value: &str, split: bool) -> Option<Vec<String>> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.push(match chars.next()? {
                's' => ' ',
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                '\\' => '\\',
                ';' if split => ';',
                _ => return None,
            }),
            ';' if split => pieces.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    pieces.push(current);
    Some(pieces)
}

/// `g_key_file_get_integer`: `strtol` in base 10, where anything after the digits is ignored if
/// it starts with whitespace, and the result must fit in 32 bits.
fn parse_int(value: &str) -> Option<i32> {
    let s = value.trim_start_matches(is_c_space);
    let sign_len = usize::from(s.starts_with(['+', '-']));
    let digits_end = s[sign_len..]
        .find(|c: char| !c.is_ascii_digit())
        .map_or(s.len(), |i| i + sign_len);
    if digits_end == sign_len || !s[digits_end..].chars().next().is_none_or(is_glib_space) {
        return None;
    }
    s[..digits_end].parse().ok()
}

/// `g_key_file_get_uint64`, but rejecting what GLib silently wraps or saturates: negative
/// numbers and numbers above `u64::MAX`.
fn parse_u64(value: &str) -> Option<u64> {
    let s = value.trim_start_matches(is_c_space);
    let digits = s.strip_prefix('+').unwrap_or(s);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

impl KeyFile {
    /// An empty key file.
    pub fn new() -> KeyFile {
        KeyFile::default()
    }

    /// Parses `text` with GLib's rules, keeping every line for a byte-exact [`KeyFile::to_data`].
    pub fn parse(text: &str) -> Result<KeyFile, KeyFileError> {
        let mut lines = Vec::new();
        let mut in_group = false;
        for (n, chunk) in text.split_inclusive('\n').enumerate() {
            let (content, ending) = if let Some(c) = chunk.strip_suffix("\r\n") {
                (c, Ending::CrLf)
            } else if let Some(c) = chunk.strip_suffix('\n') {
                (c, Ending::Lf)
            } else {
                (chunk, Ending::None)
            };
            let kind = classify(content, n + 1, in_group)?;
            in_group |= matches!(kind, Kind::Group(_));
            lines.push(Line {
                text: content.to_owned(),
                ending,
                kind,
            });
        }
        Ok(KeyFile { lines })
    }

    /// The file's text: the parsed bytes, with edited lines rewritten as `key=value`, removed
    /// lines left out and new lines ending in `\n`.
    pub fn to_data(&self) -> String {
        self.to_string()
    }

    /// Every `key=value` line with its group, in file order.
    fn entries(&self) -> impl Iterator<Item = Entry<'_>> {
        let mut group = "";
        self.lines
            .iter()
            .enumerate()
            .filter_map(move |(index, line)| match &line.kind {
                Kind::Group(name) => {
                    group = name;
                    None
                }
                Kind::Entry { key, value_start } => Some(Entry {
                    index,
                    group,
                    key,
                    value: line.text.get(*value_start..).unwrap_or_default(),
                }),
                Kind::Comment => None,
            })
    }

    fn lookup(&self, group: &str, key: &str) -> Option<Entry<'_>> {
        self.entries()
            .filter(|e| e.group == group && e.key == key)
            .last()
    }

    fn header_indices<'a>(&'a self, group: &'a str) -> impl Iterator<Item = usize> + 'a {
        self.lines
            .iter()
            .enumerate()
            .filter(move |(_, l)| matches!(&l.kind, Kind::Group(name) if name == group))
            .map(|(i, _)| i)
    }

    /// Index of the header after `index`, or the number of lines.
    fn section_end(&self, index: usize) -> usize {
        self.lines
            .iter()
            .skip(index + 1)
            .position(|l| matches!(l.kind, Kind::Group(_)))
            .map_or(self.lines.len(), |p| index + 1 + p)
    }

    /// The group names, each once, in the order they first appear.
    pub fn groups(&self) -> Vec<&str> {
        let mut groups: Vec<&str> = Vec::new();
        for line in &self.lines {
            if let Kind::Group(name) = &line.kind
                && !groups.contains(&name.as_str())
            {
                groups.push(name);
            }
        }
        groups
    }

    /// Whether a `[group]` header exists.
    pub fn has_group(&self, group: &str) -> bool {
        self.header_indices(group).next().is_some()
    }

    /// The keys of `group`, each once, in the order they first appear; empty if there is no such
    /// group. (GLib lists a duplicated key twice.)
    pub fn keys(&self, group: &str) -> Vec<&str> {
        let mut keys: Vec<&str> = Vec::new();
        for entry in self.entries().filter(|e| e.group == group) {
            if !keys.contains(&entry.key) {
                keys.push(entry.key);
            }
        }
        keys
    }

    /// Whether `group` has `key`.
    pub fn has_key(&self, group: &str, key: &str) -> bool {
        self.lookup(group, key).is_some()
    }

    /// The value exactly as written, escapes and trailing whitespace included
    /// (`g_key_file_get_value`).
    pub fn get_raw(&self, group: &str, key: &str) -> Option<&str> {
        self.lookup(group, key).map(|e| e.value)
    }

    fn invalid_value(entry: &Entry<'_>, expected: &'static str) -> KeyFileError {
        KeyFileError::InvalidValue {
            line: entry.index + 1,
            group: entry.group.to_owned(),
            key: entry.key.to_owned(),
            value: entry.value.to_owned(),
            expected,
        }
    }

    fn unescaped(
        &self,
        group: &str,
        key: &str,
        split: bool,
    ) -> Result<Option<Vec<String>>, KeyFileError> {
        let Some(entry) = self.lookup(group, key) else {
            return Ok(None);
        };
        match unescape(entry.value, split) {
            Some(pieces) => Ok(Some(pieces)),
            None => Err(KeyFileError::InvalidEscape {
                line: entry.index + 1,
                group: entry.group.to_owned(),
                key: entry.key.to_owned(),
                value: entry.value.to_owned(),
            }),
        }
    }

    /// The value with `\s`, `\n`, `\t`, `\r` and `\\` unescaped (`g_key_file_get_string`); any
    /// other backslash sequence, `\;` included, is an error.
    pub fn get_string(&self, group: &str, key: &str) -> Result<Option<String>, KeyFileError> {
        Ok(self
            .unescaped(group, key, false)?
            .map(|pieces| pieces.concat()))
    }

    /// The value split on unescaped `;` and unescaped, where `\;` stands for `;`
    /// (`g_key_file_get_string_list`). A trailing `;` ends the last item rather than starting an
    /// empty one, so `a;b;` and `a;b` both give `["a", "b"]` and an empty value gives no items.
    pub fn get_string_list(
        &self,
        group: &str,
        key: &str,
    ) -> Result<Option<Vec<String>>, KeyFileError> {
        Ok(self.unescaped(group, key, true)?.map(|mut pieces| {
            if pieces.last().is_some_and(String::is_empty) {
                pieces.pop();
            }
            pieces
        }))
    }

    /// The value as a boolean (`g_key_file_get_boolean`): `true` or `1`, `false` or `0`, in
    /// lower case, optionally followed by whitespace.
    pub fn get_bool(&self, group: &str, key: &str) -> Result<Option<bool>, KeyFileError> {
        let Some(entry) = self.lookup(group, key) else {
            return Ok(None);
        };
        match entry.value.trim_end_matches(is_glib_space) {
            "true" | "1" => Ok(Some(true)),
            "false" | "0" => Ok(Some(false)),
            _ => Err(Self::invalid_value(&entry, "a boolean")),
        }
    }

    /// The value as a 32-bit integer (`g_key_file_get_integer`): decimal with an optional sign;
    /// like GLib, text after the number is ignored when whitespace separates it.
    pub fn get_int(&self, group: &str, key: &str) -> Result<Option<i32>, KeyFileError> {
        let Some(entry) = self.lookup(group, key) else {
            return Ok(None);
        };
        match parse_int(entry.value) {
            Some(n) => Ok(Some(n)),
            None => Err(Self::invalid_value(&entry, "a 32-bit integer")),
        }
    }

    /// The value as an unsigned 64-bit integer (`g_key_file_get_uint64`): decimal digits with an
    /// optional `+` and nothing after them. GLib's wrap-around of negative numbers and saturation
    /// of too large ones are errors here.
    pub fn get_u64(&self, group: &str, key: &str) -> Result<Option<u64>, KeyFileError> {
        let Some(entry) = self.lookup(group, key) else {
            return Ok(None);
        };
        match parse_u64(entry.value) {
            Some(n) => Ok(Some(n)),
            None => Err(Self::invalid_value(&entry, "an unsigned 64-bit integer")),
        }
    }

    /// Sets a value written as is (`g_key_file_set_value`). The value must already be escaped and
    /// must not contain line breaks nor start with whitespace, which would not read back.
    pub fn set_raw(&mut self, group: &str, key: &str, value: &str) -> Result<(), KeyFileError> {
        if value.contains(['\n', '\r']) || value.starts_with(is_glib_space) {
            return Err(KeyFileError::InvalidRawValue(value.to_owned()));
        }
        self.set_value(group, key, value)
    }

    /// Sets a string, escaped like `g_key_file_set_string`. As in GLib, a form feed at the start
    /// is lost: there is no escape for it and leading whitespace is not part of a value.
    pub fn set_string(&mut self, group: &str, key: &str, value: &str) -> Result<(), KeyFileError> {
        self.set_value(group, key, &escape(value, false))
    }

    /// Sets `true` or `false`.
    pub fn set_bool(&mut self, group: &str, key: &str, value: bool) -> Result<(), KeyFileError> {
        self.set_value(group, key, if value { "true" } else { "false" })
    }

    /// Sets a list, each item escaped and followed by `;`, as `g_key_file_set_string_list`
    /// writes it (`a;b;`).
    pub fn set_string_list<S: AsRef<str>>(
        &mut self,
        group: &str,
        key: &str,
        items: &[S],
    ) -> Result<(), KeyFileError> {
        let mut value = String::new();
        for item in items {
            value.push_str(&escape(item.as_ref(), true));
            value.push(';');
        }
        self.set_value(group, key, &value)
    }

    /// Rewrites the line the lookups see, or adds a line: after the group's last key (before the
    /// blank lines and comments that lead to the next group), or in a new group at the end of
    /// the file, after a blank line as `g_key_file_to_data` separates groups.
    fn set_value(&mut self, group: &str, key: &str, value: &str) -> Result<(), KeyFileError> {
        if !is_group_name(group) {
            return Err(KeyFileError::InvalidGroupName(group.to_owned()));
        }
        if !is_writable_key_name(key) {
            return Err(KeyFileError::InvalidKeyName(key.to_owned()));
        }
        let new_line = Line::entry(key, value);
        if let Some(index) = self.lookup(group, key).map(|e| e.index) {
            let line = &mut self.lines[index];
            line.text = new_line.text;
            line.kind = new_line.kind;
            return Ok(());
        }
        if let Some(header) = self.header_indices(group).last() {
            let end = self.section_end(header);
            let after_last_key = (header + 1..end)
                .rev()
                .find(|&i| matches!(self.lines[i].kind, Kind::Entry { .. }))
                .unwrap_or(header)
                + 1;
            self.insert_line(after_last_key, new_line);
            return Ok(());
        }
        if self.lines.last().is_some_and(|l| !l.text.is_empty()) {
            self.insert_line(
                self.lines.len(),
                Line {
                    text: String::new(),
                    ending: Ending::Lf,
                    kind: Kind::Comment,
                },
            );
        }
        self.insert_line(
            self.lines.len(),
            Line {
                text: format!("[{group}]"),
                ending: Ending::Lf,
                kind: Kind::Group(group.to_owned()),
            },
        );
        self.insert_line(self.lines.len(), new_line);
        Ok(())
    }

    fn insert_line(&mut self, index: usize, line: Line) {
        // A last line without a line ending gets one once something follows it. A `\r` it ends
        // with then turns into a CRLF line ending, as the next read will see it.
        if index == self.lines.len()
            && let Some(last) = self.lines.last_mut().filter(|l| l.ending == Ending::None)
        {
            last.ending = Ending::Lf;
            if last.text.ends_with('\r') {
                last.text.pop();
                last.ending = Ending::CrLf;
                if let Kind::Entry { value_start, .. } = &mut last.kind {
                    *value_start = (*value_start).min(last.text.len());
                }
            }
        }
        self.lines.insert(index, line);
    }

    /// Removes every line of `key` in `group`; false if there was none.
    ///
    /// GLib removes only the last one, which lets an earlier duplicate reappear on the next read.
    pub fn remove_key(&mut self, group: &str, key: &str) -> bool {
        let doomed: Vec<usize> = self
            .entries()
            .filter(|e| e.group == group && e.key == key)
            .map(|e| e.index)
            .collect();
        self.remove_indices(&doomed);
        !doomed.is_empty()
    }

    /// Removes every `[group]` section with its keys and comments; false if there was none.
    ///
    /// The `#` comment lines right above a header belong to that group: they go with it, and
    /// those right above the next header stay.
    pub fn remove_group(&mut self, group: &str) -> bool {
        let headers: Vec<usize> = self.header_indices(group).collect();
        let mut doomed = Vec::new();
        for &header in &headers {
            let start = self.comment_block_start(header);
            let mut end = self.section_end(header);
            if end < self.lines.len() {
                end = self.comment_block_start(end);
            }
            doomed.extend(start..end);
        }
        self.remove_indices(&doomed);
        !headers.is_empty()
    }

    /// Start of the run of `#` comment lines that ends right above `index`.
    fn comment_block_start(&self, index: usize) -> usize {
        let mut start = index;
        while start > 0 && self.lines[start - 1].is_hash_comment() {
            start -= 1;
        }
        start
    }

    fn remove_indices(&mut self, indices: &[usize]) {
        let mut index = 0;
        self.lines.retain(|_| {
            let keep = !indices.contains(&index);
            index += 1;
            keep
        });
    }
}

impl FromStr for KeyFile {
    type Err = KeyFileError;

    fn from_str(text: &str) -> Result<KeyFile, KeyFileError> {
        KeyFile::parse(text)
    }
}

impl fmt::Display for KeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.lines {
            f.write_str(&line.text)?;
            f.write_str(line.ending.as_str())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OSTREE_CONFIG: &str = "\
# Managed by hand
[core]
repo_version=1
mode=bare-user
min-free-space-percent = 3

# The upstream
[remote \"origin\"]
url=http://example.com/repo
gpg-verify=false
branches=os/x86_64/stable;os/x86_64/devel;

[remote \"mirror\"]
url=file:///srv/mirror
";

    fn parse(text: &str) -> KeyFile {
        match KeyFile::parse(text) {
            Ok(kf) => kf,
            Err(e) => panic!("parsing {text:?}: {e}"),
        }
    }

    #[test]
    fn round_trips_byte_for_byte() {
        for text in [
            "",
            "\n",
            "# only a comment",
            OSTREE_CONFIG,
            "[core]\r\nrepo_version=1\r\n\r\n[a]\r\nk=v",
            "  [a]  \n\tkey \t=  value with trailing space  \n   # indented comment\n \t \n",
            "[a]\nk=1\n[b]\nk=2\n[a]\nk=3\nk=4\n",
            "[a]\nk=v\r\r\nj=a\rb\nl=x\r",
            "[remote \"o\"]\nName[de]=Hallo\nName[be@latin]=x\nName=y\n",
        ] {
            assert_eq!(parse(text).to_data(), text);
            assert_eq!(parse(text).to_string(), text);
        }
    }

    #[test]
    fn reads_values() {
        let kf = parse(OSTREE_CONFIG);
        assert_eq!(
            kf.groups(),
            ["core", "remote \"origin\"", "remote \"mirror\""]
        );
        assert_eq!(
            kf.keys("core"),
            ["repo_version", "mode", "min-free-space-percent"]
        );
        assert!(kf.has_group("remote \"origin\""));
        assert!(!kf.has_group("remote"));
        assert!(kf.has_key("core", "mode"));
        assert!(!kf.has_key("core", "url"));
        assert_eq!(kf.get_raw("core", "mode"), Some("bare-user"));
        assert_eq!(kf.get_int("core", "repo_version"), Ok(Some(1)));
        assert_eq!(kf.get_int("core", "min-free-space-percent"), Ok(Some(3)));
        assert_eq!(
            kf.get_bool("remote \"origin\"", "gpg-verify"),
            Ok(Some(false))
        );
        assert_eq!(
            kf.get_string_list("remote \"origin\"", "branches"),
            Ok(Some(vec![
                "os/x86_64/stable".into(),
                "os/x86_64/devel".into()
            ]))
        );
        assert_eq!(kf.get_raw("core", "missing"), None);
        assert_eq!(kf.get_string("nogroup", "mode"), Ok(None));
        assert_eq!(kf.get_bool("core", "missing"), Ok(None));
        assert!(kf.keys("nogroup").is_empty());
    }

    #[test]
    fn whitespace_around_keys_and_values() {
        let kf = parse("[a]\n  key \t=  value  \nempty=\nblank =  \nsp ace=x\n");
        assert_eq!(kf.keys("a"), ["key", "empty", "blank", "sp ace"]);
        assert_eq!(kf.get_raw("a", "key"), Some("value  "));
        assert_eq!(kf.get_raw("a", "empty"), Some(""));
        assert_eq!(kf.get_raw("a", "blank"), Some(""));
        assert_eq!(kf.get_raw("a", "sp ace"), Some("x"));
        let kf = parse("[ spaced ]\t \nk==v\n");
        assert_eq!(kf.groups(), [" spaced "]);
        assert_eq!(kf.get_raw(" spaced ", "k"), Some("=v"));
    }

    #[test]
    fn duplicates_read_last_and_merge_groups() {
        let kf = parse("[a]\nk=1\nj=0\n[b]\nk=9\n[a]\nk=2\n");
        assert_eq!(kf.groups(), ["a", "b"]);
        assert_eq!(kf.keys("a"), ["k", "j"]);
        assert_eq!(kf.get_raw("a", "k"), Some("2"));
        assert_eq!(kf.get_raw("a", "j"), Some("0"));
        assert_eq!(kf.get_raw("b", "k"), Some("9"));
    }

    #[test]
    fn set_existing_key_rewrites_only_its_line() {
        let mut kf = parse(OSTREE_CONFIG);
        assert_eq!(kf.set_raw("core", "min-free-space-percent", "5"), Ok(()));
        assert_eq!(kf.set_bool("remote \"origin\"", "gpg-verify", true), Ok(()));
        let expected = OSTREE_CONFIG
            .replace("min-free-space-percent = 3", "min-free-space-percent=5")
            .replace("gpg-verify=false", "gpg-verify=true");
        assert_eq!(kf.to_data(), expected);

        // The line lookups see, the last duplicate, is the one rewritten.
        let mut kf = parse("[a]\nk=1\nj=0\nk=2\n");
        assert_eq!(kf.set_raw("a", "k", "3"), Ok(()));
        assert_eq!(kf.to_data(), "[a]\nk=1\nj=0\nk=3\n");

        // The line ending is kept.
        let mut kf = parse("[a]\r\nk=1\r\n");
        assert_eq!(kf.set_raw("a", "k", "2"), Ok(()));
        assert_eq!(kf.to_data(), "[a]\r\nk=2\r\n");
    }

    #[test]
    fn set_new_key_goes_after_the_groups_last_key() {
        let cases: &[(&str, &str, &str)] = &[
            (
                OSTREE_CONFIG,
                "core",
                "# Managed by hand\n[core]\nrepo_version=1\nmode=bare-user\nmin-free-space-percent = 3\nnew=x\n\n# The upstream\n",
            ),
            ("[a]\n", "a", "[a]\nnew=x\n"),
            ("[a]", "a", "[a]\nnew=x\n"),
            ("[a]\nk=1", "a", "[a]\nk=1\nnew=x\n"),
            (
                "[a]\nk=1\n# trailing\n\n",
                "a",
                "[a]\nk=1\nnew=x\n# trailing\n\n",
            ),
            (
                "[a]\n# about a\n\n[b]\n",
                "a",
                "[a]\nnew=x\n# about a\n\n[b]\n",
            ),
            (
                "[a]\nk=1\n[b]\n[a]\nj=2\n\n[c]\n",
                "a",
                "[a]\nk=1\n[b]\n[a]\nj=2\nnew=x\n\n[c]\n",
            ),
        ];
        for &(text, group, expected_prefix) in cases {
            let mut kf = parse(text);
            assert_eq!(kf.set_raw(group, "new", "x"), Ok(()));
            let data = kf.to_data();
            assert!(data.starts_with(expected_prefix), "{text:?} gave {data:?}");
            assert_eq!(parse(&data).get_raw(group, "new"), Some("x"));
        }
    }

    #[test]
    fn set_in_new_group_appends_it_after_a_blank_line() {
        let cases: &[(&str, &str)] = &[
            ("", "[new]\nk=v\n"),
            ("\n", "\n[new]\nk=v\n"),
            ("# c\n", "# c\n\n[new]\nk=v\n"),
            (
                "[core]\nrepo_version=1\n",
                "[core]\nrepo_version=1\n\n[new]\nk=v\n",
            ),
            (
                "[core]\nrepo_version=1",
                "[core]\nrepo_version=1\n\n[new]\nk=v\n",
            ),
            (
                "[core]\nrepo_version=1\n\n",
                "[core]\nrepo_version=1\n\n[new]\nk=v\n",
            ),
            ("[core]\n \n", "[core]\n \n\n[new]\nk=v\n"),
        ];
        for &(text, expected) in cases {
            let mut kf = parse(text);
            assert_eq!(kf.set_raw("new", "k", "v"), Ok(()));
            assert_eq!(kf.to_data(), expected, "from {text:?}");
        }
        // What `ostree config set` (GLib 2.74) writes for a new remote.
        let mut kf = parse("[core]\nrepo_version=1\nmode=archive-z2\n");
        assert_eq!(
            kf.set_string("remote \"origin\"", "url", "http://x"),
            Ok(())
        );
        assert_eq!(
            kf.set_string("remote \"origin\"", "gpg-verify", "false"),
            Ok(())
        );
        assert_eq!(
            kf.to_data(),
            "[core]\nrepo_version=1\nmode=archive-z2\n\n[remote \"origin\"]\nurl=http://x\ngpg-verify=false\n"
        );
    }

    #[test]
    fn string_escapes() {
        // (value, as g_key_file_set_string writes it); each also reads back.
        let cases: &[(&str, &str)] = &[
            ("plain", "plain"),
            ("", ""),
            ("  a b  ", "\\s\\sa b  "),
            ("\t\t a\tb", "\\t\\t\\sa\tb"),
            (" \n x", "\\s\\n\\sx"),
            ("\r a", "\\r\\sa"),
            ("\\ a", "\\\\ a"),
            ("a;b\\c\rd\n", "a;b\\\\c\\rd\\n"),
            ("é a", "é a"),
        ];
        for &(value, raw) in cases {
            let mut kf = KeyFile::new();
            assert_eq!(kf.set_string("g", "k", value), Ok(()));
            assert_eq!(kf.get_raw("g", "k"), Some(raw));
            let reread = parse(&kf.to_data());
            assert_eq!(reread.get_string("g", "k"), Ok(Some(value.to_owned())));
        }
        let kf = parse("[a]\nk=a\\sb\\nc\\td\\re\\\\f\\s\n");
        assert_eq!(kf.get_string("a", "k"), Ok(Some("a b\nc\td\re\\f ".into())));
    }

    #[test]
    fn invalid_escapes() {
        for value in ["a\\x", "a\\", "a\\;b", "\\S"] {
            let kf = parse(&format!("[a]\n\nk={value}\n"));
            assert_eq!(
                kf.get_string("a", "k"),
                Err(KeyFileError::InvalidEscape {
                    line: 3,
                    group: "a".into(),
                    key: "k".into(),
                    value: value.into(),
                })
            );
        }
        let kf = parse("[a]\nk=a;b\\x;c\n");
        assert!(matches!(
            kf.get_string_list("a", "k"),
            Err(KeyFileError::InvalidEscape { line: 2, .. })
        ));
    }

    #[test]
    fn string_lists() {
        let cases: &[(&str, &[&str])] = &[
            ("", &[]),
            ("a", &["a"]),
            ("a;", &["a"]),
            (";", &[""]),
            (";;", &["", ""]),
            ("a;b;;c;", &["a", "b", "", "c"]),
            ("a;b;;", &["a", "b", ""]),
            ("a\\;b", &["a;b"]),
            ("\\s a ; b\\;c\\\\;d", &["  a ", " b;c\\", "d"]),
        ];
        for &(raw, items) in cases {
            let kf = parse(&format!("[a]\nk={raw}\n"));
            let expected: Vec<String> = items.iter().map(|s| s.to_string()).collect();
            assert_eq!(kf.get_string_list("a", "k"), Ok(Some(expected)), "{raw:?}");
        }
        // (items, as g_key_file_set_string_list writes them)
        let cases: &[(&[&str], &str)] = &[
            (&[], ""),
            (&[""], ";"),
            (&["", ""], ";;"),
            (&["a", "b"], "a;b;"),
            (&[" a", "b;c", "d\\"], "\\sa;b\\;c;d\\\\;"),
            (&["; a", " ;b"], "\\;\\sa;\\s\\;b;"),
            (&["a;\t", "\\;\t", "\\\t"], "a\\;\\t;\\\\\\;\\t;\\\\\t;"),
        ];
        for &(items, raw) in cases {
            let mut kf = KeyFile::new();
            assert_eq!(kf.set_string_list("g", "k", items), Ok(()));
            assert_eq!(kf.get_raw("g", "k"), Some(raw));
            let expected: Vec<String> = items.iter().map(|s| s.to_string()).collect();
            assert_eq!(kf.get_string_list("g", "k"), Ok(Some(expected)));
        }
    }

    #[test]
    fn booleans() {
        let cases: &[(&str, Option<bool>)] = &[
            ("true", Some(true)),
            ("1", Some(true)),
            ("false", Some(false)),
            ("0", Some(false)),
            ("true \t", Some(true)),
            ("false\x0c", Some(false)),
            ("True", None),
            ("TRUE", None),
            ("yes", None),
            ("", None),
            ("t", None),
            ("true x", None),
            ("1\x0b", None),
            ("true;", None),
        ];
        for &(raw, expected) in cases {
            let kf = parse(&format!("[a]\nk={raw}\n"));
            match expected {
                Some(b) => assert_eq!(kf.get_bool("a", "k"), Ok(Some(b)), "{raw:?}"),
                None => assert_eq!(
                    kf.get_bool("a", "k"),
                    Err(KeyFileError::InvalidValue {
                        line: 2,
                        group: "a".into(),
                        key: "k".into(),
                        value: raw.into(),
                        expected: "a boolean",
                    })
                ),
            }
        }
        let mut kf = KeyFile::new();
        assert_eq!(kf.set_bool("g", "t", true), Ok(()));
        assert_eq!(kf.set_bool("g", "f", false), Ok(()));
        assert_eq!(kf.to_data(), "[g]\nt=true\nf=false\n");
    }

    #[test]
    fn integers() {
        // (value, g_key_file_get_integer, g_key_file_get_uint64 as done here)
        let cases: &[(&str, Option<i32>, Option<u64>)] = &[
            ("5", Some(5), Some(5)),
            ("+5", Some(5), Some(5)),
            ("-5", Some(-5), None),
            ("007", Some(7), Some(7)),
            ("\x0b5", Some(5), Some(5)),
            ("5 ", Some(5), None),
            ("5 x", Some(5), None),
            ("5\x0b", None, None),
            ("5a", None, None),
            ("", None, None),
            ("-", None, None),
            ("+-5", None, None),
            ("0x10", None, None),
            ("1e3", None, None),
            ("2147483647", Some(i32::MAX), Some(2147483647)),
            ("-2147483648", Some(i32::MIN), None),
            ("2147483648", None, Some(2147483648)),
            ("18446744073709551615", None, Some(u64::MAX)),
            ("18446744073709551616", None, None),
            ("99999999999999999999999", None, None),
        ];
        for &(raw, int, u64) in cases {
            let kf = parse(&format!("[a]\nk={raw}\n"));
            match int {
                Some(n) => assert_eq!(kf.get_int("a", "k"), Ok(Some(n)), "{raw:?}"),
                None => assert!(
                    matches!(
                        kf.get_int("a", "k"),
                        Err(KeyFileError::InvalidValue { line: 2, .. })
                    ),
                    "{raw:?}"
                ),
            }
            match u64 {
                Some(n) => assert_eq!(kf.get_u64("a", "k"), Ok(Some(n)), "{raw:?}"),
                None => assert!(kf.get_u64("a", "k").is_err(), "{raw:?}"),
            }
        }
    }

    #[test]
    fn parse_errors() {
        use KeyFileError as E;
        let cases: &[(&str, E)] = &[
            ("k=v\n[a]\n", E::KeyBeforeGroup { line: 1 }),
            ("# c\n\nk=v\n", E::KeyBeforeGroup { line: 3 }),
            (
                "[a]\nfoo\n",
                E::InvalidLine {
                    line: 2,
                    text: "foo".into(),
                },
            ),
            (
                "[a]\n=v\n",
                E::InvalidLine {
                    line: 2,
                    text: "=v".into(),
                },
            ),
            (
                "[a]\n  = v\n",
                E::InvalidLine {
                    line: 2,
                    text: "  = v".into(),
                },
            ),
            (
                "[a]\n; ini comment\n",
                E::InvalidLine {
                    line: 2,
                    text: "; ini comment".into(),
                },
            ),
            (
                "\u{feff}[a]\n",
                E::InvalidLine {
                    line: 1,
                    text: "\u{feff}[a]".into(),
                },
            ),
            (
                "[a\nk=v\n",
                E::UnterminatedGroup {
                    line: 1,
                    text: "[a".into(),
                },
            ),
            (
                "[a]\n[k=v\n",
                E::UnterminatedGroup {
                    line: 2,
                    text: "[k=v".into(),
                },
            ),
            (
                "[a]x\n",
                E::InvalidLine {
                    line: 1,
                    text: "[a]x".into(),
                },
            ),
            (
                "[a]]\n",
                E::InvalidLine {
                    line: 1,
                    text: "[a]]".into(),
                },
            ),
            (
                "[a]\x0c\n",
                E::InvalidLine {
                    line: 1,
                    text: "[a]\x0c".into(),
                },
            ),
            (
                "[a]\r",
                E::InvalidLine {
                    line: 1,
                    text: "[a]\r".into(),
                },
            ),
            (
                "[]\n",
                E::BadGroupName {
                    line: 1,
                    name: "".into(),
                },
            ),
            (
                "[a[b]\n",
                E::BadGroupName {
                    line: 1,
                    name: "a[b".into(),
                },
            ),
            (
                "[a\tb]\n",
                E::BadGroupName {
                    line: 1,
                    name: "a\tb".into(),
                },
            ),
            (
                "[a]\nk]=v\n",
                E::BadKeyName {
                    line: 2,
                    key: "k]".into(),
                },
            ),
            (
                "[a]\nk[de]x=v\n",
                E::BadKeyName {
                    line: 2,
                    key: "k[de]x".into(),
                },
            ),
            (
                "[a]\nk[d e]=v\n",
                E::BadKeyName {
                    line: 2,
                    key: "k[d e]".into(),
                },
            ),
            (
                "[a]\nk[de][fr]=v\n",
                E::BadKeyName {
                    line: 2,
                    key: "k[de][fr]".into(),
                },
            ),
            (
                "[a]\nk [de]=v\n",
                E::BadKeyName {
                    line: 2,
                    key: "k [de]".into(),
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(KeyFile::parse(text).as_ref(), Err(expected), "{text:?}");
        }
        let kf = parse("[a]\nk[]=1\nk[de_DE.UTF-8@euro]=2\nk=3\n");
        assert_eq!(kf.keys("a"), ["k[]", "k[de_DE.UTF-8@euro]", "k"]);
    }

    #[test]
    fn setters_reject_names_that_would_not_read_back() {
        let mut kf = parse("[a]\n");
        for group in ["", "a]b", "a[b", "a\nb", "a\tb"] {
            assert_eq!(
                kf.set_raw(group, "k", "v"),
                Err(KeyFileError::InvalidGroupName(group.into()))
            );
        }
        for key in [
            "", "=", "k=v", " k", "k ", "k\t", "#k", "[k", "k]", "k[de]x", "a\nb",
        ] {
            assert_eq!(
                kf.set_string("a", key, "v"),
                Err(KeyFileError::InvalidKeyName(key.into()))
            );
        }
        for value in [" v", "\tv", "a\nb", "a\rb"] {
            assert_eq!(
                kf.set_raw("a", "k", value),
                Err(KeyFileError::InvalidRawValue(value.into()))
            );
        }
        assert_eq!(kf.to_data(), "[a]\n");
        assert_eq!(kf.set_raw("a", "k[de]", "x;y"), Ok(()));
        assert_eq!(kf.set_raw("remote \"o\"", "my key", "v "), Ok(()));
        assert_eq!(
            kf.to_data(),
            "[a]\nk[de]=x;y\n\n[remote \"o\"]\nmy key=v \n"
        );
    }

    #[test]
    fn remove_key() {
        let mut kf = parse("[a]\nk=1\n# c\nj=0\nk=2\n[b]\nk=3\n[a]\nk=4\n");
        assert!(kf.remove_key("a", "k"));
        assert_eq!(kf.to_data(), "[a]\n# c\nj=0\n[b]\nk=3\n[a]\n");
        assert!(!kf.remove_key("a", "k"));
        assert!(!kf.remove_key("c", "k"));
        assert_eq!(kf.get_raw("a", "k"), None);
        assert_eq!(kf.get_raw("b", "k"), Some("3"));
    }

    #[test]
    fn remove_group() {
        let cases: &[(&str, &str, &str)] = &[
            (
                OSTREE_CONFIG,
                "remote \"origin\"",
                "# Managed by hand\n[core]\nrepo_version=1\nmode=bare-user\nmin-free-space-percent = 3\n\n[remote \"mirror\"]\nurl=file:///srv/mirror\n",
            ),
            (
                OSTREE_CONFIG,
                "core",
                "# The upstream\n[remote \"origin\"]\nurl=http://example.com/repo\ngpg-verify=false\nbranches=os/x86_64/stable;os/x86_64/devel;\n\n[remote \"mirror\"]\nurl=file:///srv/mirror\n",
            ),
            (
                "[a]\nk=1\n\n# about b\n[b]\nk=2\n\n# about c\n[c]\n",
                "b",
                "[a]\nk=1\n\n# about c\n[c]\n",
            ),
            ("[a]\nx=1\n\n[b]\ny=2\n", "b", "[a]\nx=1\n\n"),
            ("[a]\nx=1\n[b]\n[a]\ny=2\n", "a", "[b]\n"),
            ("[a]\nx=1\n[b]\ny=2", "b", "[a]\nx=1\n"),
        ];
        for &(text, group, expected) in cases {
            let mut kf = parse(text);
            assert!(kf.remove_group(group));
            assert_eq!(kf.to_data(), expected, "removing {group:?} from {text:?}");
            assert!(!kf.has_group(group));
            assert!(!kf.remove_group(group));
        }
    }

    /// xorshift64*, so the fuzz loop needs no dependency and is reproducible.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn never_panics_and_round_trips_random_text() {
        const PIECES: &[&str] = &[
            "[", "]", "=", "#", ";", "\\", " ", "\t", "\n", "\r", "\r\n", "\x0b", "\x0c", "\0",
            "a", "k", "core", "[a]", "[a]\n", "k=v\n", "\\s", "\\;", "é", "\u{feff}", "\x01", "1",
            "true", "-",
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut parsed = 0;
        for _ in 0..20_000 {
            let len = rng.below(24);
            let text: String = (0..len).map(|_| PIECES[rng.below(PIECES.len())]).collect();
            let Ok(mut kf) = KeyFile::parse(&text) else {
                continue;
            };
            parsed += 1;
            assert_eq!(kf.to_data(), text);
            let groups: Vec<String> = kf.groups().iter().map(|g| g.to_string()).collect();
            for group in &groups {
                let keys: Vec<String> = kf.keys(group).iter().map(|k| k.to_string()).collect();
                for key in &keys {
                    let _ = kf.get_string(group, key);
                    let _ = kf.get_string_list(group, key);
                    let _ = kf.get_bool(group, key);
                    let _ = kf.get_int(group, key);
                    let _ = kf.get_u64(group, key);
                }
            }
            let value: String = (0..rng.below(4))
                .map(|_| PIECES[rng.below(PIECES.len())])
                .collect();
            let group = groups.first().map_or("g", String::as_str);
            if kf.set_string(group, "new", &value).is_ok() {
                let reread = parse(&kf.to_data());
                let expected = value.trim_start_matches('\x0c').to_owned();
                assert_eq!(reread.get_string(group, "new"), Ok(Some(expected.clone())));
                assert_eq!(kf.get_string(group, "new"), Ok(Some(expected)));
            }
            let _ = kf.set_string("fresh", &value, &value);
            let _ = kf.set_raw(group, &value, &value);
            kf.remove_key(group, "k");
            if let Some(g) = groups.last() {
                kf.remove_group(g);
            }
            parse(&kf.to_data());
        }
        // Enough inputs parse for the round-trip checks to mean something.
        assert!(parsed > 1000, "only {parsed} inputs parsed");
    }
}
