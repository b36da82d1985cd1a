//! Issue 9, revocable access: an access token ends with its session (revoke, refresh-token
//! reuse), with its user's token generation (a password change, a role change by an admin),
//! with its key (retired), and when it claims a lifetime beyond the maximum; and a login costs
//! the same for an email in two organizations as for an unknown one.

use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use service::{Provisioning, TokenKeys};

use crate::helpers::{Engine, TestServer, fresh_database, on_both_engines};

const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "a brand new passphrase";

/// Generous bound for what a server picks up in the background (the PostgreSQL feed, the
/// actor cache's maximum age, a key reload): only a broken rule takes this long.
const PATIENCE: Duration = Duration::from_secs(30);

async fn login_as(server: &TestServer, email: &str, password: &str) -> Value {
    let (status, _, pair) = server
        .post_json(
            "/auth/login",
            &json!({"email": email, "password": password}),
        )
        .await;
    assert_eq!(status, 200, "{pair}");
    pair
}

fn access(pair: &Value) -> &str {
    pair["access_token"].as_str().expect("access token")
}

/// The HTTP status of one authenticated request made with `token`.
async fn status_of(server: &TestServer, token: &str) -> u16 {
    server
        .gql_as(token, "{ authenticatedUser { email } }", json!({}))
        .await
        .0
}

/// Waits until a request with `token` gets `expected`, polling; panics after [`PATIENCE`].
async fn until_status(server: &TestServer, token: &str, expected: u16) {
    let started = Instant::now();
    loop {
        let status = status_of(server, token).await;
        if status == expected {
            return;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "still {status}, not {expected}, after {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A server with an Integrator `ivy@example.com` whose password is [`PASSWORD`].
async fn with_ivy(engine: Engine) -> TestServer {
    let server = TestServer::spawn(engine).await;
    server
        .create_organization_user("ivy@example.com", "Admin")
        .await;
    server.set_password("ivy@example.com", None, PASSWORD).await;
    server
}

async fn revoke_and_refresh_reuse_end_their_sessions_access_tokens(engine: Engine) {
    let server = with_ivy(engine).await;
    let revoked = login_as(&server, "ivy@example.com", PASSWORD).await;
    let other = login_as(&server, "ivy@example.com", PASSWORD).await;
    assert_eq!(status_of(&server, access(&revoked)).await, 200);

    let (status, _, _) = server
        .post_json(
            "/auth/revoke",
            &json!({"refresh_token": revoked["refresh_token"]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        status_of(&server, access(&revoked)).await,
        401,
        "the revoked session's access token ends at its next request"
    );
    assert_eq!(
        status_of(&server, access(&other)).await,
        200,
        "another session goes on"
    );

    // Reuse of a rotated refresh token revokes the family: every access token of it ends.
    let stolen = login_as(&server, "ivy@example.com", PASSWORD).await;
    let (status, _, rotated) = server
        .post_json(
            "/auth/refresh",
            &json!({"refresh_token": stolen["refresh_token"]}),
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    assert_eq!(status_of(&server, access(&rotated)).await, 200);
    let (status, _, _) = server
        .post_json(
            "/auth/refresh",
            &json!({"refresh_token": stolen["refresh_token"]}),
        )
        .await;
    assert_eq!(status, 401, "reuse");
    for token in [access(&stolen), access(&rotated)] {
        assert_eq!(status_of(&server, token).await, 401);
    }
    assert_eq!(status_of(&server, access(&other)).await, 200);

    let fresh = login_as(&server, "ivy@example.com", PASSWORD).await;
    assert_eq!(status_of(&server, access(&fresh)).await, 200);
    server.stop().await;
}

async fn a_password_change_ends_every_token_and_session_of_the_user(engine: Engine) {
    // `roster password` is another process: SQLite's server learns of it when its cached
    // caller reaches the maximum age (1 s here), PostgreSQL's through the access feed.
    let database = fresh_database(engine).await;
    let server = TestServer::spawn_with_settings(database, app::MailSettings::default(), |s| {
        s.actor_cache.max_age = Duration::from_secs(1);
    })
    .await;
    server
        .create_organization_user("ivy@example.com", "Admin")
        .await;
    server.set_password("ivy@example.com", None, PASSWORD).await;
    let session = login_as(&server, "ivy@example.com", PASSWORD).await;
    let operator = server.token_for("ivy@example.com", None).await;
    let owner = server.owner_token.clone();
    for token in [access(&session), operator.as_str()] {
        assert_eq!(status_of(&server, token).await, 200);
    }

    server
        .set_password("ivy@example.com", None, NEW_PASSWORD)
        .await;
    until_status(&server, access(&session), 401).await;
    until_status(&server, &operator, 401).await;
    let (status, _, _) = server
        .post_json(
            "/auth/refresh",
            &json!({"refresh_token": session["refresh_token"]}),
        )
        .await;
    assert_eq!(status, 401, "the new password ended the session too");
    assert_eq!(status_of(&server, &owner).await, 200, "other users go on");
    let (status, _, _) = server
        .post_json(
            "/auth/login",
            &json!({"email": "ivy@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 401);
    let fresh = login_as(&server, "ivy@example.com", NEW_PASSWORD).await;
    assert_eq!(status_of(&server, access(&fresh)).await, 200);
    server.stop().await;
}

async fn an_admins_role_change_ends_the_users_tokens(engine: Engine) {
    let server = with_ivy(engine).await;
    let session = login_as(&server, "ivy@example.com", PASSWORD).await;
    assert_eq!(status_of(&server, access(&session)).await, 200);
    let id = server
        .gql_ok(access(&session), "{ authenticatedUser { id } }", json!({}))
        .await["authenticatedUser"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let guest = server.role_id(&server.owner_token, false, "Guest").await;
    let data = server
        .gql(
            "mutation($id: ID!, $r: ID!) { updateUser(input: {id: $id, role: $r}) { user { id } errors { field messages } } }",
            json!({"id": id, "r": guest}),
        )
        .await;
    assert_eq!(data["updateUser"]["errors"], json!([]), "{data:#}");
    assert_eq!(
        status_of(&server, access(&session)).await,
        401,
        "the demoted user's token ends at its next request"
    );
    // A refresh gives a token of the new generation, with the new role; so does a login.
    let (status, _, refreshed) = server
        .post_json(
            "/auth/refresh",
            &json!({"refresh_token": session["refresh_token"]}),
        )
        .await;
    assert_eq!(status, 200, "{refreshed}");
    let fresh = login_as(&server, "ivy@example.com", PASSWORD).await;
    for token in [access(&refreshed), access(&fresh)] {
        let data = server
            .gql_ok(token, "{ authenticatedUser { role { name } } }", json!({}))
            .await;
        assert_eq!(data["authenticatedUser"]["role"]["name"], "Guest");
    }
    server.stop().await;
}

async fn a_forged_far_future_exp_is_refused_even_with_the_right_key(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let repos = server.repositories().await;
    // The key as someone who read the database has it.
    let secret = repos
        .secrets
        .get_or_insert_secret("access_token_hs256", &[0; 32])
        .await
        .expect("stored key");
    let owner = Provisioning::new(repos)
        .find_user("owner@localhost", None)
        .await
        .expect("owner");
    let now = domain::now().timestamp();
    let forge = |iat: i64, exp: i64| {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            // The claims as Roster signs them.
            &json!({
                "sub": owner.id.uuid().to_string(),
                "org": owner.organization_id.uuid().to_string(),
                "iss": "roster",
                "iat": iat,
                "exp": exp,
                "gen": 0,
            }),
            &EncodingKey::from_secret(&secret),
        )
        .expect("signed")
    };
    assert_eq!(
        status_of(&server, &forge(now, now + 3600)).await,
        200,
        "the control: the same key and claims with an ordinary lifetime"
    );
    for (iat, exp, what) in [
        (now, 4_102_444_800, "exp in 2100"),
        (now - 60, now - 60 + 31 * 86_400, "31 days"),
        (now + 86_400, now + 2 * 86_400, "iat tomorrow"),
    ] {
        assert_eq!(status_of(&server, &forge(iat, exp)).await, 401, "{what}");
    }
    server.stop().await;
}

fn kid_of(token: &str) -> Option<String> {
    jsonwebtoken::decode_header(token).expect("a JWT").kid
}

async fn rotation_keeps_old_tokens_valid_and_retiring_a_key_ends_its_tokens(engine: Engine) {
    let database = fresh_database(engine).await;
    let server = TestServer::spawn_with_settings(database, app::MailSettings::default(), |s| {
        s.tokens.key_reload_interval = Duration::from_millis(200);
    })
    .await;
    server
        .create_organization_user("ivy@example.com", "Admin")
        .await;
    server.set_password("ivy@example.com", None, PASSWORD).await;
    let before = login_as(&server, "ivy@example.com", PASSWORD).await;
    assert_eq!(kid_of(access(&before)), None, "the original key");

    let repos = server.repositories().await;
    let keys = TokenKeys::new(repos.secrets.as_ref(), false);
    let kid = keys.rotate().await.expect("rotated");
    // Signing moves to the new key once every server had time to load it.
    let started = Instant::now();
    let after = loop {
        let pair = login_as(&server, "ivy@example.com", PASSWORD).await;
        if kid_of(access(&pair)).as_deref() == Some(kid.as_str()) {
            break pair;
        }
        assert!(started.elapsed() < PATIENCE, "never signed with {kid}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status_of(&server, access(&after)).await, 200);
    assert_eq!(
        status_of(&server, access(&before)).await,
        200,
        "tokens of the older key stay valid"
    );
    let listed: Vec<String> = keys
        .list()
        .await
        .expect("listed")
        .into_iter()
        .map(|key| key.kid)
        .collect();
    assert_eq!(listed, [service::ORIGINAL_KEY_ID.to_owned(), kid.clone()]);

    assert!(
        keys.retire(service::ORIGINAL_KEY_ID)
            .await
            .expect("retired")
    );
    until_status(&server, access(&before), 401).await;
    assert_eq!(status_of(&server, access(&after)).await, 200);
    assert!(keys.retire(&kid).await.expect("retired"));
    until_status(&server, access(&after), 401).await;
    let fresh = login_as(&server, "ivy@example.com", PASSWORD).await;
    assert_eq!(status_of(&server, access(&fresh)).await, 200);
    server.stop().await;
}

/// Logins for `email` with a wrong password, each from its own client address (behind the
/// trusted proxy 127.0.0.1) so no throttle interferes; the time of each.
async fn timed_login(server: &TestServer, email: &str, client: usize) -> Duration {
    let started = Instant::now();
    let response = server
        .http
        .post(server.url("/auth/login"))
        .header(
            "x-forwarded-for",
            format!("10.9.{}.{}", client / 250, client % 250 + 1),
        )
        .json(&json!({"email": email, "password": "not the password at all"}))
        .send()
        .await
        .expect("request sent");
    let elapsed = started.elapsed();
    assert_eq!(response.status().as_u16(), 401, "{email}");
    elapsed
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

async fn a_login_costs_the_same_for_an_email_in_two_organizations_as_for_an_unknown_one(
    engine: Engine,
) {
    const SAMPLES: usize = 20;
    let database = fresh_database(engine).await;
    let server = TestServer::spawn_with_settings(database, app::MailSettings::default(), |s| {
        s.api.trusted_proxies = vec!["127.0.0.1/32".parse().expect("a network")];
    })
    .await;
    // One email per sample, each known in two organizations with a password in both, so no
    // account bucket runs dry.
    let repos = server.repositories().await;
    let provisioning = Provisioning::new(repos);
    for n in 0..SAMPLES {
        let email = format!("known{n}@example.com");
        for organization in [format!("First {n}"), format!("Second {n}")] {
            provisioning
                .create_organization(&organization, &email)
                .await
                .expect("organization");
            server
                .set_password(&email, Some(&organization), PASSWORD)
                .await;
        }
    }
    // Warm up both paths (connections, caches), then interleave the samples so any change
    // in the machine's load hits both alike. A round is 20 of each; on this shared, noisy
    // machine one round may still be skewed by a neighbour's build, so up to three rounds
    // are run and one within 20% passes. Two hashes for the known email (as before issue 9)
    // make every round about twice as slow, and fail.
    timed_login(&server, "unknown-warmup@example.com", 998).await;
    timed_login(&server, "known0@example.com", 999).await;
    let mut rounds = Vec::new();
    for round in 0..3 {
        let (mut known, mut unknown) = (Vec::new(), Vec::new());
        for n in 0..SAMPLES {
            let order = if n % 2 == 0 {
                [true, false]
            } else {
                [false, true]
            };
            for is_known in order {
                let email = if is_known {
                    format!("known{n}@example.com")
                } else {
                    format!("unknown{n}-{round}@example.com")
                };
                let client = 1000 * round + 2 * n + usize::from(is_known);
                let elapsed = timed_login(&server, &email, client).await;
                if is_known {
                    known.push(elapsed);
                } else {
                    unknown.push(elapsed);
                }
            }
        }
        let (known, unknown) = (median(known), median(unknown));
        let ratio = known.as_secs_f64() / unknown.as_secs_f64();
        println!("login medians: known in two organizations {known:?}, unknown {unknown:?}");
        rounds.push((known, unknown, ratio));
        if (0.8..=1.2).contains(&ratio) {
            break;
        }
    }
    assert!(
        rounds
            .iter()
            .any(|(_, _, ratio)| (0.8..=1.2).contains(ratio)),
        "known in two organizations vs unknown, median of {SAMPLES}, per round: {rounds:?}"
    );
    server.stop().await;
}

on_both_engines!(
    revoke_and_refresh_reuse_end_their_sessions_access_tokens,
    a_password_change_ends_every_token_and_session_of_the_user,
    an_admins_role_change_ends_the_users_tokens,
    a_forged_far_future_exp_is_refused_even_with_the_right_key,
    rotation_keeps_old_tokens_valid_and_retiring_a_key_ends_its_tokens,
    a_login_costs_the_same_for_an_email_in_two_organizations_as_for_an_unknown_one,
);
