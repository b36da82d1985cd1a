//! `subscription { events }` over a real WebSocket in graphql-transport-ws: what exists
//! after `after`, then what is written, in order; an init without a token refused (4403);
//! on PostgreSQL, events written through another server on the same database, and a
//! reconnect with `after` that loses nothing.

use std::net::SocketAddr;
use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::helpers::{Engine, TestServer, fresh_database, on_both_engines};

/// Generous for a loaded machine; every wait is bounded by it.
const DEADLINE: Duration = Duration::from_secs(20);

const SUBSCRIBE: &str = "subscription($after: String, $types: [String!]) { \
     events(after: $after, types: $types) { sequence type subjectId } }";

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A graphql-transport-ws client on one socket.
struct Client {
    socket: Socket,
}

impl Client {
    /// Opens `ws://address/api`, the token on the upgrade request if `header` is given.
    async fn open(address: SocketAddr, header: Option<&str>) -> Client {
        let mut request = format!("ws://{address}/api").into_client_request().unwrap();
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        if let Some(token) = header {
            request.headers_mut().insert(
                "authorization",
                HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
            );
        }
        let (socket, response) =
            tokio::time::timeout(DEADLINE, tokio_tungstenite::connect_async(request))
                .await
                .expect("upgraded in time")
                .expect("upgraded");
        assert_eq!(
            response.headers().get("sec-websocket-protocol").unwrap(),
            "graphql-transport-ws"
        );
        Client { socket }
    }

    /// Opens a socket and sends `connection_init` with the token in its payload; expects
    /// the ack.
    async fn connected(address: SocketAddr, token: &str) -> Client {
        let mut client = Client::open(address, None).await;
        client
            .send(json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}}))
            .await;
        assert_eq!(client.receive().await, json!({"type": "connection_ack"}));
        client
    }

    async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .expect("sent");
    }

    /// The next protocol message (pings answered on the way); panics on a close.
    async fn receive(&mut self) -> Value {
        match self.next_frame().await {
            Ok(message) => message,
            Err(close) => panic!("closed: {close:?}"),
        }
    }

    /// The next protocol message, or the close frame's code and reason.
    async fn next_frame(&mut self) -> Result<Value, (u16, String)> {
        loop {
            let frame = tokio::time::timeout(DEADLINE, self.socket.next())
                .await
                .expect("a message in time")
                .expect("the socket is open")
                .expect("a frame");
            match frame {
                Message::Text(text) => return Ok(serde_json::from_str(&text).unwrap()),
                Message::Close(frame) => {
                    return Err(frame.map_or((1005, String::new()), |frame| {
                        (frame.code.into(), frame.reason.to_string())
                    }));
                }
                _ => {}
            }
        }
    }

    /// Subscribes to the events after `after`, as subscription `id`.
    async fn subscribe(&mut self, id: &str, after: Option<u64>) {
        self.send(json!({
            "id": id,
            "type": "subscribe",
            "payload": {
                "query": SUBSCRIBE,
                "variables": {"after": after.map(|after| after.to_string())},
            },
        }))
        .await;
    }

    /// The next `count` events of subscription `id`.
    async fn events(&mut self, id: &str, count: usize) -> Vec<Value> {
        let mut events = Vec::new();
        while events.len() < count {
            let message = self.receive().await;
            assert_eq!(message["id"], id, "{message:#}");
            assert_eq!(message["type"], "next", "{message:#}");
            assert!(message["payload"].get("errors").is_none(), "{message:#}");
            events.push(message["payload"]["data"]["events"].clone());
        }
        events
    }
}

/// The sequence of the organization's last event.
async fn last_sequence(server: &TestServer) -> u64 {
    let mut after: Option<String> = None;
    let mut last = 0;
    loop {
        let data = server
            .gql(
                "query($after: String) { events(first: 100, after: $after) { edges { cursor node { sequence } } pageInfo { hasNextPage endCursor } } }",
                json!({"after": after}),
            )
            .await;
        if let Some(edge) = data["events"]["edges"].as_array().and_then(|e| e.last()) {
            last = edge["node"]["sequence"].as_u64().unwrap();
        }
        if data["events"]["pageInfo"]["hasNextPage"] != true {
            return last;
        }
        after = data["events"]["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_owned);
    }
}

/// Creates customers named `names` through `server`; their ids, in order.
async fn create_customers(server: &TestServer, names: &[&str]) -> Vec<String> {
    let mut ids = Vec::new();
    for name in names {
        let data = server
            .gql(
                "mutation($name: String!) { createCustomer(input: {name: $name}) { customer { id } errors { field } } }",
                json!({"name": name}),
            )
            .await;
        ids.push(
            data["createCustomer"]["customer"]["id"]
                .as_str()
                .expect("created")
                .to_owned(),
        );
    }
    ids
}

/// Asserts `events` are the creations of `customers`, at `first`, `first + 1`...
fn assert_created(events: &[Value], customers: &[String], first: u64) {
    assert_eq!(events.len(), customers.len());
    for (offset, (event, customer)) in events.iter().zip(customers).enumerate() {
        assert_eq!(event["type"], "customer.created", "{event:#}");
        assert_eq!(event["subjectId"], customer.as_str(), "{event:#}");
        assert_eq!(event["sequence"], first + offset as u64, "{event:#}");
    }
}

async fn a_subscriber_gets_what_exists_after_its_cursor_then_what_is_written(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let before = create_customers(&server, &["Before"]).await;
    let last = last_sequence(&server).await;
    // The token on the upgrade request; the init's payload may then be empty.
    let mut client = Client::open(server.address, Some(&server.owner_token)).await;
    client.send(json!({"type": "connection_init"})).await;
    assert_eq!(client.receive().await, json!({"type": "connection_ack"}));
    client.subscribe("1", Some(last - 1)).await;
    assert_created(&client.events("1", 1).await, &before, last);
    let written = create_customers(&server, &["One", "Two", "Three"]).await;
    assert_created(&client.events("1", 3).await, &written, last + 1);

    // The token in the init's payload works as well; without any, the init is refused.
    let mut second = Client::connected(server.address, &server.owner_token).await;
    second.subscribe("s", Some(last + 2)).await;
    assert_created(&second.events("s", 1).await, &written[2..], last + 3);
    let mut stranger = Client::open(server.address, None).await;
    stranger
        .send(json!({"type": "connection_init", "payload": {}}))
        .await;
    assert_eq!(stranger.next_frame().await.unwrap_err().0, 4403);
    let mut forger = Client::open(server.address, None).await;
    forger
        .send(
            json!({"type": "connection_init", "payload": {"authorization": "Bearer not.a.token"}}),
        )
        .await;
    assert_eq!(forger.next_frame().await.unwrap_err().0, 4403);
    // A bad token on the upgrade request is refused as `/api` refuses it.
    let mut request = format!("ws://{}/api", server.address)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "authorization",
        HeaderValue::from_static("Bearer not.a.token"),
    );
    let refused = tokio::time::timeout(DEADLINE, tokio_tungstenite::connect_async(request))
        .await
        .expect("answered in time");
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401);
        }
        other => panic!("expected HTTP 401, got {other:?}"),
    }

    // Shutting the server down closes the sockets, which escape the connection drain.
    tokio::time::timeout(DEADLINE, server.stop())
        .await
        .expect("the server stops in time");
    assert_eq!(client.next_frame().await.unwrap_err().0, 1001);
}

on_both_engines!(a_subscriber_gets_what_exists_after_its_cursor_then_what_is_written);

/// Two servers on one PostgreSQL database: a subscriber of A gets what is written through
/// B (the notifier's `pg_notify`, A's feed), and a reconnect with `after` loses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_of_one_server_gets_events_written_through_another() {
    if crate::helpers::postgres_admin_url().is_none() {
        return;
    }
    let database_url = fresh_database(Engine::Postgres).await;
    let a = TestServer::spawn_on(database_url.clone()).await;
    let mut b = TestServer::spawn_on(database_url).await;
    b.owner_token = a.owner_token.clone();
    let last = last_sequence(&a).await;
    let mut client = Client::connected(a.address, &a.owner_token).await;
    client.subscribe("1", Some(last)).await;
    let written = create_customers(&b, &["One", "Two", "Three"]).await;
    let got = client.events("1", 3).await;
    assert_created(&got, &written, last + 1);

    // Gone while more is written; back with the last sequence seen.
    drop(client);
    let meanwhile = create_customers(&b, &["Four", "Five"]).await;
    let mut client = Client::connected(a.address, &a.owner_token).await;
    client.subscribe("2", Some(last + 3)).await;
    assert_created(&client.events("2", 2).await, &meanwhile, last + 4);
    let later = create_customers(&b, &["Six"]).await;
    assert_created(&client.events("2", 1).await, &later, last + 6);
    b.stop().await;
    a.stop().await;
}
