//! Customers: the organizations' own clients, and the inputs that create and change them.

use crate::Timestamp;
use crate::error::{ErrorCode, Field, FieldError, ValidationErrors};
use crate::id::{CustomerId, OrganizationId};
use crate::text::{AvatarUrl, CustomerName, Description, ExecutionLimit, ExternalId, Labels};
use crate::version::Version;

/// A file linked to a customer: a name (1..=255 characters) and an `http(s)` URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Attachment {
    name: String,
    url: AvatarUrl,
}

impl Attachment {
    /// Most attachments a customer may carry, so that a customer's row stays small.
    pub const MAX_PER_CUSTOMER: usize = 50;

    /// Checks an attachment given in input `field`.
    pub fn parse(field: Field, name: &str, url: &str) -> Result<Self, FieldError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(FieldError::invalid(field, "Attachment name is required."));
        }
        if name.chars().count() > CustomerName::MAX {
            return Err(FieldError::too_long(field, CustomerName::MAX));
        }
        crate::text::check_single_line(field, name)?;
        let url = AvatarUrl::parse(field, url)?;
        Ok(Attachment {
            name: name.to_owned(),
            url,
        })
    }

    /// The attachment's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the attachment lives.
    pub fn url(&self) -> &str {
        self.url.as_str()
    }
}

/// A customer of an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub id: CustomerId,
    pub organization_id: OrganizationId,
    pub name: CustomerName,
    pub description: Description,
    pub external_id: Option<ExternalId>,
    pub labels: Labels,
    pub is_system: bool,
    pub avatar_url: Option<AvatarUrl>,
    pub allow_embedded_designer: bool,
    pub allow_workflow_copilot: bool,
    pub concurrent_execution_limit: Option<ExecutionLimit>,
    pub starred: bool,
    pub attachments: Vec<Attachment>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// How many times the row was written (see [`Version`]).
    pub version: Version,
}

/// The part of a customer that lists of customers show (which one, its name and external
/// id), so a listing that selects nothing else reads three columns of its row instead of
/// all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerSummary {
    pub id: CustomerId,
    pub name: CustomerName,
    pub external_id: Option<ExternalId>,
}

impl From<Customer> for CustomerSummary {
    fn from(customer: Customer) -> Self {
        CustomerSummary {
            id: customer.id,
            name: customer.name,
            external_id: customer.external_id,
        }
    }
}

/// `createCustomer`'s input as it arrives, before any rule is checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerDraft {
    pub name: String,
    pub description: Option<String>,
    pub external_id: Option<String>,
    pub labels: Option<Vec<Option<String>>>,
    pub allow_embedded_designer: Option<bool>,
    pub allow_workflow_copilot: Option<bool>,
    pub concurrent_execution_limit: Option<i64>,
}

/// A valid new customer, not yet stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCustomer {
    pub name: CustomerName,
    pub description: Description,
    pub external_id: Option<ExternalId>,
    pub labels: Labels,
    pub allow_embedded_designer: bool,
    pub allow_workflow_copilot: bool,
    pub concurrent_execution_limit: Option<ExecutionLimit>,
}

impl NewCustomer {
    /// Checks every rule of a draft and reports all failures together.
    pub fn parse(draft: CustomerDraft) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = errors.collect(CustomerName::parse(&draft.name));
        let description = errors.collect(
            draft
                .description
                .as_deref()
                .map_or(Ok(Description::empty()), Description::parse),
        );
        let external_id = errors.collect(
            draft
                .external_id
                .as_deref()
                .map_or(Ok(None), ExternalId::parse_optional),
        );
        let labels = errors.collect(
            draft
                .labels
                .as_deref()
                .map_or(Ok(Labels::default()), Labels::parse),
        );
        let limit = errors.collect(
            draft
                .concurrent_execution_limit
                .map(ExecutionLimit::parse)
                .transpose(),
        );
        errors.finish(|| {
            Some(NewCustomer {
                name: name?,
                description: description?,
                external_id: external_id?,
                labels: labels?,
                allow_embedded_designer: draft.allow_embedded_designer.unwrap_or(false),
                allow_workflow_copilot: draft.allow_workflow_copilot.unwrap_or(false),
                concurrent_execution_limit: limit?,
            })
        })
    }

    /// The stored customer this input becomes, in `organization_id`, created at `now`.
    pub fn into_customer(self, organization_id: OrganizationId, now: Timestamp) -> Customer {
        Customer {
            id: CustomerId::generate(),
            organization_id,
            name: self.name,
            description: self.description,
            external_id: self.external_id,
            labels: self.labels,
            is_system: false,
            avatar_url: None,
            allow_embedded_designer: self.allow_embedded_designer,
            allow_workflow_copilot: self.allow_workflow_copilot,
            concurrent_execution_limit: self.concurrent_execution_limit,
            starred: false,
            attachments: Vec::new(),
            created_at: now,
            updated_at: now,
            version: Version::FIRST,
        }
    }
}

/// An attachment named in input: its name, its URL and, for a rename, its old name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttachmentDraft {
    pub name: String,
    pub url: String,
    pub old_name: Option<String>,
}

/// `updateCustomer`'s input as it arrives. `None` leaves a field unchanged; for
/// `concurrent_execution_limit`, `Some(None)` (an explicit `null`) removes the limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerPatchDraft {
    pub name: Option<String>,
    pub description: Option<String>,
    pub external_id: Option<String>,
    pub labels: Option<Vec<Option<String>>>,
    pub avatar_url: Option<String>,
    pub allow_embedded_designer: Option<bool>,
    pub allow_workflow_copilot: Option<bool>,
    pub concurrent_execution_limit: Option<Option<i64>>,
    pub starred: Option<bool>,
    pub add_attachment: Option<AttachmentDraft>,
    pub remove_attachment: Option<AttachmentDraft>,
    pub rename_attachment: Option<AttachmentDraft>,
}

/// A valid change to a customer: only the `Some` fields change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerPatch {
    pub name: Option<CustomerName>,
    pub description: Option<Description>,
    pub external_id: Option<Option<ExternalId>>,
    pub labels: Option<Labels>,
    pub avatar_url: Option<Option<AvatarUrl>>,
    pub allow_embedded_designer: Option<bool>,
    pub allow_workflow_copilot: Option<bool>,
    pub concurrent_execution_limit: Option<Option<ExecutionLimit>>,
    pub starred: Option<bool>,
    pub add_attachment: Option<Attachment>,
    pub remove_attachment: Option<Attachment>,
    /// The attachment's old name, and the attachment as it becomes.
    pub rename_attachment: Option<(String, Attachment)>,
}

impl CustomerPatch {
    /// Checks every rule of a draft and reports all failures together.
    pub fn parse(draft: CustomerPatchDraft) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = errors.collect(draft.name.as_deref().map(CustomerName::parse).transpose());
        let description = errors.collect(
            draft
                .description
                .as_deref()
                .map(Description::parse)
                .transpose(),
        );
        let external_id = errors.collect(
            draft
                .external_id
                .as_deref()
                .map(ExternalId::parse_optional)
                .transpose(),
        );
        let labels = errors.collect(draft.labels.as_deref().map(Labels::parse).transpose());
        let avatar_url = errors.collect(
            draft
                .avatar_url
                .as_deref()
                .map(|url| AvatarUrl::parse_optional(Field::AvatarUrl, url))
                .transpose(),
        );
        let limit = errors.collect(
            draft
                .concurrent_execution_limit
                .map(|limit| limit.map(ExecutionLimit::parse).transpose())
                .transpose(),
        );
        let attachment = |field: Field, draft: Option<&AttachmentDraft>| {
            draft
                .map(|a| Attachment::parse(field, &a.name, &a.url))
                .transpose()
        };
        let add = errors.collect(attachment(
            Field::AddAttachment,
            draft.add_attachment.as_ref(),
        ));
        let remove = errors.collect(attachment(
            Field::RemoveAttachment,
            draft.remove_attachment.as_ref(),
        ));
        let rename = errors.collect(
            attachment(Field::RenameAttachment, draft.rename_attachment.as_ref()).map(|renamed| {
                renamed.map(|attachment| {
                    let old = draft
                        .rename_attachment
                        .as_ref()
                        .and_then(|a| a.old_name.clone());
                    (old.unwrap_or_default().trim().to_owned(), attachment)
                })
            }),
        );
        errors.finish(|| {
            Some(CustomerPatch {
                name: name?,
                description: description?,
                external_id: external_id?,
                labels: labels?,
                avatar_url: avatar_url?,
                allow_embedded_designer: draft.allow_embedded_designer,
                allow_workflow_copilot: draft.allow_workflow_copilot,
                concurrent_execution_limit: limit?,
                starred: draft.starred,
                add_attachment: add?,
                remove_attachment: remove?,
                rename_attachment: rename?,
            })
        })
    }

    /// The customer as this patch leaves it, updated at `now`.
    ///
    /// Fails when an attachment to remove or rename is not there, or one to add is, or
    /// when adding one would exceed [`Attachment::MAX_PER_CUSTOMER`] (counted after this
    /// patch's removal, so one patch may swap an attachment at the cap).
    pub fn apply(&self, customer: &Customer, now: Timestamp) -> Result<Customer, ValidationErrors> {
        let mut next = customer.clone();
        let mut errors = ValidationErrors::new();
        if let Some(name) = &self.name {
            next.name = name.clone();
        }
        if let Some(description) = &self.description {
            next.description = description.clone();
        }
        if let Some(external_id) = &self.external_id {
            next.external_id = external_id.clone();
        }
        if let Some(labels) = &self.labels {
            next.labels = labels.clone();
        }
        if let Some(avatar_url) = &self.avatar_url {
            next.avatar_url = avatar_url.clone();
        }
        if let Some(allow) = self.allow_embedded_designer {
            next.allow_embedded_designer = allow;
        }
        if let Some(allow) = self.allow_workflow_copilot {
            next.allow_workflow_copilot = allow;
        }
        if let Some(limit) = self.concurrent_execution_limit {
            next.concurrent_execution_limit = limit;
        }
        if let Some(starred) = self.starred {
            next.starred = starred;
        }
        if let Some(removed) = &self.remove_attachment {
            let before = next.attachments.len();
            next.attachments.retain(|a| a != removed);
            if next.attachments.len() == before {
                errors.push(FieldError::new(
                    Field::RemoveAttachment,
                    ErrorCode::NotFound,
                    "No such attachment.",
                ));
            }
        }
        if let Some((old_name, renamed)) = &self.rename_attachment {
            match next
                .attachments
                .iter_mut()
                .find(|a| a.name == *old_name && a.url == renamed.url)
            {
                Some(attachment) => attachment.name = renamed.name.clone(),
                None => errors.push(FieldError::new(
                    Field::RenameAttachment,
                    ErrorCode::NotFound,
                    "No such attachment.",
                )),
            }
        }
        if let Some(added) = &self.add_attachment {
            if next.attachments.iter().any(|a| a.name == added.name) {
                errors.push(FieldError::taken(
                    Field::AddAttachment,
                    "An attachment with this name",
                ));
            } else if next.attachments.len() >= Attachment::MAX_PER_CUSTOMER {
                errors.push(FieldError::new(
                    Field::AddAttachment,
                    ErrorCode::TooLong,
                    format!(
                        "Ensure this customer has at most {} attachments.",
                        Attachment::MAX_PER_CUSTOMER
                    ),
                ));
            } else {
                next.attachments.push(added.clone());
            }
        }
        next.updated_at = now;
        errors.finish(|| Some(next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(name: &str) -> CustomerDraft {
        CustomerDraft {
            name: name.into(),
            ..CustomerDraft::default()
        }
    }

    #[test]
    fn seed_example_parses() {
        let customer = NewCustomer::parse(CustomerDraft {
            name: "FTL Rockets".into(),
            description: Some("Faster-than-light Rocket Company, LLC".into()),
            external_id: Some("abc-123".into()),
            ..CustomerDraft::default()
        })
        .unwrap();
        assert_eq!(customer.name.as_str(), "FTL Rockets");
        assert_eq!(customer.external_id.unwrap().as_str(), "abc-123");
    }

    #[test]
    fn python_sample_defaults_mean_unset() {
        let customer = NewCustomer::parse(CustomerDraft {
            description: Some(String::new()),
            external_id: Some(String::new()),
            ..draft("Acme")
        })
        .unwrap();
        assert_eq!(customer.description.as_str(), "");
        assert_eq!(customer.external_id, None);
    }

    #[test]
    fn reports_every_invalid_field_at_once() {
        let errors = NewCustomer::parse(CustomerDraft {
            name: " ".into(),
            description: Some("d".repeat(4097)),
            external_id: Some("e".repeat(256)),
            labels: Some(vec![Some("a".into()), Some("a".into())]),
            concurrent_execution_limit: Some(0),
            ..CustomerDraft::default()
        })
        .unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                Field::Name,
                Field::Description,
                Field::ExternalId,
                Field::Labels,
                Field::ConcurrentExecutionLimit
            ]
        );
    }

    #[test]
    fn patch_changes_only_sent_fields() {
        let customer = NewCustomer::parse(CustomerDraft {
            external_id: Some("x".into()),
            labels: Some(vec![Some("old".into())]),
            ..draft("Acme")
        })
        .unwrap()
        .into_customer(OrganizationId::generate(), crate::now());
        let patch = CustomerPatch::parse(CustomerPatchDraft {
            description: Some("new".into()),
            labels: Some(vec![Some("new".into())]),
            ..CustomerPatchDraft::default()
        })
        .unwrap();
        let later = crate::now();
        let updated = patch.apply(&customer, later).unwrap();
        assert_eq!(updated.name, customer.name);
        assert_eq!(updated.external_id, customer.external_id);
        assert_eq!(updated.description.as_str(), "new");
        assert_eq!(updated.labels.to_strings(), ["new"]);
        assert_eq!(updated.updated_at, later);
        let cleared = CustomerPatch::parse(CustomerPatchDraft {
            external_id: Some(String::new()),
            ..CustomerPatchDraft::default()
        })
        .unwrap()
        .apply(&customer, later)
        .unwrap();
        assert_eq!(cleared.external_id, None);
    }

    #[test]
    fn attachments_are_added_renamed_and_removed() {
        let customer = NewCustomer::parse(draft("Acme"))
            .unwrap()
            .into_customer(OrganizationId::generate(), crate::now());
        let url = "https://files.example.com/a.pdf";
        let add = CustomerPatch::parse(CustomerPatchDraft {
            add_attachment: Some(AttachmentDraft {
                name: "a".into(),
                url: url.into(),
                old_name: None,
            }),
            ..CustomerPatchDraft::default()
        })
        .unwrap();
        let with = add.apply(&customer, crate::now()).unwrap();
        assert_eq!(with.attachments.len(), 1);
        assert!(add.apply(&with, crate::now()).is_err(), "duplicate name");
        let rename = CustomerPatch::parse(CustomerPatchDraft {
            rename_attachment: Some(AttachmentDraft {
                name: "b".into(),
                url: url.into(),
                old_name: Some("a".into()),
            }),
            ..CustomerPatchDraft::default()
        })
        .unwrap();
        let renamed = rename.apply(&with, crate::now()).unwrap();
        assert_eq!(renamed.attachments[0].name(), "b");
        let remove = CustomerPatch::parse(CustomerPatchDraft {
            remove_attachment: Some(AttachmentDraft {
                name: "b".into(),
                url: url.into(),
                old_name: None,
            }),
            ..CustomerPatchDraft::default()
        })
        .unwrap();
        assert!(
            remove
                .apply(&renamed, crate::now())
                .unwrap()
                .attachments
                .is_empty()
        );
        assert!(
            remove.apply(&customer, crate::now()).is_err(),
            "nothing to remove"
        );
    }

    fn attachment_patch(kind: &str, name: &str) -> CustomerPatch {
        let draft = AttachmentDraft {
            name: name.into(),
            url: format!("https://files.example.com/{name}.pdf"),
            old_name: None,
        };
        CustomerPatch::parse(match kind {
            "add" => CustomerPatchDraft {
                add_attachment: Some(draft),
                ..CustomerPatchDraft::default()
            },
            _ => CustomerPatchDraft {
                remove_attachment: Some(draft.clone()),
                add_attachment: Some(AttachmentDraft {
                    name: format!("{name}-new"),
                    ..draft
                }),
                ..CustomerPatchDraft::default()
            },
        })
        .unwrap()
    }

    #[test]
    fn a_customer_holds_at_most_fifty_attachments() {
        let mut customer = NewCustomer::parse(draft("Acme"))
            .unwrap()
            .into_customer(OrganizationId::generate(), crate::now());
        // One attachment per patch, as 400 aliased `updateCustomer` would send them.
        let mut refused = 0;
        for n in 0..400 {
            match attachment_patch("add", &format!("file{n}")).apply(&customer, crate::now()) {
                Ok(next) => customer = next,
                Err(errors) => {
                    let errors = errors.errors();
                    assert_eq!(errors.len(), 1);
                    assert_eq!(errors[0].field, Field::AddAttachment);
                    assert_eq!(errors[0].code, ErrorCode::TooLong);
                    assert!(errors[0].message.contains("50"), "{}", errors[0].message);
                    refused += 1;
                }
            }
        }
        assert_eq!(customer.attachments.len(), Attachment::MAX_PER_CUSTOMER);
        assert_eq!(refused, 400 - Attachment::MAX_PER_CUSTOMER);
        // At the cap, one patch may still replace an attachment (removal counts first).
        let swapped = attachment_patch("swap", "file0")
            .apply(&customer, crate::now())
            .unwrap();
        assert_eq!(swapped.attachments.len(), Attachment::MAX_PER_CUSTOMER);
        assert!(swapped.attachments.iter().any(|a| a.name() == "file0-new"));
        // Other fields of a customer at the cap still change.
        let renamed = CustomerPatch::parse(CustomerPatchDraft {
            name: Some("Acme 2".into()),
            ..CustomerPatchDraft::default()
        })
        .unwrap()
        .apply(&customer, crate::now())
        .unwrap();
        assert_eq!(renamed.name.as_str(), "Acme 2");
    }
}
