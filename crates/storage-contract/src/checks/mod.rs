//! The contract checks. Each takes a fresh, empty storage and panics on a violation; the
//! [`contract_tests!`](crate::contract_tests) macro runs each as its own test.

mod credentials;
mod deactivation;
mod embedded;
mod events;
mod invitations;
mod listings;
mod records;
mod retention;
mod scim_tokens;
mod scim_users;
mod transitions;
mod versions;
mod webhooks;

pub use credentials::*;
pub use deactivation::*;
pub use embedded::*;
pub use events::*;
pub use invitations::*;
pub use listings::*;
pub use records::*;
pub use retention::*;
pub use scim_tokens::*;
pub use scim_users::*;
pub use transitions::*;
pub use versions::*;
pub use webhooks::*;
