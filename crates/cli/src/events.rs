//! `roster events list|tail`: the event log through the client's `EventDirectory`, as
//! the token's caller may read it.

use std::io::Write as _;
use std::time::Duration;

use domain::events::EventType;
use domain::{Field, FieldError};
use ports::{Event, EventDirectory, EventQuery};
use wire::{GlobalId, NodeKind};

use crate::output::{EVENT_HEADERS, Records, csv_text, event_record, push_event};
use crate::{
    ConnectionArgs, EventFilterArgs, EventsCommand, Exit, OutputFormat, connect, report, usage,
};

/// The most events one request asks for (the API's largest page).
const PAGE: u32 = 100;

/// How long `tail` waits before asking again when it has seen every event.
const POLL: Duration = Duration::from_secs(1);

/// Runs `roster events ...`.
pub(crate) async fn run(command: EventsCommand) -> Result<(), Exit> {
    match command {
        EventsCommand::List {
            connection,
            filter,
            subject,
            first,
        } => {
            let query = EventQuery {
                after: filter.after,
                types: event_types(&filter.types)?,
                subject: subject.as_deref().map(subject_uuid).transpose()?,
                ..EventQuery::default()
            };
            list(&connection, query, first).await
        }
        EventsCommand::Tail { connection, filter } => tail(&connection, &filter).await,
    }
}

/// The types `--type` names; an unknown name is a usage error that lists the known ones.
fn event_types(names: &[String]) -> Result<Vec<EventType>, Exit> {
    names
        .iter()
        .map(|name| {
            EventType::from_key(name.trim()).ok_or_else(|| {
                let known: Vec<&str> = EventType::ALL.iter().map(|kind| kind.key()).collect();
                usage(format!(
                    "unknown event type {name:?} (one of: {})",
                    known.join(", ")
                ))
            })
        })
        .collect()
}

/// The UUID of `--subject`: a customer's or a user's ID.
fn subject_uuid(text: &str) -> Result<uuid::Uuid, Exit> {
    match GlobalId::parse(text) {
        Ok(GlobalId {
            kind: NodeKind::Customer | NodeKind::User,
            uuid,
        }) => Ok(uuid),
        _ => Err(report(&ports::DirectoryError::Invalid(
            FieldError::invalid(Field::Id, "Invalid ID").into(),
        ))),
    }
}

/// Prints at most `first` events matching `query`, page after page; says on stderr how to
/// go on when more follow.
async fn list(connection: &ConnectionArgs, mut query: EventQuery, first: u32) -> Result<(), Exit> {
    let (client, actor) = connect(connection).await?;
    let mut events: Vec<Event> = Vec::new();
    let mut more = false;
    let wanted = usize::try_from(first).unwrap_or(usize::MAX);
    while events.len() < wanted {
        let left = u32::try_from(wanted - events.len()).unwrap_or(u32::MAX);
        query.first = left.min(PAGE);
        let page = client
            .events(&actor, &query)
            .await
            .map_err(|e| report(&e))?;
        more = page.has_next_page;
        let Some(last) = page.events.last() else {
            break;
        };
        query.after = Some(last.sequence);
        events.extend(page.events);
        if !more {
            break;
        }
    }
    let mut records = Records::new(EVENT_HEADERS);
    for event in &events {
        push_event(&mut records, event);
    }
    records.print_list(connection.output);
    if more && let Some(last) = events.last() {
        eprintln!("More events follow: add --after {}.", last.sequence);
    }
    Ok(())
}

/// Prints events as they come, from after `--after` or else from now, until Ctrl-C.
async fn tail(connection: &ConnectionArgs, filter: &EventFilterArgs) -> Result<(), Exit> {
    let types = event_types(&filter.types)?;
    let (client, actor) = connect(connection).await?;
    let mut query = EventQuery {
        after: filter.after,
        first: PAGE,
        types,
        // Without `--after`, the events from now on: `since` until the first one is seen,
        // then its sequence.
        since: filter.after.is_none().then(domain::now),
        ..EventQuery::default()
    };
    let mut printer = TailPrinter::new(connection.output);
    let stop = tokio::signal::ctrl_c();
    tokio::pin!(stop);
    loop {
        let page = tokio::select! {
            _ = &mut stop => return Ok(()),
            page = client.events(&actor, &query) => page.map_err(|e| report(&e))?,
        };
        printer.print(&page.events);
        if let Some(last) = page.events.last() {
            query.after = Some(last.sequence);
            query.since = None;
        }
        if page.has_next_page {
            continue;
        }
        tokio::select! {
            _ = &mut stop => return Ok(()),
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Prints `tail`'s events batch by batch: a table with fixed column widths (the header
/// once), CSV (the header once), or one JSON object per line.
pub(crate) struct TailPrinter {
    format: OutputFormat,
    header_printed: bool,
}

/// The width of each column of `tail`'s table but the last: what the longest sequence,
/// time, type and ID usually take, so rows printed apart still line up.
const TAIL_WIDTHS: [usize; 6] = [7, 24, 21, 60, 56, 16];

impl TailPrinter {
    pub(crate) fn new(format: OutputFormat) -> Self {
        TailPrinter {
            format,
            header_printed: false,
        }
    }

    /// The text that prints `events` (with the header, the first time).
    pub(crate) fn text(&mut self, events: &[Event]) -> String {
        let mut text = String::new();
        if events.is_empty() {
            return text;
        }
        let header = !std::mem::replace(&mut self.header_printed, true);
        match self.format {
            OutputFormat::Json => {
                for event in events {
                    text.push_str(&event_record(event).1.to_string());
                    text.push('\n');
                }
            }
            OutputFormat::Csv => {
                let rows: Vec<Vec<String>> =
                    events.iter().map(|event| event_record(event).0).collect();
                let headers = header.then(|| EVENT_HEADERS.to_vec());
                text = csv_text(
                    headers.into_iter().chain(
                        rows.iter()
                            .map(|row| row.iter().map(String::as_str).collect()),
                    ),
                );
            }
            OutputFormat::Table => {
                if header {
                    text.push_str(&fixed_line(EVENT_HEADERS));
                }
                for event in events {
                    let row = event_record(event).0;
                    text.push_str(&fixed_line(&row));
                }
            }
        }
        text
    }

    fn print(&mut self, events: &[Event]) {
        let text = self.text(events);
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(text.as_bytes());
        let _ = stdout.flush();
    }
}

/// One line of `tail`'s table: each cell padded to its column's width and two spaces, the
/// last as is, no trailing spaces.
fn fixed_line<S: AsRef<str>>(cells: &[S]) -> String {
    let mut line = String::new();
    for (index, cell) in cells.iter().enumerate() {
        let cell = cell.as_ref();
        match TAIL_WIDTHS.get(index) {
            Some(width) => line.push_str(&format!("{cell:<width$}  ")),
            None => line.push_str(cell),
        }
    }
    let mut line = line.trim_end().to_owned();
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use domain::events::{ActorKind, EventActor, RequestMeta, Subject, Tag};
    use domain::{CustomerId, OrganizationId, Timestamp, UserId, Version};
    use ports::EventDraft;
    use serde_json::json;
    use wire::Global as _;

    use super::*;
    use crate::ClientCommand;

    #[derive(Parser)]
    struct Roster {
        #[command(subcommand)]
        command: ClientCommand,
    }

    fn parse(args: &[&str]) -> EventsCommand {
        let cli = Roster::try_parse_from(["roster"].iter().chain(args)).unwrap();
        let ClientCommand::Events(command) = cli.command else {
            panic!("not events")
        };
        command
    }

    #[test]
    fn list_and_tail_take_their_filters() {
        let EventsCommand::List {
            filter,
            subject,
            first,
            ..
        } = parse(&[
            "events",
            "list",
            "--type",
            "customer.created",
            "--type",
            "user.updated",
            "--after",
            "41",
            "--first",
            "250",
            "--subject",
            "abc",
        ])
        else {
            panic!("not list")
        };
        assert_eq!(filter.types, ["customer.created", "user.updated"]);
        assert_eq!(filter.after, Some(41));
        assert_eq!(first, 250);
        assert_eq!(subject.as_deref(), Some("abc"));

        let EventsCommand::List { filter, first, .. } = parse(&["events", "list"]) else {
            panic!("not list")
        };
        assert!(filter.types.is_empty() && filter.after.is_none());
        assert_eq!(first, 100, "a page by default");

        let EventsCommand::Tail { filter, .. } =
            parse(&["events", "tail", "--after", "7", "-o", "json"])
        else {
            panic!("not tail")
        };
        assert_eq!(filter.after, Some(7));

        for refused in [
            &["events", "list", "--first", "0"][..],
            &["events", "list", "--after", "-1"],
            &["events", "tail", "--first", "5"],
            &["events", "tail", "--subject", "x"],
        ] {
            assert!(
                Roster::try_parse_from(["roster"].iter().chain(refused)).is_err(),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn types_and_subjects_are_checked_before_any_request() {
        assert_eq!(
            event_types(&["customer.created".into(), " user.role_changed ".into()]).unwrap(),
            [EventType::CustomerCreated, EventType::UserRoleChanged]
        );
        assert_eq!(event_types(&["customer.made".into()]).unwrap_err().code, 2);
        let customer = CustomerId::generate();
        assert_eq!(
            subject_uuid(&customer.global().to_string()).unwrap(),
            customer.uuid()
        );
        let user = UserId::generate();
        assert_eq!(
            subject_uuid(&user.global().to_string()).unwrap(),
            user.uuid()
        );
        let role = domain::RoleId::generate().global().to_string();
        assert_eq!(subject_uuid(&role).unwrap_err().code, 1);
        assert_eq!(subject_uuid("nonsense").unwrap_err().code, 1);
    }

    fn event(sequence: u64, kind: EventType, before: Option<serde_json::Value>) -> Event {
        let customer = CustomerId::from_uuid(uuid::Uuid::from_u128(7));
        Event {
            sequence,
            draft: EventDraft {
                id: uuid::Uuid::from_u128(u128::from(sequence)),
                organization_id: OrganizationId::generate(),
                kind,
                subject: Subject::Customer(customer),
                customer_id: Some(customer),
                actor: EventActor {
                    user: None,
                    kind: ActorKind::Operator,
                },
                request: RequestMeta {
                    request_id: Tag::parse("req-1"),
                    client_id: Tag::parse("sync-a"),
                },
                at: Timestamp::from_timestamp_micros(1_767_225_600_123_456).unwrap(),
                version: Version::new(2),
                before,
                after: Some(json!({"name": "Acme", "starred": true})),
            },
        }
    }

    #[test]
    fn events_print_as_the_api_spells_them() {
        let updated = event(
            12,
            EventType::CustomerUpdated,
            Some(json!({"name": "A", "starred": false})),
        );
        let (row, json) = event_record(&updated);
        let subject = CustomerId::from_uuid(uuid::Uuid::from_u128(7))
            .global()
            .to_string();
        assert_eq!(
            row,
            [
                "12",
                "2026-01-01T00:00:00.123Z",
                "customer.updated",
                subject.as_str(),
                "operator",
                "sync-a",
                "name;starred",
            ]
        );
        assert_eq!(
            json,
            json!({
                "id": GlobalId { kind: NodeKind::Event, uuid: uuid::Uuid::from_u128(12) }.to_string(),
                "sequence": 12,
                "type": "customer.updated",
                "occurredAt": "2026-01-01T00:00:00.123456Z",
                "subjectId": subject,
                "actor": {"id": null, "kind": "OPERATOR"},
                "requestId": "req-1",
                "clientId": "sync-a",
                "before": {"name": "A", "starred": false},
                "after": {"name": "Acme", "starred": true},
                "version": 2,
            })
        );
        let created = event_record(&event(1, EventType::CustomerCreated, None)).0;
        assert_eq!(created[6], "", "a creation changes no listed fields");
    }

    #[test]
    fn tail_prints_one_header_and_lines_that_line_up() {
        let mut table = TailPrinter::new(OutputFormat::Table);
        assert_eq!(table.text(&[]), "", "nothing yet, not even the header");
        let first = table.text(&[event(9, EventType::CustomerCreated, None)]);
        let second = table.text(&[event(10, EventType::CustomerDeleted, None)]);
        let lines: Vec<&str> = first.lines().chain(second.lines()).collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[0].starts_with("SEQ "));
        for column in ["TIME", "TYPE", "SUBJECT", "ACTOR"] {
            let at = lines[0].find(column).unwrap();
            assert!(
                lines[1..]
                    .iter()
                    .all(|line| line[..at].ends_with("  ") && !line[at..].starts_with(' ')),
                "{column}: {lines:#?}"
            );
        }
        assert!(lines.iter().all(|line| !line.ends_with(' ')));

        let mut csv = TailPrinter::new(OutputFormat::Csv);
        let text = csv.text(&[event(9, EventType::CustomerCreated, None)])
            + &csv.text(&[event(10, EventType::CustomerDeleted, None)]);
        assert_eq!(text.lines().count(), 3);
        assert!(text.starts_with("SEQ,TIME,TYPE,SUBJECT,ACTOR,CLIENT ID,CHANGED\n9,"));

        let mut lines = TailPrinter::new(OutputFormat::Json);
        let text = lines.text(&[
            event(9, EventType::CustomerCreated, None),
            event(10, EventType::CustomerDeleted, None),
        ]);
        let sequences: Vec<u64> = text
            .lines()
            .map(|line| {
                serde_json::from_str::<serde_json::Value>(line).unwrap()["sequence"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(sequences, [9, 10], "one JSON object per line");
    }
}
