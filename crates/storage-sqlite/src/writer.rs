//! The writer: the one connection that writes the file, owned by one task that runs the
//! process's writes in arrival order and commits the ones that queued together in one
//! transaction (group commit).
//!
//! SQLite writes one transaction at a time per file. When each write took the connection in
//! turn, the connection sat idle between its statements while the writing request waited to
//! be scheduled again, so under load most of a write's turn was spent waiting on the
//! runtime, and the queue behind it grew. The task here never waits on a request: it takes
//! every job queued when it wakes, opens one transaction, sends each job's statements to the
//! connection's thread as one text inside a savepoint of its own, and commits once. A job
//! whose statements fail or break their [`Expect`] is rolled back to its savepoint and
//! answered alone; the others commit. Replies go out only after the commit.
//!
//! A job is also what a caller cannot cancel half-way: once taken, its transaction runs to
//! the end whatever its caller does, so the connection never returns with a transaction
//! open. A job not taken within the acquire timeout is abandoned and never runs, as a pool
//! refuses a late acquire; so is one whose caller stopped waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{Duration, Instant};

use futures::TryStreamExt as _;
use ports::{PoolStats, RepoError};
use sqlx::{Connection as _, Either, Executor as _, SqliteConnection};
use storage_sql::{Expect, Statement, Step, Waiters};
use tokio::sync::{mpsc, oneshot};

use crate::{SqliteRecord, map_error, query};

/// The most jobs one transaction commits: a bound on how long the first of them waits for
/// the last, and on the statements one transaction holds.
const MAX_GROUP: usize = 64;

/// What each job's text starts with; only the first job of a group runs it (the others'
/// texts are taken after it).
const BEGIN: &str = "BEGIN IMMEDIATE;\n";

/// Jobs queued beyond the one running; a caller past this waits for room (within the
/// acquire timeout) instead of growing the queue without bound.
const QUEUE: usize = 1024;

/// What one step of a job returned.
#[derive(Debug, Default)]
pub(crate) struct StepResult {
    /// Its rows.
    pub(crate) rows: Vec<SqliteRecord>,
    /// The rows it inserted, updated or deleted.
    pub(crate) changes: u64,
}

/// How a job ended: committed with each step's result, or rolled back because the step at
/// this index broke its expectation.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Committed.
    Committed(Vec<StepResult>),
    /// Rolled back, writing nothing: this step's rows broke its expectation.
    Unmet(usize),
}

/// The handle requests write through; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
    /// Jobs sent and not yet answered, for metrics.
    waiting: Arc<Waiters>,
    /// Whether the task is running a transaction now, for metrics.
    busy: Arc<AtomicBool>,
    acquire_timeout: Duration,
}

/// One caller's statements and where their outcome goes.
struct Job {
    /// The statements as one text (see [`one_text`]).
    text: Statement,
    /// What each statement's rows must be.
    expects: Vec<Expect>,
    /// Whether the writer took the job or its caller gave up first: exactly one of them.
    turn: Arc<Turn>,
    reply: Reply,
}

/// A job's turn at the writer: taken by the writer or abandoned by its caller, whichever
/// comes first, so a caller told "timed out" knows its job never runs.
#[derive(Debug, Default)]
struct Turn(AtomicU8);

impl Turn {
    const WAITING: u8 = 0;
    const TAKEN: u8 = 1;
    const ABANDONED: u8 = 2;

    /// The writer's side: whether the job is still wanted, and is now the writer's.
    fn take(&self) -> bool {
        self.settle(Turn::TAKEN)
    }

    /// The caller's side: whether the job had not been taken, and now never will be.
    fn abandon(&self) -> bool {
        self.settle(Turn::ABANDONED)
    }

    fn settle(&self, to: u8) -> bool {
        self.0
            .compare_exchange(Turn::WAITING, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// A failure shared by every job of a transaction (its `BEGIN` or `COMMIT` failed); each job
/// is answered with its own copy.
#[derive(Debug, thiserror::Error)]
#[error("the write transaction failed: {0}")]
struct TransactionFailed(String);

/// A job refused because it waited for the writer longer than the acquire timeout.
#[derive(Debug, thiserror::Error)]
#[error("timed out after {0:?} waiting for the database's writer")]
struct WriterTimeout(Duration);

/// The writer task stopped (the storage is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the database's writer has stopped")]
struct WriterStopped;

impl Writer {
    /// Starts the task that owns `connection`; it stops once every handle is dropped.
    pub(crate) fn spawn(connection: SqliteConnection, acquire_timeout: Duration) -> Writer {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let busy = Arc::new(AtomicBool::new(false));
        tokio::spawn(run(connection, queue, busy.clone()));
        Writer {
            jobs,
            waiting: Arc::new(Waiters::default()),
            busy,
            acquire_timeout,
        }
    }

    /// Runs `steps` in one transaction: all of them, or none if one fails or breaks its
    /// expectation.
    pub(crate) async fn run(&self, steps: &[Step]) -> Result<Outcome, RepoError> {
        let text = one_text(steps.iter().map(|step| &step.statement))?;
        let expects = steps.iter().map(|step| step.expect).collect();
        self.submit(text, expects).await
    }

    /// Runs one statement, which may return any rows, in a transaction (its group's).
    pub(crate) async fn run_one(&self, statement: &Statement) -> Result<StepResult, RepoError> {
        let text = one_text([statement].into_iter())?;
        match self.submit(text, vec![Expect::Any]).await? {
            Outcome::Committed(results) => Ok(results.into_iter().next().unwrap_or_default()),
            // `Expect::Any` is met by any rows.
            Outcome::Unmet(step) => Err(TransactionFailed(format!(
                "statement {step} expected any rows, yet was unmet"
            ))
            .into_repo()),
        }
    }

    /// Queues a job and waits for its outcome. If the writer has not taken it within the
    /// acquire timeout (the queue full, or the writer busy that long), the job is abandoned
    /// and never runs: the caller hears "unavailable", as from a pool with no connection.
    async fn submit(&self, text: Statement, expects: Vec<Expect>) -> Result<Outcome, RepoError> {
        let _waiting = self.waiting.enter();
        let deadline = Instant::now() + self.acquire_timeout;
        let turn = Arc::new(Turn::default());
        let (reply, mut outcome) = oneshot::channel();
        let job = Job {
            text,
            expects,
            turn: turn.clone(),
            reply,
        };
        let timeout = || RepoError::unavailable(WriterTimeout(self.acquire_timeout));
        self.jobs
            .send_timeout(job, self.acquire_timeout)
            .await
            .map_err(|error| match error {
                mpsc::error::SendTimeoutError::Timeout(_) => timeout(),
                mpsc::error::SendTimeoutError::Closed(_) => RepoError::unavailable(WriterStopped),
            })?;
        let answer = match tokio::time::timeout_at(deadline.into(), &mut outcome).await {
            Ok(answer) => answer,
            Err(_) if turn.abandon() => return Err(timeout()),
            // Taken just in time: it runs, so its outcome is the answer.
            Err(_) => outcome.await,
        };
        answer.unwrap_or_else(|_| Err(RepoError::unavailable(WriterStopped)))
    }

    /// The writer as a pool of one, for metrics: in use while it runs a transaction,
    /// `waiting` the jobs not yet answered.
    pub(crate) fn stats(&self, pool: &'static str) -> PoolStats {
        PoolStats {
            pool,
            max: 1,
            size: 1,
            in_use: u32::from(self.busy.load(Ordering::Relaxed)),
            waiting: self.waiting.count(),
        }
    }
}

/// The task: takes every job queued when it wakes (at most [`MAX_GROUP`]) and commits them
/// as one transaction, until every [`Writer`] is dropped.
async fn run(
    mut connection: SqliteConnection,
    mut queue: mpsc::Receiver<Job>,
    busy: Arc<AtomicBool>,
) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while queue.recv_many(&mut group, MAX_GROUP).await > 0 {
        busy.store(true, Ordering::Relaxed);
        commit_group(&mut connection, group.drain(..)).await;
        busy.store(false, Ordering::Relaxed);
    }
    let _ = connection.close().await;
}

/// One transaction: each job in a savepoint of its own, then one commit for those that
/// succeeded. A job that failed is answered at once (it wrote nothing); the rest after the
/// commit. If the transaction itself fails, every job still unanswered hears why. Jobs
/// whose callers gave up (timed out or cancelled) are skipped.
async fn commit_group(connection: &mut SqliteConnection, mut jobs: impl Iterator<Item = Job>) {
    let mut succeeded = Vec::new();
    let mut first = true;
    while let Some(job) = jobs.next() {
        if job.reply.is_closed() || !job.turn.take() {
            continue;
        }
        match run_job(connection, &job, first).await {
            Ran::NotBegun(error) => {
                let replies = std::iter::once(job.reply).chain(jobs.map(|job| job.reply));
                return fail_all(replies, &error.to_string());
            }
            Ran::Done(results) => succeeded.push((job.reply, results)),
            Ran::Failed(answer) => {
                // Undo the job's statements and drop its savepoint; if even that fails,
                // the transaction is in an unknown state: roll all of it back.
                if let Err(error) = sqlx::raw_sql("ROLLBACK TO job; RELEASE job")
                    .execute(&mut *connection)
                    .await
                {
                    let _ = connection.execute("ROLLBACK").await;
                    let _ = job.reply.send(answer);
                    let replies = succeeded
                        .into_iter()
                        .map(|(reply, _)| reply)
                        .chain(jobs.map(|job| job.reply));
                    return fail_all(replies, &error.to_string());
                }
                let _ = job.reply.send(answer);
            }
        }
        first = false;
    }
    if first {
        // Every job was skipped: no transaction began.
        return;
    }
    match connection.execute("COMMIT").await {
        Ok(_) => {
            for (reply, results) in succeeded {
                let _ = reply.send(Ok(Outcome::Committed(results)));
            }
        }
        Err(error) => {
            let _ = connection.execute("ROLLBACK").await;
            fail_all(
                succeeded.into_iter().map(|(reply, _)| reply),
                &error.to_string(),
            );
        }
    }
}

/// How running one job's text went.
enum Ran {
    /// The transaction could not begin (the group's first job only): nothing ran.
    NotBegun(sqlx::Error),
    /// Every statement ran and met its expectation: each one's result.
    Done(Vec<StepResult>),
    /// The job must be rolled back to its savepoint, and answered with this.
    Failed(Result<Outcome, RepoError>),
}

/// The job's text in one hand-over to the connection's thread: `BEGIN IMMEDIATE` if it is
/// the group's `first`, then `SAVEPOINT job` and its statements.
async fn run_job(connection: &mut SqliteConnection, job: &Job, first: bool) -> Ran {
    let (sql, prefix) = if first {
        (job.text.sql.as_str(), 2)
    } else {
        (&job.text.sql[BEGIN.len()..], 1)
    };
    let steps = job.expects.len();
    // One result per statement, the prefix's included (they have no rows), and one begun
    // after the last statement ended or while one failed.
    let mut results: Vec<StepResult> = Vec::with_capacity(prefix + steps + 1);
    results.push(StepResult::default());
    let mut failed = None;
    {
        let mut stream = connection.fetch_many(query(sql, &job.text.binds));
        loop {
            match stream.try_next().await {
                Ok(Some(Either::Right(row))) => {
                    if let Some(step) = results.last_mut() {
                        step.rows.push(SqliteRecord::from(row));
                    }
                }
                Ok(Some(Either::Left(done))) => {
                    if let Some(step) = results.last_mut() {
                        step.changes = done.rows_affected();
                    }
                    results.push(StepResult::default());
                }
                Ok(None) => break,
                Err(error) => {
                    failed = Some(error);
                    break;
                }
            }
        }
    }
    // The statements that ran to their end, the prefix's dropped.
    results.pop();
    if first
        && results.is_empty()
        && let Some(error) = failed
    {
        return Ran::NotBegun(error);
    }
    let results: Vec<StepResult> = results.into_iter().skip(prefix).collect();
    let unmet = job
        .expects
        .iter()
        .zip(&results)
        .position(|(expect, result)| !expect.met_by(result.rows.len()));
    match (unmet, failed) {
        // A step unmet before a later one failed is the cause: the later one may have
        // failed for want of what the unmet one did not write.
        (Some(step), _) => Ran::Failed(Ok(Outcome::Unmet(step))),
        (None, Some(error)) => Ran::Failed(Err(map_error(error))),
        (None, None) if results.len() == steps => Ran::Done(results),
        (None, None) => Ran::Failed(Err(TransactionFailed(format!(
            "{} of {steps} statements ran",
            results.len()
        ))
        .into_repo())),
    }
}

impl TransactionFailed {
    fn into_repo(self) -> RepoError {
        RepoError::unavailable(self)
    }
}

/// Where a job's outcome goes.
type Reply = oneshot::Sender<Result<Outcome, RepoError>>;

/// Answers each of `replies` with the transaction's failure.
fn fail_all(replies: impl Iterator<Item = Reply>, message: &str) {
    for reply in replies {
        let _ = reply.send(Err(TransactionFailed(message.to_owned()).into_repo()));
    }
}

/// [`BEGIN`], `SAVEPOINT job` and then `statements`, as one text of statements each ended by `;`, with
/// anonymous parameters (`?`): sqlx binds those in order across the statements of a text,
/// where numbered ones are bound wrongly once a statement's numbers do not start at 1.
///
/// # Errors
/// A statement that does not use its parameters once each and in order (`?1`, `?2`, ...),
/// as `Sql::finish` numbers them: renumbering it could bind a wrong value.
fn one_text<'a>(statements: impl Iterator<Item = &'a Statement>) -> Result<Statement, RepoError> {
    let mut sql = format!("{BEGIN}SAVEPOINT job;\n");
    let mut binds = Vec::new();
    for statement in statements {
        let mut runs = statement.sql.split('?');
        sql.push_str(runs.next().unwrap_or_default());
        let mut used = 0;
        for run in runs {
            let digits = run.len() - run.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            used += 1;
            if run[..digits].parse::<usize>().ok() != Some(used) {
                return Err(misnumbered(statement));
            }
            sql.push('?');
            sql.push_str(&run[digits..]);
        }
        if used != statement.binds.len() {
            return Err(misnumbered(statement));
        }
        sql.push_str(";\n");
        binds.extend(statement.binds.iter().cloned());
    }
    Ok(Statement { sql, binds })
}

/// A statement whose parameters are not `?1`, `?2`, ... in order, each once.
#[derive(Debug, thiserror::Error)]
#[error("the statement's parameters are not numbered once each and in order: {0}")]
struct Misnumbered(String);

fn misnumbered(statement: &Statement) -> RepoError {
    RepoError::unavailable(Misnumbered(statement.sql.clone()))
}

#[cfg(test)]
mod tests {
    use storage_sql::Bind;

    use super::*;

    fn statement(sql: &str, binds: i64) -> Statement {
        Statement {
            sql: sql.into(),
            binds: (0..binds).map(|n| Bind::Int(Some(n))).collect(),
        }
    }

    #[test]
    fn joins_steps_with_anonymous_parameters_in_order() {
        let steps = [
            statement("INSERT INTO t (a, b) VALUES (?1, ?2)", 2),
            statement("SELECT 1", 0),
            statement("UPDATE t SET a = ?1 WHERE b = ?2 RETURNING ?3", 3),
        ];
        let text = one_text(steps.iter()).unwrap();
        assert_eq!(
            text.sql,
            "BEGIN IMMEDIATE;\nSAVEPOINT job;\nINSERT INTO t (a, b) VALUES (?, ?);\nSELECT 1;\n\
             UPDATE t SET a = ? WHERE b = ? RETURNING ?;\n"
        );
        assert_eq!(text.binds.len(), 5);
    }

    #[test]
    fn refuses_parameters_out_of_order_or_reused() {
        for (sql, binds) in [
            ("a = ?2 AND b = ?1", 2),
            ("a = ?1 AND b = ?1", 1),
            ("a = ?", 1),
        ] {
            assert!(
                one_text([&statement(sql, binds)].into_iter()).is_err(),
                "{sql}"
            );
        }
        let extra = statement("a = ?1", 2);
        assert!(one_text([&extra].into_iter()).is_err(), "a value too many");
    }
}
