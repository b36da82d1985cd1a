//! Checks on SCIM tokens: written and deleted with their events, listed per customer in
//! pages, found by their hash (in any organization, never by anything else), their use
//! recorded at most once a minute, and gone with their customer.

use chrono::TimeDelta;
use domain::events::{EventType, Subject};
use domain::scim::{NewScimToken, ScimSecret, ScimToken, ScimTokenDraft};
use domain::{CustomerId, ScimTokenId};
use ports::{Conditional, EventQuery};

use crate::Stores;
use crate::support::{Org, at, draft, draft_about, insert_customer, organization};

fn new_token(org: &Org, customer: CustomerId, n: usize) -> ScimToken {
    NewScimToken::parse(ScimTokenDraft {
        customer: Ok(customer),
        description: format!("Okta {n}"),
        send_invitations: Some(n % 2 == 1),
    })
    .unwrap()
    .into_token(
        org.id,
        &ScimSecret::new(format!("roster_scim_{n:08}rest")),
        at(i64::try_from(n).unwrap(), 0),
    )
}

fn about(org: &Org, token: &ScimToken, kind: EventType) -> ports::EventDraft {
    ports::EventDraft {
        kind,
        customer_id: Some(token.customer_id),
        ..draft_about(org.id, Subject::ScimToken(token.id))
    }
}

async fn create(stores: &Stores, org: &Org, token: &ScimToken, hash: &str) {
    stores
        .scim_tokens
        .insert_scim_token(token, hash, &about(org, token, EventType::ScimTokenCreated))
        .await
        .unwrap();
}

async fn event_types(stores: &Stores, org: &Org) -> Vec<(EventType, Subject)> {
    stores
        .events
        .events(
            org.id,
            &EventQuery {
                first: 100,
                ..EventQuery::default()
            },
        )
        .await
        .unwrap()
        .events
        .into_iter()
        .map(|event| (event.draft.kind, event.draft.subject))
        .collect()
}

/// Tokens round-trip every field, list per customer in pages of their own, are found by
/// hash only, and are deleted once, each write with its event.
pub async fn scim_tokens_are_written_with_their_events_and_found_by_hash(stores: Stores) {
    let org = organization(&stores, "Scim").await;
    let other_org = organization(&stores, "Elsewhere").await;
    let acme = org.customer("Acme");
    let globex = org.customer("Globex");
    insert_customer(&stores, &acme).await;
    insert_customer(&stores, &globex).await;
    let before = event_types(&stores, &org).await.len();

    let tokens: Vec<ScimToken> = (0..5).map(|n| new_token(&org, acme.id, n)).collect();
    for (n, token) in tokens.iter().enumerate() {
        create(&stores, &org, token, &format!("hash-{n}")).await;
    }
    let globex_token = new_token(&org, globex.id, 9);
    create(&stores, &org, &globex_token, "hash-globex").await;

    // Every field back, by id and by hash; not from another organization.
    assert_eq!(
        stores
            .scim_tokens
            .scim_token(org.id, tokens[1].id)
            .await
            .unwrap(),
        Some(tokens[1].clone())
    );
    assert_eq!(
        stores
            .scim_tokens
            .scim_token(other_org.id, tokens[1].id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        stores
            .scim_tokens
            .scim_token_by_hash("hash-3")
            .await
            .unwrap(),
        Some(tokens[3].clone())
    );
    for unknown in ["", "hash-", "HASH-3", "roster_scim_00000003rest"] {
        assert_eq!(
            stores
                .scim_tokens
                .scim_token_by_hash(unknown)
                .await
                .unwrap(),
            None,
            "{unknown:?}"
        );
    }

    // A customer's tokens, oldest first (ids are time-ordered), in pages; never another
    // customer's.
    let first = stores
        .scim_tokens
        .scim_tokens(org.id, acme.id, None, 2)
        .await
        .unwrap();
    assert_eq!(first.tokens, tokens[..2]);
    assert!(first.has_next_page);
    let rest = stores
        .scim_tokens
        .scim_tokens(org.id, acme.id, Some(tokens[1].id), 10)
        .await
        .unwrap();
    assert_eq!(rest.tokens, tokens[2..]);
    assert!(!rest.has_next_page);
    let globex_page = stores
        .scim_tokens
        .scim_tokens(org.id, globex.id, None, 10)
        .await
        .unwrap();
    assert_eq!(globex_page.tokens, std::slice::from_ref(&globex_token));
    let foreign = stores
        .scim_tokens
        .scim_tokens(other_org.id, acme.id, None, 10)
        .await
        .unwrap();
    assert!(foreign.tokens.is_empty());

    // Deleted once, with its event; then missing, with none; not from another organization.
    let deleted = about(&org, &tokens[0], EventType::ScimTokenDeleted);
    assert_eq!(
        stores
            .scim_tokens
            .delete_scim_token(
                other_org.id,
                tokens[0].id,
                &draft_about(other_org.id, Subject::ScimToken(tokens[0].id))
            )
            .await
            .unwrap(),
        Conditional::Missing
    );
    assert_eq!(
        stores
            .scim_tokens
            .delete_scim_token(org.id, tokens[0].id, &deleted)
            .await
            .unwrap(),
        Conditional::Done(())
    );
    assert_eq!(
        stores
            .scim_tokens
            .delete_scim_token(
                org.id,
                tokens[0].id,
                &about(&org, &tokens[0], EventType::ScimTokenDeleted)
            )
            .await
            .unwrap(),
        Conditional::Missing
    );
    assert_eq!(
        stores
            .scim_tokens
            .scim_token_by_hash("hash-0")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        stores
            .scim_tokens
            .scim_token(org.id, tokens[0].id)
            .await
            .unwrap(),
        None
    );

    let logged = event_types(&stores, &org).await;
    let mut expected: Vec<(EventType, Subject)> = tokens
        .iter()
        .chain([&globex_token])
        .map(|token| (EventType::ScimTokenCreated, Subject::ScimToken(token.id)))
        .collect();
    expected.push((
        EventType::ScimTokenDeleted,
        Subject::ScimToken(tokens[0].id),
    ));
    assert_eq!(logged[before..], expected);
    assert!(
        event_types(&stores, &other_org)
            .await
            .iter()
            .all(|(kind, _)| *kind == EventType::OrganizationCreated)
    );
}

/// A use is recorded when the token was never used or last used a minute ago or more, and
/// is otherwise left as it was; no event is appended.
pub async fn scim_token_uses_are_recorded_at_most_once_a_minute(stores: Stores) {
    let org = organization(&stores, "Touch").await;
    let acme = org.customer("Acme");
    insert_customer(&stores, &acme).await;
    let token = new_token(&org, acme.id, 1);
    create(&stores, &org, &token, "hash-touch").await;
    let events = event_types(&stores, &org).await.len();
    let last_used = || async {
        stores
            .scim_tokens
            .scim_token(org.id, token.id)
            .await
            .unwrap()
            .unwrap()
            .last_used_at
    };

    let first = at(100, 0);
    stores
        .scim_tokens
        .touch_scim_token(org.id, token.id, first)
        .await
        .unwrap();
    assert_eq!(last_used().await, Some(first));
    stores
        .scim_tokens
        .touch_scim_token(org.id, token.id, first + TimeDelta::seconds(59))
        .await
        .unwrap();
    assert_eq!(last_used().await, Some(first));
    let later = first + TimeDelta::seconds(60);
    stores
        .scim_tokens
        .touch_scim_token(org.id, token.id, later)
        .await
        .unwrap();
    assert_eq!(last_used().await, Some(later));
    // Unknown tokens and other organizations: nothing to touch, no error.
    stores
        .scim_tokens
        .touch_scim_token(org.id, ScimTokenId::generate(), later)
        .await
        .unwrap();
    let other = organization(&stores, "Other").await;
    stores
        .scim_tokens
        .touch_scim_token(other.id, token.id, later + TimeDelta::minutes(5))
        .await
        .unwrap();
    assert_eq!(last_used().await, Some(later));
    assert_eq!(event_types(&stores, &org).await.len(), events);
}

/// Deleting a customer deletes its tokens (and only its).
pub async fn deleting_a_customer_deletes_its_scim_tokens(stores: Stores) {
    let org = organization(&stores, "Cascade").await;
    let doomed = org.customer("Doomed");
    let kept = org.customer("Kept");
    insert_customer(&stores, &doomed).await;
    insert_customer(&stores, &kept).await;
    let doomed_token = new_token(&org, doomed.id, 1);
    let kept_token = new_token(&org, kept.id, 2);
    create(&stores, &org, &doomed_token, "hash-doomed").await;
    create(&stores, &org, &kept_token, "hash-kept").await;

    let deleted = stores
        .customers
        .delete_customer(org.id, doomed.id, None, &draft(org.id))
        .await
        .unwrap();
    assert!(matches!(deleted, Conditional::Done(_)));
    assert_eq!(
        stores
            .scim_tokens
            .scim_token_by_hash("hash-doomed")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        stores
            .scim_tokens
            .scim_token_by_hash("hash-kept")
            .await
            .unwrap(),
        Some(kept_token)
    );
}

/// A token's `send_invitations` changes with its event, read back by id and by hash; an
/// unknown token, or another organization's, changes nothing and appends nothing.
pub async fn scim_token_settings_change_with_their_event(stores: Stores) {
    let org = organization(&stores, "Settings").await;
    let other = organization(&stores, "Other").await;
    let acme = org.customer("Acme");
    insert_customer(&stores, &acme).await;
    let token = new_token(&org, acme.id, 2);
    assert!(!token.send_invitations);
    create(&stores, &org, &token, "hash-settings").await;
    let events = event_types(&stores, &org).await.len();

    let updated = about(&org, &token, EventType::ScimTokenUpdated);
    assert_eq!(
        stores
            .scim_tokens
            .update_scim_token(org.id, token.id, true, &updated)
            .await
            .unwrap(),
        Conditional::Done(())
    );
    let expected = ScimToken {
        send_invitations: true,
        ..token.clone()
    };
    assert_eq!(
        stores
            .scim_tokens
            .scim_token(org.id, token.id)
            .await
            .unwrap(),
        Some(expected.clone())
    );
    assert_eq!(
        stores
            .scim_tokens
            .scim_token_by_hash("hash-settings")
            .await
            .unwrap()
            .map(|found| found.client().send_invitations),
        Some(true)
    );
    for (organization, id) in [(other.id, token.id), (org.id, ScimTokenId::generate())] {
        let missing = stores
            .scim_tokens
            .update_scim_token(
                organization,
                id,
                false,
                &draft_about(organization, Subject::ScimToken(id)),
            )
            .await
            .unwrap();
        assert_eq!(missing, Conditional::Missing);
    }
    assert_eq!(
        stores
            .scim_tokens
            .scim_token(org.id, token.id)
            .await
            .unwrap(),
        Some(expected)
    );
    let logged = event_types(&stores, &org).await;
    assert_eq!(
        logged[events..],
        [(EventType::ScimTokenUpdated, Subject::ScimToken(token.id))]
    );
    assert!(
        event_types(&stores, &other)
            .await
            .iter()
            .all(|(kind, _)| *kind == EventType::OrganizationCreated)
    );
}
