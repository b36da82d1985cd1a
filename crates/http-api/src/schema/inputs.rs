//! Mutation inputs, declared exactly as Prismatic's (field names, types, nullability), and
//! their parsing into domain values. Every problem of one input is reported together.

use async_graphql::{ID, InputObject, MaybeUndefined};
use domain::{
    AttachmentDraft, CustomerDraft, CustomerId, CustomerPatch, CustomerPatchDraft, Field,
    FieldError, InvalidId, NewCustomer, NewUser, RoleId, SigningKeyId, UserDraft, UserId,
    UserPatch, UserPatchDraft, ValidationErrors, Version,
};
use wire::Global as _;

use super::error::invalid_id;

/// An input parsed for the directory, or every reason it cannot be.
pub(crate) type Parsed<T> = Result<T, ValidationErrors>;

/// Input of `createCustomer`.
#[derive(InputObject)]
pub(crate) struct CreateCustomerInput {
    name: String,
    description: Option<String>,
    external_id: Option<String>,
    labels: Option<Vec<Option<String>>>,
    allow_embedded_designer: Option<bool>,
    allow_workflow_copilot: Option<bool>,
    concurrent_execution_limit: Option<i32>,
    pub(crate) client_mutation_id: Option<String>,
}

impl CreateCustomerInput {
    /// The new customer this input describes.
    pub(crate) fn parse(&self) -> Parsed<NewCustomer> {
        NewCustomer::parse(CustomerDraft {
            name: self.name.clone(),
            description: self.description.clone(),
            external_id: self.external_id.clone(),
            labels: self.labels.clone(),
            allow_embedded_designer: self.allow_embedded_designer,
            allow_workflow_copilot: self.allow_workflow_copilot,
            concurrent_execution_limit: self.concurrent_execution_limit.map(i64::from),
        })
    }
}

/// An attachment to add or remove.
#[derive(InputObject)]
pub(crate) struct AttachmentInput {
    name: String,
    url: String,
}

/// An attachment to rename: its current `oldName` and `url`, and its new `name`.
#[derive(InputObject)]
pub(crate) struct AttachmentRenameInput {
    name: String,
    old_name: String,
    url: String,
}

/// Input of `updateCustomer`: only sent fields change; `labels` replaces the list.
#[derive(InputObject)]
pub(crate) struct UpdateCustomerInput {
    id: Option<ID>,
    name: Option<String>,
    description: Option<String>,
    external_id: Option<String>,
    labels: Option<Vec<Option<String>>>,
    avatar_url: Option<String>,
    allow_embedded_designer: Option<bool>,
    allow_workflow_copilot: Option<bool>,
    /// Absent: unchanged; `null`: no limit.
    concurrent_execution_limit: MaybeUndefined<i32>,
    starred: Option<bool>,
    add_attachment: Option<AttachmentInput>,
    remove_attachment: Option<AttachmentInput>,
    rename_attachment: Option<AttachmentRenameInput>,
    /// Roster: change the customer only if it is still at this `version`; else the payload
    /// error `STALE` on `expectedVersion`, and nothing changes.
    expected_version: Option<i32>,
    pub(crate) client_mutation_id: Option<String>,
}

impl UpdateCustomerInput {
    /// The customer to change, the change, and the version it must be at.
    pub(crate) fn parse(&self) -> Parsed<(CustomerId, CustomerPatch, Option<Version>)> {
        let attachment = |input: &AttachmentInput| AttachmentDraft {
            name: input.name.clone(),
            url: input.url.clone(),
            old_name: None,
        };
        let limit = match self.concurrent_execution_limit {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(limit) => Some(Some(i64::from(limit))),
        };
        let patch = CustomerPatch::parse(CustomerPatchDraft {
            name: self.name.clone(),
            description: self.description.clone(),
            external_id: self.external_id.clone(),
            labels: self.labels.clone(),
            avatar_url: self.avatar_url.clone(),
            allow_embedded_designer: self.allow_embedded_designer,
            allow_workflow_copilot: self.allow_workflow_copilot,
            concurrent_execution_limit: limit,
            starred: self.starred,
            add_attachment: self.add_attachment.as_ref().map(attachment),
            remove_attachment: self.remove_attachment.as_ref().map(attachment),
            rename_attachment: self
                .rename_attachment
                .as_ref()
                .map(|input| AttachmentDraft {
                    name: input.name.clone(),
                    url: input.url.clone(),
                    old_name: Some(input.old_name.clone()),
                }),
        });
        with_version(
            together(required_id(&self.id, CustomerId::parse_global), patch),
            self.expected_version,
        )
    }
}

/// Input of `deleteCustomer`.
#[derive(InputObject)]
pub(crate) struct DeleteCustomerInput {
    id: Option<ID>,
    /// Roster: delete the customer only if it is still at this `version`; else the payload
    /// error `STALE` on `expectedVersion`, and nothing is deleted.
    expected_version: Option<i32>,
    pub(crate) client_mutation_id: Option<String>,
}

impl DeleteCustomerInput {
    /// The customer to delete and the version it must be at.
    pub(crate) fn parse(&self) -> Parsed<(CustomerId, Option<Version>)> {
        let id = required_id(&self.id, CustomerId::parse_global).map_err(ValidationErrors::from);
        with_version(id, self.expected_version)
    }
}

/// Input of `createOrganizationUser`.
#[derive(InputObject)]
pub(crate) struct CreateOrganizationUserInput {
    email: String,
    role: ID,
    name: Option<String>,
    phone: Option<String>,
    external_id: Option<String>,
    pub(crate) client_mutation_id: Option<String>,
}

impl CreateOrganizationUserInput {
    /// The new team member.
    pub(crate) fn parse(&self) -> Parsed<NewUser> {
        NewUser::parse(UserDraft {
            email: self.email.clone(),
            role: RoleId::parse_global(&self.role),
            name: self.name.clone(),
            phone: self.phone.clone(),
            external_id: self.external_id.clone(),
        })
    }
}

/// Input of `createCustomerUser`; without `customer`, the caller's own customer.
#[derive(InputObject)]
pub(crate) struct CreateCustomerUserInput {
    customer: Option<ID>,
    email: String,
    role: ID,
    name: Option<String>,
    phone: Option<String>,
    external_id: Option<String>,
    pub(crate) client_mutation_id: Option<String>,
}

impl CreateCustomerUserInput {
    /// The customer (the caller's own when absent) and the new user.
    pub(crate) fn parse(&self) -> Parsed<(Option<CustomerId>, NewUser)> {
        let customer = self
            .customer
            .as_ref()
            .map(|id| CustomerId::parse_global(id).map_err(|_| invalid_id(Field::Customer)))
            .transpose();
        let user = NewUser::parse(UserDraft {
            email: self.email.clone(),
            role: RoleId::parse_global(&self.role),
            name: self.name.clone(),
            phone: self.phone.clone(),
            external_id: self.external_id.clone(),
        });
        together(customer, user)
    }
}

/// Input of `updateUser`: absent or `null` leaves a field unchanged; `""` clears `phone` and `externalId`.
#[derive(InputObject)]
pub(crate) struct UpdateUserInput {
    id: Option<ID>,
    name: Option<String>,
    phone: Option<String>,
    external_id: Option<String>,
    role: Option<ID>,
    avatar_url: Option<String>,
    dark_mode: Option<bool>,
    dark_mode_sync_with_os: Option<bool>,
    feature_flags: Option<String>,
    /// Roster: change the user only if it is still at this `version`; else the payload error
    /// `STALE` on `expectedVersion`, and nothing changes.
    expected_version: Option<i32>,
    pub(crate) client_mutation_id: Option<String>,
}

impl UpdateUserInput {
    /// The user to change, the change, and the version it must be at.
    pub(crate) fn parse(&self) -> Parsed<(UserId, UserPatch, Option<Version>)> {
        let patch = UserPatch::parse(UserPatchDraft {
            name: self.name.clone(),
            phone: self.phone.clone(),
            external_id: self.external_id.clone(),
            role: self.role.as_ref().map(|role| RoleId::parse_global(role)),
            avatar_url: self.avatar_url.clone(),
            dark_mode: self.dark_mode,
            dark_mode_sync_with_os: self.dark_mode_sync_with_os,
            feature_flags: self.feature_flags.clone(),
        });
        with_version(
            together(required_id(&self.id, UserId::parse_global), patch),
            self.expected_version,
        )
    }
}

/// Input of `deleteUser`.
#[derive(InputObject)]
pub(crate) struct DeleteUserInput {
    id: Option<ID>,
    /// Roster: delete the user only if it is still at this `version`; else the payload error
    /// `STALE` on `expectedVersion`, and nothing is deleted.
    expected_version: Option<i32>,
    pub(crate) client_mutation_id: Option<String>,
}

impl DeleteUserInput {
    /// The user to delete and the version it must be at.
    pub(crate) fn parse(&self) -> Parsed<(UserId, Option<Version>)> {
        let id = required_id(&self.id, UserId::parse_global).map_err(ValidationErrors::from);
        with_version(id, self.expected_version)
    }
}

/// Input of `deactivateUser` and `reactivateUser` (Roster).
#[derive(InputObject)]
pub(crate) struct SetUserActiveInput {
    id: Option<ID>,
    /// Change the user only if it is still at this `version`; else the payload error
    /// `STALE` on `expectedVersion`, and nothing changes.
    expected_version: Option<i32>,
    pub(crate) client_mutation_id: Option<String>,
}

impl SetUserActiveInput {
    /// The user to change and the version it must be at.
    pub(crate) fn parse(&self) -> Parsed<(UserId, Option<Version>)> {
        let id = required_id(&self.id, UserId::parse_global).map_err(ValidationErrors::from);
        with_version(id, self.expected_version)
    }
}

/// Input of `resendInvitation`.
#[derive(InputObject)]
pub(crate) struct ResendInvitationInput {
    /// The invited user.
    user: Option<ID>,
    pub(crate) client_mutation_id: Option<String>,
}

impl ResendInvitationInput {
    /// The user to send a new link to.
    pub(crate) fn parse(&self) -> Parsed<UserId> {
        Ok(required_id_of(
            &self.user,
            Field::User,
            UserId::parse_global,
        )?)
    }
}

/// Input of `createOrganizationSigningKey`.
#[derive(InputObject)]
pub(crate) struct CreateOrganizationSigningKeyInput {
    pub(crate) client_mutation_id: Option<String>,
}

/// Input of `importOrganizationSigningKey`.
#[derive(InputObject)]
pub(crate) struct ImportOrganizationSigningKeyInput {
    /// A PEM RSA public key.
    pub(crate) public_key: String,
    pub(crate) client_mutation_id: Option<String>,
}

/// Input of `deleteOrganizationSigningKey`.
#[derive(InputObject)]
pub(crate) struct DeleteOrganizationSigningKeyInput {
    id: Option<ID>,
    pub(crate) client_mutation_id: Option<String>,
}

impl DeleteOrganizationSigningKeyInput {
    /// The key to delete.
    pub(crate) fn parse(&self) -> Parsed<SigningKeyId> {
        Ok(required_id(&self.id, SigningKeyId::parse_global)?)
    }
}

/// Input of `unblockEmbeddedUser` (Roster's own): the customer and the embedded JWT's `sub`
/// whose user was deleted.
#[derive(InputObject)]
pub(crate) struct UnblockEmbeddedUserInput {
    customer: ID,
    subject: String,
    pub(crate) client_mutation_id: Option<String>,
}

impl UnblockEmbeddedUserInput {
    /// The customer and the subject (trimmed), both required.
    pub(crate) fn parse(&self) -> Parsed<(CustomerId, String)> {
        let customer = required_id_of(
            &Some(self.customer.clone()),
            Field::Customer,
            CustomerId::parse_global,
        );
        let subject = self.subject.trim();
        let subject = if subject.is_empty() {
            Err(FieldError::required(Field::Subject))
        } else {
            Ok(subject.to_owned())
        };
        match (customer, subject) {
            (Ok(customer), Ok(subject)) => Ok((customer, subject)),
            (customer, subject) => Err(customer
                .err()
                .into_iter()
                .chain(subject.err())
                .collect::<Vec<_>>()
                .into()),
        }
    }
}

/// The `id` input, which Prismatic declares nullable and requires at run time.
fn required_id<T>(
    id: &Option<ID>,
    parse: impl Fn(&str) -> Result<T, InvalidId>,
) -> Result<T, FieldError> {
    required_id_of(id, Field::Id, parse)
}

/// Like [`required_id`], for an id in another field.
pub(crate) fn required_id_of<T>(
    id: &Option<ID>,
    field: Field,
    parse: impl Fn(&str) -> Result<T, InvalidId>,
) -> Result<T, FieldError> {
    match id.as_ref().map(|id| id.trim()) {
        None | Some("") => Err(FieldError::required(field)),
        Some(text) => parse(text).map_err(|_| invalid_id(field)),
    }
}

/// `parsed` with the `expectedVersion` input added (flattened into its tuple), or the
/// errors of both, `parsed`'s first.
fn with_version<T: Flatten>(parsed: Parsed<T>, expected: Option<i32>) -> Parsed<T::With> {
    let version = expected.map(|n| Version::parse(i64::from(n))).transpose();
    match (parsed, version) {
        (Ok(parsed), Ok(version)) => Ok(parsed.with(version)),
        (Ok(_), Err(error)) => Err(error.into()),
        (Err(errors), Ok(_)) => Err(errors),
        (Err(mut errors), Err(error)) => {
            errors.push(error);
            Err(errors)
        }
    }
}

/// A parsed input that takes one more element, the expected version, at its end.
trait Flatten {
    type With;
    fn with(self, version: Option<Version>) -> Self::With;
}

impl<A, B> Flatten for (A, B) {
    type With = (A, B, Option<Version>);
    fn with(self, version: Option<Version>) -> Self::With {
        (self.0, self.1, version)
    }
}

impl Flatten for CustomerId {
    type With = (CustomerId, Option<Version>);
    fn with(self, version: Option<Version>) -> Self::With {
        (self, version)
    }
}

impl Flatten for UserId {
    type With = (UserId, Option<Version>);
    fn with(self, version: Option<Version>) -> Self::With {
        (self, version)
    }
}

/// Both parts, or the errors of both, the reference's first.
fn together<A, B>(reference: Result<A, FieldError>, rest: Parsed<B>) -> Parsed<(A, B)> {
    match (reference, rest) {
        (Ok(reference), Ok(rest)) => Ok((reference, rest)),
        (Ok(_), Err(errors)) => Err(errors),
        (Err(error), Ok(_)) => Err(error.into()),
        (Err(error), Err(errors)) => {
            let mut all = ValidationErrors::from(error);
            for error in errors.errors() {
                all.push(error.clone());
            }
            Err(all)
        }
    }
}
