//! What the CLI prints: results on standard output, a one-line reason on
//! standard error when it fails.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the CLI's output"
)]

use std::process::ExitCode;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Prints the failure on one line and returns the failing exit code.
pub fn fail(err: &anyhow::Error) -> ExitCode {
    let chain: Vec<String> = err.chain().map(ToString::to_string).collect();
    eprintln!("error: {}", chain.join(": ").replace('\n', " "));
    ExitCode::FAILURE
}

pub fn line(text: &str) {
    println!("{text}");
}

pub fn note(text: &str) {
    eprintln!("{text}");
}

/// Prints an API answer as indented JSON, the keys of each object in
/// alphabetical order.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    line(&serde_json::to_string_pretty(&serde_json::to_value(
        value,
    )?)?);
    Ok(())
}

/// A time as the API writes it (RFC 3339).
pub fn time(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// A table cell for a value that may be absent: `-` when it is.
pub fn cell<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// A table cell for a time that may be absent.
pub fn time_cell(at: Option<OffsetDateTime>) -> String {
    cell(at.map(time))
}

/// Prints rows as aligned columns under a header.
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let render = |cells: Vec<String>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    println!(
        "{}",
        render(header.iter().map(|h| (*h).to_owned()).collect())
    );
    for row in rows {
        println!("{}", render(row.clone()));
    }
}
