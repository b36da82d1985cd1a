//! Logging via `tracing`, to stderr so that stdout carries only command output (tokens).
//!
//! Two formats: text for people (coloured only when stderr is a terminal, so a log file or a
//! journal holds no escape codes) and JSON lines for log collectors. Both carry the fields of
//! the spans a line was logged in: the request's `request_id`, `method` and `path`, and the
//! use case (`customers.create`).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// The environment variable that picks the format, for every command.
pub const LOG_FORMAT_VARIABLE: &str = "ROSTER_LOG_FORMAT";

/// How log lines are written (`--log-format`, `ROSTER_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines; coloured only when stderr is a terminal.
    #[default]
    Text,
    /// One JSON object per line, with the spans' fields (`request_id`), for log collectors.
    Json,
}

impl LogFormat {
    /// The format `ROSTER_LOG_FORMAT` names (`json` or `text`, any case); text otherwise, so
    /// a command without `--log-format` still logs.
    pub fn from_env() -> LogFormat {
        match std::env::var(LOG_FORMAT_VARIABLE) {
            Ok(value) if value.trim().eq_ignore_ascii_case("json") => LogFormat::Json,
            _ => LogFormat::Text,
        }
    }
}

/// Installs the global subscriber in `format`; `RUST_LOG` overrides the default `info` level.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second call (tests starting several servers) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        // The span list already ends with the current span: it is not repeated.
        LogFormat::Json => builder
            .json()
            .with_ansi(false)
            .with_current_span(false)
            .with_span_list(true)
            .try_init(),
    };
}
