//! SCIM as third-party software speaks it, end to end on both engines: the Python scripts
//! of `tests/scim-suite` run against a real server, with the venv `cargo xtask
//! scim-suite-env` builds (`target/scim-suite-venv`). `client_e2e.py` drives `/scim/v2`
//! through a SCIM client library (scim2-client, with scim2-models' typed resources and
//! messages) and checks it reads back what it wrote; `compliance.py` runs a compliance suite
//! (scim2-tester's `check_server`), every check passing but the documented allow-list in
//! the script. A missing or stale venv fails the test, saying how to build it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Engine, TestServer, on_both_engines};

/// How long one script may run (it takes a few seconds).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

const CREATE_TOKEN: &str = "mutation($c: ID!) {
  createScimToken(input: {customerId: $c, description: \"SCIM suite\"}) {
    token errors { field code } } }";

/// The suite's scripts and the venv's Python, or a failure that says how to get them.
struct Suite {
    scripts: PathBuf,
    python: PathBuf,
}

fn suite() -> Suite {
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("scim-suite");
    // Integration tests get `<target dir>/tmp`; the venv is beside it.
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .join("scim-suite-venv");
    let python = venv.join("bin").join("python");
    let wanted = std::fs::read(scripts.join("requirements.txt")).expect("the requirements");
    let built = std::fs::read(venv.join("roster-requirements.txt")).ok();
    assert!(
        python.exists() && built.is_some(),
        "the SCIM suite's Python environment is missing ({}): run `cargo xtask scim-suite-env` \
         (`cargo xtask test` and `cargo xtask ci` build it too)",
        venv.display()
    );
    assert!(
        built.as_deref() == Some(wanted.as_slice()),
        "the SCIM suite's Python environment ({}) was built from other requirements than \
         tests/scim-suite/requirements.txt: run `cargo xtask scim-suite-env`",
        venv.display()
    );
    Suite { scripts, python }
}

/// A server on `engine` with a customer and its SCIM token.
async fn server_with_token(engine: Engine) -> (TestServer, String) {
    let server = TestServer::spawn(engine).await;
    let acme = server.create_customer("Acme").await;
    let created = server.gql(CREATE_TOKEN, json!({ "c": acme })).await["createScimToken"].clone();
    assert_eq!(created["errors"], json!([]), "{created:#}");
    let token = created["token"].as_str().expect("the token").to_owned();
    (server, token)
}

/// Runs `script` against `server` with `token`; fails with its output unless it exits 0.
/// Returns its standard output.
async fn run(suite: &Suite, script: &str, server: &TestServer, token: &str) -> String {
    let mut command = tokio::process::Command::new(&suite.python);
    command
        .arg(suite.scripts.join(script))
        .current_dir(&suite.scripts)
        .env("ROSTER_SCIM_URL", server.url("/scim/v2"))
        .env("ROSTER_SCIM_TOKEN", token)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    // Requests go to 127.0.0.1 only, never through a proxy the environment names.
    for proxy in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
    ] {
        command.env_remove(proxy);
    }
    let output = tokio::time::timeout(SCRIPT_TIMEOUT, command.output())
        .await
        .unwrap_or_else(|_| panic!("{script} still running after {SCRIPT_TIMEOUT:?}"))
        .unwrap_or_else(|error| panic!("starting {}: {error}", suite.python.display()));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    stdout
}

/// The `N passed, M failed` a script closes with, checked: something passed, nothing failed.
fn assert_summary(stdout: &str, name: &str) {
    let counts: Vec<u64> = stdout
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{name}: ")))
        .map(|rest| {
            rest.split(", ")
                .filter_map(|part| part.split(' ').next()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        matches!(counts.as_slice(), [passed, 0] if *passed > 0),
        "{name} did not close with \"N passed, 0 failed\":\n{stdout}"
    );
}

async fn a_scim_client_library_reads_back_what_it_wrote(engine: Engine) {
    let suite = suite();
    let (server, token) = server_with_token(engine).await;
    let stdout = run(&suite, "client_e2e.py", &server, &token).await;
    assert_summary(&stdout, "client_e2e");

    // The user it leaves is Roster's too, as the API shows it.
    let kept: Value = stdout
        .lines()
        .find_map(|line| line.strip_prefix("KEPT "))
        .map(|line| serde_json::from_str(line).expect("JSON"))
        .unwrap_or_else(|| panic!("no KEPT line in:\n{stdout}"));
    let kept = &kept["kept"];
    let user = server
        .gql(
            "query($id: ID!) { user(id: $id) { email name active customer { name } } }",
            json!({ "id": kept["id"] }),
        )
        .await;
    assert_eq!(
        user["user"],
        json!({"email": kept["userName"], "name": kept["displayName"], "active": true,
               "customer": {"name": "Acme"}}),
        "{stdout}"
    );
    server.stop().await;
}

async fn a_scim_compliance_suite_passes(engine: Engine) {
    let suite = suite();
    let (server, token) = server_with_token(engine).await;
    let stdout = run(&suite, "compliance.py", &server, &token).await;
    assert_summary(&stdout, "compliance");
    server.stop().await;
}

on_both_engines!(
    a_scim_client_library_reads_back_what_it_wrote,
    a_scim_compliance_suite_passes,
);
