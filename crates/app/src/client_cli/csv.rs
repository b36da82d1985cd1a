//! Just enough CSV (RFC 4180) for import and export: quoting on write, quoted fields with
//! commas, doubled quotes and line breaks on read.

/// One CSV line (with its line break) of `cells`, quoting where needed.
pub(crate) fn line<'a>(cells: impl IntoIterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = cells
        .into_iter()
        .map(|cell| {
            if cell.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", cell.replace('"', "\"\""))
            } else {
                cell.to_owned()
            }
        })
        .collect();
    let mut text = quoted.join(",");
    text.push('\n');
    text
}

/// Every record of `text`, each with the 1-based line it starts on; blank lines are skipped.
///
/// # Errors
/// An unterminated quoted field, with its line.
pub(crate) fn parse(text: &str) -> Result<Vec<(usize, Vec<String>)>, String> {
    let mut records = Vec::new();
    let mut record: Vec<String> = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut line = 1;
    let mut start = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    cell.push('\n');
                }
                other => cell.push(other),
            }
            continue;
        }
        match c {
            '"' if cell.is_empty() => quoted = true,
            ',' => record.push(std::mem::take(&mut cell)),
            '\r' => {}
            '\n' => {
                record.push(std::mem::take(&mut cell));
                if !(record.len() == 1 && record[0].is_empty()) {
                    records.push((start, std::mem::take(&mut record)));
                }
                record.clear();
                line += 1;
                start = line;
            }
            other => cell.push(other),
        }
    }
    if quoted {
        return Err(format!("line {start}: unterminated quoted field"));
    }
    if !cell.is_empty() || !record.is_empty() {
        record.push(cell);
        records.push((start, record));
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn round_trips_quotes_commas_and_line_breaks() {
        let cells = ["a,b", "say \"hi\"", "two\nlines", "plain"];
        let text = line(cells);
        let parsed = parse(&text).unwrap();
        assert_eq!(parsed, [(1, cells.map(String::from).to_vec())]);
    }

    #[test]
    fn numbers_records_by_starting_line_and_skips_blank_lines() {
        let parsed = parse("h1,h2\r\n\n\"x\ny\",2\nlast,").unwrap();
        let starts: Vec<usize> = parsed.iter().map(|(l, _)| *l).collect();
        assert_eq!(starts, [1, 3, 5]);
        assert_eq!(parsed[2].1, ["last", ""]);
        assert!(parse("\"open").is_err());
    }
}
