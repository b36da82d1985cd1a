//! Statements run with sqlx's own tracing off, and logged here instead (PostgreSQL's).
//!
//! sqlx-postgres runs each statement's row stream inside the span that is current when it
//! starts (the request's) and enters and leaves that span on every poll: a few times per
//! row, about 4% of the server's instructions for a page of 300 rows. (sqlx-sqlite reads
//! rows on its connection thread and enters no span per row: it is left as it is.) Polled with
//! no subscriber, sqlx captures no span and emits nothing. [`logged`] then says what sqlx
//! would have said by default, in the caller's span, so each line keeps the request's id:
//! every statement at DEBUG, one slower than [`SLOW_STATEMENT`] at WARN.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// A statement that took longer than this is logged at WARN (sqlx's own default).
pub const SLOW_STATEMENT: Duration = Duration::from_secs(1);

/// Most characters of a statement's text a log line holds.
const LOGGED_SQL: usize = 500;

/// Runs `statement`, the sqlx future that executes `sql`, with no tracing subscriber, and
/// logs it when it is done (whatever its outcome) in the caller's span.
pub async fn logged<F: Future>(sql: &str, statement: F) -> F::Output {
    let start = Instant::now();
    let mut statement = std::pin::pin!(statement);
    let none = tracing::Dispatch::none();
    let output = std::future::poll_fn(|cx| {
        tracing::dispatcher::with_default(&none, || statement.as_mut().poll(cx))
    })
    .await;
    let elapsed = start.elapsed();
    let sql = sql
        .char_indices()
        .nth(LOGGED_SQL)
        .map_or(sql, |(end, _)| &sql[..end]);
    let elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    if elapsed > SLOW_STATEMENT {
        tracing::warn!(elapsed_ms, sql, "slow statement");
    } else {
        tracing::debug!(elapsed_ms, sql, "statement");
    }
    output
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Level, Metadata, Subscriber};

    use super::*;

    /// What a subscriber saw: spans entered, and each event's level and fields.
    #[derive(Default)]
    struct Seen {
        entered: usize,
        events: Vec<(Level, String)>,
    }

    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Seen>>);

    struct Fields(String);

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.push_str(&format!("{}={value:?} ", field.name()));
        }
    }

    impl Subscriber for Recorder {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut fields = Fields(String::new());
            event.record(&mut fields);
            let level = *event.metadata().level();
            self.0.lock().unwrap().events.push((level, fields.0));
        }
        fn enter(&self, _: &Id) {
            self.0.lock().unwrap().entered += 1;
        }
        fn exit(&self, _: &Id) {}
    }

    /// A stand-in for sqlx's stream: it logs, and enters the span current when it was
    /// made on each of its polls.
    async fn like_sqlx(sleep: Duration) -> u32 {
        use tracing::Instrument as _;
        async move {
            tracing::info!("from sqlx");
            tokio::time::sleep(sleep).await;
            tokio::task::yield_now().await;
            7
        }
        .in_current_span()
        .await
    }

    async fn run(recorder: &Recorder, sleep: Duration, sql: &str) -> u32 {
        let dispatch = tracing::Dispatch::new(recorder.clone());
        let _default = tracing::dispatcher::set_default(&dispatch);
        let span = tracing::info_span!("request");
        let _entered = span.enter();
        logged(sql, like_sqlx(sleep)).await
    }

    #[tokio::test(start_paused = true)]
    async fn statements_enter_no_span_and_are_logged_by_us() {
        let recorder = Recorder::default();
        let output = run(&recorder, Duration::from_millis(3), "SELECT 1").await;
        assert_eq!(output, 7);
        let seen = recorder.0.lock().unwrap();
        // The request span, once: never again by the statement's polls.
        assert_eq!(seen.entered, 1);
        assert_eq!(seen.events.len(), 1, "{:?}", seen.events);
        let (level, fields) = &seen.events[0];
        assert_eq!(*level, Level::DEBUG);
        assert!(fields.contains("elapsed_ms=3 ") && fields.contains("sql=\"SELECT 1\""));
    }

    #[tokio::test(start_paused = true)]
    async fn slow_statements_are_warned_of_and_long_text_is_cut() {
        let recorder = Recorder::default();
        let sql = format!("SELECT '{}'", "é".repeat(2 * LOGGED_SQL));
        let slow = SLOW_STATEMENT + Duration::from_millis(1);
        run(&recorder, slow, &sql).await;
        let seen = recorder.0.lock().unwrap();
        assert_eq!(seen.events.len(), 1, "{:?}", seen.events);
        let (level, fields) = &seen.events[0];
        assert_eq!(*level, Level::WARN);
        let logged: String = sql.chars().take(LOGGED_SQL).collect();
        assert!(fields.contains(&format!("sql={logged:?} ")), "{fields}");
    }
}
