//! Connection arguments as GraphQL delivers them, checked into the domain's
//! [`PageRequest`], with the contract's messages for arguments out of range.

use domain::listing::{MAX_PAGE_SIZE, PageRequest};

use crate::cursor;

/// Connection arguments that break the contract's limits; the message is the API's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPage {
    #[error(
        "Requesting {requested} records on the `{argument}` connection exceeds the `{argument}` limit of 100 records."
    )]
    TooLarge {
        argument: &'static str,
        requested: i64,
    },
    #[error("Argument `{0}` must be a non-negative integer.")]
    Negative(&'static str),
    #[error("Invalid cursor")]
    Cursor,
}

/// Checks raw connection arguments: sizes within [`MAX_PAGE_SIZE`], cursors that decode
/// (`""` is no cursor), a non-negative offset.
pub fn parse(
    first: Option<i64>,
    last: Option<i64>,
    after: Option<&str>,
    before: Option<&str>,
    offset: Option<i64>,
) -> Result<PageRequest, InvalidPage> {
    let size = |argument: &'static str, value: Option<i64>| -> Result<Option<u32>, InvalidPage> {
        match value {
            None => Ok(None),
            Some(n) if n < 0 => Err(InvalidPage::Negative(argument)),
            Some(n) if n > i64::from(MAX_PAGE_SIZE) => Err(InvalidPage::TooLarge {
                argument,
                requested: n,
            }),
            Some(n) => Ok(u32::try_from(n).ok()),
        }
    };
    let cursor = |text: Option<&str>| {
        text.map(cursor::parse)
            .transpose()
            .map(Option::flatten)
            .map_err(|_| InvalidPage::Cursor)
    };
    let offset = match offset {
        None => 0,
        Some(n) => u64::try_from(n).map_err(|_| InvalidPage::Negative("offset"))?,
    };
    Ok(PageRequest {
        first: size("first", first)?,
        last: size("last", last)?,
        after: cursor(after)?,
        before: cursor(before)?,
        offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_after_means_from_the_start() {
        let page = parse(None, None, Some(""), None, None).unwrap();
        assert_eq!(page, PageRequest::first_page());
        assert_eq!(page.limit(), 100);
    }

    #[test]
    fn page_size_is_limited_to_100() {
        assert!(parse(Some(100), None, None, None, None).is_ok());
        assert!(matches!(
            parse(Some(101), None, None, None, None),
            Err(InvalidPage::TooLarge {
                argument: "first",
                requested: 101
            })
        ));
        assert!(matches!(
            parse(None, Some(-1), None, None, None),
            Err(InvalidPage::Negative("last"))
        ));
        assert!(parse(None, None, None, None, Some(-1)).is_err());
        let message = parse(Some(500), None, None, None, None)
            .unwrap_err()
            .to_string();
        assert!(message.contains("limit of 100"), "{message}");
    }

    #[test]
    fn undecodable_cursors_are_refused() {
        assert_eq!(
            parse(None, None, Some("!!!"), None, None),
            Err(InvalidPage::Cursor)
        );
        assert_eq!(
            parse(None, None, None, Some("x"), None),
            Err(InvalidPage::Cursor)
        );
    }
}
