//! How failures reach clients: top-level errors with codes, and mutation payload errors.

use axum::http::StatusCode;
use domain::{CustomerId, ErrorCode, Field, FieldError, RoleKind, ValidationErrors};
use ports::DirectoryError;
use serde_json::{Value, json};
use wire::Global as _;

use crate::helpers::*;

const CUSTOMER: &str = "query ($id: ID!) { customer(id: $id) { id name } }";

async fn customer_lookup_failing_with(error: fn() -> DirectoryError) -> Value {
    let mut mocks = Mocks::new();
    mocks
        .customers
        .expect_customer_summary()
        .times(1)
        .returning(move |_, _| Err(error()));
    graphql_ok(mocks.router(), CUSTOMER, json!({ "id": SEED_CUSTOMER_ID })).await
}

#[tokio::test]
async fn an_unknown_customer_is_null_with_record_not_found() {
    let body = customer_lookup_failing_with(|| DirectoryError::NotFound).await;
    assert_eq!(body["data"], json!({ "customer": null }));
    assert_eq!(
        only_error(&body),
        ("Record not found".into(), "NOT_FOUND".into())
    );
    assert_eq!(body["errors"][0]["path"], json!(["customer"]));
}

#[tokio::test]
async fn a_forbidden_operation_is_a_top_level_forbidden_error() {
    let body = customer_lookup_failing_with(|| DirectoryError::Forbidden).await;
    assert_eq!(body["data"], json!({ "customer": null }));
    assert_eq!(
        only_error(&body),
        (
            "You do not have permission to perform this action".into(),
            "FORBIDDEN".into()
        )
    );
}

#[tokio::test]
async fn an_unavailable_directory_is_503_unavailable_with_retry_after_and_hides_its_cause() {
    let mut mocks = Mocks::new();
    mocks
        .customers
        .expect_customer_summary()
        .times(1)
        .returning(|_, _| {
            Err(DirectoryError::Unavailable(
                "password authentication failed for user roster".into(),
            ))
        });
    let (status, headers, mut body) =
        graphql_raw(mocks.router(), CUSTOMER, json!({ "id": SEED_CUSTOMER_ID })).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(headers["retry-after"], "1");
    strip_cost(&mut body);
    assert_eq!(body["data"], json!({ "customer": null }));
    assert_eq!(
        only_error(&body),
        (
            "Service unavailable, try again".into(),
            "UNAVAILABLE".into()
        )
    );
    let text = body.to_string();
    assert!(
        !text.contains("password") && !text.contains("internal error"),
        "{text}"
    );
}

#[tokio::test]
async fn an_id_of_another_type_or_garbage_is_invalid_id_without_calling_the_directory() {
    let user_id = user("u@example.com", None, RoleKind::Guest)
        .id
        .global()
        .to_string();
    for bad in [user_id.as_str(), "garbage", ""] {
        let body = graphql_ok(Mocks::new().router(), CUSTOMER, json!({ "id": bad })).await;
        assert_eq!(body["data"], json!({ "customer": null }), "{bad}");
        assert_eq!(
            only_error(&body),
            ("Invalid ID".into(), "INVALID".into()),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn a_users_filter_with_an_undecodable_customer_id_is_invalid_id() {
    let query = r#"{ users(customer: "Q3VzdG9tZXI6bm9wZQ==") { totalCount } }"#;
    let body = graphql_ok(Mocks::new().router(), query, json!({})).await;
    assert_eq!(body["data"], Value::Null);
    assert_eq!(only_error(&body), ("Invalid ID".into(), "INVALID".into()));
}

#[tokio::test]
async fn an_invalid_input_reports_every_field_in_the_payload_and_writes_nothing() {
    let query = "mutation ($input: CreateCustomerInput!) {
        createCustomer(input: $input) {
            customer { id }
            errors { field messages code }
            clientMutationId
        }
    }";
    let input = json!({
        "name": "  ",
        "externalId": "e".repeat(256),
        "labels": ["a", null],
        "concurrentExecutionLimit": 0,
        "clientMutationId": "m-1"
    });
    // No expectation on create_customer: calling it would fail the test.
    let body = graphql_ok(Mocks::new().router(), query, json!({ "input": input })).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(
        body["data"]["createCustomer"],
        json!({
            "customer": null,
            "errors": [
                { "field": "name", "messages": ["This field is required."], "code": "REQUIRED" },
                { "field": "externalId", "messages": ["Ensure this value has at most 255 characters."], "code": "TOO_LONG" },
                { "field": "labels", "messages": ["Labels may not be null."], "code": "INVALID" },
                { "field": "concurrentExecutionLimit", "messages": ["Ensure this value is between 1 and 10000."], "code": "INVALID" },
            ],
            "clientMutationId": "m-1"
        })
    );
}

#[tokio::test]
async fn a_missing_id_is_required_and_reported_with_the_other_field_errors() {
    let query = r#"mutation { updateCustomer(input: {name: "", clientMutationId: "x"}) {
        customer { id } errors { field messages code } clientMutationId } }"#;
    let body = graphql_ok(Mocks::new().router(), query, json!({})).await;
    assert_eq!(
        body["data"]["updateCustomer"],
        json!({
            "customer": null,
            "errors": [
                { "field": "id", "messages": ["This field is required."], "code": "REQUIRED" },
                { "field": "name", "messages": ["This field is required."], "code": "REQUIRED" },
            ],
            "clientMutationId": "x"
        })
    );
}

#[tokio::test]
async fn bad_ids_in_a_mutation_input_are_payload_errors_on_their_fields() {
    let query = r#"mutation ($id: ID, $role: ID) {
        updateUser(input: {id: $id, role: $role, phone: "555"}) { user { id } errors { field messages code } }
    }"#;
    let customer_id = customer("Acme").id.global().to_string();
    let body = graphql_ok(
        Mocks::new().router(),
        query,
        json!({ "id": customer_id, "role": "bm9wZQ==" }),
    )
    .await;
    let errors = &body["data"]["updateUser"]["errors"];
    assert_eq!(
        errors[0],
        json!({ "field": "id", "messages": ["Invalid ID"], "code": "INVALID" })
    );
    assert_eq!(
        errors[1],
        json!({ "field": "phone", "messages": ["Enter a phone number in E.164 format, such as +15555550123."], "code": "INVALID" })
    );
    assert_eq!(
        errors[2],
        json!({ "field": "role", "messages": ["Invalid ID"], "code": "INVALID" })
    );

    let query = r#"mutation { createCustomerUser(input: {customer: "bad", email: "a@b.co", role: "bad"}) {
        user { id } errors { field code } } }"#;
    let body = graphql_ok(Mocks::new().router(), query, json!({})).await;
    assert_eq!(
        body["data"]["createCustomerUser"]["errors"],
        json!([{ "field": "customer", "code": "INVALID" }, { "field": "role", "code": "INVALID" }])
    );
}

#[tokio::test]
async fn the_directorys_validation_errors_become_payload_errors() {
    let mut mocks = Mocks::new();
    mocks
        .customers
        .expect_update_customer()
        .times(1)
        .returning(|_, _, _, _| {
            Err(DirectoryError::Invalid(ValidationErrors::from(vec![
                FieldError::not_found(Field::Id),
                FieldError::taken(Field::Name, "A customer with this name"),
                FieldError::new(Field::Name, ErrorCode::Invalid, "Second problem."),
            ])))
        });
    let query = r#"mutation ($id: ID!) { updateCustomer(input: {id: $id, name: "Taken"}) {
        customer { id } errors { field messages code } } }"#;
    let body = graphql_ok(mocks.router(), query, json!({ "id": SEED_CUSTOMER_ID })).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(
        body["data"]["updateCustomer"],
        json!({
            "customer": null,
            "errors": [
                { "field": "id", "messages": ["Record not found."], "code": "NOT_FOUND" },
                { "field": "name", "messages": ["A customer with this name already exists.", "Second problem."], "code": "TAKEN" },
            ]
        })
    );
}

#[tokio::test]
async fn a_forbidden_mutation_nulls_only_its_own_payload() {
    let mut mocks = Mocks::new();
    let deleted = CustomerId::parse_global(SEED_CUSTOMER_ID).unwrap();
    mocks
        .customers
        .expect_delete_customer()
        .withf(move |_, id, expected| *id == deleted && expected.is_none())
        .times(1)
        .returning(|_, _, _| Err(DirectoryError::Forbidden));
    mocks
        .customers
        .expect_create_customer()
        .times(1)
        .returning(|_, new| Ok(new.into_customer(organization_id(), domain::now())));
    let query = r#"mutation ($id: ID) {
        gone: deleteCustomer(input: {id: $id}) { customer { id } }
        made: createCustomer(input: {name: "New"}) { customer { name } errors { field } }
    }"#;
    let body = graphql_ok(mocks.router(), query, json!({ "id": SEED_CUSTOMER_ID })).await;
    assert_eq!(
        body["data"],
        json!({ "gone": null, "made": { "customer": { "name": "New" }, "errors": [] } })
    );
    assert_eq!(only_error(&body).1, "FORBIDDEN");
}

#[tokio::test]
async fn a_document_validated_before_still_refuses_a_variable_of_the_wrong_type() {
    let router = Mocks::new().with_customers_not_found(2).router();
    // Validated strictly once; the second request may skip the rules that passed.
    for _ in 0..2 {
        let body = graphql_ok(router.clone(), CUSTOMER, json!({ "id": SEED_CUSTOMER_ID })).await;
        assert_eq!(body["errors"][0]["path"], json!(["customer"]), "{body}");
    }
    let wrong = json!({ "id": true });
    let (status, mut body) = graphql(router, CUSTOMER, wrong.clone()).await;
    let (fresh_status, mut fresh) = graphql(Mocks::new().router(), CUSTOMER, wrong).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(fresh_status, StatusCode::BAD_REQUEST, "{fresh}");
    for body in [&mut body, &mut fresh] {
        body["errors"][0]["extensions"]
            .as_object_mut()
            .map(|extensions| extensions.remove("requestId"));
    }
    assert_eq!(body, fresh);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|message| message.starts_with("Invalid value for argument")),
        "{body}"
    );
    assert!(body.get("data").is_none(), "{body}");
}

/// A lookup sent again is answered without the executor (`schema::lookup`, once strict
/// validation passed): the same status, headers and body as the first time, errors included.
#[tokio::test]
async fn a_customer_lookup_sent_again_answers_as_the_first_time() {
    type Outcome = Box<dyn Fn() -> Result<domain::CustomerSummary, DirectoryError> + Send + Sync>;
    let found = customer("Acme");
    let id = found.id.global().to_string();
    let failures: [fn() -> DirectoryError; 3] = [
        || DirectoryError::NotFound,
        || DirectoryError::Forbidden,
        || DirectoryError::Unavailable("down".into()),
    ];
    let mut outcomes: Vec<Outcome> = vec![Box::new(move || Ok(found.clone().into()))];
    for failure in failures {
        outcomes.push(Box::new(move || Err(failure())));
    }
    for outcome in outcomes {
        let mut mocks = Mocks::new();
        mocks
            .customers
            .expect_customer_summary()
            .times(2)
            .returning(move |_, _| outcome());
        let router = mocks.router();
        let first = graphql_raw(router.clone(), CUSTOMER, json!({ "id": id })).await;
        let again = graphql_raw(router, CUSTOMER, json!({ "id": id })).await;
        assert_eq!(comparable(first), comparable(again));
    }
    // An id of another type: refused alike, without a directory call either time.
    let router = Mocks::new().router();
    let bad = json!({ "id": "VXNlcjox" });
    let first = comparable(graphql_raw(router.clone(), CUSTOMER, bad.clone()).await);
    let again = comparable(graphql_raw(router, CUSTOMER, bad).await);
    assert_eq!(first.3["data"], json!({ "customer": null }));
    assert_eq!(first, again);
}

/// An answer's status, `Retry-After`, costs (requested and actual) and body, without what
/// differs between two requests (the bucket's level, each request's id).
fn comparable(
    (status, headers, mut body): (StatusCode, axum::http::HeaderMap, Value),
) -> (StatusCode, Option<axum::http::HeaderValue>, Value, Value) {
    let cost = &body["extensions"]["cost"];
    let costs = json!([cost["requestedQueryCost"], cost["actualQueryCost"]]);
    strip_cost(&mut body);
    for error in body["errors"].as_array_mut().into_iter().flatten() {
        error["extensions"]["requestId"].take();
    }
    (status, headers.get("retry-after").cloned(), costs, body)
}
