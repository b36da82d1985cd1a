//! The SCIM token use cases and authenticator on mocks: who may manage tokens, what is
//! stored and logged (never the token), the cap per customer, and what authenticates.

use std::sync::{Arc, Mutex};

use chrono::TimeDelta;
use domain::events::{EventType, Subject};
use domain::scim::{NewScimToken, ScimSecret, ScimToken, ScimTokenDraft};
use domain::{CustomerId, ErrorCode, OrganizationId, RoleKind, ScimTokenId};
use ports::repository::MockCustomerRepository;
use ports::scim::MockScimTokenRepository;
use ports::{
    AuthError, Conditional, DirectoryError, EventDraft, RepoError, ScimAuthenticator,
    ScimTokenDirectory, ScimTokenPage,
};

use super::{MAX_SCIM_TOKENS_PER_CUSTOMER, ScimTokenService};
use crate::sessions::token_hash;
use crate::testing::{actor, codes, customer, origin};

type Seen = Arc<Mutex<Vec<EventDraft>>>;

fn service(tokens: MockScimTokenRepository, customers: MockCustomerRepository) -> ScimTokenService {
    ScimTokenService::new(Arc::new(tokens), Arc::new(customers))
}

/// A repository of customers where exactly `known` exist.
fn customers(known: Vec<domain::Customer>) -> MockCustomerRepository {
    let mut customers = MockCustomerRepository::new();
    customers.expect_customer().returning(move |org, id| {
        Ok(known
            .iter()
            .find(|customer| customer.organization_id == org && customer.id == id)
            .cloned())
    });
    customers
}

fn token(org: OrganizationId, customer: CustomerId) -> ScimToken {
    NewScimToken::parse(ScimTokenDraft {
        customer: Ok(customer),
        description: "Okta".into(),
        send_invitations: None,
    })
    .unwrap()
    .into_token(
        org,
        &ScimSecret::new("roster_scim_abcdefghijkl".into()),
        domain::now(),
    )
}

fn draft(customer: CustomerId) -> ScimTokenDraft {
    ScimTokenDraft {
        customer: Ok(customer),
        description: " Okta production ".into(),
        send_invitations: Some(true),
    }
}

#[tokio::test]
async fn an_admin_creates_a_token_shown_once_stored_as_its_hash_and_logged_without_it() {
    let org = OrganizationId::generate();
    let acme = customer(org, "Acme");
    let (admin, _) = actor(org, None, RoleKind::Admin);
    let seen: Seen = Arc::default();
    let hashes = Arc::new(Mutex::new(Vec::new()));
    let mut tokens = MockScimTokenRepository::new();
    tokens
        .expect_scim_tokens()
        .withf(move |o, c, after, first| {
            (*o, *c, *after, *first) == (org, acme.id, None, MAX_SCIM_TOKENS_PER_CUSTOMER)
        })
        .returning(|_, _, _, _| Ok(ScimTokenPage::default()));
    let (log, kept) = (seen.clone(), hashes.clone());
    tokens
        .expect_insert_scim_token()
        .times(2)
        .returning(move |_, hash, event| {
            log.lock().unwrap().push(event.clone());
            kept.lock().unwrap().push(hash.to_owned());
            Ok(())
        });
    let directory = service(tokens, customers(vec![acme.clone()]));

    let created = directory
        .create_scim_token(&origin(&admin), draft(acme.id))
        .await
        .unwrap();
    let again = directory
        .create_scim_token(&origin(&admin), draft(acme.id))
        .await
        .unwrap();
    let secret = created.secret.as_str();
    assert!(secret.starts_with("roster_scim_"), "{secret}");
    assert_eq!(
        secret.len(),
        "roster_scim_".len() + 43,
        "32 bytes, base64url"
    );
    assert_ne!(created.secret, again.secret);
    assert_eq!(hashes.lock().unwrap()[0], token_hash(secret));
    assert_eq!(hashes.lock().unwrap()[0].len(), 64);
    assert_eq!(created.token.preview, secret[..20]);
    assert_eq!(created.token.description.as_str(), "Okta production");
    assert_eq!(
        (created.token.organization_id, created.token.customer_id),
        (org, acme.id)
    );
    assert!(created.token.send_invitations);
    assert_eq!(created.token.last_used_at, None);

    let event = seen.lock().unwrap()[0].clone();
    assert_eq!(event.kind, EventType::ScimTokenCreated);
    assert_eq!(event.subject, Subject::ScimToken(created.token.id));
    assert_eq!(event.customer_id, Some(acme.id));
    assert_eq!(event.actor.user, Some(admin.user_id));
    let after = event.after.unwrap().to_string();
    assert!(after.contains("Okta production"), "{after}");
    assert!(!after.contains(secret), "the token never reaches the log");
    assert!(!after.contains(&token_hash(secret)), "nor its hash");
    assert!(event.before.is_none());
}

#[tokio::test]
async fn a_customer_admin_manages_only_its_own_customers_tokens_and_members_none() {
    let org = OrganizationId::generate();
    let acme = customer(org, "Acme");
    let globex = customer(org, "Globex");
    let (acme_admin, _) = actor(org, Some(acme.id), RoleKind::CustomerAdmin);
    let mut tokens = MockScimTokenRepository::new();
    tokens
        .expect_scim_tokens()
        .returning(|_, _, _, _| Ok(ScimTokenPage::default()));
    tokens
        .expect_insert_scim_token()
        .times(1)
        .returning(|_, _, _| Ok(()));
    let directory = service(tokens, customers(vec![acme.clone(), globex.clone()]));

    let own = directory
        .create_scim_token(&origin(&acme_admin), draft(acme.id))
        .await
        .unwrap();
    assert_eq!(own.token.customer_id, acme.id);
    // Another customer is not found, for creating and listing alike.
    let error = directory
        .create_scim_token(&origin(&acme_admin), draft(globex.id))
        .await
        .unwrap_err();
    assert_eq!(codes(error), [("customer", ErrorCode::NotFound)]);
    assert!(matches!(
        directory
            .scim_tokens(&acme_admin, globex.id, None, 10)
            .await,
        Err(DirectoryError::NotFound)
    ));
    assert!(
        directory
            .scim_tokens(&acme_admin, acme.id, None, 10)
            .await
            .is_ok()
    );

    for (customer_id, kind) in [
        (Some(acme.id), RoleKind::CustomerMember),
        (None, RoleKind::CustomerManager),
        (None, RoleKind::Guest),
    ] {
        let (member, _) = actor(org, customer_id, kind);
        assert!(
            matches!(
                directory
                    .create_scim_token(&origin(&member), draft(acme.id))
                    .await,
                Err(DirectoryError::Forbidden)
            ),
            "{kind:?}"
        );
        assert!(
            matches!(
                directory.scim_tokens(&member, acme.id, None, 10).await,
                Err(DirectoryError::Forbidden)
            ),
            "{kind:?}"
        );
        assert!(
            matches!(
                directory
                    .delete_scim_token(&origin(&member), ScimTokenId::generate())
                    .await,
                Err(DirectoryError::Forbidden)
            ),
            "{kind:?}"
        );
        assert!(
            matches!(
                directory
                    .update_scim_token(&origin(&member), ScimTokenId::generate(), Some(true))
                    .await,
                Err(DirectoryError::Forbidden)
            ),
            "{kind:?}"
        );
    }
}

#[tokio::test]
async fn drafts_unknown_customers_and_full_customers_are_payload_errors() {
    let org = OrganizationId::generate();
    let acme = customer(org, "Acme");
    let full = customer(org, "Full");
    let (owner, _) = actor(org, None, RoleKind::Owner);
    let mut tokens = MockScimTokenRepository::new();
    let full_id = full.id;
    tokens
        .expect_scim_tokens()
        .withf(move |_, customer, _, _| *customer == full_id)
        .returning(move |org, customer, _, first| {
            Ok(ScimTokenPage {
                tokens: (0..first).map(|_| token(org, customer)).collect(),
                has_next_page: false,
            })
        });
    let directory = service(tokens, customers(vec![acme.clone(), full.clone()]));

    let error = directory
        .create_scim_token(
            &origin(&owner),
            ScimTokenDraft {
                customer: Err(domain::InvalidId),
                description: "a\u{0007}b".into(),
                send_invitations: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        codes(error),
        [
            ("customer", ErrorCode::Invalid),
            ("description", ErrorCode::Invalid)
        ]
    );
    let error = directory
        .create_scim_token(&origin(&owner), draft(CustomerId::generate()))
        .await
        .unwrap_err();
    assert_eq!(codes(error), [("customer", ErrorCode::NotFound)]);
    let error = directory
        .create_scim_token(&origin(&owner), draft(full.id))
        .await
        .unwrap_err();
    assert_eq!(codes(error), [("customer", ErrorCode::Invalid)]);
    assert!(matches!(
        directory
            .scim_tokens(&owner, CustomerId::generate(), None, 10)
            .await,
        Err(DirectoryError::NotFound)
    ));
}

#[tokio::test]
async fn listings_are_clamped_to_pages_of_1_to_100() {
    let org = OrganizationId::generate();
    let acme = customer(org, "Acme");
    let (owner, _) = actor(org, None, RoleKind::Owner);
    let asked = Arc::new(Mutex::new(Vec::new()));
    let mut tokens = MockScimTokenRepository::new();
    let seen = asked.clone();
    tokens
        .expect_scim_tokens()
        .returning(move |_, _, _, first| {
            seen.lock().unwrap().push(first);
            Ok(ScimTokenPage::default())
        });
    let directory = service(tokens, customers(vec![acme.clone()]));
    for first in [0, 5, 1000] {
        directory
            .scim_tokens(&owner, acme.id, None, first)
            .await
            .unwrap();
    }
    assert_eq!(*asked.lock().unwrap(), [1, 5, 100]);
}

#[tokio::test]
async fn deleting_logs_the_token_as_it_was_and_other_customers_tokens_are_not_found() {
    let org = OrganizationId::generate();
    let acme = customer(org, "Acme");
    let globex = customer(org, "Globex");
    let acme_token = token(org, acme.id);
    let globex_token = token(org, globex.id);
    let (acme_admin, _) = actor(org, Some(acme.id), RoleKind::CustomerAdmin);
    let seen: Seen = Arc::default();
    let mut tokens = MockScimTokenRepository::new();
    let known = [acme_token.clone(), globex_token.clone()];
    tokens
        .expect_scim_token()
        .returning(move |_, id| Ok(known.iter().find(|token| token.id == id).cloned()));
    let (log, deleted) = (seen.clone(), acme_token.id);
    tokens
        .expect_delete_scim_token()
        .withf(move |o, id, _| (*o, *id) == (org, deleted))
        .times(2)
        .returning({
            let mut calls = 0;
            move |_, _, event| {
                calls += 1;
                log.lock().unwrap().push(event.clone());
                Ok(if calls == 1 {
                    Conditional::Done(())
                } else {
                    Conditional::Missing
                })
            }
        });
    let directory = service(tokens, MockCustomerRepository::new());

    let gone = directory
        .delete_scim_token(&origin(&acme_admin), acme_token.id)
        .await
        .unwrap();
    assert_eq!(gone, acme_token);
    let event = seen.lock().unwrap()[0].clone();
    assert_eq!(event.kind, EventType::ScimTokenDeleted);
    assert_eq!(event.subject, Subject::ScimToken(acme_token.id));
    assert_eq!(event.customer_id, Some(acme.id));
    assert!(event.after.is_none() && event.before.is_some());
    // Deleted meanwhile: not found.
    let error = directory
        .delete_scim_token(&origin(&acme_admin), acme_token.id)
        .await
        .unwrap_err();
    assert_eq!(codes(error), [("id", ErrorCode::NotFound)]);
    // Another customer's token, or none at all: not found, nothing deleted.
    for id in [globex_token.id, ScimTokenId::generate()] {
        let error = directory
            .delete_scim_token(&origin(&acme_admin), id)
            .await
            .unwrap_err();
        assert_eq!(codes(error), [("id", ErrorCode::NotFound)]);
    }
}

#[tokio::test]
async fn a_change_of_send_invitations_is_logged_and_no_change_writes_nothing() {
    let org = OrganizationId::generate();
    let acme = customer(org, "Acme");
    let globex = customer(org, "Globex");
    let acme_token = token(org, acme.id);
    assert!(!acme_token.send_invitations);
    let globex_token = token(org, globex.id);
    let (acme_admin, _) = actor(org, Some(acme.id), RoleKind::CustomerAdmin);
    let seen: Seen = Arc::default();
    let mut tokens = MockScimTokenRepository::new();
    let known = [acme_token.clone(), globex_token.clone()];
    tokens
        .expect_scim_token()
        .returning(move |_, id| Ok(known.iter().find(|token| token.id == id).cloned()));
    let (log, updated) = (seen.clone(), acme_token.id);
    tokens
        .expect_update_scim_token()
        .withf(move |o, id, send, _| (*o, *id, *send) == (org, updated, true))
        .times(2)
        .returning({
            let mut calls = 0;
            move |_, _, _, event| {
                calls += 1;
                log.lock().unwrap().push(event.clone());
                Ok(if calls == 1 {
                    Conditional::Done(())
                } else {
                    Conditional::Missing
                })
            }
        });
    let directory = service(tokens, MockCustomerRepository::new());

    let changed = directory
        .update_scim_token(&origin(&acme_admin), acme_token.id, Some(true))
        .await
        .unwrap();
    assert_eq!(
        changed,
        ScimToken {
            send_invitations: true,
            ..acme_token.clone()
        }
    );
    let event = seen.lock().unwrap()[0].clone();
    assert_eq!(event.kind, EventType::ScimTokenUpdated);
    assert_eq!(event.subject, Subject::ScimToken(acme_token.id));
    assert_eq!(event.customer_id, Some(acme.id));
    assert_eq!(
        (event.before, event.after),
        (
            Some(serde_json::json!({"sendInvitations": false})),
            Some(serde_json::json!({"sendInvitations": true}))
        )
    );
    // What it already is, or nothing asked: no write (the stored token says false).
    for unchanged in [Some(false), None] {
        let same = directory
            .update_scim_token(&origin(&acme_admin), acme_token.id, unchanged)
            .await
            .unwrap();
        assert_eq!(same, acme_token);
    }
    // Deleted meanwhile: not found.
    let error = directory
        .update_scim_token(&origin(&acme_admin), acme_token.id, Some(true))
        .await
        .unwrap_err();
    assert_eq!(codes(error), [("id", ErrorCode::NotFound)]);
    // Another customer's token, or none at all: not found, nothing written.
    for id in [globex_token.id, ScimTokenId::generate()] {
        let error = directory
            .update_scim_token(&origin(&acme_admin), id, Some(true))
            .await
            .unwrap_err();
        assert_eq!(codes(error), [("id", ErrorCode::NotFound)]);
    }
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn only_live_scim_tokens_authenticate_and_uses_are_recorded_once_a_minute() {
    let org = OrganizationId::generate();
    let acme = CustomerId::generate();
    let secret = "roster_scim_live";
    let mut fresh = token(org, acme);
    fresh.send_invitations = true;
    let mut recent = token(org, acme);
    recent.last_used_at = Some(domain::now() - TimeDelta::seconds(10));
    let (fresh_hash, recent_hash) = (token_hash(secret), token_hash("roster_scim_recent"));
    let mut tokens = MockScimTokenRepository::new();
    let (a, b) = (fresh.clone(), recent.clone());
    tokens.expect_scim_token_by_hash().returning(move |hash| {
        Ok(if hash == fresh_hash {
            Some(a.clone())
        } else if hash == recent_hash {
            Some(b.clone())
        } else {
            None
        })
    });
    let fresh_id = fresh.id;
    // Recorded for the never-used token only (and its failure does not refuse the request).
    tokens
        .expect_touch_scim_token()
        .withf(move |o, id, _| (*o, *id) == (org, fresh_id))
        .times(1)
        .returning(|_, _, _| Err(RepoError::unavailable(std::io::Error::other("down"))));
    let authenticator = service(tokens, MockCustomerRepository::new());

    let client = authenticator.authenticate_scim(secret).await.unwrap();
    assert_eq!(client, fresh.client());
    assert!(client.send_invitations);
    let client = authenticator
        .authenticate_scim("roster_scim_recent")
        .await
        .unwrap();
    assert_eq!(client.token_id, recent.id);
    // Unknown tokens, other kinds of token and absurdly long ones: refused (the latter
    // two before any lookup would matter).
    for refused in [
        "roster_scim_unknown".to_owned(),
        "eyJhbGciOiJIUzI1NiJ9.e30.sig".to_owned(),
        format!("roster_scim_{}", "a".repeat(200)),
    ] {
        assert!(
            matches!(
                authenticator.authenticate_scim(&refused).await,
                Err(AuthError::Unauthenticated)
            ),
            "{refused}"
        );
    }
}

#[tokio::test]
async fn storage_down_is_unavailable_not_unauthenticated() {
    let mut tokens = MockScimTokenRepository::new();
    tokens
        .expect_scim_token_by_hash()
        .returning(|_| Err(RepoError::unavailable(std::io::Error::other("down"))));
    let authenticator = service(tokens, MockCustomerRepository::new());
    assert!(matches!(
        authenticator.authenticate_scim("roster_scim_x").await,
        Err(AuthError::Unavailable(_))
    ));
}
