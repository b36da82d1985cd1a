//! The SCIM token schema over a mocked directory: the token shown by creation only (never
//! by a listing), its customer resolved, inputs decoded (errors in the payload), the
//! connection's arguments, and refusals as top-level errors.

use domain::scim::{NewScimToken, ScimSecret, ScimToken, ScimTokenDraft};
use domain::{CustomerId, Field, FieldError, ScimTokenId};
use ports::{DirectoryError, ScimTokenPage, ScimTokenWithSecret};
use serde_json::json;
use wire::Global as _;

use crate::helpers::*;

fn token(customer: CustomerId) -> ScimToken {
    let mut token = NewScimToken::parse(ScimTokenDraft {
        customer: Ok(customer),
        description: "Okta production".into(),
        send_invitations: Some(true),
    })
    .unwrap()
    .into_token(
        organization_id(),
        &ScimSecret::new("roster_scim_ABCDEFGHrest".into()),
        domain::now(),
    );
    token.last_used_at = Some(token.created_at);
    token
}

#[tokio::test]
async fn creation_shows_the_token_once_with_its_customer_and_listings_never() {
    let mut mocks = Mocks::new();
    let acme = customer("Acme");
    let created = token(acme.id);
    let id = created.id.global().to_string();
    let acme_id = acme.id.global().to_string();
    let shown = ScimTokenWithSecret {
        token: created.clone(),
        secret: ScimSecret::new("roster_scim_ABCDEFGHrest".into()),
    };
    let wanted = acme.id;
    mocks
        .scim_tokens
        .expect_create_scim_token()
        .withf(move |origin, draft| {
            origin.actor == actor()
                && draft.customer == Ok(wanted)
                && draft.description == "Okta production"
                && draft.send_invitations == Some(true)
        })
        .times(1)
        .returning(move |_, _| Ok(shown.clone()));
    let listed = created.clone();
    mocks
        .scim_tokens
        .expect_scim_tokens()
        .withf(move |_, customer, after, first| {
            *customer == wanted && after.is_none() && *first == 20
        })
        .returning(move |_, _, _, _| {
            Ok(ScimTokenPage {
                tokens: vec![listed.clone()],
                has_next_page: false,
            })
        });
    let found = acme.clone();
    mocks
        .customers
        .expect_customers_by_ids()
        .returning(move |_, _| Ok(vec![found.clone()]));
    let router = mocks.router();
    let body = graphql_ok(
        router.clone(),
        "mutation($customer: ID!) { createScimToken(input: {customerId: $customer, \
         description: \"Okta production\", sendInvitations: true}) { scimToken { id \
         description preview createdAt lastUsedAt sendInvitations customer { id } } token \
         errors { field messages } } }",
        json!({ "customer": acme_id }),
    )
    .await;
    let payload = &body["data"]["createScimToken"];
    assert_eq!(payload["errors"], json!([]));
    assert_eq!(payload["token"], "roster_scim_ABCDEFGHrest");
    let node = &payload["scimToken"];
    assert_eq!(node["id"], id.as_str());
    assert_eq!(node["description"], "Okta production");
    assert_eq!(node["preview"], "roster_scim_ABCDEFGH");
    assert_eq!(node["sendInvitations"], true);
    assert_eq!(node["customer"], json!({ "id": acme_id }));
    assert!(node["createdAt"].is_string() && node["lastUsedAt"].is_string());

    // The listing: plain fields (the flat path) and the customer (resolvers) alike.
    for selection in ["id preview", "id preview customer { id }"] {
        let body = graphql_ok(
            router.clone(),
            &format!(
                "query($customer: ID!) {{ scimTokens(customerId: $customer) {{ edges {{ cursor \
                 node {{ {selection} }} }} pageInfo {{ hasNextPage }} }} }}"
            ),
            json!({ "customer": acme_id }),
        )
        .await;
        let connection = &body["data"]["scimTokens"];
        assert_eq!(connection["edges"][0]["cursor"], id.as_str());
        assert_eq!(connection["edges"][0]["node"]["id"], id.as_str());
        assert_eq!(
            connection["edges"][0]["node"]["preview"],
            "roster_scim_ABCDEFGH"
        );
        assert_eq!(connection["pageInfo"]["hasNextPage"], false);
        assert!(
            !body.to_string().contains("rest"),
            "never the token: {body}"
        );
    }
}

#[tokio::test]
async fn bad_ids_and_refused_inputs_are_payload_errors() {
    let mut mocks = Mocks::new();
    mocks
        .scim_tokens
        .expect_create_scim_token()
        .withf(|_, draft| draft.customer.is_err())
        .returning(|_, _| {
            // The service reports the undecodable customer with the draft's other problems.
            Err(DirectoryError::Invalid(
                vec![
                    FieldError::invalid(Field::Customer, "Invalid ID"),
                    FieldError::required(Field::Description),
                ]
                .into(),
            ))
        });
    mocks.scim_tokens.expect_delete_scim_token().times(0);
    let router = mocks.router();
    let body = graphql_ok(
        router.clone(),
        "mutation { createScimToken(input: {customerId: \"nope\", description: \"\"}) { \
         scimToken { id } token errors { field messages } } }",
        json!({}),
    )
    .await;
    let payload = &body["data"]["createScimToken"];
    assert_eq!(payload["scimToken"], json!(null));
    assert_eq!(payload["token"], json!(null));
    let fields: Vec<&str> = payload["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["customer", "description"]);

    let body = graphql_ok(
        router,
        "mutation { deleteScimToken(input: {id: \"nope\"}) { scimToken { id } \
         errors { field messages } } }",
        json!({}),
    )
    .await;
    let payload = &body["data"]["deleteScimToken"];
    assert_eq!(payload["scimToken"], json!(null));
    assert_eq!(payload["errors"][0]["field"], "id");
}

#[tokio::test]
async fn deleting_answers_the_token_as_it_was() {
    let mut mocks = Mocks::new();
    let gone = token(CustomerId::generate());
    let id = gone.id;
    mocks
        .scim_tokens
        .expect_delete_scim_token()
        .withf(move |origin, asked| origin.actor == actor() && *asked == id)
        .times(1)
        .returning(move |_, _| Ok(gone.clone()));
    let body = graphql_ok(
        mocks.router(),
        "mutation($id: ID!) { deleteScimToken(input: {id: $id}) { scimToken { id description } \
         errors { field } } }",
        json!({ "id": id.global().to_string() }),
    )
    .await;
    assert_eq!(
        body["data"]["deleteScimToken"],
        json!({
            "scimToken": { "id": id.global().to_string(), "description": "Okta production" },
            "errors": [],
        })
    );
}

#[tokio::test]
async fn updating_answers_the_token_as_it_is_and_bad_ids_write_nothing() {
    let mut mocks = Mocks::new();
    let mut changed = token(CustomerId::generate());
    changed.send_invitations = true;
    let id = changed.id;
    mocks
        .scim_tokens
        .expect_update_scim_token()
        .withf(move |origin, asked, send| {
            origin.actor == actor() && *asked == id && *send == Some(true)
        })
        .times(1)
        .returning(move |_, _, _| Ok(changed.clone()));
    let router = mocks.router();
    let body = graphql_ok(
        router.clone(),
        "mutation($id: ID!) { updateScimToken(input: {id: $id, sendInvitations: true, \
         clientMutationId: \"m1\"}) { scimToken { id sendInvitations } errors { field } \
         clientMutationId } }",
        json!({ "id": id.global().to_string() }),
    )
    .await;
    assert_eq!(
        body["data"]["updateScimToken"],
        json!({
            "scimToken": { "id": id.global().to_string(), "sendInvitations": true },
            "errors": [],
            "clientMutationId": "m1",
        })
    );
    // An id that names no token: a payload error on id, no call.
    let body = graphql_ok(
        router,
        "mutation { updateScimToken(input: {id: \"nope\", sendInvitations: false}) { \
         scimToken { id } errors { field } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        body["data"]["updateScimToken"],
        json!({ "scimToken": null, "errors": [{ "field": "id" }] })
    );
}

#[tokio::test]
async fn listing_arguments_are_checked_and_refusals_are_top_level_errors() {
    let mut mocks = Mocks::new();
    let after = ScimTokenId::generate();
    mocks
        .scim_tokens
        .expect_scim_tokens()
        .withf(move |_, _, asked, first| *asked == Some(after) && *first == 2)
        .returning(|_, _, _, _| Err(DirectoryError::Forbidden));
    let router = mocks.router();
    let customer = CustomerId::generate().global().to_string();
    let body = graphql_ok(
        router.clone(),
        "query($customer: ID!, $after: String) { scimTokens(customerId: $customer, first: 2, \
         after: $after) { edges { node { id } } } }",
        json!({ "customer": customer, "after": after.global().to_string() }),
    )
    .await;
    assert_eq!(only_error(&body).1, "FORBIDDEN", "{body}");
    for (arguments, code) in [
        ("customerId: \"nope\", first: 1", "INVALID"),
        ("customerId: $customer, first: 0", "INVALID"),
        ("customerId: $customer, first: 101", "INVALID"),
        ("customerId: $customer, after: \"nope\"", "INVALID"),
    ] {
        let body = graphql_ok(
            router.clone(),
            &format!("query {{ scimTokens({arguments}) {{ edges {{ node {{ id }} }} }} }}")
                .replace("$customer", &format!("{customer:?}")),
            json!({}),
        )
        .await;
        assert_eq!(only_error(&body).1, code, "{arguments}: {body}");
    }
}
