//! The event log through the API: the request's origin reaching the directory on a write,
//! and the `events` connections (answers, paging by sequence, refused arguments).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use domain::events::{ActorKind, EventActor, EventType, RequestMeta, Subject, Tag};
use domain::{CustomerId, RoleId, UserId, Version};
use ports::{Event, EventDraft, EventPage, EventQuery};
use serde_json::{Value, json};
use tower::ServiceExt;
use wire::{Global as _, GlobalId, NodeKind};

use crate::helpers::{
    Mocks, TOKEN, actor, customer, graphql, graphql_ok, only_error, organization_id, strip_cost,
};

const CREATE: &str = "mutation($input: CreateCustomerInput!) {
    createCustomer(input: $input) { customer { name } errors { field } }
}";

/// `createCustomer` with the good token and `headers`; the answer's body.
async fn create_with(mocks: Mocks, headers: &[(&str, &str)]) -> Value {
    let mut request = Request::post("/api")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {TOKEN}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = json!({ "query": CREATE, "variables": { "input": { "name": "Acme" } } });
    let response = mocks
        .router()
        .oneshot(request.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let mut body: Value = serde_json::from_slice(&bytes).unwrap();
    strip_cost(&mut body);
    body
}

#[tokio::test]
async fn a_mutation_hands_the_directory_its_request_id_client_id_and_token_kind() {
    for (client, kept) in [("app-7", Some("app-7")), ("not sane!", None)] {
        let mut mocks = Mocks::new();
        let expected = RequestMeta {
            request_id: Tag::parse("r-42"),
            client_id: kept.and_then(Tag::parse),
        };
        mocks
            .customers
            .expect_create_customer()
            .withf(move |origin, _| {
                origin.actor == actor()
                    && origin.kind == ActorKind::User
                    && origin.request == expected
            })
            .times(1)
            .returning(|_, _| Ok(customer("Acme")));
        let body = create_with(
            mocks,
            &[("x-request-id", "r-42"), ("roster-client-id", client)],
        )
        .await;
        assert_eq!(body["data"]["createCustomer"]["customer"]["name"], "Acme");
    }
}

#[tokio::test]
async fn an_embedded_token_writes_as_embedded_and_a_made_request_id_is_recorded() {
    let mut mocks = Mocks::new().without_authenticator();
    mocks
        .authenticator
        .expect_authenticate_kind()
        .returning(|_| Ok((actor(), ActorKind::Embedded)));
    mocks
        .customers
        .expect_create_customer()
        .withf(|origin, _| {
            origin.kind == ActorKind::Embedded
                && origin.request.request_id.is_some()
                && origin.request.client_id.is_none()
        })
        .times(1)
        .returning(|_, _| Ok(customer("Acme")));
    let body = create_with(mocks, &[]).await;
    assert_eq!(body["data"]["createCustomer"]["customer"]["name"], "Acme");
}

/// An event of the caller's organization, made by the caller.
pub(crate) fn event(sequence: u64, subject: Subject) -> Event {
    Event {
        sequence,
        draft: EventDraft {
            id: uuid::Uuid::now_v7(),
            organization_id: organization_id(),
            kind: EventType::CustomerUpdated,
            subject,
            customer_id: None,
            actor: EventActor {
                user: Some(actor().user_id),
                kind: ActorKind::User,
            },
            request: RequestMeta {
                request_id: Tag::parse("r-1"),
                client_id: Tag::parse("app-7"),
            },
            at: domain::now(),
            version: Version::new(2),
            before: Some(json!({ "starred": false, "version": 1 })),
            after: Some(json!({ "starred": true, "version": 2 })),
        },
    }
}

const EVENTS: &str =
    "query($first: Int, $after: String, $types: [String!], $subject: ID, $actor: ID) {
    events(first: $first, after: $after, types: $types, subject: $subject, actor: $actor) {
        nodes {
            id sequence type occurredAt subjectId actor { id kind }
            requestId clientId before after version
        }
        edges { cursor }
        pageInfo { hasNextPage hasPreviousPage endCursor }
    }
}";

#[tokio::test]
async fn events_answer_a_page_whose_cursors_resume_after_its_sequences() {
    let subject = CustomerId::generate();
    let page = vec![
        event(7, Subject::Customer(subject)),
        event(8, Subject::Customer(subject)),
    ];
    let first = page[0].clone();
    let mut mocks = Mocks::new();
    let expected = EventQuery {
        after: Some(6),
        first: 2,
        types: vec![EventType::CustomerUpdated, EventType::UserRoleChanged],
        subject: Some(subject.uuid()),
        actor: Some(actor().user_id),
        ..EventQuery::default()
    };
    mocks
        .events
        .expect_events()
        .withf(move |who, query| *who == actor() && *query == expected)
        .times(1)
        .returning(move |_, _| {
            Ok(EventPage {
                events: page.clone(),
                has_next_page: true,
            })
        });
    let body = graphql_ok(
        mocks.router(),
        EVENTS,
        json!({
            "first": 2,
            "after": "6",
            "types": ["customer.updated", "user.role_changed"],
            "subject": subject.global().to_string(),
            "actor": actor().user_id.global().to_string(),
        }),
    )
    .await;
    let events = &body["data"]["events"];
    let node = &events["nodes"][0];
    let id = GlobalId {
        kind: NodeKind::Event,
        uuid: first.draft.id,
    };
    assert_eq!(node["id"], id.to_string());
    assert_eq!(node["sequence"], 7);
    assert_eq!(node["type"], "customer.updated");
    assert_eq!(node["subjectId"], subject.global().to_string());
    assert_eq!(
        node["actor"],
        json!({ "id": actor().user_id.global().to_string(), "kind": "USER" })
    );
    assert_eq!(
        (node["requestId"].clone(), node["clientId"].clone()),
        (json!("r-1"), json!("app-7"))
    );
    assert_eq!(node["before"], json!({ "starred": false, "version": 1 }));
    assert_eq!(node["after"], json!({ "starred": true, "version": 2 }));
    assert_eq!(node["version"], 2);
    assert!(node["occurredAt"].is_string(), "{node}");
    assert_eq!(
        events["edges"],
        json!([{ "cursor": "7" }, { "cursor": "8" }])
    );
    assert_eq!(
        events["pageInfo"],
        json!({ "hasNextPage": true, "hasPreviousPage": true, "endCursor": "8" })
    );
}

#[tokio::test]
async fn signing_key_and_organization_events_name_their_subjects_by_global_id() {
    let key = domain::SigningKeyId::generate();
    let org = organization_id();
    for (subject, id, kind, actor_kind) in [
        (
            Subject::SigningKey(key),
            key.global().to_string(),
            EventType::SigningKeyDeleted,
            ActorKind::User,
        ),
        (
            Subject::Organization(org),
            org.global().to_string(),
            EventType::OrganizationCreated,
            ActorKind::Operator,
        ),
    ] {
        let mut answer = event(1, subject);
        answer.draft.kind = kind;
        answer.draft.actor = EventActor {
            user: None,
            kind: actor_kind,
        };
        let mut mocks = Mocks::new();
        let expected = EventQuery {
            first: 20,
            subject: Some(subject.uuid()),
            ..EventQuery::default()
        };
        mocks
            .events
            .expect_events()
            .withf(move |_, query| *query == expected)
            .times(1)
            .returning(move |_, _| {
                Ok(EventPage {
                    events: vec![answer.clone()],
                    has_next_page: false,
                })
            });
        let body = graphql_ok(mocks.router(), EVENTS, json!({ "subject": id })).await;
        let node = &body["data"]["events"]["nodes"][0];
        assert_eq!(node["subjectId"], id);
        assert_eq!(node["type"], kind.key());
        assert_eq!(node["actor"]["id"], Value::Null);
    }
}

#[tokio::test]
async fn customer_events_are_the_customers_own_and_default_to_twenty() {
    let acme = customer("Acme");
    let id = acme.id;
    let mut mocks = Mocks::new();
    mocks
        .customers
        .expect_customer()
        .returning(move |_, _| Ok(acme.clone()));
    mocks
        .events
        .expect_events()
        .withf(move |_, query| {
            *query
                == EventQuery {
                    first: 20,
                    subject: Some(id.uuid()),
                    ..EventQuery::default()
                }
        })
        .times(1)
        .returning(move |_, _| {
            Ok(EventPage {
                events: vec![event(1, Subject::Customer(id))],
                has_next_page: false,
            })
        });
    let body = graphql_ok(
        mocks.router(),
        "query($id: ID!) { customer(id: $id) { events { nodes { sequence subjectId } } } }",
        json!({ "id": id.global().to_string() }),
    )
    .await;
    assert_eq!(
        body["data"]["customer"]["events"]["nodes"],
        json!([{ "sequence": 1, "subjectId": id.global().to_string() }])
    );
}

#[tokio::test]
async fn bad_event_arguments_are_refused_before_the_directory_is_asked() {
    let role = RoleId::generate().global().to_string();
    let user = UserId::generate().global().to_string();
    for (variables, message) in [
        (
            json!({ "types": ["customer.exploded"] }),
            "Unknown event type `customer.exploded`.",
        ),
        (json!({ "first": 0 }), "`first` must be between 1 and 100."),
        (
            json!({ "first": 101 }),
            "`first` must be between 1 and 100.",
        ),
        (json!({ "after": "seven" }), "Invalid cursor"),
        (json!({ "after": "-1" }), "Invalid cursor"),
        (json!({ "subject": role }), "Invalid ID"),
        (json!({ "actor": "nope" }), "Invalid ID"),
        (json!({ "subject": user, "actor": role }), "Invalid ID"),
    ] {
        let mut mocks = Mocks::new();
        mocks.events.expect_events().times(0);
        let (status, body) = graphql(mocks.router(), EVENTS, variables.clone()).await;
        assert_eq!(status, StatusCode::OK, "{variables}: {body}");
        assert_eq!(
            only_error(&body),
            (message.to_owned(), "INVALID".to_owned()),
            "{variables}"
        );
    }
}

#[tokio::test]
async fn events_are_not_counted_and_forbidden_callers_get_forbidden() {
    let mocks = Mocks::new();
    let (_, body) = graphql(mocks.router(), "{ events { totalCount } }", json!({})).await;
    assert_eq!(only_error(&body).1, "INVALID", "{body}");

    let mut mocks = Mocks::new();
    mocks
        .events
        .expect_events()
        .times(1)
        .returning(|_, _| Err(ports::DirectoryError::Forbidden));
    let (_, body) = graphql(mocks.router(), "{ events { nodes { id } } }", json!({})).await;
    assert_eq!(only_error(&body).1, "FORBIDDEN", "{body}");
}
