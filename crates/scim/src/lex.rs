//! The tokens of filters and PATCH paths: brackets, words (attribute paths, operators,
//! keywords, literals), JSON strings and JSON numbers, each with its byte offset.
//!
//! Whitespace separates tokens and is otherwise ignored (RFC 7644 asks for one space; clients
//! send more, or none before a bracket). Keywords are words: the parser tells `and` the
//! operator from `and` an attribute by where it stands.

use serde_json::Number;

use crate::filter::{FilterError, FilterErrorKind};

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok<'a> {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Dot,
    /// An attribute path, an operator or a keyword, as written.
    Word(&'a str),
    /// A JSON string, unescaped.
    Str(String),
    /// A JSON number.
    Num(Number),
}

/// A token and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token<'a> {
    pub(crate) tok: Tok<'a>,
    pub(crate) pos: usize,
}

/// Splits a filter or path into tokens on demand (one pass, no backtracking).
pub(crate) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

/// Whether `c` may continue a word: name characters, URN separators, sub-attribute dots.
fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ':' | '.' | '$')
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Self { src, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn error(&self, kind: FilterErrorKind, pos: usize, message: impl Into<String>) -> FilterError {
        FilterError::new(kind, pos, message)
    }

    /// The next token, or `None` at the end of the input.
    pub(crate) fn next_token(&mut self) -> Result<Option<Token<'a>>, FilterError> {
        let rest = self.rest();
        let trimmed = rest.trim_start();
        self.pos += rest.len() - trimmed.len();
        let start = self.pos;
        let Some(c) = trimmed.chars().next() else {
            return Ok(None);
        };
        let single = |tok| Token { tok, pos: start };
        let token = match c {
            '(' => single(Tok::LParen),
            ')' => single(Tok::RParen),
            '[' => single(Tok::LBracket),
            ']' => single(Tok::RBracket),
            '.' => single(Tok::Dot),
            '"' => return self.string().map(Some),
            '-' | '0'..='9' => return self.number().map(Some),
            c if c.is_ascii_alphabetic() || c == '$' => {
                let len = trimmed
                    .find(|c: char| !is_word_char(c))
                    .unwrap_or(trimmed.len());
                self.pos += len;
                return Ok(Some(Token {
                    tok: Tok::Word(&trimmed[..len]),
                    pos: start,
                }));
            }
            other => {
                return Err(self.error(
                    FilterErrorKind::UnexpectedChar,
                    start,
                    format!("unexpected character {other:?}"),
                ));
            }
        };
        self.pos += 1;
        Ok(Some(token))
    }

    /// A JSON number (RFC 8259 §6), refused when a word character follows it (`12ab`).
    fn number(&mut self) -> Result<Token<'a>, FilterError> {
        let start = self.pos;
        let bytes = self.rest().as_bytes();
        let mut i = 0;
        let digits = |i: &mut usize| {
            let from = *i;
            while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i > from
        };
        if bytes.first() == Some(&b'-') {
            i += 1;
        }
        let int_start = i;
        let mut ok = digits(&mut i);
        if ok && bytes.get(int_start) == Some(&b'0') && i - int_start > 1 {
            ok = false; // leading zero
        }
        if ok && bytes.get(i) == Some(&b'.') {
            i += 1;
            ok = digits(&mut i);
        }
        if ok && matches!(bytes.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(bytes.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            ok = digits(&mut i);
        }
        if ok && bytes.get(i).is_some_and(|&b| is_word_char(char::from(b))) {
            ok = false;
        }
        let text = self.rest().get(..i).unwrap_or("");
        let number = if ok { parse_number(text) } else { None };
        match number {
            Some(n) => {
                self.pos += i;
                Ok(Token {
                    tok: Tok::Num(n),
                    pos: start,
                })
            }
            None => Err(self.error(
                FilterErrorKind::InvalidNumber,
                start,
                "invalid number (expected a JSON number such as 42, -1.5 or 1e3)",
            )),
        }
    }

    /// A JSON string (RFC 8259 §7) with its escapes decoded.
    fn string(&mut self) -> Result<Token<'a>, FilterError> {
        let start = self.pos;
        let mut out = String::new();
        let mut chars = self.rest().char_indices().skip(1);
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += i + 1;
                    return Ok(Token {
                        tok: Tok::Str(out),
                        pos: start,
                    });
                }
                '\\' => {
                    let Some((_, e)) = chars.next() else { break };
                    let decoded = match e {
                        '"' => '"',
                        '\\' => '\\',
                        '/' => '/',
                        'b' => '\u{8}',
                        'f' => '\u{c}',
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        'u' => {
                            let high = hex4(&mut chars)
                                .ok_or_else(|| self.bad_string(start + i, "invalid \\u escape"))?;
                            if (0xD800..0xDC00).contains(&high) {
                                let low = match (chars.next(), chars.next()) {
                                    (Some((_, '\\')), Some((_, 'u'))) => hex4(&mut chars),
                                    _ => None,
                                }
                                .filter(|low| (0xDC00..0xE000).contains(low))
                                .ok_or_else(|| self.bad_string(start + i, "unpaired surrogate"))?;
                                let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                                char::from_u32(code).ok_or_else(|| {
                                    self.bad_string(start + i, "invalid \\u escape")
                                })?
                            } else {
                                char::from_u32(high).ok_or_else(|| {
                                    self.bad_string(start + i, "unpaired surrogate")
                                })?
                            }
                        }
                        other => {
                            return Err(
                                self.bad_string(start + i, format!("invalid escape \\{other}"))
                            );
                        }
                    };
                    out.push(decoded);
                }
                c if c < ' ' => {
                    return Err(self.bad_string(start + i, "control character in a string"));
                }
                c => out.push(c),
            }
        }
        Err(self.error(
            FilterErrorKind::UnterminatedString,
            start,
            "unterminated string",
        ))
    }

    fn bad_string(&self, pos: usize, message: impl Into<String>) -> FilterError {
        self.error(FilterErrorKind::InvalidString, pos, message)
    }
}

/// Four hex digits of a `\u` escape.
fn hex4(chars: &mut impl Iterator<Item = (usize, char)>) -> Option<u32> {
    let mut value = 0;
    for _ in 0..4 {
        let (_, c) = chars.next()?;
        value = value * 16 + c.to_digit(16)?;
    }
    Some(value)
}

/// A JSON number's value: an integer when it is one that fits, else the correctly rounded
/// double (std's parser; serde_json's own is not always exact without `float_roundtrip`, and
/// its printed form must parse back to the same number); `None` when infinite.
fn parse_number(text: &str) -> Option<Number> {
    if !text.contains(['.', 'e', 'E']) {
        if let Ok(n) = text.parse::<i64>() {
            return Some(Number::from(n));
        }
        if let Ok(n) = text.parse::<u64>() {
            return Some(Number::from(n));
        }
    }
    Number::from_f64(text.parse::<f64>().ok()?)
}
