//! [`UserRepository`]: users (with their invitation when invited), read by id, email or
//! page, and the batched pages of the users of many customers.

use std::collections::HashMap;

use async_trait::async_trait;
use domain::access::UserScope;
use domain::listing::{Edge, Page, UserQuery};
use domain::{
    CustomerId, Email, Invited, OrganizationId, User, UserChanges, UserId, UserSummary, Version,
};
use ports::{AccessChange, Conditional, EventDraft, RepoError, UserRepository};
use uuid::Uuid;

use super::{SqlStore, org_and_id};
use crate::driver::{Driver, SqlRow, Step};
use crate::listing::{Listing, Source, count_statement, user_conditions};
use crate::records::{self, Listed, ROLE_KIND, USER_COLUMNS, column_list};
use crate::statement::Bind;

#[async_trait]
impl<D: Driver> UserRepository for SqlStore<D> {
    async fn insert_user(
        &self,
        user: &User,
        invited: Option<Invited>,
        event: &EventDraft,
    ) -> Result<(), RepoError> {
        let mut steps = vec![Step::any(self.insert("users", &records::user_values(user)))];
        if let Some(invited) = invited {
            steps.extend([
                Step::any(self.insert(
                    "invitations",
                    &records::invitation_values(&invited.invitation),
                )),
                Step::any(self.insert("outbox", &records::outbox_values(&invited.mail))),
            ]);
        }
        self.commit(user.organization_id, steps, event)
            .await
            .map(drop)
    }

    async fn update_user(
        &self,
        organization: OrganizationId,
        id: UserId,
        read: Version,
        changes: &UserChanges,
        event: &EventDraft,
    ) -> Result<Conditional<Version>, RepoError> {
        let values = records::user_change_values(changes);
        let updated = self
            .write_if_at("users", values, organization, id.uuid(), read, event)
            .await?;
        if matches!(updated, Conditional::Done(_)) {
            // Any update: the cached caller holds the user's other fields too.
            self.access_changed(AccessChange::User(id));
        }
        Ok(updated)
    }

    async fn delete_user(
        &self,
        organization: OrganizationId,
        id: UserId,
        expected: Option<Version>,
        event: &EventDraft,
    ) -> Result<Conditional<User>, RepoError> {
        let returning = format!(
            "{}, (SELECT kind FROM roles WHERE roles.id = users.role_id) AS {ROLE_KIND}",
            column_list("", USER_COLUMNS)
        );
        let deleted = self
            .delete_if_at(
                "users",
                &returning,
                organization,
                id.uuid(),
                expected,
                event,
                records::user,
            )
            .await?;
        if matches!(deleted, Conditional::Done(_)) {
            self.access_changed(AccessChange::User(id));
        }
        Ok(deleted)
    }

    async fn user(
        &self,
        organization: OrganizationId,
        id: UserId,
    ) -> Result<Option<User>, RepoError> {
        let statement = self.user_by(
            "u.organization_id = ? AND u.id = ?",
            org_and_id(organization, id.uuid()),
        );
        self.fetch_one(statement, records::user).await
    }

    async fn user_by_email(
        &self,
        organization: OrganizationId,
        email: &Email,
    ) -> Result<Option<User>, RepoError> {
        let statement = self.user_by(
            "u.organization_id = ? AND u.email_key = ?",
            [Bind::uuid(organization.uuid()), Bind::text(email.key())],
        );
        self.fetch_one(statement, records::user).await
    }

    async fn users_by_email_anywhere(&self, email: &Email) -> Result<Vec<User>, RepoError> {
        let statement = self.user_by("u.email_key = ?", [Bind::text(email.key())]);
        self.fetch_all(statement, records::user).await
    }

    async fn list_users(
        &self,
        organization: OrganizationId,
        scope: UserScope,
        query: &UserQuery,
    ) -> Result<Page<User>, RepoError> {
        let conditions = user_conditions(organization, scope, &query.filter, true);
        let sort = query.effective_sort();
        let listing = Listing::users(&sort, &query.page);
        let source = Source::users(&sort);
        self.list(
            &listing,
            &source,
            &conditions,
            query.count_total,
            records::user,
        )
        .await
    }

    async fn list_users_of_customers(
        &self,
        organization: OrganizationId,
        scope: UserScope,
        customers: &[CustomerId],
        query: &UserQuery,
    ) -> Result<Vec<(CustomerId, Page<User>)>, RepoError> {
        let sort = query.effective_sort();
        let rows = PerCustomer {
            listing: Listing::users(&sort, &query.page),
            source: Source::users(&sort),
            decode: records::user,
            customer: |user: &User| user.customer_id,
        };
        self.pages_of_customers(organization, scope, customers, query, rows)
            .await
    }

    async fn list_user_summaries_of_customers(
        &self,
        organization: OrganizationId,
        scope: UserScope,
        customers: &[CustomerId],
        query: &UserQuery,
    ) -> Result<Vec<(CustomerId, Page<UserSummary>)>, RepoError> {
        let sort = query.effective_sort();
        let rows = PerCustomer {
            listing: Listing::user_summaries(&sort, &query.page),
            source: Source::user_summaries(&sort),
            decode: records::user_summary,
            customer: |user: &UserSummary| user.customer_id,
        };
        self.pages_of_customers(organization, scope, customers, query, rows)
            .await
    }
}

/// What a batched listing of the users of several customers reads, and how.
struct PerCustomer<'a, R, T> {
    listing: Listing<'a>,
    source: Source,
    decode: fn(&R) -> Result<T, RepoError>,
    /// The customer of a decoded user.
    customer: fn(&T) -> Option<CustomerId>,
}

impl<D: Driver> SqlStore<D> {
    /// The same page of users for each of `customers` (see
    /// [`UserRepository::list_users_of_customers`]), rows read as `rows` says.
    async fn pages_of_customers<T: Send + Clone + Listed>(
        &self,
        organization: OrganizationId,
        scope: UserScope,
        customers: &[CustomerId],
        query: &UserQuery,
        rows: PerCustomer<'_, D::Row, T>,
    ) -> Result<Vec<(CustomerId, Page<T>)>, RepoError> {
        if customers.is_empty() {
            return Ok(Vec::new());
        }
        // Each customer is read once, however often it is asked for: `unique` holds them in
        // the order first asked, `places` each one's place there, sorted by customer for a
        // binary search (a page's fifty customers are found faster so than by hashing).
        let mut places: Vec<(CustomerId, usize)> = customers.iter().copied().zip(0..).collect();
        places.sort_unstable();
        // Of a customer asked for more than once, its first request is kept.
        places.dedup_by_key(|(customer, _)| *customer);
        let mut firsts: Vec<(usize, CustomerId)> = places
            .iter()
            .map(|&(customer, asked)| (asked, customer))
            .collect();
        firsts.sort_unstable();
        let unique: Vec<CustomerId> = firsts.iter().map(|&(_, customer)| customer).collect();
        for (place, (_, customer)) in firsts.iter().enumerate() {
            if let Ok(at) = places.binary_search_by_key(customer, |&(id, _)| id)
                && let Some(entry) = places.get_mut(at)
            {
                entry.1 = place;
            }
        }
        let place_of = |customer: &CustomerId| {
            let at = places.binary_search_by_key(customer, |(id, _)| *id).ok()?;
            places.get(at).map(|(_, place)| *place)
        };
        // One statement whatever the number of customers, two with the totals: the pages,
        // each customer's read as a page of its own, and the totals, grouped by customer.
        let conditions = user_conditions(organization, scope, &query.filter, false);
        let ids = Bind::UuidList(unique.iter().map(|id| id.uuid()).collect());
        let PerCustomer {
            listing,
            source,
            decode,
            customer,
        } = rows;
        let page =
            listing.per_customer_statement(self.dialect(), &source, &conditions, ids.clone());
        let columns = listing.row_columns(&source);
        let columns: Vec<&str> = columns.iter().map(AsRef::as_ref).collect();
        // In no order: each customer's rows are put in order below.
        let rows = self
            .fetch_many(page, &columns, |row| {
                let node = decode(row)?;
                let cursor = listing.cursor(row, node.listed_id())?;
                Ok((customer(&node), Edge { node, cursor }))
            })
            .await?;
        // Each row's place among `unique`. The rows mostly come customer by customer, so a
        // customer is looked up only when it changes.
        let mut last: Option<(CustomerId, Option<usize>)> = None;
        let placed: Vec<Option<usize>> = rows
            .iter()
            .map(|(customer, _)| {
                let customer = (*customer)?;
                match last {
                    Some((previous, place)) if previous == customer => place,
                    _ => {
                        let place = place_of(&customer);
                        last = Some((customer, place));
                        place
                    }
                }
            })
            .collect();
        // Each customer's edges, in a vector of their number (grown one push at a time,
        // each group's was reallocated and copied as it filled).
        let mut sizes = vec![0_usize; unique.len()];
        for place in placed.iter().flatten() {
            if let Some(size) = sizes.get_mut(*place) {
                *size += 1;
            }
        }
        let mut groups: Vec<Vec<Edge<T>>> = sizes.into_iter().map(Vec::with_capacity).collect();
        for (place, (_, edge)) in placed.into_iter().zip(rows) {
            if let Some(group) = place.and_then(|place| groups.get_mut(place)) {
                group.push(edge);
            }
        }
        for group in &mut groups {
            listing.put_in_fetch_order(group);
        }
        let totals: Option<HashMap<Uuid, i64>> = if query.count_total {
            let mut counted = conditions;
            counted.and(&self.dialect().in_uuid_list("u.customer_id"), [ids]);
            let totals = count_statement(
                self.dialect(),
                source.table,
                &counted,
                Some("u.customer_id"),
            );
            let totals = self
                .fetch_all(totals, |row| Ok((row.uuid("group_id")?, row.int("total")?)))
                .await?;
            Some(totals.into_iter().collect())
        } else {
            None
        };
        let mut pages: Vec<Option<Page<T>>> = unique
            .iter()
            .zip(groups)
            .map(|(customer, edges)| {
                let total = totals.as_ref().map(|totals| {
                    let total = totals.get(&customer.uuid()).copied().unwrap_or(0);
                    u64::try_from(total).unwrap_or(0)
                });
                Some(listing.finish(edges, total))
            })
            .collect();
        // In request order; a customer asked for again gets the same page again.
        let mut answered: Vec<(CustomerId, Page<T>)> = Vec::with_capacity(customers.len());
        for customer in customers {
            let first = place_of(customer).and_then(|place| pages.get_mut(place)?.take());
            let page = match first {
                Some(page) => page,
                None => match answered.iter().find(|(earlier, _)| earlier == customer) {
                    Some((_, page)) => page.clone(),
                    None => continue,
                },
            };
            answered.push((*customer, page));
        }
        Ok(answered)
    }
}
