//! Listing: filters, sort orders, page requests and keyset cursors for the `customers`
//! and `users` connections.
//!
//! A cursor records the sort-key values and the id of the row it points at, so paging
//! stays exact while rows are inserted or deleted between pages: the next page starts
//! strictly after that position, whether or not the row itself still exists. How cursors
//! and connection arguments look on the API is the `wire` crate's.

use uuid::Uuid;

use crate::Timestamp;
use crate::id::CustomerId;

/// Most rows one page may hold, and the page size when none is asked for.
pub const MAX_PAGE_SIZE: u32 = 100;

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    #[default]
    Asc,
    Desc,
}

/// One key of a sort order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sort<F> {
    pub field: F,
    pub direction: Direction,
}

/// What customers can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CustomerSortField {
    Name,
    CreatedAt,
    UpdatedAt,
    Description,
    ConcurrentExecutionLimit,
}

/// What users can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserSortField {
    Name,
    Email,
    CreatedAt,
    UpdatedAt,
    /// The name of the user's customer; team members first.
    Customer,
    /// The level of the user's role.
    Role,
}

/// The type of value a sort key holds, and so records in a cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortValueKind {
    Text,
    Int,
    Time,
}

impl SortValueKind {
    /// True when `value` is of this kind.
    pub fn holds(self, value: &SortValue) -> bool {
        matches!(
            (self, value),
            (SortValueKind::Text, SortValue::Text(_))
                | (SortValueKind::Int, SortValue::Int(_))
                | (SortValueKind::Time, SortValue::Time(_))
        )
    }
}

/// A field a listing can be sorted by.
pub trait SortField: Copy + PartialEq {
    /// The order when none is asked for: by name.
    const DEFAULT: Self;

    /// The type of this key's values: what its cursors hold.
    fn value_kind(self) -> SortValueKind;
}

impl SortField for CustomerSortField {
    const DEFAULT: Self = CustomerSortField::Name;

    fn value_kind(self) -> SortValueKind {
        match self {
            CustomerSortField::Name | CustomerSortField::Description => SortValueKind::Text,
            CustomerSortField::CreatedAt | CustomerSortField::UpdatedAt => SortValueKind::Time,
            CustomerSortField::ConcurrentExecutionLimit => SortValueKind::Int,
        }
    }
}

impl SortField for UserSortField {
    const DEFAULT: Self = UserSortField::Name;

    fn value_kind(self) -> SortValueKind {
        match self {
            UserSortField::Name | UserSortField::Email | UserSortField::Customer => {
                SortValueKind::Text
            }
            UserSortField::CreatedAt | UserSortField::UpdatedAt => SortValueKind::Time,
            UserSortField::Role => SortValueKind::Int,
        }
    }
}

/// One value of a sort key, as recorded in a cursor.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SortValue {
    Text(String),
    Int(i64),
    Time(Timestamp),
}

/// A position in a sorted listing: the sort-key values and id of one row.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CursorKey {
    pub values: Vec<SortValue>,
    pub id: Uuid,
}

/// Where a page starts or ends.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Position {
    /// Just past a row, by its sort-key values (Roster's own cursors).
    Key(CursorKey),
    /// Just past the row at this 0-based offset (`arrayconnection:<n>`, Prismatic's cursors).
    Offset(u64),
}

/// Connection arguments, checked (by the transport): at most [`MAX_PAGE_SIZE`] rows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PageRequest {
    pub first: Option<u32>,
    pub last: Option<u32>,
    pub after: Option<Position>,
    pub before: Option<Position>,
    pub offset: u64,
}

impl PageRequest {
    /// The first page of the default size.
    pub fn first_page() -> Self {
        PageRequest::default()
    }

    /// How many rows the page holds at most (`first`, else `last`, else 100).
    pub fn limit(&self) -> u32 {
        self.first.or(self.last).unwrap_or(MAX_PAGE_SIZE)
    }

    /// True when every key cursor (`after`, `before`) was made for an order whose keys have
    /// these value kinds. A cursor of another order points nowhere in this one: callers
    /// answer "Invalid cursor" rather than list with it.
    pub fn cursors_fit(&self, kinds: &[SortValueKind]) -> bool {
        [&self.after, &self.before]
            .into_iter()
            .flatten()
            .all(|position| match position {
                Position::Offset(_) => true,
                Position::Key(key) => PageRequest::cursor_fits(key, kinds),
            })
    }

    /// True when `key` holds one value of each of `kinds`, in order.
    pub fn cursor_fits(key: &CursorKey, kinds: &[SortValueKind]) -> bool {
        key.values.len() == kinds.len()
            && kinds
                .iter()
                .zip(&key.values)
                .all(|(kind, value)| kind.holds(value))
    }

    /// True when the page is taken from the end (`last` without `first`).
    pub fn is_backward(&self) -> bool {
        self.first.is_none() && self.last.is_some()
    }
}

/// Filters on the `customers` connection, in django-filter's naming. All given ones apply.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CustomerFilter {
    pub name: Option<String>,
    pub name_icontains: Option<String>,
    pub name_istartswith: Option<String>,
    pub description_icontains: Option<String>,
    pub external_id: Option<String>,
    pub external_id_isnull: Option<bool>,
    pub labels_contains: Option<String>,
    pub is_system: Option<bool>,
    pub created_at_gte: Option<Timestamp>,
    pub created_at_lte: Option<Timestamp>,
    pub updated_at_gte: Option<Timestamp>,
    pub updated_at_lte: Option<Timestamp>,
}

/// A `customers` listing.
pub type CustomerQuery = Listing<CustomerFilter, CustomerSortField>;

/// Filters on the `users` connections. All given ones apply.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct UserFilter {
    pub name: Option<String>,
    pub name_icontains: Option<String>,
    pub email: Option<String>,
    pub email_icontains: Option<String>,
    pub external_id: Option<String>,
    pub customer: Option<CustomerId>,
    pub customer_isnull: Option<bool>,
    pub created_at_gte: Option<Timestamp>,
    pub created_at_lte: Option<Timestamp>,
    pub updated_at_gte: Option<Timestamp>,
    pub updated_at_lte: Option<Timestamp>,
    /// Only active users (`true`) or only deactivated ones (`false`).
    pub active: Option<bool>,
}

/// A `users` listing.
pub type UserQuery = Listing<UserFilter, UserSortField>;

/// A listing: filters, order, page, and whether the total over all pages is wanted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Listing<Filter, Field> {
    pub filter: Filter,
    pub sort: Vec<Sort<Field>>,
    pub page: PageRequest,
    /// True when the caller reads the total (a `COUNT` over every page, which costs a
    /// statement); otherwise the page's `total_count` is `None`.
    pub count_total: bool,
}

impl<Filter: Default, Field> Default for Listing<Filter, Field> {
    fn default() -> Self {
        Listing {
            filter: Filter::default(),
            sort: Vec::new(),
            page: PageRequest::default(),
            count_total: false,
        }
    }
}

impl<Filter, Field: SortField> Listing<Filter, Field> {
    /// The sort order actually applied: the given keys without repeats, or `NAME ASC`; the
    /// id breaks ties.
    pub fn effective_sort(&self) -> Vec<Sort<Field>> {
        let mut keys: Vec<Sort<Field>> = Vec::with_capacity(self.sort.len().max(1));
        for key in &self.sort {
            if !keys.iter().any(|k| k.field == key.field) {
                keys.push(*key);
            }
        }
        if keys.is_empty() {
            keys.push(Sort {
                field: Field::DEFAULT,
                direction: Direction::Asc,
            });
        }
        keys
    }

    /// True when the page's cursors were made for this listing's order.
    pub fn cursors_fit(&self) -> bool {
        let kinds: Vec<_> = self
            .effective_sort()
            .iter()
            .map(|k| k.field.value_kind())
            .collect();
        self.page.cursors_fit(&kinds)
    }
}

/// One row of a page and the cursor that points at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge<T> {
    pub node: T,
    pub cursor: CursorKey,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub edges: Vec<Edge<T>>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
    /// How many rows match the filters and scope, over all pages; `None` when the listing
    /// did not ask for it (`Listing::count_total`).
    pub total_count: Option<u64>,
}

impl<T> Page<T> {
    /// A page with no rows; its total, zero, is known without counting.
    pub fn empty() -> Self {
        Page {
            edges: Vec::new(),
            has_next_page: false,
            has_previous_page: false,
            total_count: Some(0),
        }
    }

    /// The same page with each node converted by `f`.
    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            edges: self
                .edges
                .into_iter()
                .map(|edge| Edge {
                    node: f(edge.node),
                    cursor: edge.cursor,
                })
                .collect(),
            has_next_page: self.has_next_page,
            has_previous_page: self.has_previous_page,
            total_count: self.total_count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_page_holds_at_most_100_rows() {
        let page = PageRequest::first_page();
        assert_eq!(page.limit(), MAX_PAGE_SIZE);
        assert!(!page.is_backward());
    }

    #[test]
    fn cursors_must_fit_the_order() {
        let time_key = CursorKey {
            values: vec![SortValue::Time(crate::now())],
            id: Uuid::now_v7(),
        };
        let name_key = CursorKey {
            values: vec![SortValue::Text("acme".into())],
            id: Uuid::now_v7(),
        };
        let mut query = CustomerQuery::default();
        query.page.after = Some(Position::Key(name_key.clone()));
        assert!(query.cursors_fit(), "NAME ASC by default");
        query.page.after = Some(Position::Key(time_key.clone()));
        assert!(!query.cursors_fit());
        query.sort = vec![Sort {
            field: CustomerSortField::CreatedAt,
            direction: Direction::Desc,
        }];
        assert!(query.cursors_fit());
        query.page.before = Some(Position::Key(name_key));
        assert!(!query.cursors_fit(), "both cursors are checked");
        query.page.before = Some(Position::Offset(3));
        assert!(query.cursors_fit(), "offset cursors fit any order");
        let users = UserQuery {
            sort: vec![Sort {
                field: UserSortField::Role,
                direction: Direction::Asc,
            }],
            page: PageRequest {
                after: Some(Position::Key(time_key)),
                ..PageRequest::default()
            },
            ..UserQuery::default()
        };
        assert!(!users.cursors_fit());
    }

    #[test]
    fn default_order_is_name_ascending_without_duplicate_keys() {
        let mut query = CustomerQuery::default();
        assert_eq!(
            query.effective_sort(),
            [Sort {
                field: CustomerSortField::Name,
                direction: Direction::Asc
            }]
        );
        let desc = Sort {
            field: CustomerSortField::CreatedAt,
            direction: Direction::Desc,
        };
        query.sort = vec![
            desc,
            Sort {
                field: CustomerSortField::CreatedAt,
                direction: Direction::Asc,
            },
        ];
        assert_eq!(query.effective_sort(), [desc]);
    }
}
