//! Attribute paths (RFC 7644 §3.10): `[URN ":"] name ["." sub]`, case-insensitive names, and
//! the case-insensitive JSON look-ups every other module uses.

use std::fmt;

use serde_json::{Map, Value};

use crate::filter::{FilterError, FilterErrorKind};

/// The core User schema: its attributes are the resource's top-level members.
pub const CORE_USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema: its attributes are the resource's top-level members.
pub const CORE_GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The enterprise User extension: its attributes live in the resource's member of this name.
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// An attribute path: the attribute (in an extension schema or the core one) and perhaps one
/// of its sub-attributes. Names keep the client's spelling; compare them with
/// [`AttrPath::is`] or the look-ups, which ignore case (RFC 7643 §2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The extension schema URN whose object holds the attribute; `None` for the core schema
    /// (a core User or Group URN prefix is dropped when parsed).
    pub schema: Option<String>,
    /// The attribute's name.
    pub name: String,
    /// The sub-attribute's name (`givenName` of `name.givenName`).
    pub sub: Option<String>,
}

impl AttrPath {
    /// A core-schema attribute without sub-attribute (for building filters in code and tests).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            schema: None,
            name: name.into(),
            sub: None,
        }
    }

    /// A core-schema attribute's sub-attribute (`name.givenName`).
    pub fn with_sub(name: impl Into<String>, sub: impl Into<String>) -> Self {
        Self {
            schema: None,
            name: name.into(),
            sub: Some(sub.into()),
        }
    }

    /// Parses an attribute path in standard attribute notation (RFC 7644 §3.10), as `sortBy`,
    /// `attributes` and `excludedAttributes` name them; a core schema prefix is dropped.
    pub fn parse(text: &str) -> Result<Self, FilterError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(FilterError::new(FilterErrorKind::Empty, 0, "empty"));
        }
        if trimmed.len() > crate::MAX_INPUT {
            return Err(FilterError::new(
                FilterErrorKind::TooLong,
                crate::MAX_INPUT,
                format!("longer than {} bytes", crate::MAX_INPUT),
            ));
        }
        parse_attr_path(trimmed, text.len() - text.trim_start().len())
    }

    /// Whether this is the core attribute `name` (no sub-attribute), ignoring case.
    pub fn is(&self, name: &str) -> bool {
        self.schema.is_none() && self.sub.is_none() && self.name.eq_ignore_ascii_case(name)
    }

    /// Whether this is the core attribute `name`'s sub-attribute `sub`, ignoring case.
    pub fn is_sub(&self, name: &str, sub: &str) -> bool {
        self.schema.is_none()
            && self.name.eq_ignore_ascii_case(name)
            && self
                .sub
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case(sub))
    }

    /// The object holding this attribute in `resource`: the resource itself, or its extension.
    pub(crate) fn container<'v>(&self, resource: &'v Value) -> Option<&'v Map<String, Value>> {
        let object = resource.as_object()?;
        match &self.schema {
            None => Some(object),
            Some(urn) => get_ci(object, urn)?.as_object(),
        }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.schema {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// Whether `urn` is the core User or Group schema (whose attributes are top-level).
pub(crate) fn is_core_schema(urn: &str) -> bool {
    urn.eq_ignore_ascii_case(CORE_USER_SCHEMA) || urn.eq_ignore_ascii_case(CORE_GROUP_SCHEMA)
}

/// Whether `text` names a whole schema the resources here may carry (not an attribute in it).
pub(crate) fn is_known_schema(text: &str) -> bool {
    is_core_schema(text) || text.eq_ignore_ascii_case(ENTERPRISE_USER_SCHEMA)
}

/// A schema URN in its canonical spelling when it is one of the known schemas (a client may
/// send `...:enterprise:2.0:user`), else as written.
pub(crate) fn canonical_schema(urn: &str) -> String {
    [CORE_USER_SCHEMA, CORE_GROUP_SCHEMA, ENTERPRISE_USER_SCHEMA]
        .into_iter()
        .find(|known| known.eq_ignore_ascii_case(urn))
        .unwrap_or(urn)
        .to_owned()
}

/// Whether `name` is an ATTRNAME: `ALPHA *("-" / "_" / DIGIT / ALPHA)`, or `$ref`.
fn is_attr_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some('$') => name.eq_ignore_ascii_case("$ref"),
        Some(c) if c.is_ascii_alphabetic() => {
            chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        }
        _ => false,
    }
}

/// Parses one word of a filter or path as an attribute path; `pos` is where it starts.
pub(crate) fn parse_attr_path(word: &str, pos: usize) -> Result<AttrPath, FilterError> {
    let bad = |why: &str| {
        FilterError::new(
            FilterErrorKind::InvalidAttrPath,
            pos,
            format!("invalid attribute path {word:?}: {why}"),
        )
    };
    let (schema, rest) = match word.rfind(':') {
        None => (None, word),
        Some(colon) => {
            let (urn, rest) = (&word[..colon], &word[colon + 1..]);
            let is_urn = urn.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
            if !is_urn || urn.len() <= 4 {
                return Err(bad("a prefix must be a schema URN"));
            }
            if is_core_schema(urn) {
                (None, rest)
            } else {
                (Some(canonical_schema(urn)), rest)
            }
        }
    };
    let (name, sub) = match rest.split_once('.') {
        None => (rest, None),
        Some((name, sub)) => (name, Some(sub)),
    };
    if !is_attr_name(name) {
        return Err(bad("expected an attribute name"));
    }
    if let Some(sub) = sub
        && !is_attr_name(sub)
    {
        return Err(bad("expected one sub-attribute name after the dot"));
    }
    Ok(AttrPath {
        schema,
        name: name.to_owned(),
        sub: sub.map(str::to_owned),
    })
}

/// The member of `object` whose key equals `key` ignoring ASCII case (exact spelling first).
pub(crate) fn get_ci<'v>(object: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    object.get(key).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The key of `object` that equals `key` ignoring ASCII case, as the object spells it.
pub(crate) fn key_ci(object: &Map<String, Value>, key: &str) -> Option<String> {
    if object.contains_key(key) {
        return Some(key.to_owned());
    }
    object.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned()
}
