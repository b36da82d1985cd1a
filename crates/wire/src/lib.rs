//! Roster's wire contract, spelled in one place: how the domain's values look on the GraphQL
//! API that `http-api` serves and `directory-client` speaks.
//!
//! - [`id`]: Relay global ids (`base64("Customer:<uuid>")`) for the domain's typed ids;
//! - [`cursor`]: connection cursors as strings (Roster's keyset cursors and Prismatic's
//!   `arrayconnection:<n>` offsets);
//! - [`page`]: connection arguments (`first`, `last`, `after`, `before`, `offset`) checked,
//!   with the API's messages;
//! - [`names`]: GraphQL input field names (`externalId`) and error codes (`TOO_LONG`);
//! - [`snapshot`]: customers and users (whole, or an update's changed fields) as JSON in the
//!   API's spelling, for the event log's `before` and `after`.
//!
//! The domain knows none of this: its ids print as plain UUIDs and its errors name domain
//! fields. Name tables are derived with `strum` from one list of variants, so they cannot
//! drift from the domain's enums.

pub mod cursor;
pub mod id;
pub mod names;
pub mod page;
pub mod snapshot;

pub use cursor::InvalidCursor;
pub use domain::InvalidId;
pub use id::{Global, GlobalId, NodeKind, actor_global_id};
pub use names::{code_name, field_name, parse_code, parse_field};
pub use page::InvalidPage;
