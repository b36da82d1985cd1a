//! HTTP behaviour: authentication, status codes, GraphiQL, health, body limit.

use serde_json::json;

use crate::helpers::{Engine, METRICS_TOKEN, TestServer, on_both_engines};

async fn requests_without_a_valid_token_get_401(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let expected = json!({"errors": [{"message": "Not authenticated", "extensions": {"code": "UNAUTHENTICATED"}}]});
    let body = json!({"query": "{ authenticatedUser { email } }"});
    let missing = server
        .http
        .post(server.url("/api"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(missing.json::<serde_json::Value>().await.unwrap(), expected);
    for header in ["Bearer not-a-token", "Basic b3duZXI6cGFzcw==", "Bearer "] {
        let response = server
            .http
            .post(server.url("/api/"))
            .header("authorization", header)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{header}");
        assert_eq!(
            response.json::<serde_json::Value>().await.unwrap(),
            expected
        );
    }
    server.stop().await;
}

async fn parse_errors_are_400_and_everything_else_200(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let (status, body) = server
        .gql_as(&server.owner_token, "{ customers { nodes { id }", json!({}))
        .await;
    assert_eq!(status, 400, "{body:#}");
    assert!(body["errors"][0]["message"].is_string());
    let (status, _) = server
        .gql_as(&server.owner_token, "{ noSuchField }", json!({}))
        .await;
    assert_eq!(status, 400);
    let (status, body) = server
        .gql_as(
            &server.owner_token,
            "{ authenticatedUser { email role { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"]["authenticatedUser"],
        json!({"email": "owner@localhost", "role": {"name": "Owner"}})
    );
    server.stop().await;
}

async fn serves_graphiql_health_and_readiness(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    for path in ["/", "/healthz", "/readyz"] {
        let response = server.http.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    let page = server
        .http
        .get(server.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.to_lowercase().contains("graphiql"));
    let huge = "x".repeat(2 * 1024 * 1024);
    let sent = server
        .http
        .post(server.url("/api"))
        .bearer_auth(&server.owner_token)
        .json(&json!({"query": format!("{{ customers(name: \"{huge}\") {{ totalCount }} }}")}))
        .send()
        .await;
    // The server answers 413 as soon as it sees the length, and may close the connection
    // before the client has finished writing: either way the body is refused.
    match sent {
        Ok(response) => assert_eq!(response.status(), 413, "the body limit holds"),
        Err(error) => assert!(!error.is_timeout() && error.status().is_none(), "{error}"),
    }
    server.stop().await;
}

async fn a_restarted_server_keeps_data_and_tokens(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    server.create_customer("Durable").await;
    let token = server.owner_token.clone();
    let database_url = server.database_url.clone();
    // Stop without deleting the database, then start a new server on it.
    let keep = TestServer::spawn_on(database_url.clone()).await;
    assert!(
        keep.owner_token.is_empty(),
        "a database with data is not bootstrapped again"
    );
    let data = keep
        .gql_ok(&token, "{ customers { nodes { name } } }", json!({}))
        .await;
    assert_eq!(
        data["customers"]["nodes"],
        json!([{"name": "Durable"}]),
        "the stored key signs the same tokens"
    );
    keep.stop().await;
    server.stop().await;
}

/// `/metrics` reports the real storage pools (SQLite: a writer and readers; PostgreSQL: one
/// pool) and the outbox, and counts a create by its operation name.
async fn metrics_report_pools_outbox_and_operations(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    server.create_customer("Metered").await;
    let scrape = server
        .http
        .get(server.url("/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(scrape.status(), 200);
    let text = scrape.text().await.unwrap();
    let pools: &[&str] = match engine {
        Engine::Sqlite => &["writer", "readers"],
        Engine::Postgres => &["main"],
    };
    for pool in pools {
        let series = format!("roster_storage_pool_max_connections{{pool=\"{pool}\"}} ");
        assert!(text.contains(&series), "{series} in {text}");
    }
    assert!(text.contains("roster_mail_outbox_depth 0\n"), "{text}");
    assert!(
        text.lines()
            .any(|line| line.starts_with("roster_api_requests_total{")
                && line.contains("outcome=\"ok\"")
                && line.contains("operation=\"createCustomer\"")),
        "{text}"
    );
    server.stop().await;
}

on_both_engines!(
    metrics_report_pools_outbox_and_operations,
    requests_without_a_valid_token_get_401,
    parse_errors_are_400_and_everything_else_200,
    serves_graphiql_health_and_readiness,
    a_restarted_server_keeps_data_and_tokens,
);

/// Storage failing under a running server: a generic UNAVAILABLE error, the detail only in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storage_failure_is_a_generic_unavailable_error_and_not_ready() {
    let Some(admin) = crate::helpers::postgres_admin_url() else {
        return;
    };
    let server = TestServer::spawn(Engine::Postgres).await;
    let token = server.owner_token.clone();
    server.create_customer("Acme").await;
    storage_postgres::testing::drop_database_at(&admin, &server.database_url)
        .await
        .unwrap();

    let (status, body) = server
        .gql_as(&token, "{ authenticatedUser { email } }", json!({}))
        .await;
    assert_eq!(status, 503, "the caller cannot be checked: {body:#}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAVAILABLE");
    let text = body.to_string().to_lowercase();
    for leak in ["database", "sql", "relation", "roster_test"] {
        assert!(!text.contains(leak), "leaked {leak:?}: {body}");
    }
    let ready = server.http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let healthy = server
        .http
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(healthy.status(), 200, "the process itself is fine");
}
