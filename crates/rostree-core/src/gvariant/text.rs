//! GVariant text format: printing as GLib's `g_variant_print` does (what `ostree show`
//! prints), and parsing the subset that `ostree commit --add-metadata` users write.

use std::fmt::Write as _;

use super::{Error, Type, Value};

/// Prints `value` in GVariant text format. With `annotate`, types that the parser could not
/// infer get a prefix (`uint32 5`, `@as []`), as GLib does.
///
/// ```
/// use rostree_core::gvariant::{Type, Value, print_text};
///
/// assert_eq!(print_text(&Value::Uint32(5), true), "uint32 5");
/// assert_eq!(print_text(&Value::Uint32(5), false), "5");
/// assert_eq!(print_text(&Value::String("it's".into()), true), "\"it's\"");
/// let refs = Value::Array(Type::String, vec![Value::String("main".into())]);
/// assert_eq!(print_text(&refs, true), "['main']");
/// assert_eq!(print_text(&Value::Array(Type::String, vec![]), true), "@as []");
/// ```
pub fn print_text(value: &Value, annotate: bool) -> String {
    let mut out = String::new();
    print_into(&mut out, value, annotate);
    out
}

fn print_into(out: &mut String, value: &Value, annotate: bool) {
    match value {
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Byte(b) => {
            if annotate {
                out.push_str("byte ");
            }
            let _ = write!(out, "0x{b:02x}");
        }
        Value::Int16(v) => annotated(out, annotate, "int16", v),
        Value::Uint16(v) => annotated(out, annotate, "uint16", v),
        Value::Int32(v) => {
            let _ = write!(out, "{v}");
        }
        Value::Uint32(v) => annotated(out, annotate, "uint32", v),
        Value::Int64(v) => annotated(out, annotate, "int64", v),
        Value::Uint64(v) => annotated(out, annotate, "uint64", v),
        Value::Handle(v) => annotated(out, annotate, "handle", v),
        Value::Double(d) => out.push_str(&format_double(*d)),
        Value::String(s) => quote_string(out, s),
        Value::ObjectPath(s) => {
            if annotate {
                out.push_str("objectpath ");
            }
            quote_string(out, s);
        }
        Value::Signature(s) => {
            if annotate {
                out.push_str("signature ");
            }
            quote_string(out, s);
        }
        Value::Variant(child) => {
            out.push('<');
            print_into(out, child, true);
            out.push('>');
        }
        Value::Maybe(elem, child) => {
            if annotate {
                let _ = write!(out, "@m{elem} ");
            }
            match child {
                None => out.push_str("nothing"),
                Some(child) => {
                    // `just` is only needed to tell nested maybes apart.
                    if matches!(elem, Type::Maybe(_)) {
                        out.push_str("just ");
                    }
                    print_into(out, child, false);
                }
            }
        }
        Value::Bytes(b) => print_bytes(out, b, annotate),
        Value::Array(elem, children) => {
            let is_dict = matches!(elem, Type::DictEntry(..));
            if children.is_empty() {
                if annotate {
                    let _ = write!(out, "@a{elem} ");
                }
                out.push_str(if is_dict { "{}" } else { "[]" });
                return;
            }
            out.push(if is_dict { '{' } else { '[' });
            for (i, child) in children.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let first = annotate && i == 0;
                match child {
                    Value::DictEntry(k, v) if is_dict => {
                        print_into(out, k, first);
                        out.push_str(": ");
                        print_into(out, v, first);
                    }
                    other => print_into(out, other, first),
                }
            }
            out.push(if is_dict { '}' } else { ']' });
        }
        Value::Tuple(children) => {
            out.push('(');
            for (i, child) in children.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                print_into(out, child, annotate);
            }
            if children.len() == 1 {
                out.push(',');
            }
            out.push(')');
        }
        Value::DictEntry(k, v) => {
            out.push('{');
            print_into(out, k, annotate);
            out.push_str(", ");
            print_into(out, v, annotate);
            out.push('}');
        }
    }
}

fn annotated(out: &mut String, annotate: bool, keyword: &str, v: &dyn std::fmt::Display) {
    if annotate {
        out.push_str(keyword);
        out.push(' ');
    }
    let _ = write!(out, "{v}");
}

fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "nan".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    // GLib prints doubles with "%.17g", then adds ".0" to what would read as an integer.
    let s = format_g17(d);
    if s.chars().all(|c| c.is_ascii_digit() || c == '-') {
        format!("{s}.0")
    } else {
        s
    }
}

/// C's `%.17g`: 17 significant digits, fixed or exponent form, trailing zeros removed.
fn format_g17(d: f64) -> String {
    fn trim_zeros(s: &str) -> &str {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.')
        } else {
            s
        }
    }
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let sci = format!("{d:.16e}");
    let Some((mantissa, exp)) = sci.split_once('e') else {
        return sci;
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..17).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim_zeros(mantissa), exp.abs())
    } else {
        let decimals = usize::try_from(16 - exp).unwrap_or(0);
        trim_zeros(&format!("{d:.decimals$}")).to_owned()
    }
}

fn quote_string(out: &mut String, s: &str) {
    // GLib prefers single quotes, and switches to double quotes for any string with a `'`.
    let quote = if s.contains('\'') { '"' } else { '\'' };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if c.is_control() => {
                let code = u32::from(c);
                if code <= 0xffff {
                    let _ = write!(out, "\\u{code:04x}");
                } else {
                    let _ = write!(out, "\\U{code:08x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

fn print_bytes(out: &mut String, bytes: &[u8], annotate: bool) {
    // A NUL-terminated byte array with no other NUL prints as a bytestring.
    if let Some((0, body)) = bytes.split_last()
        && !body.contains(&0)
    {
        let quote = if body.contains(&b'\'') && !body.contains(&b'"') {
            b'"'
        } else {
            b'\''
        };
        out.push('b');
        out.push(char::from(quote));
        for &b in body {
            match b {
                b'\\' => out.push_str("\\\\"),
                b if b == quote => {
                    out.push('\\');
                    out.push(char::from(b));
                }
                7 => out.push_str("\\a"),
                8 => out.push_str("\\b"),
                12 => out.push_str("\\f"),
                b'\n' => out.push_str("\\n"),
                b'\r' => out.push_str("\\r"),
                b'\t' => out.push_str("\\t"),
                11 => out.push_str("\\v"),
                0x20..=0x7e => out.push(char::from(b)),
                b => {
                    let _ = write!(out, "\\{b:03o}");
                }
            }
        }
        out.push(char::from(quote));
        return;
    }
    if bytes.is_empty() {
        if annotate {
            out.push_str("@ay ");
        }
        out.push_str("[]");
        return;
    }
    out.push('[');
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if annotate && i == 0 {
            out.push_str("byte ");
        }
        let _ = write!(out, "0x{b:02x}");
    }
    out.push(']');
}

/// Parses GVariant text. `expected` fixes the type where the text alone does not (a bare `5`
/// is an `int32` otherwise, as in GLib).
///
/// ```
/// use rostree_core::gvariant::{Type, Value, parse_text};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// assert_eq!(parse_text("5", None)?, Value::Int32(5));
/// assert_eq!(parse_text("5", Some(&Type::Uint32))?, Value::Uint32(5));
/// assert_eq!(parse_text("uint64 7", None)?, Value::Uint64(7));
/// assert_eq!(
///     parse_text("['a', 'b']", None)?,
///     Value::Array(Type::String, vec![Value::String("a".into()), Value::String("b".into())])
/// );
/// // Mixed element types and trailing text are refused.
/// assert!(parse_text("[1, 'a']", None).is_err());
/// assert!(parse_text("5 6", None).is_err());
/// # Ok(())
/// # }
/// ```
pub fn parse_text(text: &str, expected: Option<&Type>) -> Result<Value, Error> {
    let mut parser = Parser {
        src: text,
        pos: 0,
        depth: 0,
    };
    let ast = parser.parse_value()?;
    parser.skip_ws();
    if parser.pos != text.len() {
        return Err(parser.error("unexpected trailing text"));
    }
    resolve(&ast, expected).map_err(|reason| Error::Text {
        text: text.to_owned(),
        reason,
    })
}

#[derive(Debug)]
enum Ast {
    Str(String),
    Bytes(Vec<u8>),
    Number(String),
    Bool(bool),
    Typed(Type, Box<Ast>),
    Array(Vec<Ast>),
    Tuple(Vec<Ast>),
    Dict(Vec<(Ast, Ast)>),
    Variant(Box<Ast>),
    Just(Box<Ast>),
    Nothing,
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    depth: usize,
}

const KEYWORDS: &[(&str, Type)] = &[
    ("boolean", Type::Bool),
    ("byte", Type::Byte),
    ("int16", Type::Int16),
    ("uint16", Type::Uint16),
    ("int32", Type::Int32),
    ("uint32", Type::Uint32),
    ("int64", Type::Int64),
    ("uint64", Type::Uint64),
    ("handle", Type::Handle),
    ("double", Type::Double),
    ("string", Type::String),
    ("objectpath", Type::ObjectPath),
    ("signature", Type::Signature),
];

impl Parser<'_> {
    fn error(&self, reason: &str) -> Error {
        Error::Text {
            text: self.src.to_owned(),
            reason: format!("{reason} at offset {}", self.pos),
        }
    }

    fn rest(&self) -> &str {
        &self.src[self.pos..]
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.src.len() - trimmed.len();
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_ws();
        if self.rest().starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    fn word(&mut self) -> &str {
        self.skip_ws();
        let len = self
            .rest()
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(self.rest().len());
        let start = self.pos;
        self.pos += len;
        &self.src[start..start + len]
    }

    fn parse_value(&mut self) -> Result<Ast, Error> {
        self.depth += 1;
        if self.depth > super::ty::MAX_DEPTH {
            return Err(Error::TooDeep);
        }
        let ast = self.parse_value_inner();
        self.depth -= 1;
        ast
    }

    fn parse_value_inner(&mut self) -> Result<Ast, Error> {
        self.skip_ws();
        let Some(c) = self.rest().chars().next() else {
            return Err(self.error("expected a value"));
        };
        match c {
            '\'' | '"' => Ok(Ast::Str(self.parse_quoted()?)),
            '[' => {
                self.pos += 1;
                Ok(Ast::Array(self.parse_list("]")?))
            }
            '(' => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    if self.eat(")") {
                        break;
                    }
                    items.push(self.parse_value()?);
                    if self.eat(",") {
                        continue;
                    }
                    if self.eat(")") {
                        break;
                    }
                    return Err(self.error("expected ',' or ')'"));
                }
                Ok(Ast::Tuple(items))
            }
            '{' => {
                self.pos += 1;
                let mut entries = Vec::new();
                loop {
                    if self.eat("}") {
                        break;
                    }
                    let key = self.parse_value()?;
                    if !self.eat(":") {
                        return Err(self.error("expected ':' in dictionary"));
                    }
                    let value = self.parse_value()?;
                    entries.push((key, value));
                    if self.eat(",") {
                        continue;
                    }
                    if self.eat("}") {
                        break;
                    }
                    return Err(self.error("expected ',' or '}'"));
                }
                Ok(Ast::Dict(entries))
            }
            '<' => {
                self.pos += 1;
                let inner = self.parse_value()?;
                if !self.eat(">") {
                    return Err(self.error("expected '>'"));
                }
                Ok(Ast::Variant(Box::new(inner)))
            }
            '@' => {
                self.pos += 1;
                let (ty, rest) = Type::parse_prefix(self.rest().as_bytes(), 0)
                    .map_err(|_| self.error("bad type annotation"))?;
                self.pos = self.src.len() - rest.len();
                let inner = self.parse_value()?;
                Ok(Ast::Typed(ty, Box::new(inner)))
            }
            'b' if self.rest()[1..].starts_with(['\'', '"']) => {
                self.pos += 1;
                Ok(Ast::Bytes(self.parse_bytestring()?))
            }
            c if c.is_ascii_digit() || c == '-' || c == '+' || c == '.' => {
                let len = self
                    .rest()
                    .find(|c: char| !(c.is_ascii_alphanumeric() || "+-.".contains(c)))
                    .unwrap_or(self.rest().len());
                let start = self.pos;
                self.pos += len;
                Ok(Ast::Number(self.src[start..start + len].to_owned()))
            }
            _ => {
                let word = self.word().to_owned();
                match word.as_str() {
                    "nan" | "inf" => Ok(Ast::Number(word)),
                    "true" => Ok(Ast::Bool(true)),
                    "false" => Ok(Ast::Bool(false)),
                    "nothing" => Ok(Ast::Nothing),
                    "just" => Ok(Ast::Just(Box::new(self.parse_value()?))),
                    w => match KEYWORDS.iter().find(|(k, _)| *k == w) {
                        Some((_, ty)) => Ok(Ast::Typed(ty.clone(), Box::new(self.parse_value()?))),
                        None => Err(self.error("unknown keyword")),
                    },
                }
            }
        }
    }

    fn parse_list(&mut self, close: &str) -> Result<Vec<Ast>, Error> {
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Ok(items);
            }
            items.push(self.parse_value()?);
            if self.eat(",") {
                continue;
            }
            if self.eat(close) {
                return Ok(items);
            }
            return Err(self.error("expected ',' or the end of the list"));
        }
    }

    fn parse_quoted(&mut self) -> Result<String, Error> {
        let mut chars = self.rest().char_indices();
        let Some((_, quote)) = chars.next() else {
            return Err(self.error("expected a string"));
        };
        let mut out = String::new();
        while let Some((i, c)) = chars.next() {
            if c == quote {
                self.pos += i + c.len_utf8();
                return Ok(out);
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let Some((_, e)) = chars.next() else { break };
            match e {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'a' => out.push('\u{7}'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'v' => out.push('\u{b}'),
                'u' | 'U' => {
                    let n = if e == 'u' { 4 } else { 8 };
                    let hex: String = chars.by_ref().take(n).map(|(_, c)| c).collect();
                    let code = u32::from_str_radix(&hex, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or_else(|| self.error("bad unicode escape"))?;
                    out.push(code);
                }
                other => out.push(other),
            }
        }
        Err(self.error("unterminated string"))
    }

    /// A quoted bytestring (after its `b`): as a string, plus GLib's octal escapes
    /// (`\ooo`, one to three digits), which stand for single bytes.
    fn parse_bytestring(&mut self) -> Result<Vec<u8>, Error> {
        let bytes = self.rest().as_bytes();
        let Some(&quote) = bytes.first() else {
            return Err(self.error("expected a bytestring"));
        };
        let mut out = Vec::new();
        let mut i = 1;
        while let Some(&b) = bytes.get(i) {
            i += 1;
            if b == quote {
                self.pos += i;
                return Ok(out);
            }
            if b != b'\\' {
                out.push(b);
                continue;
            }
            let Some(&e) = bytes.get(i) else { break };
            i += 1;
            match e {
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'r' => out.push(b'\r'),
                b'a' => out.push(7),
                b'b' => out.push(8),
                b'f' => out.push(12),
                b'v' => out.push(11),
                b'0'..=b'7' => {
                    let mut value = u32::from(e - b'0');
                    for _ in 0..2 {
                        match bytes.get(i) {
                            Some(&d @ b'0'..=b'7') => {
                                value = value * 8 + u32::from(d - b'0');
                                i += 1;
                            }
                            _ => break,
                        }
                    }
                    out.push((value & 0xff) as u8);
                }
                other => out.push(other),
            }
        }
        Err(self.error("unterminated bytestring"))
    }
}

fn resolve(ast: &Ast, expected: Option<&Type>) -> Result<Value, String> {
    let mismatch = |what: &str| match expected {
        Some(t) => format!("{what} cannot be of type {t}"),
        None => format!("cannot infer the type of {what}"),
    };
    // As GLib: a value where a maybe is expected is that maybe's `just` (GLib prints the
    // innermost `just` of nested maybes this way).
    if let Some(Type::Maybe(e)) = expected
        && !matches!(ast, Ast::Nothing | Ast::Just(_) | Ast::Typed(..))
    {
        return Ok(Value::Maybe(
            (**e).clone(),
            Some(Box::new(resolve(ast, Some(e))?)),
        ));
    }
    match ast {
        Ast::Typed(ty, inner) => {
            if let Some(e) = expected
                && e != ty
            {
                return Err(format!("type {ty} given where {e} is expected"));
            }
            resolve(inner, Some(ty))
        }
        Ast::Str(s) => match expected {
            None | Some(Type::String) => Ok(Value::String(s.clone())),
            Some(Type::ObjectPath) => Ok(Value::ObjectPath(s.clone())),
            Some(Type::Signature) => Ok(Value::Signature(s.clone())),
            Some(Type::Array(e)) if **e == Type::Byte => Ok(Value::Bytes(s.clone().into_bytes())),
            _ => Err(mismatch("a string")),
        },
        Ast::Bytes(b) => match expected {
            None | Some(Type::Array(_)) => {
                let mut bytes = b.clone();
                bytes.push(0);
                Ok(Value::Bytes(bytes))
            }
            _ => Err(mismatch("a bytestring")),
        },
        Ast::Bool(b) => match expected {
            None | Some(Type::Bool) => Ok(Value::Bool(*b)),
            _ => Err(mismatch("a boolean")),
        },
        Ast::Number(n) => parse_number(n, expected),
        Ast::Variant(inner) => match expected {
            None | Some(Type::Variant) => Ok(Value::Variant(Box::new(resolve(inner, None)?))),
            _ => Err(mismatch("a variant")),
        },
        Ast::Nothing => match expected {
            Some(Type::Maybe(e)) => Ok(Value::Maybe((**e).clone(), None)),
            _ => Err(mismatch("nothing")),
        },
        Ast::Just(inner) => match expected {
            Some(Type::Maybe(e)) => Ok(Value::Maybe(
                (**e).clone(),
                Some(Box::new(resolve(inner, Some(e))?)),
            )),
            None => {
                let v = resolve(inner, None)?;
                Ok(Value::Maybe(v.value_type(), Some(Box::new(v))))
            }
            _ => Err(mismatch("a maybe")),
        },
        Ast::Tuple(items) => {
            let types: Vec<Option<&Type>> = match expected {
                None => vec![None; items.len()],
                Some(Type::Tuple(ts)) if ts.len() == items.len() => ts.iter().map(Some).collect(),
                _ => return Err(mismatch("a tuple")),
            };
            Ok(Value::Tuple(
                items
                    .iter()
                    .zip(types)
                    .map(|(item, t)| resolve(item, t))
                    .collect::<Result<_, _>>()?,
            ))
        }
        Ast::Array(items) => {
            let elem = match expected {
                Some(Type::Array(e)) => Some((**e).clone()),
                None => None,
                _ => return Err(mismatch("an array")),
            };
            let mut values = Vec::with_capacity(items.len());
            let mut elem = elem;
            for item in items {
                let v = resolve(item, elem.as_ref())?;
                elem.get_or_insert_with(|| v.value_type());
                values.push(v);
            }
            let elem = elem.ok_or_else(|| mismatch("an empty array"))?;
            if elem == Type::Byte {
                let bytes = values
                    .iter()
                    .map(|v| match v {
                        Value::Byte(b) => *b,
                        _ => 0,
                    })
                    .collect();
                return Ok(Value::Bytes(bytes));
            }
            Ok(Value::Array(elem, values))
        }
        Ast::Dict(entries) => {
            let (mut kt, mut vt) = match expected {
                Some(Type::Array(e)) => match e.as_ref() {
                    Type::DictEntry(k, v) => (Some((**k).clone()), Some((**v).clone())),
                    _ => return Err(mismatch("a dictionary")),
                },
                None => (None, None),
                _ => return Err(mismatch("a dictionary")),
            };
            let mut values = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                let key = resolve(k, kt.as_ref())?;
                let value = resolve(v, vt.as_ref())?;
                kt.get_or_insert_with(|| key.value_type());
                vt.get_or_insert_with(|| value.value_type());
                values.push(Value::DictEntry(Box::new(key), Box::new(value)));
            }
            match (kt, vt) {
                (Some(k), Some(v)) => Ok(Value::Array(
                    Type::DictEntry(Box::new(k), Box::new(v)),
                    values,
                )),
                _ => Err(mismatch("an empty dictionary")),
            }
        }
    }
}

fn parse_number(text: &str, expected: Option<&Type>) -> Result<Value, String> {
    let bad = || format!("invalid number {text:?}");
    // `nan`, `inf` and `-inf` are how non-finite doubles print.
    let non_finite = matches!(text, "nan" | "inf" | "-inf");
    let is_float = non_finite || (text.contains(['.', 'e', 'E']) && !text.starts_with("0x"));
    let int = || -> Result<i128, String> {
        let (neg, digits) = match text.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        // One sign only: `--5` and `+-5` are not numbers.
        if digits.starts_with(['-', '+']) {
            return Err(bad());
        }
        let magnitude = if let Some(hex) = digits.strip_prefix("0x") {
            i128::from_str_radix(hex, 16)
        } else if digits.len() > 1 && digits.starts_with('0') {
            i128::from_str_radix(&digits[1..], 8)
        } else {
            digits.parse::<i128>()
        }
        .map_err(|_| bad())?;
        if neg {
            magnitude.checked_neg().ok_or_else(bad)
        } else {
            Ok(magnitude)
        }
    };
    let range = |_| format!("number {text} out of range for its type");
    match expected {
        None if is_float => text.parse().map(Value::Double).map_err(|_| bad()),
        None | Some(Type::Int32) => Ok(Value::Int32(i32::try_from(int()?).map_err(range)?)),
        Some(Type::Double) => text.parse().map(Value::Double).map_err(|_| bad()),
        Some(Type::Byte) => Ok(Value::Byte(u8::try_from(int()?).map_err(range)?)),
        Some(Type::Int16) => Ok(Value::Int16(i16::try_from(int()?).map_err(range)?)),
        Some(Type::Uint16) => Ok(Value::Uint16(u16::try_from(int()?).map_err(range)?)),
        Some(Type::Uint32) => Ok(Value::Uint32(u32::try_from(int()?).map_err(range)?)),
        Some(Type::Int64) => Ok(Value::Int64(i64::try_from(int()?).map_err(range)?)),
        Some(Type::Uint64) => Ok(Value::Uint64(u64::try_from(int()?).map_err(range)?)),
        Some(Type::Handle) => Ok(Value::Handle(i32::try_from(int()?).map_err(range)?)),
        Some(t) => Err(format!("a number cannot be of type {t}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_glib() {
        let cases: Vec<(Value, &str)> = vec![
            (Value::String("1.0".into()), "'1.0'"),
            (Value::String("it's".into()), "\"it's\""),
            (Value::Uint32(5), "uint32 5"),
            (Value::Uint64(5), "uint64 5"),
            (Value::Int32(-5), "-5"),
            (Value::Bool(true), "true"),
            (Value::Double(1.0), "1.0"),
            (Value::Double(0.1), "0.10000000000000001"),
            (Value::Double(5.5), "5.5"),
            (Value::Double(1e16), "10000000000000000.0"),
            (Value::Double(1e17), "1e+17"),
            (Value::Double(-2.5e-5), "-2.5000000000000001e-05"),
            (
                Value::Array(Type::String, vec![Value::String("main".into())]),
                "['main']",
            ),
            (Value::Array(Type::String, vec![]), "@as []"),
            (Value::Bytes(vec![1, 2]), "[byte 0x01, 0x02]"),
            (Value::Bytes(b"ab\0".to_vec()), "b'ab'"),
            (Value::Variant(Box::new(Value::Uint32(1))), "<uint32 1>"),
            (Value::Tuple(vec![Value::String("a".into())]), "('a',)"),
            (
                Value::Array(Type::parse("(ayay)").expect("type"), vec![]),
                "@a(ayay) []",
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(print_text(&value, true), expected);
        }
    }

    #[test]
    fn parses_metadata_values() {
        let cases: Vec<(&str, Value)> = vec![
            ("'x'", Value::String("x".into())),
            ("\"x\"", Value::String("x".into())),
            ("5", Value::Int32(5)),
            ("uint32 5", Value::Uint32(5)),
            ("@t 5", Value::Uint64(5)),
            ("uint64 18446744073709551615", Value::Uint64(u64::MAX)),
            ("true", Value::Bool(true)),
            (
                "['a', 'b']",
                Value::Array(
                    Type::String,
                    vec![Value::String("a".into()), Value::String("b".into())],
                ),
            ),
            ("@as []", Value::Array(Type::String, vec![])),
            ("<'v'>", Value::Variant(Box::new(Value::String("v".into())))),
            ("b'hi'", Value::Bytes(b"hi\0".to_vec())),
            // Found by fuzzing: octal escapes are single bytes, high ones included.
            ("b'\\005'", Value::Bytes(vec![5, 0])),
            (
                "b'\\3771\\0012'",
                Value::Bytes(vec![0xff, b'1', 1, b'2', 0]),
            ),
            ("b\"it's\"", Value::Bytes(b"it's\0".to_vec())),
            // Found by fuzzing: non-finite doubles print as words that must read back.
            ("inf", Value::Double(f64::INFINITY)),
            ("-inf", Value::Double(f64::NEG_INFINITY)),
            ("@d inf", Value::Double(f64::INFINITY)),
            // Found by fuzzing: a plain value stands for `just` it.
            (
                "@mmay just [0x01]",
                Value::Maybe(
                    Type::parse("may").expect("type"),
                    Some(Box::new(Value::Maybe(
                        Type::parse("ay").expect("type"),
                        Some(Box::new(Value::Bytes(vec![1]))),
                    ))),
                ),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_text(text, None).expect(text), expected, "{text}");
        }
        assert!(matches!(parse_text("nan", None), Ok(Value::Double(d)) if d.is_nan()));
        for bad in [
            "",
            "'open",
            "[1, 'a']",
            "[]",
            "uint32 -1",
            "frob",
            "5 6",
            "@i inf",
        ] {
            assert!(parse_text(bad, None).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn print_then_parse_round_trips() {
        let value = Value::Tuple(vec![
            Value::Uint32(7),
            Value::Array(Type::String, vec![Value::String("a'b\n".into())]),
            Value::Variant(Box::new(Value::Int64(-3))),
        ]);
        let text = print_text(&value, true);
        assert_eq!(parse_text(&text, None).expect(&text), value);
    }
}
