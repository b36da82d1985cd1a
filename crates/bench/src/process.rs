//! A `roster serve` child process and what `/proc` says about it: the harness the benchmark
//! and the abuse tests share, so both measure the real binary (its own RSS, CPU time and
//! file descriptors) rather than a server inside the measuring process.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStderr, ChildStdout, Command};

/// A running `roster serve` on `127.0.0.1`, killed when dropped.
pub struct RosterProcess {
    /// Where it listens.
    pub address: SocketAddr,
    /// The bootstrap owner's access token (empty if the database was not new).
    pub owner_token: String,
    child: Child,
}

impl RosterProcess {
    /// Starts `binary serve` on `database_url` with extra environment `settings`
    /// (`ROSTER_*`), and waits until it announces its address.
    ///
    /// # Errors
    /// When the binary cannot start or does not announce its address within a minute.
    pub async fn start(
        binary: &Path,
        database_url: &str,
        settings: &[(&str, &str)],
    ) -> anyhow::Result<RosterProcess> {
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .env("ROSTER_LISTEN", "127.0.0.1:0")
            .env("ROSTER_DATABASE_URL", database_url)
            .env("RUST_LOG", "info,tower_http=warn")
            .env_remove("ROSTER_TOKEN_SECRET")
            .env_remove("ROSTER_SMTP_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (name, value) in settings {
            command.env(name, value);
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            bail!("the child's output is not piped");
        };
        let (address, owner_token) =
            tokio::time::timeout(Duration::from_secs(60), read_start_up(stdout, stderr))
                .await
                .context("roster serve did not announce its address within a minute")??;
        Ok(RosterProcess {
            address,
            owner_token,
            child,
        })
    }

    /// The child's process id, for `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// `http://127.0.0.1:PORT` plus `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }
}

/// The `roster` binary beside the running executable (`target/<profile>/roster`), as cargo
/// builds it for tests and benchmarks.
///
/// # Errors
/// When it has not been built.
pub fn roster_beside_current_exe() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let mut dir = exe.parent();
    // Test executables live one level deeper, in `target/<profile>/deps`.
    while let Some(candidate) = dir {
        let binary = candidate.join("roster");
        if binary.is_file() {
            return Ok(binary);
        }
        if candidate.file_name().is_some_and(|name| name != "deps") {
            break;
        }
        dir = candidate.parent();
    }
    bail!(
        "no `roster` binary beside {}: build it first (`cargo build --workspace --all-targets`, as `cargo xtask ci` does)",
        exe.display()
    )
}

/// Reads the owner's token from stdout and the listen address from the log on stderr; then
/// keeps draining both pipes, so the server never blocks on a full pipe, and echoes its
/// warnings and errors.
async fn read_start_up(
    stdout: ChildStdout,
    stderr: ChildStderr,
) -> anyhow::Result<(SocketAddr, String)> {
    let mut err = BufReader::new(stderr).lines();
    let mut address = None;
    while let Some(line) = err.next_line().await? {
        if let Some(rest) = line.split("Roster serves http://").nth(1) {
            let end = rest.find('/').unwrap_or(rest.len());
            address = Some(rest[..end].parse::<SocketAddr>()?);
            break;
        }
        if line.contains("ERROR") || line.contains("WARN") || line.contains("panicked") {
            eprintln!("[roster] {line}");
        }
    }
    tokio::spawn(async move {
        while let Ok(Some(line)) = err.next_line().await {
            if line.contains("ERROR") || line.contains("WARN") || line.contains("panicked") {
                eprintln!("[roster] {line}");
            }
        }
    });
    // The token is printed before the server starts listening, so it is in the pipe by now.
    let mut out = BufReader::new(stdout).lines();
    let mut token = String::new();
    let mut after_token_line = false;
    while let Ok(Ok(Some(line))) =
        tokio::time::timeout(Duration::from_millis(200), out.next_line()).await
    {
        if after_token_line {
            token = line.trim().to_owned();
            break;
        }
        after_token_line = line.starts_with("Access token for");
    }
    tokio::spawn(async move { while let Ok(Some(_)) = out.next_line().await {} });
    let address = address.context("roster serve exited before announcing its address")?;
    Ok((address, token))
}

/// The resident set size of process `pid` in MiB (0 when it cannot be read).
pub fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// The CPU time (user + system) process `pid` has used, in seconds.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which may hold spaces but ends with the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the ')'.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&index| fields.get(index)?.parse::<u64>().ok())
        .sum();
    // Linux reports in USER_HZ, 100 on every architecture Roster targets.
    #[allow(clippy::cast_precision_loss)]
    let seconds = ticks as f64 / 100.0;
    seconds
}

/// Samples a process's RSS every 20 ms until stopped, keeping the peak.
pub struct RssPeak {
    peak_kib: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl RssPeak {
    /// Starts sampling `pid`.
    pub fn watch(pid: u32) -> RssPeak {
        let peak_kib = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let peak_kib = peak_kib.clone();
            let stop = stop.clone();
            async move {
                while !stop.load(Ordering::Relaxed) {
                    // RSS in MiB is far below 2^53 KiB: no precision is lost.
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    let kib = (rss_mib(pid) * 1024.0) as u64;
                    peak_kib.fetch_max(kib, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        });
        RssPeak {
            peak_kib,
            stop,
            task,
        }
    }

    /// Stops sampling; the peak in MiB.
    pub async fn finish(self) -> f64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        #[allow(clippy::cast_precision_loss)]
        let mib = self.peak_kib.load(Ordering::Relaxed) as f64 / 1024.0;
        mib
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process_from_proc() {
        let pid = std::process::id();
        assert!(rss_mib(pid) > 1.0, "a running process has some RSS");
        let busy_until = std::time::Instant::now() + Duration::from_millis(100);
        let mut spin = 0_u64;
        while std::time::Instant::now() < busy_until {
            spin = spin.wrapping_add(1);
        }
        assert!(spin > 0);
        assert!(
            cpu_seconds(pid) > 0.0,
            "100 ms of spinning shows as CPU time"
        );
        assert_eq!(rss_mib(u32::MAX), 0.0, "no such process");
    }
}
