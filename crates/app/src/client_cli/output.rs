//! Printing records as an aligned table, one JSON document, or CSV.

use std::io::Write as _;

use domain::{Customer, Role, User};
use serde_json::{Value, json};
use wire::Global as _;

use super::OutputFormat;
use super::csv;

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
            OutputFormat::Csv => {
                let mut text = csv::line(self.headers.iter().copied());
                for row in &self.rows {
                    text.push_str(&csv::line(row.iter().map(String::as_str)));
                }
                text
            }
            OutputFormat::Table => table(self.headers, &self.rows),
        };
        let _ = std::io::stdout().write_all(text.as_bytes());
    }
}

/// An aligned table: columns padded to their widest cell, two spaces apart.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}  "));
            }
        }
        text.push_str(out.trim_end());
        text.push('\n');
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
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
            "createdAt": user.created_at.to_rfc3339(),
            "version": user.version.get(),
        }),
    );
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
    }
}
