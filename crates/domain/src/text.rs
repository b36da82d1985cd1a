//! Validated text values: names, emails, phones, labels. Each constructor checks the
//! contract's rules, so a value of one of these types is always valid.

use std::fmt;

use validator::ValidateEmail;

use crate::error::{Field, FieldError};

/// Folds text for case-insensitive uniqueness and ordering. Every storage engine compares
/// the folded form, so the rules do not depend on database collations.
pub fn fold_case(text: &str) -> String {
    text.to_lowercase()
}

fn char_len(text: &str) -> usize {
    text.chars().count()
}

/// `text.trim()`, without looking at characters when both ends are printable ASCII other
/// than the space (as in nearly every stored value), which `char::is_whitespace` never is.
pub(crate) fn trim(text: &str) -> &str {
    let kept = |byte: Option<&u8>| byte.is_some_and(|byte| (0x21..0x7f).contains(byte));
    let bytes = text.as_bytes();
    if kept(bytes.first()) && kept(bytes.last()) {
        return text;
    }
    text.trim()
}

pub(crate) fn check_max(field: Field, text: &str, max: usize) -> Result<(), FieldError> {
    // A character is at least one byte: text of `max` bytes or fewer needs no counting.
    if text.len() > max && char_len(text) > max {
        return Err(FieldError::too_long(field, max));
    }
    Ok(())
}

/// True for a character no text field accepts anywhere: it could split a log line or a mail
/// header, or make text display other than it reads. That is every Unicode control
/// character (`Cc`: C0, DEL, C1), the line and paragraph separators U+2028/U+2029, and the
/// bidirectional embeddings, overrides and isolates U+202A..=U+202E and U+2066..=U+2069
/// ("Trojan Source"). Right-to-left text needs none of them (the implicit marks U+200E,
/// U+200F and U+061C stay allowed), nor do emoji sequences (U+200D stays allowed).
pub fn is_refused_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// True when `text` holds an [`is_refused_char`] character, or one but those `allowed`.
/// Plain ASCII, nearly every stored value, is checked byte by byte (there the refused
/// characters are exactly the C0 controls and DEL); other text character by character.
/// Every stored customer and user is checked again as it is read, so this is on the path
/// of every page.
fn has_refused_char(text: &str, allowed: &[char]) -> bool {
    if is_printable_ascii(text.as_bytes()) {
        return false;
    }
    if text.is_ascii() {
        let control = |b: u8| b < 0x20 || b == 0x7f;
        text.bytes().any(control)
            && text
                .bytes()
                .any(|b| control(b) && !allowed.contains(&char::from(b)))
    } else {
        text.chars()
            .any(|c| is_refused_char(c) && !allowed.contains(&c))
    }
}

/// True when every byte is printable ASCII (0x20..=0x7E), which holds no refused
/// character: checked eight bytes at a time, as nearly all stored text is.
fn is_printable_ascii(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let (chunks, rest) = bytes.as_chunks::<8>();
    chunks.iter().all(|chunk| {
        let x = u64::from_ne_bytes(*chunk);
        // Each test sets the high bit of a byte it finds (and at worst of one just after
        // it, which only sends the text to the exact check): below 0x20 (subtracting
        // borrows into a byte whose high bit was clear), 0x80 and above, DEL (zero once
        // XORed with 0x7F).
        let below_space = x.wrapping_sub(ONES * 0x20) & !x;
        let del = x ^ (ONES * 0x7f);
        let del = del.wrapping_sub(ONES) & !del;
        (below_space | x | del) & HIGH == 0
    }) && rest.iter().all(|&byte| (0x20..0x7f).contains(&byte))
}

/// The message of the `INVALID` error a refused character causes.
const CONTROL_MESSAGE: &str =
    "Remove the control characters (line breaks, tabs, bidirectional overrides).";

/// Refuses, on `field`, a single-line text holding any [`is_refused_char`] character.
pub(crate) fn check_single_line(field: Field, text: &str) -> Result<(), FieldError> {
    if has_refused_char(text, &[]) {
        return Err(FieldError::invalid(field, CONTROL_MESSAGE));
    }
    Ok(())
}

/// Refuses, on `field`, a multi-line text holding any [`is_refused_char`] character other
/// than line feed and tab.
fn check_multi_line(field: Field, text: &str) -> Result<(), FieldError> {
    if has_refused_char(text, &['\n', '\t']) {
        return Err(FieldError::invalid(
            field,
            "Remove the control characters (line feeds and tabs are allowed).",
        ));
    }
    Ok(())
}

/// `text` with every [`is_refused_char`] character replaced by a space, for a mail header
/// or a line of a mail: stored text is not trusted to be clean (it may predate the rule).
pub fn single_line_lossy(text: &str) -> std::borrow::Cow<'_, str> {
    if has_refused_char(text, &[]) {
        text.chars()
            .map(|c| if is_refused_char(c) { ' ' } else { c })
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}

/// `text` with CRLF line ends made LF and every other [`is_refused_char`] character but line
/// feed and tab replaced by a space: [`single_line_lossy`] for multi-line text
/// (descriptions, feature flags).
pub fn multi_line_lossy(text: &str) -> std::borrow::Cow<'_, str> {
    let refused = |c: char| is_refused_char(c) && !matches!(c, '\n' | '\t');
    if has_refused_char(text, &['\n', '\t']) {
        text.replace("\r\n", "\n")
            .chars()
            .map(|c| if refused(c) { ' ' } else { c })
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}

fn check_http_url(field: Field, text: &str) -> Result<(), FieldError> {
    check_max(field, text, AvatarUrl::MAX)?;
    check_single_line(field, text)?;
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or_else(|| FieldError::invalid(field, "Enter a valid URL."))?;
    if rest.is_empty() || rest.chars().any(char::is_whitespace) {
        return Err(FieldError::invalid(field, "Enter a valid URL."));
    }
    Ok(())
}

macro_rules! text_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_newtype!(
    /// A customer's name: 1..=255 characters after trimming, unique per organization
    /// ignoring case.
    CustomerName
);

impl CustomerName {
    /// Longest name accepted, in characters.
    pub const MAX: usize = 255;

    /// Trims and checks a name.
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let trimmed = trim(text);
        if trimmed.is_empty() {
            return Err(FieldError::required(Field::Name));
        }
        check_max(Field::Name, trimmed, Self::MAX)?;
        check_single_line(Field::Name, trimmed)?;
        Ok(CustomerName(trimmed.to_owned()))
    }

    /// The case-folded form that uniqueness and sorting use.
    pub fn key(&self) -> String {
        fold_case(&self.0)
    }
}

text_newtype!(
    /// An organization's name: 1..=255 characters after trimming, unique ignoring case.
    OrganizationName
);

impl OrganizationName {
    /// Trims and checks a name.
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let trimmed = trim(text);
        if trimmed.is_empty() {
            return Err(FieldError::required(Field::Name));
        }
        check_max(Field::Name, trimmed, CustomerName::MAX)?;
        check_single_line(Field::Name, trimmed)?;
        Ok(OrganizationName(trimmed.to_owned()))
    }

    /// The case-folded form that uniqueness uses.
    pub fn key(&self) -> String {
        fold_case(&self.0)
    }
}

text_newtype!(
    /// A customer's free-text description, at most 4096 characters; `""` when unset.
    Description
);

impl Description {
    /// Longest description accepted, in characters.
    pub const MAX: usize = 4096;

    /// Checks a description; it is kept as written, except that CRLF line ends (as HTML
    /// forms send them) become LF. Line feeds and tabs are its only control characters.
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        // Searched for first: `replace` sets up a substring search and copies either way, and
        // every stored description is parsed again as it is read.
        let text = if text.contains('\r') {
            text.replace("\r\n", "\n")
        } else {
            text.to_owned()
        };
        check_max(Field::Description, &text, Self::MAX)?;
        check_multi_line(Field::Description, &text)?;
        Ok(Description(text))
    }

    /// The empty description.
    pub fn empty() -> Self {
        Description(String::new())
    }
}

text_newtype!(
    /// An identifier from the organization's own systems: 1..=255 characters.
    ExternalId
);

impl ExternalId {
    /// Longest external id accepted, in characters.
    pub const MAX: usize = 255;

    /// Checks an external id; `""` (and blank) means "none", as Prismatic's clients send it.
    pub fn parse_optional(text: &str) -> Result<Option<Self>, FieldError> {
        let trimmed = trim(text);
        if trimmed.is_empty() {
            return Ok(None);
        }
        check_max(Field::ExternalId, trimmed, Self::MAX)?;
        check_single_line(Field::ExternalId, trimmed)?;
        Ok(Some(ExternalId(trimmed.to_owned())))
    }
}

text_newtype!(
    /// One label on a customer: 1..=64 characters.
    Label
);

impl Label {
    /// Longest label accepted, in characters.
    pub const MAX: usize = 64;

    /// Checks one label.
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let trimmed = trim(text);
        if trimmed.is_empty() {
            return Err(FieldError::invalid(
                Field::Labels,
                "Labels may not be empty.",
            ));
        }
        if char_len(trimmed) > Self::MAX {
            return Err(FieldError::new(
                Field::Labels,
                crate::ErrorCode::TooLong,
                format!("Each label may have at most {} characters.", Self::MAX),
            ));
        }
        check_single_line(Field::Labels, trimmed)?;
        Ok(Label(trimmed.to_owned()))
    }
}

/// A customer's labels: at most 50, no duplicates, in the order given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Labels(Vec<Label>);

impl Labels {
    /// Most labels a customer may carry.
    pub const MAX: usize = 50;

    /// Checks a label list as GraphQL delivers it (`[String]`: elements may be null).
    pub fn parse(items: &[Option<String>]) -> Result<Self, FieldError> {
        if items.len() > Self::MAX {
            return Err(FieldError::new(
                Field::Labels,
                crate::ErrorCode::TooLong,
                format!("Ensure this list has at most {} labels.", Self::MAX),
            ));
        }
        let mut labels: Vec<Label> = Vec::with_capacity(items.len());
        for item in items {
            let text = item
                .as_deref()
                .ok_or_else(|| FieldError::invalid(Field::Labels, "Labels may not be null."))?;
            let label = Label::parse(text)?;
            if labels.contains(&label) {
                return Err(FieldError::invalid(
                    Field::Labels,
                    format!("Duplicate label \"{label}\"."),
                ));
            }
            labels.push(label);
        }
        Ok(Labels(labels))
    }

    /// Wraps labels read back from storage, which were validated when written.
    pub fn from_stored(items: Vec<String>) -> Self {
        Labels(items.into_iter().map(Label).collect())
    }

    /// The labels in order.
    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }

    /// The labels as plain strings, for storage and output.
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(|label| label.0.clone()).collect()
    }
}

text_newtype!(
    /// An `http(s)` URL of at most 2048 characters, for avatars and attachments.
    AvatarUrl
);

impl AvatarUrl {
    /// Longest URL accepted, in characters.
    pub const MAX: usize = 2048;

    /// Checks a URL for `field`; `""` means "none".
    pub fn parse_optional(field: Field, text: &str) -> Result<Option<Self>, FieldError> {
        let trimmed = trim(text);
        if trimmed.is_empty() {
            return Ok(None);
        }
        check_http_url(field, trimmed)?;
        Ok(Some(AvatarUrl(trimmed.to_owned())))
    }

    /// Checks a URL that must be present.
    pub fn parse(field: Field, text: &str) -> Result<Self, FieldError> {
        Self::parse_optional(field, text)?.ok_or_else(|| FieldError::required(field))
    }
}

text_newtype!(
    /// A user's email address, trimmed; unique per organization ignoring case.
    Email
);

impl Email {
    /// Longest address accepted (RFC 5321), in characters.
    pub const MAX: usize = 254;

    /// Trims and checks an address.
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let trimmed = trim(text);
        if trimmed.is_empty() {
            return Err(FieldError::required(Field::Email));
        }
        // The common shape, checked in one pass: its characters are all printable ASCII,
        // so within `MAX` bytes it passes the checks below, which are for the rest.
        if trimmed.len() <= Self::MAX && is_plain_ascii_address(trimmed) {
            return Ok(Email(trimmed.to_owned()));
        }
        check_max(Field::Email, trimmed, Self::MAX)?;
        check_single_line(Field::Email, trimmed)?;
        if !is_valid_email(trimmed) {
            return Err(FieldError::invalid(
                Field::Email,
                "Enter a valid email address.",
            ));
        }
        Ok(Email(trimmed.to_owned()))
    }

    /// A stored address, which may predate a rule: [`Email::parse`] of its
    /// [`single_line_lossy`] text, the common shape (nothing to replace or trim) taken in
    /// one pass, as every read of a user does.
    pub fn parse_stored(text: &str) -> Result<Self, FieldError> {
        if text.len() <= Self::MAX && is_plain_ascii_address(text) {
            return Ok(Email(text.to_owned()));
        }
        Self::parse(&single_line_lossy(text))
    }

    /// The case-folded form that uniqueness and lookups use.
    pub fn key(&self) -> String {
        fold_case(&self.0)
    }

    /// An address this crate builds itself and whose validity a unit test checks.
    pub(crate) fn trusted(address: String) -> Self {
        Email(address)
    }
}

/// True when `address` is a valid email address by `validator`'s rule (the HTML spec's,
/// with internationalized domains and address literals), exactly: the common shape is
/// accepted without its regular expressions, anything else is left to it.
fn is_valid_email(address: &str) -> bool {
    is_plain_ascii_address(address) || address.validate_email()
}

/// True for `local@domain` with a local part of 1..=64 of the HTML spec's characters and a
/// domain of at most 255 characters made of dot-separated labels of 1..=63 ASCII letters,
/// digits and inner hyphens. `validator` accepts every such address by its first checks
/// (lengths, then one regular expression per part), so answering `true` here changes no
/// verdict; this shape is every address Roster stores in practice, checked again on each read.
fn is_plain_ascii_address(address: &str) -> bool {
    // The local part's characters, one flag per byte: a lookup, not a search of the list.
    static LOCAL: [bool; 256] = {
        let mut table = [false; 256];
        let mut byte = 0;
        while byte < 256 {
            table[byte] = (byte as u8).is_ascii_alphanumeric();
            byte += 1;
        }
        let specials = b".!#$%&'*+/=?^_`{|}~-";
        let mut at = 0;
        while at < specials.len() {
            table[specials[at] as usize] = true;
            at += 1;
        }
        table
    };
    let bytes = address.as_bytes();
    // The local part is every byte before the first one it may not hold, which must be
    // the `@`; the domain's characters exclude `@`, so it is the only one (the last, as
    // `validator` splits).
    let Some(at) = bytes.iter().position(|&b| !LOCAL[usize::from(b)]) else {
        return false;
    };
    let (Some(b'@'), Some(domain)) = (bytes.get(at), bytes.get(at + 1..)) else {
        return false;
    };
    if !(1..=64).contains(&at) || domain.is_empty() || domain.len() > 255 {
        return false;
    }
    // The labels in one pass: each of 1..=63 letters, digits and hyphens, starting and
    // ending with a letter or digit.
    let mut label = 0_usize;
    let mut previous = b'.';
    for &byte in domain {
        match byte {
            b'.' if label > 0 && previous != b'-' => label = 0,
            b'-' if label > 0 => label += 1,
            byte if byte.is_ascii_alphanumeric() => label += 1,
            _ => return false,
        }
        if label > 63 {
            return false;
        }
        previous = byte;
    }
    label > 0 && previous != b'-'
}

text_newtype!(
    /// A person's display name, at most 255 characters; `""` when unset.
    PersonName
);

impl PersonName {
    /// Trims and checks a name.
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let trimmed = trim(text);
        check_max(Field::Name, trimmed, CustomerName::MAX)?;
        check_single_line(Field::Name, trimmed)?;
        Ok(PersonName(trimmed.to_owned()))
    }

    /// The empty name.
    pub fn empty() -> Self {
        PersonName(String::new())
    }

    /// The case-folded form that sorting uses.
    pub fn key(&self) -> String {
        fold_case(&self.0)
    }
}

text_newtype!(
    /// A phone number: `""` or E.164 (`+` then 8..=15 digits).
    Phone
);

impl Phone {
    /// Checks a number; surrounding whitespace is ignored.
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let trimmed = trim(text);
        if trimmed.is_empty() {
            return Ok(Phone(String::new()));
        }
        let valid = trimmed.strip_prefix('+').is_some_and(|digits| {
            (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
        });
        if !valid {
            return Err(FieldError::invalid(
                Field::Phone,
                "Enter a phone number in E.164 format, such as +15555550123.",
            ));
        }
        Ok(Phone(trimmed.to_owned()))
    }

    /// No phone number.
    pub fn empty() -> Self {
        Phone(String::new())
    }
}

text_newtype!(
    /// A user's UI feature flags, kept as opaque text of at most 4096 characters (so at
    /// most 16 KiB of UTF-8).
    FeatureFlags
);

impl FeatureFlags {
    /// Longest flags text accepted, in characters: a user's row stays small.
    pub const MAX: usize = 4096;

    /// Checks the flags text: JSON, so its whitespace (tab, line feed, carriage return)
    /// may appear; no other control character may.
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        if text
            .chars()
            .any(|c| is_refused_char(c) && !matches!(c, '\t' | '\n' | '\r'))
        {
            return Err(FieldError::invalid(
                Field::FeatureFlags,
                "Remove the control characters (JSON whitespace is allowed).",
            ));
        }
        if char_len(text) > Self::MAX {
            return Err(FieldError::new(
                Field::FeatureFlags,
                crate::ErrorCode::TooLong,
                format!(
                    "Ensure the feature flags have at most {} characters.",
                    Self::MAX
                ),
            ));
        }
        Ok(FeatureFlags(text.to_owned()))
    }

    /// No flags (`{}`).
    pub fn empty() -> Self {
        FeatureFlags("{}".to_owned())
    }
}

/// How many executions of a customer may run at once: 1..=10000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExecutionLimit(u32);

impl ExecutionLimit {
    /// Largest limit accepted.
    pub const MAX: i64 = 10_000;

    /// Checks a limit as GraphQL delivers it.
    pub fn parse(value: i64) -> Result<Self, FieldError> {
        match u32::try_from(value) {
            Ok(limit) if (1..=Self::MAX).contains(&value) => Ok(ExecutionLimit(limit)),
            _ => Err(FieldError::invalid(
                Field::ConcurrentExecutionLimit,
                format!("Ensure this value is between 1 and {}.", Self::MAX),
            )),
        }
    }

    /// The limit.
    pub fn get(self) -> u32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn customer_name_is_trimmed_and_bounded() {
        assert_eq!(
            CustomerName::parse("  FTL Rockets ").unwrap().as_str(),
            "FTL Rockets"
        );
        assert_eq!(
            CustomerName::parse("   ").unwrap_err().code,
            ErrorCode::Required
        );
        assert!(CustomerName::parse(&"é".repeat(255)).is_ok());
        assert_eq!(
            CustomerName::parse(&"é".repeat(256)).unwrap_err().code,
            ErrorCode::TooLong
        );
        assert_eq!(
            CustomerName::parse("Ärger GmbH").unwrap().key(),
            "ärger gmbh"
        );
    }

    #[test]
    fn external_id_empty_means_none() {
        assert_eq!(ExternalId::parse_optional("").unwrap(), None);
        assert_eq!(
            ExternalId::parse_optional("abc-123")
                .unwrap()
                .unwrap()
                .as_str(),
            "abc-123"
        );
        let too_long = ExternalId::parse_optional(&"x".repeat(256)).unwrap_err();
        assert_eq!(
            (too_long.field, too_long.code),
            (Field::ExternalId, ErrorCode::TooLong)
        );
    }

    #[test]
    fn description_is_bounded() {
        assert!(Description::parse(&"d".repeat(4096)).is_ok());
        assert_eq!(
            Description::parse(&"d".repeat(4097)).unwrap_err().code,
            ErrorCode::TooLong
        );
    }

    #[test]
    fn labels_follow_the_rules() {
        let some = |items: &[&str]| {
            items
                .iter()
                .map(|s| Some(s.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            Labels::parse(&some(&["a", "b"])).unwrap().to_strings(),
            ["a", "b"]
        );
        assert!(Labels::parse(&some(&["a", "a"])).is_err());
        assert!(Labels::parse(&some(&[""])).is_err());
        assert!(Labels::parse(&[None]).is_err());
        assert!(Labels::parse(&some(&[&"x".repeat(65)])).is_err());
        let fifty: Vec<String> = (0..50).map(|i| i.to_string()).collect();
        let fifty: Vec<&str> = fifty.iter().map(String::as_str).collect();
        assert!(Labels::parse(&some(&fifty)).is_ok());
        let mut fifty_one = some(&fifty);
        fifty_one.push(Some("50".into()));
        assert_eq!(
            Labels::parse(&fifty_one).unwrap_err().code,
            ErrorCode::TooLong
        );
    }

    #[test]
    fn trim_trims_as_str_trim_does() {
        let ends: Vec<String> = (0u8..128)
            .map(|byte| char::from(byte).to_string())
            .chain(["\u{a0}", "\u{2003}", "\u{3000}", "\u{85}", "é", "\u{feff}"].map(String::from))
            .collect();
        for first in &ends {
            for last in &ends {
                for middle in ["", "a", " b "] {
                    let text = format!("{first}{middle}{last}");
                    assert_eq!(trim(&text), text.trim(), "{text:?}");
                }
            }
        }
        assert_eq!(trim(""), "");
    }

    #[test]
    fn email_is_validated_and_trimmed() {
        let email = Email::parse(" Lisa.Nguyen@smith-rockets.co ").unwrap();
        assert_eq!(email.as_str(), "Lisa.Nguyen@smith-rockets.co");
        assert_eq!(email.key(), "lisa.nguyen@smith-rockets.co");
        assert!(Email::parse("owner@localhost").is_ok());
        for bad in ["no-at-sign", "a@", "@b.c", "a b@c.d"] {
            assert_eq!(
                Email::parse(bad).unwrap_err().code,
                ErrorCode::Invalid,
                "{bad}"
            );
        }
        assert_eq!(Email::parse("").unwrap_err().code, ErrorCode::Required);
    }

    /// The shortcut accepts only what `validator` accepts, and the whole check answers as
    /// `validator` does, over the edges of every rule the shortcut restates.
    #[test]
    fn email_check_answers_as_validator_does() {
        let label63 = "l".repeat(63);
        let domain255 = format!("{label63}.{label63}.{label63}.{}", "d".repeat(63));
        let locals = [
            "a".to_owned(),
            "Lisa.Nguyen".to_owned(),
            "x".repeat(64),
            "x".repeat(65),
            "!#$%&'*+/=?^_`{|}~-.".to_owned(),
            String::new(),
            ".".to_owned(),
            "a b".to_owned(),
            "a@b".to_owned(),
            "\"quoted\"".to_owned(),
            "zoë".to_owned(),
            "a(b)".to_owned(),
            "a,b".to_owned(),
            "a;b".to_owned(),
            "a\\b".to_owned(),
            "é".repeat(33),
        ];
        let domains = [
            "example.com".to_owned(),
            "localhost".to_owned(),
            "smith-rockets.co".to_owned(),
            "a.b.c.d.e".to_owned(),
            "1.2.3.4".to_owned(),
            "0-0.x".to_owned(),
            label63.clone(),
            "l".repeat(64),
            format!("{label63}.com"),
            domain255.clone(),
            format!("{domain255}x"),
            format!("{domain255}.x"),
            String::new(),
            ".".to_owned(),
            "a.".to_owned(),
            ".a".to_owned(),
            "a..b".to_owned(),
            "-a.com".to_owned(),
            "a-.com".to_owned(),
            "a_b.com".to_owned(),
            "a b.com".to_owned(),
            "EXAMPLE.COM".to_owned(),
            "[127.0.0.1]".to_owned(),
            "[2001:dB8::1]".to_owned(),
            "[300.0.0.1]".to_owned(),
            "x[127.0.0.1]".to_owned(),
            "例え.テスト".to_owned(),
            "bücher.de".to_owned(),
            "xn--bcher-kva.de".to_owned(),
            "a.com\n".to_owned(),
        ];
        let mut shortcut = 0;
        for local in &locals {
            for domain in &domains {
                let address = format!("{local}@{domain}");
                let expected = address.as_str().validate_email();
                if is_plain_ascii_address(&address) {
                    shortcut += 1;
                    assert!(expected, "shortcut accepted {address:?}");
                }
                assert_eq!(is_valid_email(&address), expected, "{address:?}");
                // Parsing, with its shortcut, accepts what its checks in turn accept.
                let trimmed = address.trim();
                let checked = !trimmed.is_empty()
                    && char_len(trimmed) <= Email::MAX
                    && !has_refused_char(trimmed, &[])
                    && is_valid_email(trimmed);
                assert_eq!(Email::parse(&address).is_ok(), checked, "{address:?}");
            }
        }
        assert!(shortcut > 20, "the shortcut is taken: {shortcut}");
        // A stored address reads as the parse of its lossy text, shortcut or not.
        for stored in locals
            .iter()
            .flat_map(|local| {
                domains
                    .iter()
                    .map(move |domain| format!("{local}@{domain}"))
            })
            .chain(["a\u{7}b@example.com".to_owned(), " a@b.c ".to_owned()])
        {
            assert_eq!(
                Email::parse_stored(&stored),
                Email::parse(&single_line_lossy(&stored)),
                "{stored:?}"
            );
        }
        for odd in ["", "@", "no-at-sign", "a@b@c.d", "@b.c", "a@"] {
            assert_eq!(is_valid_email(odd), odd.validate_email(), "{odd:?}");
        }
    }

    #[test]
    fn phone_is_empty_or_e164() {
        assert_eq!(Phone::parse("").unwrap().as_str(), "");
        assert!(Phone::parse("+15555550123").is_ok());
        assert!(Phone::parse("+1234567").is_err());
        assert!(Phone::parse("+1234567890123456").is_err());
        assert!(Phone::parse("15555550123").is_err());
        assert!(Phone::parse("+1555-555-0123").is_err());
    }

    #[test]
    fn urls_must_be_http() {
        assert!(
            AvatarUrl::parse_optional(Field::AvatarUrl, "")
                .unwrap()
                .is_none()
        );
        assert!(AvatarUrl::parse(Field::AvatarUrl, "https://example.com/a.png").is_ok());
        assert!(AvatarUrl::parse(Field::AvatarUrl, "javascript:alert(1)").is_err());
        assert!(AvatarUrl::parse(Field::AvatarUrl, "https://").is_err());
    }

    #[test]
    fn execution_limit_is_positive() {
        assert_eq!(ExecutionLimit::parse(5).unwrap().get(), 5);
        assert!(ExecutionLimit::parse(0).is_err());
        assert!(ExecutionLimit::parse(-1).is_err());
        assert!(ExecutionLimit::parse(10_001).is_err());
    }

    #[test]
    fn feature_flags_are_bounded_in_characters() {
        let at_most = "é".repeat(FeatureFlags::MAX);
        assert_eq!(FeatureFlags::parse(&at_most).unwrap().as_str(), at_most);
        let error = FeatureFlags::parse(&"x".repeat(FeatureFlags::MAX + 1)).unwrap_err();
        assert_eq!(error.field, Field::FeatureFlags);
        assert_eq!(error.code, ErrorCode::TooLong);
        assert!(error.message.contains("4096"), "{}", error.message);
        assert_eq!(FeatureFlags::empty().as_str(), "{}");
    }

    /// Characters refused everywhere, each checked in the middle of a value (ends are
    /// trimmed from most fields anyway).
    const REFUSED: [char; 12] = [
        '\0', '\r', '\n', '\t', '\u{1b}', '\u{7f}', '\u{85}', '\u{2028}', '\u{2029}', '\u{202e}',
        '\u{2066}', '\u{2069}',
    ];

    #[test]
    fn refused_characters_are_controls_separators_and_bidi_overrides() {
        for c in REFUSED {
            assert!(is_refused_char(c), "{c:?}");
        }
        for c in [
            'a', ' ', 'é', '\u{200d}', '\u{200e}', '\u{200f}', '\u{61c}', 'ש', '😀',
        ] {
            assert!(!is_refused_char(c), "{c:?}");
        }
    }

    #[test]
    fn printable_ascii_is_told_apart_at_every_position() {
        let printable: Vec<u8> = (0x20..0x7f).collect();
        assert!(is_printable_ascii(&printable));
        for length in 1..=24 {
            for at in 0..length {
                for byte in 0..=u8::MAX {
                    let mut text = vec![b'a'; length];
                    text[at] = byte;
                    assert_eq!(
                        is_printable_ascii(&text),
                        (0x20..0x7f).contains(&byte),
                        "{byte:#x} at {at} of {length}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_ascii_shortcut_finds_what_the_character_check_finds() {
        let samples = [
            "",
            "plain text",
            "ada@example.com",
            "é",
            "a\u{2028}b",
            "ש😀",
        ];
        let mut texts: Vec<String> = samples.iter().map(|text| (*text).to_owned()).collect();
        for c in (0..=0x7f_u8).map(char::from).chain(REFUSED) {
            for sample in samples {
                texts.push(format!("{sample}{c}{sample}"));
            }
        }
        for text in &texts {
            for allowed in [&[][..], &['\n', '\t'][..]] {
                let by_char = text
                    .chars()
                    .any(|c| is_refused_char(c) && !allowed.contains(&c));
                assert_eq!(
                    has_refused_char(text, allowed),
                    by_char,
                    "{text:?} {allowed:?}"
                );
            }
        }
    }

    #[test]
    fn single_line_fields_refuse_control_characters_on_their_field() {
        for c in REFUSED {
            let text = format!("Eve{c}Bcc: x@example.com");
            let checks: [(Field, Result<(), FieldError>); 8] = [
                (Field::Name, CustomerName::parse(&text).map(drop)),
                (Field::Name, OrganizationName::parse(&text).map(drop)),
                (Field::Name, PersonName::parse(&text).map(drop)),
                (
                    Field::ExternalId,
                    ExternalId::parse_optional(&text).map(drop),
                ),
                (Field::Labels, Label::parse(&text).map(drop)),
                (
                    Field::Email,
                    Email::parse(&format!("eve{c}@example.com")).map(drop),
                ),
                (
                    Field::AvatarUrl,
                    AvatarUrl::parse(Field::AvatarUrl, &format!("https://a.example/{c}x"))
                        .map(drop),
                ),
                (
                    Field::Phone,
                    Phone::parse(&format!("+1555{c}5550123")).map(drop),
                ),
            ];
            for (field, checked) in checks {
                let error = checked.unwrap_err();
                assert_eq!(
                    (error.field, error.code),
                    (field, ErrorCode::Invalid),
                    "{c:?}"
                );
            }
        }
        let attachment = crate::customer::Attachment::parse(
            Field::AddAttachment,
            "a\nb.pdf",
            "https://files.example.com/a.pdf",
        )
        .unwrap_err();
        assert_eq!(
            (attachment.field, attachment.code),
            (Field::AddAttachment, ErrorCode::Invalid)
        );
        assert!(PersonName::parse("Zoë O'Brien-Łukasz").is_ok());
        assert!(CustomerName::parse("שלום Rockets").is_ok());
    }

    #[test]
    fn multi_line_fields_keep_line_feeds_and_tabs_only() {
        let description = Description::parse("line one\r\n\tline two\n").unwrap();
        assert_eq!(
            description.as_str(),
            "line one\n\tline two\n",
            "CRLF becomes LF"
        );
        for c in ['\0', '\r', '\u{1b}', '\u{85}', '\u{2028}', '\u{202e}'] {
            let error = Description::parse(&format!("a{c}b")).unwrap_err();
            assert_eq!(
                (error.field, error.code),
                (Field::Description, ErrorCode::Invalid),
                "{c:?}"
            );
        }
        assert!(FeatureFlags::parse("{\r\n\t\"beta\": true\n}").is_ok());
        let error = FeatureFlags::parse("{\"a\": \"\u{1b}[31m\"}").unwrap_err();
        assert_eq!(
            (error.field, error.code),
            (Field::FeatureFlags, ErrorCode::Invalid)
        );
    }

    #[test]
    fn single_line_lossy_replaces_refused_characters_with_spaces() {
        assert_eq!(single_line_lossy("Eve\r\nBcc: x"), "Eve  Bcc: x");
        assert_eq!(single_line_lossy("a\u{202e}b\u{2028}c"), "a b c");
        assert_eq!(multi_line_lossy("a\r\n\tb\u{1b}\rc"), "a\n\tb  c");
        assert!(matches!(
            single_line_lossy("Zoë"),
            std::borrow::Cow::Borrowed("Zoë")
        ));
    }
}
