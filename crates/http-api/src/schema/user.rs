//! The `User` type, its ordering inputs and the `users` listings.

use std::borrow::Cow;

use async_graphql::{Context, Enum, ID, InputObject, Object, OutputType, Result, Value};
use domain::listing::{Sort, UserQuery, UserSortField};
use domain::{
    CustomerId, Email, ExternalId, Invitation, InvitationStatus, PersonName, Timestamp, User,
    UserId, UserSummary,
};
use wire::Global as _;

use super::connection::{
    Connection, FlatFields, FlatNode, Leaf, OrderDirection, check_cursors, optional_text, scalar,
    text,
};
use super::context::Scope;
use super::customer::CustomerNode;
use super::error::{ApiError, or_null};
use super::event::{EventArguments, EventNode, list_events};
use super::organization::OrganizationNode;
use super::role::RoleNode;

// The plain fields of `User`, as its resolvers below answer them (`flat_nodes_answer_as_their_resolvers`).
impl FlatFields for UserNode {
    fn flat_field(&self, name: &str) -> Option<Value> {
        let user = &self.0;
        if SUMMARY_FIELDS.contains(&name) {
            return summary_field(
                user.id,
                &user.email,
                &user.name,
                user.external_id.as_ref(),
                name,
            )
            .map(Leaf::value);
        }
        Some(match name {
            "phone" => text(user.phone.as_str()),
            "avatarUrl" => optional_text(user.avatar_url.as_ref().map(|url| url.as_str())),
            "dateJoined" | "createdAt" => scalar(&user.created_at),
            "updatedAt" => scalar(&user.updated_at),
            "version" => scalar(&user.version.get()),
            "lastLogin" => user.last_login.as_ref().map_or(Value::Null, scalar),
            "active" => scalar(&user.is_active()),
            "deactivatedAt" => user.deactivated_at.as_ref().map_or(Value::Null, scalar),
            "tenantId" => Value::String(user.organization_id.global().encode()),
            "darkMode" => scalar(&user.dark_mode),
            "darkModeSyncWithOs" => scalar(&user.dark_mode_sync_with_os),
            "featureFlags" => text(user.feature_flags.as_str()),
            _ => return None,
        })
    }
}

/// The fields of `User` that a [`UserSummary`] answers: a listing whose nodes select
/// nothing else (and `__typename`) reads summaries.
pub(crate) const SUMMARY_FIELDS: [&str; 4] = ["id", "email", "name", "externalId"];

/// One of [`SUMMARY_FIELDS`], as `User`'s resolvers answer it.
fn summary_field<'a>(
    id: UserId,
    email: &'a Email,
    name: &'a PersonName,
    external_id: Option<&'a ExternalId>,
    field: &str,
) -> Option<Leaf<'a>> {
    Some(match field {
        "id" => Leaf::Id(id.global()),
        "email" => Leaf::Text(Some(email.as_str())),
        "name" => Leaf::Text(Some(name.as_str())),
        "externalId" => Leaf::Text(external_id.map(ExternalId::as_str)),
        _ => return None,
    })
}

/// A user read as a summary, answered flat as a `User` holding only [`SUMMARY_FIELDS`].
pub(crate) struct UserSummaryNode(pub(crate) UserSummary);

impl FlatNode for UserSummaryNode {
    fn flat_type_name(&self) -> Cow<'static, str> {
        <UserNode as OutputType>::type_name()
    }

    fn flat_node_field(&self, name: &str) -> Option<Value> {
        self.leaf(name).map(Leaf::value)
    }

    fn write_flat_field(&self, name: &str, out: &mut Vec<u8>) -> Option<()> {
        self.leaf(name)?.write(out)
    }
}

impl UserSummaryNode {
    /// Field `name`, when the summary holds it.
    fn leaf(&self, name: &str) -> Option<Leaf<'_>> {
        let user = &self.0;
        summary_field(
            user.id,
            &user.email,
            &user.name,
            user.external_id.as_ref(),
            name,
        )
    }
}

/// Where an invitation stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "InvitationStatus")]
pub(crate) enum InvitationStatusValue {
    /// Sent and still valid.
    Pending,
    /// Used to set a password.
    Accepted,
    /// Not used in time; `resendInvitation` renews it.
    Expired,
}

/// A user's email invitation to choose a password.
pub(crate) struct InvitationNode(Invitation);

#[Object(name = "Invitation")]
impl InvitationNode {
    async fn status(&self) -> InvitationStatusValue {
        match self.0.status(domain::now()) {
            InvitationStatus::Pending => InvitationStatusValue::Pending,
            InvitationStatus::Accepted => InvitationStatusValue::Accepted,
            InvitationStatus::Expired => InvitationStatusValue::Expired,
        }
    }

    /// When the current link was created and queued for sending.
    async fn sent_at(&self) -> Timestamp {
        self.0.sent_at
    }

    /// When the current link stops working.
    async fn expires_at(&self) -> Timestamp {
        self.0.expires_at
    }
}

/// A user (team member or customer user) as the API shows it to the caller.
#[derive(Clone)]
pub(crate) struct UserNode(pub(crate) User);

#[Object(name = "User")]
impl UserNode {
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.global().encode())
    }

    async fn email(&self) -> &str {
        self.0.email.as_str()
    }

    /// `""` when unset.
    async fn name(&self) -> &str {
        self.0.name.as_str()
    }

    /// E.164, or `""` when unset.
    async fn phone(&self) -> &str {
        self.0.phone.as_str()
    }

    async fn external_id(&self) -> Option<&str> {
        self.0.external_id.as_ref().map(|id| id.as_str())
    }

    async fn avatar_url(&self) -> Option<&str> {
        self.0.avatar_url.as_ref().map(|url| url.as_str())
    }

    async fn role(&self) -> RoleNode {
        RoleNode(self.0.role)
    }

    /// The user's customer; `null` for a team member (or a customer the caller cannot see).
    async fn customer(&self, ctx: &Context<'_>) -> Option<CustomerNode> {
        let id = self.0.customer_id?;
        let customer = async {
            Scope::of(ctx)?
                .customers_by_id()
                .load_one(id)
                .await
                .map_err(|error| ApiError::from_directory(&error))
        };
        or_null(ctx, customer.await)
            .flatten()
            .flatten()
            .map(CustomerNode)
    }

    /// The user's organization; `null` for a customer user.
    async fn org(&self, ctx: &Context<'_>) -> Option<OrganizationNode> {
        if self.0.customer_id.is_some() {
            return None;
        }
        let organization = async { Scope::of(ctx)?.organization().await };
        or_null(ctx, organization.await).map(OrganizationNode)
    }

    /// When the user was created.
    async fn date_joined(&self) -> Timestamp {
        self.0.created_at
    }

    async fn created_at(&self) -> Timestamp {
        self.0.created_at
    }

    async fn updated_at(&self) -> Timestamp {
        self.0.updated_at
    }

    /// Roster: how many times this record was written (1 when created, one more with every
    /// write). Send it back as `expectedVersion` to change or delete the record only as you
    /// read it.
    async fn version(&self) -> i32 {
        self.0.version.get()
    }

    async fn last_login(&self) -> Option<Timestamp> {
        self.0.last_login
    }

    /// Roster: false once the user is deactivated (`deactivateUser`): it keeps its data but
    /// cannot sign in, and its sessions ended.
    async fn active(&self) -> bool {
        self.0.is_active()
    }

    /// Roster: when the user was deactivated; `null` while active.
    async fn deactivated_at(&self) -> Option<Timestamp> {
        self.0.deactivated_at
    }

    /// The user's email invitation; `null` for users without one (embedded users, the
    /// first owner).
    async fn invitation(&self, ctx: &Context<'_>) -> Option<InvitationNode> {
        let invitation = async {
            let scope = Scope::of(ctx)?;
            scope
                .services
                .invitations
                .invitation(scope.actor, self.0.id)
                .await
                .map_err(|error| ApiError::from_directory(&error))
        };
        or_null(ctx, invitation.await).flatten().map(InvitationNode)
    }

    /// The global ID of the user's organization.
    async fn tenant_id(&self) -> String {
        self.0.organization_id.global().encode()
    }

    async fn dark_mode(&self) -> bool {
        self.0.dark_mode
    }

    async fn dark_mode_sync_with_os(&self) -> bool {
        self.0.dark_mode_sync_with_os
    }

    async fn feature_flags(&self) -> &str {
        self.0.feature_flags.as_str()
    }

    /// True when the caller may change this user.
    async fn allow_update(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(Scope::of(ctx)?.actor.can_update_user(&self.0))
    }

    /// True when the caller may delete this user.
    async fn allow_remove(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(Scope::of(ctx)?.actor.can_delete_user(&self.0))
    }

    /// Roster: the events about this user, in sequence order, as `Query.events` shows
    /// them to the caller.
    async fn events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        types: Option<Vec<String>>,
    ) -> Result<Connection<EventNode>> {
        let arguments = EventArguments {
            first,
            after,
            types,
            subject: Some(self.0.id.uuid()),
            ..EventArguments::default()
        };
        list_events(ctx, arguments).await
    }

    /// True when the caller may change this user's role.
    async fn allow_change_roles(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(Scope::of(ctx)?.actor.can_change_role_of(&self.0))
    }
}

/// What users can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub(crate) enum UserOrderField {
    CreatedAt,
    /// By the name of the user's customer; team members first.
    Customer,
    Email,
    Name,
    /// By the level of the user's role.
    Role,
    UpdatedAt,
}

/// One key of a user sort order.
#[derive(Debug, Clone, Copy, InputObject)]
pub(crate) struct UserOrder {
    field: UserOrderField,
    direction: OrderDirection,
}

/// The sort keys of `sortBy`, null entries skipped.
pub(crate) fn user_sort(sort_by: Option<Vec<Option<UserOrder>>>) -> Vec<Sort<UserSortField>> {
    sort_by
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .map(|key| Sort {
            field: match key.field {
                UserOrderField::CreatedAt => UserSortField::CreatedAt,
                UserOrderField::Customer => UserSortField::Customer,
                UserOrderField::Email => UserSortField::Email,
                UserOrderField::Name => UserSortField::Name,
                UserOrderField::Role => UserSortField::Role,
                UserOrderField::UpdatedAt => UserSortField::UpdatedAt,
            },
            direction: key.direction.into(),
        })
        .collect()
}

/// One page of the users the caller can see; a cursor of another sort is refused first.
/// Their customers, when the selection asks for them, are loaded in one batch.
pub(crate) async fn list_users(
    ctx: &Context<'_>,
    scope: &Scope<'_>,
    query: UserQuery,
) -> Result<Connection<UserNode>, ApiError> {
    check_cursors(query.cursors_fit())?;
    let page = scope.services.users.users(scope.actor, &query).await?;
    let look_ahead = ctx.look_ahead();
    if look_ahead.field("nodes").field("customer").exists()
        || look_ahead
            .field("edges")
            .field("node")
            .field("customer")
            .exists()
    {
        let mut customers: Vec<CustomerId> = page
            .edges
            .iter()
            .filter_map(|edge| edge.node.customer_id)
            .collect();
        customers.sort_unstable();
        customers.dedup();
        if !customers.is_empty() {
            // An error here is reported by each `customer` field when it loads again.
            let _ = scope.customers_by_id().load_many(customers).await;
        }
    }
    Ok(Connection::from_page(page, UserNode))
}
