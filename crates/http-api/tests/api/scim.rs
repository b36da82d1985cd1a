//! `/scim/v2` over mocks: SCIM tokens only (401 with SCIM's error JSON and `WWW-Authenticate`
//! otherwise; that `/api` refuses SCIM tokens is `app`'s `client_cli` test, on the real
//! authenticators), the discovery endpoints and what they publish, SCIM's 404 for unknown paths
//! and ids, 405 for writes to discovery, 403 for filters there, the body limit, the
//! per-token bucket, and storage trouble, every refusal as SCIM's error JSON.

use std::collections::BTreeSet;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use domain::scim::ScimClient;
use domain::{CustomerId, ScimTokenId};
use http_api::{ApiConfig, RateLimits};
use ports::AuthError;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::helpers::*;

/// The SCIM token the mocked authenticator accepts.
pub(crate) const SCIM_TOKEN: &str = "roster_scim_good";
const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub(crate) const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

pub(crate) fn client() -> ScimClient {
    ScimClient {
        organization_id: organization_id(),
        customer_id: CustomerId::generate(),
        token_id: ScimTokenId::generate(),
        send_invitations: false,
    }
}

/// Mocks whose SCIM authenticator takes [`SCIM_TOKEN`] and nothing else.
fn mocks() -> Mocks {
    mocks_for(client())
}

/// Mocks whose SCIM authenticator takes [`SCIM_TOKEN`] as `client`, and nothing else.
pub(crate) fn mocks_for(client: ScimClient) -> Mocks {
    let mut mocks = Mocks::new();
    mocks
        .scim_authenticator
        .expect_authenticate_scim()
        .returning(move |token| {
            if token == SCIM_TOKEN {
                Ok(client)
            } else {
                Err(AuthError::Unauthenticated)
            }
        });
    mocks
}

pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: axum::http::HeaderMap,
    pub(crate) body: Value,
}

pub(crate) async fn call(
    router: &Router,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<String>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = match body {
        Some(body) => request
            .header("content-type", "application/scim+json")
            .header("content-length", body.len())
            .body(Body::from(body)),
        None => request.body(Body::empty()),
    }
    .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("{status} {path}: {}", String::from_utf8_lossy(&bytes)));
    Answer {
        status,
        headers,
        body,
    }
}

pub(crate) async fn get(router: &Router, path: &str) -> Answer {
    call(router, Method::GET, path, Some(SCIM_TOKEN), None).await
}

/// Asserts `answer` is SCIM's error JSON of `status`.
pub(crate) fn assert_scim_error(answer: &Answer, status: StatusCode) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(
        answer.headers["content-type"], "application/scim+json",
        "{}",
        answer.body
    );
    assert_eq!(answer.body["schemas"], json!([ERROR_URN]));
    assert_eq!(
        answer.body["status"],
        status.as_str(),
        "the status is a string"
    );
    assert!(answer.body["detail"].is_string(), "{}", answer.body);
}

#[tokio::test]
async fn only_scim_tokens_authenticate_and_refusals_are_scim_errors() {
    let router = mocks().router();
    for token in [None, Some(TOKEN), Some("roster_scim_revoked"), Some("")] {
        for path in [
            "/scim/v2/ServiceProviderConfig",
            "/scim/v2/Users",
            "/scim/v2/Nothing",
        ] {
            let answer = call(&router, Method::GET, path, token, None).await;
            assert_scim_error(&answer, StatusCode::UNAUTHORIZED);
            assert_eq!(answer.headers["www-authenticate"], "Bearer", "{path}");
            assert!(answer.body.get("scimType").is_none());
        }
    }
}

#[tokio::test]
async fn the_service_provider_config_says_what_is_supported() {
    let router = mocks().router();
    let answer = get(&router, "/scim/v2/ServiceProviderConfig").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["content-type"], "application/scim+json");
    assert!(answer.headers.contains_key("x-ratelimit-remaining"));
    let config = answer.body;
    assert_eq!(
        config["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"])
    );
    assert_eq!(config["patch"]["supported"], true);
    assert_eq!(config["bulk"]["supported"], false);
    assert_eq!(
        config["filter"],
        json!({"supported": true, "maxResults": 100})
    );
    assert_eq!(config["changePassword"]["supported"], false);
    assert_eq!(config["etag"]["supported"], true);
    assert_eq!(
        config["authenticationSchemes"][0]["type"],
        "oauthbearertoken"
    );
    assert_eq!(config["meta"]["resourceType"], "ServiceProviderConfig");
    assert_eq!(config["meta"]["location"], "/scim/v2/ServiceProviderConfig");
    // Asking for plain JSON is answered the same.
    let request = Request::builder()
        .uri("/scim/v2/ServiceProviderConfig")
        .header("authorization", format!("Bearer {SCIM_TOKEN}"))
        .header("accept", "application/json")
        .body(Body::empty())
        .unwrap();
    let (status, _) = send(router, request).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn resource_types_are_users_and_groups() {
    let router = mocks().router();
    let list = get(&router, "/scim/v2/ResourceTypes").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(
        list.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
    );
    assert_eq!(list.body["totalResults"], 2);
    assert_eq!(list.body["startIndex"], 1);
    let resources = list.body["Resources"].as_array().unwrap();
    let summary: Vec<(&str, &str, &str)> = resources
        .iter()
        .map(|resource| {
            (
                resource["id"].as_str().unwrap(),
                resource["endpoint"].as_str().unwrap(),
                resource["schema"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("User", "/Users", USER_URN),
            ("Group", "/Groups", GROUP_URN)
        ]
    );
    for (id, resource) in [("User", &resources[0]), ("Group", &resources[1])] {
        let one = get(&router, &format!("/scim/v2/ResourceTypes/{id}")).await;
        assert_eq!(one.status, StatusCode::OK);
        assert_eq!(&one.body, resource);
        assert_eq!(
            one.body["meta"]["location"],
            format!("/scim/v2/ResourceTypes/{id}")
        );
    }
    for unknown in ["/scim/v2/ResourceTypes/x", "/scim/v2/ResourceTypes/user"] {
        assert_scim_error(&get(&router, unknown).await, StatusCode::NOT_FOUND);
    }
}

fn names(attributes: &Value) -> BTreeSet<&str> {
    attributes
        .as_array()
        .unwrap()
        .iter()
        .map(|attribute| attribute["name"].as_str().unwrap())
        .collect()
}

fn attribute<'a>(attributes: &'a Value, name: &str) -> &'a Value {
    attributes
        .as_array()
        .unwrap()
        .iter()
        .find(|attribute| attribute["name"] == name)
        .unwrap_or_else(|| panic!("no {name}"))
}

#[tokio::test]
async fn schemas_publish_only_what_roster_stores() {
    let router = mocks().router();
    let list = get(&router, "/scim/v2/Schemas").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["totalResults"], 2);
    let user = &list.body["Resources"][0];
    assert_eq!(user["id"], USER_URN);
    assert_eq!(
        user["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:Schema"])
    );
    let attributes = &user["attributes"];
    assert_eq!(
        names(attributes),
        BTreeSet::from([
            "userName",
            "name",
            "displayName",
            "emails",
            "phoneNumbers",
            "externalId",
            "active",
            "groups"
        ])
    );
    let user_name = attribute(attributes, "userName");
    assert_eq!(
        (&user_name["required"], &user_name["uniqueness"]),
        (&json!(true), &json!("server"))
    );
    assert_eq!(
        names(&attribute(attributes, "name")["subAttributes"]),
        BTreeSet::from(["formatted", "givenName", "familyName"])
    );
    for contact in ["emails", "phoneNumbers"] {
        let contact = attribute(attributes, contact);
        assert_eq!(contact["multiValued"], true);
        assert_eq!(
            names(&contact["subAttributes"]),
            BTreeSet::from(["value", "type", "primary", "display"])
        );
        assert_eq!(
            attribute(&contact["subAttributes"], "primary")["type"],
            "boolean"
        );
    }
    let active = attribute(attributes, "active");
    assert_eq!(active["type"], "boolean");
    // Every user is active or not: required, so a client never tries to remove it.
    assert_eq!(active["required"], true);
    let groups = attribute(attributes, "groups");
    assert_eq!(groups["mutability"], "readOnly");
    assert!(
        groups["subAttributes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|sub| sub["mutability"] == "readOnly")
    );
    // Every attribute has RFC 7643 §7's characteristics.
    for attribute in attributes.as_array().unwrap() {
        for key in [
            "type",
            "multiValued",
            "required",
            "caseExact",
            "mutability",
            "returned",
            "uniqueness",
        ] {
            assert!(attribute.get(key).is_some(), "{key} of {attribute}");
        }
    }

    let group = &list.body["Resources"][1];
    assert_eq!(group["id"], GROUP_URN);
    assert_eq!(
        names(&group["attributes"]),
        BTreeSet::from(["displayName", "members"])
    );

    for (urn, schema) in [(USER_URN, user), (GROUP_URN, group)] {
        let one = get(&router, &format!("/scim/v2/Schemas/{urn}")).await;
        assert_eq!(one.status, StatusCode::OK);
        assert_eq!(&one.body, schema);
        assert_eq!(
            one.body["meta"]["location"],
            format!("/scim/v2/Schemas/{urn}")
        );
    }
    for unknown in [
        "/scim/v2/Schemas/x",
        "/scim/v2/Schemas/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    ] {
        assert_scim_error(&get(&router, unknown).await, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn unknown_paths_are_scim_404s_and_writes_to_discovery_405s() {
    let router = mocks().router();
    for unknown in [
        "/scim/v2",
        "/scim/v2/",
        "/scim/v2/Nothing",
        "/scim/v2/Users/x/y",
        "/scim/v2/Groups/1",
        "/scim/v2/ServiceProviderConfig/x",
        "/scim/v2/ResourceTypes/User/x",
    ] {
        assert_scim_error(&get(&router, unknown).await, StatusCode::NOT_FOUND);
    }
    for path in [
        "/scim/v2/ServiceProviderConfig",
        "/scim/v2/ResourceTypes",
        "/scim/v2/ResourceTypes/User",
        "/scim/v2/Schemas",
        &format!("/scim/v2/Schemas/{USER_URN}"),
    ] {
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            let body = (method != Method::DELETE).then(|| "{}".to_owned());
            let answer = call(&router, method.clone(), path, Some(SCIM_TOKEN), body).await;
            assert_scim_error(&answer, StatusCode::METHOD_NOT_ALLOWED);
            assert!(
                answer.headers["allow"].to_str().unwrap().contains("GET"),
                "{method} {path}"
            );
        }
    }
}

#[tokio::test]
async fn filters_on_discovery_endpoints_are_forbidden() {
    let router = mocks().router();
    for path in [
        "/scim/v2/ResourceTypes?filter=id%20eq%20%22User%22",
        "/scim/v2/Schemas?FILTER=x",
    ] {
        assert_scim_error(&get(&router, path).await, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn large_bodies_are_refused_with_a_scim_413() {
    let router = mocks().router_with(ApiConfig {
        body_limit_bytes: 1024,
        ..ApiConfig::default()
    });
    let answer = call(
        &router,
        Method::POST,
        "/scim/v2/Users",
        Some(SCIM_TOKEN),
        Some(format!("{{\"x\": \"{}\"}}", "a".repeat(2048))),
    )
    .await;
    assert_scim_error(&answer, StatusCode::PAYLOAD_TOO_LARGE);
    // Without a Content-Length the limit is met while the body is read (before routing).
    let chunks = futures::stream::iter(
        (0..4).map(|_| Ok::<_, std::io::Error>(axum::body::Bytes::from(vec![b' '; 512]))),
    );
    let request = Request::post("/scim/v2/Users")
        .header("authorization", format!("Bearer {SCIM_TOKEN}"))
        .header("content-type", "application/scim+json")
        .body(Body::from_stream(chunks))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(response.headers()["content-type"], "application/scim+json");
}

#[tokio::test]
async fn each_token_has_a_bucket_and_an_empty_one_answers_429() {
    let router = mocks().router_with(ApiConfig {
        rate_limits: RateLimits {
            token_bucket: 250,
            token_restore_per_second: 1,
            ..RateLimits::default()
        },
        ..ApiConfig::default()
    });
    for remaining in ["150", "50"] {
        let answer = get(&router, "/scim/v2/ServiceProviderConfig").await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.headers["x-ratelimit-limit"], "250");
        assert_eq!(answer.headers["x-ratelimit-remaining"], remaining);
    }
    let answer = get(&router, "/scim/v2/ServiceProviderConfig").await;
    assert_scim_error(&answer, StatusCode::TOO_MANY_REQUESTS);
    assert!(answer.headers.contains_key("retry-after"));
    // Another token's bucket is its own (refused here for being no SCIM token, not throttled).
    let other = call(
        &router,
        Method::GET,
        "/scim/v2/ServiceProviderConfig",
        Some("roster_scim_other"),
        None,
    )
    .await;
    assert_scim_error(&other, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn storage_trouble_while_authenticating_is_a_scim_503() {
    let mut mocks = Mocks::new();
    mocks
        .scim_authenticator
        .expect_authenticate_scim()
        .returning(|_| {
            Err(AuthError::Unavailable(Box::new(std::io::Error::other(
                "down",
            ))))
        });
    let answer = get(&mocks.router(), "/scim/v2/Schemas").await;
    assert_scim_error(&answer, StatusCode::SERVICE_UNAVAILABLE);
    assert!(answer.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn paths_outside_the_base_never_reach_scim() {
    // No SCIM expectations: a call to the SCIM authenticator would panic.
    let router = Mocks::new().router();
    for path in ["/nowhere", "/scim", "/scim/v1/Users", "/scim/v20"] {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(
            response
                .headers()
                .get("content-type")
                .is_none_or(|value| value != "application/scim+json"),
            "{path}"
        );
    }
}

fn scim_user_mocks(stored: domain::User) -> Mocks {
    let mut mocks = mocks();
    mocks.users.expect_user().returning(move |actor, id| {
        // The use case sees the token's customer Admin, never a user of Roster.
        assert_eq!(actor.role, domain::RoleKind::CustomerAdmin);
        if id == stored.id {
            Ok(stored.clone())
        } else {
            Err(ports::DirectoryError::NotFound)
        }
    });
    mocks
}

#[tokio::test]
async fn a_user_is_served_as_a_scim_resource_with_its_version_as_etag() {
    let user = user(
        "ann@example.com",
        Some(CustomerId::generate()),
        domain::RoleKind::CustomerMember,
    );
    let id = wire::Global::global(user.id).to_string();
    let router = scim_user_mocks(user).router();
    let answer = get(&router, &format!("/scim/v2/Users/{id}")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.headers["content-type"], "application/scim+json");
    assert_eq!(answer.headers["etag"], "W/\"1\"");
    assert_eq!(answer.body["userName"], "ann@example.com");
    assert_eq!(answer.body["active"], true);
    assert_eq!(answer.body["groups"][0]["display"], "Member");
    assert_eq!(
        answer.body["meta"]["location"],
        format!("/scim/v2/Users/{id}")
    );
    assert_eq!(answer.body["schemas"], json!([USER_URN]));
    let projected = get(&router, &format!("/scim/v2/Users/{id}?attributes=userName")).await;
    let mut keys: Vec<&str> = projected
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["active", "id", "schemas", "userName"]);
    for unknown in [
        "/scim/v2/Users/nope",
        &format!(
            "/scim/v2/Users/{}",
            wire::Global::global(domain::UserId::generate())
        ),
    ] {
        assert_scim_error(&get(&router, unknown).await, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn malformed_writes_and_filters_are_400s_that_write_nothing() {
    let user = user(
        "ann@example.com",
        Some(CustomerId::generate()),
        domain::RoleKind::CustomerMember,
    );
    let id = wire::Global::global(user.id).to_string();
    let mut mocks = scim_user_mocks(user);
    mocks.users.expect_create_customer_user().times(0);
    mocks.users.expect_update_user().times(0);
    mocks.users.expect_set_user_active().times(0);
    let router = mocks.router();
    let post = |body: Value| {
        call(
            &router,
            Method::POST,
            "/scim/v2/Users",
            Some(SCIM_TOKEN),
            Some(body.to_string()),
        )
    };
    for (body, scim_type) in [
        (json!({"userName": "ann"}), "invalidValue"),
        (json!({"displayName": "Ann"}), "invalidValue"),
        (
            json!({"userName": "a@example.com", "emails": "a@example.com"}),
            "invalidValue",
        ),
        (
            json!({"userName": "a@example.com", "name": {"givenName": "a\u{0}"}}),
            "invalidValue",
        ),
        (
            json!({"userName": "a@example.com", "active": "maybe"}),
            "invalidValue",
        ),
        (json!(["not", "a", "resource"]), "invalidSyntax"),
    ] {
        let answer = post(body.clone()).await;
        assert_scim_error(&answer, StatusCode::BAD_REQUEST);
        assert_eq!(answer.body["scimType"], scim_type, "{body}");
    }
    for filter in ["userName%20eq", "%28", "userName%20zz%20%22a%22"] {
        let answer = get(&router, &format!("/scim/v2/Users?filter={filter}")).await;
        assert_scim_error(&answer, StatusCode::BAD_REQUEST);
        assert_eq!(answer.body["scimType"], "invalidFilter", "{filter}");
    }
    let path = format!("/scim/v2/Users/{id}");
    let patch = |ops: Value| {
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
            .to_string()
    };
    for (body, scim_type) in [
        (
            patch(json!([{"op": "replace", "path": "id", "value": "x"}])),
            "mutability",
        ),
        (patch(json!([{"op": "remove"}])), "noTarget"),
        // `active` is required: removing or unassigning it is refused, not ignored.
        (
            patch(json!([{"op": "remove", "path": "active"}])),
            "mutability",
        ),
        (
            patch(json!([{"op": "replace", "path": "active", "value": null}])),
            "mutability",
        ),
        (json!({"Operations": []}).to_string(), "invalidSyntax"),
    ] {
        let answer = call(
            &router,
            Method::PATCH,
            &path,
            Some(SCIM_TOKEN),
            Some(body.clone()),
        )
        .await;
        assert_scim_error(&answer, StatusCode::BAD_REQUEST);
        assert_eq!(answer.body["scimType"], scim_type, "{body}");
    }
    // If-Match naming another version: 412 before any write.
    let mut request = Request::builder()
        .method(Method::PUT)
        .uri(&path)
        .header("authorization", format!("Bearer {SCIM_TOKEN}"))
        .header("if-match", "W/\"7\"")
        .body(Body::from(
            json!({"userName": "ann@example.com"}).to_string(),
        ))
        .unwrap();
    request
        .headers_mut()
        .insert("content-type", "application/scim+json".parse().unwrap());
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED);
}

#[tokio::test]
async fn storage_trouble_reading_users_is_a_scim_503_with_retry_after() {
    let mut mocks = mocks();
    mocks
        .users
        .expect_users()
        .returning(|_, _| Err(ports::DirectoryError::Unavailable("down".into())));
    let answer = get(&mocks.router(), "/scim/v2/Users").await;
    assert_scim_error(&answer, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.headers["retry-after"], "1");
}

#[tokio::test]
async fn a_search_across_resource_types_is_a_scim_501() {
    let router = mocks().router();
    let answer = call(
        &router,
        Method::POST,
        "/scim/v2/.search",
        Some(SCIM_TOKEN),
        Some(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}).to_string(),
        ),
    )
    .await;
    assert_scim_error(&answer, StatusCode::NOT_IMPLEMENTED);
    assert!(
        answer.body["detail"]
            .as_str()
            .unwrap()
            .contains("/Users/.search")
    );
    // Only POST searches.
    let answer = get(&router, "/scim/v2/.search").await;
    assert_scim_error(&answer, StatusCode::METHOD_NOT_ALLOWED);
}
