//! `subscription { events }` over WebSocket (graphql-transport-ws), the router served on
//! 127.0.0.1 over mocked directories: batches in order, the token re-checked per batch,
//! init refusals, the socket bounds, each subscribe priced, and shutdown closing sockets.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use domain::events::Subject;
use domain::{CustomerId, RoleKind};
use futures::{SinkExt as _, StreamExt as _};
use http_api::{ApiConfig, LiveSockets, SocketLimits};
use ports::directory::MockAuthenticator;
use ports::{AuthError, EventPage};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::events::event;
use crate::helpers::{Mocks, TOKEN, actor};

/// Every wait of these tests is bounded by this.
const DEADLINE: Duration = Duration::from_secs(10);

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Serves `mocks` on 127.0.0.1 with `config`, its sockets in `sockets`.
async fn serve(mocks: Mocks, config: ApiConfig, sockets: LiveSockets) -> SocketAddr {
    let router = http_api::router_with_sockets(mocks.services(), config, sockets);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    address
}

async fn open(address: SocketAddr) -> Socket {
    let mut request = format!("ws://{address}/api").into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (socket, _) = tokio::time::timeout(DEADLINE, tokio_tungstenite::connect_async(request))
        .await
        .unwrap()
        .unwrap();
    socket
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .unwrap();
}

/// The next protocol message, or the close frame's code.
async fn next(socket: &mut Socket) -> Result<Value, u16> {
    loop {
        let frame = tokio::time::timeout(DEADLINE, socket.next())
            .await
            .expect("a frame in time")
            .expect("open")
            .expect("a frame");
        match frame {
            Message::Text(text) => return Ok(serde_json::from_str(&text).unwrap()),
            Message::Close(frame) => return Err(frame.map_or(1005, |frame| frame.code.into())),
            _ => {}
        }
    }
}

/// Opens a socket and inits it with `payload`; the ack or the close code.
async fn init(address: SocketAddr, payload: Value) -> (Socket, Result<Value, u16>) {
    let mut socket = open(address).await;
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": payload}),
    )
    .await;
    let answer = next(&mut socket).await;
    (socket, answer)
}

fn bearer() -> Value {
    json!({"Authorization": format!("Bearer {TOKEN}")})
}

async fn subscribe(socket: &mut Socket, query: &str) {
    send(
        socket,
        json!({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": {"after": "5"}}}),
    )
    .await;
}

const EVENTS: &str = "subscription($after: String) { events(after: $after) { sequence } }";

#[tokio::test]
async fn batches_arrive_in_order_until_the_token_stops_authenticating() {
    let mut mocks = Mocks::new().without_authenticator();
    // The init, then one check per batch: the second batch finds the token refused.
    let checks = Arc::new(AtomicUsize::new(0));
    let counted = checks.clone();
    let mut authenticator = MockAuthenticator::new();
    authenticator
        .expect_authenticate()
        .withf(|token| token == TOKEN)
        .returning(move |_| match counted.fetch_add(1, Ordering::SeqCst) {
            0 | 1 => Ok(actor()),
            _ => Err(AuthError::Unauthenticated),
        });
    mocks.authenticator = authenticator;
    let subject = Subject::Customer(CustomerId::generate());
    mocks
        .events
        .expect_next_events()
        .withf(|caller, after, types, limit, _| {
            *caller == actor() && *after == Some(5) && types.is_empty() && *limit == 100
        })
        .times(1)
        .returning(move |_, _, _, _, _| {
            Ok(EventPage {
                events: vec![event(6, subject), event(7, subject)],
                has_next_page: false,
            })
        });
    // Read from the log but never sent: the token no longer authenticates.
    mocks
        .events
        .expect_next_events()
        .withf(|_, after, _, _, _| *after == Some(7))
        .times(1)
        .returning(move |_, _, _, _, _| {
            Ok(EventPage {
                events: vec![event(8, subject)],
                has_next_page: false,
            })
        });
    let address = serve(mocks, ApiConfig::default(), LiveSockets::new()).await;
    let (mut socket, ack) = init(address, bearer()).await;
    assert_eq!(ack, Ok(json!({"type": "connection_ack"})));
    subscribe(&mut socket, EVENTS).await;
    for sequence in [6, 7] {
        assert_eq!(
            next(&mut socket).await,
            Ok(
                json!({"id": "1", "type": "next", "payload": {"data": {"events": {"sequence": sequence}}}})
            )
        );
    }
    let ended = next(&mut socket).await.unwrap();
    assert_eq!(ended["type"], "next", "{ended}");
    assert_eq!(
        ended["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{ended}"
    );
    assert_eq!(
        next(&mut socket).await,
        Ok(json!({"id": "1", "type": "complete"}))
    );
    assert_eq!(checks.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_demoted_callers_stream_ends_before_the_batch_is_sent() {
    let mut mocks = Mocks::new().without_authenticator();
    let checks = Arc::new(AtomicUsize::new(0));
    let counted = checks.clone();
    let mut authenticator = MockAuthenticator::new();
    authenticator.expect_authenticate().returning(move |_| {
        Ok(match counted.fetch_add(1, Ordering::SeqCst) {
            0 => actor(),
            _ => domain::Actor {
                role: RoleKind::Guest,
                ..actor()
            },
        })
    });
    mocks.authenticator = authenticator;
    mocks
        .events
        .expect_next_events()
        .times(1)
        .returning(|_, _, _, _, _| {
            Ok(EventPage {
                events: vec![event(6, Subject::Customer(CustomerId::generate()))],
                has_next_page: false,
            })
        });
    let address = serve(mocks, ApiConfig::default(), LiveSockets::new()).await;
    let (mut socket, ack) = init(address, bearer()).await;
    assert_eq!(ack, Ok(json!({"type": "connection_ack"})));
    subscribe(&mut socket, EVENTS).await;
    let ended = next(&mut socket).await.unwrap();
    assert_eq!(
        ended["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{ended}"
    );
    assert!(ended["payload"]["data"].is_null(), "{ended}");
}

#[tokio::test]
async fn an_init_without_a_good_token_is_refused_with_4403() {
    let mut mocks = Mocks::new();
    mocks
        .authenticator
        .expect_authenticate()
        .returning(|_| Err(AuthError::Unauthenticated));
    let address = serve(mocks, ApiConfig::default(), LiveSockets::new()).await;
    for payload in [
        json!({}),
        json!(null),
        json!({"Authorization": "Basic abc"}),
        json!({"token": TOKEN}),
        json!({"authorization": "Bearer forged"}),
    ] {
        let (_, answer) = init(address, payload.clone()).await;
        assert_eq!(answer, Err(4403), "{payload}");
    }
    // Subscribing before the init is not served either.
    let mut socket = open(address).await;
    subscribe(&mut socket, EVENTS).await;
    assert!(next(&mut socket).await.is_err());
}

#[tokio::test]
async fn sockets_are_bounded_per_token_subscriptions_are_priced_and_shutdown_closes_them() {
    let sockets = LiveSockets::new();
    let config = ApiConfig {
        sockets: SocketLimits {
            max_sockets_per_token: 1,
            ..SocketLimits::default()
        },
        ..ApiConfig::default()
    };
    let address = serve(Mocks::new(), config, sockets.clone()).await;
    let (mut first, ack) = init(address, bearer()).await;
    assert_eq!(ack, Ok(json!({"type": "connection_ack"})));
    let (_, second) = init(address, bearer()).await;
    assert_eq!(second, Err(4429));

    // A subscription is refused as `POST /api` refuses a document: before it runs.
    let deep = format!(
        "subscription {{ events {{ sequence {} }} }}",
        " ".repeat(200_000)
    );
    subscribe(&mut first, &deep).await;
    let refused = next(&mut first).await.unwrap();
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "DOCUMENT_TOO_LARGE",
        "{refused}"
    );
    assert_eq!(
        next(&mut first).await,
        Ok(json!({"id": "1", "type": "complete"}))
    );

    sockets.close_all();
    assert_eq!(next(&mut first).await, Err(1001));
    // And new ones are refused while shutting down.
    let request = format!("ws://{address}/api").into_client_request().unwrap();
    let refused = tokio::time::timeout(DEADLINE, tokio_tungstenite::connect_async(request))
        .await
        .unwrap();
    assert!(refused.is_err());
}

#[tokio::test]
async fn a_socket_that_never_authenticates_is_closed_and_anonymous_upgrades_pay_per_address() {
    let config = ApiConfig {
        sockets: SocketLimits {
            init_timeout: Duration::from_millis(200),
            ..SocketLimits::default()
        },
        rate_limits: http_api::RateLimits {
            address_bucket: 2,
            address_restore_per_second: 1,
            ..http_api::RateLimits::default()
        },
        ..ApiConfig::default()
    };
    let sockets = LiveSockets::new();
    let address = serve(Mocks::new(), config, sockets.clone()).await;

    // Two upgrades without a token empty the address's bucket of 2; the third is refused
    // before it upgrades (unless a second passed, refilling one: a slow machine).
    let started = std::time::Instant::now();
    let mut idle = open(address).await;
    let mut other = open(address).await;
    let third = tokio::time::timeout(
        DEADLINE,
        tokio_tungstenite::connect_async(upgrade(address, None)),
    )
    .await
    .unwrap();
    if started.elapsed() < Duration::from_millis(900) {
        match third {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 429);
            }
            other => panic!("expected a 429, got {other:?}"),
        }
    }
    // Never initialised: closed with 4408, their places given back.
    assert_eq!(next(&mut idle).await, Err(4408));
    assert_eq!(next(&mut other).await, Err(4408));

    // A token on the upgrade does not pay the address, and an accepted init outlives the
    // deadline.
    let (mut live, _) = tokio::time::timeout(
        DEADLINE,
        tokio_tungstenite::connect_async(upgrade(address, Some(TOKEN))),
    )
    .await
    .unwrap()
    .unwrap();
    send(&mut live, json!({"type": "connection_init"})).await;
    assert_eq!(next(&mut live).await, Ok(json!({"type": "connection_ack"})));
    tokio::time::sleep(Duration::from_millis(400)).await;
    send(&mut live, json!({"type": "ping"})).await;
    assert_eq!(next(&mut live).await, Ok(json!({"type": "pong"})));
    assert_eq!(sockets.open(), 1);
}

/// The upgrade request for `/api`, with a bearer token when given.
fn upgrade(
    address: SocketAddr,
    token: Option<&str>,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut request = format!("ws://{address}/api").into_client_request().unwrap();
    let headers = request.headers_mut();
    headers.insert(
        "sec-websocket-protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    if let Some(token) = token {
        headers.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
    }
    request
}
