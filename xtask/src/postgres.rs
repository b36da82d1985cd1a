//! A throwaway PostgreSQL server on 127.0.0.1 for the tests: `initdb` into a temporary
//! directory, `pg_ctl start` on a free port, and a fast shutdown when dropped.
//! `initdb` refuses to run as root, so as root the server runs as the `postgres` user.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// A running throwaway server; stopped and deleted on drop.
pub(crate) struct Throwaway {
    base: PathBuf,
    port: u16,
    as_postgres_user: bool,
}

impl Throwaway {
    /// Creates, starts and waits for a fresh server.
    pub(crate) fn start() -> anyhow::Result<Throwaway> {
        let as_postgres_user = is_root();
        let port = free_port()?;
        let base = std::env::temp_dir().join(format!("roster-pg-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let data = base.join("data");
        std::fs::create_dir_all(&data)?;
        let server = Throwaway {
            base,
            port,
            as_postgres_user,
        };
        if as_postgres_user {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&server.base)
                .status()?;
            if !status.success() {
                bail!("chown to the postgres user failed (does the `postgres` user exist?)");
            }
        }
        server
            .pg(tool("initdb")?)
            .args(["-D"])
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .stdout(Stdio::null())
            .check("initdb")?;
        // Durability is of no use to a throwaway server. Each test database's creation
        // writes its template (about 8 MB) to the write-ahead log: a small `max_wal_size`
        // checkpoints often, so the log stays near 100 MB rather than growing to 1 GB.
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_wal_size=64MB -c min_wal_size=32MB -c max_connections=300",
            server.base.display()
        );
        server
            .pg(tool("pg_ctl")?)
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(server.base.join("server.log"))
            .args(["-w", "-t", "60", "-o", &options, "start"])
            .stdout(Stdio::null())
            .check("pg_ctl start")?;
        Ok(server)
    }

    /// The admin URL tests create their databases from.
    pub(crate) fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn pg(&self, program: PathBuf) -> Command {
        if self.as_postgres_user {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        if let Ok(pg_ctl) = tool("pg_ctl") {
            let _ = self
                .pg(pg_ctl)
                .arg("-D")
                .arg(self.base.join("data"))
                .args(["-m", "fast", "-w", "stop"])
                .stdout(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

trait Check {
    fn check(&mut self, what: &str) -> anyhow::Result<()>;
}

impl Check for Command {
    fn check(&mut self, what: &str) -> anyhow::Result<()> {
        let status = self.status().with_context(|| format!("running {what}"))?;
        if !status.success() {
            bail!("{what} failed ({status})");
        }
        Ok(())
    }
}

/// Finds a PostgreSQL tool on PATH or in Debian's versioned directories.
fn tool(name: &str) -> anyhow::Result<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let debian = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dirs| {
            dirs.filter_map(Result::ok)
                .map(|dir| dir.path().join("bin").join(name))
                .collect()
        })
        .unwrap_or_else(|_| Vec::new());
    on_path
        .into_iter()
        .chain(debian)
        .find(|path| Path::new(path).is_file())
        .with_context(|| {
            format!("{name} not found: install PostgreSQL or set ROSTER_TEST_POSTGRES_URL")
        })
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.starts_with(b"0\n"))
}

/// Starts a server for manual use and keeps it until Ctrl-C (or stdin closes).
pub(crate) fn serve_until_interrupted() -> anyhow::Result<()> {
    let server = Throwaway::start()?;
    println!("ROSTER_TEST_POSTGRES_URL={}", server.url());
    eprintln!("press Enter (or Ctrl-D) to stop");
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    drop(server);
    Ok(())
}
