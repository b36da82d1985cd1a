//! Directory sync: copies customers and their users from one directory to another (for
//! example from a Prismatic organization into a self-hosted Roster), written once over the
//! directory ports so it works for any pair of adapters (local service, GraphQL client).
//!
//! Customers match by `externalId`, then by name (ignoring case); users by email (ignoring
//! case); roles by name within their scope. Nothing is ever deleted. [`plan`] reads both
//! sides and computes the steps (a pure function of what it read, [`Plan::between`]);
//! [`apply`] carries them out. A second run after a successful one plans nothing.
//!
//! Invariant: depends on `domain` and `ports` only; never on an adapter.

mod listing;
mod plan;

pub use listing::{all_customers, all_users};
pub use plan::{Plan, Report, Snapshot, Step, SyncError, apply, plan};
