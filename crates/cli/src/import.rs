//! `roster customers import` and `export`: customers in bulk, upserted by externalId.

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::path::Path;

use directory_client::{Client, ClientError};
use domain::listing::CustomerQuery;
use domain::{
    Actor, Customer, CustomerDraft, CustomerPatch, CustomerPatchDraft, NewCustomer,
    ValidationErrors,
};
use futures::TryStreamExt as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ports::{CustomerDirectory, DirectoryError};
use serde_json::{Value, json};

use crate::output::csv_text;
use crate::{
    ConnectionArgs, Exit, FileFormat, OutputFormat, REPORTED, connect, origin, report, usage,
};

/// One row of an import file, as read.
#[derive(Debug, Default)]
struct Row {
    line: usize,
    name: Option<String>,
    description: Option<String>,
    external_id: Option<String>,
    labels: Option<Vec<Option<String>>>,
}

fn format_of(path: &Path, format: Option<FileFormat>) -> FileFormat {
    format.unwrap_or_else(|| {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("csv") => FileFormat::Csv,
            _ => FileFormat::Jsonl,
        }
    })
}

fn split_labels(text: &str) -> Vec<Option<String>> {
    text.split(';')
        .map(str::trim)
        .filter(|label| !label.is_empty())
        .map(|label| Some(label.to_owned()))
        .collect()
}

/// A row as read, or the line it starts on and why it cannot be read.
type ReadRow = Result<Row, (usize, String)>;

/// Every record of a CSV text with the 1-based line it starts on; blank lines are skipped
/// and rows may have any number of fields (a wrong count is that row's failure).
fn csv_records(text: &str) -> Result<Vec<(usize, Vec<String>)>, Exit> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    reader
        .records()
        .map(|record| {
            let record = record.map_err(|e| {
                let line = e.position().map_or(0, csv::Position::line);
                usage(format!("line {line}: {e}"))
            })?;
            let line = record.position().map_or(0, |at| start_line(text, at));
            Ok((line, record.iter().map(str::to_owned).collect()))
        })
        .collect()
}

/// The line a record starts on. csv reports where reading it began, which is before the
/// line breaks that precede it (a CRLF's `\n`, blank lines): those are counted here.
fn start_line(text: &str, at: &csv::Position) -> usize {
    let from = usize::try_from(at.byte()).unwrap_or(usize::MAX);
    let skipped = text
        .get(from..)
        .unwrap_or_default()
        .chars()
        .take_while(|c| matches!(c, '\r' | '\n'))
        .filter(|c| *c == '\n')
        .count();
    usize::try_from(at.line())
        .unwrap_or(usize::MAX)
        .saturating_add(skipped)
}

/// Rows of a CSV file with a header; a row that cannot be read is a failure of that row.
fn csv_rows(text: &str) -> Result<Vec<ReadRow>, Exit> {
    let records = csv_records(text)?;
    let Some(((_, header), rows)) = records.split_first() else {
        return Ok(Vec::new());
    };
    let column = |names: &[&str]| {
        header
            .iter()
            .position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)))
    };
    let name = column(&["name"]).ok_or_else(|| usage("the CSV header has no `name` column"))?;
    let description = column(&["description"]);
    let external_id = column(&["externalId", "external_id"]);
    let labels = column(&["labels"]);
    Ok(rows
        .iter()
        .map(|(line, cells)| {
            if cells.len() != header.len() {
                return Err((
                    *line,
                    format!(
                        "__all__: expected {} columns, found {}.",
                        header.len(),
                        cells.len()
                    ),
                ));
            }
            let cell = |i: Option<usize>| i.and_then(|i| cells.get(i)).cloned();
            Ok(Row {
                line: *line,
                name: cell(Some(name)),
                description: cell(description),
                external_id: cell(external_id),
                labels: cell(labels).map(|l| split_labels(&l)),
            })
        })
        .collect())
}

/// Rows of a JSON-lines file.
fn json_rows(text: &str) -> Vec<ReadRow> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            let number = index + 1;
            let value: Value = serde_json::from_str(line)
                .map_err(|e| (number, format!("__all__: not JSON: {e}.")))?;
            let object = value
                .as_object()
                .ok_or_else(|| (number, "__all__: not a JSON object.".to_owned()))?;
            let text = |key: &str| -> Result<Option<String>, (usize, String)> {
                match object.get(key) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(s)) => Ok(Some(s.clone())),
                    Some(_) => Err((number, format!("{key}: must be a string."))),
                }
            };
            let labels = match object.get("labels") {
                None | Some(Value::Null) => None,
                Some(Value::Array(items)) => Some(
                    items
                        .iter()
                        .map(|item| item.as_str().map(str::to_owned))
                        .collect(),
                ),
                Some(Value::String(s)) => Some(split_labels(s)),
                Some(_) => return Err((number, "labels: must be a list of strings.".to_owned())),
            };
            Ok(Row {
                line: number,
                name: text("name")?,
                description: text("description")?,
                external_id: text("externalId")?,
                labels,
            })
        })
        .collect()
}

/// What happened to one row.
enum Outcome {
    Created,
    Updated,
    Unchanged,
}

fn lines_of(errors: &ValidationErrors) -> Vec<String> {
    errors
        .errors()
        .iter()
        .map(|e| format!("{}: {}", wire::field_name(e.field), e.message))
        .collect()
}

/// A row's failure reasons, or the whole import's end when the server is out of reach or
/// the token is refused.
fn row_failure(error: DirectoryError) -> Result<Vec<String>, Exit> {
    match ClientError::of(&error) {
        Some(ClientError::Unauthenticated { .. } | ClientError::Transport { .. }) => {
            Err(report(&error))
        }
        _ => Ok(match &error {
            DirectoryError::Invalid(errors) => lines_of(errors),
            other => vec![format!("__all__: {other}")],
        }),
    }
}

async fn upsert(
    client: &Client,
    actor: &Actor,
    existing: &mut HashMap<String, Customer>,
    row: Row,
) -> Result<Result<Outcome, Vec<String>>, Exit> {
    let Some(external_id) = row
        .external_id
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
    else {
        return Ok(Err(vec![
            "externalId: This field is required (rows are matched by it).".to_owned(),
        ]));
    };
    if let Some(current) = existing.get(&external_id) {
        let draft = CustomerPatchDraft {
            name: row.name,
            description: row.description,
            labels: row.labels,
            ..CustomerPatchDraft::default()
        };
        let wanted = match CustomerPatch::parse(draft) {
            Ok(patch) => patch,
            Err(errors) => return Ok(Err(lines_of(&errors))),
        };
        let patch = CustomerPatch {
            name: wanted.name.filter(|n| *n != current.name),
            description: wanted.description.filter(|d| *d != current.description),
            labels: wanted.labels.filter(|l| *l != current.labels),
            ..CustomerPatch::default()
        };
        if patch == CustomerPatch::default() {
            return Ok(Ok(Outcome::Unchanged));
        }
        return match client
            .update_customer(&origin(actor), current.id, patch, None)
            .await
        {
            Ok(updated) => {
                existing.insert(external_id, updated);
                Ok(Ok(Outcome::Updated))
            }
            Err(error) => row_failure(error).map(Err),
        };
    }
    let draft = CustomerDraft {
        name: row.name.unwrap_or_default(),
        description: row.description,
        external_id: Some(external_id.clone()),
        labels: row.labels,
        ..CustomerDraft::default()
    };
    let customer = match NewCustomer::parse(draft) {
        Ok(customer) => customer,
        Err(errors) => return Ok(Err(lines_of(&errors))),
    };
    match client.create_customer(&origin(actor), customer).await {
        Ok(created) => {
            existing.insert(external_id, created);
            Ok(Ok(Outcome::Created))
        }
        Err(error) => row_failure(error).map(Err),
    }
}

/// `roster customers import FILE`.
pub(crate) async fn import(
    connection: &ConnectionArgs,
    path: &Path,
    format: Option<FileFormat>,
) -> Result<(), Exit> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
    let rows = match format_of(path, format) {
        FileFormat::Csv => csv_rows(&text)?,
        FileFormat::Jsonl => json_rows(&text),
    };
    let (client, actor) = connect(connection).await?;
    let mut existing: HashMap<String, Customer> = client
        .customer_stream(CustomerQuery::default())
        .try_collect::<Vec<_>>()
        .await
        .map_err(|e| report(&e))?
        .into_iter()
        .filter_map(|c| c.external_id.clone().map(|e| (e.to_string(), c)))
        .collect();
    let progress = progress_bar(rows.len());
    let (mut created, mut updated, mut unchanged) = (0, 0, 0);
    let mut failed: Vec<(usize, Vec<String>)> = Vec::new();
    for (index, row) in rows.into_iter().enumerate() {
        progress.set_position(u64::try_from(index + 1).unwrap_or(u64::MAX));
        let outcome = match row {
            Ok(row) => {
                let line = row.line;
                upsert(&client, &actor, &mut existing, row)
                    .await?
                    .map_err(|reasons| (line, reasons))
            }
            Err((line, reason)) => Err((line, vec![reason])),
        };
        match outcome {
            Ok(Outcome::Created) => created += 1,
            Ok(Outcome::Updated) => updated += 1,
            Ok(Outcome::Unchanged) => unchanged += 1,
            Err(failure) => failed.push(failure),
        }
    }
    progress.finish();
    for (line, reasons) in &failed {
        for reason in reasons {
            eprintln!("line {line}: {reason}");
        }
    }
    match connection.output {
        OutputFormat::Json => println!(
            "{}",
            json!({
                "created": created,
                "updated": updated,
                "unchanged": unchanged,
                "failed": failed
                    .iter()
                    .map(|(line, reasons)| json!({"line": line, "errors": reasons}))
                    .collect::<Vec<_>>(),
            })
        ),
        OutputFormat::Csv => {
            print!(
                "created,updated,unchanged,failed\n{created},{updated},{unchanged},{}\n",
                failed.len()
            );
        }
        OutputFormat::Table => println!(
            "created: {created}, updated: {updated}, unchanged: {unchanged}, failed: {}",
            failed.len()
        ),
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Exit { code: REPORTED })
    }
}

/// `roster customers export`: every customer in the import format.
pub(crate) async fn export(connection: &ConnectionArgs, format: FileFormat) -> Result<(), Exit> {
    let (client, _) = connect(connection).await?;
    let customers: Vec<Customer> = client
        .customer_stream(CustomerQuery::default())
        .try_collect()
        .await
        .map_err(|e| report(&e))?;
    let mut text = String::new();
    let mut records = vec![vec![
        "name".to_owned(),
        "description".to_owned(),
        "externalId".to_owned(),
        "labels".to_owned(),
    ]];
    for customer in customers.iter().filter(|c| !c.is_system) {
        let external_id = customer
            .external_id
            .as_ref()
            .map(|e| e.as_str())
            .unwrap_or_default();
        let labels = customer.labels.to_strings();
        match format {
            FileFormat::Csv => records.push(vec![
                customer.name.to_string(),
                customer.description.to_string(),
                external_id.to_owned(),
                labels.join(";"),
            ]),
            FileFormat::Jsonl => {
                let line = json!({
                    "name": customer.name.as_str(),
                    "description": customer.description.as_str(),
                    "externalId": customer.external_id.as_ref().map(|e| e.as_str()),
                    "labels": labels,
                });
                text.push_str(&line.to_string());
                text.push('\n');
            }
        }
    }
    if format == FileFormat::Csv {
        text = csv_text(
            records
                .iter()
                .map(|record| record.iter().map(String::as_str).collect()),
        );
    }
    print!("{text}");
    Ok(())
}

/// How import's progress is drawn: `importing [#######.............] 7/20`.
const PROGRESS_TEMPLATE: &str = "importing [{bar:30}] {pos}/{len}";

/// Import's progress bar over `total` rows: drawn on stderr when it is a terminal, hidden
/// otherwise (so redirected output holds no bar).
fn progress_bar(total: usize) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template(PROGRESS_TEMPLATE)
        .map(|style| style.progress_chars("#."))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    ProgressBar::with_draw_target(
        Some(u64::try_from(total).unwrap_or(u64::MAX)),
        ProgressDrawTarget::stderr(),
    )
    .with_style(style)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn the_progress_template_is_valid() {
        assert!(ProgressStyle::with_template(PROGRESS_TEMPLATE).is_ok());
    }

    #[test]
    fn csv_records_keep_quotes_commas_and_line_breaks_and_their_starting_lines() {
        let Ok(records) = csv_records("h1,h2\r\n\n\"x\ny\",\"say \"\"hi\"\"\"\nlast,") else {
            panic!("not read")
        };
        let starts: Vec<usize> = records.iter().map(|(line, _)| *line).collect();
        assert_eq!(starts, [1, 3, 5]);
        assert_eq!(records[1].1, ["x\ny", "say \"hi\""]);
        assert_eq!(records[2].1, ["last", ""]);
        let Ok(crlf) = csv_records("a\r\nb\r\n\r\nc\r\n") else {
            panic!("not read")
        };
        let starts: Vec<usize> = crlf.iter().map(|(line, _)| *line).collect();
        assert_eq!(starts, [1, 2, 4]);
    }

    #[test]
    fn csv_rows_report_a_wrong_column_count_on_the_row() {
        let Ok(rows) = csv_rows("name,externalId\nAcme,a\nToo,many,fields\n") else {
            panic!("not read")
        };
        assert_eq!(rows[0].as_ref().unwrap().external_id.as_deref(), Some("a"));
        assert_eq!(
            rows[1].as_ref().unwrap_err(),
            &(3, "__all__: expected 2 columns, found 3.".to_owned())
        );
    }
}
