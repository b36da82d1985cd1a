//! The signing-key schema and `POST /embedded/authenticate`, over mocked directories.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use domain::{Field, FieldError, RoleKind, SigningKey};
use ports::{AuthError, DirectoryError, GeneratedSigningKey};
use serde_json::{Value, json};
use wire::Global as _;

use crate::helpers::*;

fn key(imported: bool) -> SigningKey {
    let pem = "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n";
    if imported {
        SigningKey::imported(organization_id(), pem.into(), domain::now())
    } else {
        SigningKey::generated(
            organization_id(),
            pem.into(),
            "-----BEGIN PRIVATE KEY-----\nabcdefghijkl\n-----END PRIVATE KEY-----",
            domain::now(),
        )
    }
}

#[tokio::test]
async fn create_returns_the_private_key_once_and_the_stored_key() {
    let mut mocks = Mocks::new();
    let generated = GeneratedSigningKey {
        key: key(false),
        private_key_pem: "-----BEGIN PRIVATE KEY-----\nabcdefghijkl\n-----END PRIVATE KEY-----"
            .into(),
    };
    let id = generated.key.id.global().to_string();
    mocks
        .signing_keys
        .expect_create_signing_key()
        .withf(|origin| origin.actor == crate::helpers::actor())
        .times(1)
        .returning(move |_| Ok(generated.clone()));
    let body = graphql_ok(
        mocks.router(),
        "mutation { createOrganizationSigningKey(input: {clientMutationId: \"k\"}) { \
         result { privateKey organizationSigningKey { id privateKeyPreview imported } } \
         errors { field messages } clientMutationId } }",
        json!({}),
    )
    .await;
    let payload = &body["data"]["createOrganizationSigningKey"];
    assert_eq!(payload["errors"], json!([]));
    assert_eq!(payload["clientMutationId"], "k");
    let result = &payload["result"];
    assert!(
        result["privateKey"]
            .as_str()
            .unwrap()
            .contains("PRIVATE KEY")
    );
    assert_eq!(result["organizationSigningKey"]["id"], id.as_str());
    assert_eq!(
        result["organizationSigningKey"]["privateKeyPreview"],
        "efghijkl"
    );
    assert_eq!(result["organizationSigningKey"]["imported"], false);
}

#[tokio::test]
async fn import_reports_a_bad_key_on_public_key_and_delete_a_bad_id_on_id() {
    let mut mocks = Mocks::new();
    mocks
        .signing_keys
        .expect_import_signing_key()
        .withf(|_, pem| pem == "nope")
        .returning(|_, _| {
            Err(DirectoryError::Invalid(
                FieldError::invalid(Field::PublicKey, "Enter a PEM-encoded RSA public key.").into(),
            ))
        });
    mocks.signing_keys.expect_delete_signing_key().times(0);
    let router = mocks.router();
    let body = graphql_ok(
        router.clone(),
        "mutation { importOrganizationSigningKey(input: {publicKey: \"nope\"}) { \
         organizationSigningKey { id } errors { field messages } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        body["data"]["importOrganizationSigningKey"],
        json!({
            "organizationSigningKey": null,
            "errors": [{"field": "publicKey", "messages": ["Enter a PEM-encoded RSA public key."]}]
        })
    );
    let customer_id = customer("Acme").id.global().to_string();
    let body = graphql_ok(
        router,
        "mutation($id: ID) { deleteOrganizationSigningKey(input: {id: $id}) { \
         organizationSigningKey { id } errors { field messages } } }",
        json!({ "id": customer_id }),
    )
    .await;
    let errors = &body["data"]["deleteOrganizationSigningKey"]["errors"];
    assert_eq!(errors[0]["field"], "id", "{body}");
}

#[tokio::test]
async fn delete_and_list_go_through_the_directory() {
    let mut mocks = Mocks::new();
    let doomed = key(true);
    let doomed_id = doomed.id;
    mocks
        .signing_keys
        .expect_delete_signing_key()
        .withf(move |_, id| *id == doomed_id)
        .returning(move |_, _| Ok(doomed.clone()));
    let listed = vec![key(false), key(true)];
    let ids: Vec<String> = listed.iter().map(|k| k.id.global().to_string()).collect();
    mocks
        .signing_keys
        .expect_signing_keys()
        .returning(move |_| Ok(listed.clone()));
    mocks
        .organizations
        .expect_organization()
        .returning(|_| Ok(organization()));
    let router = mocks.router();
    let body = graphql_ok(
        router.clone(),
        "mutation($id: ID) { deleteOrganizationSigningKey(input: {id: $id}) { \
         organizationSigningKey { id imported privateKeyPreview } errors { field } } }",
        json!({ "id": doomed_id.global().to_string() }),
    )
    .await;
    assert_eq!(
        body["data"]["deleteOrganizationSigningKey"],
        json!({
            "organizationSigningKey": {"id": doomed_id.global().to_string(), "imported": true, "privateKeyPreview": null},
            "errors": []
        })
    );
    let body = graphql_ok(
        router,
        "{ organization { signingKeys { totalCount nodes { id publicKey issuedAt } pageInfo { hasNextPage } } } }",
        json!({}),
    )
    .await;
    let keys = &body["data"]["organization"]["signingKeys"];
    assert_eq!(keys["totalCount"], 2);
    assert_eq!(keys["pageInfo"]["hasNextPage"], false);
    let listed: Vec<&str> = keys["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ids);
}

#[tokio::test]
async fn listing_keys_without_permission_is_forbidden() {
    let mut mocks = Mocks::new();
    mocks
        .signing_keys
        .expect_signing_keys()
        .returning(|_| Err(DirectoryError::Forbidden));
    mocks
        .organizations
        .expect_organization()
        .returning(|_| Ok(organization()));
    let body = graphql_ok(
        mocks.router(),
        "{ organization { signingKeys { nodes { id } } } }",
        json!({}),
    )
    .await;
    assert_eq!(only_error(&body).1, "FORBIDDEN");
}

fn embedded_request(token: Option<&str>) -> Request<Body> {
    let mut request = Request::post("/embedded/authenticate");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn embedded_authenticate_answers_the_signed_in_user() {
    let mut mocks = Mocks::new().without_authenticator();
    let embedded = user(
        "x@embedded.invalid",
        Some(customer("Acme").id),
        RoleKind::MarketplaceAdmin,
    );
    let actor = domain::Actor::of(&embedded);
    mocks
        .authenticator
        .expect_authenticate()
        .withf(|token| token == "a.jwt.here")
        .returning(move |_| Ok(actor));
    mocks
        .authenticator
        .expect_authenticate()
        .returning(|_| Err(AuthError::Unauthenticated));
    let router = mocks.router();
    let (status, body) = send(router.clone(), embedded_request(Some("a.jwt.here"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["user"]["id"], embedded.id.global().to_string());
    assert_eq!(
        body["user"]["customer"],
        embedded.customer_id.unwrap().global().to_string()
    );
    assert_eq!(body["user"]["role"], "Marketplace Admin");
    for token in [Some("bad.jwt.here"), None] {
        let (status, body) = send(router.clone(), embedded_request(token)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(body.contains("UNAUTHENTICATED"), "{body}");
    }
}
