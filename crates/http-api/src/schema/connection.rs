//! Relay connections (`nodes`, `edges`, `pageInfo`, `totalCount`), their arguments and cursors.

use std::borrow::Cow;

use async_graphql::{
    ComplexObject, Context, Enum, Name, OutputType, Result, SimpleObject, TypeName, Value,
};
use domain::listing::{CursorKey, Direction, Edge as PageEdge, Page, PageRequest, Position};
use wire::cursor;

use super::error::ApiError;

/// Where a page sits in the whole listing.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct PageInfo {
    has_next_page: bool,
    has_previous_page: bool,
    start_cursor: Option<String>,
    end_cursor: Option<String>,
}

/// One row of a page and the cursor that points at it (`CustomerEdge`, `UserEdge`...).
#[derive(Clone, SimpleObject)]
#[graphql(name_type)]
pub(crate) struct Edge<T: OutputType> {
    node: T,
    cursor: String,
}

/// One page of a listing (`CustomerConnection`, `UserConnection`...), with its total count.
//
// The nodes are held once; `edges` (a clone of each node and its encoded cursor) and the
// page's cursors are made only when the document selects them, so a page read through
// `nodes` encodes no cursor and clones no node.
#[derive(SimpleObject)]
#[graphql(name_type, complex)]
pub(crate) struct Connection<T: OutputType + Clone> {
    // The page's nodes, in order (undocumented in the schema, as the contract has it).
    nodes: Vec<T>,
    /// Where each node sits, in the order of `nodes`.
    #[graphql(skip)]
    cursors: Vec<Cursor>,
    #[graphql(skip)]
    has_next_page: bool,
    #[graphql(skip)]
    has_previous_page: bool,
    /// The total when it was counted: only when the document selects `totalCount`.
    #[graphql(skip)]
    total: Option<u64>,
}

/// A node's cursor, encoded only when asked for.
enum Cursor {
    /// A stored listing's key.
    Key(CursorKey),
    /// Already text (short in-memory lists).
    Text(String),
}

impl Cursor {
    fn encode(&self) -> String {
        match self {
            Cursor::Key(key) => cursor::encode_key(key),
            Cursor::Text(text) => text.clone(),
        }
    }
}

#[ComplexObject]
impl<T: OutputType + Clone> Connection<T> {
    // The page's nodes, each with its cursor.
    async fn edges(&self) -> Vec<Edge<T>> {
        self.nodes
            .iter()
            .zip(&self.cursors)
            .map(|(node, cursor)| Edge {
                node: node.clone(),
                cursor: cursor.encode(),
            })
            .collect()
    }

    // Where the page sits in the whole listing.
    async fn page_info(&self) -> PageInfo {
        PageInfo {
            has_next_page: self.has_next_page,
            has_previous_page: self.has_previous_page,
            start_cursor: self.cursors.first().map(Cursor::encode),
            end_cursor: self.cursors.last().map(Cursor::encode),
        }
    }

    /// How many rows match over all pages.
    async fn total_count(&self) -> Result<i32> {
        // The listing counts whenever the selection holds `totalCount` (`counts_total`);
        // a total missing here is a wiring bug, not the client's.
        let total = self.total.ok_or(ApiError::Internal)?;
        Ok(i32::try_from(total).unwrap_or(i32::MAX))
    }
}

/// True when the connection being resolved selects `totalCount`, directly or through
/// fragments: only then is the total counted (a statement of its own).
pub(crate) fn counts_total(ctx: &Context<'_>) -> bool {
    ctx.look_ahead().field("totalCount").exists()
}

impl<T: OutputType> TypeName for Edge<T> {
    fn type_name() -> Cow<'static, str> {
        format!("{}Edge", T::type_name()).into()
    }
}

impl<T: OutputType + Clone> TypeName for Connection<T> {
    fn type_name() -> Cow<'static, str> {
        format!("{}Connection", T::type_name()).into()
    }
}

impl<T: OutputType + Clone> Connection<T> {
    /// The connection for a directory page, each node wrapped by `wrap`.
    pub(crate) fn from_page<U>(page: Page<U>, mut wrap: impl FnMut(U) -> T) -> Self {
        let (nodes, cursors) = page
            .edges
            .into_iter()
            .map(|edge| (wrap(edge.node), Cursor::Key(edge.cursor)))
            .unzip();
        Connection {
            nodes,
            cursors,
            has_next_page: page.has_next_page,
            has_previous_page: page.has_previous_page,
            total: page.total_count,
        }
    }

    /// A connection holding a whole short list in one page; each edge's cursor is `cursor`
    /// of its node (such lists take no paging arguments).
    pub(crate) fn complete(nodes: Vec<T>, cursor: impl Fn(&T) -> String) -> Self {
        Connection {
            cursors: nodes
                .iter()
                .map(|node| Cursor::Text(cursor(node)))
                .collect(),
            has_next_page: false,
            has_previous_page: false,
            total: u64::try_from(nodes.len()).ok(),
            nodes,
        }
    }
}

/// An `Int` argument as a look-ahead sees it; `None` when absent or not an `Int`.
pub(crate) fn int_argument(arguments: &[(Name, Value)], name: &str) -> Option<i32> {
    match argument(arguments, name)? {
        Value::Number(number) => number.as_i64().and_then(|n| i32::try_from(n).ok()),
        _ => None,
    }
}

/// A `String` argument as a look-ahead sees it; `None` when absent or not a `String`.
pub(crate) fn text_argument<'a>(arguments: &'a [(Name, Value)], name: &str) -> Option<&'a str> {
    match argument(arguments, name)? {
        Value::String(text) => Some(text),
        _ => None,
    }
}

fn argument<'a>(arguments: &'a [(Name, Value)], name: &str) -> Option<&'a Value> {
    arguments
        .iter()
        .find(|(argument, _)| argument.as_str() == name)
        .map(|(_, value)| value)
}

/// Sort direction, shared by every order input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub(crate) enum OrderDirection {
    Asc,
    Desc,
}

impl From<OrderDirection> for Direction {
    fn from(direction: OrderDirection) -> Self {
        match direction {
            OrderDirection::Asc => Direction::Asc,
            OrderDirection::Desc => Direction::Desc,
        }
    }
}

/// Checks the connection arguments every connection takes.
pub(crate) fn page_request(
    first: Option<i32>,
    last: Option<i32>,
    after: Option<&str>,
    before: Option<&str>,
    offset: Option<i32>,
) -> Result<PageRequest, ApiError> {
    Ok(wire::page::parse(
        first.map(i64::from),
        last.map(i64::from),
        after,
        before,
        offset.map(i64::from),
    )?)
}

/// Rejects a key cursor made for another sort order, so the directory never sees one.
pub(crate) fn check_cursors(fits: bool) -> Result<(), ApiError> {
    if fits {
        Ok(())
    } else {
        Err(ApiError::InvalidCursor)
    }
}

/// Pages a small, fixed, in-memory list with the same arguments as stored listings.
/// Cursors carry no sort values, only the row's id (`key_of` makes them).
pub(crate) fn page_in_memory<T: Clone>(
    items: &[T],
    key_of: impl Fn(&T) -> CursorKey,
    page: &PageRequest,
) -> Result<Page<T>, ApiError> {
    check_cursors(page.cursors_fit(&[]))?;
    let index_of = |position: &Position, after: bool| -> Result<usize, ApiError> {
        match position {
            Position::Offset(n) => {
                let n = usize::try_from(*n).unwrap_or(usize::MAX);
                Ok(if after { n.saturating_add(1) } else { n })
            }
            Position::Key(key) => items
                .iter()
                .position(|item| key_of(item).id == key.id)
                .map(|i| if after { i + 1 } else { i })
                .ok_or(ApiError::InvalidCursor),
        }
    };
    let start = match &page.after {
        Some(position) => index_of(position, true)?,
        None => 0,
    };
    let end = match &page.before {
        Some(position) => index_of(position, false)?,
        None => items.len(),
    }
    .min(items.len());
    let offset = usize::try_from(page.offset).unwrap_or(usize::MAX);
    let mut from = start.saturating_add(offset).min(end);
    let mut to = end;
    let first = page.first.or(page.last.is_none().then(|| page.limit()));
    if let Some(first) = first {
        to = to.min(from.saturating_add(first as usize));
    }
    if let Some(last) = page.last {
        from = from.max(to.saturating_sub(last as usize));
    }
    let edges = items[from..to]
        .iter()
        .map(|item| PageEdge {
            node: item.clone(),
            cursor: key_of(item),
        })
        .collect();
    Ok(Page {
        edges,
        has_next_page: to < items.len(),
        has_previous_page: from > 0,
        total_count: Some(items.len() as u64),
    })
}

#[cfg(test)]
mod tests {
    use domain::Permission;
    use domain::listing::SortValue;

    use super::*;

    fn key(permission: &Permission) -> CursorKey {
        CursorKey {
            values: Vec::new(),
            id: permission.id().uuid(),
        }
    }

    fn tags(page: &PageRequest) -> Result<(Vec<&'static str>, bool, bool), ApiError> {
        let page = page_in_memory(&Permission::ALL, key, page)?;
        let tags = page.edges.iter().map(|edge| edge.node.tag()).collect();
        Ok((tags, page.has_previous_page, page.has_next_page))
    }

    fn request(
        first: Option<i64>,
        last: Option<i64>,
        after: Option<&str>,
        offset: i64,
    ) -> PageRequest {
        wire::page::parse(first, last, after, None, Some(offset)).unwrap()
    }

    #[test]
    fn in_memory_pages_follow_first_last_after_and_offset() {
        let all = Permission::ALL.len();
        let (page, previous, next) = tags(&request(None, None, None, 0)).unwrap();
        assert_eq!((page.len(), previous, next), (all, false, false));

        let (page, previous, next) = tags(&request(Some(2), None, None, 1)).unwrap();
        assert_eq!(page, ["org_view_users", "org_crud_customers"]);
        assert!(previous && next);

        let (page, previous, next) = tags(&request(None, Some(2), None, 0)).unwrap();
        assert_eq!(page, ["customer_admin_users", "customer_view_users"]);
        assert!(previous && !next);

        let after = cursor::encode_key(&key(&Permission::CustomerEdit));
        let (page, _, next) = tags(&request(Some(5), None, Some(&after), 0)).unwrap();
        assert_eq!(page, ["customer_admin_users", "customer_view_users"]);
        assert!(!next);
    }

    #[test]
    fn in_memory_pages_refuse_cursors_they_did_not_make() {
        let foreign = CursorKey {
            values: Vec::new(),
            id: domain::CustomerId::generate().uuid(),
        };
        let sorted = CursorKey {
            values: vec![SortValue::Text("x".into())],
            id: Permission::OrgViewUsers.id().uuid(),
        };
        for made_elsewhere in [foreign, sorted] {
            let page = request(None, None, Some(&cursor::encode_key(&made_elsewhere)), 0);
            assert_eq!(tags(&page).unwrap_err(), ApiError::InvalidCursor);
        }
    }
}
