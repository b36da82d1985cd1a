//! The event log: the two steps every customer or user write appends to its own
//! transaction (the organization's counter bumped, then the event inserted at the new
//! sequence), and [`EventRepository`], the audit query over it.
//!
//! The counter is the last lock a write takes: the change's rows first, then the counter,
//! then only the event insert and the commit. Writers of one organization therefore take
//! turns from the bump to their commit, so sequences commit in order and a reader never
//! sees sequence N+1 before N. The event's time is the later of the draft's and the
//! counter's last, so times never fall along the sequence.

use async_trait::async_trait;
use domain::events::{ActorKind, EventActor, EventType, RequestMeta, Subject, Tag};
use domain::{
    CustomerId, OrganizationId, ScimTokenId, SigningKeyId, Timestamp, UserId, Version,
    WebhookEndpointId,
};
use ports::{Event, EventDraft, EventPage, EventQuery, EventRepository, RepoError};

use super::SqlStore;
use crate::driver::{CorruptRow, Driver, Expect, SqlRow, Step, Written};
use crate::statement::{Bind, Dialect, Sql, Statement, parameter_list};

/// The columns of an event row, in the order the audit query selects them.
const EVENT_COLUMNS: &str = "organization_id, seq, id, occurred_at, type, subject_kind, subject_id, \
     customer_id, actor_id, actor_kind, request_id, client_id, entity_version, before, after";

/// An event handed to a write in another organization: refused before anything is
/// written, as it would land in the wrong organization's log.
#[derive(Debug, thiserror::Error)]
#[error("an event of organization {event} was handed to a write in organization {write}")]
pub(crate) struct MisdirectedEvent {
    event: OrganizationId,
    write: OrganizationId,
}

impl<D: Driver> SqlStore<D> {
    /// Runs the `change` steps, then the event's, in one transaction: both or neither.
    /// `Unmet` only for a step of the change (its guard), which wrote nothing.
    pub(super) async fn commit(
        &self,
        organization: OrganizationId,
        mut change: Vec<Step>,
        event: &EventDraft,
    ) -> Result<Written<D::Row>, RepoError> {
        if event.organization_id != organization {
            return Err(RepoError::unavailable(MisdirectedEvent {
                event: event.organization_id,
                write: organization,
            }));
        }
        if self.dialect() == Dialect::Postgres
            && change.len() == 1
            && let Some(step) = change.pop()
        {
            return self.commit_as_one_statement(step, event).await;
        }
        let change_steps = change.len();
        change.extend(self.append_steps(event));
        match self.driver.write(&change).await? {
            Written::Unmet { step } if step >= change_steps => {
                Err(CorruptRow("the event log has no counter for the event".into()).into_repo())
            }
            Written::Committed(rows) => {
                // The event insert is the last step; its one row is the sequence.
                let sequence = rows.last().and_then(|rows| rows.first());
                self.events_committed(organization, sequence, "seq");
                Ok(Written::Committed(rows))
            }
            written => Ok(written),
        }
    }

    /// Tells the event observer, if any, that the organization's log grew to the sequence
    /// in `row`'s `column` (or, unreadable, that it grew).
    fn events_committed(&self, organization: OrganizationId, row: Option<&D::Row>, column: &str) {
        if let Some(observer) = &self.events {
            let sequence = row
                .and_then(|row| row.opt_int(column).ok().flatten())
                .and_then(|sequence| u64::try_from(sequence).ok())
                .unwrap_or(0);
            observer.events_committed(organization, sequence);
        }
    }

    /// PostgreSQL: a one-statement change and its event in one autocommitted statement
    /// (data-modifying CTEs): one round trip where a transaction takes five, and the
    /// organization's counter, which its writers take turns on, locked only from the
    /// statement's end to its commit. The counter and the event read the change's rows, so
    /// they are written only after the change and only when it wrote: a guarded change
    /// that matched nothing writes no event, as in a batch.
    async fn commit_as_one_statement(
        &self,
        step: Step,
        event: &EventDraft,
    ) -> Result<Written<D::Row>, RepoError> {
        let Statement {
            sql: change_sql,
            binds: change_binds,
        } = step.statement;
        // A guarded change returns the rows it wrote; an unguarded one is an insert, which
        // returns nothing unless asked.
        let returning = match step.expect {
            Expect::One | Expect::AtLeastOne => "",
            Expect::Any => " RETURNING 1",
        };
        let (bump, bump_binds) =
            self.bump_sql(event, "SELECT ?, 1, ? WHERE EXISTS (SELECT 1 FROM w)");
        let tail = Sql::new(
            &format!(
                "), c AS ({bump} RETURNING organization_id, last_seq, last_at), \
                 e AS ({INSERT_EVENT} FROM c RETURNING seq) \
                 SELECT w.*, e.seq AS event_seq FROM w CROSS JOIN e"
            ),
            bump_binds.into_iter().chain(event_binds(event)),
        )
        .finish_after(self.dialect(), change_binds.len());
        let statement = Statement {
            sql: format!("WITH w AS ({change_sql}{returning}{}", tail.sql),
            binds: change_binds.into_iter().chain(tail.binds).collect(),
        };
        let rows = self.driver.fetch_written(&statement).await?;
        Ok(if step.expect.met_by(rows.len()) {
            // Each row of the change carries the event's sequence last, after the columns
            // its readers take by position.
            self.events_committed(event.organization_id, rows.first(), "event_seq");
            Written::Committed(vec![rows])
        } else {
            Written::Unmet { step: 0 }
        })
    }

    /// The counter bump, an upsert (no row need exist first) of `values` (its `?`s the
    /// organization and the event's time), with its values.
    fn bump_sql(&self, event: &EventDraft, values: &str) -> (String, [Bind; 2]) {
        let later = self
            .dialect()
            .greatest("event_counters.last_at", "excluded.last_at");
        (
            format!(
                "INSERT INTO event_counters (organization_id, last_seq, last_at) {values} \
                 ON CONFLICT (organization_id) DO UPDATE SET \
                 last_seq = event_counters.last_seq + 1, last_at = {later}"
            ),
            [
                Bind::uuid(event.organization_id.uuid()),
                Bind::time(event.at),
            ],
        )
    }

    /// The counter bump and the event insert at its new value, which must insert exactly
    /// one row, as steps of a write's batch. On PostgreSQL both are one statement (the bump
    /// a data-modifying CTE), so the counter's row lock is held for one statement and the
    /// commit rather than two; SQLite has one writer anyway.
    fn append_steps(&self, event: &EventDraft) -> Vec<Step> {
        let organization = Bind::uuid(event.organization_id.uuid());
        let (bump, bump_binds) = self.bump_sql(event, "VALUES (?, 1, ?)");
        match self.dialect() {
            Dialect::Postgres => {
                let sql = format!(
                    "WITH c AS ({bump} RETURNING organization_id, last_seq, last_at) \
                     {INSERT_EVENT} FROM c RETURNING seq"
                );
                let binds = bump_binds.into_iter().chain(event_binds(event));
                vec![Step::one(self.statement(&sql, binds))]
            }
            Dialect::Sqlite => {
                let insert = self.statement(
                    &format!(
                        "{INSERT_EVENT} FROM event_counters c WHERE c.organization_id = ? \
                         RETURNING seq"
                    ),
                    event_binds(event).into_iter().chain([organization]),
                );
                vec![
                    Step::any(self.statement(&bump, bump_binds)),
                    Step::one(insert),
                ]
            }
        }
    }

    /// The audit query: the page's rows and one more, to tell whether another page follows.
    fn events_statement(&self, organization: OrganizationId, query: &EventQuery) -> Statement {
        let mut sql = Sql::new(
            &format!("SELECT {EVENT_COLUMNS} FROM events WHERE organization_id = ?"),
            [Bind::uuid(organization.uuid())],
        );
        if let Some(after) = query.after {
            sql.and(
                "seq > ?",
                [Bind::int(i64::try_from(after).unwrap_or(i64::MAX))],
            );
        }
        if !query.types.is_empty() {
            sql.and(
                &format!("type IN {}", parameter_list(query.types.len())),
                query.types.iter().map(|kind| Bind::text(kind.key())),
            );
        }
        if let Some(subject) = query.subject {
            sql.and("subject_id = ?", [Bind::uuid(subject)]);
        }
        if let Some(actor) = query.actor {
            sql.and("actor_id = ?", [Bind::uuid(actor.uuid())]);
        }
        if let Some(customer) = query.customer {
            sql.and("customer_id = ?", [Bind::uuid(customer.uuid())]);
        }
        if let Some(since) = query.since {
            sql.and("occurred_at >= ?", [Bind::time(since)]);
        }
        if let Some(until) = query.until {
            sql.and("occurred_at < ?", [Bind::time(until)]);
        }
        // Times never fall along the sequence, so in a time range the order of
        // (occurred_at, seq) is the order of seq, and the time index gives it unsorted.
        let order = if query.since.is_some() || query.until.is_some() {
            "occurred_at, seq"
        } else {
            "seq"
        };
        sql.push(
            &format!(" ORDER BY {order} LIMIT ?"),
            [Bind::int(i64::from(query.first) + 1)],
        );
        sql.finish(self.dialect())
    }
}

#[async_trait]
impl<D: Driver> EventRepository for SqlStore<D> {
    async fn append_event(&self, event: &EventDraft) -> Result<(), RepoError> {
        self.commit(event.organization_id, Vec::new(), event)
            .await
            .map(drop)
    }

    async fn events(
        &self,
        organization: OrganizationId,
        query: &EventQuery,
    ) -> Result<EventPage, RepoError> {
        let statement = self.events_statement(organization, query);
        let mut events = self.fetch_all(statement, event).await?;
        let first = usize::try_from(query.first).unwrap_or(usize::MAX);
        let has_next_page = events.len() > first;
        events.truncate(first);
        Ok(EventPage {
            events,
            has_next_page,
        })
    }

    async fn purge_events(&self, before: Timestamp, limit: u32) -> Result<u64, RepoError> {
        self.driver
            .execute(&self.purge_statement(before, limit))
            .await
    }
}

impl<D: Driver> SqlStore<D> {
    /// One retention batch: up to `limit` events older than `before`, found organization by
    /// organization (from `event_counters`) through `events_occurred`, whose leading column
    /// is the organization, so no statement scans the whole log (`CROSS JOIN` makes SQLite
    /// walk the counters first; PostgreSQL plans it as the inner join it is). The counters
    /// are kept.
    fn purge_statement(&self, before: Timestamp, limit: u32) -> Statement {
        self.statement(
            "DELETE FROM events WHERE (organization_id, seq) IN (\
             SELECT e.organization_id, e.seq FROM event_counters c CROSS JOIN events e \
             WHERE e.organization_id = c.organization_id AND e.occurred_at < ? LIMIT ?)",
            [Bind::time(before), Bind::int(i64::from(limit))],
        )
    }
}

/// The event insert, its values after the counter's (`c`) columns; a `FROM` follows.
const INSERT_EVENT: &str = "INSERT INTO events (organization_id, seq, occurred_at, id, type, \
     subject_kind, subject_id, customer_id, actor_id, actor_kind, request_id, client_id, \
     entity_version, before, after) \
     SELECT c.organization_id, c.last_seq, c.last_at, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?";

/// The values of [`INSERT_EVENT`]'s parameters.
fn event_binds(event: &EventDraft) -> [Bind; 12] {
    let (subject_kind, subject_id) = subject_parts(event.subject);
    [
        Bind::uuid(event.id),
        Bind::text(event.kind.key()),
        Bind::text(subject_kind),
        Bind::uuid(subject_id),
        Bind::Uuid(event.customer_id.map(CustomerId::uuid)),
        Bind::Uuid(event.actor.user.map(UserId::uuid)),
        Bind::text(event.actor.kind.key()),
        tag(event.request.request_id.as_ref()),
        tag(event.request.client_id.as_ref()),
        Bind::Int(event.version.map(|version| i64::from(version.get()))),
        Bind::Json(event.before.clone()),
        Bind::Json(event.after.clone()),
    ]
}

/// How `events.subject_kind` names a subject's kind, and its id.
fn subject_parts(subject: Subject) -> (&'static str, uuid::Uuid) {
    match subject {
        Subject::Customer(id) => ("customer", id.uuid()),
        Subject::User(id) => ("user", id.uuid()),
        Subject::SigningKey(id) => ("signing_key", id.uuid()),
        Subject::Organization(id) => ("organization", id.uuid()),
        Subject::WebhookEndpoint(id) => ("webhook_endpoint", id.uuid()),
        Subject::ScimToken(id) => ("scim_token", id.uuid()),
    }
}

fn tag(tag: Option<&Tag>) -> Bind {
    Bind::Text(tag.map(|tag| tag.as_str().to_owned()))
}

fn corrupt(seq: i64, what: impl std::fmt::Display) -> RepoError {
    CorruptRow(format!("event {seq}: {what}")).into_repo()
}

/// One stored event (a cold row: read by name).
fn event(row: &impl SqlRow) -> Result<Event, RepoError> {
    let seq = row.int("seq")?;
    let sequence = u64::try_from(seq).map_err(|_| corrupt(seq, "negative sequence"))?;
    let kind = row.text("type")?;
    let kind = EventType::from_key(&kind).ok_or_else(|| corrupt(seq, format!("type {kind:?}")))?;
    let subject_id = row.uuid("subject_id")?;
    let subject = match row.text("subject_kind")?.as_str() {
        "customer" => Subject::Customer(CustomerId::from_uuid(subject_id)),
        "user" => Subject::User(UserId::from_uuid(subject_id)),
        "signing_key" => Subject::SigningKey(SigningKeyId::from_uuid(subject_id)),
        "organization" => Subject::Organization(OrganizationId::from_uuid(subject_id)),
        "webhook_endpoint" => Subject::WebhookEndpoint(WebhookEndpointId::from_uuid(subject_id)),
        "scim_token" => Subject::ScimToken(ScimTokenId::from_uuid(subject_id)),
        other => return Err(corrupt(seq, format!("subject kind {other:?}"))),
    };
    let actor_kind = row.text("actor_kind")?;
    let actor_kind = ActorKind::from_key(&actor_kind)
        .ok_or_else(|| corrupt(seq, format!("actor kind {actor_kind:?}")))?;
    let read_tag = |column: &str| -> Result<Option<Tag>, RepoError> {
        row.opt_text(column)?
            .map(|text| Tag::parse(&text).ok_or_else(|| corrupt(seq, format!("{column} {text:?}"))))
            .transpose()
    };
    let version = row
        .opt_int("entity_version")?
        .map(|n| Version::new(n).ok_or_else(|| corrupt(seq, format!("version {n}"))))
        .transpose()?;
    Ok(Event {
        sequence,
        draft: EventDraft {
            id: row.uuid("id")?,
            organization_id: OrganizationId::from_uuid(row.uuid("organization_id")?),
            kind,
            subject,
            customer_id: row.opt_uuid("customer_id")?.map(CustomerId::from_uuid),
            actor: EventActor {
                user: row.opt_uuid("actor_id")?.map(UserId::from_uuid),
                kind: actor_kind,
            },
            request: RequestMeta {
                request_id: read_tag("request_id")?,
                client_id: read_tag("client_id")?,
            },
            at: row.time("occurred_at")?,
            version,
            before: row.opt_json("before")?,
            after: row.opt_json("after")?,
        },
    })
}
