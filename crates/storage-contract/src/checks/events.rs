//! The event log: every customer and user write appends exactly its event in its own
//! transaction (both or neither), numbered gap-free per organization, and the audit query
//! filters and pages it.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use domain::events::{ActorKind, EventActor, EventType, RequestMeta, Subject, Tag};
use domain::{
    CustomerChanges, CustomerId, Invitation, Invited, Mail, OrganizationId, OutboxMail, PersonName,
    RoleKind, Timestamp, UserChanges, UserId, Version,
};
use ports::{Conditional, Event, EventDraft, EventQuery, RepoError, UniqueField};
use serde_json::json;
use uuid::Uuid;

use crate::Stores;
use crate::support::{Org, at, draft, insert_customer, insert_user, organization};

/// An event as a service would draft it for a write in `org`.
fn drafted(
    org: OrganizationId,
    kind: EventType,
    subject: Subject,
    customer: Option<CustomerId>,
    actor: EventActor,
    at: Timestamp,
) -> EventDraft {
    EventDraft {
        id: Uuid::now_v7(),
        organization_id: org,
        kind,
        subject,
        customer_id: customer,
        actor,
        request: RequestMeta::default(),
        at,
        version: None,
        before: None,
        after: None,
    }
}

fn by_user(user: UserId) -> EventActor {
    EventActor {
        user: Some(user),
        kind: ActorKind::User,
    }
}

const SYSTEM: EventActor = EventActor {
    user: None,
    kind: ActorKind::System,
};

/// Events after `after`, at most `first`, with no filter.
fn after(after: Option<u64>, first: u32) -> EventQuery {
    EventQuery {
        after,
        first,
        ..EventQuery::default()
    }
}

/// The log of `org` after its own `organization.created` (sequence 1, appended when
/// [`organization`] made it), read 100 at a time.
async fn log(stores: &Stores, org: OrganizationId) -> Vec<Event> {
    whole_log_after(stores, org, Some(1)).await
}

/// The log of `org` after sequence `start`, read 100 at a time.
async fn whole_log_after(stores: &Stores, org: OrganizationId, start: Option<u64>) -> Vec<Event> {
    let mut events: Vec<Event> = Vec::new();
    for _ in 0..1_000 {
        let last = events.last().map(|event| event.sequence).or(start);
        let page = stores.events.events(org, &after(last, 100)).await.unwrap();
        events.extend(page.events);
        if !page.has_next_page {
            return events;
        }
    }
    panic!("the log did not end");
}

/// The events `drafts` make, numbered from 2 (after the organization's creation).
fn numbered(drafts: &[EventDraft]) -> Vec<Event> {
    (2..)
        .zip(drafts)
        .map(|(sequence, draft)| Event {
            sequence,
            draft: draft.clone(),
        })
        .collect()
}

/// Each of the six writes appends its event, with every field of its draft as given (JSON
/// unchanged, SQL `NULL` apart from JSON `null`), at the organization's next sequence; an
/// event drafted before the last one is logged at the last one's time, so times never
/// fall along the sequence. Another organization counts from 1 on its own.
pub async fn every_customer_and_user_write_appends_its_event(stores: Stores) {
    let org = organization(&stores, "Logged").await;
    let owner = org.owner.id;
    let mut expected: Vec<EventDraft> = Vec::new();

    let customer = org.customer("Acme");
    let mut created = drafted(
        org.id,
        EventType::CustomerCreated,
        Subject::Customer(customer.id),
        Some(customer.id),
        by_user(owner),
        at(10, 1),
    );
    created.request = RequestMeta {
        request_id: Tag::parse("req-1"),
        client_id: Tag::parse("sync:a.b_c-1"),
    };
    created.version = Some(customer.version);
    created.after = Some(json!({ "name": "Acme", "labels": [], "starred": false }));
    stores
        .customers
        .insert_customer(&customer, &created)
        .await
        .unwrap();
    expected.push(created);
    assert_eq!(log(&stores, org.id).await, numbered(&expected));

    let mut renamed = customer.clone();
    renamed.name = domain::CustomerName::parse("Acme Ünïcode \"quoted\"").unwrap();
    let mut updated = drafted(
        org.id,
        EventType::CustomerUpdated,
        Subject::Customer(customer.id),
        Some(customer.id),
        EventActor {
            user: Some(owner),
            kind: ActorKind::Embedded,
        },
        at(20, 0),
    );
    updated.version = Some(customer.version.next());
    updated.before = Some(json!({ "name": "Acme" }));
    updated.after = Some(json!({ "name": "Acme Ünïcode \"quoted\"", "version": 2 }));
    let outcome = stores
        .customers
        .update_customer(
            org.id,
            customer.id,
            customer.version,
            &CustomerChanges::between(&customer, &renamed),
            &updated,
        )
        .await
        .unwrap();
    assert_eq!(outcome, Conditional::Done(customer.version.next()));
    expected.push(updated);
    assert_eq!(log(&stores, org.id).await, numbered(&expected));

    let user = org.user(
        Some(customer.id),
        "ann@acme.example",
        RoleKind::CustomerMember,
    );
    let mut user_created = drafted(
        org.id,
        EventType::UserCreated,
        Subject::User(user.id),
        Some(customer.id),
        EventActor {
            user: None,
            kind: ActorKind::Operator,
        },
        at(30, 0),
    );
    user_created.after = Some(json!({ "email": "ann@acme.example", "phone": null }));
    stores
        .users
        .insert_user(&user, None, &user_created)
        .await
        .unwrap();
    expected.push(user_created);

    let mut promoted = user.clone();
    promoted.role = org.role(RoleKind::CustomerAdmin);
    promoted.name = PersonName::parse("Ann").unwrap();
    let mut role_changed = drafted(
        org.id,
        EventType::UserRoleChanged,
        Subject::User(user.id),
        Some(customer.id),
        by_user(owner),
        at(40, 999_999),
    );
    role_changed.version = Some(user.version.next());
    role_changed.before = Some(json!({ "role": { "kind": "CUSTOMER_MEMBER" }, "name": "" }));
    role_changed.after = Some(json!({ "role": { "kind": "CUSTOMER_ADMIN" }, "name": "Ann" }));
    let outcome = stores
        .users
        .update_user(
            org.id,
            user.id,
            user.version,
            &UserChanges::between(&user, &promoted),
            &role_changed,
        )
        .await
        .unwrap();
    assert_eq!(outcome, Conditional::Done(user.version.next()));
    expected.push(role_changed);

    let mut user_deleted = drafted(
        org.id,
        EventType::UserDeleted,
        Subject::User(user.id),
        Some(customer.id),
        SYSTEM,
        at(50, 0),
    );
    user_deleted.version = Some(user.version.next());
    user_deleted.before = Some(json!(null));
    let deleted = stores
        .users
        .delete_user(org.id, user.id, None, &user_deleted)
        .await
        .unwrap();
    assert!(matches!(deleted, Conditional::Done(_)), "{deleted:?}");
    expected.push(user_deleted);

    // Drafted before the last event: logged at the last event's time.
    let mut customer_deleted = drafted(
        org.id,
        EventType::CustomerDeleted,
        Subject::Customer(customer.id),
        Some(customer.id),
        by_user(owner),
        at(5, 0),
    );
    customer_deleted.version = Some(customer.version.next());
    customer_deleted.before = Some(json!({ "name": "Acme Ünïcode \"quoted\"" }));
    let deleted = stores
        .customers
        .delete_customer(
            org.id,
            customer.id,
            Some(customer.version.next()),
            &customer_deleted,
        )
        .await
        .unwrap();
    assert!(matches!(deleted, Conditional::Done(_)), "{deleted:?}");
    let mut logged = customer_deleted.clone();
    logged.at = at(50, 0);
    expected.push(logged);
    let events = log(&stores, org.id).await;
    assert_eq!(events, numbered(&expected));
    assert!(events.windows(2).all(|w| w[0].draft.at <= w[1].draft.at));

    let other = organization(&stores, "Logged Elsewhere").await;
    let theirs = other.customer("Acme");
    let mut their_event = draft(other.id);
    their_event.subject = Subject::Customer(theirs.id);
    stores
        .customers
        .insert_customer(&theirs, &their_event)
        .await
        .unwrap();
    assert_eq!(
        log(&stores, other.id).await,
        numbered(std::slice::from_ref(&their_event))
    );
    assert_eq!(log(&stores, org.id).await.len(), 6);
}

/// A write that writes nothing appends nothing: stale and missing updates and deletes,
/// and inserts refused for a taken name or email. The next write that does write gets the
/// next sequence, with no gap.
pub async fn writes_that_write_nothing_append_nothing(stores: Stores) {
    let org = organization(&stores, "Quiet").await;
    let customer = org.customer("Acme");
    insert_customer(&stores, &customer).await;
    let user = org.user(
        Some(customer.id),
        "ann@acme.example",
        RoleKind::CustomerMember,
    );
    insert_user(&stores, &user).await;
    let logged = log(&stores, org.id).await;
    assert_eq!(logged.len(), 2);

    let stale = Version::FIRST.next();
    let mut renamed = customer.clone();
    renamed.name = domain::CustomerName::parse("Renamed").unwrap();
    let customer_changes = CustomerChanges::between(&customer, &renamed);
    let mut user_renamed = user.clone();
    user_renamed.name = PersonName::parse("Renamed").unwrap();
    let user_changes = UserChanges::between(&user, &user_renamed);
    let customers = &stores.customers;
    let users = &stores.users;
    let nowhere = CustomerId::generate();
    let nobody = UserId::generate();
    let e = || draft(org.id);

    let outcomes = [
        customers
            .update_customer(org.id, customer.id, stale, &customer_changes, &e())
            .await
            .map(|outcome| outcome.map(drop)),
        customers
            .update_customer(org.id, nowhere, Version::FIRST, &customer_changes, &e())
            .await
            .map(|outcome| outcome.map(drop)),
        customers
            .delete_customer(org.id, customer.id, Some(stale), &e())
            .await
            .map(|outcome| outcome.map(drop)),
        customers
            .delete_customer(org.id, nowhere, None, &e())
            .await
            .map(|outcome| outcome.map(drop)),
        users
            .update_user(org.id, user.id, stale, &user_changes, &e())
            .await
            .map(|outcome| outcome.map(drop)),
        users
            .update_user(org.id, nobody, Version::FIRST, &user_changes, &e())
            .await
            .map(|outcome| outcome.map(drop)),
        users
            .delete_user(org.id, user.id, Some(stale), &e())
            .await
            .map(|outcome| outcome.map(drop)),
        users
            .delete_user(org.id, nobody, None, &e())
            .await
            .map(|outcome| outcome.map(drop)),
    ];
    assert_eq!(
        outcomes.map(Result::unwrap),
        [
            Conditional::Stale,
            Conditional::Missing,
            Conditional::Stale,
            Conditional::Missing,
            Conditional::Stale,
            Conditional::Missing,
            Conditional::Stale,
            Conditional::Missing,
        ]
    );
    assert!(matches!(
        customers.insert_customer(&org.customer("ACME"), &e()).await,
        Err(RepoError::Conflict(UniqueField::CustomerName))
    ));
    let twin = org.user(None, "ANN@acme.example", RoleKind::Guest);
    assert!(matches!(
        users.insert_user(&twin, None, &e()).await,
        Err(RepoError::Conflict(UniqueField::UserEmail))
    ));
    assert_eq!(log(&stores, org.id).await, logged, "nothing was appended");

    let next = draft(org.id);
    insert_customer_with(&stores, &org, "Next", &next).await;
    let events = log(&stores, org.id).await;
    assert_eq!(events.len(), 3);
    assert_eq!(events[2].sequence, 4);
    assert_eq!(events[2].draft.id, next.id);
}

async fn insert_customer_with(stores: &Stores, org: &Org, name: &str, event: &EventDraft) {
    stores
        .customers
        .insert_customer(&org.customer(name), event)
        .await
        .unwrap();
}

/// A change whose event cannot be appended (here: a draft reusing a logged event's id, a
/// unique violation; or one for another organization) is not written either, and leaves
/// no gap in the sequence.
pub async fn a_change_whose_event_fails_is_not_written(stores: Stores) {
    let org = organization(&stores, "Failing").await;
    let other = organization(&stores, "Failing Elsewhere").await;
    let first = draft(org.id);
    let customer = org.customer("Kept");
    stores
        .customers
        .insert_customer(&customer, &first)
        .await
        .unwrap();
    let user = org.user(
        Some(customer.id),
        "kept@example.com",
        RoleKind::CustomerMember,
    );
    let second = draft(org.id);
    stores
        .users
        .insert_user(&user, None, &second)
        .await
        .unwrap();
    let reused = || EventDraft {
        at: domain::now(),
        ..first.clone()
    };

    let lost = org.customer("Lost");
    assert!(
        stores
            .customers
            .insert_customer(&lost, &reused())
            .await
            .is_err()
    );
    assert!(
        stores
            .customers
            .insert_customer(&lost, &draft(other.id))
            .await
            .is_err(),
        "an event of another organization is refused"
    );
    assert_eq!(
        stores.customers.customer(org.id, lost.id).await.unwrap(),
        None
    );

    let mut renamed = customer.clone();
    renamed.name = domain::CustomerName::parse("Renamed").unwrap();
    let changes = CustomerChanges::between(&customer, &renamed);
    assert!(
        stores
            .customers
            .update_customer(org.id, customer.id, customer.version, &changes, &reused())
            .await
            .is_err()
    );
    assert!(
        stores
            .customers
            .delete_customer(org.id, customer.id, None, &reused())
            .await
            .is_err()
    );
    assert_eq!(
        stores
            .customers
            .customer(org.id, customer.id)
            .await
            .unwrap(),
        Some(customer.clone()),
        "neither renamed nor deleted"
    );

    let mut user_renamed = user.clone();
    user_renamed.name = PersonName::parse("Renamed").unwrap();
    let user_changes = UserChanges::between(&user, &user_renamed);
    assert!(
        stores
            .users
            .update_user(org.id, user.id, user.version, &user_changes, &reused())
            .await
            .is_err()
    );
    assert!(
        stores
            .users
            .delete_user(org.id, user.id, Some(user.version), &reused())
            .await
            .is_err()
    );
    assert_eq!(
        stores.users.user(org.id, user.id).await.unwrap(),
        Some(user.clone()),
        "neither renamed nor deleted"
    );

    let invited = org.user(None, "invited@example.com", RoleKind::Guest);
    let entry = invitation(&org, &invited);
    assert!(
        stores
            .users
            .insert_user(&invited, Some(entry), &reused())
            .await
            .is_err()
    );
    assert_eq!(stores.users.user(org.id, invited.id).await.unwrap(), None);
    assert_eq!(
        stores.stats.outbox_depth().await.unwrap(),
        0,
        "no invitation mail"
    );

    let events = log(&stores, org.id).await;
    assert_eq!(
        events.iter().map(|e| e.draft.id).collect::<Vec<_>>(),
        [first.id, second.id]
    );
    let third = draft(org.id);
    insert_customer_with(&stores, &org, "Third", &third).await;
    let events = log(&stores, org.id).await;
    assert_eq!(events.len(), 3);
    assert_eq!((events[2].sequence, events[2].draft.id), (4, third.id));
    assert!(log(&stores, other.id).await.is_empty());
}

/// An invitation of `user` with its mail, due now.
fn invitation(org: &Org, user: &domain::User) -> Invited {
    Invited {
        invitation: Invitation::issue(org.id, user.id, "token-hash".into(), at(0, 0)),
        mail: OutboxMail::queue(
            Mail {
                to: user.email.as_str().into(),
                subject: "Invitation".into(),
                body: "link".into(),
            },
            at(0, 0),
        ),
    }
}

/// The audit query: each filter (types, subject, actor, customer, since, until, after) and
/// their combinations select exactly the matching events in sequence order, paged with
/// `first` and `has_next_page`; another organization's events never show.
pub async fn event_queries_filter_and_page(stores: Stores) {
    let org = organization(&stores, "Audited").await;
    let other = organization(&stores, "Audited Elsewhere").await;
    let owner = org.owner.id;
    let admin = org.user(None, "admin@audited.example", RoleKind::Admin);
    let admin_created = drafted(
        org.id,
        EventType::UserCreated,
        Subject::User(admin.id),
        None,
        by_user(owner),
        at(0, 0),
    );
    stores
        .users
        .insert_user(&admin, None, &admin_created)
        .await
        .unwrap();
    let actors = [by_user(owner), by_user(admin.id), SYSTEM];
    let mut tick = 0;
    let mut next_at = || {
        tick += 10;
        at(tick, 0)
    };
    let mut customers = Vec::new();
    for (n, name) in ["Acme", "Globex", "Initech"].into_iter().enumerate() {
        let customer = org.customer(name);
        let event = drafted(
            org.id,
            EventType::CustomerCreated,
            Subject::Customer(customer.id),
            Some(customer.id),
            actors[n % 3],
            next_at(),
        );
        stores
            .customers
            .insert_customer(&customer, &event)
            .await
            .unwrap();
        customers.push(customer);
    }
    for (n, customer) in customers.iter().enumerate() {
        for m in 0..2 {
            let user = org.user(
                Some(customer.id),
                &format!("u{m}@{}.example", customer.name.as_str().to_lowercase()),
                RoleKind::CustomerMember,
            );
            let created = drafted(
                org.id,
                EventType::UserCreated,
                Subject::User(user.id),
                Some(customer.id),
                actors[(n + m) % 3],
                next_at(),
            );
            stores
                .users
                .insert_user(&user, None, &created)
                .await
                .unwrap();
            let mut renamed = user.clone();
            renamed.name = PersonName::parse("Renamed").unwrap();
            let updated = drafted(
                org.id,
                EventType::UserUpdated,
                Subject::User(user.id),
                Some(customer.id),
                actors[(n + m + 1) % 3],
                next_at(),
            );
            stores
                .users
                .update_user(
                    org.id,
                    user.id,
                    user.version,
                    &UserChanges::between(&user, &renamed),
                    &updated,
                )
                .await
                .unwrap();
        }
    }
    let doomed = &customers[2];
    let deleted = drafted(
        org.id,
        EventType::CustomerDeleted,
        Subject::Customer(doomed.id),
        Some(doomed.id),
        by_user(admin.id),
        next_at(),
    );
    stores
        .customers
        .delete_customer(org.id, doomed.id, None, &deleted)
        .await
        .unwrap();
    // The other organization's events share subjects' and actors' kinds, not ids.
    for name in ["Acme", "Globex"] {
        insert_customer(&stores, &other.customer(name)).await;
    }

    let all = whole_log_after(&stores, org.id, None).await;
    // The organization's creation (with its owner), the admin, 3 customers, 6 users
    // created and updated, 1 deletion.
    assert_eq!(all.len(), 18, "{all:#?}");
    assert_eq!(all[0].draft.kind, EventType::OrganizationCreated);
    assert!(
        all.iter()
            .all(|event| event.draft.organization_id == org.id)
    );
    assert!(
        all.windows(2).all(|w| w[0].draft.at < w[1].draft.at),
        "logged at the drafted times"
    );
    let acme = customers[0].id;
    let a_user = all
        .iter()
        .find(|event| event.draft.kind == EventType::UserUpdated)
        .map(|event| event.draft.subject)
        .unwrap();
    let middle = all[9].draft.at;
    let queries = [
        EventQuery {
            types: vec![EventType::UserUpdated],
            ..EventQuery::default()
        },
        EventQuery {
            types: vec![EventType::CustomerCreated, EventType::CustomerDeleted],
            ..EventQuery::default()
        },
        EventQuery {
            subject: Some(a_user.uuid()),
            ..EventQuery::default()
        },
        EventQuery {
            subject: Some(acme.uuid()),
            ..EventQuery::default()
        },
        EventQuery {
            actor: Some(admin.id),
            ..EventQuery::default()
        },
        EventQuery {
            customer: Some(acme),
            ..EventQuery::default()
        },
        EventQuery {
            since: Some(middle),
            ..EventQuery::default()
        },
        EventQuery {
            until: Some(middle),
            ..EventQuery::default()
        },
        EventQuery {
            since: Some(all[3].draft.at),
            until: Some(all[12].draft.at),
            ..EventQuery::default()
        },
        EventQuery {
            after: Some(7),
            types: vec![EventType::UserCreated, EventType::UserUpdated],
            customer: Some(customers[1].id),
            ..EventQuery::default()
        },
        EventQuery {
            actor: Some(owner),
            types: vec![EventType::UserCreated],
            since: Some(all[2].draft.at),
            ..EventQuery::default()
        },
        EventQuery {
            after: Some(5),
            ..EventQuery::default()
        },
    ];
    for filter in queries {
        let expected: Vec<Event> = all
            .iter()
            .filter(|event| matches(&filter, event))
            .cloned()
            .collect();
        assert!(
            !expected.is_empty() && expected.len() < all.len(),
            "the filter selects something, not everything: {filter:?}"
        );
        let whole = stores
            .events
            .events(
                org.id,
                &EventQuery {
                    first: 100,
                    ..filter.clone()
                },
            )
            .await
            .unwrap();
        assert_eq!(whole.events, expected, "{filter:?}");
        assert!(!whole.has_next_page, "{filter:?}");
        // Two at a time, each page continuing after the last sequence read.
        let mut paged: Vec<Event> = Vec::new();
        let mut cursor = filter.after;
        for _ in 0..all.len() {
            let page = stores
                .events
                .events(
                    org.id,
                    &EventQuery {
                        first: 2,
                        after: cursor,
                        ..filter.clone()
                    },
                )
                .await
                .unwrap();
            assert!(page.events.len() <= 2, "{filter:?}");
            paged.extend(page.events.iter().cloned());
            let more = paged.len() < expected.len();
            assert_eq!(page.has_next_page, more, "{filter:?} after {cursor:?}");
            if !more {
                break;
            }
            cursor = paged.last().map(|event| event.sequence);
        }
        assert_eq!(paged, expected, "{filter:?} two at a time");
        let none = stores
            .events
            .events(
                org.id,
                &EventQuery {
                    first: 0,
                    ..filter.clone()
                },
            )
            .await
            .unwrap();
        assert!(none.events.is_empty() && none.has_next_page, "{filter:?}");
    }
    let past_the_end = stores
        .events
        .events(org.id, &after(Some(18), 10))
        .await
        .unwrap();
    assert!(past_the_end.events.is_empty() && !past_the_end.has_next_page);
    let elsewhere = stores
        .events
        .events(
            other.id,
            &EventQuery {
                first: 100,
                subject: Some(acme.uuid()),
                ..EventQuery::default()
            },
        )
        .await
        .unwrap();
    assert!(elsewhere.events.is_empty(), "{elsewhere:?}");
}

/// Whether `event` passes every filter of `query` (the reference for the audit query).
fn matches(query: &EventQuery, event: &Event) -> bool {
    let draft = &event.draft;
    query.after.is_none_or(|after| event.sequence > after)
        && (query.types.is_empty() || query.types.contains(&draft.kind))
        && query
            .subject
            .is_none_or(|subject| draft.subject.uuid() == subject)
        && query
            .actor
            .is_none_or(|actor| draft.actor.user == Some(actor))
        && query
            .customer
            .is_none_or(|customer| draft.customer_id == Some(customer))
        && query.since.is_none_or(|since| draft.at >= since)
        && query.until.is_none_or(|until| draft.at < until)
}

/// 50 customers created at once in one organization, while a reader polls for the events
/// after the last it saw: every read continues the log exactly (never sequence N+1 before
/// N), and in the end 1..=50 are there, one per customer, their times never falling.
pub async fn concurrent_writers_append_a_gap_free_log(stores: Stores) {
    const WRITERS: u64 = 50;
    let org = organization(&stores, "Concurrent Log").await;
    let reader = {
        let events = stores.events.clone();
        let org = org.id;
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(120);
            let mut seen: Vec<Event> = Vec::new();
            let mut reads = 0_u32;
            while (seen.len() as u64) < WRITERS {
                assert!(Instant::now() < deadline, "the reader saw only {seen:?}");
                // After the organization's own creation, sequence 1.
                let last = seen.last().map_or(1, |event| event.sequence);
                let page = events.events(org, &after(Some(last), 100)).await.unwrap();
                let next = last + 1;
                let sequences: Vec<u64> = page.events.iter().map(|e| e.sequence).collect();
                let expected: Vec<u64> = (next..).take(sequences.len()).collect();
                assert_eq!(sequences, expected, "read {reads} after {last:?} saw a gap");
                seen.extend(page.events);
                reads += 1;
                tokio::task::yield_now().await;
            }
            seen
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|n| {
            let customers = stores.customers.clone();
            let customer = org.customer(&format!("Concurrent {n:02}"));
            let mut event = draft(org.id);
            event.subject = Subject::Customer(customer.id);
            event.customer_id = Some(customer.id);
            tokio::spawn(async move {
                customers.insert_customer(&customer, &event).await?;
                Ok::<_, RepoError>(customer.id)
            })
        })
        .collect();
    let mut created = HashSet::new();
    for writer in writers {
        created.insert(writer.await.unwrap().unwrap());
    }
    let seen = reader.await.unwrap();
    assert_eq!(
        seen.iter().map(|event| event.sequence).collect::<Vec<_>>(),
        (2..=WRITERS + 1).collect::<Vec<_>>()
    );
    let subjects: HashSet<CustomerId> = seen
        .iter()
        .map(|event| match event.draft.subject {
            Subject::Customer(id) => id,
            other => panic!("an event about {other:?}"),
        })
        .collect();
    assert_eq!(subjects, created, "one event per customer");
    assert!(seen.windows(2).all(|w| w[0].draft.at <= w[1].draft.at));
    assert_eq!(log(&stores, org.id).await, seen);
}
