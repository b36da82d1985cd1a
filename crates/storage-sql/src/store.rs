//! The repository ports implemented once, over any [`Driver`].

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use domain::access::{CustomerScope, UserScope};
use domain::listing::{CustomerQuery, Edge, Page, UserQuery};
use domain::{
    Actor, Caller, Customer, CustomerChanges, CustomerId, Email, ExternalId, Invitation, Invited,
    Organization, OrganizationId, OrganizationName, OutboxMail, RefreshToken, Role, RoleId,
    RoleKind, SigningKey, SigningKeyId, Timestamp, User, UserChanges, UserId, Version,
};
use ports::{
    AccessChange, AccessObserver, Conditional, CredentialRepository, CustomerRepository,
    EmbeddedUserRepository, InvitationRepository, OrganizationRepository, RepoError,
    RoleRepository, SecretRepository, SigningKeyRepository, StoredTokenKey, UserRepository,
};
use uuid::Uuid;

use crate::driver::{Driver, SqlRow};
use crate::listing::{Listing, Source, count_statement, customer_conditions, user_conditions};
use crate::pool::PoolSettings;
use crate::records::{
    self, CUSTOMER_COLUMNS, INVITATION_COLUMNS, OUTBOX_COLUMNS, REFRESH_TOKEN_COLUMNS,
    SIGNING_KEY_COLUMNS, USER_COLUMNS, column_list,
};
use crate::statement::{Bind, Sql, Statement, parameter_list};

/// Roster's storage on one SQL engine: every repository port over the driver `D`.
///
/// Adapters name it for their driver (`pub type SqliteStorage = SqlStore<SqliteDriver>`);
/// cloning is cheap and shares the connection pool.
///
/// Writes that can change what a caller may do (a user updated or deleted, a customer
/// deleted with its users) are reported to the [`AccessObserver`], if one is set, after they
/// commit and before they return: this is how one server sees its own changes at once.
#[derive(Clone)]
pub struct SqlStore<D> {
    driver: D,
    access: Option<Arc<dyn AccessObserver>>,
}

impl<D: std::fmt::Debug> std::fmt::Debug for SqlStore<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("driver", &self.driver)
            .field("access_observer", &self.access.is_some())
            .finish()
    }
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
        }
    }

    /// Reports committed access changes to `observer` (see [`SqlStore`]); set it before the
    /// store is cloned into the repositories.
    #[must_use]
    pub fn with_access_observer(mut self, observer: Arc<dyn AccessObserver>) -> Self {
        self.access = Some(observer);
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
        let rows = self.driver.fetch(&statement).await?;
        rows.iter().map(decode).collect()
    }

    async fn count(&self, statement: Statement) -> Result<u64, RepoError> {
        let total = self.fetch_one(statement, |row| row.int("total")).await?;
        Ok(total.map_or(0, |n| u64::try_from(n).unwrap_or(0)))
    }

    /// One page of `source` under `conditions`, and its total when `count_total`: one
    /// statement, or two.
    async fn list<T: Send>(
        &self,
        listing: &Listing<'_>,
        source: &Source,
        conditions: &Sql,
        count_total: bool,
        decode: fn(&D::Row) -> Result<T, RepoError>,
    ) -> Result<Page<T>, RepoError> {
        let page = listing.page_statement(self.dialect(), source, conditions);
        let edges = self
            .fetch_all(page, |row| {
                Ok(Edge {
                    node: decode(row)?,
                    cursor: listing.cursor(row)?,
                })
            })
            .await?;
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

    /// Runs a [`SqlStore::conditional_update`]; when it wrote nothing, tells a row at
    /// another version from a missing one.
    async fn write_if_at(
        &self,
        table: &str,
        values: Vec<(&'static str, Bind)>,
        organization: OrganizationId,
        id: Uuid,
        read: Version,
    ) -> Result<Conditional<Version>, RepoError> {
        let statement = self.conditional_update(table, values, organization, id, read);
        match self
            .fetch_one_written(statement, records::row_version)
            .await?
        {
            Some(version) => Ok(Conditional::Done(version)),
            None => self.stale_or_missing(table, organization, id).await,
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
    /// given; `Done` with the row as it was.
    async fn delete_if_at<T>(
        &self,
        table: &str,
        returning: &str,
        organization: OrganizationId,
        id: Uuid,
        expected: Option<Version>,
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
        match self.fetch_one_written(statement, decode).await? {
            Some(deleted) => Ok(Conditional::Done(deleted)),
            None if expected.is_some() => self.stale_or_missing(table, organization, id).await,
            None => Ok(Conditional::Missing),
        }
    }

    fn user_by(&self, condition: &str, binds: impl IntoIterator<Item = Bind>) -> Statement {
        let sql = format!(
            "SELECT {}, r.kind AS role_kind FROM users u JOIN roles r ON r.id = u.role_id \
             WHERE {condition} ORDER BY u.created_at, u.id",
            column_list("u", USER_COLUMNS)
        );
        self.statement(&sql, binds)
    }

    fn customer_by(&self, condition: &str, binds: impl IntoIterator<Item = Bind>) -> Statement {
        let source = Source::customers();
        let sql = format!(
            "SELECT {} FROM {} WHERE {condition}",
            source.columns, source.from
        );
        self.statement(&sql, binds)
    }

    fn organization_by(&self, condition: &str, bind: Bind) -> Statement {
        let sql =
            format!("SELECT id, name, created_at, version FROM organizations WHERE {condition}");
        self.statement(&sql, [bind])
    }
}

fn org_and_id(organization: OrganizationId, id: Uuid) -> [Bind; 2] {
    [Bind::uuid(organization.uuid()), Bind::uuid(id)]
}

#[async_trait]
impl<D: Driver> CustomerRepository for SqlStore<D> {
    async fn insert_customer(&self, customer: &Customer) -> Result<(), RepoError> {
        let statement = self.insert("customers", &records::customer_values(customer));
        self.driver.execute(&statement).await.map(drop)
    }

    async fn update_customer(
        &self,
        organization: OrganizationId,
        id: CustomerId,
        read: Version,
        changes: &CustomerChanges,
    ) -> Result<Conditional<Version>, RepoError> {
        let values = records::customer_change_values(changes);
        self.write_if_at("customers", values, organization, id.uuid(), read)
            .await
    }

    async fn delete_customer(
        &self,
        organization: OrganizationId,
        id: CustomerId,
        expected: Option<Version>,
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
        let conditions = customer_conditions(self.dialect(), organization, scope, &query.filter);
        let listing = Listing::customers(&query.effective_sort(), &query.page);
        self.list(
            &listing,
            &Source::customers(),
            &conditions,
            query.count_total,
            records::customer,
        )
        .await
    }
}

#[async_trait]
impl<D: Driver> UserRepository for SqlStore<D> {
    async fn insert_user(&self, user: &User, invited: Option<Invited>) -> Result<(), RepoError> {
        let statement = self.insert("users", &records::user_values(user));
        match invited {
            None => self.driver.execute(&statement).await.map(drop),
            Some(invited) => {
                let statements = [
                    statement,
                    self.insert(
                        "invitations",
                        &records::invitation_values(&invited.invitation),
                    ),
                    self.insert("outbox", &records::outbox_values(&invited.mail)),
                ];
                self.driver.execute_atomically(&statements).await
            }
        }
    }

    async fn update_user(
        &self,
        organization: OrganizationId,
        id: UserId,
        read: Version,
        changes: &UserChanges,
    ) -> Result<Conditional<Version>, RepoError> {
        let values = records::user_change_values(changes);
        let updated = self
            .write_if_at("users", values, organization, id.uuid(), read)
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
    ) -> Result<Conditional<User>, RepoError> {
        let returning = format!(
            "{}, (SELECT kind FROM roles WHERE roles.id = users.role_id) AS role_kind",
            column_list("", USER_COLUMNS)
        );
        let deleted = self
            .delete_if_at(
                "users",
                &returning,
                organization,
                id.uuid(),
                expected,
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
        if customers.is_empty() {
            return Ok(Vec::new());
        }
        // One statement whatever the number of customers, two with the totals: the pages,
        // each customer's read as a page of its own, and the totals, grouped by customer.
        let conditions = user_conditions(organization, scope, &query.filter, false);
        let ids = Bind::UuidList(customers.iter().map(|id| id.uuid()).collect());
        let sort = query.effective_sort();
        let listing = Listing::users(&sort, &query.page);
        let source = Source::users(&sort);
        let page =
            listing.per_customer_statement(self.dialect(), &source, &conditions, ids.clone());
        let rows = self
            .fetch_all(page, |row| {
                let edge = Edge {
                    node: records::user(row)?,
                    cursor: listing.cursor(row)?,
                };
                Ok((edge.node.customer_id, edge))
            })
            .await?;
        let mut groups: HashMap<CustomerId, Vec<Edge<User>>> = HashMap::new();
        for (customer, edge) in rows {
            if let Some(customer) = customer {
                groups.entry(customer).or_default().push(edge);
            }
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
        Ok(customers
            .iter()
            .map(|customer| {
                let edges = groups.remove(customer).unwrap_or_default();
                let total = totals.as_ref().map(|totals| {
                    let total = totals.get(&customer.uuid()).copied().unwrap_or(0);
                    u64::try_from(total).unwrap_or(0)
                });
                (*customer, listing.finish(edges, total))
            })
            .collect())
    }
}

#[async_trait]
impl<D: Driver> RoleRepository for SqlStore<D> {
    async fn roles(&self, organization: OrganizationId) -> Result<Vec<Role>, RepoError> {
        let statement = self.statement(
            "SELECT id, kind FROM roles WHERE organization_id = ?",
            [Bind::uuid(organization.uuid())],
        );
        let mut roles = self.fetch_all(statement, records::role).await?;
        roles.sort_by_key(|role| RoleKind::ALL.iter().position(|kind| *kind == role.kind));
        Ok(roles)
    }

    async fn role(
        &self,
        organization: OrganizationId,
        id: RoleId,
    ) -> Result<Option<Role>, RepoError> {
        let statement = self.statement(
            "SELECT id, kind FROM roles WHERE organization_id = ? AND id = ?",
            org_and_id(organization, id.uuid()),
        );
        self.fetch_one(statement, records::role).await
    }
}

#[async_trait]
impl<D: Driver> OrganizationRepository for SqlStore<D> {
    async fn create_organization(
        &self,
        organization: &Organization,
        roles: &[Role],
        owner: &User,
    ) -> Result<(), RepoError> {
        let org = organization.id.uuid();
        let mut statements = vec![self.insert(
            "organizations",
            &[
                ("id", Bind::uuid(org)),
                ("name", Bind::text(organization.name.as_str())),
                ("name_key", Bind::text(organization.name.key())),
                ("created_at", Bind::time(organization.created_at)),
                ("version", Bind::int(i64::from(organization.version.get()))),
            ],
        )];
        for role in roles {
            statements.push(self.insert(
                "roles",
                &[
                    ("id", Bind::uuid(role.id.uuid())),
                    ("organization_id", Bind::uuid(org)),
                    ("kind", Bind::text(role.kind.key())),
                ],
            ));
        }
        statements.push(self.insert("users", &records::user_values(owner)));
        self.driver.execute_atomically(&statements).await
    }

    async fn organization(&self, id: OrganizationId) -> Result<Option<Organization>, RepoError> {
        let statement = self.organization_by("id = ?", Bind::uuid(id.uuid()));
        self.fetch_one(statement, records::organization).await
    }

    async fn organization_by_name(
        &self,
        name: &OrganizationName,
    ) -> Result<Option<Organization>, RepoError> {
        let statement = self.organization_by("name_key = ?", Bind::text(name.key()));
        self.fetch_one(statement, records::organization).await
    }

    async fn count_organizations(&self) -> Result<u64, RepoError> {
        self.count(self.statement("SELECT COUNT(*) AS total FROM organizations", []))
            .await
    }
}

#[async_trait]
impl<D: Driver> SecretRepository for SqlStore<D> {
    async fn get_or_insert_secret(
        &self,
        name: &str,
        candidate: &[u8],
    ) -> Result<Vec<u8>, RepoError> {
        // The first writer wins; everyone then reads what it stored.
        let insert = self.statement(
            "INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
            [Bind::text(name), Bind::Bytes(candidate.to_vec())],
        );
        self.driver.execute(&insert).await?;
        let select = self.statement(
            "SELECT value FROM secrets WHERE name = ?",
            [Bind::text(name)],
        );
        let value = self.fetch_one(select, |row| row.bytes("value")).await?;
        value.ok_or_else(|| {
            crate::CorruptRow(format!("secret {name:?} vanished after insert")).into_repo()
        })
    }

    async fn delete_secret(&self, name: &str) -> Result<bool, RepoError> {
        let statement = self.statement("DELETE FROM secrets WHERE name = ?", [Bind::text(name)]);
        Ok(self.driver.execute(&statement).await? > 0)
    }

    async fn token_keys(&self) -> Result<Vec<StoredTokenKey>, RepoError> {
        let statement = self.statement(
            "SELECT kid, secret, created_at FROM token_keys ORDER BY created_at, kid",
            [],
        );
        self.fetch_all(statement, |row| {
            Ok(StoredTokenKey {
                kid: row.text("kid")?,
                secret: row.bytes("secret")?,
                created_at: row.time("created_at")?,
            })
        })
        .await
    }

    async fn insert_token_key(&self, key: &StoredTokenKey) -> Result<(), RepoError> {
        let statement = self.insert(
            "token_keys",
            &[
                ("kid", Bind::text(key.kid.as_str())),
                ("secret", Bind::Bytes(key.secret.clone())),
                ("created_at", Bind::time(key.created_at)),
            ],
        );
        self.driver.execute(&statement).await.map(drop)
    }

    async fn delete_token_key(&self, kid: &str) -> Result<bool, RepoError> {
        let statement = self.statement("DELETE FROM token_keys WHERE kid = ?", [Bind::text(kid)]);
        Ok(self.driver.execute(&statement).await? > 0)
    }

    async fn ping(&self) -> Result<(), RepoError> {
        let statement = self.statement("SELECT 1 AS one", []);
        self.driver.fetch(&statement).await.map(drop)
    }
}

#[async_trait]
impl<D: Driver> SigningKeyRepository for SqlStore<D> {
    async fn insert_signing_key(&self, key: &SigningKey) -> Result<(), RepoError> {
        let statement = self.insert("signing_keys", &records::signing_key_values(key));
        self.driver.execute(&statement).await.map(drop)
    }

    async fn signing_keys(
        &self,
        organization: OrganizationId,
    ) -> Result<Vec<SigningKey>, RepoError> {
        let sql = format!(
            "SELECT {} FROM signing_keys WHERE organization_id = ? ORDER BY issued_at, id",
            column_list("", SIGNING_KEY_COLUMNS)
        );
        let statement = self.statement(&sql, [Bind::uuid(organization.uuid())]);
        self.fetch_all(statement, records::signing_key).await
    }

    async fn delete_signing_key(
        &self,
        organization: OrganizationId,
        id: SigningKeyId,
    ) -> Result<Option<SigningKey>, RepoError> {
        let sql = format!(
            "DELETE FROM signing_keys WHERE organization_id = ? AND id = ? RETURNING {}",
            column_list("", SIGNING_KEY_COLUMNS)
        );
        let statement = self.statement(&sql, org_and_id(organization, id.uuid()));
        self.fetch_one_written(statement, records::signing_key)
            .await
    }
}

#[async_trait]
impl<D: Driver> EmbeddedUserRepository for SqlStore<D> {
    async fn embedded_user(
        &self,
        organization: OrganizationId,
        customer: CustomerId,
        subject: &str,
    ) -> Result<Option<User>, RepoError> {
        let statement = self.user_by(
            "u.id = (SELECT e.user_id FROM embedded_subjects e \
             WHERE e.organization_id = ? AND e.customer_id = ? AND e.subject = ?)",
            [
                Bind::uuid(organization.uuid()),
                Bind::uuid(customer.uuid()),
                Bind::text(subject),
            ],
        );
        self.fetch_one(statement, records::user).await
    }

    async fn insert_embedded_user(&self, user: &User, subject: &str) -> Result<(), RepoError> {
        let customer = user.customer_id.ok_or_else(|| {
            crate::CorruptRow(format!("embedded user {} has no customer", user.id)).into_repo()
        })?;
        let statements = [
            self.insert("users", &records::user_values(user)),
            self.insert(
                "embedded_subjects",
                &[
                    ("user_id", Bind::uuid(user.id.uuid())),
                    ("organization_id", Bind::uuid(user.organization_id.uuid())),
                    ("customer_id", Bind::uuid(customer.uuid())),
                    ("subject", Bind::text(subject)),
                ],
            ),
        ];
        self.driver.execute_atomically(&statements).await
    }

    async fn embedded_subject_blocked(
        &self,
        organization: OrganizationId,
        customer: CustomerId,
        subject: &str,
    ) -> Result<bool, RepoError> {
        let statement = self.statement(
            "SELECT 1 AS blocked FROM embedded_blocks \
             WHERE organization_id = ? AND customer_id = ? AND subject = ?",
            [
                Bind::uuid(organization.uuid()),
                Bind::uuid(customer.uuid()),
                Bind::text(subject),
            ],
        );
        Ok(!self.driver.fetch(&statement).await?.is_empty())
    }

    async fn unblock_embedded_subject(
        &self,
        organization: OrganizationId,
        customer: CustomerId,
        subject: &str,
    ) -> Result<bool, RepoError> {
        let statement = self.statement(
            "DELETE FROM embedded_blocks \
             WHERE organization_id = ? AND customer_id = ? AND subject = ?",
            [
                Bind::uuid(organization.uuid()),
                Bind::uuid(customer.uuid()),
                Bind::text(subject),
            ],
        );
        Ok(self.driver.execute(&statement).await? > 0)
    }
}

#[async_trait]
impl<D: Driver> CredentialRepository for SqlStore<D> {
    async fn password_hash(
        &self,
        organization: OrganizationId,
        user: UserId,
    ) -> Result<Option<String>, RepoError> {
        let statement = self.statement(
            "SELECT hash FROM passwords WHERE organization_id = ? AND user_id = ?",
            org_and_id(organization, user.uuid()),
        );
        self.fetch_one(statement, |row| row.text("hash")).await
    }

    async fn password_hashes(&self, users: &[UserId]) -> Result<Vec<(UserId, String)>, RepoError> {
        let sql = format!(
            "SELECT user_id, hash FROM passwords WHERE {}",
            self.dialect().in_uuid_list("user_id")
        );
        let ids = users.iter().map(|user| user.uuid()).collect();
        let statement = self.statement(&sql, [Bind::UuidList(ids)]);
        self.fetch_all(statement, |row| {
            Ok((UserId::from_uuid(row.uuid("user_id")?), row.text("hash")?))
        })
        .await
    }

    async fn set_password_hash(
        &self,
        organization: OrganizationId,
        user: UserId,
        hash: &str,
        at: Timestamp,
    ) -> Result<bool, RepoError> {
        // Only for a user of the organization; replaces an earlier password.
        let statement = self.statement(
            "INSERT INTO passwords (user_id, organization_id, hash, updated_at) \
             SELECT id, organization_id, ?, ? FROM users WHERE organization_id = ? AND id = ? \
             ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, updated_at = excluded.updated_at",
            [
                Bind::text(hash),
                Bind::time(at),
                Bind::uuid(organization.uuid()),
                Bind::uuid(user.uuid()),
            ],
        );
        // A new password ends the user's sessions too: their refresh tokens are revoked.
        let end_sessions = self.statement(
            "UPDATE refresh_tokens SET revoked_at = ? \
             WHERE organization_id = ? AND user_id = ? AND revoked_at IS NULL",
            [
                Bind::time(at),
                Bind::uuid(organization.uuid()),
                Bind::uuid(user.uuid()),
            ],
        );
        self.driver
            .execute_atomically(&[statement, end_sessions])
            .await?;
        let set = self
            .password_hash(organization, user)
            .await?
            .is_some_and(|stored| stored == hash);
        if set {
            // The new password started a new token generation (a trigger): tokens end.
            self.access_changed(AccessChange::User(user));
        }
        Ok(set)
    }

    async fn record_login(
        &self,
        organization: OrganizationId,
        user: UserId,
        at: Timestamp,
    ) -> Result<(), RepoError> {
        let statement = self.statement(
            "UPDATE users SET last_login = ?, version = version + 1 \
             WHERE organization_id = ? AND id = ?",
            [
                Bind::time(at),
                Bind::uuid(organization.uuid()),
                Bind::uuid(user.uuid()),
            ],
        );
        self.driver.execute(&statement).await.map(drop)
    }

    async fn insert_refresh_token(&self, token: &RefreshToken) -> Result<(), RepoError> {
        let statement = self.insert("refresh_tokens", &records::refresh_token_values(token));
        self.driver.execute(&statement).await.map(drop)
    }

    async fn refresh_token(&self, token_hash: &str) -> Result<Option<RefreshToken>, RepoError> {
        let sql = format!(
            "SELECT {} FROM refresh_tokens WHERE token_hash = ?",
            column_list("", REFRESH_TOKEN_COLUMNS)
        );
        let statement = self.statement(&sql, [Bind::text(token_hash)]);
        self.fetch_one(statement, records::refresh_token).await
    }

    async fn use_refresh_token(&self, token_hash: &str, at: Timestamp) -> Result<bool, RepoError> {
        let statement = self.statement(
            "UPDATE refresh_tokens SET used_at = ? \
             WHERE token_hash = ? AND used_at IS NULL AND revoked_at IS NULL",
            [Bind::time(at), Bind::text(token_hash)],
        );
        Ok(self.driver.execute(&statement).await? == 1)
    }

    async fn revoke_refresh_family(
        &self,
        token: &RefreshToken,
        at: Timestamp,
    ) -> Result<u64, RepoError> {
        let statement = self.statement(
            "UPDATE refresh_tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL",
            [Bind::time(at), Bind::uuid(token.family)],
        );
        let revoked = self.driver.execute(&statement).await?;
        if revoked > 0 {
            self.access_changed(AccessChange::User(token.user_id));
        }
        Ok(revoked)
    }

    async fn caller(
        &self,
        organization: OrganizationId,
        user: UserId,
        revoked_since: Timestamp,
    ) -> Result<Option<Caller>, RepoError> {
        let revoked = match self.dialect() {
            crate::Dialect::Sqlite => "group_concat(DISTINCT t.family)",
            crate::Dialect::Postgres => "string_agg(DISTINCT CAST(t.family AS TEXT), ',')",
        };
        let sql = format!(
            "SELECT u.id, u.organization_id, u.customer_id, r.kind AS role_kind, \
             u.token_generation, (SELECT {revoked} FROM refresh_tokens t \
             WHERE t.user_id = u.id AND t.revoked_at > ?) AS revoked_sessions \
             FROM users u JOIN roles r ON r.id = u.role_id \
             WHERE u.organization_id = ? AND u.id = ?"
        );
        let statement = self.statement(
            &sql,
            [
                Bind::time(revoked_since),
                Bind::uuid(organization.uuid()),
                Bind::uuid(user.uuid()),
            ],
        );
        self.fetch_one(statement, caller).await
    }
}

/// A row of [`CredentialRepository::caller`]'s statement as a [`Caller`].
fn caller(row: &impl SqlRow) -> Result<Caller, RepoError> {
    let corrupt = |what: String| crate::CorruptRow(what).into_repo();
    let revoked_sessions = row
        .opt_text("revoked_sessions")?
        .unwrap_or_default()
        .split(',')
        .filter(|family| !family.is_empty())
        .map(|family| {
            Uuid::try_parse(family).map_err(|_| corrupt(format!("revoked family {family:?}")))
        })
        .collect::<Result<_, _>>()?;
    let kind = row.text("role_kind")?;
    Ok(Caller {
        actor: Actor {
            user_id: UserId::from_uuid(row.uuid("id")?),
            organization_id: OrganizationId::from_uuid(row.uuid("organization_id")?),
            customer_id: row.opt_uuid("customer_id")?.map(CustomerId::from_uuid),
            role: RoleKind::from_key(&kind)
                .ok_or_else(|| corrupt(format!("role kind {kind:?}")))?,
        },
        token_generation: row.int("token_generation")?,
        revoked_sessions,
    })
}

#[async_trait]
impl<D: Driver> InvitationRepository for SqlStore<D> {
    async fn invitation(
        &self,
        organization: OrganizationId,
        user: UserId,
    ) -> Result<Option<Invitation>, RepoError> {
        let sql = format!(
            "SELECT {} FROM invitations WHERE organization_id = ? AND user_id = ?",
            column_list("", INVITATION_COLUMNS)
        );
        let statement = self.statement(&sql, org_and_id(organization, user.uuid()));
        self.fetch_one(statement, records::invitation).await
    }

    async fn invitation_by_token(&self, token_hash: &str) -> Result<Option<Invitation>, RepoError> {
        let sql = format!(
            "SELECT {} FROM invitations WHERE token_hash = ?",
            column_list("", INVITATION_COLUMNS)
        );
        let statement = self.statement(&sql, [Bind::text(token_hash)]);
        self.fetch_one(statement, records::invitation).await
    }

    async fn renew_invitation(&self, invited: &Invited) -> Result<bool, RepoError> {
        let invitation = &invited.invitation;
        let renew = self.statement(
            "UPDATE invitations SET token_hash = ?, sent_at = ?, expires_at = ? \
             WHERE organization_id = ? AND user_id = ? AND accepted_at IS NULL",
            [
                Bind::text(invitation.token_hash.as_str()),
                Bind::time(invitation.sent_at),
                Bind::time(invitation.expires_at),
                Bind::uuid(invitation.organization_id.uuid()),
                Bind::uuid(invitation.user_id.uuid()),
            ],
        );
        // Queued only when the renewal above took effect (its new token hash is stored).
        let values = records::outbox_values(&invited.mail);
        let columns: Vec<&str> = values.iter().map(|(column, _)| *column).collect();
        let sql = format!(
            "INSERT INTO outbox ({}) SELECT {} WHERE EXISTS \
             (SELECT 1 FROM invitations WHERE token_hash = ? AND accepted_at IS NULL)",
            columns.join(", "),
            columns.iter().map(|_| "?").collect::<Vec<_>>().join(", ")
        );
        let queue = self.statement(
            &sql,
            values
                .into_iter()
                .map(|(_, bind)| bind)
                .chain([Bind::text(invitation.token_hash.as_str())]),
        );
        self.driver.execute_atomically(&[renew, queue]).await?;
        let stored = self.invitation_by_token(&invitation.token_hash).await?;
        Ok(stored.is_some_and(|stored| stored.accepted_at.is_none()))
    }

    async fn accept_invitation(
        &self,
        token_hash: &str,
        password_hash: &str,
        at: Timestamp,
    ) -> Result<bool, RepoError> {
        // Spending the token is the guard: the password is written only for the invitation
        // that this very transaction marked accepted at `at`.
        let spend = self.statement(
            "UPDATE invitations SET accepted_at = ? \
             WHERE token_hash = ? AND accepted_at IS NULL AND expires_at > ?",
            [Bind::time(at), Bind::text(token_hash), Bind::time(at)],
        );
        let password = self.statement(
            "INSERT INTO passwords (user_id, organization_id, hash, updated_at) \
             SELECT user_id, organization_id, ?, ? FROM invitations \
             WHERE token_hash = ? AND accepted_at = ? \
             ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, updated_at = excluded.updated_at",
            [
                Bind::text(password_hash),
                Bind::time(at),
                Bind::text(token_hash),
                Bind::time(at),
            ],
        );
        self.driver.execute_atomically(&[spend, password]).await?;
        let stored = self.invitation_by_token(token_hash).await?;
        match stored {
            Some(stored) if stored.accepted_at == Some(at) => {
                // The password started a new token generation (a trigger): tokens end.
                self.access_changed(AccessChange::User(stored.user_id));
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn claim_mail(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<OutboxMail>, RepoError> {
        // One statement: the row is picked and leased atomically. PostgreSQL skips rows
        // that a concurrent claimer holds; SQLite runs one writer at a time.
        let lock = match self.dialect() {
            crate::Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            crate::Dialect::Sqlite => "",
        };
        let sql = format!(
            "UPDATE outbox SET next_attempt_at = ?, attempts = attempts + 1 \
             WHERE id = (SELECT id FROM outbox WHERE next_attempt_at <= ? \
             ORDER BY next_attempt_at, id LIMIT 1{lock}) \
             AND next_attempt_at <= ? RETURNING {}",
            column_list("", OUTBOX_COLUMNS)
        );
        let statement = self.statement(
            &sql,
            [Bind::time(lease_until), Bind::time(now), Bind::time(now)],
        );
        self.fetch_one_written(statement, records::outbox_mail)
            .await
    }

    async fn mail_delivered(&self, id: Uuid) -> Result<(), RepoError> {
        let statement = self.statement("DELETE FROM outbox WHERE id = ?", [Bind::uuid(id)]);
        self.driver.execute(&statement).await.map(drop)
    }

    async fn mail_failed(
        &self,
        id: Uuid,
        retry_at: Timestamp,
        error: &str,
    ) -> Result<(), RepoError> {
        let statement = self.statement(
            "UPDATE outbox SET next_attempt_at = ?, last_error = ? WHERE id = ?",
            [Bind::time(retry_at), Bind::text(error), Bind::uuid(id)],
        );
        self.driver.execute(&statement).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use domain::access::{CustomerScope, UserScope};
    use domain::listing::{CustomerQuery, UserQuery};
    use domain::{CustomerId, OrganizationId, UserId};

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
        fn opt_text(&self, _: &str) -> Result<Option<String>, RepoError> {
            no_row()
        }
        fn opt_int(&self, _: &str) -> Result<Option<i64>, RepoError> {
            no_row()
        }
        fn opt_uuid(&self, _: &str) -> Result<Option<Uuid>, RepoError> {
            no_row()
        }
        fn opt_time(&self, _: &str) -> Result<Option<domain::Timestamp>, RepoError> {
            no_row()
        }
        fn bool(&self, _: &str) -> Result<bool, RepoError> {
            no_row()
        }
        fn json(&self, _: &str) -> Result<serde_json::Value, RepoError> {
            no_row()
        }
        fn bytes(&self, _: &str) -> Result<Vec<u8>, RepoError> {
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

        async fn execute_atomically(&self, statements: &[Statement]) -> Result<(), RepoError> {
            self.statements
                .lock()
                .unwrap()
                .extend_from_slice(statements);
            Ok(())
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

    #[test]
    fn updates_write_only_the_changed_columns_at_the_version_read() {
        let recorder = Recorder::default();
        let store = SqlStore::new(recorder);
        let changes = CustomerChanges {
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
        };
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
