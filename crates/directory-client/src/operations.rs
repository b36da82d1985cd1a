//! The operations the client sends, typed at build time from the repository's
//! `schema.graphql` by `graphql_client`: each document in `graphql/` is checked against the
//! schema (fields, arguments, variable types), and its `Variables` (inputs, enums, the
//! `DateTime` scalar) are generated from it, so a schema change that breaks a document
//! breaks this crate's build.
//!
//! A document is written as Roster serves it, with its additive `version` and payload
//! `code` and a listing's `totalCount`; [`Document`] sends it with those left out where
//! the server lacks them or the caller does not ask (see `transport.rs`).
#![allow(
    unreachable_pub,
    dead_code,
    clippy::all,
    reason = "graphql_client's generated modules; the unit structs only anchor the derives"
)]

use domain::Timestamp;
use graphql_client::GraphQLQuery;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The schema's `DateTime` scalar: RFC 3339, sent with microseconds (storage's precision).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DateTime(pub(crate) Timestamp);

impl Serialize for DateTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
    }
}

impl<'de> Deserialize<'de> for DateTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Timestamp::deserialize(deserializer).map(DateTime)
    }
}

/// The schema's `JSON` scalar (an event's `before`/`after`): any JSON value.
pub(crate) type JSON = serde_json::Value;

/// `graphql/events.graphql`, typed against `schema.graphql`.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../../schema.graphql",
    query_path = "graphql/events.graphql",
    skip_serializing_none
)]
pub(crate) struct Events;

/// `graphql/customers.graphql`, typed against `schema.graphql`.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../../schema.graphql",
    query_path = "graphql/customers.graphql",
    skip_serializing_none
)]
pub(crate) struct Customers;

/// `graphql/users.graphql`, typed against `schema.graphql`.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../../schema.graphql",
    query_path = "graphql/users.graphql",
    skip_serializing_none
)]
pub(crate) struct Users;

/// `graphql/customer.graphql`, typed against `schema.graphql`.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../../schema.graphql",
    query_path = "graphql/customer.graphql",
    skip_serializing_none
)]
pub(crate) struct Customer;

/// `graphql/user.graphql`, typed against `schema.graphql`.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../../schema.graphql",
    query_path = "graphql/user.graphql",
    skip_serializing_none
)]
pub(crate) struct User;

/// `graphql/me.graphql`, typed against `schema.graphql`.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../../schema.graphql",
    query_path = "graphql/me.graphql",
    skip_serializing_none
)]
pub(crate) struct Me;

/// `graphql/organization.graphql`, typed against `schema.graphql`.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../../schema.graphql",
    query_path = "graphql/organization.graphql",
    skip_serializing_none
)]
pub(crate) struct Organization;

/// `graphql/organization_roles.graphql`, typed against `schema.graphql`.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../../schema.graphql",
    query_path = "graphql/organization_roles.graphql",
    skip_serializing_none
)]
pub(crate) struct OrganizationRoles;

/// `graphql/customer_roles.graphql`, typed against `schema.graphql`.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../../schema.graphql",
    query_path = "graphql/customer_roles.graphql",
    skip_serializing_none
)]
pub(crate) struct CustomerRoles;

/// `graphql/create_customer.graphql`, typed against `schema.graphql`.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../../schema.graphql",
    query_path = "graphql/create_customer.graphql",
    skip_serializing_none
)]
pub(crate) struct CreateCustomer;

/// `graphql/update_customer.graphql`, typed against `schema.graphql`.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../../schema.graphql",
    query_path = "graphql/update_customer.graphql",
    skip_serializing_none
)]
pub(crate) struct UpdateCustomer;

/// `graphql/delete_customer.graphql`, typed against `schema.graphql`.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../../schema.graphql",
    query_path = "graphql/delete_customer.graphql",
    skip_serializing_none
)]
pub(crate) struct DeleteCustomer;

/// `graphql/create_organization_user.graphql`, typed against `schema.graphql`.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../../schema.graphql",
    query_path = "graphql/create_organization_user.graphql",
    skip_serializing_none
)]
pub(crate) struct CreateOrganizationUser;

/// `graphql/create_customer_user.graphql`, typed against `schema.graphql`.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../../schema.graphql",
    query_path = "graphql/create_customer_user.graphql",
    skip_serializing_none
)]
pub(crate) struct CreateCustomerUser;

/// `graphql/update_user.graphql`, typed against `schema.graphql`.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../../schema.graphql",
    query_path = "graphql/update_user.graphql",
    skip_serializing_none
)]
pub(crate) struct UpdateUser;

/// `graphql/delete_user.graphql`, typed against `schema.graphql`.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../../schema.graphql",
    query_path = "graphql/delete_user.graphql",
    skip_serializing_none
)]
pub(crate) struct DeleteUser;

/// `graphql/deactivate_user.graphql`, typed against `schema.graphql`.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../../schema.graphql",
    query_path = "graphql/deactivate_user.graphql",
    skip_serializing_none
)]
pub(crate) struct DeactivateUser;

/// `graphql/reactivate_user.graphql`, typed against `schema.graphql`.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../../schema.graphql",
    query_path = "graphql/reactivate_user.graphql",
    skip_serializing_none
)]
pub(crate) struct ReactivateUser;

/// What a document is sent with: Roster's additive selections, each left out when the
/// server lacks it (`versions`, `codes`) or the caller does not ask (`total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Document {
    /// The generated document (`<operation>::QUERY`).
    pub(crate) query: &'static str,
    /// Select `version` on customers, users and the organization, and Roster's other
    /// additions that came after it: a user's `active` and `deactivatedAt`, and the users
    /// listing's `active` argument.
    pub(crate) versions: bool,
    /// Select `code` on payload errors.
    pub(crate) codes: bool,
    /// Select a listing's `totalCount` (counting costs the server a statement).
    pub(crate) total: bool,
}

impl Document {
    /// `query` with every selection.
    pub(crate) fn full(query: &'static str) -> Self {
        Document {
            query,
            versions: true,
            codes: true,
            total: true,
        }
    }

    /// The text sent: the typed document less the selections left out. Dropping a leaf
    /// field keeps a document valid, so every variant is as checked as the full one.
    pub(crate) fn text(self) -> String {
        let mut text = self.query.trim_end().to_owned();
        if !self.versions {
            text = text
                .replace(" version", "")
                .replace(" active deactivatedAt", "")
                .replace(", active: $active", "")
                .replace(", $active: Boolean", "");
        }
        if !self.codes {
            text = text.replace(" code", "");
        }
        if !self.total {
            text = text.replace("totalCount ", "");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_leave_out_only_the_named_selections() {
        let full = Document::full(update_customer::QUERY);
        assert!(
            full.text()
                .contains(" version } errors { field messages code }")
        );
        let bare = Document {
            versions: false,
            codes: false,
            ..full
        }
        .text();
        assert!(
            !bare.contains("version") && !bare.contains("code"),
            "{bare}"
        );
        assert!(
            bare.contains("updatedAt } errors { field messages }"),
            "{bare}"
        );
        let prismatic = Document {
            versions: false,
            ..Document::full(users::QUERY)
        }
        .text();
        assert!(
            Document::full(users::QUERY)
                .text()
                .contains("lastLogin active deactivatedAt version }")
        );
        assert!(!prismatic.contains("active"), "{prismatic}");
        assert!(prismatic.contains("lastLogin } }"), "{prismatic}");
        let uncounted = Document {
            total: false,
            ..Document::full(customers::QUERY)
        }
        .text();
        assert!(!uncounted.contains("totalCount"), "{uncounted}");
        assert!(
            Document::full(customers::QUERY)
                .text()
                .contains("{ totalCount pageInfo")
        );
    }
}
