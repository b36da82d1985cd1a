//! The `Mutation` root: Relay-style mutations with one `input` and a payload of the
//! object, `errors` and the echoed `clientMutationId`.
//!
//! Payload fields are nullable, so a top-level error (`FORBIDDEN`, `INTERNAL`...) nulls only
//! its own mutation.

use async_graphql::{Context, Object, SimpleObject};
use domain::{Customer, User};
use ports::DirectoryError;

use super::context::Scope;
use super::customer::CustomerNode;
use super::error::{ApiError, ErrorType, Outcome, or_null, outcome, payload_errors};
use super::inputs::{
    CreateCustomerInput, CreateCustomerUserInput, CreateOrganizationUserInput, DeleteCustomerInput,
    DeleteUserInput, Parsed, UpdateCustomerInput, UpdateUserInput,
};
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
    /// Result of `deleteUser`: the user as it was.
    DeleteUserPayload { user: UserNode(User) }
);

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
            run(input.parse(), |(id, patch)| {
                customers.update_customer(scope.actor, id, patch)
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
            run(input.parse(), |id| {
                customers.delete_customer(scope.actor, id)
            })
            .await
        };
        let outcome = or_null(ctx, outcome.await)?;
        Some(DeleteCustomerPayload::new(
            outcome,
            input.client_mutation_id,
        ))
    }

    /// Creates a team member and invites them by email.
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

    /// Creates a user of a customer and invites them by email.
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
            run(input.parse(), |(id, patch)| {
                users.update_user(scope.actor, id, patch)
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
            run(input.parse(), |id| users.delete_user(scope.actor, id)).await
        };
        let outcome = or_null(ctx, outcome.await)?;
        Some(DeleteUserPayload::new(outcome, input.client_mutation_id))
    }
}
