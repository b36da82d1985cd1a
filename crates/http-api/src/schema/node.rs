//! The Relay `Node` interface and `node(id:)` lookup over every type with a global ID.

use async_graphql::{ID, Interface};
use domain::{
    CustomerId, OrganizationId, Permission, PermissionId, RoleId, UserId, WebhookEndpointId,
};
use wire::{GlobalId, NodeKind};

use super::context::Scope;
use super::customer::CustomerNode;
use super::error::ApiError;
use super::event::EventNode;
use super::organization::OrganizationNode;
use super::role::{PermissionNode, RoleNode};
use super::user::UserNode;
use super::webhook::WebhookEndpointNode;

/// Any object with a global ID.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID"))]
pub(crate) enum Node {
    Customer(CustomerNode),
    User(UserNode),
    Role(RoleNode),
    Permission(PermissionNode),
    Organization(OrganizationNode),
    Event(EventNode),
    WebhookEndpoint(WebhookEndpointNode),
}

/// The object `id` names, if the caller may see it.
pub(crate) async fn resolve(scope: &Scope<'_>, id: &str) -> Result<Node, ApiError> {
    let id = GlobalId::parse(id)?;
    let services = scope.services;
    let actor = scope.actor;
    match id.kind {
        NodeKind::Customer => {
            let customer = services
                .customers
                .customer(actor, CustomerId::from_uuid(id.uuid))
                .await?;
            Ok(Node::Customer(CustomerNode(customer)))
        }
        NodeKind::User => {
            let user = services
                .users
                .user(actor, UserId::from_uuid(id.uuid))
                .await?;
            Ok(Node::User(UserNode(user)))
        }
        NodeKind::Role => {
            let role = services
                .roles
                .role(actor, RoleId::from_uuid(id.uuid))
                .await?;
            Ok(Node::Role(RoleNode(role)))
        }
        NodeKind::Permission => Permission::from_id(PermissionId::from_uuid(id.uuid))
            .map(|permission| Node::Permission(PermissionNode(permission)))
            .ok_or(ApiError::NotFound),
        NodeKind::Organization if OrganizationId::from_uuid(id.uuid) == actor.organization_id => {
            let organization = scope.organization().await?;
            Ok(Node::Organization(OrganizationNode(organization)))
        }
        // As `webhookEndpoints` shows it (never its secret): to an Owner or Admin, or a
        // customer Admin when it is its customer's.
        NodeKind::WebhookEndpoint => {
            let endpoint = services
                .webhooks
                .webhook_endpoint(actor, WebhookEndpointId::from_uuid(id.uuid))
                .await?;
            Ok(Node::WebhookEndpoint(WebhookEndpointNode(endpoint.into())))
        }
        // Another organization, a signing key (listed under `organization.signingKeys` only)
        // or an event (read through the `events` connections only), a webhook delivery
        // (listed under its endpoint's `deliveries` only), a SCIM token (`scimTokens` only).
        NodeKind::Organization
        | NodeKind::OrganizationSigningKey
        | NodeKind::Event
        | NodeKind::WebhookDelivery
        | NodeKind::ScimToken => Err(ApiError::NotFound),
    }
}
