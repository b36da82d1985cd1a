//! The SCIM 2.0 protocol pieces that need no I/O, for the `/scim/v2` router:
//!
//! - [`filter`]: the filter grammar of RFC 7644 §3.4.2.2 ([`parse_filter`] into a [`Filter`]),
//!   evaluated against a resource as JSON ([`Filter::matches`]), and [`Filter::indexed`], which
//!   recognises the few filters storage answers with an index (`userName eq "x"`, ...);
//! - [`patch`]: PATCH requests (RFC 7644 §3.5.2): the body ([`PatchRequest::from_json`], with
//!   the spellings Entra ID and Okta send), the path grammar ([`parse_patch_path`]:
//!   `emails[type eq "work"].value`), and [`apply_patch`] on a resource as JSON;
//! - [`user`]: the SCIM attributes Roster keeps of a user, read from and written to JSON;
//! - [`ScimType`]: the `scimType` an error maps to (RFC 7644 §3.12), always with status 400.
//!
//! ```
//! use scim::{IndexedFilter, PatchRequest, apply_patch, parse_filter};
//! use serde_json::json;
//!
//! let filter = parse_filter(r#"emails[type eq "work" and value ew "@example.com"]"#).unwrap();
//! let mut user = json!({"userName": "b@example.com", "active": true,
//!     "emails": [{"type": "work", "value": "b@example.com"}]});
//! assert!(filter.matches(&user));
//! assert_eq!(
//!     parse_filter(r#"userName eq "b@example.com""#).unwrap().indexed(),
//!     Some(IndexedFilter::UserName("b@example.com"))
//! );
//!
//! let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
//!     "Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
//! let request = PatchRequest::from_json(&body).unwrap();
//! apply_patch(&mut user, &request.operations).unwrap();
//! assert_eq!(user["active"], json!(false));
//!
//! let error = parse_filter("userName eq").unwrap_err();
//! assert_eq!(error.scim_type().as_str(), "invalidFilter");
//! ```
//!
//! Attribute names are case-insensitive (RFC 7643 §2.1): names keep the spelling the client
//! sent (so an added attribute is stored as written) and every lookup ignores ASCII case. A
//! name prefixed with the core User or Group schema URN is the plain name; one prefixed with
//! another schema URN (the enterprise extension) lives in that URN's object of the resource,
//! and a known schema URN sent in another case is read in its canonical spelling.
//!
//! Every input is bounded before it is parsed: a filter or path is at most [`MAX_INPUT`]
//! bytes and nests at most [`MAX_DEPTH`] deep, the parser is recursive descent with one token
//! of look-ahead (linear time), `and`/`or` chains are flat lists, so no input can exhaust the
//! stack or take quadratic time; malformed input is an error, never a panic.
//!
//! Decision: hand-written rather than a crates.io SCIM crate. `scim_v2` parses filters and
//! PATCH bodies but neither evaluates nor applies them, and brings a generated LALR parser
//! with its regex runtime; `scim-filter` brings nom 7, chrono and rust_decimal. The grammar
//! is small, and owning it keeps the error kinds (`invalidFilter` versus `invalidPath`) and
//! the clients' known shapes in one place. The crate depends on serde_json and thiserror
//! only, and on no other workspace crate.

pub mod filter;
pub mod patch;
pub mod user;

mod eval;
mod lex;
mod path;
mod time;

pub use filter::{
    CompValue, CompareOp, Filter, FilterError, FilterErrorKind, IndexedFilter, parse_filter,
};
pub use patch::{
    PatchError, PatchOp, PatchOperation, PatchPath, PatchRequest, apply_patch, parse_patch_path,
};
pub use path::{AttrPath, CORE_GROUP_SCHEMA, CORE_USER_SCHEMA, ENTERPRISE_USER_SCHEMA};

/// The PATCH request's schema URN: a body must name it in `schemas` (RFC 7644 §3.5.2).
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The longest filter or PATCH path accepted, in bytes: bounds parse time and memory.
pub const MAX_INPUT: usize = 4096;

/// The deepest nesting of parentheses, `not(...)` and `[...]` accepted: bounds recursion.
pub const MAX_DEPTH: usize = 32;

/// The `scimType` of a SCIM error (RFC 7644 §3.12), so the router maps each error once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScimType {
    /// The filter is malformed or compares a type that cannot be compared.
    InvalidFilter,
    /// The PATCH path is malformed or names nothing that can be changed.
    InvalidPath,
    /// A value is missing, of the wrong type, or not allowed.
    InvalidValue,
    /// The path yielded no attribute or value to operate on (or `remove` named no path).
    NoTarget,
    /// The request tried to change a read-only attribute (`id`, `meta`).
    Mutability,
    /// The request body does not have the PATCH message's structure.
    InvalidSyntax,
}

impl ScimType {
    /// The `scimType` as RFC 7644 spells it in error JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidFilter => "invalidFilter",
            Self::InvalidPath => "invalidPath",
            Self::InvalidValue => "invalidValue",
            Self::NoTarget => "noTarget",
            Self::Mutability => "mutability",
            Self::InvalidSyntax => "invalidSyntax",
        }
    }

    /// The HTTP status RFC 7644 gives each of these: all are client errors, 400.
    pub fn status(self) -> u16 {
        400
    }
}

impl std::fmt::Display for ScimType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
