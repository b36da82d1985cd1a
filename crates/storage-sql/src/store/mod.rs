//! The repository ports implemented once, over any [`Driver`]: [`SqlStore`] and the
//! statement helpers every port shares live here; each port's implementation has a file of
//! its own, by aggregate.

use std::sync::Arc;

use domain::listing::{Edge, Page};
use domain::{OrganizationId, Version};
use ports::{AccessChange, AccessObserver, Conditional, EventDraft, EventObserver, RepoError};
use uuid::Uuid;

use crate::driver::{CorruptRow, Driver, SqlRow, Step, Written};
use crate::listing::{Listing, Source, count_statement};
use crate::pool::PoolSettings;
use crate::records::{self, Listed, ROLE_KIND, USER_COLUMNS, column_list};
use crate::statement::{Bind, Sql, Statement, parameter_list};

mod credentials;
mod customers;
mod embedded;
mod events;
mod invitations;
mod organizations;
mod roles;
mod scim_tokens;
mod secrets;
mod signing_keys;
mod users;
mod webhooks;

/// Roster's storage on one SQL engine: every repository port over the driver `D`.
///
/// Adapters name it for their driver (`pub type SqliteStorage = SqlStore<SqliteDriver>`);
/// cloning is cheap and shares the connection pool.
///
/// Writes that can change what a caller may do (a user updated or deleted, a customer
/// deleted with its users) are reported to the [`AccessObserver`], if one is set, after they
/// commit and before they return: this is how one server sees its own changes at once.
/// Likewise every committed event (its organization and sequence) to the
/// [`EventObserver`], if one is set, which wakes live readers.
#[derive(Clone)]
pub struct SqlStore<D> {
    driver: D,
    access: Option<Arc<dyn AccessObserver>>,
    events: Option<Arc<dyn EventObserver>>,
}

impl<D: std::fmt::Debug> std::fmt::Debug for SqlStore<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("driver", &self.driver)
            .field("access_observer", &self.access.is_some())
            .field("event_observer", &self.events.is_some())
            .finish()
    }
}

/// Each of `rows` decoded, in a vector of their number: collecting `Result`s cannot know
/// its length and grows (and copies) the vector as it goes.
fn decode_all<R, T>(
    rows: &[R],
    decode: impl Fn(&R) -> Result<T, RepoError>,
) -> Result<Vec<T>, RepoError> {
    let mut decoded = Vec::with_capacity(rows.len());
    for row in rows {
        decoded.push(decode(row)?);
    }
    Ok(decoded)
}

impl<D: Driver> SqlStore<D> {
    /// Connects to the database at `url` and brings its schema up to date.
    ///
    /// # Errors
    /// `RepoError::Unavailable` when the database cannot be opened or migrated.
    pub async fn connect(url: &str) -> Result<Self, RepoError> {
        D::connect(url).await.map(SqlStore::new)
    }

    /// Connects to the database at `url` with a pool sized and bounded as `pool` says, and
    /// brings its schema up to date.
    ///
    /// # Errors
    /// `RepoError::Unavailable` when the database cannot be opened or migrated.
    pub async fn connect_with(url: &str, pool: &PoolSettings) -> Result<Self, RepoError> {
        D::connect_with(url, pool).await.map(SqlStore::new)
    }

    /// Wraps a connected driver.
    pub fn new(driver: D) -> Self {
        SqlStore {
            driver,
            access: None,
            events: None,
        }
    }

    /// Reports committed access changes to `observer` (see [`SqlStore`]); set it before the
    /// store is cloned into the repositories.
    #[must_use]
    pub fn with_access_observer(mut self, observer: Arc<dyn AccessObserver>) -> Self {
        self.access = Some(observer);
        self
    }

    /// Reports committed events to `observer` (see [`SqlStore`]); set it before the store is
    /// cloned into the repositories.
    #[must_use]
    pub fn with_event_observer(mut self, observer: Arc<dyn EventObserver>) -> Self {
        self.events = Some(observer);
        self
    }

    /// Tells the observer, if any, about a committed change.
    fn access_changed(&self, change: AccessChange) {
        if let Some(observer) = &self.access {
            observer.access_changed(change);
        }
    }

    /// The driver, for engine-specific needs outside the ports.
    pub fn driver(&self) -> &D {
        &self.driver
    }

    fn dialect(&self) -> crate::Dialect {
        D::DIALECT
    }

    fn statement(&self, sql: &str, binds: impl IntoIterator<Item = Bind>) -> Statement {
        Sql::new(sql, binds).finish(self.dialect())
    }

    async fn fetch_one<T>(
        &self,
        statement: Statement,
        decode: impl Fn(&D::Row) -> Result<T, RepoError>,
    ) -> Result<Option<T>, RepoError> {
        let rows = self.driver.fetch(&statement).await?;
        rows.first().map(decode).transpose()
    }

    /// Like `fetch_one`, for a statement that writes (`... RETURNING`).
    async fn fetch_one_written<T>(
        &self,
        statement: Statement,
        decode: impl Fn(&D::Row) -> Result<T, RepoError>,
    ) -> Result<Option<T>, RepoError> {
        let rows = self.driver.fetch_written(&statement).await?;
        rows.first().map(decode).transpose()
    }

    async fn fetch_all<T>(
        &self,
        statement: Statement,
        decode: impl Fn(&D::Row) -> Result<T, RepoError>,
    ) -> Result<Vec<T>, RepoError> {
        decode_all(&self.driver.fetch(&statement).await?, decode)
    }

    /// Like `fetch_all`, for a statement that may return many rows, named `columns`, which
    /// come in no promised order (see [`Driver::fetch_many`]).
    async fn fetch_many<T>(
        &self,
        statement: Statement,
        columns: &[&str],
        decode: impl Fn(&D::Row) -> Result<T, RepoError>,
    ) -> Result<Vec<T>, RepoError> {
        decode_all(&self.driver.fetch_many(&statement, columns).await?, decode)
    }

    async fn count(&self, statement: Statement) -> Result<u64, RepoError> {
        let total = self.fetch_one(statement, |row| row.int("total")).await?;
        Ok(total.map_or(0, |n| u64::try_from(n).unwrap_or(0)))
    }

    /// One page of `source` under `conditions`, and its total when `count_total`: one
    /// statement, or two.
    async fn list<T: Send + Listed>(
        &self,
        listing: &Listing<'_>,
        source: &Source,
        conditions: &Sql,
        count_total: bool,
        decode: fn(&D::Row) -> Result<T, RepoError>,
    ) -> Result<Page<T>, RepoError> {
        let page = listing.page_statement(self.dialect(), source, conditions);
        let columns = listing.row_columns(source);
        let columns: Vec<&str> = columns.iter().map(AsRef::as_ref).collect();
        let mut edges = self
            .fetch_many(page, &columns, |row| {
                let node = decode(row)?;
                let cursor = listing.cursor(row, node.listed_id())?;
                Ok(Edge { node, cursor })
            })
            .await?;
        // Put in order here, not by the database: SQLite packs the rows (`fetch_many`), and
        // an aggregate keeps their order only when told to sort them again, which cost more
        // than packing saved. Rows that came in order cost one comparison each.
        listing.put_in_fetch_order(&mut edges);
        let total = if count_total {
            let total = count_statement(self.dialect(), source.table, conditions, None);
            Some(self.count(total).await?)
        } else {
            None
        };
        Ok(listing.finish(edges, total))
    }

    fn insert(&self, table: &str, values: &[(&'static str, Bind)]) -> Statement {
        let columns: Vec<&str> = values.iter().map(|(column, _)| *column).collect();
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES {}",
            columns.join(", "),
            parameter_list(values.len())
        );
        self.statement(&sql, values.iter().map(|(_, bind)| bind.clone()))
    }

    /// `UPDATE table SET <values>, version = version + 1 WHERE organization_id = ? AND
    /// id = ? AND version = ? RETURNING version`: the compare-and-set of one row, writing
    /// only `values`.
    fn conditional_update(
        &self,
        table: &str,
        values: Vec<(&'static str, Bind)>,
        organization: OrganizationId,
        id: Uuid,
        read: Version,
    ) -> Statement {
        let assignments: Vec<String> = values
            .iter()
            .map(|(column, _)| format!("{column} = ?"))
            .chain(["version = version + 1".to_owned()])
            .collect();
        let sql = format!(
            "UPDATE {table} SET {} WHERE organization_id = ? AND id = ? AND version = ? \
             RETURNING version",
            assignments.join(", ")
        );
        let binds = values.into_iter().map(|(_, bind)| bind).chain([
            Bind::uuid(organization.uuid()),
            Bind::uuid(id),
            Bind::int(i64::from(read.get())),
        ]);
        self.statement(&sql, binds)
    }

    /// Runs a [`SqlStore::conditional_update`] with its `event` in one transaction; when it
    /// wrote nothing (and appended nothing), tells a row at another version from a missing
    /// one.
    async fn write_if_at(
        &self,
        table: &str,
        values: Vec<(&'static str, Bind)>,
        organization: OrganizationId,
        id: Uuid,
        read: Version,
        event: &EventDraft,
    ) -> Result<Conditional<Version>, RepoError> {
        let statement = self.conditional_update(table, values, organization, id, read);
        match self
            .commit(organization, vec![Step::one(statement)], event)
            .await?
        {
            Written::Committed(rows) => {
                let version = first_row(&rows)?;
                records::row_version(version).map(Conditional::Done)
            }
            Written::Unmet { .. } => self.stale_or_missing(table, organization, id).await,
        }
    }

    /// After a conditional write that wrote nothing: `Stale` if the row is there (at
    /// another version), else `Missing`.
    async fn stale_or_missing<T>(
        &self,
        table: &str,
        organization: OrganizationId,
        id: Uuid,
    ) -> Result<Conditional<T>, RepoError> {
        let sql = format!("SELECT version FROM {table} WHERE organization_id = ? AND id = ?");
        let statement = self.statement(&sql, org_and_id(organization, id));
        let found = self.fetch_one(statement, records::row_version).await?;
        Ok(match found {
            Some(_) => Conditional::Stale,
            None => Conditional::Missing,
        })
    }

    /// `DELETE FROM table ... RETURNING <returning>` of one row, at version `expected` when
    /// given, with its `event` in one transaction; `Done` with the row as it was.
    #[expect(
        clippy::too_many_arguments,
        reason = "the row, its guard, what it returns and how to read it, and its event"
    )]
    async fn delete_if_at<T>(
        &self,
        table: &str,
        returning: &str,
        organization: OrganizationId,
        id: Uuid,
        expected: Option<Version>,
        event: &EventDraft,
        decode: impl Fn(&D::Row) -> Result<T, RepoError>,
    ) -> Result<Conditional<T>, RepoError> {
        let at_version = if expected.is_some() {
            " AND version = ?"
        } else {
            ""
        };
        let sql = format!(
            "DELETE FROM {table} WHERE organization_id = ? AND id = ?{at_version} \
             RETURNING {returning}"
        );
        let binds = org_and_id(organization, id)
            .into_iter()
            .chain(expected.map(|version| Bind::int(i64::from(version.get()))));
        let statement = self.statement(&sql, binds);
        match self
            .commit(organization, vec![Step::one(statement)], event)
            .await?
        {
            Written::Committed(rows) => decode(first_row(&rows)?).map(Conditional::Done),
            Written::Unmet { .. } if expected.is_some() => {
                self.stale_or_missing(table, organization, id).await
            }
            Written::Unmet { .. } => Ok(Conditional::Missing),
        }
    }

    /// The lease queues' claim (the mail outbox, webhook deliveries): one statement that
    /// picks the row of `table` due first at `now` and meeting `condition` (`""`, or `AND
    /// ...` naming the candidate as `table`), leases it until `lease_until`, counts the
    /// attempt and returns `columns`. PostgreSQL skips rows a concurrent claimer holds
    /// (several servers share the work); SQLite runs one writer at a time. The outer
    /// `next_attempt_at <= now` re-checks a row another claimer leased meanwhile.
    fn claim_due(
        &self,
        table: &str,
        columns: &[&str],
        condition: &str,
        now: domain::Timestamp,
        lease_until: domain::Timestamp,
    ) -> Statement {
        let lock = match self.dialect() {
            crate::Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            crate::Dialect::Sqlite => "",
        };
        let sql = format!(
            "UPDATE {table} SET next_attempt_at = ?, attempts = attempts + 1 \
             WHERE id = (SELECT id FROM {table} WHERE next_attempt_at <= ?{condition} \
             ORDER BY next_attempt_at, id LIMIT 1{lock}) \
             AND next_attempt_at <= ? RETURNING {}",
            column_list("", columns)
        );
        self.statement(
            &sql,
            [Bind::time(lease_until), Bind::time(now), Bind::time(now)],
        )
    }

    /// A lease queue's failed attempt: the row `id` of `table` is due again at `at`, and
    /// `error` says why it failed.
    fn retry_at(&self, table: &str, id: Uuid, at: domain::Timestamp, error: &str) -> Statement {
        let sql = format!("UPDATE {table} SET next_attempt_at = ?, last_error = ? WHERE id = ?");
        self.statement(&sql, [Bind::time(at), Bind::text(error), Bind::uuid(id)])
    }

    fn user_by(&self, condition: &str, binds: impl IntoIterator<Item = Bind>) -> Statement {
        let sql = format!(
            "SELECT {}, r.kind AS {ROLE_KIND} FROM users u JOIN roles r ON r.id = u.role_id \
             WHERE {condition} ORDER BY u.created_at, u.id",
            column_list("u", USER_COLUMNS)
        );
        self.statement(&sql, binds)
    }
}

/// The one row the first step of a committed batch returned (its guard made sure of it).
pub(super) fn first_row<R>(rows: &[Vec<R>]) -> Result<&R, RepoError> {
    rows.first()
        .and_then(|rows| rows.first())
        .ok_or_else(|| CorruptRow("a guarded write returned no row".into()).into_repo())
}

fn org_and_id(organization: OrganizationId, id: Uuid) -> [Bind; 2] {
    [Bind::uuid(organization.uuid()), Bind::uuid(id)]
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;
    use domain::access::{CustomerScope, UserScope};
    use domain::listing::{CustomerQuery, UserQuery};
    use domain::{CustomerChanges, CustomerId, OrganizationId, UserId};
    use ports::{CustomerRepository, UserRepository};

    use super::*;
    use crate::statement::Dialect;

    /// A driver that answers every statement with no rows and remembers it.
    #[derive(Debug, Clone, Default)]
    struct Recorder {
        statements: Arc<Mutex<Vec<Statement>>>,
    }

    impl Recorder {
        fn count(&self) -> usize {
            self.statements.lock().unwrap().len()
        }
    }

    /// A row type for a driver that never returns rows.
    struct NoRow;

    fn no_row<T>() -> Result<T, RepoError> {
        Err(crate::CorruptRow("no rows here".into()).into_repo())
    }

    impl SqlRow for NoRow {
        fn column_name(&self, _: usize) -> Option<&str> {
            None
        }
        fn column_index(&self, _: &str) -> Result<usize, RepoError> {
            no_row()
        }
        fn opt_str_at(&self, _: usize) -> Result<Option<&str>, RepoError> {
            no_row()
        }
        fn opt_int_at(&self, _: usize) -> Result<Option<i64>, RepoError> {
            no_row()
        }
        fn opt_uuid_at(&self, _: usize) -> Result<Option<Uuid>, RepoError> {
            no_row()
        }
        fn opt_time_at(&self, _: usize) -> Result<Option<domain::Timestamp>, RepoError> {
            no_row()
        }
        fn bool_at(&self, _: usize) -> Result<bool, RepoError> {
            no_row()
        }
        fn json_at(&self, _: usize) -> Result<serde_json::Value, RepoError> {
            no_row()
        }
        fn opt_json_at(&self, _: usize) -> Result<Option<serde_json::Value>, RepoError> {
            no_row()
        }
        fn bytes_at(&self, _: usize) -> Result<Vec<u8>, RepoError> {
            no_row()
        }
    }

    #[async_trait]
    impl Driver for Recorder {
        const DIALECT: Dialect = Dialect::Postgres;
        type Row = NoRow;

        async fn connect_with(_: &str, _: &PoolSettings) -> Result<Self, RepoError> {
            Ok(Recorder::default())
        }

        async fn fetch(&self, statement: &Statement) -> Result<Vec<NoRow>, RepoError> {
            self.statements.lock().unwrap().push(statement.clone());
            Ok(Vec::new())
        }

        async fn execute(&self, statement: &Statement) -> Result<u64, RepoError> {
            self.statements.lock().unwrap().push(statement.clone());
            Ok(0)
        }

        /// Commits every batch, each step returning no rows.
        async fn write(&self, steps: &[Step]) -> Result<Written<NoRow>, RepoError> {
            let mut statements = self.statements.lock().unwrap();
            statements.extend(steps.iter().map(|step| step.statement.clone()));
            Ok(Written::Committed(
                steps.iter().map(|_| Vec::new()).collect(),
            ))
        }
    }

    fn last_sql(recorder: &Recorder) -> String {
        recorder
            .statements
            .lock()
            .unwrap()
            .last()
            .unwrap()
            .sql
            .clone()
    }

    #[tokio::test]
    async fn listings_cost_one_statement_and_one_more_for_the_total() {
        let recorder = Recorder::default();
        let store = SqlStore::new(recorder.clone());
        let organization = OrganizationId::generate();
        let scope = UserScope {
            organization_users: true,
            customers: CustomerScope::All,
            me: UserId::generate(),
        };
        let counted = |count_total| UserQuery {
            count_total,
            ..UserQuery::default()
        };
        let customers: Vec<CustomerId> = (0..100).map(|_| CustomerId::generate()).collect();
        let mut expected = 0;
        for count_total in [false, true] {
            let statements = 1 + usize::from(count_total);
            let query = CustomerQuery {
                count_total,
                ..CustomerQuery::default()
            };
            store
                .list_customers(organization, CustomerScope::All, &query)
                .await
                .unwrap();
            expected += statements;
            assert_eq!(recorder.count(), expected, "list_customers {count_total}");
            store
                .list_users(organization, scope, &counted(count_total))
                .await
                .unwrap();
            expected += statements;
            assert_eq!(recorder.count(), expected, "list_users {count_total}");
            let pages = store
                .list_users_of_customers(organization, scope, &customers, &counted(count_total))
                .await
                .unwrap();
            assert_eq!(pages.len(), 100);
            assert!(
                pages
                    .iter()
                    .all(|(_, page)| page.total_count == count_total.then_some(0))
            );
            expected += statements;
            assert_eq!(
                recorder.count(),
                expected,
                "list_users_of_customers for 100 customers {count_total}"
            );
        }
    }

    #[tokio::test]
    async fn user_listings_join_customers_only_to_sort_by_them_and_skip_true_scopes() {
        let recorder = Recorder::default();
        let store = SqlStore::new(recorder.clone());
        let organization = OrganizationId::generate();
        let everyone = UserScope {
            organization_users: true,
            customers: CustomerScope::All,
            me: UserId::generate(),
        };
        let customers = [CustomerId::generate()];
        let by_name = UserQuery::default();
        store
            .list_users_of_customers(organization, everyone, &customers, &by_name)
            .await
            .unwrap();
        let sql = last_sql(&recorder);
        assert!(sql.contains("CROSS JOIN LATERAL"), "{sql}");
        // Ordered by customer only: each group comes in its subquery's order.
        assert!(sql.ends_with(") p ORDER BY ids.n"), "{sql}");
        assert!(!sql.contains("customers cu"), "{sql}");
        assert!(!sql.contains("u.id = "), "no scope condition: {sql}");
        store
            .list_users(organization, everyone, &by_name)
            .await
            .unwrap();
        let sql = last_sql(&recorder);
        assert!(
            !sql.contains("customers cu") && !sql.contains("u.id = "),
            "{sql}"
        );
        let by_customer = UserQuery {
            sort: vec![domain::listing::Sort {
                field: domain::listing::UserSortField::Customer,
                direction: domain::listing::Direction::Asc,
            }],
            ..UserQuery::default()
        };
        store
            .list_users_of_customers(organization, everyone, &customers, &by_customer)
            .await
            .unwrap();
        assert!(last_sql(&recorder).contains("LEFT JOIN customers cu"));
        let one_customer = UserScope {
            organization_users: false,
            customers: CustomerScope::Only(customers[0]),
            ..everyone
        };
        store
            .list_users(organization, one_customer, &by_name)
            .await
            .unwrap();
        let sql = last_sql(&recorder);
        assert!(sql.contains("(u.id = $2 OR u.customer_id = $3)"), "{sql}");
    }

    /// A system event for `organization`, about some customer.
    fn draft(organization: OrganizationId) -> EventDraft {
        EventDraft {
            id: Uuid::now_v7(),
            organization_id: organization,
            kind: domain::events::EventType::CustomerCreated,
            subject: domain::events::Subject::Customer(CustomerId::generate()),
            customer_id: None,
            actor: domain::events::EventActor {
                user: None,
                kind: domain::events::ActorKind::System,
            },
            request: domain::events::RequestMeta::default(),
            at: domain::now(),
            version: None,
            before: None,
            after: None,
        }
    }

    #[tokio::test]
    async fn every_customer_and_user_write_carries_its_event() {
        let recorder = Recorder::default();
        let store = SqlStore::new(recorder.clone());
        let organization = OrganizationId::generate();
        let event = draft(organization);
        let customer = CustomerId::generate();
        let user = UserId::generate();
        let version = Version::FIRST;
        let changes = domain::UserChanges {
            customer_id: None,
            email: None,
            name: Some(domain::PersonName::parse("Renamed").unwrap()),
            phone: None,
            external_id: None,
            avatar_url: None,
            role: None,
            dark_mode: None,
            dark_mode_sync_with_os: None,
            feature_flags: None,
            last_login: None,
            deactivated_at: None,
            scim: None,
            updated_at: domain::now(),
        };
        let new_customer = domain::NewCustomer::parse(domain::CustomerDraft {
            name: "Acme".into(),
            ..domain::CustomerDraft::default()
        })
        .unwrap()
        .into_customer(organization, domain::now());
        store.insert_customer(&new_customer, &event).await.unwrap();
        // The recorder returns no rows, so writes that decode one fail after sending their
        // batch; only the batch matters here.
        let _ = store
            .update_customer(organization, customer, version, &customer_changes(), &event)
            .await;
        let _ = store
            .delete_customer(organization, customer, Some(version), &event)
            .await;
        let _ = store
            .update_user(organization, user, version, &changes, &event)
            .await;
        let _ = store.delete_user(organization, user, None, &event).await;
        // PostgreSQL, the recorder's dialect: each write is one statement, the change
        // first, then the counter bump and the event insert that read its rows. (The
        // recorder answers no rows, so each guarded write is followed by the read that
        // tells a stale row from a missing one.)
        let sent = recorder.count();
        let statements: Vec<Statement> = recorder
            .statements
            .lock()
            .unwrap()
            .iter()
            .filter(|statement| !statement.sql.starts_with("SELECT"))
            .cloned()
            .collect();
        assert_eq!(statements.len(), 5, "{statements:#?}");
        for statement in &statements {
            let sql = &statement.sql;
            let order = [
                "WITH w AS (",
                "INSERT INTO event_counters",
                "INSERT INTO events",
            ]
            .map(|part| sql.find(part).unwrap_or_else(|| panic!("no {part}: {sql}")));
            assert!(order[0] < order[1] && order[1] < order[2], "{sql}");
            assert!(statement.binds.contains(&Bind::uuid(event.id)), "{sql}");
        }
        let elsewhere = draft(OrganizationId::generate());
        let refused = store
            .update_customer(
                organization,
                customer,
                version,
                &customer_changes(),
                &elsewhere,
            )
            .await;
        assert!(refused.is_err(), "{refused:?}");
        assert_eq!(
            recorder.count(),
            sent,
            "nothing sent for a misdirected event"
        );
    }

    fn customer_changes() -> CustomerChanges {
        CustomerChanges {
            name: None,
            description: Some(domain::Description::parse("new").unwrap()),
            external_id: None,
            labels: None,
            is_system: None,
            avatar_url: None,
            allow_embedded_designer: None,
            allow_workflow_copilot: Some(true),
            concurrent_execution_limit: None,
            starred: None,
            attachments: None,
            updated_at: domain::now(),
        }
    }

    #[test]
    fn updates_write_only_the_changed_columns_at_the_version_read() {
        let recorder = Recorder::default();
        let store = SqlStore::new(recorder);
        let changes = customer_changes();
        let statement = store.conditional_update(
            "customers",
            records::customer_change_values(&changes),
            OrganizationId::generate(),
            Uuid::nil(),
            Version::FIRST.next(),
        );
        assert_eq!(
            statement.sql,
            "UPDATE customers SET description = $1, allow_workflow_copilot = $2, \
             updated_at = $3, version = version + 1 \
             WHERE organization_id = $4 AND id = $5 AND version = $6 RETURNING version"
        );
        assert_eq!(statement.binds.len(), 6);
        assert_eq!(statement.binds[5], Bind::int(2));
    }
}
