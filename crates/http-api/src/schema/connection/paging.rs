//! The connection arguments every connection takes, checked, and the paging of short
//! in-memory lists with them (stored listings page in SQL, `storage-sql`'s `listing`).

use async_graphql::Enum;
use domain::listing::{CursorKey, Direction, Edge as PageEdge, Page, PageRequest, Position};

use crate::schema::error::ApiError;

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
    // Forward (`first`, else the default size) unless only `last` is given: the rule of
    // `PageRequest`, which stored listings follow too.
    let first = (!page.is_backward()).then(|| page.limit());
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

        let after = wire::cursor::encode_key(&key(&Permission::CustomerEdit));
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
            let page = request(
                None,
                None,
                Some(&wire::cursor::encode_key(&made_elsewhere)),
                0,
            );
            assert_eq!(tags(&page).unwrap_err(), ApiError::InvalidCursor);
        }
    }
}
