//! Driving Roster over HTTP with `wrk` (an established load tool; `cargo xtask bench`
//! installs it when missing): a Lua script per operation, and its report parsed.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::json;

use crate::Load;

/// The Lua script that sends `body` (a GraphQL request as JSON) with `token`; `{UNIQUE}`
/// in the body becomes a per-thread, per-request counter, so creates never collide.
pub(crate) fn script(token: &str, body: &serde_json::Value, run: &str) -> String {
    let body = body.to_string();
    let (before, after) = body.split_once("{UNIQUE}").unwrap_or((&body, ""));
    let unique = body.contains("{UNIQUE}");
    let lua_string = |text: &str| json!(text).to_string();
    let mut script = format!(
        "wrk.method = \"POST\"\n\
         wrk.headers[\"Content-Type\"] = \"application/json\"\n\
         wrk.headers[\"Authorization\"] = {auth}\n",
        auth = lua_string(&format!("Bearer {token}")),
    );
    if unique {
        script.push_str(&format!(
            "local threads = 0\n\
             function setup(thread) threads = threads + 1; thread:set(\"tid\", threads) end\n\
             local counter = 0\n\
             function request()\n\
             \x20 counter = counter + 1\n\
             \x20 return wrk.format(nil, nil, nil, {before} .. {run} .. \"-\" .. tid .. \"-\" .. counter .. {after})\n\
             end\n",
            before = lua_string(before),
            after = lua_string(after),
            run = lua_string(run),
        ));
    } else {
        script.push_str(&format!("wrk.body = {}\n", lua_string(&body)));
    }
    script
}

/// Runs wrk against `url` with `connections` connections for `duration`.
pub(crate) async fn drive(
    url: &str,
    script_path: &Path,
    connections: u32,
    duration: Duration,
) -> anyhow::Result<Load> {
    let output = tokio::process::Command::new("wrk")
        .arg("--threads")
        .arg(connections.min(2).to_string())
        .arg("--connections")
        .arg(connections.to_string())
        .arg("--duration")
        .arg(format!("{}s", duration.as_secs().max(1)))
        .arg("--timeout")
        .arg("10s")
        .arg("--latency")
        .arg("--script")
        .arg(script_path)
        .arg(url)
        .output()
        .await
        .context("running wrk (is it installed? `cargo xtask bench` installs it)")?;
    let report = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "wrk failed: {}{}",
            report,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    parse(&report).with_context(|| format!("reading wrk's report:\n{report}"))
}

/// A duration as wrk prints it (`812.00us`, `1.23ms`, `2.00s`, `1.50m`).
fn duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "us" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        "m" => number * 60.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(seconds))
}

/// The numbers of a `wrk --latency` report.
fn parse(report: &str) -> anyhow::Result<Load> {
    let mut load = Load::default();
    for line in report.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", rate] => load.requests_per_second = rate.parse()?,
            ["50%", value] => load.p50 = duration(value).context("p50")?,
            ["99%", value] => load.p99 = duration(value).context("p99")?,
            [count, "requests", "in", ..] => load.requests = count.parse()?,
            ["Non-2xx", "or", "3xx", "responses:", count] => load.failed += count.parse::<u64>()?,
            ["Socket", "errors:", ..] => load.failed += socket_errors(line),
            _ => {}
        }
    }
    if load.requests == 0 {
        bail!("no requests completed");
    }
    Ok(load)
}

/// The sum of `Socket errors: connect 0, read 0, write 0, timeout 3`.
fn socket_errors(line: &str) -> u64 {
    line.split(',')
        .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Running 15s test @ http://127.0.0.1:41001/api
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.02ms  512.33us  21.05ms   91.20%
    Req/Sec     3.95k   210.11     4.40k    70.00%
  Latency Distribution
     50%  812.00us
     75%    1.10ms
     90%    1.52ms
     99%    3.45ms
  117928 requests in 15.00s, 41.23MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 12
Requests/sec:   7861.87
Transfer/sec:      2.75MB
";

    #[test]
    fn reads_rate_percentiles_and_failures() {
        let load = parse(REPORT).unwrap();
        assert_eq!(load.requests, 117_928);
        assert!((load.requests_per_second - 7861.87).abs() < 1e-6);
        assert_eq!(load.p50, Duration::from_micros(812));
        assert_eq!(load.p99, Duration::from_micros(3450));
        assert_eq!(load.failed, 15);
        assert!(parse("nothing useful").is_err());
    }

    #[test]
    fn unique_bodies_count_per_thread() {
        let body =
            json!({"query": "mutation($n: String!) { x }", "variables": {"n": "bench {UNIQUE}"}});
        let lua = script("tok", &body, "c8");
        assert!(
            lua.contains(r#"wrk.headers["Authorization"] = "Bearer tok""#),
            "{lua}"
        );
        assert!(
            lua.contains(r#".. "c8" .. "-" .. tid .. "-" .. counter .. "#),
            "{lua}"
        );
        let fixed = script("tok", &json!({"query": "{ a }"}), "c8");
        assert!(
            fixed.contains(r#"wrk.body = "{\"query\":\"{ a }\"}""#),
            "{fixed}"
        );
    }
}
