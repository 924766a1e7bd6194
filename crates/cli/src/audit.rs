//! `rempart audit …`: verification (offline, from the database or from an
//! export with nothing but the public key), export (offline), sealing of
//! pending events (offline), search (an API client), and the verification
//! key. A tampered log makes the command fail with the first bad `seq` and
//! what is wrong with it; an intact log whose last events no checkpoint
//! signs yet passes and says so, unless `--strict`. Verifying the database
//! only reads it.

use std::io::{BufReader, BufWriter};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};
use clap::{Args, Subcommand};
use rempart_api::audit::{AuditEventPage, SearchParams};
use rempart_audit::{PublicKey, Report, Verifier};
use rempart_core::Rempart;
use rempart_model::{Action, Outcome};

use crate::client::Client;
use crate::offline::{load_config, open_core};
use crate::{ClientArgs, ConfigArgs, output};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print the key that verifies audit checkpoints (offline).
    PublicKey {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Verify the audit log: the live database (offline), or an export file
    /// with only the public key (no database, no keyring).
    Verify {
        /// Verify this export file instead of the database.
        #[arg(long, value_name = "FILE", requires = "public_key")]
        export: Option<PathBuf>,
        /// The verification key (rempart-audit-ed25519:…): the first key
        /// that signed the log (later ones are certified by their
        /// predecessor in the log). Repeat it to trust any of several.
        /// Default: the first audit key recorded in the database.
        #[arg(long, value_name = "KEY")]
        public_key: Vec<String>,
        /// Refuse events that no signed checkpoint covers yet (the
        /// unsigned tail): exit non-zero unless every event is signed.
        #[arg(long)]
        strict: bool,
        /// A checkpoint obtained earlier (from an earlier export or a
        /// witness), as SIZE:ROOT (ROOT in 64 hexadecimal digits): the log
        /// must hold at least SIZE events whose Merkle root is ROOT.
        #[arg(long, value_name = "SIZE:ROOT")]
        trusted_checkpoint: Option<String>,
        /// Trust the last checkpoint of an earlier export (verified first,
        /// with the same key).
        #[arg(long, value_name = "FILE", conflicts_with = "trusted_checkpoint")]
        trusted_export: Option<PathBuf>,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Chain the events a stopped server left pending (offline; `rempart
    /// serve` also does it at start). Recorded as audit.seal_pending.
    SealPending {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Write the audit log with its signed checkpoints as JSON lines
    /// (offline). It verifies with the public key alone: a full export
    /// starts at event 1, a partial one (--since) at the event after the
    /// last checkpoint before the one asked for, anchored on that
    /// checkpoint.
    Export {
        /// Where to write it ("-" for standard output).
        #[arg(long, short, value_name = "FILE")]
        output: PathBuf,
        /// Export from this event on: a sequence number, or an RFC 3339
        /// time (the first event at or after it).
        #[arg(long, value_name = "SEQ|TIME")]
        since: Option<String>,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Search the audit log through the API (needs audit.search).
    Search {
        #[command(flatten)]
        filters: SearchFilters,
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// The filters of `audit search`, each narrowing it.
#[derive(Debug, Args)]
pub struct SearchFilters {
    /// Events at or after this time (RFC 3339).
    #[arg(long)]
    since: Option<String>,
    /// Events before this time (RFC 3339).
    #[arg(long)]
    until: Option<String>,
    #[arg(long)]
    actor: Option<String>,
    #[arg(long)]
    action: Option<String>,
    #[arg(long, value_name = "UUID")]
    tenant: Option<String>,
    /// success, denied or failed.
    #[arg(long)]
    outcome: Option<String>,
    /// Events after this seq (the cursor a previous page returned).
    #[arg(long, value_name = "SEQ")]
    after: Option<u64>,
    #[arg(long, default_value_t = 100)]
    limit: u32,
}

impl From<SearchFilters> for SearchParams {
    fn from(f: SearchFilters) -> Self {
        Self {
            since: f.since,
            until: f.until,
            actor: f.actor,
            action: f.action,
            tenant: f.tenant,
            outcome: f.outcome,
            after: f.after,
            limit: Some(f.limit),
        }
    }
}

pub async fn run(command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::PublicKey { config } => {
            let config = load_config(&config, None)?;
            let core = open_core(&config).await?;
            let key = recorded_key(&core).await;
            core.close().await;
            output::line(&key?.to_string());
            Ok(())
        }
        AuditCommand::Verify {
            export,
            public_key,
            strict,
            trusted_checkpoint,
            trusted_export,
            config,
        } => {
            let options =
                VerifyOptions::parse(&public_key, strict, trusted_checkpoint, trusted_export)?;
            verify(export, options, &config).await
        }
        AuditCommand::SealPending { config } => seal_pending(&config).await,
        AuditCommand::Export {
            output,
            since,
            config,
        } => export(&output, since.as_deref(), &config).await,
        AuditCommand::Search { filters, client } => {
            let params = SearchParams::from(filters);
            let api = Client::from_args(&client)?;
            let page: AuditEventPage = api.get_with("/api/v1/audit/events", &params).await?;
            if client.json {
                return output::json(&page);
            }
            let rows: Vec<Vec<String>> = page
                .events
                .into_iter()
                .map(|e| {
                    vec![
                        e.seq.to_string(),
                        e.time,
                        e.actor,
                        e.action,
                        e.outcome,
                        e.target.unwrap_or_default(),
                        e.tenant.unwrap_or_default(),
                    ]
                })
                .collect();
            output::table(
                &[
                    "SEQ", "TIME", "ACTOR", "ACTION", "OUTCOME", "TARGET", "TENANT",
                ],
                &rows,
            );
            if let Some(next) = page.next_after {
                output::note(&format!("more: --after {next}"));
            }
            Ok(())
        }
    }
}

fn parse_key(text: &str) -> anyhow::Result<PublicKey> {
    text.parse::<PublicKey>()
        .map_err(|e| anyhow!("--public-key: {e}"))
}

/// Chains the pending events offline, recorded as `audit.seal_pending`.
async fn seal_pending(args: &ConfigArgs) -> anyhow::Result<()> {
    let config = load_config(args, None)?;
    let core = open_core(&config).await?;
    let sealed = core.seal_pending_audit().await;
    core.close().await;
    let n = sealed?;
    output::line(&format!(
        "chained {n} pending audit events (and the audit.seal_pending event recording it)"
    ));
    Ok(())
}

/// What `audit verify` checks besides the log itself.
struct VerifyOptions {
    keys: Vec<PublicKey>,
    strict: bool,
    trusted: Option<(u64, rempart_audit::Hash)>,
}

impl VerifyOptions {
    fn parse(
        public_key: &[String],
        strict: bool,
        trusted_checkpoint: Option<String>,
        trusted_export: Option<PathBuf>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            keys: public_key
                .iter()
                .map(|k| parse_key(k))
                .collect::<anyhow::Result<_>>()?,
            strict,
            trusted: match (trusted_checkpoint, trusted_export) {
                (Some(text), _) => Some(parse_trusted(&text)?),
                (None, Some(path)) => Some(trusted_from_export(&path, public_key)?),
                (None, None) => None,
            },
        })
    }

    fn verifier(&self, keys: Vec<PublicKey>) -> Verifier {
        let mut v = Verifier::with_trusted_keys(keys);
        if self.strict {
            v = v.strict();
        }
        if let Some((size, root)) = self.trusted {
            v = v.trusting(size, root);
        }
        v
    }
}

/// `SIZE:ROOT`, ROOT in 64 lowercase hexadecimal digits.
fn parse_trusted(text: &str) -> anyhow::Result<(u64, rempart_audit::Hash)> {
    let bad = || {
        anyhow!(
            "--trusted-checkpoint {text:?}: expected SIZE:ROOT, ROOT in 64 lowercase hexadecimal digits"
        )
    };
    let (size, root) = text.split_once(':').ok_or_else(bad)?;
    let size: u64 = size.parse().map_err(|_| bad())?;
    if root.len() != 64 || root.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(root, &mut out).map_err(|_| bad())?;
    Ok((size, out))
}

/// The last checkpoint of an earlier export, verified with `keys` first.
fn trusted_from_export(
    path: &std::path::Path,
    keys: &[String],
) -> anyhow::Result<(u64, rempart_audit::Hash)> {
    let keys = keys
        .iter()
        .map(|k| parse_key(k))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if keys.is_empty() {
        bail!("--trusted-export needs --public-key, to verify the earlier export first");
    }
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let report = rempart_audit::verify_export_with(
        BufReader::with_capacity(1 << 20, file),
        Verifier::with_trusted_keys(keys),
    )
    .map_err(|e| anyhow!("the trusted export {} does not verify: {e}", path.display()))?;
    match report.checkpoint_root {
        Some(root) if report.checkpointed > 0 => Ok((report.checkpointed, root)),
        _ => bail!(
            "the trusted export {} holds no signed checkpoint to trust",
            path.display()
        ),
    }
}

async fn verify(
    export: Option<PathBuf>,
    options: VerifyOptions,
    args: &ConfigArgs,
) -> anyhow::Result<()> {
    if let Some(path) = export {
        let file = std::fs::File::open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let verifier = options.verifier(options.keys.clone());
        let report =
            rempart_audit::verify_export_with(BufReader::with_capacity(1 << 20, file), verifier)
                .map_err(|e| match e.problem() {
                    Some(p) => anyhow!(
                        "the audit export is NOT intact: first bad seq {} (line {}): {p}",
                        p.seq(),
                        e.line()
                    ),
                    None => anyhow!(
                        "the audit export cannot be verified (line {}): {e}",
                        e.line()
                    ),
                })?;
        print_report(&report);
        return Ok(());
    }
    // Verifying the database only reads it: no pending event is chained
    // and no event of its own is written (verification changes nothing).
    let config = load_config(args, None)?;
    let core = open_core(&config).await?;
    let keys = if options.keys.is_empty() {
        match core.first_audit_public_key().await {
            Ok(Some(key)) => vec![key],
            Ok(None) => {
                core.close_read_only().await;
                bail!(
                    "no audit signing key is recorded in the database yet: it is recorded when the keyring is created or opened (`rempart init`, `rempart serve`, `rempart unseal`)"
                );
            }
            Err(e) => {
                core.close_read_only().await;
                return Err(e.into());
            }
        }
    } else {
        options.keys.clone()
    };
    let result = core.verify_audit_log_with(options.verifier(keys)).await;
    let pending = core.pending_audit_events().await;
    core.close_read_only().await;
    let pending = pending?;
    match result? {
        Ok(report) => {
            print_report(&report);
            if pending > 0 {
                output::line(&format!(
                    "{pending} recorded events are pending, not chained yet (a server stopped before chaining them): `rempart serve` chains them at start, or run `rempart audit seal-pending`"
                ));
            }
            Ok(())
        }
        Err(problem) => bail!(
            "the audit log is NOT intact: first bad seq {}: {problem}",
            problem.seq()
        ),
    }
}

/// The checkpoint verification key recorded in the database when the
/// keyring was opened: no keyring, no unsealing needed.
async fn recorded_key(core: &Rempart) -> anyhow::Result<PublicKey> {
    core.recorded_audit_public_key().await?.ok_or_else(|| {
        anyhow!(
            "no audit signing key is recorded in the database yet: it is recorded when the keyring is created or opened (`rempart init`, `rempart serve`, `rempart unseal`)"
        )
    })
}

fn print_report(report: &Report) {
    let tail = report.unsigned_tail();
    let intact = if tail == 0 {
        "intact".to_owned()
    } else {
        format!(
            "intact; the last {tail} events chained but not yet signed by a checkpoint (--strict refuses them)"
        )
    };
    output::line(&intact);
    let events = if report.first_seq > 1 {
        format!(
            "events {} to {} chained (a partial export, anchored on the signed checkpoint of events 1 to {})",
            report.first_seq,
            report.events,
            report.first_seq - 1
        )
    } else {
        format!("{} events chained", report.events)
    };
    let keys = if report.keys.len() > 1 {
        format!(
            " (the signing key was rotated: {} keys, each certified by the one before it)",
            report.keys.len()
        )
    } else {
        String::new()
    };
    output::line(&format!(
        "verified: {events}, {} checkpoints signed by key {}{keys}; the last checkpoint covers events 1 to {} ({tail} events after it are chained but not yet signed)",
        report.checkpoints, report.key_id, report.checkpointed,
    ));
    if let Some(root) = report.checkpoint_root.filter(|_| report.checkpointed > 0) {
        output::line(&format!(
            "last checkpoint: {}:{} (keep it; pass it as --trusted-checkpoint to a later verification)",
            report.checkpointed,
            hex::encode(root)
        ));
    }
}

/// Where `--since` starts an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Since {
    Seq(u64),
    Time(time::OffsetDateTime),
}

fn parse_since(text: &str) -> anyhow::Result<Since> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let seq: u64 = text
            .parse()
            .with_context(|| format!("--since {text}: not a sequence number"))?;
        return Ok(Since::Seq(seq));
    }
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(Since::Time)
        .map_err(|e| {
            anyhow!("--since {text:?}: neither a sequence number nor an RFC 3339 time ({e})")
        })
}

async fn export(
    path: &std::path::Path,
    since: Option<&str>,
    args: &ConfigArgs,
) -> anyhow::Result<()> {
    let since = since.map(parse_since).transpose()?;
    let config = load_config(args, None)?;
    let core = open_core(&config).await?;
    // With the keyring open, the export signs a checkpoint covering its
    // last event; without it, it says why the tail stays unsigned.
    let (core, unsigned_reason) = with_signer(&config, core);
    let key = recorded_key(&core).await?;
    let result = export_from(&core, path, since, &key).await;
    let outcome = if result.is_ok() {
        Outcome::Success
    } else {
        Outcome::Failed
    };
    let recorded = core.record_offline(Action::AuditExport, outcome).await;
    core.close().await;
    let summary = result?;
    recorded?;
    let from = if summary.first_seq > 1 {
        format!(
            "a partial export from event {} (anchored on the signed checkpoint of events 1 to {})",
            summary.first_seq,
            summary.first_seq - 1
        )
    } else {
        "a full export from event 1".to_owned()
    };
    output::note(&format!(
        "exported {} events and {} checkpoints, {from}; verify with: rempart audit verify --export FILE --public-key KEY",
        summary.events, summary.checkpoints
    ));
    if summary.signed_checkpoint {
        output::note(&format!(
            "signed a checkpoint covering events 1 to {}",
            summary.last_seq
        ));
    }
    if summary.unsigned_tail > 0 {
        output::note(&format!(
            "the last {} events are not covered by a signed checkpoint: {}; they verify as an unsigned tail (refused by --strict) until a later export",
            summary.unsigned_tail,
            unsigned_reason
                .as_deref()
                .unwrap_or("the checkpoint could not be signed")
        ));
    }
    Ok(())
}

/// The core with the keyring's audit signer when the keyring opens without
/// operator input (a key file, or REMPART_KEYRING_PASSPHRASE); otherwise the
/// core as it is and why no checkpoint can be signed.
fn with_signer(config: &rempart_core::Config, core: Rempart) -> (Rempart, Option<String>) {
    use rempart_core::keys::KeyVault;
    let location = config.keyring_location();
    if !location.path.exists() {
        return (
            core,
            Some(format!(
                "there is no keyring at {} to sign with",
                location.path.display()
            )),
        );
    }
    let passphrase = std::env::var("REMPART_KEYRING_PASSPHRASE")
        .ok()
        .filter(|p| !p.is_empty())
        .map(secrecy::SecretString::from);
    let vault = match KeyVault::load(location, passphrase) {
        Ok(vault) => Arc::new(vault),
        Err(e) => return (core, Some(format!("the keyring could not be opened ({e})"))),
    };
    if vault.is_sealed() {
        return (
            core,
            Some(
                "the keyring is sealed (it needs a passphrase or shares: set REMPART_KEYRING_PASSPHRASE, or let the unsealed server sign the next checkpoint)"
                    .to_owned(),
            ),
        );
    }
    let chain = config.audit_chain(Arc::clone(&vault));
    (core.with_keys(vault).with_audit(chain), None)
}

async fn export_from(
    core: &Rempart,
    path: &std::path::Path,
    since: Option<Since>,
    key: &PublicKey,
) -> anyhow::Result<rempart_core::audit::ExportSummary> {
    let from = match since {
        None => 1,
        Some(Since::Seq(seq)) => seq,
        Some(Since::Time(t)) => core
            .audit_seq_at(t)
            .await?
            .ok_or_else(|| anyhow!("no audit event at or after {t}: nothing to export"))?,
    };
    let summary = if path.as_os_str() == "-" {
        core.export_audit_log_from(BufWriter::new(std::io::stdout().lock()), key, from)
            .await?
    } else {
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        core.export_audit_log_from(BufWriter::new(file), key, from)
            .await?
    };
    Ok(summary)
}

/// Signs a checkpoint whenever the last one is older than the configured
/// interval; every replica runs it and the head lock lets one write.
pub async fn checkpoint_task(core: Rempart, every_secs: u64) {
    let tick = std::time::Duration::from_secs((every_secs / 2).clamp(1, 30));
    loop {
        rempart_core::clock::pause(tick).await;
        match core.checkpoint_audit_if_due(false).await {
            Ok(Some(size)) => tracing::debug!(size, "signed an audit checkpoint"),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "audit checkpoint failed; retrying later"),
        }
    }
}
