//! The `Mutation` root: Relay-style mutations with one `input` and a payload of the
//! object, `errors` and the echoed `clientMutationId`.
//!
//! Payload fields are nullable, so a top-level error (`FORBIDDEN`, `INTERNAL`...) nulls only
//! its own mutation.

use async_graphql::{Context, Object, SimpleObject};
use domain::{Customer, SigningKey, User};
use ports::DirectoryError;

use super::context::Scope;
use super::customer::CustomerNode;
use super::error::{ApiError, ErrorType, Outcome, or_null, outcome, payload_errors};
use super::inputs::{
    CreateCustomerInput, CreateCustomerUserInput, CreateOrganizationSigningKeyInput,
    CreateOrganizationUserInput, DeleteCustomerInput, DeleteOrganizationSigningKeyInput,
    DeleteUserInput, ImportOrganizationSigningKeyInput, Parsed, ResendInvitationInput,
    UnblockEmbeddedUserInput, UpdateCustomerInput, UpdateUserInput,
};
use super::signing_key::{CreateOrganizationSigningKeyResult, SigningKeyNode};
use super::user::UserNode;

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

        impl $name {
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

/// Result of `createOrganizationSigningKey`: the private key, shown once.
#[derive(SimpleObject)]
pub(crate) struct CreateOrganizationSigningKeyPayload {
    /// The new key pair; `null` when `errors` is not empty.
    result: Option<CreateOrganizationSigningKeyResult>,
    /// Why nothing was written; empty on success.
    errors: Vec<ErrorType>,
    client_mutation_id: Option<String>,
}

/// Runs `call` on a parsed input; an unparsable one is rejected without calling anything.
async fn run<I, T, F>(parsed: Parsed<I>, call: impl FnOnce(I) -> F) -> Result<Outcome<T>, ApiError>
where
    F: Future<Output = Result<T, DirectoryError>>,
{
    match parsed {
        Ok(input) => outcome(call(input).await),
        Err(errors) => Ok(Outcome::Rejected(payload_errors(&errors))),
    }
}

#[Object]
impl Mutation {
    /// Creates a customer.
    async fn create_customer(
        &self,
        ctx: &Context<'_>,
        input: CreateCustomerInput,
    ) -> Option<CreateCustomerPayload> {
        let outcome = async {
            let scope = Scope::of(ctx)?;
            let customers = &scope.services.customers;
            run(input.parse(), |new| {
                customers.create_customer(scope.actor, new)
            })
            .await
        };
        let outcome = or_null(ctx, outcome.await)?;
        Some(CreateCustomerPayload::new(
            outcome,
            input.client_mutation_id,
        ))
    }

    /// Changes the sent fields of a customer.
    async fn update_customer(
        &self,
        ctx: &Context<'_>,
        input: UpdateCustomerInput,
    ) -> Option<UpdateCustomerPayload> {
        let outcome = async {
            let scope = Scope::of(ctx)?;
            let customers = &scope.services.customers;
            run(input.parse(), |(id, patch, expected)| {
                customers.update_customer(scope.actor, id, patch, expected)
            })
            .await
        };
        let outcome = or_null(ctx, outcome.await)?;
        Some(UpdateCustomerPayload::new(
            outcome,
            input.client_mutation_id,
        ))
    }

    /// Deletes a customer, its users, their tokens and invitations.
    async fn delete_customer(
        &self,
        ctx: &Context<'_>,
        input: DeleteCustomerInput,
    ) -> Option<DeleteCustomerPayload> {
        let outcome = async {
            let scope = Scope::of(ctx)?;
            let customers = &scope.services.customers;
            run(input.parse(), |(id, expected)| {
                customers.delete_customer(scope.actor, id, expected)
            })
            .await
        };
        let outcome = or_null(ctx, outcome.await)?;
        Some(DeleteCustomerPayload::new(
            outcome,
            input.client_mutation_id,
        ))
    }

    /// Creates a team member and invites them by email: the mail links to a page where they choose their password (valid 72 hours).
    async fn create_organization_user(
        &self,
        ctx: &Context<'_>,
        input: CreateOrganizationUserInput,
    ) -> Option<CreateOrganizationUserPayload> {
        let outcome = async {
            let scope = Scope::of(ctx)?;
            let users = &scope.services.users;
            run(input.parse(), |new| {
                users.create_organization_user(scope.actor, new)
            })
            .await
        };
        let outcome = or_null(ctx, outcome.await)?;
        Some(CreateOrganizationUserPayload::new(
            outcome,
            input.client_mutation_id,
        ))
    }

    /// Creates a user of a customer and invites them by email: the mail links to a page where they choose their password (valid 72 hours).
    async fn create_customer_user(
        &self,
        ctx: &Context<'_>,
        input: CreateCustomerUserInput,
    ) -> Option<CreateCustomerUserPayload> {
        let outcome = async {
            let scope = Scope::of(ctx)?;
            let users = &scope.services.users;
            run(input.parse(), |(customer, new)| {
                users.create_customer_user(scope.actor, customer, new)
            })
            .await
        };
        let outcome = or_null(ctx, outcome.await)?;
        Some(CreateCustomerUserPayload::new(
            outcome,
            input.client_mutation_id,
        ))
    }

    /// Changes the sent fields of a user.
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        input: UpdateUserInput,
    ) -> Option<UpdateUserPayload> {
        let outcome = async {
            let scope = Scope::of(ctx)?;
            let users = &scope.services.users;
            run(input.parse(), |(id, patch, expected)| {
                users.update_user(scope.actor, id, patch, expected)
            })
            .await
        };
        let outcome = or_null(ctx, outcome.await)?;
        Some(UpdateUserPayload::new(outcome, input.client_mutation_id))
    }

    /// Deletes another user.
    async fn delete_user(
        &self,
        ctx: &Context<'_>,
        input: DeleteUserInput,
    ) -> Option<DeleteUserPayload> {
        let outcome = async {
            let scope = Scope::of(ctx)?;
            let users = &scope.services.users;
            run(input.parse(), |(id, expected)| {
                users.delete_user(scope.actor, id, expected)
            })
            .await
        };
        let outcome = or_null(ctx, outcome.await)?;
        Some(DeleteUserPayload::new(outcome, input.client_mutation_id))
    }

    /// Lets an embedded subject whose user was deleted sign in again: its next JWT creates a
    /// new user. Owners and Admins only.
    async fn unblock_embedded_user(
        &self,
        ctx: &Context<'_>,
        input: UnblockEmbeddedUserInput,
    ) -> Option<UnblockEmbeddedUserPayload> {
        let outcome = async {
            let scope = Scope::of(ctx)?;
            let embedded = &scope.services.embedded_users;
            run(input.parse(), |(customer, subject)| async move {
                embedded
                    .unblock_embedded_user(scope.actor, customer, &subject)
                    .await
            })
            .await
        };
        let outcome = or_null(ctx, outcome.await)?;
        Some(UnblockEmbeddedUserPayload::new(
            outcome,
            input.client_mutation_id,
        ))
    }

    /// Emails the user a new invitation link with a renewed 72-hour expiry; the previous link
    /// stops working. Needs the permission to manage that user; refused once accepted.
    async fn resend_invitation(
        &self,
        ctx: &Context<'_>,
        input: ResendInvitationInput,
    ) -> Option<ResendInvitationPayload> {
        let outcome = async {
            let scope = Scope::of(ctx)?;
            let invitations = &scope.services.invitations;
            run(input.parse(), |id| {
                invitations.resend_invitation(scope.actor, id)
            })
            .await
        };
        let outcome = or_null(ctx, outcome.await)?;
        Some(ResendInvitationPayload::new(
            outcome,
            input.client_mutation_id,
        ))
    }

    /// Generates an RSA key pair for embedded-user JWTs; keeps only the public half and
    /// returns the private key this once.
    async fn create_organization_signing_key(
        &self,
        ctx: &Context<'_>,
        input: CreateOrganizationSigningKeyInput,
    ) -> Option<CreateOrganizationSigningKeyPayload> {
        let outcome = async {
            let scope = Scope::of(ctx)?;
            outcome(
                scope
                    .services
                    .signing_keys
                    .create_signing_key(scope.actor)
                    .await,
            )
        };
        let (result, errors) = match or_null(ctx, outcome.await)? {
            Outcome::Done(generated) => (
                Some(CreateOrganizationSigningKeyResult {
                    private_key: generated.private_key_pem,
                    organization_signing_key: SigningKeyNode(generated.key),
                }),
                Vec::new(),
            ),
            Outcome::Rejected(errors) => (None, errors),
        };
        Some(CreateOrganizationSigningKeyPayload {
            result,
            errors,
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Registers a PEM RSA public key for embedded-user JWTs.
    async fn import_organization_signing_key(
        &self,
        ctx: &Context<'_>,
        input: ImportOrganizationSigningKeyInput,
    ) -> Option<ImportOrganizationSigningKeyPayload> {
        let outcome = async {
            let scope = Scope::of(ctx)?;
            let keys = &scope.services.signing_keys;
            run(Ok(input.public_key.as_str()), |public_key| {
                keys.import_signing_key(scope.actor, public_key)
            })
            .await
        };
        let outcome = or_null(ctx, outcome.await)?;
        Some(ImportOrganizationSigningKeyPayload::new(
            outcome,
            input.client_mutation_id,
        ))
    }

    /// Deletes a signing key; JWTs signed with it stop working at once.
    async fn delete_organization_signing_key(
        &self,
        ctx: &Context<'_>,
        input: DeleteOrganizationSigningKeyInput,
    ) -> Option<DeleteOrganizationSigningKeyPayload> {
        let outcome = async {
            let scope = Scope::of(ctx)?;
            let keys = &scope.services.signing_keys;
            run(input.parse(), |id| keys.delete_signing_key(scope.actor, id)).await
        };
        let outcome = or_null(ctx, outcome.await)?;
        Some(DeleteOrganizationSigningKeyPayload::new(
            outcome,
            input.client_mutation_id,
        ))
    }
}
