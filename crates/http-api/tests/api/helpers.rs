//! A router over mocked directories, requests through `oneshot`, and sample domain values.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use domain::events::ActorKind;
use domain::listing::{CursorKey, CustomerQuery, Edge, Page, SortValue};
use domain::{
    Actor, Customer, CustomerDraft, CustomerId, NewCustomer, NewUser, Organization, OrganizationId,
    OrganizationName, Role, RoleKind, User, UserDraft, UserId,
};
use http_api::{ApiConfig, Services};
use ports::directory::{
    MockAuthenticator, MockCustomerDirectory, MockEmbeddedUserDirectory, MockHealthCheck,
    MockInvitationDirectory, MockOrganizationDirectory, MockRoleDirectory, MockSessions,
    MockSigningKeyDirectory, MockUserDirectory,
};
use ports::events::MockEventDirectory;
use ports::repository::MockStorageStats;
use ports::scim::{MockScimAuthenticator, MockScimTokenDirectory};
use ports::webhook_store::MockWebhookDirectory;
use serde_json::{Value, json};
use tower::ServiceExt;

/// The token the mocked authenticator accepts.
pub(crate) const TOKEN: &str = "good-token";

/// One mock per port; set expectations, then call [`Mocks::router`].
pub(crate) struct Mocks {
    pub(crate) customers: MockCustomerDirectory,
    pub(crate) users: MockUserDirectory,
    pub(crate) roles: MockRoleDirectory,
    pub(crate) organizations: MockOrganizationDirectory,
    pub(crate) signing_keys: MockSigningKeyDirectory,
    pub(crate) embedded_users: MockEmbeddedUserDirectory,
    pub(crate) sessions: MockSessions,
    pub(crate) invitations: MockInvitationDirectory,
    pub(crate) authenticator: MockAuthenticator,
    pub(crate) health: MockHealthCheck,
    pub(crate) storage_stats: MockStorageStats,
    pub(crate) events: MockEventDirectory,
    pub(crate) webhooks: MockWebhookDirectory,
    pub(crate) scim_tokens: MockScimTokenDirectory,
    pub(crate) scim_authenticator: MockScimAuthenticator,
}

impl Mocks {
    /// Mocks with no expectations except that [`TOKEN`] authenticates as [`actor`].
    pub(crate) fn new() -> Self {
        let mut authenticator = MockAuthenticator::new();
        authenticator
            .expect_authenticate()
            .withf(|token| token == TOKEN)
            .returning(|_| Ok(actor()));
        authenticator
            .expect_authenticate_kind()
            .withf(|token| token == TOKEN)
            .returning(|_| Ok((actor(), ActorKind::User)));
        Mocks {
            customers: MockCustomerDirectory::new(),
            users: MockUserDirectory::new(),
            roles: MockRoleDirectory::new(),
            organizations: MockOrganizationDirectory::new(),
            signing_keys: MockSigningKeyDirectory::new(),
            embedded_users: MockEmbeddedUserDirectory::new(),
            sessions: MockSessions::new(),
            invitations: MockInvitationDirectory::new(),
            authenticator,
            health: MockHealthCheck::new(),
            storage_stats: MockStorageStats::new(),
            events: MockEventDirectory::new(),
            webhooks: MockWebhookDirectory::new(),
            scim_tokens: MockScimTokenDirectory::new(),
            scim_authenticator: MockScimAuthenticator::new(),
        }
    }

    /// The same mocks, expecting `times` customer lookups, each of an unknown customer, as
    /// summaries (what `customer(id) { id name }` reads).
    pub(crate) fn with_customers_not_found(mut self, times: usize) -> Self {
        self.customers
            .expect_customer_summary()
            .times(times)
            .returning(|_, _| Err(ports::DirectoryError::NotFound));
        self
    }

    /// Expects one listing of customers, of which `check` approves, answered with
    /// `customers`: read as summaries when `summaries` (the path a selection the flat path
    /// answers from summaries takes), as whole customers otherwise; the other is not read.
    pub(crate) fn expect_customer_listing(
        &mut self,
        summaries: bool,
        customers: Vec<Customer>,
        check: impl Fn(&Actor, &CustomerQuery) -> bool + Send + 'static,
    ) {
        if summaries {
            self.customers
                .expect_customer_summaries()
                .withf(move |who, query| check(who, query))
                .times(1)
                .returning(move |_, _| Ok(customer_page(customers.clone()).map(Into::into)));
        } else {
            self.customers
                .expect_customers()
                .withf(move |who, query| check(who, query))
                .times(1)
                .returning(move |_, _| Ok(customer_page(customers.clone())));
        }
    }

    /// Answers every listing of customers, whole or as summaries, with `customers`, as
    /// often as asked.
    pub(crate) fn list_customers(&mut self, customers: &[Customer]) {
        let whole = customers.to_vec();
        self.customers
            .expect_customers()
            .returning(move |_, _| Ok(customer_page(whole.clone())));
        let summarized = customers.to_vec();
        self.customers
            .expect_customer_summaries()
            .returning(move |_, _| Ok(customer_page(summarized.clone()).map(Into::into)));
    }

    /// The same mocks, with a fresh authenticator that has no expectations.
    pub(crate) fn without_authenticator(mut self) -> Self {
        self.authenticator = MockAuthenticator::new();
        self
    }

    /// The API over these mocks, with the default configuration.
    pub(crate) fn router(self) -> Router {
        self.router_with(ApiConfig::default())
    }

    /// The API over these mocks.
    pub(crate) fn router_with(self, config: ApiConfig) -> Router {
        http_api::router(self.services(), config)
    }

    /// The mocks as the services the router takes.
    pub(crate) fn services(self) -> Services {
        Services {
            customers: Arc::new(self.customers),
            users: Arc::new(self.users),
            roles: Arc::new(self.roles),
            organizations: Arc::new(self.organizations),
            signing_keys: Arc::new(self.signing_keys),
            embedded_users: Arc::new(self.embedded_users),
            sessions: Arc::new(self.sessions),
            invitations: Arc::new(self.invitations),
            authenticator: Arc::new(self.authenticator),
            health: Arc::new(self.health),
            storage_stats: Arc::new(self.storage_stats),
            events: Arc::new(self.events),
            webhooks: Arc::new(self.webhooks),
            scim_tokens: Arc::new(self.scim_tokens),
            scim_authenticator: Arc::new(self.scim_authenticator),
        }
    }
}

/// Sends `request` and returns the status and the body as text.
pub(crate) async fn send(router: Router, request: Request<Body>) -> (StatusCode, String) {
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

/// A `POST /api` of `body` with the good token.
pub(crate) fn graphql_request(body: &Value) -> Request<Body> {
    Request::post("/api")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// Runs a GraphQL document with variables as the good token's actor. Every answer must
/// carry `extensions.cost`; it is checked and taken out, so tests compare the rest.
pub(crate) async fn graphql(router: Router, query: &str, variables: Value) -> (StatusCode, Value) {
    let (status, _, mut body) = graphql_raw(router, query, variables).await;
    strip_cost(&mut body);
    (status, body)
}

/// Runs a GraphQL document; the status, headers and whole body.
pub(crate) async fn graphql_raw(
    router: Router,
    query: &str,
    variables: Value,
) -> (StatusCode, HeaderMap, Value) {
    let request = graphql_request(&json!({ "query": query, "variables": variables }));
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, serde_json::from_slice(&bytes).unwrap())
}

/// Checks that `body` reports its cost with Shopify's names, then removes it (and an
/// `extensions` left empty).
pub(crate) fn strip_cost(body: &mut Value) {
    let cost = &body["extensions"]["cost"];
    assert!(cost["requestedQueryCost"].is_u64(), "{body}");
    assert!(
        cost["actualQueryCost"].is_u64() || cost["actualQueryCost"].is_null(),
        "{body}"
    );
    for field in ["maximumAvailable", "currentlyAvailable", "restoreRate"] {
        assert!(cost["throttleStatus"][field].is_u64(), "{field}: {body}");
    }
    let extensions = body["extensions"].as_object_mut().unwrap();
    extensions.remove("cost");
    if extensions.is_empty() {
        body.as_object_mut().unwrap().remove("extensions");
    }
}

/// Runs a document and expects HTTP 200.
pub(crate) async fn graphql_ok(router: Router, query: &str, variables: Value) -> Value {
    let (status, body) = graphql(router, query, variables).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The single top-level error of a response, as `(message, code)`.
pub(crate) fn only_error(body: &Value) -> (String, String) {
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{body}");
    (
        errors[0]["message"].as_str().unwrap().to_owned(),
        errors[0]["extensions"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// The organization every sample belongs to.
pub(crate) fn organization_id() -> OrganizationId {
    static ID: OnceLock<OrganizationId> = OnceLock::new();
    *ID.get_or_init(OrganizationId::generate)
}

/// The caller: an organization Admin.
pub(crate) fn actor() -> Actor {
    static ID: OnceLock<UserId> = OnceLock::new();
    Actor {
        user_id: *ID.get_or_init(UserId::generate),
        organization_id: organization_id(),
        customer_id: None,
        role: RoleKind::Admin,
    }
}

/// The caller's organization.
pub(crate) fn organization() -> Organization {
    Organization {
        id: organization_id(),
        name: OrganizationName::parse("Smith Rockets").unwrap(),
        created_at: domain::now(),
        version: domain::Version::FIRST,
    }
}

/// The seed page's customer id.
pub(crate) const SEED_CUSTOMER_ID: &str =
    "Q3VzdG9tZXI6ZDM0NTZjZWItNTNlOS00YmI5LWFhODItN2QyZDQ3YjZkMTA4";

/// A customer named `name` of the caller's organization.
pub(crate) fn customer(name: &str) -> Customer {
    NewCustomer::parse(CustomerDraft {
        name: name.into(),
        ..CustomerDraft::default()
    })
    .unwrap()
    .into_customer(organization_id(), domain::now())
}

/// A user with `email`, of `customer` (or a team member), with a role of `kind`.
pub(crate) fn user(email: &str, customer: Option<CustomerId>, kind: RoleKind) -> User {
    let role = Role::generate(kind);
    NewUser::parse(UserDraft {
        email: email.into(),
        role: Ok(role.id),
        ..UserDraft::default()
    })
    .unwrap()
    .into_user(organization_id(), customer, role, domain::now())
}

/// One complete page of `customers`, with `NAME` cursors.
pub(crate) fn customer_page(customers: Vec<Customer>) -> Page<Customer> {
    let edges = customers
        .into_iter()
        .map(|customer| Edge {
            cursor: CursorKey {
                values: vec![SortValue::Text(customer.name.key())],
                id: customer.id.uuid(),
            },
            node: customer,
        })
        .collect();
    complete_page(edges)
}

/// One complete page of `users`, with `NAME` cursors.
pub(crate) fn user_page(users: Vec<User>) -> Page<User> {
    let edges = users
        .into_iter()
        .map(|user| Edge {
            cursor: CursorKey {
                values: vec![SortValue::Text(user.name.key())],
                id: user.id.uuid(),
            },
            node: user,
        })
        .collect();
    complete_page(edges)
}

fn complete_page<T>(edges: Vec<Edge<T>>) -> Page<T> {
    Page {
        total_count: Some(edges.len() as u64),
        edges,
        has_next_page: false,
        has_previous_page: false,
    }
}
