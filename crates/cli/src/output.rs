//! Printing records as an aligned table, one JSON document, or CSV.

use std::io::Write as _;

use chrono::SecondsFormat;
use comfy_table::{ContentArrangement, Table, presets};
use domain::events::{Subject, Tag};
use domain::{Customer, Role, User};
use ports::Event;
use serde_json::{Value, json};
use wire::{Global as _, GlobalId, NodeKind};

use crate::OutputFormat;

/// Records ready to print: their columns for tables and CSV, and their JSON form.
pub(crate) struct Records {
    headers: &'static [&'static str],
    rows: Vec<Vec<String>>,
    json: Vec<Value>,
}

impl Records {
    /// No records yet, with these column headers.
    pub(crate) fn new(headers: &'static [&'static str]) -> Self {
        Records {
            headers,
            rows: Vec::new(),
            json: Vec::new(),
        }
    }

    /// Adds one record.
    pub(crate) fn push(&mut self, row: Vec<String>, json: Value) {
        self.rows.push(row);
        self.json.push(json);
    }

    /// Prints a listing (JSON: an array).
    pub(crate) fn print_list(&self, format: OutputFormat) {
        self.print(format, Value::Array(self.json.clone()));
    }

    /// Prints one record (JSON: an object).
    pub(crate) fn print_one(&self, format: OutputFormat) {
        let value = self.json.first().cloned().unwrap_or(Value::Null);
        self.print(format, value);
    }

    fn print(&self, format: OutputFormat, value: Value) {
        let text = match format {
            OutputFormat::Json => {
                let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
                text.push('\n');
                text
            }
            OutputFormat::Csv => csv_text(
                std::iter::once(self.headers.to_vec()).chain(
                    self.rows
                        .iter()
                        .map(|row| row.iter().map(String::as_str).collect()),
                ),
            ),
            OutputFormat::Table => table(self.headers, &self.rows),
        };
        let _ = std::io::stdout().write_all(text.as_bytes());
    }
}

/// CSV (RFC 4180) of `records`, each ending in `\n`; fields are quoted only where they hold
/// a comma, a quote or a line break.
pub(crate) fn csv_text<'a>(records: impl IntoIterator<Item = Vec<&'a str>>) -> String {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    for record in records {
        // Writing to memory cannot fail, and every record has the header's fields.
        let _ = writer.write_record(record);
    }
    let bytes = writer.into_inner().unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// An aligned table: no borders, columns padded to their widest cell, two spaces apart,
/// no trailing spaces.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut table = Table::new();
    table
        .load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(headers.to_vec())
        .add_rows(rows.iter().cloned());
    let last = headers.len().saturating_sub(1);
    for (index, column) in table.column_iter_mut().enumerate() {
        column.set_padding((0, if index == last { 0 } else { 2 }));
    }
    let mut text = table.trim_fmt();
    text.push('\n');
    text
}

/// Customers' columns.
pub(crate) const CUSTOMER_HEADERS: &[&str] =
    &["ID", "NAME", "EXTERNAL ID", "LABELS", "DESCRIPTION"];

/// One customer's row and JSON.
pub(crate) fn push_customer(records: &mut Records, customer: &Customer) {
    let labels = customer.labels.to_strings();
    records.push(
        vec![
            customer.id.global().to_string(),
            customer.name.to_string(),
            customer
                .external_id
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            labels.join(";"),
            customer.description.to_string(),
        ],
        json!({
            "id": customer.id.global().to_string(),
            "name": customer.name.as_str(),
            "description": customer.description.as_str(),
            "externalId": customer.external_id.as_ref().map(|e| e.as_str()),
            "labels": labels,
            "isSystem": customer.is_system,
            "createdAt": customer.created_at.to_rfc3339(),
            "updatedAt": customer.updated_at.to_rfc3339(),
            "version": customer.version.get(),
        }),
    );
}

/// Users' columns.
pub(crate) const USER_HEADERS: &[&str] =
    &["ID", "EMAIL", "NAME", "ROLE", "CUSTOMER", "EXTERNAL ID"];

/// One user's row and JSON.
pub(crate) fn push_user(records: &mut Records, user: &User) {
    let customer = user.customer_id.map(|c| c.global().to_string());
    records.push(
        vec![
            user.id.global().to_string(),
            user.email.to_string(),
            user.name.to_string(),
            user.role.kind.name().to_owned(),
            customer.clone().unwrap_or_default(),
            user.external_id
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        ],
        json!({
            "id": user.id.global().to_string(),
            "email": user.email.as_str(),
            "name": user.name.as_str(),
            "phone": user.phone.as_str(),
            "externalId": user.external_id.as_ref().map(|e| e.as_str()),
            "role": user.role.kind.name(),
            "customer": customer,
            "tenantId": user.organization_id.global().to_string(),
            "active": user.is_active(),
            "createdAt": user.created_at.to_rfc3339(),
            "version": user.version.get(),
        }),
    );
}

/// Events' columns.
pub(crate) const EVENT_HEADERS: &[&str] = &[
    "SEQ",
    "TIME",
    "TYPE",
    "SUBJECT",
    "ACTOR",
    "CLIENT ID",
    "CHANGED",
];

/// One event's row and JSON (the JSON as the API's `Event` spells it). The row's ACTOR is
/// the acting user's ID, or the kind of actor when there is no user (`operator`,
/// `system`); CHANGED names an update's changed fields.
pub(crate) fn event_record(event: &Event) -> (Vec<String>, Value) {
    let draft = &event.draft;
    let subject = match draft.subject {
        Subject::Customer(id) => id.global().to_string(),
        Subject::User(id) => id.global().to_string(),
        Subject::SigningKey(id) => id.global().to_string(),
        Subject::Organization(id) => id.global().to_string(),
        Subject::WebhookEndpoint(id) => id.global().to_string(),
        Subject::ScimToken(id) => id.global().to_string(),
    };
    let actor_id = wire::actor_global_id(draft.actor).map(|id| id.to_string());
    let tag = |tag: Option<&Tag>| tag.map(|tag| tag.as_str().to_owned());
    let changed = match (&draft.before, &draft.after) {
        (Some(Value::Object(_)), Some(Value::Object(after))) => {
            after.keys().cloned().collect::<Vec<_>>().join(";")
        }
        _ => String::new(),
    };
    let id = GlobalId {
        kind: NodeKind::Event,
        uuid: draft.id,
    }
    .to_string();
    let row = vec![
        event.sequence.to_string(),
        draft.at.to_rfc3339_opts(SecondsFormat::Millis, true),
        draft.kind.key().to_owned(),
        subject.clone(),
        actor_id
            .clone()
            .unwrap_or_else(|| draft.actor.kind.key().to_owned()),
        tag(draft.request.client_id.as_ref()).unwrap_or_default(),
        changed,
    ];
    let json = json!({
        "id": id,
        "sequence": event.sequence,
        "type": draft.kind.key(),
        "occurredAt": draft.at.to_rfc3339_opts(SecondsFormat::Micros, true),
        "subjectId": subject,
        "actor": {"id": actor_id, "kind": draft.actor.kind.key().to_uppercase()},
        "requestId": tag(draft.request.request_id.as_ref()),
        "clientId": tag(draft.request.client_id.as_ref()),
        "before": draft.before,
        "after": draft.after,
        "version": draft.version.map(|version| version.get()),
    });
    (row, json)
}

/// One event's row and JSON, added to a listing.
pub(crate) fn push_event(records: &mut Records, event: &Event) {
    let (row, json) = event_record(event);
    records.push(row, json);
}

/// Roles' columns.
pub(crate) const ROLE_HEADERS: &[&str] = &["ID", "NAME", "LEVEL"];

/// One role's row and JSON.
pub(crate) fn push_role(records: &mut Records, role: &Role) {
    records.push(
        vec![
            role.id.global().to_string(),
            role.kind.name().to_owned(),
            role.kind.level().to_string(),
        ],
        json!({
            "id": role.id.global().to_string(),
            "name": role.kind.name(),
            "level": role.kind.level(),
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let text = table(
            &["ID", "NAME"],
            &[
                vec!["1".into(), "Acme".into()],
                vec!["22".into(), "B".into()],
            ],
        );
        assert_eq!(text, "ID  NAME\n1   Acme\n22  B\n");
        let ragged = table(
            &["ID", "DESCRIPTION"],
            &[
                vec!["1".into(), String::new()],
                vec!["333".into(), "x".into()],
            ],
        );
        assert_eq!(ragged, "ID   DESCRIPTION\n1\n333  x\n");
    }

    #[test]
    fn csv_quotes_only_fields_that_need_it() {
        let text = csv_text([
            vec!["ID", "NAME"],
            vec!["a,b", "say \"hi\""],
            vec!["two\nlines", ""],
        ]);
        assert_eq!(
            text,
            "ID,NAME\n\"a,b\",\"say \"\"hi\"\"\"\n\"two\nlines\",\n"
        );
    }
}
