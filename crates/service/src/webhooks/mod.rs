//! Webhooks: signing each delivery so receivers can tell it came from Roster, unaltered.

pub mod signing;
