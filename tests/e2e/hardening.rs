//! Issue 9's page and file hardening, end to end: the two HTML pages' headers, GraphiQL's
//! files served by Roster itself, and the SQLite database's file modes.

use std::collections::HashMap;

use serde_json::json;

use crate::helpers::{Engine, TestServer, on_both_engines};

/// The headers both pages send, whatever the answer.
fn assert_page_headers(headers: &reqwest::header::HeaderMap, what: &str) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_else(|| panic!("{what}: no {name}"))
            .to_owned()
    };
    let policy = header("content-security-policy");
    assert!(
        policy.contains("frame-ancestors 'none'"),
        "{what}: {policy}"
    );
    assert!(policy.contains("default-src 'none'"), "{what}: {policy}");
    assert!(
        !policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"),
        "{what}: {policy}"
    );
    assert!(
        !policy.contains("http"),
        "{what}: nothing from elsewhere: {policy}"
    );
    assert_eq!(header("x-frame-options"), "DENY", "{what}");
    assert_eq!(header("referrer-policy"), "no-referrer", "{what}");
    assert_eq!(header("cache-control"), "no-store", "{what}");
    assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
}

/// The `src` and `href` values of `html`.
fn references(html: &str) -> Vec<String> {
    ["src=\"", "href=\""]
        .iter()
        .flat_map(|attribute| html.split(attribute).skip(1))
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

/// GraphiQL: strict headers, and every file it references is served here with its content
/// type and a year of caching (or revalidation for Roster's own); nothing is loaded from
/// another origin and there is no inline script or style.
async fn graphiql_is_self_contained_and_framed_by_no_one(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let page = server.http.get(server.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_page_headers(page.headers(), "GraphiQL");
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    for directive in [
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
    ] {
        assert!(policy.contains(directive), "{policy}");
    }
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script>") && !html.contains("<style") && !html.contains("style="));
    let references = references(&html);
    assert_eq!(references.len(), 6, "{references:?}");
    let mut types = HashMap::new();
    for reference in &references {
        assert!(
            reference.starts_with("/assets/"),
            "{reference} is not local"
        );
        let asset = server.http.get(server.url(reference)).send().await.unwrap();
        assert_eq!(asset.status(), 200, "{reference}");
        let header = |name: &str| asset.headers()[name].to_str().unwrap().to_owned();
        let content_type = header("content-type");
        let cache = header("cache-control");
        assert_eq!(header("x-content-type-options"), "nosniff");
        if reference.starts_with("/assets/graphiql/") {
            assert_eq!(cache, "public, max-age=31536000, immutable", "{reference}");
        } else {
            assert_eq!(cache, "no-cache", "{reference}");
        }
        let body = asset.bytes().await.unwrap();
        assert!(body.len() > 50, "{reference} is empty");
        types.insert(
            reference.rsplit('.').next().unwrap().to_owned(),
            content_type,
        );
    }
    assert_eq!(types["js"], "text/javascript; charset=utf-8");
    assert_eq!(types["css"], "text/css; charset=utf-8");
    let missing = server
        .http
        .get(server.url("/assets/graphiql/graphiql-3.8.3/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    // The page still talks to /api as before.
    server
        .gql_ok(
            &server.owner_token,
            "{ authenticatedUser { id } }",
            json!({}),
        )
        .await;
    server.stop().await;
}

/// The set-password page, its error page, its form answers and its JSON answers all carry
/// the headers; its stylesheet is served.
async fn the_set_password_page_is_protected(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let invalid = server
        .http
        .get(server.url("/auth/set-password?token=not-a-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 400);
    assert_page_headers(invalid.headers(), "invalid link page");
    let policy = invalid.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        policy.contains("form-action 'self'") && !policy.contains("script-src"),
        "{policy}"
    );
    let html = invalid.text().await.unwrap();
    assert!(
        !html.contains("style=") && !html.contains("<script"),
        "{html}"
    );
    for reference in references(&html) {
        let asset = server
            .http
            .get(server.url(&reference))
            .send()
            .await
            .unwrap();
        assert_eq!(asset.status(), 200, "{reference}");
    }
    let form = server
        .http
        .post(server.url("/auth/set-password"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=not-a-token&password=long+enough+password")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 400);
    assert_page_headers(form.headers(), "form answer");
    let json = server
        .http
        .post(server.url("/auth/set-password"))
        .json(&json!({"token": "not-a-token", "password": "long enough password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 400);
    assert_page_headers(json.headers(), "JSON answer");
    server.stop().await;
}

on_both_engines!(
    graphiql_is_self_contained_and_framed_by_no_one,
    the_set_password_page_is_protected,
);

/// A server's new SQLite database, and the WAL and shared-memory files its writes made, are
/// readable and writable by their owner only (they hold the token-signing secret).
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_database_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let server = TestServer::spawn(Engine::Sqlite).await;
    server.create_customer("Acme").await;
    let path = server
        .database_url
        .strip_prefix("sqlite://")
        .expect("a SQLite URL")
        .to_owned();
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{path}{suffix}");
        let mode = std::fs::metadata(&file)
            .unwrap_or_else(|error| panic!("{file}: {error}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
    server.stop().await;
}
