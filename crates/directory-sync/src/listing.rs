//! Whole listings through the ports, page by page.

use domain::listing::{CustomerQuery, MAX_PAGE_SIZE, Page, PageRequest, Position, UserQuery};
use domain::{Actor, Customer, User};
use ports::{CustomerDirectory, DirectoryError, UserDirectory};

/// Where the page after `page` starts: the last row's key when the directory gave one, or
/// its offset (directories whose cursors carry no key, such as offset-based ones).
fn next_position<T>(page: &Page<T>, seen: u64) -> Option<Position> {
    if !page.has_next_page {
        return None;
    }
    let last = page.edges.last()?;
    Some(if last.cursor.values.is_empty() {
        Position::Offset(seen.saturating_sub(1))
    } else {
        Position::Key(last.cursor.clone())
    })
}

/// Every customer matching `query`'s filters, in its order, fetched 100 at a time.
///
/// # Errors
/// The first failing page's error.
pub async fn all_customers<D: CustomerDirectory + ?Sized>(
    directory: &D,
    actor: &Actor,
    mut query: CustomerQuery,
) -> Result<Vec<Customer>, DirectoryError> {
    query.page = PageRequest {
        first: Some(MAX_PAGE_SIZE),
        ..PageRequest::default()
    };
    let mut rows = Vec::new();
    loop {
        let page = directory.customers(actor, &query).await?;
        let next = next_position(&page, rows.len() as u64 + page.edges.len() as u64);
        rows.extend(page.edges.into_iter().map(|edge| edge.node));
        match next {
            Some(position) => query.page.after = Some(position),
            None => return Ok(rows),
        }
    }
}

/// Every user matching `query`'s filters, in its order, fetched 100 at a time.
///
/// # Errors
/// The first failing page's error.
pub async fn all_users<D: UserDirectory + ?Sized>(
    directory: &D,
    actor: &Actor,
    mut query: UserQuery,
) -> Result<Vec<User>, DirectoryError> {
    query.page = PageRequest {
        first: Some(MAX_PAGE_SIZE),
        ..PageRequest::default()
    };
    let mut rows = Vec::new();
    loop {
        let page = directory.users(actor, &query).await?;
        let next = next_position(&page, rows.len() as u64 + page.edges.len() as u64);
        rows.extend(page.edges.into_iter().map(|edge| edge.node));
        match next {
            Some(position) => query.page.after = Some(position),
            None => return Ok(rows),
        }
    }
}
