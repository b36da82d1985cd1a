//! The project's CI and developer tasks, run as `cargo xtask <task>`.
//!
//! `ci` is what CI runs: formatting, the layer rules (`tidy`), lints, the SDL check,
//! cargo-deny and every test, on SQLite and on PostgreSQL. When `ROSTER_TEST_POSTGRES_URL` is not set, it starts a
//! throwaway PostgreSQL on 127.0.0.1 for the tests and stops it afterwards. Before the tests
//! it makes sure the SCIM suite's Python environment is built (`scim-suite-env`).
//!
//! Invariant: depends on no workspace crate; it only runs tools.

mod postgres;
mod scim_suite;
mod tidy;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  ci        fmt --check, tidy, clippy -D warnings, SDL check, cargo-deny, all tests (starts PostgreSQL if needed)
  tidy      the layer rules: which workspace crates may depend on which, and that domain and
            ports name no I/O, HTTP, SQL or GraphQL crate (from cargo metadata)
  test      all tests only (builds the SCIM suite's environment and starts PostgreSQL if needed)
  scim-suite-env
            build target/scim-suite-venv (python3 >= 3.11 with venv; packages pinned with
            hashes in tests/scim-suite/requirements.txt, from PyPI) when missing or stale
  schema    regenerate schema.graphql from the server
  postgres  start a throwaway PostgreSQL, print its URL, and wait for Ctrl-C
  bench     release build, then load-test roster against the raw-SQL baseline on SQLite and
            PostgreSQL (installs wrk when missing); extra arguments go to roster-bench,
            e.g. `cargo xtask bench -- --seconds 5 --engines sqlite`
";

fn main() -> anyhow::Result<()> {
    let task = std::env::args().nth(1).unwrap_or_default();
    let root = project_root();
    std::env::set_current_dir(&root)?;
    match task.as_str() {
        "ci" => ci(&root),
        "test" => test(&root),
        "scim-suite-env" => scim_suite::ensure_env(&root),
        "tidy" => tidy::tidy(&mut cargo()),
        "schema" => schema(&root, false),
        "postgres" => postgres::serve_until_interrupted(),
        "bench" => bench(
            &root,
            std::env::args().skip(2).filter(|arg| arg != "--").collect(),
        ),
        "" | "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown task {other:?}\n{USAGE}"),
    }
}

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// A `cargo` command without the package variables `cargo run` set for this xtask
/// (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*`...): build scripts that watch one of them (ring's
/// watches `CARGO_MANIFEST_DIR`) would otherwise be rerun, and everything above them rebuilt,
/// each time a build alternates between `cargo xtask ...` and a plain `cargo build`.
fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(is_set_by_cargo_run) {
            command.env_remove(&name);
        }
    }
    command
}

/// Whether `name` is one of the variables `cargo run` sets for the package it runs.
fn is_set_by_cargo_run(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || name.starts_with("CARGO_MANIFEST_")
        || matches!(
            name,
            "CARGO_BIN_NAME" | "CARGO_CRATE_NAME" | "CARGO_PRIMARY_PACKAGE"
        )
}

/// Runs a command, failing with its description when it does not succeed.
fn run(description: &str, command: &mut Command) -> anyhow::Result<()> {
    eprintln!("\n==> {description}");
    let status = command
        .status()
        .with_context(|| format!("starting: {description}"))?;
    if !status.success() {
        bail!("failed: {description} ({status})");
    }
    Ok(())
}

fn ci(root: &Path) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    run(
        "cargo fmt --check",
        cargo().args(["fmt", "--all", "--", "--check"]),
    )?;
    tidy::tidy(&mut cargo())?;
    run(
        "cargo clippy -D warnings",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    run(
        "cargo build",
        cargo().args(["build", "--workspace", "--all-targets"]),
    )?;
    schema(root, true)?;
    deny()?;
    test(root)?;
    eprintln!("\n==> ci passed in {:.0?}", started.elapsed());
    Ok(())
}

fn deny() -> anyhow::Result<()> {
    let installed = Command::new("cargo-deny")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        if std::env::var_os("CI").is_some() {
            bail!("cargo-deny is not installed (.ci/run installs it)");
        }
        eprintln!("\n==> cargo deny: SKIPPED, not installed (cargo install --locked cargo-deny)");
        return Ok(());
    }
    // Advisories need the advisory database from GitHub, which CI cannot reach.
    run(
        "cargo deny check",
        cargo().args(["deny", "check", "bans", "licenses", "sources"]),
    )
}

/// Compares (or with `check == false`, rewrites) schema.graphql against the built server.
fn schema(root: &Path, check: bool) -> anyhow::Result<()> {
    if !check {
        run("cargo build", cargo().args(["build", "--workspace"]))?;
    }
    let binary = root.join("target/debug/roster");
    let output = Command::new(&binary)
        .arg("schema")
        .output()
        .with_context(|| format!("running {}", binary.display()))?;
    if !output.status.success() {
        bail!(
            "roster schema failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let path = root.join("schema.graphql");
    if check {
        eprintln!("\n==> SDL check");
        let committed = std::fs::read(&path).unwrap_or_default();
        if committed != output.stdout {
            bail!(
                "schema.graphql differs from the server's schema: run `cargo xtask schema` and commit it"
            );
        }
        eprintln!("schema.graphql matches the server");
    } else {
        std::fs::write(&path, &output.stdout)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn test(root: &Path) -> anyhow::Result<()> {
    // tests/e2e/scim_library.rs runs the SCIM suite in it, and fails without it.
    scim_suite::ensure_env(root)?;
    let mut command = cargo();
    command.args(["test", "--workspace", "--all-targets", "--no-fail-fast"]);
    if std::env::var_os("ROSTER_TEST_POSTGRES_URL").is_some() {
        return run(
            "cargo test (PostgreSQL from ROSTER_TEST_POSTGRES_URL)",
            &mut command,
        );
    }
    let server =
        postgres::Throwaway::start().context("starting a throwaway PostgreSQL for the tests")?;
    command.env("ROSTER_TEST_POSTGRES_URL", server.url());
    let result = run(
        &format!("cargo test (throwaway PostgreSQL at {})", server.url()),
        &mut command,
    );
    drop(server);
    result
}

/// `cargo xtask bench`: builds `roster` and `roster-bench` in release, makes sure wrk is
/// there, starts a throwaway PostgreSQL unless `ROSTER_TEST_POSTGRES_URL` names one, and runs
/// the benchmark; the table is printed and written under `target/bench/`.
fn bench(root: &Path, extra: Vec<String>) -> anyhow::Result<()> {
    ensure_wrk()?;
    run(
        "cargo build --release (roster, roster-bench)",
        cargo().args(["build", "--release", "-p", "app", "-p", "bench", "--bins"]),
    )?;
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let release = target.join("release");
    let server = match std::env::var_os("ROSTER_TEST_POSTGRES_URL") {
        Some(_) => None,
        None => Some(
            postgres::Throwaway::start()
                .context("starting a throwaway PostgreSQL for the bench")?,
        ),
    };
    let mut command = Command::new(release.join("roster-bench"));
    command
        .arg("--roster")
        .arg(release.join("roster"))
        .arg("--out")
        .arg(target.join("bench"))
        .args(extra);
    if let Some(server) = &server {
        command.env("ROSTER_TEST_POSTGRES_URL", server.url());
    }
    let result = run("roster-bench", &mut command);
    drop(server);
    result
}

/// Installs wrk (Debian's package) when it is missing and we may; says how otherwise.
fn ensure_wrk() -> anyhow::Result<()> {
    if Command::new("wrk").arg("--version").output().is_ok() {
        return Ok(());
    }
    if !postgres::is_root() {
        bail!(
            "wrk is not installed: `sudo apt-get install wrk` (Debian, Ubuntu) or see https://github.com/wg/wrk"
        );
    }
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends", "wrk"])
            .status()
    };
    if !install().is_ok_and(|status| status.success()) {
        run("apt-get update", Command::new("apt-get").arg("update"))?;
        run(
            "apt-get install wrk",
            Command::new("apt-get").args(["install", "-y", "--no-install-recommends", "wrk"]),
        )?;
    }
    Ok(())
}
