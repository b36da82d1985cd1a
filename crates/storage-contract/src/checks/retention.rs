//! Retention: a purge removes only the events older than its bound, at most a batch at a
//! time, in every organization, and an organization's sequence goes on where it was.

use domain::events::Subject;
use domain::{OrganizationId, Timestamp};
use ports::EventQuery;

use crate::Stores;
use crate::support::{Org, at, draft, organization};

/// Creates a customer named `name` in `org`, logged at `at`.
async fn logged_at(stores: &Stores, org: &Org, name: &str, at: Timestamp) {
    let customer = org.customer(name);
    let mut event = draft(org.id);
    event.subject = Subject::Customer(customer.id);
    event.customer_id = Some(customer.id);
    event.at = at;
    stores
        .customers
        .insert_customer(&customer, &event)
        .await
        .unwrap();
}

/// The sequences and times left in `org`'s log.
async fn left(stores: &Stores, org: OrganizationId) -> Vec<(u64, Timestamp)> {
    let page = stores
        .events
        .events(
            org,
            &EventQuery {
                first: 100,
                ..EventQuery::default()
            },
        )
        .await
        .unwrap();
    assert!(!page.has_next_page);
    page.events
        .iter()
        .map(|event| (event.sequence, event.draft.at))
        .collect()
}

/// Events before the bound go, a batch at a time, in every organization; one at the bound
/// stays; the next write continues the sequence rather than reusing a purged number.
pub async fn purging_removes_older_events_in_batches(stores: Stores) {
    let org = organization(&stores, "Retained").await;
    let other = organization(&stores, "Retained Elsewhere").await;
    for n in 0..5 {
        logged_at(&stores, &org, &format!("Old {n}"), at(10 + n, 0)).await;
    }
    for (n, second) in [10, 20, 30].into_iter().enumerate() {
        logged_at(&stores, &other, &format!("Other {n}"), at(second, 0)).await;
    }
    let bound = at(13, 0);
    // Older: each organization's `organization.created` (sequence 1, logged a day before
    // the checks' times), three of `org`'s customers (10, 11, 12 s) and one of `other`'s
    // (10 s).
    let batches = [
        stores.events.purge_events(bound, 3).await.unwrap(),
        stores.events.purge_events(bound, 3).await.unwrap(),
        stores.events.purge_events(bound, 3).await.unwrap(),
    ];
    assert_eq!(
        batches,
        [3, 3, 0],
        "batches of at most 3, until none is left"
    );
    assert_eq!(
        left(&stores, org.id).await,
        [(5, at(13, 0)), (6, at(14, 0))],
        "the event at the bound and the later one stay"
    );
    assert_eq!(
        left(&stores, other.id).await,
        [(3, at(20, 0)), (4, at(30, 0))]
    );
    assert_eq!(stores.events.purge_events(at(100, 0), 0).await.unwrap(), 0);

    logged_at(&stores, &org, "New", at(40, 0)).await;
    assert_eq!(
        left(&stores, org.id).await,
        [(5, at(13, 0)), (6, at(14, 0)), (7, at(40, 0))],
        "the sequence goes on"
    );
    assert_eq!(stores.events.purge_events(at(100, 0), 10).await.unwrap(), 5);
    assert_eq!(left(&stores, org.id).await, []);
    assert_eq!(left(&stores, other.id).await, []);
    logged_at(&stores, &org, "After All", at(50, 0)).await;
    assert_eq!(
        left(&stores, org.id).await,
        [(8, at(50, 0))],
        "an emptied log still counts on"
    );
}
