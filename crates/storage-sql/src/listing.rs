//! Listings as SQL: filters and scope as conditions, sort orders as keys, cursors as keyset
//! conditions or row offsets, and pages assembled from the fetched rows.
//!
//! The model, for one list (or one customer's users):
//! 1. `R` is the rows that pass the organization, scope and filters, and lie strictly after
//!    the `after` key and strictly before the `before` key (when those are keys), in sort
//!    order (the given keys, then the id ascending).
//! 2. Offset cursors and the `offset` argument cut `R` by position: `after:
//!    arrayconnection:n` starts at index `n + 1`, `before: arrayconnection:m` ends before
//!    index `m`, and `offset` skips that many more rows at the start.
//! 3. `first` takes rows from the start of what is left, `last` (without `first`) from its end.
//!
//! One more row than asked is fetched to tell whether there is a next (or previous) page.

use std::borrow::Cow;
use std::cmp::Ordering;

use domain::access::{CustomerScope, UserScope};
use domain::listing::{
    CursorKey, CustomerFilter, CustomerSortField, Direction, Edge, Page, PageRequest, Position,
    Sort, SortField, SortValue, SortValueKind, UserFilter, UserSortField,
};
use domain::text::fold_case;
use domain::{OrganizationId, RoleKind};
use ports::RepoError;
use uuid::Uuid;

use crate::columns::Columns;
use crate::driver::SqlRow;
use crate::records::{
    CUSTOMER_COLUMNS, CUSTOMER_SUMMARY_COLUMNS, ROLE_KIND, USER_COLUMNS, USER_ROW_WIDTH,
    USER_SUMMARY_COLUMNS, column_list,
};
use crate::statement::{Bind, Dialect, Sql, Statement};

/// One key of a listing's order: the SQL expression, its direction and its value type.
#[derive(Debug, Clone)]
struct SortKey {
    expr: String,
    direction: Direction,
    kind: SortValueKind,
    /// True when no two rows of a listing hold the same value (a unique index within the
    /// organization, which every listing is confined to): the key orders them alone.
    unique: bool,
}

fn customer_key(field: CustomerSortField) -> (String, SortValueKind, bool) {
    // Names are unique per organization, ignoring case: `name_key` is.
    let unique = field == CustomerSortField::Name;
    let expr = match field {
        CustomerSortField::Name => "c.name_key",
        CustomerSortField::Description => "c.description",
        CustomerSortField::CreatedAt => "c.created_at",
        CustomerSortField::UpdatedAt => "c.updated_at",
        CustomerSortField::ConcurrentExecutionLimit => "COALESCE(c.concurrent_execution_limit, -1)",
    };
    (expr.to_owned(), field.value_kind(), unique)
}

fn user_key(field: UserSortField) -> (String, SortValueKind, bool) {
    // Email addresses are unique per organization, ignoring case: `email_key` is.
    let unique = field == UserSortField::Email;
    let expr = match field {
        UserSortField::Name => "u.name_key".to_owned(),
        UserSortField::Email => "u.email_key".to_owned(),
        UserSortField::CreatedAt => "u.created_at".to_owned(),
        UserSortField::UpdatedAt => "u.updated_at".to_owned(),
        // Team members have no customer: they sort as the empty name, so first.
        UserSortField::Customer => "COALESCE(cu.name_key, '')".to_owned(),
        UserSortField::Role => role_level("r.kind"),
    };
    (expr, field.value_kind(), unique)
}

/// The level of the role whose stored kind key is `kind`, computed from the domain's table
/// so that storage never holds a copy that could drift.
fn role_level(kind: &str) -> String {
    let arms: String = RoleKind::ALL
        .iter()
        .map(|role| format!(" WHEN '{}' THEN {}", role.key(), role.level()))
        .collect();
    format!("(CASE {kind}{arms} ELSE 0 END)")
}

fn sort_keys<F: Copy>(
    sort: &[Sort<F>],
    key: impl Fn(F) -> (String, SortValueKind, bool),
) -> Vec<SortKey> {
    sort.iter()
        .map(|sort| {
            let (expr, kind, unique) = key(sort.field);
            SortKey {
                expr,
                direction: sort.direction,
                kind,
                unique,
            }
        })
        .collect()
}

/// `text` as a `LIKE` pattern that matches it literally, with `\` as the escape character.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for ch in text.chars() {
        if matches!(ch, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(ch);
    }
    escaped
}

fn contains_pattern(needle: &str) -> Bind {
    Bind::text(format!("%{}%", escape_like(needle)))
}

fn time_range(
    sql: &mut Sql,
    column: &str,
    gte: Option<domain::Timestamp>,
    lte: Option<domain::Timestamp>,
) {
    if let Some(time) = gte {
        sql.and(&format!("{column} >= ?"), [Bind::time(time)]);
    }
    if let Some(time) = lte {
        sql.and(&format!("{column} <= ?"), [Bind::time(time)]);
    }
}

fn is_null(sql: &mut Sql, column: &str, null: Option<bool>) {
    match null {
        Some(true) => sql.and(&format!("{column} IS NULL"), []),
        Some(false) => sql.and(&format!("{column} IS NOT NULL"), []),
        None => sql,
    };
}

/// The alias of a listing's `index`th sort-key column (`k0`, `k1`, ...): the SQL names it,
/// and a row's cursor is read back checked against it.
fn key_column(index: usize) -> Cow<'static, str> {
    // Sort keys are distinct fields, so a handful; the rest are spelled when needed.
    const NAMES: [&str; 8] = ["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"];
    NAMES.get(index).map_or_else(
        || Cow::Owned(format!("k{index}")),
        |name| Cow::Borrowed(*name),
    )
}

/// What a listing selects and from where: the row's columns, the tables joined, and the
/// main table alone (all that conditions and counts need).
///
/// The columns are the decoder's, in its order (`records::customer`, `records::user`); the
/// listing's sort keys follow them (see [`Listing::cursor`]).
pub(crate) struct Source {
    pub(crate) columns: String,
    /// The names of `columns`' result columns, in order.
    pub(crate) names: Vec<&'static str>,
    pub(crate) from: &'static str,
    pub(crate) table: &'static str,
}

impl Source {
    /// Customers, aliased `c`.
    pub(crate) fn customers() -> Source {
        Source {
            columns: column_list("c", CUSTOMER_COLUMNS),
            names: CUSTOMER_COLUMNS.to_vec(),
            from: "customers c",
            table: "customers c",
        }
    }

    /// Customers `c` as summaries ([`CUSTOMER_SUMMARY_COLUMNS`]).
    pub(crate) fn customer_summaries() -> Source {
        Source {
            columns: column_list("c", CUSTOMER_SUMMARY_COLUMNS),
            names: CUSTOMER_SUMMARY_COLUMNS.to_vec(),
            from: "customers c",
            table: "customers c",
        }
    }

    /// Users `u` with their role `r`, and their customer `cu` only when the order needs
    /// its name (nothing else reads it).
    pub(crate) fn users(sort: &[Sort<UserSortField>]) -> Source {
        Source {
            columns: format!("{}, r.kind AS {ROLE_KIND}", column_list("u", USER_COLUMNS)),
            names: USER_COLUMNS.iter().copied().chain([ROLE_KIND]).collect(),
            from: users_from(true, sorts_by(sort, UserSortField::Customer)),
            table: "users u",
        }
    }

    /// Users `u` as summaries ([`USER_SUMMARY_COLUMNS`]): their role `r` and their customer
    /// `cu` joined only when the order needs them.
    pub(crate) fn user_summaries(sort: &[Sort<UserSortField>]) -> Source {
        Source {
            columns: column_list("u", USER_SUMMARY_COLUMNS),
            names: USER_SUMMARY_COLUMNS.to_vec(),
            from: users_from(
                sorts_by(sort, UserSortField::Role),
                sorts_by(sort, UserSortField::Customer),
            ),
            table: "users u",
        }
    }
}

fn sorts_by(sort: &[Sort<UserSortField>], field: UserSortField) -> bool {
    sort.iter().any(|key| key.field == field)
}

/// `users u`, joined with its role `r` and its customer `cu` as asked.
fn users_from(role: bool, customer: bool) -> &'static str {
    match (role, customer) {
        (true, true) => {
            "users u JOIN roles r ON r.id = u.role_id \
             LEFT JOIN customers cu ON cu.id = u.customer_id"
        }
        (true, false) => "users u JOIN roles r ON r.id = u.role_id",
        (false, true) => "users u LEFT JOIN customers cu ON cu.id = u.customer_id",
        (false, false) => "users u",
    }
}

/// The conditions of a customer listing: organization, scope and every given filter.
pub(crate) fn customer_conditions(
    dialect: Dialect,
    organization: OrganizationId,
    scope: CustomerScope,
    filter: &CustomerFilter,
) -> Sql {
    let mut sql = Sql::new("c.organization_id = ?", [Bind::uuid(organization.uuid())]);
    match scope {
        CustomerScope::All => {}
        CustomerScope::Only(id) => {
            sql.and("c.id = ?", [Bind::uuid(id.uuid())]);
        }
        CustomerScope::Nothing => {
            sql.and("1 = 0", []);
        }
    }
    if let Some(name) = &filter.name {
        sql.and("c.name = ?", [Bind::text(name)]);
    }
    if let Some(needle) = &filter.name_icontains {
        sql.and(
            "c.name_key LIKE ? ESCAPE '\\'",
            [contains_pattern(&fold_case(needle))],
        );
    }
    if let Some(prefix) = &filter.name_istartswith {
        let pattern = format!("{}%", escape_like(&fold_case(prefix)));
        sql.and("c.name_key LIKE ? ESCAPE '\\'", [Bind::text(pattern)]);
    }
    if let Some(needle) = &filter.description_icontains {
        sql.and(
            "lower(c.description) LIKE lower(?) ESCAPE '\\'",
            [contains_pattern(needle)],
        );
    }
    if let Some(external_id) = &filter.external_id {
        sql.and("c.external_id = ?", [Bind::text(external_id)]);
    }
    is_null(&mut sql, "c.external_id", filter.external_id_isnull);
    if let Some(label) = &filter.labels_contains {
        sql.and(
            &dialect.json_array_contains("c.labels"),
            [Bind::text(label)],
        );
    }
    if let Some(is_system) = filter.is_system {
        sql.and("c.is_system = ?", [Bind::Bool(is_system)]);
    }
    time_range(
        &mut sql,
        "c.created_at",
        filter.created_at_gte,
        filter.created_at_lte,
    );
    time_range(
        &mut sql,
        "c.updated_at",
        filter.updated_at_gte,
        filter.updated_at_lte,
    );
    sql
}

/// Which users `scope` sees, as a condition; `None` when it sees every row the listing can
/// return (a condition that is always true only costs the planner). The batched listing
/// (`by_customer` false) returns customer users only, so team members' rule drops out.
fn visibility(scope: UserScope, by_customer: bool) -> Option<Sql> {
    let batched = !by_customer;
    let team = scope.organization_users && !batched;
    let mut visible = Sql::new("u.id = ?", [Bind::uuid(scope.me.uuid())]);
    match scope.customers {
        // Every customer user, and the team members too (or none are listed).
        CustomerScope::All if team || batched => return None,
        CustomerScope::All => {
            visible.push(" OR u.customer_id IS NOT NULL", []);
        }
        CustomerScope::Only(id) => {
            visible.push(" OR u.customer_id = ?", [Bind::uuid(id.uuid())]);
        }
        CustomerScope::Nothing => {}
    }
    if team {
        visible.push(" OR u.customer_id IS NULL", []);
    }
    Some(visible)
}

/// The conditions of a user listing: organization, scope and every given filter, except
/// `filter.customer` when `by_customer` is false (the batched listing sets it per group).
pub(crate) fn user_conditions(
    organization: OrganizationId,
    scope: UserScope,
    filter: &UserFilter,
    by_customer: bool,
) -> Sql {
    let mut sql = Sql::new("u.organization_id = ?", [Bind::uuid(organization.uuid())]);
    if let Some(visible) = visibility(scope, by_customer) {
        sql.push(" AND (", []).append(&visible).push(")", []);
    }
    if let Some(name) = &filter.name {
        sql.and("u.name = ?", [Bind::text(name)]);
    }
    if let Some(needle) = &filter.name_icontains {
        sql.and(
            "u.name_key LIKE ? ESCAPE '\\'",
            [contains_pattern(&fold_case(needle))],
        );
    }
    if let Some(email) = &filter.email {
        // Emails are unique ignoring case, so the exact filter ignores case too.
        sql.and("u.email_key = ?", [Bind::text(fold_case(email.trim()))]);
    }
    if let Some(needle) = &filter.email_icontains {
        sql.and(
            "u.email_key LIKE ? ESCAPE '\\'",
            [contains_pattern(&fold_case(needle))],
        );
    }
    if let Some(external_id) = &filter.external_id {
        sql.and("u.external_id = ?", [Bind::text(external_id)]);
    }
    if by_customer && let Some(customer) = filter.customer {
        sql.and("u.customer_id = ?", [Bind::uuid(customer.uuid())]);
    }
    is_null(&mut sql, "u.customer_id", filter.customer_isnull);
    time_range(
        &mut sql,
        "u.created_at",
        filter.created_at_gte,
        filter.created_at_lte,
    );
    time_range(
        &mut sql,
        "u.updated_at",
        filter.updated_at_gte,
        filter.updated_at_lte,
    );
    // Active users are those never deactivated (or reactivated since).
    is_null(&mut sql, "u.deactivated_at", filter.active);
    sql
}

/// One page request turned into SQL, and back into a [`Page`] once the rows are fetched.
pub(crate) struct Listing<'a> {
    keys: Vec<SortKey>,
    /// Position in a fetched row of the first sort-key column: the row's own columns come
    /// first.
    key_start: usize,
    id_expr: &'static str,
    page: &'a PageRequest,
    limit: u64,
    backward: bool,
    /// Index in `R` (see the module docs) of the first row that may be returned.
    start: u64,
    /// Index in `R` of the first row that may not be returned, if bounded.
    end: Option<u64>,
    /// True when rows are numbered with a window function and come back in sort order:
    /// a backward page cut by offsets, whose end is only known once `R` is counted.
    windowed: bool,
}

impl<'a> Listing<'a> {
    /// A customer listing for `page` in the order `sort`.
    pub(crate) fn customers(sort: &[Sort<CustomerSortField>], page: &'a PageRequest) -> Self {
        let key_start = CUSTOMER_COLUMNS.len();
        Listing::new(sort_keys(sort, customer_key), key_start, "c.id", page)
    }

    /// A listing of customer summaries (rows of [`Source::customer_summaries`]), as
    /// [`Listing::customers`].
    pub(crate) fn customer_summaries(
        sort: &[Sort<CustomerSortField>],
        page: &'a PageRequest,
    ) -> Self {
        let key_start = CUSTOMER_SUMMARY_COLUMNS.len();
        Listing::new(sort_keys(sort, customer_key), key_start, "c.id", page)
    }

    /// A user listing for `page` in the order `sort` (one customer's, or each of a batch's).
    pub(crate) fn users(sort: &[Sort<UserSortField>], page: &'a PageRequest) -> Self {
        Listing::new(sort_keys(sort, user_key), USER_ROW_WIDTH, "u.id", page)
    }

    /// A listing of user summaries (rows of [`Source::user_summaries`]), as [`Listing::users`].
    pub(crate) fn user_summaries(sort: &[Sort<UserSortField>], page: &'a PageRequest) -> Self {
        let key_start = USER_SUMMARY_COLUMNS.len();
        Listing::new(sort_keys(sort, user_key), key_start, "u.id", page)
    }

    fn new(
        keys: Vec<SortKey>,
        key_start: usize,
        id_expr: &'static str,
        page: &'a PageRequest,
    ) -> Self {
        let mut start = page.offset;
        if let Some(Position::Offset(n)) = page.after {
            start = start.saturating_add(n.saturating_add(1));
        }
        let end = match page.before {
            Some(Position::Offset(m)) => Some(m),
            _ => None,
        };
        let backward = page.is_backward();
        Listing {
            keys,
            key_start,
            id_expr,
            page,
            limit: u64::from(page.limit()),
            backward,
            start,
            end,
            windowed: backward && (start > 0 || end.is_some()),
        }
    }

    /// The statement that fetches the page from `source` under `conditions`.
    pub(crate) fn page_statement(
        &self,
        dialect: Dialect,
        source: &Source,
        conditions: &Sql,
    ) -> Statement {
        if self.windowed {
            return self
                .windowed_statement(source, conditions, None)
                .finish(dialect);
        }
        let mut sql = self.select(source, conditions);
        self.push_limit(&mut sql);
        sql.finish(dialect)
    }

    /// The statement that fetches the page of each customer of `customers` (a
    /// [`Bind::UuidList`]) at once, `u.customer_id` standing for the customer.
    ///
    /// Each customer's rows are read as a page of its own, with its `LIMIT` and `OFFSET`, so
    /// the index on `(organization_id, customer_id, <order>)` stops at the page's end: a
    /// `LATERAL` join on PostgreSQL, a correlated `IN` of rowids on SQLite (which has no
    /// `LATERAL`).
    ///
    /// Rows come back in no promised order within a customer: on PostgreSQL grouped by
    /// customer, each group as its subquery returned it (which the nested loop keeps, but SQL
    /// does not promise); on SQLite in no order at all. The caller groups them and puts each
    /// group in order ([`Listing::put_in_fetch_order`]). Ordering the whole result by the
    /// keys again cost PostgreSQL an incremental sort of every row, a fifth of the
    /// statement, and SQLite a temporary B-tree, a tenth.
    pub(crate) fn per_customer_statement(
        &self,
        dialect: Dialect,
        source: &Source,
        conditions: &Sql,
        customers: Bind,
    ) -> Statement {
        if self.windowed {
            let mut conditions = conditions.clone();
            conditions.and(&dialect.in_uuid_list("u.customer_id"), [customers]);
            return self
                .windowed_statement(source, &conditions, Some("u.customer_id"))
                .finish(dialect);
        }
        let mut sql;
        match dialect {
            Dialect::Postgres => {
                sql = Sql::new(
                    "SELECT p.* FROM unnest(CAST(? AS uuid[])) WITH ORDINALITY AS ids(id, n) \
                     CROSS JOIN LATERAL (",
                    [customers],
                );
                let mut group = conditions.clone();
                group.and("u.customer_id = ids.id", []);
                let mut inner = self.select(source, &group);
                self.push_limit(&mut inner);
                sql.append(&inner);
                // `ids.n` is the function scan's own order: no sort at all.
                sql.push(") p ORDER BY ids.n", []);
            }
            Dialect::Sqlite => {
                sql = Sql::new(&format!("SELECT {}", source.columns), []);
                self.push_key_columns(&mut sql);
                // Matched by rowid, not by `id`: each row the subquery picks is then read
                // with one seek of the table, not a seek of `id`'s index and one of the table.
                sql.push(
                    &format!(
                        " FROM json_each(?) ids, {} WHERE u.rowid IN (SELECT u.rowid FROM {} WHERE ",
                        source.from, source.from
                    ),
                    [customers],
                );
                sql.append(conditions);
                sql.and("u.customer_id = ids.value", []);
                self.push_cursors(&mut sql);
                self.push_limit(&mut sql);
                // Unordered: SQLite would sort every row in a temporary B-tree (it knows no
                // order of `json_each`), a tenth of the statement.
                sql.push(")", []);
            }
        }
        sql.finish(dialect)
    }

    /// The names of the columns this listing's rows hold from `source`, in order: the
    /// source's own, then the sort keys'.
    pub(crate) fn row_columns(&self, source: &Source) -> Vec<Cow<'static, str>> {
        let keys = (0..self.keys.len()).map(key_column);
        source
            .names
            .iter()
            .map(|name| Cow::Borrowed(*name))
            .chain(keys)
            .collect()
    }

    /// `SELECT <columns>, <keys> FROM <source> WHERE <conditions> <cursors>`.
    fn select(&self, source: &Source, conditions: &Sql) -> Sql {
        let mut sql = Sql::new(&format!("SELECT {}", source.columns), []);
        self.push_key_columns(&mut sql);
        sql.push(&format!(" FROM {} WHERE ", source.from), []);
        sql.append(conditions);
        self.push_cursors(&mut sql);
        sql
    }

    /// `, <key> AS k0, ...`: the sort-key values each row's cursor is made of, right after
    /// the source's columns.
    fn push_key_columns(&self, sql: &mut Sql) {
        for (index, key) in self.keys.iter().enumerate() {
            sql.push(&format!(", {} AS {}", key.expr, key_column(index)), []);
        }
    }

    /// The keyset conditions of the `after` and `before` keys.
    fn push_cursors(&self, sql: &mut Sql) {
        for (position, after) in [(&self.page.after, true), (&self.page.before, false)] {
            if let Some(Position::Key(cursor)) = position {
                self.push_keyset(sql, cursor, after);
            }
        }
    }

    /// ` ORDER BY ... LIMIT ? OFFSET ?`: the page and one row more, in fetch order.
    fn push_limit(&self, sql: &mut Sql) {
        let mut fetch = self.limit + 1;
        if let Some(end) = self.end {
            fetch = fetch.min(end.saturating_sub(self.start));
        }
        sql.push(&format!(" ORDER BY {}", self.order(self.backward)), []);
        sql.push(" LIMIT ? OFFSET ?", [int(fetch), int(self.start)]);
    }

    /// A backward page cut by offsets: rows numbered (per `partition` group when given)
    /// and counted with window functions, kept by number.
    fn windowed_statement(
        &self,
        source: &Source,
        conditions: &Sql,
        partition: Option<&str>,
    ) -> Sql {
        let over = partition.map_or(String::new(), |p| format!("PARTITION BY {p} "));
        let mut inner = Sql::new(&format!("SELECT {}", source.columns), []);
        self.push_key_columns(&mut inner);
        inner.push(
            &format!(
                ", ROW_NUMBER() OVER ({over}ORDER BY {}) AS row_index, \
                 COUNT(*) OVER ({over}) AS row_count FROM {} WHERE ",
                self.order(false),
                source.from
            ),
            [],
        );
        inner.append(conditions);
        self.push_cursors(&mut inner);
        // 1-based row_index; keep (start, end] and the last limit + 1 of it.
        let mut outer = Sql::new("SELECT * FROM (", []);
        outer.append(&inner);
        outer.push(") w WHERE w.row_index > ?", [int(self.start)]);
        if let Some(end) = self.end {
            outer.push(" AND w.row_index <= ?", [int(end)]);
        }
        outer.push(" AND (w.row_count - w.row_index <= ?", [int(self.limit)]);
        if let Some(end) = self.end {
            let from = i64::try_from(end).unwrap_or(i64::MAX) - int_value(self.limit);
            outer.push(" OR w.row_index >= ?", [Bind::int(from)]);
        }
        outer.push(") ORDER BY w.row_index", []);
        outer
    }

    /// The keys that order the rows in SQL, and whether the id must break their ties: every
    /// key up to the first unique one, after which neither a later key nor the id can
    /// separate two rows. PostgreSQL does not infer that from the unique index, and sorted
    /// every page of customers by name again to order its ties by id (about a quarter of the
    /// statement's time). The cursors still hold every key's value and the id.
    fn ordering(&self) -> (&[SortKey], bool) {
        match self.keys.iter().position(|key| key.unique) {
            Some(at) => (self.keys.split_at(at + 1).0, false),
            None => (&self.keys, true),
        }
    }

    /// `ORDER BY` keys: the sort order (reversed for a backward fetch), then the id, unless
    /// a unique key orders the rows alone ([`Listing::ordering`]).
    fn order(&self, reversed: bool) -> String {
        let direction = |direction: Direction| match (direction, reversed) {
            (Direction::Asc, false) | (Direction::Desc, true) => "ASC",
            _ => "DESC",
        };
        let (keys, by_id) = self.ordering();
        let mut keys: Vec<String> = keys
            .iter()
            .map(|key| format!("{} {}", key.expr, direction(key.direction)))
            .collect();
        if by_id {
            keys.push(format!("{} {}", self.id_expr, direction(Direction::Asc)));
        }
        keys.join(", ")
    }

    /// ` AND (...)`: the row lies strictly after (or before) `cursor` in sort order, as an
    /// OR-chain over the ordering keys: `k1 > v1 OR (k1 = v1 AND k2 > v2) OR ... (id > cursor
    /// id)`, the id left out when a unique key orders the rows alone.
    fn push_keyset(&self, sql: &mut Sql, cursor: &CursorKey, after: bool) {
        let kinds: Vec<SortValueKind> = self.keys.iter().map(|key| key.kind).collect();
        if !PageRequest::cursor_fits(cursor, &kinds) {
            // A cursor of another order points nowhere in this one (callers reject it first).
            sql.and("1 = 0", []);
            return;
        }
        // Each ordering key's expression and direction, then the id, ascending, unless a
        // unique key orders the rows alone, with the cursor's value for each.
        let (keys, by_id) = self.ordering();
        let id = by_id.then(|| (self.id_expr, Direction::Asc, Bind::uuid(cursor.id)));
        let columns: Vec<(&str, Direction, Bind)> = keys
            .iter()
            .zip(&cursor.values)
            .map(|(key, value)| (key.expr.as_str(), key.direction, sort_value_bind(value)))
            .chain(id)
            .collect();
        let mut chain = Sql::default();
        for (index, (expr, direction, value)) in columns.iter().enumerate() {
            if index > 0 {
                chain.push(" OR ", []);
            }
            chain.push("(", []);
            for (equal, _, equal_value) in columns.iter().take(index) {
                chain.push(&format!("{equal} = ? AND "), [equal_value.clone()]);
            }
            let greater = (*direction == Direction::Asc) == after;
            let op = if greater { ">" } else { "<" };
            chain.push(&format!("{expr} {op} ?)"), [value.clone()]);
        }
        sql.push(" AND (", []).append(&chain).push(")", []);
    }

    /// The cursor of a fetched row whose record has `id` (already decoded: the row's first
    /// column), from its `k0..kn` columns (after the source's), read by position.
    pub(crate) fn cursor(&self, row: &impl SqlRow, id: Uuid) -> Result<CursorKey, RepoError> {
        let mut columns = Columns::at(row, self.key_start);
        let mut values = Vec::with_capacity(self.keys.len());
        for (index, key) in self.keys.iter().enumerate() {
            let column = key_column(index);
            values.push(match key.kind {
                SortValueKind::Text => SortValue::Text(columns.str(&column)?.to_owned()),
                SortValueKind::Int => SortValue::Int(columns.int(&column)?),
                SortValueKind::Time => SortValue::Time(columns.time(&column)?),
            });
        }
        Ok(CursorKey { values, id })
    }

    /// Puts `edges` (a page's, or one group's) in fetch order, if they are not already: the
    /// page's order, reversed for a backward page fetched from its end (not for a windowed
    /// one). Compares as the databases do, which holds for every key of a customer or user
    /// listing: text keys are byte-ordered (`collate "C"` on PostgreSQL, `BINARY` on
    /// SQLite), then numbers, times (microseconds on both) and the id (a `uuid`; lowercase
    /// hyphenated text on SQLite). Costs one comparison per row when the rows came in order.
    pub(crate) fn put_in_fetch_order<T>(&self, edges: &mut [Edge<T>]) {
        let in_order = |a: &Edge<T>, b: &Edge<T>| self.fetch_order(&a.cursor, &b.cursor);
        if !edges.is_sorted_by(|a, b| in_order(a, b) != Ordering::Greater) {
            edges.sort_by(in_order);
        }
    }

    /// How `a` and `b` compare in fetch order.
    fn fetch_order(&self, a: &CursorKey, b: &CursorKey) -> Ordering {
        let keys = self.keys.iter().zip(a.values.iter().zip(&b.values));
        let ordering = keys
            .map(|(key, (a, b))| {
                let ordering = match (a, b) {
                    (SortValue::Text(a), SortValue::Text(b)) => a.as_bytes().cmp(b.as_bytes()),
                    (SortValue::Int(a), SortValue::Int(b)) => a.cmp(b),
                    (SortValue::Time(a), SortValue::Time(b)) => a.cmp(b),
                    // Cursors of one listing hold values of its keys' kinds.
                    _ => Ordering::Equal,
                };
                match key.direction {
                    Direction::Asc => ordering,
                    Direction::Desc => ordering.reverse(),
                }
            })
            .find(|ordering| ordering.is_ne())
            .unwrap_or_else(|| a.id.cmp(&b.id));
        if self.backward && !self.windowed {
            ordering.reverse()
        } else {
            ordering
        }
    }

    /// The page made of `edges` as fetched (one group's, in fetch order) and the total,
    /// when counted.
    pub(crate) fn finish<T>(&self, mut edges: Vec<Edge<T>>, total_count: Option<u64>) -> Page<T> {
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        let more = edges.len() > limit;
        if self.backward {
            if self.windowed {
                let extra = edges.len().saturating_sub(limit);
                edges.drain(..extra);
            } else {
                edges.truncate(limit);
                edges.reverse();
            }
        } else {
            edges.truncate(limit);
        }
        let (has_next_page, has_previous_page) = if self.backward {
            (self.page.before.is_some(), more)
        } else {
            let after_key = matches!(self.page.after, Some(Position::Key(_)));
            (more, self.start > 0 || after_key)
        };
        Page {
            edges,
            has_next_page,
            has_previous_page,
            total_count,
        }
    }
}

fn int_value(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn int(value: u64) -> Bind {
    Bind::int(int_value(value))
}

fn sort_value_bind(value: &SortValue) -> Bind {
    match value {
        SortValue::Text(text) => Bind::text(text),
        SortValue::Int(int) => Bind::int(*int),
        SortValue::Time(time) => Bind::time(*time),
    }
}

/// `SELECT COUNT(*) AS total FROM <from> WHERE <conditions>`, grouped by `group` if given.
pub(crate) fn count_statement(
    dialect: Dialect,
    from: &str,
    conditions: &Sql,
    group: Option<&str>,
) -> Statement {
    let columns = group.map_or(String::new(), |g| format!("{g} AS group_id, "));
    let mut sql = Sql::new(
        &format!("SELECT {columns}COUNT(*) AS total FROM {from} WHERE "),
        [],
    );
    sql.append(conditions);
    if let Some(group) = group {
        sql.push(&format!(" GROUP BY {group}"), []);
    }
    sql.finish(dialect)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::columns::testing::Cell;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(escape_like(r"50%_off\"), r"50\%\_off\\");
    }

    #[test]
    fn role_levels_come_from_the_domain() {
        let expr = role_level("r.kind");
        for kind in RoleKind::ALL {
            assert!(
                expr.contains(&format!("WHEN '{}' THEN {}", kind.key(), kind.level())),
                "{expr}"
            );
        }
    }

    /// Edges whose cursors hold `(role level, name)` keys and the id `n`.
    fn edges(keys: &[(i64, &str, u128)]) -> Vec<Edge<u128>> {
        keys.iter()
            .map(|&(level, name, n)| Edge {
                node: n,
                cursor: CursorKey {
                    values: vec![SortValue::Int(level), SortValue::Text(name.into())],
                    id: Uuid::from_u128(n),
                },
            })
            .collect()
    }

    #[test]
    fn groups_are_put_in_fetch_order_by_each_keys_direction() {
        let sort = [
            Sort {
                field: UserSortField::Role,
                direction: Direction::Desc,
            },
            Sort {
                field: UserSortField::Name,
                direction: Direction::Asc,
            },
        ];
        // Bytes order: "B" before "a" before "é"; equal keys go by id.
        let shuffled = [
            (1, "a", 5),
            (2, "é", 1),
            (1, "B", 4),
            (2, "a", 3),
            (2, "a", 2),
        ];
        let forward = PageRequest::default();
        let mut group = edges(&shuffled);
        Listing::users(&sort, &forward).put_in_fetch_order(&mut group);
        let order: Vec<u128> = group.iter().map(|edge| edge.node).collect();
        assert_eq!(order, [2, 3, 1, 4, 5]);
        // A backward page is fetched from its end.
        let backward = PageRequest {
            last: Some(3),
            ..PageRequest::default()
        };
        let mut group = edges(&shuffled);
        Listing::users(&sort, &backward).put_in_fetch_order(&mut group);
        let order: Vec<u128> = group.iter().map(|edge| edge.node).collect();
        assert_eq!(order, [5, 4, 1, 3, 2]);
        // A backward page cut by offsets is numbered and fetched in page order.
        let windowed = PageRequest {
            after: Some(Position::Offset(0)),
            ..backward
        };
        let mut group = edges(&shuffled);
        Listing::users(&sort, &windowed).put_in_fetch_order(&mut group);
        let order: Vec<u128> = group.iter().map(|edge| edge.node).collect();
        assert_eq!(order, [2, 3, 1, 4, 5]);
    }

    #[test]
    fn keyset_chain_follows_each_keys_direction() {
        let page = PageRequest::default();
        let sort = [Sort {
            field: CustomerSortField::CreatedAt,
            direction: Direction::Desc,
        }];
        let listing = Listing::customers(&sort, &page);
        let cursor = CursorKey {
            values: vec![SortValue::Time(domain::now())],
            id: uuid::Uuid::nil(),
        };
        let mut sql = Sql::default();
        listing.push_keyset(&mut sql, &cursor, true);
        let statement = sql.finish(Dialect::Postgres);
        assert_eq!(
            statement.sql,
            " AND ((c.created_at < $1) OR (c.created_at = $2 AND c.id > $3))"
        );
        assert_eq!(statement.binds.len(), 3);
    }

    #[test]
    fn a_unique_key_orders_alone_and_the_keys_after_it_are_not_written() {
        let page = PageRequest::default();
        let key = |field, direction| Sort { field, direction };
        let now = SortValue::Time(domain::now());
        let name = SortValue::Text("acme".into());
        // (sort, cursor values, ORDER BY, keyset after the cursor)
        let cases = [
            (
                vec![
                    key(CustomerSortField::Name, Direction::Desc),
                    key(CustomerSortField::CreatedAt, Direction::Asc),
                ],
                vec![name.clone(), now.clone()],
                "c.name_key DESC",
                " AND ((c.name_key < $1))",
            ),
            (
                vec![
                    key(CustomerSortField::CreatedAt, Direction::Asc),
                    key(CustomerSortField::Name, Direction::Asc),
                ],
                vec![now, name],
                "c.created_at ASC, c.name_key ASC",
                " AND ((c.created_at > $1) OR (c.created_at = $2 AND c.name_key > $3))",
            ),
        ];
        for (sort, values, order, keyset) in cases {
            let listing = Listing::customers(&sort, &page);
            assert_eq!(listing.order(false), order);
            let cursor = CursorKey {
                values,
                id: uuid::Uuid::nil(),
            };
            let mut sql = Sql::default();
            listing.push_keyset(&mut sql, &cursor, true);
            assert_eq!(sql.finish(Dialect::Postgres).sql, keyset);
        }
        // Users by email: one address per organization. By name: the id breaks ties.
        let by = |field| {
            [Sort {
                field,
                direction: Direction::Asc,
            }]
        };
        let email = by(UserSortField::Email);
        let order = Listing::users(&email, &page).order(true);
        assert_eq!(order, "u.email_key DESC");
        let name = by(UserSortField::Name);
        let order = Listing::users(&name, &page).order(false);
        assert_eq!(order, "u.name_key ASC, u.id ASC");
    }

    #[test]
    fn cursors_are_read_from_the_key_columns_after_the_row() {
        let page = PageRequest::default();
        let sort = [
            Sort {
                field: UserSortField::Email,
                direction: Direction::Asc,
            },
            Sort {
                field: UserSortField::Role,
                direction: Direction::Desc,
            },
        ];
        let listing = Listing::users(&sort, &page);
        let id = uuid::Uuid::now_v7();
        let row = crate::records::tests::user_row(id)
            .with("k0", Cell::Text("ada@example.com".into()))
            .with("k1", Cell::Int(40));
        let cursor = listing.cursor(&row, id).unwrap();
        assert_eq!(cursor.id, id);
        assert_eq!(
            cursor.values,
            [
                SortValue::Text("ada@example.com".into()),
                SortValue::Int(40)
            ]
        );
        // Windowed pages add their row numbers after the keys; they are not read.
        let windowed = row.with("row_index", Cell::Int(1));
        assert_eq!(listing.cursor(&windowed, id).unwrap(), cursor);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "is not the one the decoder reads there")]
    fn a_cursor_read_at_the_wrong_place_is_caught() {
        let page = PageRequest::default();
        let sort = [Sort {
            field: CustomerSortField::UpdatedAt,
            direction: Direction::Asc,
        }];
        // A customer listing over a user row: the keys are not where the listing expects.
        let listing = Listing::customers(&sort, &page);
        let id = uuid::Uuid::now_v7();
        let row = crate::records::tests::user_row(id).with("k0", Cell::Time(domain::now()));
        let _ = listing.cursor(&row, id);
    }

    #[test]
    fn rows_are_named_by_their_source_then_their_keys() {
        let page = PageRequest::default();
        let by = |field| Sort {
            field,
            direction: Direction::Asc,
        };
        // Email is unique: the role after it orders nothing, but cursors hold it.
        let sort = [
            by(UserSortField::Name),
            by(UserSortField::Email),
            by(UserSortField::Role),
        ];
        let listing = Listing::user_summaries(&sort, &page);
        assert_eq!(
            listing.row_columns(&Source::user_summaries(&sort)),
            [
                "id",
                "customer_id",
                "email",
                "name",
                "external_id",
                "k0",
                "k1",
                "k2"
            ]
        );
        let listing = Listing::users(&sort, &page);
        let columns = listing.row_columns(&Source::users(&sort));
        let expected: Vec<&str> = USER_COLUMNS
            .iter()
            .copied()
            .chain([ROLE_KIND, "k0", "k1", "k2"])
            .collect();
        assert_eq!(columns, expected);
        // Each one the select list names, in its order.
        let select = listing.select(&Source::users(&sort), &Sql::new("TRUE", []));
        let text = select.finish(Dialect::Postgres).sql;
        let mut from = 0;
        for column in &columns {
            let at = text[from..].find(column.as_ref()).map(|at| at + from);
            assert!(at.is_some(), "{column} after {from} in {text}");
            from = at.unwrap_or(from);
        }
    }

    #[test]
    fn key_columns_are_named_past_the_spelled_ones() {
        assert_eq!(key_column(0), "k0");
        assert_eq!(key_column(7), "k7");
        assert_eq!(key_column(12), "k12");
    }
}
