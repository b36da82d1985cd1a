//! The `roster` binary as an operator runs it: serve on the embedded default, print the
//! bootstrap token, mint tokens, create organizations, stop on SIGTERM.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

const ROSTER: &str = env!("CARGO_BIN_EXE_roster");

fn temp_database() -> (String, std::path::PathBuf) {
    let path =
        std::env::temp_dir().join(format!("roster-cli-{}.db", uuid::Uuid::new_v4().simple()));
    (format!("sqlite://{}", path.display()), path)
}

fn roster(args: &[&str]) -> Output {
    Command::new(ROSTER)
        .args(args)
        .env_remove("ROSTER_TOKEN_SECRET")
        .output()
        .expect("roster runs")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server {
    child: Child,
    address: String,
    token: String,
}

fn serve(database: &str) -> Server {
    let address = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(ROSTER)
        .args(["serve", "--listen", &address, "--database", database])
        .env_remove("ROSTER_TOKEN_SECRET")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("roster serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .take(3)
        .map(Result::unwrap)
        .collect();
    assert!(
        lines[0].contains("Created organization \"Default\" with owner owner@localhost"),
        "{lines:?}"
    );
    let token = lines[2].trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    Server {
        child,
        address,
        token,
    }
}

fn request(address: &str, token: &str, query: &str) -> (u16, serde_json::Value) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let sent = client
                .post(format!("http://{address}/api"))
                .bearer_auth(token)
                .json(&json!({"query": query}))
                .send()
                .await;
            match sent {
                Ok(response) => {
                    let status = response.status().as_u16();
                    return (status, response.json().await.unwrap());
                }
                Err(error) if Instant::now() < deadline => {
                    let _ = error;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("server never answered: {error}"),
            }
        }
    })
}

fn last_line(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

#[test]
fn every_command_has_help() {
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["init", "--help"],
        &["token", "--help"],
        &["token-key", "--help"],
        &["token-key", "rotate", "--help"],
        &["schema", "--help"],
    ] {
        let output = roster(args);
        assert!(output.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("--help"),
            "{args:?}"
        );
    }
    let serve_help = String::from_utf8_lossy(&roster(&["serve", "--help"]).stdout).into_owned();
    assert!(
        serve_help.contains("ROSTER_DATABASE_URL") && serve_help.contains("ROSTER_LISTEN"),
        "{serve_help}"
    );
}

#[test]
fn serve_bootstraps_tokens_work_and_sigterm_stops_it() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (database, path) = temp_database();
    let mut server = serve(&database);

    let (status, body) = request(
        &server.address,
        &server.token,
        "{ authenticatedUser { email } }",
    );
    assert_eq!(
        (status, &body["data"]["authenticatedUser"]["email"]),
        (200, &json!("owner@localhost"))
    );

    let minted = last_line(&roster(&[
        "token",
        "--email",
        "owner@localhost",
        "--database",
        &database,
    ]));
    let (status, _) = request(&server.address, &minted, "{ authenticatedUser { email } }");
    assert_eq!(status, 200, "roster token mints a token the server accepts");

    let created = roster(&[
        "init",
        "--organization",
        "Second",
        "--owner-email",
        "boss@second.example",
        "--database",
        &database,
    ]);
    let second = last_line(&created);
    let (status, body) = request(&server.address, &second, "{ organization { name } }");
    assert_eq!(
        (status, &body["data"]["organization"]["name"]),
        (200, &json!("Second"))
    );
    let again = roster(&[
        "init",
        "--organization",
        "second",
        "--owner-email",
        "x@second.example",
        "--database",
        &database,
    ]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let unknown = roster(&[
        "token",
        "--email",
        "nobody@example.com",
        "--database",
        &database,
    ]);
    assert!(!unknown.status.success());

    let (status, _) = request(
        &server.address,
        "garbage",
        "{ authenticatedUser { email } }",
    );
    assert_eq!(status, 401);

    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "roster did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "graceful shutdown exits 0: {status}");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// `roster password` reads the password from standard input and checks it.
#[test]
fn password_is_read_from_stdin_and_checked() {
    use std::io::Write;
    let (database, path) = temp_database();
    let init = roster(&[
        "init",
        "--organization",
        "Acme",
        "--owner-email",
        "ada@acme.example",
        "--database",
        &database,
    ]);
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let set = |email: &str, input: &str| {
        let mut child = Command::new(ROSTER)
            .args(["password", "--email", email, "--database", &database])
            .env_remove("ROSTER_TOKEN_SECRET")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let short = set("ada@acme.example", "too short\n");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 12"));
    let unknown = set("nobody@acme.example", "long enough password\n");
    assert!(!unknown.status.success());
    let done = set("ada@acme.example", "long enough password\n");
    assert_eq!(last_line(&done), "Password set for ada@acme.example.");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// `roster token --ttl` mints up to the maximum lifetime; `roster token-key` rotates, lists
/// and retires the signing keys.
#[test]
fn token_lifetimes_and_token_keys_from_the_command_line() {
    let (database, path) = temp_database();
    let init = roster(&[
        "init",
        "--organization",
        "Keys",
        "--owner-email",
        "boss@keys.example",
        "--database",
        &database,
    ]);
    assert_eq!(last_line(&init).split('.').count(), 3);
    let mint = |ttl: &str| {
        roster(&[
            "token",
            "--email",
            "boss@keys.example",
            "--ttl",
            ttl,
            "--database",
            &database,
        ])
    };
    assert_eq!(last_line(&mint("7d")).split('.').count(), 3);
    let too_long = mint("31d");
    assert!(!too_long.status.success());
    assert!(
        String::from_utf8_lossy(&too_long.stderr).contains("maximum lifetime"),
        "{}",
        String::from_utf8_lossy(&too_long.stderr)
    );

    let list = || {
        let output = roster(&["token-key", "list", "--database", &database]);
        assert!(output.status.success());
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|line| line.split('\t').next().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(list(), ["original"]);
    let rotated = roster(&["token-key", "rotate", "--database", &database]);
    assert!(rotated.status.success());
    let keys = list();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_eq!(keys[0], "original");
    let kid = keys[1].clone();
    assert!(String::from_utf8_lossy(&rotated.stdout).contains(&kid));
    let retire = |kid: &str| roster(&["token-key", "retire", kid, "--database", &database]);
    assert!(retire(&kid).status.success());
    assert!(!retire(&kid).status.success(), "already retired");
    assert_eq!(list(), ["original"]);
    // A configured secret is retired by changing the configuration.
    let configured = Command::new(ROSTER)
        .args(["token-key", "retire", "original", "--database", &database])
        .env(
            "ROSTER_TOKEN_SECRET",
            "a configured secret of 32 bytes or more",
        )
        .output()
        .expect("roster runs");
    assert!(!configured.status.success());
    assert!(String::from_utf8_lossy(&configured.stderr).contains("ROSTER_TOKEN_SECRET"));
    assert!(
        retire("original").status.success(),
        "the stored original key"
    );
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
