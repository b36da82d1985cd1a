//! SCIM filters (RFC 7644 §3.4.2.2): the AST, its parser, its canonical text, and the
//! filters storage can answer with an index.
//!
//! Grammar, by precedence (lowest first); keywords and operators are case-insensitive:
//!
//! ```text
//! filter    = and *("or" and)
//! and       = unary *("and" unary)
//! unary     = "not" "(" filter ")" / "(" filter ")" / attrExp / valuePath
//! attrExp   = attrPath "pr" / attrPath compareOp compValue
//! valuePath = attrPath "[" valFilter "]" ["." subAttr (compareOp compValue / "pr")]
//! compareOp = "eq" / "ne" / "co" / "sw" / "ew" / "gt" / "lt" / "ge" / "le"
//! compValue = "false" / "null" / "true" / JSON number / JSON string
//! ```
//!
//! `valFilter` is a filter over the sub-attributes of each value (no nested `[...]`). The
//! trailing `.subAttr` after a value path is a leniency some clients need
//! (`emails[type eq "work"].value eq "x"`); it reads as `emails[type eq "work" and value eq
//! "x"]`. `and`/`or` chains are flat lists, so depth comes only from nesting.

use std::fmt;

use serde_json::Number;

use crate::lex::{Lexer, Tok, Token};
use crate::path::{AttrPath, parse_attr_path};
use crate::{MAX_DEPTH, MAX_INPUT, ScimType};

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attrPath op value`.
    Compare {
        /// The attribute compared.
        path: AttrPath,
        /// How it is compared.
        op: CompareOp,
        /// What it is compared with.
        value: CompValue,
    },
    /// `attrPath pr`: the attribute has a non-empty value.
    Present(AttrPath),
    /// All of these hold (two or more).
    And(Vec<Filter>),
    /// One of these holds (two or more).
    Or(Vec<Filter>),
    /// `not (filter)`.
    Not(Box<Filter>),
    /// `attr[filter]`: some value of the (multi-valued, complex) attribute satisfies `filter`,
    /// whose paths name that value's sub-attributes.
    ValuePath {
        /// The attribute whose values are filtered (without sub-attribute).
        path: AttrPath,
        /// The filter each value is checked against.
        filter: Box<Filter>,
    },
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Contains (strings).
    Co,
    /// Starts with (strings).
    Sw,
    /// Ends with (strings).
    Ew,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
}

impl CompareOp {
    /// The operator as written in filters.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Co => "co",
            Self::Sw => "sw",
            Self::Ew => "ew",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
        }
    }

    /// The operator a word spells, ignoring case.
    fn parse(word: &str) -> Option<Self> {
        [
            Self::Eq,
            Self::Ne,
            Self::Co,
            Self::Sw,
            Self::Ew,
            Self::Gt,
            Self::Ge,
            Self::Lt,
            Self::Le,
        ]
        .into_iter()
        .find(|op| word.eq_ignore_ascii_case(op.as_str()))
    }

    /// Whether the operator orders or matches text, which booleans and null cannot do.
    fn needs_ordered_value(self) -> bool {
        !matches!(self, Self::Eq | Self::Ne)
    }
}

/// A literal compared with (RFC 7644's `compValue`).
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A JSON number.
    Number(Number),
    /// A JSON string, unescaped.
    String(String),
}

/// Why a filter was refused: a [`FilterErrorKind`], where, and a message for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at byte {position})")]
pub struct FilterError {
    /// What is wrong.
    pub kind: FilterErrorKind,
    /// The byte offset in the input where it was found.
    pub position: usize,
    /// A human-readable message.
    pub message: String,
}

impl FilterError {
    pub(crate) fn new(kind: FilterErrorKind, position: usize, message: impl Into<String>) -> Self {
        Self {
            kind,
            position,
            message: message.into(),
        }
    }

    /// The SCIM error type a refused filter maps to: always `invalidFilter`.
    pub fn scim_type(&self) -> ScimType {
        ScimType::InvalidFilter
    }
}

/// What is wrong with a refused filter or path (for tests and logs; all are `invalidFilter`
/// in a filter, `invalidPath` in a PATCH path).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilterErrorKind {
    /// Nothing but whitespace.
    Empty,
    /// Longer than [`MAX_INPUT`] bytes.
    TooLong,
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// The input ended where more was needed (an operand, a value, a closing bracket).
    UnexpectedEnd,
    /// A token stands where another was needed.
    UnexpectedToken,
    /// A character that starts no token (`=`, `&`, ...).
    UnexpectedChar,
    /// The word after an attribute path is not a comparison operator.
    UnknownOperator,
    /// A malformed attribute path (bad name, bad URN prefix, two dots).
    InvalidAttrPath,
    /// A comparison value that is no JSON literal (`eq foo`).
    InvalidValue,
    /// `gt`, `ge`, `lt`, `le`, `co`, `sw` or `ew` with `true`, `false` or `null`.
    UncomparableValue,
    /// A string without its closing quote.
    UnterminatedString,
    /// A bad escape or a raw control character in a string.
    InvalidString,
    /// A malformed or out-of-range number.
    InvalidNumber,
    /// A value path inside a value path's brackets.
    NestedValuePath,
    /// A complete filter followed by more input.
    TrailingInput,
}

/// Parses a filter (the `filter` query parameter or a `.search` body's `filter`).
pub fn parse_filter(input: &str) -> Result<Filter, FilterError> {
    let mut parser = Parser::new(input)?;
    let filter = parser.filter(false)?;
    parser.expect_end()?;
    Ok(filter)
}

/// Which filter in a value path's brackets the parser is in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Top,
    Brackets,
}

/// Recursive descent with one token of look-ahead.
pub(crate) struct Parser<'a> {
    lexer: Lexer<'a>,
    peeked: Option<Token<'a>>,
    depth: usize,
    len: usize,
}

impl<'a> Parser<'a> {
    /// A parser over `input`, refused at once when empty or longer than [`MAX_INPUT`].
    pub(crate) fn new(input: &'a str) -> Result<Self, FilterError> {
        if input.len() > MAX_INPUT {
            return Err(FilterError::new(
                FilterErrorKind::TooLong,
                MAX_INPUT,
                format!("longer than {MAX_INPUT} bytes"),
            ));
        }
        if input.trim().is_empty() {
            return Err(FilterError::new(FilterErrorKind::Empty, 0, "empty"));
        }
        let mut lexer = Lexer::new(input);
        let peeked = lexer.next_token()?;
        Ok(Self {
            lexer,
            peeked,
            depth: 0,
            len: input.len(),
        })
    }

    pub(crate) fn peek(&self) -> Option<&Tok<'a>> {
        self.peeked.as_ref().map(|t| &t.tok)
    }

    /// Where the next token starts (the input's end when there is none).
    pub(crate) fn position(&self) -> usize {
        self.peeked.as_ref().map_or(self.len, |t| t.pos)
    }

    pub(crate) fn advance(&mut self) -> Result<Option<Token<'a>>, FilterError> {
        let next = self.lexer.next_token()?;
        Ok(std::mem::replace(&mut self.peeked, next))
    }

    /// An error about the next token: `UnexpectedEnd` at the end, else `kind`.
    pub(crate) fn unexpected(&self, kind: FilterErrorKind, wanted: &str) -> FilterError {
        match &self.peeked {
            None => FilterError::new(
                FilterErrorKind::UnexpectedEnd,
                self.len,
                format!("expected {wanted}, found the end of the filter"),
            ),
            Some(t) => FilterError::new(
                kind,
                t.pos,
                format!("expected {wanted}, found {}", describe(&t.tok)),
            ),
        }
    }

    pub(crate) fn expect_end(&self) -> Result<(), FilterError> {
        match self.peek() {
            None => Ok(()),
            Some(Tok::RParen) => Err(self.unexpected(
                FilterErrorKind::UnexpectedToken,
                "the end of the filter (unbalanced parenthesis)",
            )),
            Some(_) => Err(self.unexpected(
                FilterErrorKind::TrailingInput,
                "\"and\", \"or\" or the end of the filter",
            )),
        }
    }

    fn enter(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FilterError::new(
                FilterErrorKind::TooDeep,
                self.position(),
                format!("nested deeper than {MAX_DEPTH}"),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn expect(&mut self, tok: &Tok<'_>, wanted: &str) -> Result<(), FilterError> {
        if self.peek() == Some(tok) {
            self.advance()?;
            Ok(())
        } else {
            Err(self.unexpected(FilterErrorKind::UnexpectedToken, wanted))
        }
    }

    /// Whether the next token is the keyword `word`.
    fn at_keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    /// `filter = and *("or" and)`; in brackets when `brackets`.
    pub(crate) fn filter(&mut self, brackets: bool) -> Result<Filter, FilterError> {
        let scope = if brackets {
            Scope::Brackets
        } else {
            Scope::Top
        };
        let first = self.and(scope)?;
        if !self.at_keyword("or") {
            return Ok(first);
        }
        let mut terms = vec![first];
        while self.at_keyword("or") {
            self.advance()?;
            terms.push(self.and(scope)?);
        }
        Ok(Filter::Or(terms))
    }

    fn and(&mut self, scope: Scope) -> Result<Filter, FilterError> {
        let first = self.unary(scope)?;
        if !self.at_keyword("and") {
            return Ok(first);
        }
        let mut terms = vec![first];
        while self.at_keyword("and") {
            self.advance()?;
            terms.push(self.unary(scope)?);
        }
        Ok(Filter::And(terms))
    }

    fn unary(&mut self, scope: Scope) -> Result<Filter, FilterError> {
        match self.peek() {
            Some(Tok::LParen) => {
                self.advance()?;
                self.enter()?;
                let inner = self.filter(scope == Scope::Brackets)?;
                self.expect(&Tok::RParen, "\")\"")?;
                self.leave();
                Ok(inner)
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("not") => {
                let not_pos = self.position();
                self.advance()?;
                if self.peek() != Some(&Tok::LParen) {
                    // `not` as an attribute name (`not pr`), or `not` without its parenthesis.
                    let names_attribute = match self.peek() {
                        Some(Tok::Word(op)) => {
                            op.eq_ignore_ascii_case("pr") || CompareOp::parse(op).is_some()
                        }
                        Some(Tok::LBracket) => true,
                        _ => false,
                    };
                    if names_attribute {
                        let path = parse_attr_path("not", not_pos)?;
                        return self.attr_tail(path, scope);
                    }
                    return Err(
                        self.unexpected(FilterErrorKind::UnexpectedToken, "\"(\" after \"not\"")
                    );
                }
                self.advance()?;
                self.enter()?;
                let inner = self.filter(scope == Scope::Brackets)?;
                self.expect(&Tok::RParen, "\")\"")?;
                self.leave();
                Ok(Filter::Not(Box::new(inner)))
            }
            Some(Tok::Word(w)) => {
                let path = parse_attr_path(w, self.position())?;
                self.advance()?;
                self.attr_tail(path, scope)
            }
            _ => Err(self.unexpected(
                FilterErrorKind::UnexpectedToken,
                "an attribute path, \"not\" or \"(\"",
            )),
        }
    }

    /// What follows an attribute path: `pr`, `op value`, or `[filter]`.
    fn attr_tail(&mut self, path: AttrPath, scope: Scope) -> Result<Filter, FilterError> {
        if self.peek() == Some(&Tok::LBracket) {
            if scope == Scope::Brackets {
                return Err(FilterError::new(
                    FilterErrorKind::NestedValuePath,
                    self.position(),
                    "a value path cannot hold another value path",
                ));
            }
            if path.sub.is_some() {
                return Err(self.unexpected(
                    FilterErrorKind::UnexpectedToken,
                    "an operator (a sub-attribute has no value path)",
                ));
            }
            let inner = self.brackets()?;
            if self.peek() != Some(&Tok::Dot) {
                return Ok(Filter::ValuePath {
                    path,
                    filter: Box::new(inner),
                });
            }
            // `emails[type eq "work"].value eq "x"`: the sub-attribute's test joins the brackets.
            self.advance()?;
            let sub_pos = self.position();
            let Some(Tok::Word(sub)) = self.peek() else {
                return Err(self.unexpected(
                    FilterErrorKind::UnexpectedToken,
                    "a sub-attribute name after \".\"",
                ));
            };
            let sub_path = parse_attr_path(sub, sub_pos)?;
            if sub_path.sub.is_some() || sub_path.schema.is_some() {
                return Err(FilterError::new(
                    FilterErrorKind::InvalidAttrPath,
                    sub_pos,
                    "expected one sub-attribute name after \"]\"",
                ));
            }
            self.advance()?;
            let test = self.comparison(sub_path)?;
            let mut terms = match inner {
                Filter::And(terms) => terms,
                other => vec![other],
            };
            terms.push(test);
            return Ok(Filter::ValuePath {
                path,
                filter: Box::new(Filter::And(terms)),
            });
        }
        self.comparison(path)
    }

    /// `"[" valFilter "]"`, the brackets of a value path.
    pub(crate) fn brackets(&mut self) -> Result<Filter, FilterError> {
        self.expect(&Tok::LBracket, "\"[\"")?;
        self.enter()?;
        let inner = self.filter(true)?;
        self.expect(&Tok::RBracket, "\"]\"")?;
        self.leave();
        Ok(inner)
    }

    /// `attrPath "pr"` or `attrPath compareOp compValue`, the path already read.
    fn comparison(&mut self, path: AttrPath) -> Result<Filter, FilterError> {
        let op_pos = self.position();
        let op = match self.peek() {
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("pr") => {
                self.advance()?;
                return Ok(Filter::Present(path));
            }
            Some(Tok::Word(w)) => CompareOp::parse(w).ok_or_else(|| {
                FilterError::new(
                    FilterErrorKind::UnknownOperator,
                    op_pos,
                    format!(
                        "unknown operator {w:?} (expected eq, ne, co, sw, ew, gt, ge, lt, le or pr)"
                    ),
                )
            })?,
            _ => {
                return Err(self.unexpected(
                    FilterErrorKind::UnknownOperator,
                    &format!("an operator after {path}"),
                ));
            }
        };
        self.advance()?;
        let value_pos = self.position();
        let value = match self.peek() {
            Some(Tok::Str(_) | Tok::Num(_)) => match self.advance()?.map(|t| t.tok) {
                Some(Tok::Str(s)) => CompValue::String(s),
                Some(Tok::Num(n)) => CompValue::Number(n),
                _ => return Err(self.unexpected(FilterErrorKind::InvalidValue, "a value")),
            },
            Some(Tok::Word(w)) => {
                let value = if w.eq_ignore_ascii_case("true") {
                    CompValue::Bool(true)
                } else if w.eq_ignore_ascii_case("false") {
                    CompValue::Bool(false)
                } else if w.eq_ignore_ascii_case("null") {
                    CompValue::Null
                } else {
                    return Err(self.unexpected(
                        FilterErrorKind::InvalidValue,
                        "a value (a quoted string, a number, true, false or null)",
                    ));
                };
                self.advance()?;
                value
            }
            _ => {
                return Err(self.unexpected(
                    FilterErrorKind::InvalidValue,
                    "a value (a quoted string, a number, true, false or null)",
                ));
            }
        };
        if op.needs_ordered_value() && matches!(value, CompValue::Bool(_) | CompValue::Null) {
            return Err(FilterError::new(
                FilterErrorKind::UncomparableValue,
                value_pos,
                format!("\"{}\" cannot compare with {value}", op.as_str()),
            ));
        }
        Ok(Filter::Compare { path, op, value })
    }
}

/// A token as an error message names it.
fn describe(tok: &Tok<'_>) -> String {
    match tok {
        Tok::LParen => "\"(\"".into(),
        Tok::RParen => "\")\"".into(),
        Tok::LBracket => "\"[\"".into(),
        Tok::RBracket => "\"]\"".into(),
        Tok::Dot => "\".\"".into(),
        Tok::Word(w) => format!("{:?}", truncate(w)),
        Tok::Str(_) => "a string".into(),
        Tok::Num(_) => "a number".into(),
    }
}

/// At most 40 characters of a word, so an error message stays short.
fn truncate(word: &str) -> &str {
    word.char_indices()
        .nth(40)
        .map_or(word, |(i, _)| &word[..i])
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Number(n) => write!(f, "{n}"),
            Self::String(s) => write!(f, "{}", serde_json::Value::String(s.clone())),
        }
    }
}

impl fmt::Display for Filter {
    /// The canonical text: parsing it gives the same filter back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let joined = |f: &mut fmt::Formatter<'_>, terms: &[Filter], word: &str| {
            for (i, term) in terms.iter().enumerate() {
                if i > 0 {
                    write!(f, " {word} ")?;
                }
                match term {
                    Filter::And(_) | Filter::Or(_) => write!(f, "({term})")?,
                    _ => write!(f, "{term}")?,
                }
            }
            Ok(())
        };
        match self {
            Self::Compare { path, op, value } => write!(f, "{path} {} {value}", op.as_str()),
            Self::Present(path) => write!(f, "{path} pr"),
            Self::And(terms) => joined(f, terms, "and"),
            Self::Or(terms) => joined(f, terms, "or"),
            Self::Not(inner) => write!(f, "not ({inner})"),
            Self::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
        }
    }
}

/// A filter storage can answer with an index, so the router need not scan: the value as
/// written (compare `userName` and emails ignoring case, `externalId` exactly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexedFilter<'f> {
    /// `userName eq "x"`.
    UserName(&'f str),
    /// `externalId eq "x"`.
    ExternalId(&'f str),
    /// `emails.value eq "x"` or `emails[value eq "x"]`.
    Email(&'f str),
    /// `active eq true` or `active eq false`.
    Active(bool),
}

impl Filter {
    /// The index-friendly form of this filter, if it is one of [`IndexedFilter`]'s shapes.
    pub fn indexed(&self) -> Option<IndexedFilter<'_>> {
        match self {
            Self::Compare {
                path,
                op: CompareOp::Eq,
                value,
            } => match value {
                CompValue::String(s) if path.is("userName") => Some(IndexedFilter::UserName(s)),
                CompValue::String(s) if path.is("externalId") => Some(IndexedFilter::ExternalId(s)),
                CompValue::String(s) if path.is_sub("emails", "value") => {
                    Some(IndexedFilter::Email(s))
                }
                CompValue::Bool(b) if path.is("active") => Some(IndexedFilter::Active(*b)),
                _ => None,
            },
            Self::ValuePath { path, filter } if path.is("emails") => match filter.as_ref() {
                Self::Compare {
                    path: inner,
                    op: CompareOp::Eq,
                    value: CompValue::String(s),
                } if inner.is("value") => Some(IndexedFilter::Email(s)),
                _ => None,
            },
            _ => None,
        }
    }
}

impl Filter {
    /// Whether the filter reads the core attribute `name` anywhere (`members.value eq ...`,
    /// `members[value eq ...]`, `members pr`), ignoring case; so a router loads what only
    /// some filters read (a group's members) when one does.
    pub fn mentions(&self, name: &str) -> bool {
        let names = |path: &AttrPath| path.schema.is_none() && path.name.eq_ignore_ascii_case(name);
        match self {
            Self::Compare { path, .. } | Self::Present(path) => names(path),
            Self::And(terms) | Self::Or(terms) => terms.iter().any(|t| t.mentions(name)),
            Self::Not(inner) => inner.mentions(name),
            // The inner filter's paths are the values' sub-attributes, not resource's.
            Self::ValuePath { path, .. } => names(path),
        }
    }

    /// The strings this filter selects `attribute` by, when it is nothing but `attribute eq
    /// "x"` terms joined by `or` (`value eq "a" or value eq "b"`, as in `members[value eq
    /// "a"]`); `None` for any other filter. Lets a router find the few values such a filter
    /// can match without reading every value.
    pub fn equal_strings(&self, attribute: &str) -> Option<Vec<&str>> {
        match self {
            Self::Compare {
                path,
                op: CompareOp::Eq,
                value: CompValue::String(s),
            } if path.is(attribute) => Some(vec![s.as_str()]),
            Self::Or(terms) => {
                let mut all = Vec::new();
                for term in terms {
                    all.extend(term.equal_strings(attribute)?);
                }
                Some(all)
            }
            _ => None,
        }
    }
}
