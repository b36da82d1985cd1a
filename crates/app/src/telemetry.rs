//! Logging via `tracing`, to stderr so that stdout carries only command output (tokens).
//!
//! Two formats: text for people (coloured only when stderr is a terminal, so a log file or a
//! journal holds no escape codes) and JSON lines for log collectors. Both carry the fields of
//! the spans a line was logged in: the request's `request_id`, `method` and `path`, and the
//! use case (`customers.create`).

use std::io::IsTerminal;
use std::str::FromStr;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

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
    let (targets, spans) = filter(std::env::var("RUST_LOG").ok().as_deref());
    let registry = tracing_subscriber::registry().with(targets).with(spans);
    let layer = fmt::layer().with_writer(std::io::stderr);
    // A second call (tests starting several servers) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => registry
            .with(layer.with_ansi(std::io::stderr().is_terminal()))
            .try_init(),
        // The span list already ends with the current span: it is not repeated.
        LogFormat::Json => registry
            .with(
                layer
                    .json()
                    .with_ansi(false)
                    .with_current_span(false)
                    .with_span_list(true),
            )
            .try_init(),
    };
}

/// The filter `RUST_LOG` (`directives`) asks for: by target and level ([`Targets`]) when
/// that is all it says, as it usually does; [`EnvFilter`] only for directives on spans or
/// fields (`[...]`), which it alone understands. `EnvFilter` looks up every span entered
/// and left in a locked map, on every poll of every instrumented future: about 5% of the
/// CPU of a page of customers with their users.
fn filter(directives: Option<&str>) -> (Option<Targets>, Option<EnvFilter>) {
    let directives = directives.map(str::trim).filter(|text| !text.is_empty());
    match directives {
        None => (
            Some(Targets::new().with_default(tracing::Level::INFO)),
            None,
        ),
        Some(text) if !text.contains('[') => match Targets::from_str(text) {
            Ok(targets) => (Some(targets), None),
            Err(_) => (None, Some(env_filter(text))),
        },
        Some(text) => (None, Some(env_filter(text))),
    }
}

/// `directives` as an [`EnvFilter`]; `info` when they do not parse, as before.
fn env_filter(directives: &str) -> EnvFilter {
    EnvFilter::try_new(directives).unwrap_or_else(|_| EnvFilter::new("info"))
}

#[cfg(test)]
mod tests {
    use tracing::Level;
    use tracing_subscriber::filter::LevelFilter;

    use super::*;

    #[test]
    fn plain_directives_filter_by_target_without_span_lookups() {
        let (targets, spans) = filter(Some("info,tower_http=warn"));
        let targets = targets.expect("targets");
        assert!(spans.is_none());
        assert!(targets.would_enable("app::server", &Level::INFO));
        assert!(!targets.would_enable("app::server", &Level::DEBUG));
        assert!(targets.would_enable("tower_http::trace", &Level::WARN));
        assert!(!targets.would_enable("tower_http::trace", &Level::INFO));
    }

    #[test]
    fn no_directives_mean_info() {
        for directives in [None, Some(""), Some("  ")] {
            let (targets, spans) = filter(directives);
            assert!(spans.is_none());
            let targets = targets.expect("targets");
            assert!(targets.would_enable("roster", &Level::INFO));
            assert!(!targets.would_enable("roster", &Level::DEBUG));
        }
    }

    #[test]
    fn span_directives_keep_env_filter() {
        let (targets, spans) = filter(Some("info,service[customers.create]=debug"));
        assert!(targets.is_none());
        assert_eq!(
            spans.expect("env filter").max_level_hint(),
            Some(LevelFilter::DEBUG)
        );
    }
}
