//! `rempart config check|show`: offline, on the configuration alone.

use std::path::PathBuf;

use clap::Subcommand;
use rempart_core::Config;
use rempart_core::config::Overrides;

use crate::output;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a configuration file (and the REMPART_… variables set now).
    Check {
        /// The file to check.
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
        #[arg(long, env = "REMPART_CONFIG", value_name = "FILE", hide = true)]
        config: Option<PathBuf>,
    },
    /// Print the effective configuration, secrets redacted.
    Show {
        #[arg(long, env = "REMPART_CONFIG", value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

pub fn run(command: ConfigCommand) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Check { file, config } => {
            let file = file.or(config);
            let checked = Config::load(file.as_deref(), std::env::vars(), &Overrides::default())?;
            warn_ignored(&checked);
            output::line(&match file {
                Some(f) => format!("{}: valid", f.display()),
                None => "configuration (defaults and environment): valid".to_owned(),
            });
        }
        ConfigCommand::Show { config } => {
            let effective =
                Config::load(config.as_deref(), std::env::vars(), &Overrides::default())?;
            warn_ignored(&effective);
            output::line(effective.show_redacted().trim_end());
        }
    }
    Ok(())
}

/// Warns, on standard error, about `REMPART_…` variables the configuration
/// ignored.
fn warn_ignored(config: &Config) {
    for name in &config.ignored_variables {
        output::note(&crate::offline::ignored_variable_warning(name));
    }
}
