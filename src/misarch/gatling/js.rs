//! A reader of JavaScript literals (objects, arrays, strings, numbers, identifiers; no expressions, no eval): it
//! reads the one value after a known marker and ignores the code around it.

use super::ReportError;

/// A JavaScript literal value. Objects keep their members in source order (stats.js order is report order); where a
/// key repeats, the last one counts, as in JavaScript.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Js {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    /// A bare identifier other than `true`, `false`, `null`: `undefined`, `NaN`, `Infinity`, or a variable name.
    Ident(String),
    Arr(Vec<Js>),
    Obj(Vec<(String, Js)>),
}

impl Js {
    pub(super) fn as_array(&self) -> Option<&[Js]> {
        match self {
            Js::Arr(items) => Some(items),
            _ => None,
        }
    }
}

/// Short descriptions for error messages.
impl std::fmt::Display for Js {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Js::Null => f.write_str("null"),
            Js::Bool(value) => write!(f, "{value}"),
            Js::Num(value) => write!(f, "{value}"),
            Js::Str(text) if text.chars().count() > 40 => write!(f, "a string ({} characters)", text.chars().count()),
            Js::Str(text) => write!(f, "{text:?}"),
            Js::Ident(name) => write!(f, "the identifier {name}"),
            Js::Arr(items) => write!(f, "an array ({} items)", items.len()),
            Js::Obj(members) => write!(f, "an object ({} members)", members.len()),
        }
    }
}

pub(super) fn get<'a>(members: &'a [(String, Js)], key: &str) -> Option<&'a Js> {
    members.iter().rev().find(|(name, _)| name == key).map(|(_, value)| value)
}

/// Deep enough for any report (each level of Gatling groups takes two), shallow enough that hostile input such as
/// `[[[[…` cannot overflow the stack.
pub(super) const MAX_DEPTH: usize = 128;

pub(super) struct Reader<'a> {
    text: &'a str,
    pos: usize,
    file: &'static str,
}

impl<'a> Reader<'a> {
    pub(super) fn new(text: &'a str, pos: usize, file: &'static str) -> Self {
        Reader { text, pos, file }
    }

    /// Reads one value and stops after it; whatever follows is none of its business.
    pub(super) fn read_value(mut self) -> Result<Js, ReportError> {
        self.value(0)
    }

    pub(super) fn error(&self, what: impl Into<String>) -> ReportError {
        let before = &self.text[..self.pos.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |line| line.chars().count()) + 1;
        ReportError::Syntax { file: self.file, line, column, what: what.into() }
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    pub(super) fn peek_char(&self) -> Option<char> {
        self.text.get(self.pos..).and_then(|rest| rest.chars().next())
    }

    /// Skips white space and comments.
    pub(super) fn skip_blank(&mut self) -> Result<(), ReportError> {
        loop {
            // The common case, a token right here, without the Unicode-aware trim below.
            if self.peek().is_some_and(|b| b.is_ascii_graphic() && b != b'/') {
                return Ok(());
            }
            let rest = &self.text[self.pos..];
            let trimmed = rest.trim_start();
            self.pos += rest.len() - trimmed.len();
            if trimmed.starts_with("//") {
                self.pos += trimmed.find('\n').unwrap_or(trimmed.len());
            } else if let Some(comment) = trimmed.strip_prefix("/*") {
                let end = comment.find("*/").ok_or_else(|| self.error("unterminated comment"))?;
                self.pos += 2 + end + 2;
            } else {
                return Ok(());
            }
        }
    }

    pub(super) fn value(&mut self, depth: usize) -> Result<Js, ReportError> {
        if depth >= MAX_DEPTH {
            return Err(self.error(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        self.skip_blank()?;
        match self.peek() {
            None => Err(self.error("unexpected end of text, expected a value")),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(quote @ (b'"' | b'\'')) => self.string(quote).map(Js::Str),
            Some(b'0'..=b'9' | b'.' | b'-' | b'+') => self.number(),
            Some(_) => match self.identifier() {
                Some("true") => Ok(Js::Bool(true)),
                Some("false") => Ok(Js::Bool(false)),
                Some("null") => Ok(Js::Null),
                Some("function") => Err(self.error("a function where a literal value was expected")),
                Some(name) => Ok(Js::Ident(name.to_owned())),
                None => Err(self.error(format!("unexpected {:?}, expected a value", self.peek_char().unwrap_or(' ')))),
            },
        }
    }

    pub(super) fn identifier(&mut self) -> Option<&'a str> {
        let rest = &self.text[self.pos..];
        let length = rest
            .char_indices()
            .find(|&(index, c)| !(c == '_' || c == '$' || c.is_alphabetic() || (index > 0 && c.is_numeric())))
            .map_or(rest.len(), |(index, _)| index);
        if length == 0 {
            return None;
        }
        self.pos += length;
        Some(&rest[..length])
    }

    pub(super) fn object(&mut self, depth: usize) -> Result<Js, ReportError> {
        self.pos += 1;
        let mut members = Vec::new();
        loop {
            self.skip_blank()?;
            let key = match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Js::Obj(members));
                }
                Some(quote @ (b'"' | b'\'')) => self.string(quote)?,
                Some(b'0'..=b'9' | b'.') => match self.number()? {
                    Js::Num(number) => number.to_string(),
                    _ => return Err(self.error("a key must be a name, a string or a number")),
                },
                None => return Err(self.error("unexpected end of text inside an object")),
                Some(_) => match self.identifier() {
                    Some(name) => name.to_owned(),
                    None => return Err(self.error("expected a key or `}`")),
                },
            };
            self.skip_blank()?;
            if self.peek() != Some(b':') {
                return Err(self.error(format!("expected `:` after the key {key:?}")));
            }
            self.pos += 1;
            let value = self.value(depth + 1)?;
            members.push((key, value));
            self.skip_blank()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                None => return Err(self.error("unexpected end of text inside an object")),
                Some(_) => return Err(self.error("expected `,` or `}` in an object")),
            }
        }
    }

    pub(super) fn array(&mut self, depth: usize) -> Result<Js, ReportError> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_blank()?;
            if self.peek() == Some(b']') {
                self.pos += 1;
                return Ok(Js::Arr(items));
            }
            items.push(self.value(depth + 1)?);
            self.skip_blank()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {}
                None => return Err(self.error("unexpected end of text inside an array")),
                Some(_) => return Err(self.error("expected `,` or `]` in an array")),
            }
        }
    }

    /// A number, or `-Infinity`/`+Infinity` as an identifier.
    pub(super) fn number(&mut self) -> Result<Js, ReportError> {
        let start = self.pos;
        let bytes = self.text.as_bytes();
        let mut end = start;
        if matches!(bytes.get(end), Some(b'-' | b'+')) {
            end += 1;
            if bytes.get(end).is_some_and(|b| b.is_ascii_alphabetic()) {
                self.pos = end;
                let name = self.identifier().unwrap_or_default();
                return Ok(Js::Ident(format!("{}{name}", &self.text[start..start + 1])));
            }
        }
        let digits = |end: &mut usize| {
            let from = *end;
            while bytes.get(*end).is_some_and(u8::is_ascii_digit) {
                *end += 1;
            }
            *end > from
        };
        let mut any = digits(&mut end);
        if bytes.get(end) == Some(&b'.') {
            end += 1;
            any |= digits(&mut end);
        }
        if !any {
            self.pos = start;
            return Err(self.error("expected a number"));
        }
        if matches!(bytes.get(end), Some(b'e' | b'E')) {
            let mut exponent = end + 1;
            if matches!(bytes.get(exponent), Some(b'-' | b'+')) {
                exponent += 1;
            }
            if digits(&mut exponent) {
                end = exponent;
            }
        }
        self.pos = end;
        // Rust's float syntax is a superset of what was scanned (sign, digits, point, exponent).
        match self.text[start..end].parse::<f64>() {
            Ok(number) => Ok(Js::Num(number)),
            Err(_) => {
                self.pos = start;
                Err(self.error("unreadable number"))
            }
        }
    }

    pub(super) fn string(&mut self, quote: u8) -> Result<String, ReportError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let rest = &self.text[self.pos..];
            // Copy the plain run up to the next quote or backslash in one go.
            let plain = rest.find([quote as char, '\\']).unwrap_or(rest.len());
            out.push_str(&rest[..plain]);
            self.pos += plain;
            match self.peek() {
                None => {
                    self.pos = start;
                    return Err(self.error("unterminated string"));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.escape(&mut out)?;
                }
                Some(_) => {
                    self.pos += 1;
                    return Ok(out);
                }
            }
        }
    }

    /// One escape sequence after its backslash, with JavaScript's meanings.
    pub(super) fn escape(&mut self, out: &mut String) -> Result<(), ReportError> {
        let Some(c) = self.peek_char() else { return Err(self.error("unterminated string")) };
        self.pos += c.len_utf8();
        match c {
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'v' => out.push('\u{b}'),
            '0' => out.push('\0'),
            // A line continuation.
            '\n' => {}
            '\r' => {
                if self.peek() == Some(b'\n') {
                    self.pos += 1;
                }
            }
            'x' => {
                let code = self.hex(2)?;
                out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            'u' => {
                let code = self.unicode_escape()?;
                // A high surrogate followed by an escaped low surrogate is one character (UTF-16 in the source).
                let code = if (0xD800..0xDC00).contains(&code) && self.text[self.pos..].starts_with("\\u") {
                    let save = self.pos;
                    self.pos += 2;
                    let low = self.unicode_escape()?;
                    if (0xDC00..0xE000).contains(&low) {
                        0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        self.pos = save;
                        code
                    }
                } else {
                    code
                };
                out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            // `\'`, `\"`, `\\`, `\/` and any other character stand for themselves.
            other => out.push(other),
        }
        Ok(())
    }

    /// `XXXX` or `{X…}` after `\u`.
    pub(super) fn unicode_escape(&mut self) -> Result<u32, ReportError> {
        if self.peek() == Some(b'{') {
            self.pos += 1;
            let rest = &self.text[self.pos..];
            let close = rest.find('}').filter(|&close| (1..=6).contains(&close));
            let code = close.and_then(|close| u32::from_str_radix(&rest[..close], 16).ok());
            let (Some(close), Some(code)) = (close, code) else { return Err(self.error("bad \\u{…} escape")) };
            self.pos += close + 1;
            Ok(code)
        } else {
            self.hex(4)
        }
    }

    pub(super) fn hex(&mut self, digits: usize) -> Result<u32, ReportError> {
        let code = self
            .text
            .get(self.pos..self.pos + digits)
            .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
            .ok_or_else(|| self.error("bad hexadecimal escape"))?;
        self.pos += digits;
        Ok(code)
    }
}
