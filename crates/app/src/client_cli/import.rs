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
use ports::{CustomerDirectory, DirectoryError};
use serde_json::{Value, json};

use super::{
    ConnectionArgs, Exit, FileFormat, OutputFormat, REPORTED, connect, csv, report, usage,
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

/// Rows of a CSV file with a header; a row that cannot be read is a failure of that row.
fn csv_rows(text: &str) -> Result<Vec<ReadRow>, Exit> {
    let records = csv::parse(text).map_err(usage)?;
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
        return match client.update_customer(actor, current.id, patch, None).await {
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
    match client.create_customer(actor, customer).await {
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
    let progress = std::io::stderr().is_terminal();
    let total = rows.len();
    let (mut created, mut updated, mut unchanged) = (0, 0, 0);
    let mut failed: Vec<(usize, Vec<String>)> = Vec::new();
    for (index, row) in rows.into_iter().enumerate() {
        if progress {
            eprint!("\r{}", progress_bar(index + 1, total));
        }
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
    if progress {
        eprintln!();
    }
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
    if format == FileFormat::Csv {
        text.push_str(&csv::line(["name", "description", "externalId", "labels"]));
    }
    for customer in customers.iter().filter(|c| !c.is_system) {
        let external_id = customer
            .external_id
            .as_ref()
            .map(|e| e.as_str())
            .unwrap_or_default();
        let labels = customer.labels.to_strings();
        match format {
            FileFormat::Csv => text.push_str(&csv::line([
                customer.name.as_str(),
                customer.description.as_str(),
                external_id,
                labels.join(";").as_str(),
            ])),
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
    print!("{text}");
    Ok(())
}

/// One line of a terminal progress bar: `importing [#######.............] 7/20`.
fn progress_bar(done: usize, total: usize) -> String {
    const WIDTH: usize = 30;
    let filled = (done.min(total) * WIDTH)
        .checked_div(total)
        .unwrap_or(WIDTH);
    format!(
        "importing [{}{}] {done}/{total}",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_bar_fills_with_the_rows_done() {
        assert_eq!(
            progress_bar(0, 3),
            format!("importing [{}] 0/3", ".".repeat(30))
        );
        assert_eq!(
            progress_bar(1, 3),
            format!("importing [{}{}] 1/3", "#".repeat(10), ".".repeat(20))
        );
        assert_eq!(
            progress_bar(3, 3),
            format!("importing [{}] 3/3", "#".repeat(30))
        );
    }
}
