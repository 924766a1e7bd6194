//! `rempart controls check`: runs the control checks on the server and
//! prints one line per control (id, result, evidence), with the findings of
//! each failing control under it. Exits non-zero when a control fails or
//! could not be checked, so that a script or a scheduler can act on it.

use anyhow::bail;
use clap::Subcommand;
use rempart_api::controls::{CheckControlsRequest, ControlReportView};

use crate::client::Client;
use crate::{ClientArgs, output};

#[derive(Debug, Subcommand)]
pub enum ControlsCommand {
    /// Check the controls of the security statement against live state.
    Check {
        /// Check only this control (repeatable), e.g. `--control AC-1`.
        #[arg(long = "control", value_name = "ID")]
        controls: Vec<String>,
    },
}

pub async fn controls(command: ControlsCommand, args: &ClientArgs) -> anyhow::Result<()> {
    let client = Client::from_args(args)?;
    match command {
        ControlsCommand::Check { controls } => {
            let report: ControlReportView = client
                .post("/api/v1/controls/check", &CheckControlsRequest { controls })
                .await?;
            if args.json {
                output::line(&serde_json::to_string_pretty(&report)?);
            } else {
                print_report(&report);
            }
            let not_passing: Vec<&str> = report
                .results
                .iter()
                .filter(|r| r.result != "pass")
                .map(|r| r.control.as_str())
                .collect();
            if !not_passing.is_empty() {
                bail!(
                    "{} of {} controls do not pass: {}",
                    not_passing.len(),
                    report.results.len(),
                    not_passing.join(", ")
                );
            }
        }
    }
    Ok(())
}

fn print_report(report: &ControlReportView) {
    let mut rows = Vec::new();
    for result in &report.results {
        let verdict = match result.result.as_str() {
            "pass" => "PASS",
            "fail" => "FAIL",
            _ => "NOT RUN",
        };
        rows.push(vec![
            result.control.clone(),
            verdict.to_owned(),
            result.evidence.clone(),
        ]);
        for finding in &result.findings {
            rows.push(vec![String::new(), String::new(), format!("- {finding}")]);
        }
        if let Some(reason) = &result.reason {
            rows.push(vec![String::new(), String::new(), format!("- {reason}")]);
        }
    }
    output::table(&["CONTROL", "RESULT", "EVIDENCE"], &rows);
}
