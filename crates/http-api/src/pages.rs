//! What protects the two HTML pages (GraphiQL at `/`, where people paste Owner tokens, and
//! the invitation's set-password form, whose URL holds a token), and the static files they
//! load, embedded in the binary and served under `/assets/...`.
//!
//! Both pages get a strict Content-Security-Policy with no inline script or style at all
//! (their scripts and styles are files of their own, below), `frame-ancestors 'none'` and
//! `X-Frame-Options: DENY` (no clickjacking), `Referrer-Policy: no-referrer` (the token in
//! the set-password URL never leaves in a `Referer`), `Cache-Control: no-store` and
//! `X-Content-Type-Options: nosniff`.

use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// GraphiQL's policy: its scripts and styles from Roster only; `data:` fonts and images
/// (inside `graphiql.min.css`); requests to Roster only (`/api`).
pub(crate) const GRAPHIQL_CSP: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The set-password pages' policy: no script at all, Roster's stylesheet, and the form
/// posts back to Roster only.
pub(crate) const FORM_CSP: &str = "default-src 'none'; style-src 'self'; \
    form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The headers every response of a page carries, with the page's `policy`.
fn protect(policy: &'static str, mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// Layer (`map_response`) for the GraphiQL page.
pub(crate) async fn graphiql_headers(response: Response) -> Response {
    protect(GRAPHIQL_CSP, response)
}

/// Layer (`map_response`) for every answer of `/auth/set-password`, forms and JSON alike.
pub(crate) async fn form_headers(response: Response) -> Response {
    protect(FORM_CSP, response)
}

/// One embedded file under `/assets/`.
struct Asset {
    /// Its path below `/assets/`.
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    /// True for the pinned third-party files, whose path names their version: cached for a
    /// year. Roster's own files change without their path changing, so browsers revalidate.
    versioned: bool,
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every file the pages load (see `assets/graphiql/README.md` for versions and updating).
static ASSETS: &[Asset] = &[
    Asset {
        path: "graphiql/graphiql-3.8.3/graphiql.min.js",
        content_type: JS,
        body: include_bytes!("../assets/graphiql/graphiql-3.8.3/graphiql.min.js"),
        versioned: true,
    },
    Asset {
        path: "graphiql/graphiql-3.8.3/graphiql.min.css",
        content_type: CSS,
        body: include_bytes!("../assets/graphiql/graphiql-3.8.3/graphiql.min.css"),
        versioned: true,
    },
    Asset {
        path: "graphiql/react-18.3.1/react.production.min.js",
        content_type: JS,
        body: include_bytes!("../assets/graphiql/react-18.3.1/react.production.min.js"),
        versioned: true,
    },
    Asset {
        path: "graphiql/react-dom-18.3.1/react-dom.production.min.js",
        content_type: JS,
        body: include_bytes!("../assets/graphiql/react-dom-18.3.1/react-dom.production.min.js"),
        versioned: true,
    },
    Asset {
        path: "roster/graphiql.js",
        content_type: JS,
        body: include_bytes!("../assets/roster/graphiql.js"),
        versioned: false,
    },
    Asset {
        path: "roster/graphiql.css",
        content_type: CSS,
        body: include_bytes!("../assets/roster/graphiql.css"),
        versioned: false,
    },
    Asset {
        path: "roster/page.css",
        content_type: CSS,
        body: include_bytes!("../assets/roster/page.css"),
        versioned: false,
    },
];

/// `GET /assets/{*path}`: an embedded file, or 404.
pub(crate) async fn asset(Path(path): Path<String>) -> Response {
    let Some(asset) = ASSETS.iter().find(|asset| asset.path == path) else {
        return (StatusCode::NOT_FOUND, "Not found").into_response();
    };
    let cache = if asset.versioned {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
            (CACHE_CONTROL, HeaderValue::from_static(cache)),
            (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        asset.body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `src`/`href` values of `html` that start with `/`.
    fn local_references(html: &str) -> Vec<&str> {
        html.split(['"', '\''])
            .filter(|part| part.starts_with('/'))
            .collect()
    }

    #[test]
    fn every_asset_the_graphiql_page_references_is_served() {
        let html = include_str!("graphiql.html");
        let references = local_references(html);
        assert_eq!(references.len(), 6, "{references:?}");
        for reference in references {
            let path = reference.strip_prefix("/assets/").unwrap_or(reference);
            assert!(
                ASSETS.iter().any(|asset| asset.path == path),
                "{reference} is not served"
            );
        }
        // Nothing else is loaded: no absolute URL, no inline script or style.
        assert!(
            !html.contains("http:") && !html.contains("https:"),
            "{html}"
        );
        assert!(
            !html.contains("<script>") && !html.contains("<style"),
            "{html}"
        );
        assert!(!html.contains("style="), "{html}");
    }

    #[test]
    fn the_bundles_need_nothing_the_policy_refuses() {
        for asset in ASSETS {
            let text = String::from_utf8_lossy(asset.body);
            assert!(!text.contains("new Worker("), "{}", asset.path);
            assert!(!text.contains("importScripts("), "{}", asset.path);
            if asset.content_type == CSS {
                // Fonts and images are `data:` URIs, which `font-src`/`img-src` admit.
                for url in text.split("url(").skip(1) {
                    let url = url.trim_start_matches(['"', '\'']);
                    assert!(
                        url.starts_with("data:"),
                        "{}: url({})",
                        asset.path,
                        &url[..40.min(url.len())]
                    );
                }
                assert!(!text.contains("@import"), "{}", asset.path);
            }
        }
    }
}
