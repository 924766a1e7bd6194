//! `rempart vault`: the customer-data vault, as a client of the API.
//! Collections and their schemas, records (written only at the version
//! read: `--if-match`), searches, and the data-subject requests with the
//! disposal register.
//!
//! Personal data stays off the command line where it can: a data subject
//! for an erasure or an export, and a search value, are read from a masked
//! prompt or from standard input (`--subject-stdin`, `--value-stdin`),
//! never from the arguments, which the process list and the shell history
//! keep. Record values come from a file or standard input (`-`), or inline
//! for scripts that hold no personal data.

use std::io::{BufRead as _, Read as _};
use std::path::Path;

use anyhow::{Context as _, bail};
use clap::Subcommand;
use rempart_api::vault::{
    Collection, CollectionList, DisposalList, Field, NewCollection, Record, RecordList,
    RecordListQuery, RecordPage, RecordQuery, RecordRef, RecordWrite, SchemaChange, SchemaStep,
    SearchRequest, SubjectExport, SubjectRequest,
};
use rempart_model::vault::CollectionName;
use reqwest::Method;
use secrecy::{ExposeSecret as _, SecretString};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::client::Client;
use crate::{ClientArgs, output};

#[derive(Debug, Subcommand)]
pub enum VaultCommand {
    /// Collections and their schemas.
    Collection {
        #[command(subcommand)]
        command: CollectionCommand,
    },
    /// Records: write, read, list, delete, search.
    Record {
        #[command(subcommand)]
        command: RecordCommand,
    },
    /// Data-subject requests: export everything held, or erase it.
    Subject {
        #[command(subcommand)]
        command: SubjectCommand,
    },
    /// The disposal register: what erasures destroyed, and when.
    Disposals {
        #[arg(value_name = "TENANT_ID")]
        tenant: Uuid,
    },
}

#[derive(Debug, Subcommand)]
pub enum CollectionCommand {
    /// Declares a collection: every field with a type and a class.
    Create {
        #[arg(value_name = "TENANT_ID")]
        tenant: Uuid,
        name: String,
        /// A JSON file holding the fields (an array of {name, type, class,
        /// required, searchable, max_length}), or `-` for standard input.
        #[arg(long, value_name = "FILE")]
        fields: String,
    },
    /// Lists the tenant's collections.
    List {
        #[arg(value_name = "TENANT_ID")]
        tenant: Uuid,
    },
    /// Shows a collection's current schema.
    Show {
        #[arg(value_name = "TENANT_ID")]
        tenant: Uuid,
        name: String,
    },
    /// Changes a collection's schema: add, reclassify or deprecate fields.
    Change {
        #[arg(value_name = "TENANT_ID")]
        tenant: Uuid,
        name: String,
        /// A JSON file holding the steps (an array of {op: add, field} |
        /// {op: reclassify, field, class} | {op: deprecate, field}), or `-`.
        #[arg(long, value_name = "FILE")]
        steps: String,
        /// Apply only to this schema version.
        #[arg(long, value_name = "VERSION")]
        if_match: Option<u32>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RecordCommand {
    /// Stores a new record, or replaces one (`--id` with the version read,
    /// `--if-match`).
    Put {
        #[arg(value_name = "TENANT_ID")]
        tenant: Uuid,
        collection: String,
        /// The record to replace.
        #[arg(long, requires = "if_match")]
        id: Option<Uuid>,
        /// The version the replaced record was read at.
        #[arg(long, value_name = "VERSION", requires = "id")]
        if_match: Option<u64>,
        /// The data subject the record is about (shows in the process
        /// list: prefer --subject-stdin for real identifiers).
        #[arg(long, conflicts_with = "subject_stdin")]
        subject: Option<String>,
        /// Read the data subject from the first line of standard input.
        #[arg(long)]
        subject_stdin: bool,
        /// The values: a JSON object inline, a JSON file, or `-` for
        /// standard input.
        #[arg(long, value_name = "JSON|FILE|-")]
        values: String,
    },
    /// Reads a record as your grants see it (clear, masked or left out).
    Get {
        #[arg(value_name = "TENANT_ID")]
        tenant: Uuid,
        collection: String,
        id: Uuid,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Lists a collection's records, a page at a time.
    List {
        #[arg(value_name = "TENANT_ID")]
        tenant: Uuid,
        collection: String,
        /// Start after this record (the `next` of the previous page).
        #[arg(long)]
        after: Option<Uuid>,
        /// Records per page (1 to 500).
        #[arg(long)]
        limit: Option<u32>,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Deletes a record (at a version, with --if-match).
    Delete {
        #[arg(value_name = "TENANT_ID")]
        tenant: Uuid,
        collection: String,
        id: Uuid,
        #[arg(long, value_name = "VERSION")]
        if_match: Option<u64>,
    },
    /// Finds the records whose searchable field equals a value; the value
    /// is prompted for (input hidden) or read from standard input.
    Search {
        #[arg(value_name = "TENANT_ID")]
        tenant: Uuid,
        collection: String,
        #[arg(long)]
        field: String,
        /// Read the value from the first line of standard input.
        #[arg(long)]
        value_stdin: bool,
        /// The value is JSON (a number, a boolean), not text.
        #[arg(long)]
        json_value: bool,
        #[command(flatten)]
        read: ReadArgs,
    },
}

/// How a record is read.
#[derive(Debug, clap::Args)]
pub struct ReadArgs {
    /// Only these fields (comma-separated).
    #[arg(long, value_name = "A,B")]
    fields: Option<String>,
    /// Why personal data is read: needed to see sensitive fields in clear
    /// (fraud_prevention, account_management, … or other:<text>).
    #[arg(long)]
    purpose: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum SubjectCommand {
    /// Exports everything held about a data subject, every field in clear,
    /// as JSON.
    Export {
        #[arg(value_name = "TENANT_ID")]
        tenant: Uuid,
        /// Read the subject from the first line of standard input.
        #[arg(long)]
        subject_stdin: bool,
    },
    /// Erases everything held about a data subject and destroys its key.
    /// Irreversible.
    Erase {
        #[arg(value_name = "TENANT_ID")]
        tenant: Uuid,
        /// Read the subject from the first line of standard input.
        #[arg(long)]
        subject_stdin: bool,
    },
}

/// A line of personal data: from standard input, or from the terminal
/// with echo off.
fn personal(prompt: &str, stdin: bool) -> anyhow::Result<SecretString> {
    let text = if stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read standard input")?;
        line
    } else {
        rpassword::prompt_password(prompt).context("cannot read from the terminal")?
    };
    let text = text.trim_end_matches(['\r', '\n']).to_owned();
    if text.trim().is_empty() {
        bail!("nothing was entered");
    }
    Ok(SecretString::from(text))
}

/// JSON from `source`: `-` for standard input, inline JSON (an object or
/// an array), or a file.
fn json_from<T: DeserializeOwned>(source: &str, what: &str) -> anyhow::Result<T> {
    let text = if source == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read standard input")?;
        text
    } else if source.trim_start().starts_with(['{', '[']) {
        source.to_owned()
    } else {
        std::fs::read_to_string(Path::new(source))
            .with_context(|| format!("cannot read {source}"))?
    };
    serde_json::from_str(&text).with_context(|| format!("{what} are not valid JSON"))
}

/// The API path of `collection` in `tenant`, its name checked first (it
/// becomes a path segment).
fn collection_path(tenant: Uuid, collection: &str) -> anyhow::Result<String> {
    let name = CollectionName::parse(collection)?;
    Ok(format!("/api/v1/tenants/{tenant}/vault/collections/{name}"))
}

/// An enumeration's name as the API writes it (`sensitive_pii`).
fn word(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn print_collection(c: &Collection, json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(c);
    }
    output::line(&format!(
        "{} (schema version {}, {})",
        c.name,
        c.version,
        output::time(c.created_at)
    ));
    let rows: Vec<Vec<String>> = c
        .fields
        .iter()
        .map(|f: &Field| {
            vec![
                f.name.clone(),
                word(&f.ty),
                word(&f.class),
                if f.required { "yes" } else { "no" }.to_owned(),
                output::cell(f.searchable),
                if f.deprecated { "deprecated" } else { "" }.to_owned(),
            ]
        })
        .collect();
    output::table(
        &["FIELD", "TYPE", "CLASS", "REQUIRED", "SEARCHABLE", "STATE"],
        &rows,
    );
    Ok(())
}

/// A value as a table cell: text as it is, anything else as JSON.
fn value_cell(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn print_record(r: &Record, json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(r);
    }
    output::line(&format!(
        "{} version {}{} (updated {})",
        r.id,
        r.version,
        if r.has_subject {
            ", about a data subject"
        } else {
            ""
        },
        output::time(r.updated_at)
    ));
    let rows: Vec<Vec<String>> = r
        .values
        .iter()
        .map(|(name, value)| {
            let shown = if r.masked.contains(name) {
                "masked"
            } else {
                "clear"
            };
            vec![name.clone(), value_cell(value), shown.to_owned()]
        })
        .collect();
    output::table(&["FIELD", "VALUE", "SHOWN"], &rows);
    Ok(())
}

fn print_records(records: &[Record]) {
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                r.version.to_string(),
                output::time(r.updated_at),
                Value::Object(r.values.clone()).to_string(),
            ]
        })
        .collect();
    output::table(&["ID", "VERSION", "UPDATED", "VALUES"], &rows);
}

/// `rempart vault …`.
pub async fn vault(command: VaultCommand, args: &ClientArgs) -> anyhow::Result<()> {
    let client = Client::from_args(args)?;
    match command {
        VaultCommand::Collection { command } => collection(&client, command, args.json).await,
        VaultCommand::Record { command } => record(&client, command, args.json).await,
        VaultCommand::Subject { command } => subject(&client, command, args.json).await,
        VaultCommand::Disposals { tenant } => {
            let list: DisposalList = client
                .get(&format!("/api/v1/tenants/{tenant}/vault/disposals"))
                .await?;
            if args.json {
                return output::json(&list.disposals);
            }
            let rows: Vec<Vec<String>> = list
                .disposals
                .iter()
                .map(|d| {
                    vec![
                        d.id.to_string(),
                        output::time(d.disposed_at),
                        d.records.to_string(),
                        d.keys_destroyed.to_string(),
                        d.disposed_by.clone(),
                        d.what.clone(),
                    ]
                })
                .collect();
            output::table(&["ID", "DISPOSED", "RECORDS", "KEYS", "BY", "WHAT"], &rows);
            Ok(())
        }
    }
}

async fn collection(client: &Client, command: CollectionCommand, json: bool) -> anyhow::Result<()> {
    match command {
        CollectionCommand::Create {
            tenant,
            name,
            fields,
        } => {
            let fields: Vec<Field> = json_from(&fields, "the fields")?;
            let created: Collection = client
                .post(
                    &format!("/api/v1/tenants/{tenant}/vault/collections"),
                    &NewCollection { name, fields },
                )
                .await?;
            print_collection(&created, json)
        }
        CollectionCommand::List { tenant } => {
            let list: CollectionList = client
                .get(&format!("/api/v1/tenants/{tenant}/vault/collections"))
                .await?;
            if json {
                return output::json(&list.collections);
            }
            let rows: Vec<Vec<String>> = list
                .collections
                .iter()
                .map(|c| {
                    vec![
                        c.name.clone(),
                        c.version.to_string(),
                        c.fields.len().to_string(),
                        output::time(c.created_at),
                    ]
                })
                .collect();
            output::table(&["NAME", "VERSION", "FIELDS", "CREATED"], &rows);
            Ok(())
        }
        CollectionCommand::Show { tenant, name } => {
            let found: Collection = client.get(&collection_path(tenant, &name)?).await?;
            print_collection(&found, json)
        }
        CollectionCommand::Change {
            tenant,
            name,
            steps,
            if_match,
        } => {
            let steps: Vec<SchemaStep> = json_from(&steps, "the steps")?;
            let path = format!("{}/schema", collection_path(tenant, &name)?);
            let change = SchemaChange {
                steps,
                expected_version: if_match,
            };
            let changed: Collection = client.post(&path, &change).await?;
            print_collection(&changed, json)
        }
    }
}

#[allow(clippy::too_many_lines, reason = "one arm per subcommand")]
async fn record(client: &Client, command: RecordCommand, json: bool) -> anyhow::Result<()> {
    match command {
        RecordCommand::Put {
            tenant,
            collection,
            id,
            if_match,
            subject,
            subject_stdin,
            values,
        } => {
            if subject_stdin && values == "-" {
                bail!("standard input cannot carry both the subject and the values");
            }
            let subject = if subject_stdin {
                Some(personal("", true)?.expose_secret().to_owned())
            } else {
                subject
            };
            let values: Map<String, Value> = json_from(&values, "the values")?;
            let body = RecordWrite { subject, values };
            let records = format!("{}/records", collection_path(tenant, &collection)?);
            let written: RecordRef = match (id, if_match) {
                (Some(id), Some(version)) => {
                    client
                        .send::<(), _, _>(
                            Method::PUT,
                            &format!("{records}/{id}"),
                            None,
                            Some(&body),
                            &[("if-match", format!("\"{version}\""))],
                        )
                        .await?
                }
                (None, None) => client.post(&records, &body).await?,
                _ => bail!("--id and --if-match go together"),
            };
            if json {
                return output::json(&written);
            }
            output::line(&format!("{} version {}", written.id, written.version));
            Ok(())
        }
        RecordCommand::Get {
            tenant,
            collection,
            id,
            read,
        } => {
            let path = format!("{}/records/{id}", collection_path(tenant, &collection)?);
            let query = RecordQuery {
                fields: read.fields,
                purpose: read.purpose,
            };
            let found: Record = client.get_with(&path, &query).await?;
            print_record(&found, json)
        }
        RecordCommand::List {
            tenant,
            collection,
            after,
            limit,
            read,
        } => {
            let path = format!("{}/records", collection_path(tenant, &collection)?);
            let query = RecordListQuery {
                after,
                limit,
                fields: read.fields,
                purpose: read.purpose,
            };
            let page: RecordPage = client.get_with(&path, &query).await?;
            if json {
                return output::json(&page);
            }
            print_records(&page.records);
            if let Some(next) = page.next {
                output::note(&format!("more: --after {next}"));
            }
            Ok(())
        }
        RecordCommand::Delete {
            tenant,
            collection,
            id,
            if_match,
        } => {
            let path = format!("{}/records/{id}", collection_path(tenant, &collection)?);
            let headers: Vec<(&'static str, String)> = if_match
                .map(|v| ("if-match", format!("\"{v}\"")))
                .into_iter()
                .collect();
            client
                .send::<(), (), ()>(Method::DELETE, &path, None, None, &headers)
                .await?;
            output::note(&format!("Deleted record {id}."));
            Ok(())
        }
        RecordCommand::Search {
            tenant,
            collection,
            field,
            value_stdin,
            json_value,
            read,
        } => {
            let text = personal(&format!("Value of {field} (input hidden): "), value_stdin)?;
            let value = if json_value {
                serde_json::from_str(text.expose_secret()).context("the value is not JSON")?
            } else {
                Value::String(text.expose_secret().to_owned())
            };
            let path = format!("{}/search", collection_path(tenant, &collection)?);
            let fields = read
                .fields
                .map(|f| f.split(',').map(|n| n.trim().to_owned()).collect());
            let request = SearchRequest {
                field,
                value,
                fields,
                purpose: read.purpose,
            };
            let found: RecordList = client.post(&path, &request).await?;
            if json {
                return output::json(&found.records);
            }
            print_records(&found.records);
            Ok(())
        }
    }
}

async fn subject(client: &Client, command: SubjectCommand, json: bool) -> anyhow::Result<()> {
    let prompt = "Data subject identifier (input hidden): ";
    match command {
        SubjectCommand::Export {
            tenant,
            subject_stdin,
        } => {
            let subject = personal(prompt, subject_stdin)?;
            let request = SubjectRequest {
                subject: subject.expose_secret().to_owned(),
            };
            let export: SubjectExport = client
                .post(
                    &format!("/api/v1/tenants/{tenant}/vault/subjects/export"),
                    &request,
                )
                .await?;
            output::json(&export)
        }
        SubjectCommand::Erase {
            tenant,
            subject_stdin,
        } => {
            let subject = personal(prompt, subject_stdin)?;
            let request = SubjectRequest {
                subject: subject.expose_secret().to_owned(),
            };
            let disposal: rempart_api::vault::Disposal = client
                .post(
                    &format!("/api/v1/tenants/{tenant}/vault/subjects/erase"),
                    &request,
                )
                .await?;
            if json {
                return output::json(&disposal);
            }
            output::line(&format!(
                "Erased: {} records, {} keys destroyed (disposal {}).",
                disposal.records, disposal.keys_destroyed, disposal.id
            ));
            Ok(())
        }
    }
}
