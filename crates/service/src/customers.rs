//! The customer use cases.

use async_trait::async_trait;
use domain::access::CustomerScope;
use domain::events::Origin;
use domain::listing::{CustomerQuery, Page};
use domain::{
    Actor, Customer, CustomerChanges, CustomerId, CustomerPatch, CustomerSummary, Field,
    NewCustomer, Version,
};
use ports::{CustomerDirectory, DirectoryError};

use crate::Directory;
use crate::errors::{record_not_found, storage};
use crate::events::{Change, draft};
use crate::versioned::{check_expected, until_written};

impl Directory {
    /// The customer if it exists and the caller may see it.
    async fn visible_customer(
        &self,
        actor: &Actor,
        id: CustomerId,
    ) -> Result<Option<Customer>, DirectoryError> {
        let customer = self
            .repos
            .customers
            .customer(actor.organization_id, id)
            .await
            .map_err(storage)?;
        Ok(customer.filter(|customer| actor.can_view_customer(customer)))
    }
}

#[async_trait]
impl CustomerDirectory for Directory {
    #[tracing::instrument(level = "error", skip_all, name = "customers.get")]
    async fn customer(&self, actor: &Actor, id: CustomerId) -> Result<Customer, DirectoryError> {
        self.visible_customer(actor, id)
            .await?
            .ok_or(DirectoryError::NotFound)
    }

    #[tracing::instrument(level = "error", skip_all, name = "customers.get")]
    async fn customer_summary(
        &self,
        actor: &Actor,
        id: CustomerId,
    ) -> Result<CustomerSummary, DirectoryError> {
        if !actor.can_view_customer_id(actor.organization_id, id) {
            return Err(DirectoryError::NotFound);
        }
        self.repos
            .customers
            .customer_summary(actor.organization_id, id)
            .await
            .map_err(storage)?
            .ok_or(DirectoryError::NotFound)
    }

    #[tracing::instrument(level = "error", skip_all, name = "customers.by_ids")]
    async fn customers_by_ids(
        &self,
        actor: &Actor,
        ids: &[CustomerId],
    ) -> Result<Vec<Customer>, DirectoryError> {
        if ids.is_empty() || actor.customer_scope() == CustomerScope::Nothing {
            return Ok(Vec::new());
        }
        let customers = self
            .repos
            .customers
            .customers_by_ids(actor.organization_id, ids)
            .await
            .map_err(storage)?;
        Ok(customers
            .into_iter()
            .filter(|customer| actor.can_view_customer(customer))
            .collect())
    }

    #[tracing::instrument(level = "error", skip_all, name = "customers.list")]
    async fn customers(
        &self,
        actor: &Actor,
        query: &CustomerQuery,
    ) -> Result<Page<Customer>, DirectoryError> {
        let scope = actor.customer_scope();
        if scope == CustomerScope::Nothing {
            return Ok(Page::empty());
        }
        self.repos
            .customers
            .list_customers(actor.organization_id, scope, query)
            .await
            .map_err(storage)
    }

    #[tracing::instrument(level = "error", skip_all, name = "customers.summaries")]
    async fn customer_summaries(
        &self,
        actor: &Actor,
        query: &CustomerQuery,
    ) -> Result<Page<CustomerSummary>, DirectoryError> {
        let scope = actor.customer_scope();
        if scope == CustomerScope::Nothing {
            return Ok(Page::empty());
        }
        self.repos
            .customers
            .list_customer_summaries(actor.organization_id, scope, query)
            .await
            .map_err(storage)
    }

    #[tracing::instrument(level = "error", skip_all, name = "customers.create")]
    async fn create_customer(
        &self,
        origin: &Origin,
        customer: NewCustomer,
    ) -> Result<Customer, DirectoryError> {
        let actor = &origin.actor;
        if !actor.can_create_customer() {
            return Err(DirectoryError::Forbidden);
        }
        let customer = customer.into_customer(actor.organization_id, domain::now());
        let event = draft(origin, Change::CustomerCreated(&customer));
        self.repos
            .customers
            .insert_customer(&customer, &event)
            .await
            .map_err(storage)?;
        tracing::info!(customer = %customer.id, actor = %actor.user_id, "customer created");
        Ok(customer)
    }

    #[tracing::instrument(level = "error", skip_all, name = "customers.update")]
    async fn update_customer(
        &self,
        origin: &Origin,
        id: CustomerId,
        patch: CustomerPatch,
        expected: Option<Version>,
    ) -> Result<Customer, DirectoryError> {
        // Read, check, apply, and write only what changed at the version read; a concurrent
        // write in between (another server's: this one's take turns) makes the write stale:
        // retried on the fresh row, unless the caller named the version it expects.
        let actor = &origin.actor;
        let _turn = self.row_locks.lock(id.uuid()).await;
        let patch = &patch;
        until_written(expected, || {
            Box::pin(async move {
                let current = self
                    .visible_customer(actor, id)
                    .await?
                    .ok_or_else(|| record_not_found(Field::Id))?;
                if !actor.can_update_customer(&current) {
                    return Err(DirectoryError::Forbidden);
                }
                actor.check_customer_patch(&current, patch)?;
                check_expected(expected, current.version)?;
                let mut updated = patch.apply(&current, domain::now())?;
                let changes = CustomerChanges::between(&current, &updated);
                let event = draft(
                    origin,
                    Change::CustomerUpdated {
                        before: &current,
                        changes: &changes,
                    },
                );
                let written = self
                    .repos
                    .customers
                    .update_customer(actor.organization_id, id, current.version, &changes, &event)
                    .await
                    .map_err(storage)?;
                Ok(written.map(|version| {
                    updated.version = version;
                    updated
                }))
            })
        })
        .await
    }

    #[tracing::instrument(level = "error", skip_all, name = "customers.delete")]
    async fn delete_customer(
        &self,
        origin: &Origin,
        id: CustomerId,
        expected: Option<Version>,
    ) -> Result<Customer, DirectoryError> {
        // Deleted only as it was when access was checked (a customer is never deleted on
        // the strength of a check made on an older copy), so the event's `before` is what
        // was deleted.
        let actor = &origin.actor;
        let _turn = self.row_locks.lock(id.uuid()).await;
        let deleted = until_written(expected, || {
            Box::pin(async move {
                let current = self
                    .visible_customer(actor, id)
                    .await?
                    .ok_or_else(|| record_not_found(Field::Id))?;
                if !actor.can_delete_customer(&current) {
                    return Err(DirectoryError::Forbidden);
                }
                check_expected(expected, current.version)?;
                let event = draft(origin, Change::CustomerDeleted(&current));
                self.repos
                    .customers
                    .delete_customer(actor.organization_id, id, Some(current.version), &event)
                    .await
                    .map_err(storage)
            })
        })
        .await?;
        tracing::info!(customer = %deleted.id, actor = %actor.user_id, "customer deleted");
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use domain::{CustomerDraft, CustomerPatchDraft, ErrorCode, OrganizationId, RoleKind};
    use ports::{Conditional, CustomerDirectory, DirectoryError, RepoError, UniqueField};

    use super::*;
    use crate::testing::{Mocks, actor, codes, customer, origin};

    fn new_customer(name: &str) -> NewCustomer {
        NewCustomer::parse(CustomerDraft {
            name: name.into(),
            ..CustomerDraft::default()
        })
        .unwrap()
    }

    #[tokio::test]
    async fn create_writes_the_customer_in_the_callers_organization() {
        let org = OrganizationId::generate();
        let (owner, _) = actor(org, None, RoleKind::Owner);
        let mut mocks = Mocks::default();
        mocks
            .customers
            .expect_insert_customer()
            .withf(move |c, _| {
                c.organization_id == org && c.name.as_str() == "FTL Rockets" && !c.is_system
            })
            .times(1)
            .returning(|_, _| Ok(()));
        let created = mocks
            .directory()
            .create_customer(&origin(&owner), new_customer(" FTL Rockets "))
            .await
            .unwrap();
        assert_eq!(created.organization_id, org);
        assert_eq!(created.created_at, created.updated_at);
    }

    #[tokio::test]
    async fn create_maps_conflicts_to_taken_errors_on_the_right_field() {
        let org = OrganizationId::generate();
        let (owner, _) = actor(org, None, RoleKind::Owner);
        for (conflict, field) in [
            (UniqueField::CustomerName, "name"),
            (UniqueField::CustomerExternalId, "externalId"),
        ] {
            let mut mocks = Mocks::default();
            mocks
                .customers
                .expect_insert_customer()
                .returning(move |_, _| Err(RepoError::Conflict(conflict)));
            let error = mocks
                .directory()
                .create_customer(&origin(&owner), new_customer("Acme"))
                .await
                .unwrap_err();
            assert_eq!(codes(error), [(field, ErrorCode::Taken)]);
        }
    }

    #[tokio::test]
    async fn create_is_forbidden_without_org_crud_customers_and_writes_nothing() {
        let org = OrganizationId::generate();
        for kind in [RoleKind::Integrator, RoleKind::Guest] {
            let (caller, _) = actor(org, None, kind);
            let mut mocks = Mocks::default();
            mocks.customers.expect_insert_customer().times(0);
            let error = mocks
                .directory()
                .create_customer(&origin(&caller), new_customer("Acme"))
                .await
                .unwrap_err();
            assert!(
                matches!(error, DirectoryError::Forbidden),
                "{kind:?}: {error:?}"
            );
        }
    }

    #[tokio::test]
    async fn storage_failures_become_unavailable() {
        let org = OrganizationId::generate();
        let (owner, _) = actor(org, None, RoleKind::Owner);
        let mut mocks = Mocks::default();
        mocks.customers.expect_insert_customer().returning(|_, _| {
            Err(RepoError::unavailable(std::io::Error::other(
                "disk on fire",
            )))
        });
        let error = mocks
            .directory()
            .create_customer(&origin(&owner), new_customer("Acme"))
            .await
            .unwrap_err();
        assert!(matches!(error, DirectoryError::Unavailable(_)), "{error:?}");
    }

    #[tokio::test]
    async fn update_of_an_unknown_or_foreign_customer_is_record_not_found_on_id() {
        let org = OrganizationId::generate();
        let (owner, _) = actor(org, None, RoleKind::Owner);
        let foreign = customer(OrganizationId::generate(), "Foreign");
        let mut mocks = Mocks::default();
        mocks
            .customers
            .expect_customer()
            .returning(move |_, _| Ok(Some(foreign.clone())));
        mocks.customers.expect_update_customer().times(0);
        let error = mocks
            .directory()
            .update_customer(
                &origin(&owner),
                CustomerId::generate(),
                CustomerPatch::default(),
                None,
            )
            .await
            .unwrap_err();
        assert_eq!(codes(error), [("id", ErrorCode::NotFound)]);
    }

    #[tokio::test]
    async fn update_writes_only_the_patched_fields() {
        let org = OrganizationId::generate();
        let (owner, _) = actor(org, None, RoleKind::Owner);
        let current = customer(org, "Acme");
        let id = current.id;
        let mut mocks = Mocks::default();
        let stored = current.clone();
        mocks
            .customers
            .expect_customer()
            .returning(move |_, _| Ok(Some(stored.clone())));
        mocks
            .customers
            .expect_update_customer()
            .withf(move |o, c, read, changes, _| {
                (*o, *c, *read) == (org, id, Version::FIRST)
                    && changes.name.is_none()
                    && changes.description.as_ref().map(|d| d.as_str())
                        == Some("My Updated Description")
                    && changes.external_id.is_none()
            })
            .times(1)
            .returning(|_, _, read, _, _| Ok(Conditional::Done(read.next())));
        let patch = CustomerPatch::parse(CustomerPatchDraft {
            description: Some("My Updated Description".into()),
            ..CustomerPatchDraft::default()
        })
        .unwrap();
        let updated = mocks
            .directory()
            .update_customer(&origin(&owner), id, patch, None)
            .await
            .unwrap();
        assert_eq!(updated.id, current.id);
        assert_eq!(updated.version.get(), 2);
        assert!(updated.updated_at >= current.updated_at);
    }

    #[tokio::test]
    async fn a_customer_admin_is_refused_organization_fields_and_nothing_is_written() {
        let org = OrganizationId::generate();
        let current = customer(org, "Acme");
        let id = current.id;
        let (admin, _) = actor(org, Some(id), RoleKind::CustomerAdmin);
        let mut mocks = Mocks::default();
        let stored = current.clone();
        mocks
            .customers
            .expect_customer()
            .times(1)
            .returning(move |_, _| Ok(Some(stored.clone())));
        mocks.customers.expect_update_customer().times(0);
        let patch = CustomerPatch::parse(CustomerPatchDraft {
            name: Some("Acme Renamed".into()),
            external_id: Some("globex-1".into()),
            allow_embedded_designer: Some(true),
            allow_workflow_copilot: Some(true),
            concurrent_execution_limit: Some(Some(500)),
            ..CustomerPatchDraft::default()
        })
        .unwrap();
        let error = mocks
            .directory()
            .update_customer(&origin(&admin), id, patch, None)
            .await
            .unwrap_err();
        assert_eq!(
            codes(error),
            [
                ("externalId", ErrorCode::Forbidden),
                ("allowEmbeddedDesigner", ErrorCode::Forbidden),
                ("allowWorkflowCopilot", ErrorCode::Forbidden),
                ("concurrentExecutionLimit", ErrorCode::Forbidden)
            ]
        );
    }

    #[tokio::test]
    async fn a_customer_admin_still_renames_and_describes_its_customer() {
        let org = OrganizationId::generate();
        let current = customer(org, "Acme");
        let id = current.id;
        let (admin, _) = actor(org, Some(id), RoleKind::CustomerAdmin);
        let mut mocks = Mocks::default();
        let stored = current.clone();
        mocks
            .customers
            .expect_customer()
            .returning(move |_, _| Ok(Some(stored.clone())));
        mocks
            .customers
            .expect_update_customer()
            .withf(|_, _, _, c, _| {
                c.name.as_ref().map(|n| n.as_str()) == Some("Acme 2")
                    && c.description.as_ref().map(|d| d.as_str()) == Some("d")
            })
            .times(1)
            .returning(|_, _, read, _, _| Ok(Conditional::Done(read.next())));
        let patch = CustomerPatch::parse(CustomerPatchDraft {
            name: Some("Acme 2".into()),
            description: Some("d".into()),
            avatar_url: Some("https://img.example.com/a.png".into()),
            ..CustomerPatchDraft::default()
        })
        .unwrap();
        let updated = mocks
            .directory()
            .update_customer(&origin(&admin), id, patch, None)
            .await
            .unwrap();
        assert_eq!(
            updated.avatar_url.map(|url| url.as_str().to_owned()),
            Some("https://img.example.com/a.png".to_owned())
        );
    }

    #[tokio::test]
    async fn a_customer_user_sees_only_its_own_customer() {
        let org = OrganizationId::generate();
        let own = customer(org, "Own");
        let other = customer(org, "Other");
        let (member, _) = actor(org, Some(own.id), RoleKind::CustomerMember);
        let mut mocks = Mocks::default();
        let other_stored = other.clone();
        mocks
            .customers
            .expect_customer()
            .returning(move |_, _| Ok(Some(other_stored.clone())));
        let error = mocks
            .directory()
            .customer(&member, other.id)
            .await
            .unwrap_err();
        assert!(matches!(error, DirectoryError::NotFound), "{error:?}");
    }

    #[tokio::test]
    async fn a_customer_summary_is_read_in_the_callers_organization_only_when_visible() {
        let org = OrganizationId::generate();
        let own = customer(org, "Own");
        let other = customer(org, "Other");
        let (member, _) = actor(org, Some(own.id), RoleKind::CustomerMember);
        let mut mocks = Mocks::default();
        let stored = own.clone();
        mocks
            .customers
            .expect_customer_summary()
            .withf(move |o, id| *o == org && *id == own.id)
            .times(1)
            .returning(move |_, _| Ok(Some(stored.clone().into())));
        let directory = mocks.directory();
        let summary = directory.customer_summary(&member, own.id).await.unwrap();
        assert_eq!(summary.name, own.name);
        // Another customer is not even read.
        let error = directory
            .customer_summary(&member, other.id)
            .await
            .unwrap_err();
        assert!(matches!(error, DirectoryError::NotFound), "{error:?}");
    }

    #[tokio::test]
    async fn listing_passes_the_callers_scope_and_skips_storage_when_nothing_is_visible() {
        let org = OrganizationId::generate();
        let own = customer(org, "Own");
        let (member, _) = actor(org, Some(own.id), RoleKind::CustomerMember);
        let mut mocks = Mocks::default();
        mocks
            .customers
            .expect_list_customers()
            .withf(move |o, scope, _| *o == org && *scope == CustomerScope::Only(own.id))
            .times(1)
            .returning(|_, _, _| Ok(Page::empty()));
        mocks
            .directory()
            .customers(&member, &CustomerQuery::default())
            .await
            .unwrap();

        let orphan = domain::Actor {
            role: RoleKind::MarketplaceUser,
            customer_id: None,
            ..member
        };
        let mut mocks = Mocks::default();
        mocks.customers.expect_list_customers().times(0);
        let page = mocks
            .directory()
            .customers(&orphan, &CustomerQuery::default())
            .await
            .unwrap();
        assert_eq!(page.total_count, Some(0));
    }

    #[tokio::test]
    async fn delete_needs_org_crud_customers_and_returns_the_customer_as_it_was() {
        let org = OrganizationId::generate();
        let current = customer(org, "Acme");
        let id = current.id;
        let (admin, _) = actor(org, Some(id), RoleKind::CustomerAdmin);
        let mut mocks = Mocks::default();
        let stored = current.clone();
        mocks
            .customers
            .expect_customer()
            .returning(move |_, _| Ok(Some(stored.clone())));
        mocks.customers.expect_delete_customer().times(0);
        let error = mocks
            .directory()
            .delete_customer(&origin(&admin), id, None)
            .await
            .unwrap_err();
        assert!(matches!(error, DirectoryError::Forbidden), "{error:?}");

        let (manager, _) = actor(org, None, RoleKind::CustomerManager);
        let mut mocks = Mocks::default();
        let stored = current.clone();
        mocks
            .customers
            .expect_customer()
            .returning(move |_, _| Ok(Some(stored.clone())));
        let deleted = current.clone();
        mocks
            .customers
            .expect_delete_customer()
            .withf(move |o, c, at, _| *o == org && *c == id && *at == Some(Version::FIRST))
            .times(1)
            .returning(move |_, _, _, _| Ok(Conditional::Done(deleted.clone())));
        assert_eq!(
            mocks
                .directory()
                .delete_customer(&origin(&manager), id, None)
                .await
                .unwrap(),
            current
        );
    }

    #[tokio::test]
    async fn four_hundred_updates_adding_an_attachment_each_store_fifty() {
        let org = OrganizationId::generate();
        let (owner, _) = actor(org, None, RoleKind::Owner);
        let stored = std::sync::Arc::new(std::sync::Mutex::new(customer(org, "Acme")));
        let id = stored.lock().unwrap().id;
        let mut mocks = Mocks::default();
        let read = stored.clone();
        mocks
            .customers
            .expect_customer()
            .returning(move |_, _| Ok(Some(read.lock().unwrap().clone())));
        let written = stored.clone();
        mocks
            .customers
            .expect_update_customer()
            .times(domain::Attachment::MAX_PER_CUSTOMER)
            .returning(move |_, _, read, changes, _| {
                let mut stored = written.lock().unwrap();
                assert_eq!(stored.version, read);
                stored.attachments = changes.attachments.clone().unwrap();
                stored.version = read.next();
                Ok(Conditional::Done(stored.version))
            });
        let directory = mocks.directory();
        let mut refused = 0;
        for n in 0..400 {
            let patch = CustomerPatch::parse(CustomerPatchDraft {
                add_attachment: Some(domain::AttachmentDraft {
                    name: format!("file{n}"),
                    url: format!("https://files.example.com/{n}.pdf"),
                    old_name: None,
                }),
                ..CustomerPatchDraft::default()
            })
            .unwrap();
            if let Err(error) = directory
                .update_customer(&origin(&owner), id, patch, None)
                .await
            {
                assert_eq!(codes(error), [("addAttachment", ErrorCode::TooLong)]);
                refused += 1;
            }
        }
        assert_eq!(refused, 400 - domain::Attachment::MAX_PER_CUSTOMER);
        assert_eq!(
            stored.lock().unwrap().attachments.len(),
            domain::Attachment::MAX_PER_CUSTOMER
        );
    }

    /// A directory whose storage holds `stored` (reads see its current state).
    fn reading(mocks: &mut Mocks, stored: &std::sync::Arc<std::sync::Mutex<Customer>>) {
        let read = stored.clone();
        mocks
            .customers
            .expect_customer()
            .returning(move |_, _| Ok(Some(read.lock().unwrap().clone())));
    }

    fn describe(text: &str) -> CustomerPatch {
        CustomerPatch::parse(CustomerPatchDraft {
            description: Some(text.into()),
            ..CustomerPatchDraft::default()
        })
        .unwrap()
    }

    #[tokio::test]
    async fn a_stale_update_is_retried_on_the_fresh_customer_and_keeps_its_change() {
        let org = OrganizationId::generate();
        let (owner, _) = actor(org, None, RoleKind::Owner);
        let stored = std::sync::Arc::new(std::sync::Mutex::new(customer(org, "Acme")));
        let id = stored.lock().unwrap().id;
        let mut mocks = Mocks::default();
        reading(&mut mocks, &stored);
        let writes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (row, log) = (stored.clone(), writes.clone());
        mocks.customers.expect_update_customer().times(2).returning(
            move |_, _, read, changes, _| {
                log.lock().unwrap().push((read, changes.clone()));
                let mut row = row.lock().unwrap();
                if log.lock().unwrap().len() == 1 {
                    // Another writer got there first: it starred the customer.
                    row.starred = true;
                    row.version = row.version.next();
                    return Ok(Conditional::Stale);
                }
                assert_eq!(row.version, read);
                row.description = changes.description.clone().unwrap();
                row.version = read.next();
                Ok(Conditional::Done(row.version))
            },
        );
        let updated = mocks
            .directory()
            .update_customer(&origin(&owner), id, describe("mine"), None)
            .await
            .unwrap();
        let writes = writes.lock().unwrap();
        assert_eq!(
            writes
                .iter()
                .map(|(read, _)| read.get())
                .collect::<Vec<_>>(),
            [1, 2],
            "the retry is conditioned on the fresh version"
        );
        assert!(writes.iter().all(|(_, changes)| changes.starred.is_none()));
        assert_eq!(updated.version.get(), 3);
        assert!(updated.starred, "the other writer's change is kept");
        assert_eq!(updated.description.as_str(), "mine");
    }

    #[tokio::test]
    async fn a_mismatched_expected_version_is_stale_and_writes_nothing() {
        let org = OrganizationId::generate();
        let (owner, _) = actor(org, None, RoleKind::Owner);
        let mut current = customer(org, "Acme");
        current.version = Version::new(4).unwrap();
        let id = current.id;
        let stored = std::sync::Arc::new(std::sync::Mutex::new(current));
        for expected in [3, 5] {
            let mut mocks = Mocks::default();
            reading(&mut mocks, &stored);
            mocks.customers.expect_update_customer().times(0);
            mocks.customers.expect_delete_customer().times(0);
            let directory = mocks.directory();
            let expected = Version::new(expected);
            let error = directory
                .update_customer(&origin(&owner), id, describe("x"), expected)
                .await
                .unwrap_err();
            assert_eq!(codes(error), [("expectedVersion", ErrorCode::Stale)]);
            let error = directory
                .delete_customer(&origin(&owner), id, expected)
                .await
                .unwrap_err();
            assert_eq!(codes(error), [("expectedVersion", ErrorCode::Stale)]);
        }
    }

    #[tokio::test]
    async fn with_an_expected_version_a_lost_race_is_stale_without_retry() {
        let org = OrganizationId::generate();
        let (owner, _) = actor(org, None, RoleKind::Owner);
        let stored = std::sync::Arc::new(std::sync::Mutex::new(customer(org, "Acme")));
        let id = stored.lock().unwrap().id;
        let mut mocks = Mocks::default();
        reading(&mut mocks, &stored);
        mocks
            .customers
            .expect_update_customer()
            .withf(|_, _, read, _, _| *read == Version::FIRST)
            .times(1)
            .returning(|_, _, _, _, _| Ok(Conditional::Stale));
        mocks
            .customers
            .expect_delete_customer()
            .withf(|_, _, at, _| *at == Some(Version::FIRST))
            .times(1)
            .returning(|_, _, _, _| Ok(Conditional::Stale));
        let directory = mocks.directory();
        let error = directory
            .update_customer(&origin(&owner), id, describe("x"), Some(Version::FIRST))
            .await
            .unwrap_err();
        assert_eq!(codes(error), [("expectedVersion", ErrorCode::Stale)]);
        let error = directory
            .delete_customer(&origin(&owner), id, Some(Version::FIRST))
            .await
            .unwrap_err();
        assert_eq!(codes(error), [("expectedVersion", ErrorCode::Stale)]);
    }

    #[tokio::test]
    async fn an_update_that_keeps_losing_gives_up_as_stale_after_a_bounded_number_of_tries() {
        let org = OrganizationId::generate();
        let (owner, _) = actor(org, None, RoleKind::Owner);
        let stored = std::sync::Arc::new(std::sync::Mutex::new(customer(org, "Acme")));
        let id = stored.lock().unwrap().id;
        let mut mocks = Mocks::default();
        reading(&mut mocks, &stored);
        mocks
            .customers
            .expect_update_customer()
            .times(crate::errors::MAX_WRITE_ATTEMPTS)
            .returning(|_, _, _, _, _| Ok(Conditional::Stale));
        let error = mocks
            .directory()
            .update_customer(&origin(&owner), id, describe("x"), None)
            .await
            .unwrap_err();
        assert_eq!(codes(error), [("expectedVersion", ErrorCode::Stale)]);
    }
}
