//! [`CustomerRepository`]: customers, read by id, external id or page; deleting one takes
//! its users with it.

use async_trait::async_trait;
use domain::access::CustomerScope;
use domain::listing::{CustomerQuery, CustomerSortField, Page, PageRequest, Sort};
use domain::{
    Customer, CustomerChanges, CustomerId, CustomerSummary, ExternalId, OrganizationId, Version,
};
use ports::{AccessChange, Conditional, CustomerRepository, EventDraft, RepoError};

use super::{SqlStore, org_and_id};
use crate::driver::{Driver, Step};
use crate::listing::{Listing, Source, customer_conditions};
use crate::records::{self, CUSTOMER_COLUMNS, Listed, column_list};
use crate::statement::{Bind, Statement};

impl<D: Driver> SqlStore<D> {
    /// `SELECT` of whole customers where `condition` holds.
    fn customer_by(&self, condition: &str, binds: impl IntoIterator<Item = Bind>) -> Statement {
        self.select_customers(&Source::customers(), condition, binds)
    }

    /// `SELECT` of `source`'s columns of the customers where `condition` holds.
    fn select_customers(
        &self,
        source: &Source,
        condition: &str,
        binds: impl IntoIterator<Item = Bind>,
    ) -> Statement {
        let sql = format!(
            "SELECT {} FROM {} WHERE {condition}",
            source.columns, source.from
        );
        self.statement(&sql, binds)
    }
}

#[async_trait]
impl<D: Driver> CustomerRepository for SqlStore<D> {
    async fn insert_customer(
        &self,
        customer: &Customer,
        event: &EventDraft,
    ) -> Result<(), RepoError> {
        let statement = self.insert("customers", &records::customer_values(customer));
        self.commit(customer.organization_id, vec![Step::any(statement)], event)
            .await
            .map(drop)
    }

    async fn update_customer(
        &self,
        organization: OrganizationId,
        id: CustomerId,
        read: Version,
        changes: &CustomerChanges,
        event: &EventDraft,
    ) -> Result<Conditional<Version>, RepoError> {
        let values = records::customer_change_values(changes);
        self.write_if_at("customers", values, organization, id.uuid(), read, event)
            .await
    }

    async fn delete_customer(
        &self,
        organization: OrganizationId,
        id: CustomerId,
        expected: Option<Version>,
        event: &EventDraft,
    ) -> Result<Conditional<Customer>, RepoError> {
        // One statement: the customer's users go with it (ON DELETE CASCADE).
        let returning = column_list("", CUSTOMER_COLUMNS);
        let deleted = self
            .delete_if_at(
                "customers",
                &returning,
                organization,
                id.uuid(),
                expected,
                event,
                records::customer,
            )
            .await?;
        if matches!(deleted, Conditional::Done(_)) {
            self.access_changed(AccessChange::Customer(id));
        }
        Ok(deleted)
    }

    async fn customer(
        &self,
        organization: OrganizationId,
        id: CustomerId,
    ) -> Result<Option<Customer>, RepoError> {
        let statement = self.customer_by(
            "c.organization_id = ? AND c.id = ?",
            org_and_id(organization, id.uuid()),
        );
        self.fetch_one(statement, records::customer).await
    }

    async fn customer_summary(
        &self,
        organization: OrganizationId,
        id: CustomerId,
    ) -> Result<Option<CustomerSummary>, RepoError> {
        let statement = self.select_customers(
            &Source::customer_summaries(),
            "c.organization_id = ? AND c.id = ?",
            org_and_id(organization, id.uuid()),
        );
        self.fetch_one(statement, records::customer_summary).await
    }

    async fn customer_by_external_id(
        &self,
        organization: OrganizationId,
        external_id: &ExternalId,
    ) -> Result<Option<Customer>, RepoError> {
        let statement = self.customer_by(
            "c.organization_id = ? AND c.external_id = ?",
            [
                Bind::uuid(organization.uuid()),
                Bind::text(external_id.as_str()),
            ],
        );
        self.fetch_one(statement, records::customer).await
    }

    async fn customers_by_ids(
        &self,
        organization: OrganizationId,
        ids: &[CustomerId],
    ) -> Result<Vec<Customer>, RepoError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let condition = format!(
            "c.organization_id = ? AND {}",
            self.dialect().in_uuid_list("c.id")
        );
        let statement = self.customer_by(
            &condition,
            [
                Bind::uuid(organization.uuid()),
                Bind::UuidList(ids.iter().map(|id| id.uuid()).collect()),
            ],
        );
        self.fetch_all(statement, records::customer).await
    }

    async fn list_customers(
        &self,
        organization: OrganizationId,
        scope: CustomerScope,
        query: &CustomerQuery,
    ) -> Result<Page<Customer>, RepoError> {
        let rows = Rows {
            listing: |sort, page| Listing::customers(sort, page),
            source: Source::customers(),
            decode: records::customer,
        };
        self.customer_page(organization, scope, query, rows).await
    }

    async fn list_customer_summaries(
        &self,
        organization: OrganizationId,
        scope: CustomerScope,
        query: &CustomerQuery,
    ) -> Result<Page<CustomerSummary>, RepoError> {
        let rows = Rows {
            listing: |sort, page| Listing::customer_summaries(sort, page),
            source: Source::customer_summaries(),
            decode: records::customer_summary,
        };
        self.customer_page(organization, scope, query, rows).await
    }
}

/// How a customer listing reads its rows: whole customers or summaries.
struct Rows<R, T> {
    listing: for<'a> fn(&[Sort<CustomerSortField>], &'a PageRequest) -> Listing<'a>,
    source: Source,
    decode: fn(&R) -> Result<T, RepoError>,
}

impl<D: Driver> SqlStore<D> {
    /// The page of customers `query` asks for within `scope`, read as `rows` says.
    async fn customer_page<T: Send + Listed>(
        &self,
        organization: OrganizationId,
        scope: CustomerScope,
        query: &CustomerQuery,
        rows: Rows<D::Row, T>,
    ) -> Result<Page<T>, RepoError> {
        let conditions = customer_conditions(self.dialect(), organization, scope, &query.filter);
        let listing = (rows.listing)(&query.effective_sort(), &query.page);
        self.list(
            &listing,
            &rows.source,
            &conditions,
            query.count_total,
            rows.decode,
        )
        .await
    }
}
