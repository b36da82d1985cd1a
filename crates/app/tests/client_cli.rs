//! The `roster` binary's client commands against real servers spawned in-process on
//! 127.0.0.1: every subcommand, each output format, each exit code, import run twice, and
//! sync between two servers run twice.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]

use std::path::PathBuf;
use std::process::Output;

use app::{Application, ServeSettings};
use http_api::ApiConfig;
use serde_json::Value;
use tokio::sync::oneshot;

const ROSTER: &str = env!("CARGO_BIN_EXE_roster");

/// A server on a fresh SQLite database, stopped and removed on drop.
struct Server {
    url: String,
    token: String,
    path: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Server {
    async fn spawn() -> Server {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let path = std::env::temp_dir().join(format!(
            "roster-client-cli-{}.db",
            uuid::Uuid::new_v4().simple()
        ));
        let app = Application::build(ServeSettings {
            listen: "127.0.0.1:0".parse().unwrap(),
            database_url: format!("sqlite://{}", path.display()),
            token_secret: None,
            tokens: service::TokenSettings::default(),
            api: ApiConfig::default(),
            mail: app::MailSettings::default(),
            connections: app::ConnectionSettings::default(),
            pool: app::PoolSettings::default(),
            actor_cache: service::ActorCacheSettings::default(),
            webhooks: app::WebhookSettings::default(),
        })
        .await
        .unwrap();
        let url = format!("http://{}", app.local_addr().unwrap());
        let token = app.bootstrap().unwrap().token.token.clone();
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        Server {
            url,
            token,
            path,
            shutdown: Some(shutdown),
        }
    }

    /// Runs `roster ARGS` against this server (URL and token from the environment).
    async fn roster(&self, args: &[&str]) -> Output {
        run(
            args,
            &[("ROSTER_URL", &self.url), ("ROSTER_TOKEN", &self.token)],
        )
        .await
    }

    /// Runs `roster ARGS -o json`, expects success, and parses stdout.
    async fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["--output", "json"]);
        let output = self.roster(&all).await;
        assert_eq!(code(&output), 0, "{args:?}: {}", stderr(&output));
        serde_json::from_slice(&output.stdout).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

/// Runs the binary with only the given client variables set.
async fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = tokio::process::Command::new(ROSTER);
    command.args(args).env("RUST_LOG", "warn");
    for name in [
        "ROSTER_URL",
        "ROSTER_TOKEN",
        "PRISMATIC_URL",
        "PRISM_ACCESS_TOKEN",
        "ROSTER_FROM_TOKEN",
        "ROSTER_TO_TOKEN",
    ] {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().await.expect("roster runs")
}

fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn temp_file(name: &str, contents: &str) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("roster-{}-{name}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, contents).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_create_get_update_list_delete_in_every_format() {
    let server = Server::spawn().await;
    let created = server
        .json(&[
            "customers",
            "create",
            "--name",
            "FTL Rockets",
            "--external-id",
            "ftl",
            "--label",
            "space",
            "--label",
            "vip",
            "--description",
            "Rockets, fast",
        ])
        .await;
    assert_eq!(created["name"], "FTL Rockets");
    assert_eq!(created["labels"], serde_json::json!(["space", "vip"]));
    let id = created["id"].as_str().unwrap().to_owned();

    let table = server.roster(&["customers", "get", &id]).await;
    assert_eq!(code(&table), 0, "{}", stderr(&table));
    let lines: Vec<String> = stdout(&table).lines().map(str::to_owned).collect();
    assert!(lines[0].starts_with("ID "), "{lines:?}");
    assert!(lines[0].contains("  NAME  "), "aligned header: {lines:?}");
    assert_eq!(
        lines[0].find("NAME"),
        lines[1].find("FTL Rockets"),
        "{lines:?}"
    );

    let csv = server
        .roster(&["customers", "get", &id, "--output", "csv"])
        .await;
    assert_eq!(
        stdout(&csv),
        format!(
            "ID,NAME,EXTERNAL ID,LABELS,DESCRIPTION\n{id},FTL Rockets,ftl,space;vip,\"Rockets, fast\"\n"
        )
    );

    let updated = server
        .json(&[
            "customers",
            "update",
            &id,
            "--description",
            "Slower",
            "--clear-labels",
        ])
        .await;
    assert_eq!(updated["description"], "Slower");
    assert_eq!(updated["labels"], serde_json::json!([]));
    assert_eq!(updated["externalId"], "ftl", "unsent fields are unchanged");

    server
        .json(&["customers", "create", "--name", "Acme"])
        .await;
    let listed = server.json(&["customers", "list"]).await;
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Acme", "FTL Rockets"]);
    let filtered = server
        .json(&["customers", "list", "--search", "rock"])
        .await;
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    let listed_csv = server.roster(&["customers", "list", "-o", "csv"]).await;
    assert_eq!(
        stdout(&listed_csv).lines().count(),
        3,
        "header and two rows"
    );

    let deleted = server.json(&["customers", "delete", &id]).await;
    assert_eq!(deleted["id"], id.as_str());
    let gone = server.roster(&["customers", "get", &id]).await;
    assert_eq!(code(&gone), 1);
    assert_eq!(stderr(&gone).trim(), "error: Record not found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payload_errors_exit_1_with_field_lines() {
    let server = Server::spawn().await;
    server
        .json(&[
            "customers",
            "create",
            "--name",
            "Acme",
            "--external-id",
            "a",
        ])
        .await;
    let taken = server
        .roster(&["customers", "create", "--name", "ACME"])
        .await;
    assert_eq!(code(&taken), 1);
    assert_eq!(
        stderr(&taken).trim(),
        "name: Customer with this name already exists."
    );
    let invalid = server
        .roster(&[
            "customers",
            "create",
            "--name",
            " ",
            "--label",
            "x",
            "--label",
            "x",
        ])
        .await;
    assert_eq!(code(&invalid), 1);
    let lines: Vec<String> = stderr(&invalid).lines().map(str::to_owned).collect();
    assert_eq!(
        lines,
        [
            "name: This field is required.",
            "labels: Duplicate label \"x\"."
        ]
    );
    let unknown_id = server
        .roster(&[
            "customers",
            "delete",
            "Q3VzdG9tZXI6ZDM0NTZjZWItNTNlOS00YmI5LWFhODItN2QyZDQ3YjZkMTA4",
        ])
        .await;
    assert_eq!(code(&unknown_id), 1);
    assert_eq!(stderr(&unknown_id).trim(), "id: Record not found.");
    let bad_id = server.roster(&["users", "get", "nope"]).await;
    assert_eq!(code(&bad_id), 1);
    assert_eq!(stderr(&bad_id).trim(), "id: Invalid ID");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expected_versions_refuse_stale_changes() {
    let server = Server::spawn().await;
    let created = server
        .json(&["customers", "create", "--name", "Versioned"])
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["version"], 1);
    let stale = server
        .roster(&[
            "customers",
            "update",
            &id,
            "--description",
            "late",
            "--expected-version",
            "2",
        ])
        .await;
    assert_eq!(code(&stale), 1);
    assert_eq!(
        stderr(&stale).trim(),
        "expectedVersion: The record changed since this version; read it again."
    );
    let refused = server
        .roster(&["customers", "delete", &id, "--expected-version", "2"])
        .await;
    assert_eq!(code(&refused), 1, "{}", stderr(&refused));
    let updated = server
        .json(&[
            "customers",
            "update",
            &id,
            "--description",
            "on time",
            "--expected-version",
            "1",
        ])
        .await;
    assert_eq!(updated["description"], "on time");
    assert_eq!(updated["version"], 2);
    let deleted = server
        .json(&["customers", "delete", &id, "--expected-version", "2"])
        .await;
    assert_eq!(deleted["id"], id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_roles_commands() {
    let server = Server::spawn().await;
    let member = server
        .json(&[
            "users",
            "create",
            "--email",
            "dev@example.com",
            "--role",
            "integrator",
            "--name",
            "Dev",
        ])
        .await;
    assert_eq!(member["role"], "Integrator");
    assert_eq!(member["customer"], Value::Null);
    let team = server.json(&["users", "list"]).await;
    let emails: Vec<&str> = team
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        ["owner@localhost", "dev@example.com"],
        "by name; the owner has none"
    );

    let acme = server
        .json(&["customers", "create", "--name", "Acme"])
        .await;
    let acme_id = acme["id"].as_str().unwrap();
    let ann = server
        .json(&[
            "users",
            "create",
            "--customer",
            acme_id,
            "--email",
            "ann@acme.example",
            "--role",
            "Admin",
            "--phone",
            "+15555550123",
        ])
        .await;
    assert_eq!(ann["customer"], acme_id);
    assert_eq!(ann["role"], "Admin");
    let ann_id = ann["id"].as_str().unwrap();
    let of_acme = server
        .roster(&["users", "list", "--customer", acme_id, "-o", "csv"])
        .await;
    let text = stdout(&of_acme);
    assert!(
        text.starts_with("ID,EMAIL,NAME,ROLE,CUSTOMER,EXTERNAL ID\n"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains("ann@acme.example"), "{text}");

    let updated = server
        .json(&[
            "users", "update", ann_id, "--name", "Ann", "--role", "Member", "--phone", "",
        ])
        .await;
    assert_eq!(updated["name"], "Ann");
    assert_eq!(updated["role"], "Member");
    assert_eq!(updated["phone"], "");
    let got = server.json(&["users", "get", ann_id]).await;
    assert_eq!(got, updated);
    let no_role = server
        .roster(&[
            "users",
            "create",
            "--email",
            "x@example.com",
            "--role",
            "Wizard",
        ])
        .await;
    assert_eq!(code(&no_role), 1);
    assert!(
        stderr(&no_role).starts_with("role: No role named \"Wizard\""),
        "{}",
        stderr(&no_role)
    );
    assert_eq!(got["active"], true);
    let off = server.json(&["users", "deactivate", ann_id]).await;
    assert_eq!(off["active"], false);
    assert_eq!(off["version"], got["version"].as_i64().unwrap() + 1);
    let stale = server
        .roster(&["users", "reactivate", ann_id, "--expected-version", "1"])
        .await;
    assert_eq!(code(&stale), 1, "{}", stderr(&stale));
    let on = server.json(&["users", "reactivate", ann_id]).await;
    assert_eq!(on["active"], true);
    server.json(&["users", "delete", ann_id]).await;
    assert_eq!(code(&server.roster(&["users", "get", ann_id]).await), 1);

    let roles = server.json(&["roles", "list"]).await;
    let names: Vec<&str> = roles
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Owner", "Admin", "Customer Manager", "Integrator", "Guest"]
    );
    let customer_roles = server.roster(&["roles", "list", "--customer"]).await;
    let table = stdout(&customer_roles);
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.contains("Marketplace User"), "{table}");
    assert_eq!(table.lines().count(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whoami_and_query_also_with_prismatic_variables() {
    let server = Server::spawn().await;
    let me = server.json(&["whoami"]).await;
    assert_eq!(me["email"], "owner@localhost");
    assert_eq!(me["role"], "Owner");
    let prismatic = run(
        &["whoami", "-o", "csv"],
        &[
            ("PRISMATIC_URL", &server.url),
            ("PRISM_ACCESS_TOKEN", &server.token),
        ],
    )
    .await;
    assert_eq!(code(&prismatic), 0, "{}", stderr(&prismatic));
    assert!(stdout(&prismatic).contains("owner@localhost"));

    let created = server
        .roster(&[
            "query",
            "mutation($n: String!) { createCustomer(input: {name: $n}) { customer { name } errors { field messages } } }",
            "--variables",
            r#"{"n": "Acme"}"#,
        ])
        .await;
    assert_eq!(code(&created), 0, "{}", stderr(&created));
    let data: Value = serde_json::from_slice(&created.stdout).unwrap();
    assert_eq!(data["createCustomer"]["customer"]["name"], "Acme");
    let document = temp_file("count.graphql", "{ customers { totalCount } }");
    let counted = server
        .roster(&["query", &format!("@{}", document.display())])
        .await;
    let data: Value = serde_json::from_slice(&counted.stdout).unwrap();
    assert_eq!(data["customers"]["totalCount"], 1);
    let _ = std::fs::remove_file(document);

    let not_found = server
        .roster(&["query", r#"{ customer(id: "Q3VzdG9tZXI6ZDM0NTZjZWItNTNlOS00YmI5LWFhODItN2QyZDQ3YjZkMTA4") { id } }"#])
        .await;
    assert_eq!(code(&not_found), 1);
    assert_eq!(stderr(&not_found).trim(), "error: Record not found");
    let bad_variables = server
        .roster(&["query", "{ x }", "--variables", "[1"])
        .await;
    assert_eq!(code(&bad_variables), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_for_usage_authentication_and_connection() {
    let server = Server::spawn().await;
    let no_token = run(&["whoami", "--url", &server.url], &[]).await;
    assert_eq!(code(&no_token), 2);
    assert!(
        stderr(&no_token).contains("no access token"),
        "{}",
        stderr(&no_token)
    );
    let unknown = server.roster(&["customers", "frobnicate"]).await;
    assert_eq!(code(&unknown), 2);
    let missing_name = server.roster(&["customers", "create"]).await;
    assert_eq!(code(&missing_name), 2);

    let bad_token = run(
        &["customers", "list", "--url", &server.url, "--token", "nope"],
        &[],
    )
    .await;
    assert_eq!(code(&bad_token), 3);
    assert_eq!(
        stderr(&bad_token).trim(),
        "roster: not authenticated: Not authenticated"
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    let unreachable = run(
        &[
            "whoami",
            "--url",
            &format!("http://{address}"),
            "--token",
            "t",
            "--timeout",
            "2",
        ],
        &[],
    )
    .await;
    assert_eq!(code(&unreachable), 4);
    assert!(
        stderr(&unreachable).contains("cannot reach"),
        "{}",
        stderr(&unreachable)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_upserts_by_external_id_and_a_second_run_changes_nothing() {
    let server = Server::spawn().await;
    server
        .json(&[
            "customers",
            "create",
            "--name",
            "Old Name",
            "--external-id",
            "acme-1",
        ])
        .await;
    let csv = temp_file(
        "customers.csv",
        "name,description,externalId,labels\n\
         Acme,Rockets,acme-1,a;b\n\
         \"Globex, Inc\",,glx,\n\
         ,missing name,bad-1,\n\
         No External Id,,,\n\
         Initech,x,ini,dup;dup\n\
         Umbrella,,umb,bio\n",
    );
    let path = csv.display().to_string();
    let first = server.roster(&["customers", "import", &path]).await;
    assert_eq!(code(&first), 1, "bad rows are reported");
    assert_eq!(
        stdout(&first).trim(),
        "created: 2, updated: 1, unchanged: 0, failed: 3"
    );
    let errors: Vec<String> = stderr(&first).lines().map(str::to_owned).collect();
    assert_eq!(
        errors,
        [
            "line 4: name: This field is required.",
            "line 5: externalId: This field is required (rows are matched by it).",
            "line 6: labels: Duplicate label \"dup\".",
        ]
    );
    let second = server
        .roster(&["customers", "import", &path, "-o", "json"])
        .await;
    assert_eq!(code(&second), 1);
    let summary: Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(summary["created"], 0);
    assert_eq!(summary["updated"], 0);
    assert_eq!(summary["unchanged"], 3);
    assert_eq!(summary["failed"].as_array().unwrap().len(), 3);
    assert_eq!(summary["failed"][0]["line"], 4);

    let exported = server.roster(&["customers", "export"]).await;
    assert_eq!(
        stdout(&exported),
        "name,description,externalId,labels\n\
         Acme,Rockets,acme-1,a;b\n\
         \"Globex, Inc\",,glx,\n\
         Umbrella,,umb,bio\n"
    );
    let jsonl = server
        .roster(&["customers", "export", "--format", "jsonl"])
        .await;
    let lines = stdout(&jsonl);
    let jsonl_file = temp_file(
        "customers.jsonl",
        &lines.replace("Rockets", "Rockets again"),
    );
    let reimport = server
        .roster(&["customers", "import", &jsonl_file.display().to_string()])
        .await;
    assert_eq!(code(&reimport), 0, "{}", stderr(&reimport));
    assert_eq!(
        stdout(&reimport).trim(),
        "created: 0, updated: 1, unchanged: 2, failed: 0"
    );
    let _ = std::fs::remove_file(csv);
    let _ = std::fs::remove_file(jsonl_file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_copies_customers_and_users_and_a_second_run_changes_nothing() {
    let source = Server::spawn().await;
    let target = Server::spawn().await;
    let acme = source
        .json(&[
            "customers",
            "create",
            "--name",
            "Acme",
            "--external-id",
            "acme",
            "--label",
            "x",
        ])
        .await;
    source
        .json(&["customers", "create", "--name", "Globex"])
        .await;
    source
        .json(&[
            "users",
            "create",
            "--customer",
            acme["id"].as_str().unwrap(),
            "--email",
            "ann@acme.example",
            "--role",
            "Admin",
            "--name",
            "Ann",
        ])
        .await;
    // The target already has Globex under another description: matched by name, updated.
    target
        .json(&[
            "customers",
            "create",
            "--name",
            "globex",
            "--description",
            "old",
        ])
        .await;
    let sync = |dry_run: bool| {
        let mut args = vec![
            "sync".to_owned(),
            "--from".to_owned(),
            source.url.clone(),
            "--to".to_owned(),
            target.url.clone(),
        ];
        if dry_run {
            args.push("--dry-run".to_owned());
        }
        let env = [
            ("ROSTER_FROM_TOKEN", source.token.clone()),
            ("ROSTER_TO_TOKEN", target.token.clone()),
        ];
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            run(&args, &env).await
        }
    };
    let plan = sync(true).await;
    assert_eq!(code(&plan), 0, "{}", stderr(&plan));
    assert_eq!(
        stdout(&plan),
        "would create customer \"Acme\"\n\
         would update customer \"globex\": name, description\n\
         would create user ann@acme.example of \"Acme\"\n\
         3 changes planned, 0 customers and 0 users unchanged\n"
    );
    assert_eq!(
        target
            .json(&["customers", "list"])
            .await
            .as_array()
            .unwrap()
            .len(),
        1,
        "a dry run changes nothing"
    );
    let first = sync(false).await;
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    assert!(
        stdout(&first)
            .ends_with("3 changes applied, 0 failed, 0 customers and 0 users unchanged\n"),
        "{}",
        stdout(&first)
    );
    let second = sync(false).await;
    assert_eq!(code(&second), 0, "{}", stderr(&second));
    assert_eq!(
        stdout(&second),
        "0 changes applied, 0 failed, 2 customers and 1 users unchanged\n"
    );
    let copied = target
        .json(&["customers", "list", "--external-id", "acme"])
        .await;
    assert_eq!(copied[0]["labels"], serde_json::json!(["x"]));
    let users = target
        .json(&[
            "users",
            "list",
            "--customer",
            copied[0]["id"].as_str().unwrap(),
        ])
        .await;
    assert_eq!(users[0]["email"], "ann@acme.example");
    assert_eq!(users[0]["role"], "Admin");
    assert_eq!(users[0]["name"], "Ann");

    let bad = run(
        &[
            "sync",
            "--from",
            &source.url,
            "--from-token",
            "nope",
            "--to",
            &target.url,
            "--to-token",
            &target.token,
        ],
        &[],
    )
    .await;
    assert_eq!(code(&bad), 3);
}

/// `events list` with `extra` arguments.
fn events_list<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["events", "list"];
    all.extend(extra);
    all
}

/// The events of `args` (`events list ... -o json`), as (type, sequence) pairs.
async fn event_types(server: &Server, args: &[&str]) -> Vec<(String, u64)> {
    server
        .json(&events_list(args))
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_owned(),
                e["sequence"].as_u64().unwrap(),
            )
        })
        .collect()
}

const CUSTOMER_EVENTS: [&str; 4] = ["--type", "customer.created", "--type", "customer.updated"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_list_filters_and_pages_and_tail_follows_until_ctrl_c() {
    let server = Server::spawn().await;
    let created = server
        .json(&["customers", "create", "--name", "Logged"])
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    server
        .json(&["customers", "update", &id, "--description", "Changed"])
        .await;
    server
        .json(&["customers", "create", "--name", "Other"])
        .await;

    let listed = server.json(&events_list(&CUSTOMER_EVENTS)).await;
    let events = listed.as_array().unwrap();
    assert_eq!(events.len(), 3, "{listed:#}");
    assert_eq!(events[0]["type"], "customer.created");
    assert_eq!(events[0]["subjectId"], id.as_str());
    assert_eq!(events[0]["after"]["name"], "Logged");
    assert_eq!(events[1]["type"], "customer.updated");
    assert_eq!(events[1]["after"]["description"], "Changed");
    assert_eq!(events[1]["before"]["description"], "");
    assert_eq!(events[2]["after"]["name"], "Other");
    let sequences: Vec<u64> = events
        .iter()
        .map(|e| e["sequence"].as_u64().unwrap())
        .collect();
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");

    let of_subject = event_types(&server, &["--subject", &id]).await;
    assert_eq!(
        of_subject
            .iter()
            .map(|(t, _)| t.as_str())
            .collect::<Vec<_>>(),
        ["customer.created", "customer.updated"]
    );
    let updates = event_types(&server, &["--type", "customer.updated"]).await;
    assert_eq!(updates, [("customer.updated".to_owned(), sequences[1])]);
    let after_first = event_types(
        &server,
        &[
            &CUSTOMER_EVENTS[..],
            &["--after", &sequences[0].to_string()],
        ]
        .concat(),
    )
    .await;
    assert_eq!(
        after_first.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
        sequences[1..]
    );

    let first = server
        .roster(&events_list(
            &[&CUSTOMER_EVENTS[..], &["--first", "1"]].concat(),
        ))
        .await;
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    let lines: Vec<&str> = std::str::from_utf8(&first.stdout)
        .unwrap()
        .lines()
        .collect();
    assert!(lines[0].starts_with("SEQ "), "{lines:?}");
    assert_eq!(
        lines[0].find("TYPE"),
        lines[1].find("customer.created"),
        "{lines:?}"
    );
    assert_eq!(lines.len(), 2, "one event: {lines:?}");
    assert!(
        stderr(&first).contains(&format!("--after {}", sequences[0])),
        "{}",
        stderr(&first)
    );

    let unknown = server
        .roster(&["events", "list", "--type", "customer.made"])
        .await;
    assert_eq!(code(&unknown), 2, "{}", stderr(&unknown));
    assert!(stderr(&unknown).contains("customer.created"));

    // Tail from now: the events written before it started never show; one written after
    // does, within its one-second poll; Ctrl-C ends it with success.
    let mut tail = tokio::process::Command::new(ROSTER)
        .args(["events", "tail", "--type", "customer.created", "-o", "json"])
        .env("ROSTER_URL", &server.url)
        .env("ROSTER_TOKEN", &server.token)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines =
        tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(tail.stdout.take().unwrap()));
    let mut written = Vec::new();
    let seen = loop {
        assert!(written.len() < 40, "tail printed nothing");
        let name = format!("Tailed {}", written.len());
        let customer = server.json(&["customers", "create", "--name", &name]).await;
        written.push(customer["id"].as_str().unwrap().to_owned());
        if let Ok(line) =
            tokio::time::timeout(std::time::Duration::from_millis(500), lines.next_line()).await
        {
            break line.unwrap().expect("a line");
        }
    };
    let seen: Value = serde_json::from_str(&seen).unwrap();
    assert_eq!(seen["type"], "customer.created");
    assert!(
        written.iter().any(|id| seen["subjectId"] == id.as_str()),
        "{seen:#} is one written after tail started"
    );
    assert!(seen["sequence"].as_u64().unwrap() > sequences[2]);

    let pid = tail.id().unwrap().to_string();
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), tail.wait())
        .await
        .expect("tail stops on Ctrl-C")
        .unwrap();
    assert_eq!(status.code(), Some(0), "Ctrl-C is a normal end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_command_has_help() {
    for args in [
        &["customers", "--help"][..],
        &["customers", "list", "--help"],
        &["customers", "get", "--help"],
        &["customers", "create", "--help"],
        &["customers", "update", "--help"],
        &["customers", "delete", "--help"],
        &["customers", "import", "--help"],
        &["customers", "export", "--help"],
        &["users", "list", "--help"],
        &["users", "get", "--help"],
        &["users", "create", "--help"],
        &["users", "update", "--help"],
        &["users", "delete", "--help"],
        &["users", "deactivate", "--help"],
        &["users", "reactivate", "--help"],
        &["roles", "list", "--help"],
        &["whoami", "--help"],
        &["query", "--help"],
        &["sync", "--help"],
        &["events", "list", "--help"],
        &["events", "tail", "--help"],
        &["scim-tokens", "create", "--help"],
        &["scim-tokens", "list", "--help"],
        &["scim-tokens", "delete", "--help"],
    ] {
        let output = run(args, &[]).await;
        assert_eq!(code(&output), 0, "{args:?}");
        assert!(stdout(&output).contains("Usage: roster"), "{args:?}");
    }
    let top = stdout(&run(&["--help"], &[]).await);
    for command in [
        "customers",
        "users",
        "roles",
        "whoami",
        "query",
        "sync",
        "events",
        "serve",
    ] {
        assert!(top.contains(command), "{command} in {top}");
    }
}

/// `roster webhooks`: create shows the secret once (stderr) and the endpoint; list, the
/// deliveries (none: this server has no sender), a redelivery queued, and delete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_created_listed_redelivered_and_deleted() {
    let server = Server::spawn().await;
    let created = server
        .roster(&[
            "webhooks",
            "create",
            "https://hooks.example.com/roster",
            "--type",
            "customer.created",
            "--exclude-client-id",
            "sync-1",
            "-o",
            "json",
        ])
        .await;
    assert_eq!(code(&created), 0, "{}", stderr(&created));
    assert!(stderr(&created).contains("whsec_"), "{}", stderr(&created));
    let endpoint: Value = serde_json::from_slice(&created.stdout).unwrap();
    let id = endpoint["id"].as_str().unwrap().to_owned();
    assert_eq!(
        endpoint["eventTypes"],
        serde_json::json!(["customer.created"])
    );
    assert_eq!(endpoint["excludeClientId"], "sync-1");

    let private = server
        .roster(&["webhooks", "create", "http://127.0.0.1:9/hook"])
        .await;
    assert_ne!(code(&private), 0);
    assert!(stderr(&private).contains("url"), "{}", stderr(&private));

    let listed = server.json(&["webhooks", "list"]).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());
    assert!(listed[0].get("secret").is_none());

    let events = server.json(&["events", "list"]).await;
    let event = events.as_array().unwrap().last().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let redelivered = server
        .roster(&["webhooks", "redeliver", &id, "--event", &event])
        .await;
    assert_eq!(code(&redelivered), 0, "{}", stderr(&redelivered));
    let deliveries = server.json(&["webhooks", "deliveries", &id]).await;
    assert_eq!(deliveries[0]["origin"], "redeliver");
    assert_eq!(deliveries[0]["status"], "pending");

    let deleted = server.json(&["webhooks", "delete", &id]).await;
    assert_eq!(deleted["id"], id.as_str());
    assert_eq!(
        server.json(&["webhooks", "list"]).await,
        serde_json::json!([])
    );
}

/// `roster scim-tokens`: create shows the token once (stderr) and its preview; list shows
/// previews only; the token is no access token for `/api` (exit 3, the 401); update turns
/// invitations on (one event; the same again, none); the log has the events and never the
/// token; delete revokes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim_tokens_are_created_listed_refused_at_the_api_and_deleted() {
    let server = Server::spawn().await;
    let customer = server
        .json(&["customers", "create", "--name", "Acme"])
        .await;
    let customer = customer["id"].as_str().unwrap().to_owned();
    let created = server
        .roster(&[
            "scim-tokens",
            "create",
            "--customer",
            &customer,
            "--description",
            "Okta production",
            "-o",
            "json",
        ])
        .await;
    assert_eq!(code(&created), 0, "{}", stderr(&created));
    let shown = stderr(&created);
    let secret = shown
        .split_whitespace()
        .find(|word| word.starts_with("roster_scim_"))
        .unwrap_or_else(|| panic!("no token in {shown}"))
        .to_owned();
    let token: Value = serde_json::from_slice(&created.stdout).unwrap();
    let id = token["id"].as_str().unwrap().to_owned();
    assert_eq!(token["customerId"], customer.as_str());
    assert_eq!(token["description"], "Okta production");
    assert_eq!(token["sendInvitations"], false);
    assert_eq!(token["preview"], secret[..20]);
    assert!(!stdout(&created).contains(&secret));

    let bad = server
        .roster(&[
            "scim-tokens",
            "create",
            "--customer",
            &customer,
            "--description",
            "",
        ])
        .await;
    assert_eq!(code(&bad), 1);
    assert!(stderr(&bad).contains("description"), "{}", stderr(&bad));

    let listed = server
        .json(&["scim-tokens", "list", "--customer", &customer])
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["lastUsedAt"], Value::Null);
    assert!(!listed.to_string().contains(&secret));

    // A SCIM token opens no door of the API.
    let refused = run(
        &["whoami"],
        &[("ROSTER_URL", &server.url), ("ROSTER_TOKEN", &secret)],
    )
    .await;
    assert_eq!(code(&refused), 3, "{}", stderr(&refused));

    // Invitations turned on after creation, then the same again (no change, no event).
    let updated = server
        .json(&["scim-tokens", "update", &id, "--send-invitations", "true"])
        .await;
    assert_eq!(
        (updated["id"].as_str(), updated["sendInvitations"].as_bool()),
        (Some(id.as_str()), Some(true))
    );
    let again = server
        .json(&["scim-tokens", "update", &id, "--send-invitations", "true"])
        .await;
    assert_eq!(again["sendInvitations"], true);
    let missing = server.roster(&["scim-tokens", "update", &id]).await;
    assert_eq!(code(&missing), 2, "{}", stderr(&missing));

    let events = server.json(&["events", "list"]).await;
    let updates = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["type"] == "scim_token.updated")
        .count();
    assert_eq!(updates, 1, "{events}");
    let deleted = server.json(&["scim-tokens", "delete", &id]).await;
    assert_eq!(deleted["id"], id.as_str());
    let after = server.json(&["events", "list"]).await;
    let types: Vec<&str> = after
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["type"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"scim_token.created"), "{types:?}");
    assert_eq!(types.last(), Some(&"scim_token.deleted"));
    assert!(!events.to_string().contains(&secret[12..]), "{events}");
    assert_eq!(
        server
            .json(&["scim-tokens", "list", "--customer", &customer])
            .await,
        serde_json::json!([])
    );
    let again = server.roster(&["scim-tokens", "delete", &id]).await;
    assert_eq!(code(&again), 1, "{}", stderr(&again));
}
