//! `roster-bench`, run by `cargo xtask bench`: seeds customers with users into SQLite and
//! PostgreSQL, starts the release `roster serve` on each, drives three operations over HTTP
//! with wrk at several connection counts after a warm-up, measures the raw-SQL baseline of
//! each in the same run, prints one table and writes it as JSON under `target/bench/`.
//! `docs/performance.md` explains how to read it.

mod raw;
mod seed;
mod wrk;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::bail;
use bench::process::{RosterProcess, RssPeak, cpu_seconds};
use clap::Parser;
use serde::Serialize;
use serde_json::{Value, json};
use wire::Global as _;

use storage_postgres::testing::TestDatabase;

use crate::raw::{Baseline, RawDatabase};
use crate::seed::Seeded;

/// What to measure, and where.
#[derive(Debug, Parser)]
#[command(name = "roster-bench", about)]
struct Args {
    /// The `roster` binary to measure (a release build).
    #[arg(long)]
    roster: PathBuf,
    /// A PostgreSQL admin URL (a role that may create databases); without it only SQLite runs.
    #[arg(long, env = "ROSTER_TEST_POSTGRES_URL")]
    postgres_admin_url: Option<String>,
    /// Customers to seed.
    #[arg(long, default_value_t = 10_000)]
    customers: usize,
    /// Users per customer.
    #[arg(long, default_value_t = 5)]
    users: usize,
    /// Seconds each measurement runs.
    #[arg(long, default_value_t = 15)]
    seconds: u64,
    /// Seconds of warm-up before each measurement.
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    /// Connection counts (concurrent loops for the raw baseline).
    #[arg(long, value_delimiter = ',', default_value = "8,32")]
    connections: Vec<u32>,
    /// Engines: sqlite, postgres.
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    engines: Vec<String>,
    /// Where the database file, the wrk scripts and the JSON report go.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// Keep each engine's seeded database (the SQLite file, the PostgreSQL database) after
    /// its run, e.g. to profile the server against it; by default both are removed.
    #[arg(long)]
    keep_databases: bool,
}

/// The operations measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum Operation {
    /// `customer(id) { id name externalId }`.
    Customer,
    /// 50 customers, each with `users { nodes { id email name externalId } }`.
    Page,
    /// `createCustomer` with a fresh name.
    Create,
}

impl Operation {
    const ALL: [Operation; 3] = [Operation::Customer, Operation::Page, Operation::Create];

    fn label(self) -> &'static str {
        match self {
            Operation::Customer => "customer(id)",
            Operation::Page => "50 customers + users",
            Operation::Create => "createCustomer",
        }
    }

    /// The GraphQL request; `{UNIQUE}` is replaced per request by the load tool.
    fn request(self, seeded: &Seeded) -> Value {
        match self {
            Operation::Customer => json!({
                "query": "query($id: ID!) { customer(id: $id) { id name externalId } }",
                "variables": { "id": seeded.customer.global().to_string() },
            }),
            Operation::Page => json!({
                "query": "{ customers(first: 50) { nodes { id name externalId users { nodes { id email name externalId } } } } }",
            }),
            Operation::Create => json!({
                "query": "mutation($n: String!) { createCustomer(input: {name: $n}) { customer { id } errors { field messages } } }",
                "variables": { "n": "bench {UNIQUE}" },
            }),
        }
    }
}

/// One measured load: its rate and latency percentiles.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Load {
    requests: u64,
    requests_per_second: f64,
    #[serde(serialize_with = "millis")]
    p50: Duration,
    #[serde(serialize_with = "millis")]
    p99: Duration,
    failed: u64,
}

fn millis<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64() * 1e3)
}

impl Load {
    /// The load of a loop that recorded every request's latency over `elapsed`.
    pub(crate) fn from_latencies(mut latencies: Vec<Duration>, elapsed: Duration) -> Load {
        latencies.sort_unstable();
        let at = |fraction: f64| {
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss
            )]
            let index = ((latencies.len() as f64 * fraction) as usize)
                .min(latencies.len().saturating_sub(1));
            latencies.get(index).copied().unwrap_or_default()
        };
        let requests = latencies.len() as u64;
        #[allow(clippy::cast_precision_loss)]
        let requests_per_second = requests as f64 / elapsed.as_secs_f64().max(1e-9);
        Load {
            requests,
            requests_per_second,
            p50: at(0.50),
            p99: at(0.99),
            failed: 0,
        }
    }
}

/// One line of the table.
#[derive(Debug, Serialize)]
struct Measurement {
    engine: String,
    operation: Operation,
    connections: u32,
    roster: Load,
    /// Roster's CPU time over the run's wall time, as a share of all cores.
    roster_cpu_share: f64,
    roster_peak_rss_mib: f64,
    raw: Load,
    /// Roster's rate as a share of the raw baseline's.
    roster_over_raw: f64,
    /// Creates only: the raw create with its event in the same transaction (the floor
    /// once every change is logged, issue 10), and Roster's rate as a share of it.
    raw_with_event: Option<Load>,
    roster_over_raw_with_event: Option<f64>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    std::fs::create_dir_all(&args.out)?;
    let mut rows = Vec::new();
    for engine in &args.engines {
        let database = match engine.as_str() {
            "sqlite" => {
                let path = args
                    .out
                    .join(format!("bench-{}.db", uuid::Uuid::new_v4().simple()));
                BenchDatabase::Sqlite(std::path::absolute(path)?)
            }
            "postgres" => {
                let Some(admin) = &args.postgres_admin_url else {
                    eprintln!("skipping PostgreSQL: no --postgres-admin-url");
                    continue;
                };
                BenchDatabase::Postgres(TestDatabase::create(admin).await?)
            }
            other => bail!("unknown engine {other:?}: sqlite or postgres"),
        };
        let measured = bench_engine(&args, engine, &database.url()).await;
        if args.keep_databases {
            eprintln!("{engine}: kept {}", database.url());
        } else {
            database.remove().await;
        }
        rows.extend(measured?);
    }
    print_table(&rows);
    let report = json!({
        "machine": machine(),
        "settings": {
            "customers": args.customers, "users_per_customer": args.users,
            "seconds": args.seconds, "warmup_seconds": args.warmup,
        },
        "measurements": rows,
    });
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    for name in [format!("bench-{stamp}.json"), "latest.json".to_owned()] {
        std::fs::write(args.out.join(name), serde_json::to_string_pretty(&report)?)?;
    }
    println!(
        "\nwritten to {}",
        args.out.join(format!("bench-{stamp}.json")).display()
    );
    Ok(())
}

/// One engine's seeded database, removed after its run unless `--keep-databases`.
enum BenchDatabase {
    Sqlite(PathBuf),
    Postgres(TestDatabase),
}

impl BenchDatabase {
    fn url(&self) -> String {
        match self {
            BenchDatabase::Sqlite(path) => format!("sqlite://{}", path.display()),
            BenchDatabase::Postgres(database) => database.url().to_owned(),
        }
    }

    /// Removes the database (the SQLite file with its journal files), warning on failure:
    /// the measurements stand either way.
    async fn remove(self) {
        match self {
            BenchDatabase::Sqlite(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    match std::fs::remove_file(&file) {
                        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                            eprintln!("could not remove {}: {error}", file.display());
                        }
                        _ => {}
                    }
                }
            }
            BenchDatabase::Postgres(database) => {
                let name = database.name().to_owned();
                if let Err(error) = database.drop_database().await {
                    eprintln!("could not drop the database {name}: {error}");
                }
            }
        }
    }
}

/// Roster's per-token cost bucket, lifted so the benchmark measures serving rather than
/// throttling (one token sends every request).
const SERVER_SETTINGS: &[(&str, &str)] = &[
    ("ROSTER_RATE_LIMIT_BUCKET", "1000000000000"),
    ("ROSTER_RATE_LIMIT_RESTORE", "1000000000000"),
];

async fn bench_engine(args: &Args, engine: &str, url: &str) -> anyhow::Result<Vec<Measurement>> {
    let roster = RosterProcess::start(&args.roster, url, SERVER_SETTINGS).await?;
    eprintln!(
        "{engine}: seeding {} customers x {} users",
        args.customers, args.users
    );
    let started = Instant::now();
    let seeded = {
        let repos = app::open_repositories(url).await?;
        seed::seed(&repos, args.customers, args.users).await?
    };
    eprintln!("{engine}: seeded in {:.1?}", started.elapsed());
    let most = args.connections.iter().copied().max().unwrap_or(8);
    let database = RawDatabase::open(url, most).await?;
    database.settle().await?;
    let http = reqwest::Client::new();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let warmup = Duration::from_secs(args.warmup);
    let measured = Duration::from_secs(args.seconds);
    let mut rows = Vec::new();
    for (index, operation) in Operation::ALL.into_iter().enumerate() {
        let request = operation.request(&seeded);
        check_answer(&http, &roster, &request).await?;
        for &connections in &args.connections {
            let run = (index as u64) * 1_000 + u64::from(connections);
            let script = args
                .out
                .join(format!("{engine}-{operation:?}-{connections}.lua"));
            for (phase, duration) in [("warm", warmup), ("run", measured)] {
                std::fs::write(
                    &script,
                    wrk::script(&roster.owner_token, &request, &format!("{phase}{run}")),
                )?;
                if phase == "warm" {
                    wrk::drive(&roster.url("/api"), &script, connections, duration).await?;
                    continue;
                }
                let cpu_before = cpu_seconds(roster.pid());
                let rss = RssPeak::watch(roster.pid());
                let wall = Instant::now();
                let load = wrk::drive(&roster.url("/api"), &script, connections, duration).await?;
                #[allow(clippy::cast_precision_loss)]
                let cpu_share = (cpu_seconds(roster.pid()) - cpu_before)
                    / (wall.elapsed().as_secs_f64() * cores as f64);
                let peak = rss.finish().await;
                let raw_run = |baseline, duration, tag| {
                    raw::drive(
                        &database,
                        &seeded,
                        operation,
                        baseline,
                        connections,
                        duration,
                        tag,
                    )
                };
                raw_run(Baseline::Plain, warmup, run * 4).await?;
                let raw_load = raw_run(Baseline::Plain, measured, run * 4 + 1).await?;
                let raw_with_event = if operation == Operation::Create {
                    raw_run(Baseline::CreateWithEvent, warmup, run * 4 + 2).await?;
                    Some(raw_run(Baseline::CreateWithEvent, measured, run * 4 + 3).await?)
                } else {
                    None
                };
                let row = Measurement {
                    engine: engine.to_owned(),
                    operation,
                    connections,
                    roster_over_raw: load.requests_per_second
                        / raw_load.requests_per_second.max(1e-9),
                    roster_over_raw_with_event: raw_with_event
                        .as_ref()
                        .map(|raw| load.requests_per_second / raw.requests_per_second.max(1e-9)),
                    roster: load,
                    roster_cpu_share: cpu_share,
                    roster_peak_rss_mib: peak,
                    raw: raw_load,
                    raw_with_event,
                };
                eprintln!("{}", line(&row));
                rows.push(row);
            }
        }
    }
    Ok(rows)
}

/// Fails unless `request` answers 200 without errors: the benchmark must not time failures.
async fn check_answer(
    http: &reqwest::Client,
    roster: &RosterProcess,
    request: &Value,
) -> anyhow::Result<()> {
    let request = serde_json::from_str::<Value>(&request.to_string().replace("{UNIQUE}", "check"))?;
    let response = http
        .post(roster.url("/api"))
        .bearer_auth(&roster.owner_token)
        .json(&request)
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await?;
    let payload_errors = body["data"]
        .as_object()
        .and_then(|data| data.values().next())
        .and_then(|payload| payload["errors"].as_array())
        .is_some_and(|errors| !errors.is_empty());
    if !status.is_success() || body.get("errors").is_some() || payload_errors {
        bail!("{request} answered {status}: {body}");
    }
    Ok(())
}

const HEADER: &str = "engine    operation              conns | roster req/s     p50      p99   cpu%  rss MiB | raw req/s     p50      p99 | roster/raw | raw+event req/s  roster/raw+event";

fn line(row: &Measurement) -> String {
    let ms = |duration: Duration| format!("{:.2}ms", duration.as_secs_f64() * 1e3);
    format!(
        "{:<9} {:<22} {:>5} | {:>12.0} {:>7} {:>8} {:>5.0}% {:>8.1} | {:>9.0} {:>7} {:>8} | {:>9.0}%{}{}",
        row.engine,
        row.operation.label(),
        row.connections,
        row.roster.requests_per_second,
        ms(row.roster.p50),
        ms(row.roster.p99),
        row.roster_cpu_share * 100.0,
        row.roster_peak_rss_mib,
        row.raw.requests_per_second,
        ms(row.raw.p50),
        ms(row.raw.p99),
        row.roster_over_raw * 100.0,
        match (&row.raw_with_event, row.roster_over_raw_with_event) {
            (Some(raw), Some(ratio)) => format!(
                " | {:>14.0} {:>16.0}%",
                raw.requests_per_second,
                ratio * 100.0
            ),
            _ => String::new(),
        },
        if row.roster.failed > 0 {
            format!("  ({} failed)", row.roster.failed)
        } else {
            String::new()
        },
    )
}

fn print_table(rows: &[Measurement]) {
    println!("\n{HEADER}");
    for row in rows {
        println!("{}", line(row));
    }
}

/// What the numbers were measured on.
fn machine() -> Value {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_default();
    let memory = read("/proc/meminfo")
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    json!({
        "cores": std::thread::available_parallelism().map_or(1, usize::from),
        "cpu": cpu,
        "memory": memory,
        "kernel": read("/proc/sys/kernel/osrelease").trim(),
        "commit": std::process::Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .output()
            .ok()
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned()),
        "when": chrono::Utc::now().to_rfc3339(),
    })
}
