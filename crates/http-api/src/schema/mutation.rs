//! The `Mutation` root: Relay-style mutations with one `input` and a payload of the
//! object, `errors` and the echoed `clientMutationId`.
//!
//! Payload fields are nullable, so a top-level error (`FORBIDDEN`, `INTERNAL`...) nulls only
//! its own mutation.

use async_graphql::{Context, Object, SimpleObject};
use domain::events::Origin;
use domain::scim::ScimToken;
use domain::{Customer, SigningKey, User};
use ports::{DirectoryError, GeneratedSigningKey, ScimTokenWithSecret};

use super::context::Scope;
use super::customer::CustomerNode;
use super::error::{ErrorType, Outcome, or_null, outcome, payload_errors};
use super::inputs::{
    CreateCustomerInput, CreateCustomerUserInput, CreateOrganizationSigningKeyInput,
    CreateOrganizationUserInput, DeleteCustomerInput, DeleteOrganizationSigningKeyInput,
    DeleteUserInput, ImportOrganizationSigningKeyInput, Parsed, ResendInvitationInput,
    SetUserActiveInput, UnblockEmbeddedUserInput, UpdateCustomerInput, UpdateUserInput,
};
use super::scim_token::{
    CreateScimTokenInput, DeleteScimTokenInput, ScimTokenNode, UpdateScimTokenInput,
};
use super::signing_key::{CreateOrganizationSigningKeyResult, SigningKeyNode};
use super::user::UserNode;
use super::webhook::{
    CreateWebhookEndpointInput, EndpointShown, RedeliverEventInput, ReplayWebhookInput,
    UpdateWebhookEndpointInput, WebhookEndpointInput, WebhookEndpointNode,
};
use crate::Services;

/// The mutation root.
pub(crate) struct Mutation;

macro_rules! payload {
    ($(#[$doc:meta])* $name:ident { $field:ident: $node:ident($domain:ty) }) => {
        $(#[$doc])*
        #[derive(SimpleObject)]
        pub(crate) struct $name {
            /// The object; `null` when `errors` is not empty.
            $field: Option<$node>,
            /// Why nothing was written; empty on success.
            errors: Vec<ErrorType>,
            client_mutation_id: Option<String>,
        }

        impl Payload<$domain> for $name {
            fn new(outcome: Outcome<$domain>, client_mutation_id: Option<String>) -> Self {
                let ($field, errors) = match outcome {
                    Outcome::Done(value) => (Some($node(value)), Vec::new()),
                    Outcome::Rejected(errors) => (None, errors),
                };
                $name {
                    $field,
                    errors,
                    client_mutation_id,
                }
            }
        }
    };
}

payload!(
    /// Result of `createCustomer`.
    CreateCustomerPayload { customer: CustomerNode(Customer) }
);
payload!(
    /// Result of `updateCustomer`.
    UpdateCustomerPayload { customer: CustomerNode(Customer) }
);
payload!(
    /// Result of `deleteCustomer`: the customer as it was.
    DeleteCustomerPayload { customer: CustomerNode(Customer) }
);
payload!(
    /// Result of `createOrganizationUser`.
    CreateOrganizationUserPayload { user: UserNode(User) }
);
payload!(
    /// Result of `createCustomerUser`.
    CreateCustomerUserPayload { user: UserNode(User) }
);
payload!(
    /// Result of `updateUser`.
    UpdateUserPayload { user: UserNode(User) }
);
payload!(
    /// Result of `resendInvitation`.
    ResendInvitationPayload { user: UserNode(User) }
);
payload!(
    /// Result of `deactivateUser`: the user, deactivated.
    DeactivateUserPayload { user: UserNode(User) }
);
payload!(
    /// Result of `reactivateUser`: the user, active again.
    ReactivateUserPayload { user: UserNode(User) }
);
payload!(
    /// Result of `deleteUser`: the user as it was.
    DeleteUserPayload { user: UserNode(User) }
);

payload!(
    /// Result of `unblockEmbeddedUser`: the customer the subject may sign in to again.
    UnblockEmbeddedUserPayload { customer: CustomerNode(Customer) }
);

payload!(
    /// Result of `importOrganizationSigningKey`.
    ImportOrganizationSigningKeyPayload { organization_signing_key: SigningKeyNode(SigningKey) }
);
payload!(
    /// Result of `deleteOrganizationSigningKey`: the key as it was.
    DeleteOrganizationSigningKeyPayload { organization_signing_key: SigningKeyNode(SigningKey) }
);

payload!(
    /// Result of `createWebhookEndpoint`: the endpoint with its secret, shown this once.
    CreateWebhookEndpointPayload { webhook_endpoint: WebhookEndpointNode(EndpointShown) }
);
payload!(
    /// Result of `updateWebhookEndpoint`.
    UpdateWebhookEndpointPayload { webhook_endpoint: WebhookEndpointNode(EndpointShown) }
);
payload!(
    /// Result of `deleteWebhookEndpoint`: the endpoint as it was.
    DeleteWebhookEndpointPayload { webhook_endpoint: WebhookEndpointNode(EndpointShown) }
);
payload!(
    /// Result of `rotateWebhookSecret`: the endpoint with its new secret, shown this once.
    RotateWebhookSecretPayload { webhook_endpoint: WebhookEndpointNode(EndpointShown) }
);

payload!(
    /// Result of `updateScimToken`: the token as it is now.
    UpdateScimTokenPayload { scim_token: ScimTokenNode(ScimToken) }
);
payload!(
    /// Result of `deleteScimToken`: the token as it was (revoked at once).
    DeleteScimTokenPayload { scim_token: ScimTokenNode(ScimToken) }
);

/// Result of `createScimToken`: the token, and its text, shown this once.
#[derive(SimpleObject)]
pub(crate) struct CreateScimTokenPayload {
    /// The new token; `null` when `errors` is not empty.
    scim_token: Option<ScimTokenNode>,
    /// The bearer token for the identity provider (`roster_scim_...`): shown here and never
    /// again (Roster keeps only its SHA-256).
    token: Option<String>,
    /// Why nothing was written; empty on success.
    errors: Vec<ErrorType>,
    client_mutation_id: Option<String>,
}

impl Payload<ScimTokenWithSecret> for CreateScimTokenPayload {
    fn new(outcome: Outcome<ScimTokenWithSecret>, client_mutation_id: Option<String>) -> Self {
        let (scim_token, token, errors) = match outcome {
            Outcome::Done(created) => (
                Some(ScimTokenNode(created.token)),
                Some(created.secret.as_str().to_owned()),
                Vec::new(),
            ),
            Outcome::Rejected(errors) => (None, None, errors),
        };
        CreateScimTokenPayload {
            scim_token,
            token,
            errors,
            client_mutation_id,
        }
    }
}

/// Result of `redeliverEvent` and `replayWebhook`: how many deliveries were queued.
#[derive(SimpleObject)]
pub(crate) struct QueuedDeliveriesPayload {
    /// Deliveries queued; `null` when `errors` is not empty.
    queued: Option<i32>,
    /// Why nothing was queued; empty on success.
    errors: Vec<ErrorType>,
    client_mutation_id: Option<String>,
}

impl Payload<u64> for QueuedDeliveriesPayload {
    fn new(outcome: Outcome<u64>, client_mutation_id: Option<String>) -> Self {
        let (queued, errors) = match outcome {
            Outcome::Done(n) => (Some(i32::try_from(n).unwrap_or(i32::MAX)), Vec::new()),
            Outcome::Rejected(errors) => (None, errors),
        };
        QueuedDeliveriesPayload {
            queued,
            errors,
            client_mutation_id,
        }
    }
}

/// Result of `createOrganizationSigningKey`: the private key, shown once.
#[derive(SimpleObject)]
pub(crate) struct CreateOrganizationSigningKeyPayload {
    /// The new key pair; `null` when `errors` is not empty.
    result: Option<CreateOrganizationSigningKeyResult>,
    /// Why nothing was written; empty on success.
    errors: Vec<ErrorType>,
    client_mutation_id: Option<String>,
}

impl Payload<GeneratedSigningKey> for CreateOrganizationSigningKeyPayload {
    fn new(outcome: Outcome<GeneratedSigningKey>, client_mutation_id: Option<String>) -> Self {
        let (result, errors) = match outcome {
            Outcome::Done(generated) => (
                Some(CreateOrganizationSigningKeyResult {
                    private_key: generated.private_key_pem,
                    organization_signing_key: SigningKeyNode(generated.key),
                }),
                Vec::new(),
            ),
            Outcome::Rejected(errors) => (None, errors),
        };
        CreateOrganizationSigningKeyPayload {
            result,
            errors,
            client_mutation_id,
        }
    }
}

/// A mutation's payload, made from what the mutation resolved to and the echoed
/// `clientMutationId`: one shape for every mutation, so [`mutate`] can build any of them.
trait Payload<T> {
    fn new(outcome: Outcome<T>, client_mutation_id: Option<String>) -> Self;
}

/// The skeleton every mutation shares: read the request's services and origin (the actor
/// and the request, which the event log records), take the
/// parsed input (an unparsable one is rejected in the payload without calling anything), make
/// one directory `call`, and put its `Invalid` errors into the payload; any other failure is
/// a top-level error that nulls only this mutation.
async fn mutate<'c, I, T, F, P>(
    ctx: &'c Context<'c>,
    parsed: Parsed<I>,
    client_mutation_id: Option<String>,
    call: impl FnOnce(&'c Services, &'c Origin, I) -> F,
) -> Option<P>
where
    F: Future<Output = Result<T, DirectoryError>>,
    P: Payload<T>,
{
    let outcome = async {
        let scope = Scope::of(ctx)?;
        match parsed {
            Ok(input) => outcome(call(scope.services, scope.origin, input).await),
            Err(errors) => Ok(Outcome::Rejected(payload_errors(&errors))),
        }
    };
    let outcome = or_null(ctx, outcome.await)?;
    Some(P::new(outcome, client_mutation_id))
}

#[Object]
impl Mutation {
    /// Creates a customer.
    async fn create_customer(
        &self,
        ctx: &Context<'_>,
        input: CreateCustomerInput,
    ) -> Option<CreateCustomerPayload> {
        mutate(
            ctx,
            input.parse(),
            input.client_mutation_id,
            |services, origin, new| services.customers.create_customer(origin, new),
        )
        .await
    }

    /// Changes the sent fields of a customer.
    async fn update_customer(
        &self,
        ctx: &Context<'_>,
        input: UpdateCustomerInput,
    ) -> Option<UpdateCustomerPayload> {
        mutate(
            ctx,
            input.parse(),
            input.client_mutation_id,
            |services, origin, (id, patch, version)| {
                services
                    .customers
                    .update_customer(origin, id, patch, version)
            },
        )
        .await
    }

    /// Deletes a customer, its users, their tokens and invitations.
    async fn delete_customer(
        &self,
        ctx: &Context<'_>,
        input: DeleteCustomerInput,
    ) -> Option<DeleteCustomerPayload> {
        mutate(
            ctx,
            input.parse(),
            input.client_mutation_id,
            |services, origin, (id, version)| {
                services.customers.delete_customer(origin, id, version)
            },
        )
        .await
    }

    /// Creates a team member and invites them by email: the mail links to a page where they choose their password (valid 72 hours).
    async fn create_organization_user(
        &self,
        ctx: &Context<'_>,
        input: CreateOrganizationUserInput,
    ) -> Option<CreateOrganizationUserPayload> {
        mutate(
            ctx,
            input.parse(),
            input.client_mutation_id,
            |services, origin, new| services.users.create_organization_user(origin, new),
        )
        .await
    }

    /// Creates a user of a customer and invites them by email: the mail links to a page where they choose their password (valid 72 hours).
    async fn create_customer_user(
        &self,
        ctx: &Context<'_>,
        input: CreateCustomerUserInput,
    ) -> Option<CreateCustomerUserPayload> {
        mutate(
            ctx,
            input.parse(),
            input.client_mutation_id,
            |services, origin, (customer, new)| {
                services.users.create_customer_user(origin, customer, new)
            },
        )
        .await
    }

    /// Changes the sent fields of a user.
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        input: UpdateUserInput,
    ) -> Option<UpdateUserPayload> {
        mutate(
            ctx,
            input.parse(),
            input.client_mutation_id,
            |services, origin, (id, patch, version)| {
                services.users.update_user(origin, id, patch, version)
            },
        )
        .await
    }

    /// Deletes another user.
    async fn delete_user(
        &self,
        ctx: &Context<'_>,
        input: DeleteUserInput,
    ) -> Option<DeleteUserPayload> {
        mutate(
            ctx,
            input.parse(),
            input.client_mutation_id,
            |services, origin, (id, version)| services.users.delete_user(origin, id, version),
        )
        .await
    }

    /// Roster: deactivates another user: it keeps its data but can no longer sign in, and
    /// its sessions end at once. Nothing is written when it already is deactivated.
    async fn deactivate_user(
        &self,
        ctx: &Context<'_>,
        input: SetUserActiveInput,
    ) -> Option<DeactivateUserPayload> {
        mutate(
            ctx,
            input.parse(),
            input.client_mutation_id,
            |services, origin, (id, version)| {
                services.users.set_user_active(origin, id, false, version)
            },
        )
        .await
    }

    /// Roster: lets a deactivated user sign in again (its old sessions stay ended).
    /// Nothing is written when it already is active.
    async fn reactivate_user(
        &self,
        ctx: &Context<'_>,
        input: SetUserActiveInput,
    ) -> Option<ReactivateUserPayload> {
        mutate(
            ctx,
            input.parse(),
            input.client_mutation_id,
            |services, origin, (id, version)| {
                services.users.set_user_active(origin, id, true, version)
            },
        )
        .await
    }

    /// Lets an embedded subject whose user was deleted sign in again: its next JWT creates a
    /// new user. Owners and Admins only.
    async fn unblock_embedded_user(
        &self,
        ctx: &Context<'_>,
        input: UnblockEmbeddedUserInput,
    ) -> Option<UnblockEmbeddedUserPayload> {
        mutate(
            ctx,
            input.parse(),
            input.client_mutation_id,
            |services, origin, (customer, subject)| async move {
                let embedded = &services.embedded_users;
                embedded
                    .unblock_embedded_user(origin, customer, &subject)
                    .await
            },
        )
        .await
    }

    /// Emails the user a new invitation link with a renewed 72-hour expiry; the previous link
    /// stops working. Needs the permission to manage that user; refused once accepted.
    async fn resend_invitation(
        &self,
        ctx: &Context<'_>,
        input: ResendInvitationInput,
    ) -> Option<ResendInvitationPayload> {
        mutate(
            ctx,
            input.parse(),
            input.client_mutation_id,
            |services, origin, id| services.invitations.resend_invitation(origin, id),
        )
        .await
    }

    /// Generates an RSA key pair for embedded-user JWTs; keeps only the public half and
    /// returns the private key this once.
    async fn create_organization_signing_key(
        &self,
        ctx: &Context<'_>,
        input: CreateOrganizationSigningKeyInput,
    ) -> Option<CreateOrganizationSigningKeyPayload> {
        mutate(
            ctx,
            Ok(()),
            input.client_mutation_id,
            |services, origin, ()| services.signing_keys.create_signing_key(origin),
        )
        .await
    }

    /// Registers a PEM RSA public key for embedded-user JWTs.
    async fn import_organization_signing_key(
        &self,
        ctx: &Context<'_>,
        input: ImportOrganizationSigningKeyInput,
    ) -> Option<ImportOrganizationSigningKeyPayload> {
        mutate(
            ctx,
            Ok(input.public_key.as_str()),
            input.client_mutation_id,
            |services, origin, public_key| {
                services.signing_keys.import_signing_key(origin, public_key)
            },
        )
        .await
    }

    /// Deletes a signing key; JWTs signed with it stop working at once.
    async fn delete_organization_signing_key(
        &self,
        ctx: &Context<'_>,
        input: DeleteOrganizationSigningKeyInput,
    ) -> Option<DeleteOrganizationSigningKeyPayload> {
        mutate(
            ctx,
            input.parse(),
            input.client_mutation_id,
            |services, origin, id| services.signing_keys.delete_signing_key(origin, id),
        )
        .await
    }

    /// Roster: creates a webhook endpoint; its secret is in this payload and never again.
    async fn create_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        input: CreateWebhookEndpointInput,
    ) -> Option<CreateWebhookEndpointPayload> {
        mutate(
            ctx,
            input.parse(),
            input.client_mutation_id,
            |services, origin, draft| async move {
                services
                    .webhooks
                    .create_webhook_endpoint(origin, draft)
                    .await
                    .map(EndpointShown::from)
            },
        )
        .await
    }

    /// Roster: changes the sent fields of a webhook endpoint.
    async fn update_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        input: UpdateWebhookEndpointInput,
    ) -> Option<UpdateWebhookEndpointPayload> {
        mutate(
            ctx,
            input.parse(),
            input.client_mutation_id,
            |services, origin, (id, patch)| async move {
                services
                    .webhooks
                    .update_webhook_endpoint(origin, id, patch)
                    .await
                    .map(EndpointShown::from)
            },
        )
        .await
    }

    /// Roster: deletes a webhook endpoint and its deliveries.
    async fn delete_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        input: WebhookEndpointInput,
    ) -> Option<DeleteWebhookEndpointPayload> {
        mutate(
            ctx,
            input.parse(),
            input.client_mutation_id,
            |services, origin, id| async move {
                services
                    .webhooks
                    .delete_webhook_endpoint(origin, id)
                    .await
                    .map(EndpointShown::from)
            },
        )
        .await
    }

    /// Roster: gives a webhook endpoint a new secret, shown in this payload only; the old
    /// secret still signs (a second `v1=`) for 24 hours.
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        input: WebhookEndpointInput,
    ) -> Option<RotateWebhookSecretPayload> {
        mutate(
            ctx,
            input.parse(),
            input.client_mutation_id,
            |services, origin, id| async move {
                services
                    .webhooks
                    .rotate_webhook_secret(origin, id)
                    .await
                    .map(EndpointShown::from)
            },
        )
        .await
    }

    /// Roster: sends one event to a webhook endpoint again.
    async fn redeliver_event(
        &self,
        ctx: &Context<'_>,
        input: RedeliverEventInput,
    ) -> Option<QueuedDeliveriesPayload> {
        mutate(
            ctx,
            input.parse(),
            input.client_mutation_id,
            |services, origin, (endpoint, event)| async move {
                services
                    .webhooks
                    .redeliver_event(&origin.actor, endpoint, event)
                    .await
                    .map(|()| 1)
            },
        )
        .await
    }

    /// Roster: sends a webhook endpoint again every event since `since` that it wants (at
    /// most 10,000 per call).
    async fn replay_webhook(
        &self,
        ctx: &Context<'_>,
        input: ReplayWebhookInput,
    ) -> Option<QueuedDeliveriesPayload> {
        mutate(
            ctx,
            input.parse(),
            input.client_mutation_id,
            |services, origin, (endpoint, since)| {
                services
                    .webhooks
                    .replay_webhook(&origin.actor, endpoint, since)
            },
        )
        .await
    }

    /// Roster: creates a SCIM token for a customer's identity provider; the token is in this
    /// payload and never again.
    async fn create_scim_token(
        &self,
        ctx: &Context<'_>,
        input: CreateScimTokenInput,
    ) -> Option<CreateScimTokenPayload> {
        mutate(
            ctx,
            input.parse(),
            input.client_mutation_id,
            |services, origin, draft| services.scim_tokens.create_scim_token(origin, draft),
        )
        .await
    }

    /// Roster: changes a SCIM token's settings (`sendInvitations`), from its next request on.
    async fn update_scim_token(
        &self,
        ctx: &Context<'_>,
        input: UpdateScimTokenInput,
    ) -> Option<UpdateScimTokenPayload> {
        mutate(
            ctx,
            input.parse(),
            input.client_mutation_id,
            |services, origin, (id, send_invitations)| {
                services
                    .scim_tokens
                    .update_scim_token(origin, id, send_invitations)
            },
        )
        .await
    }

    /// Roster: revokes a SCIM token at once.
    async fn delete_scim_token(
        &self,
        ctx: &Context<'_>,
        input: DeleteScimTokenInput,
    ) -> Option<DeleteScimTokenPayload> {
        mutate(
            ctx,
            input.parse(),
            input.client_mutation_id,
            |services, origin, id| services.scim_tokens.delete_scim_token(origin, id),
        )
        .await
    }
}
