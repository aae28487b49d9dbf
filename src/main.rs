//! The `mailcheck` binary: parse, validate, run, render, exit with the documented code.

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use mailcheck::check::{self, EXIT_UNKNOWN};
use mailcheck::cli::{Cli, Command, Export};
use mailcheck::config::{Config, Format, SettingsConfig};
use mailcheck::output;
use mailcheck::report::SettingsReport;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                code(EXIT_UNKNOWN)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli) {
        Ok(c) => code(c),
        Err(e) => {
            eprintln!("mailcheck: error: {e:#}");
            code(EXIT_UNKNOWN)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Probe(args) => probe(&Config::try_from(*args)?),
        Command::Settings(args) => settings(&SettingsConfig::try_from(args)?),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "mailcheck", &mut std::io::stdout());
            Ok(0)
        }
        Command::Man => {
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
            Ok(0)
        }
    }
}

fn settings(config: &SettingsConfig) -> anyhow::Result<i32> {
    colored::control::set_override(config.color);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let discovery = runtime.block_on(check::settings(config))?;
    let found = !discovery.candidates.is_empty();
    let mut out = std::io::stdout().lock();
    match config.format {
        Format::Json => output::json::render_settings(&SettingsReport::new(discovery), &mut out)?,
        Format::Human | Format::Nagios => output::settings::render(&discovery, &mut out)?,
    }
    out.flush()?;
    Ok(if found { 0 } else { check::EXIT_CRITICAL })
}

fn probe(config: &Config) -> anyhow::Result<i32> {
    colored::control::set_override(config.color);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(check::run(config))?;
    let mut out = std::io::stdout().lock();
    if let Some(what) = config.export {
        match export(config, &report, what) {
            Some(text) => out.write_all(text.as_bytes())?,
            None => eprintln!(
                "mailcheck: nothing to export: no combination worked over TLS with a verified certificate"
            ),
        }
        out.flush()?;
        return Ok(report.summary.exit_code);
    }
    match config.format {
        Format::Json => output::json::render(&report, &mut out)?,
        Format::Human => output::human::render(&report, config.verbose, config.client, &mut out)?,
        Format::Nagios => output::nagios::render(
            &report,
            &output::nagios::summary_text(&report),
            config.diagnose.warn_days,
            config.diagnose.crit_days,
            &mut out,
        )?,
    }
    out.flush()?;
    Ok(report.summary.exit_code)
}

/// The working settings as a file an administrator can publish; `None` when
/// nothing worked securely, so there is nothing worth publishing.
fn export(config: &Config, report: &mailcheck::report::Report, what: Export) -> Option<String> {
    let rec = &report.recommendation;
    let first = rec.incoming.as_ref().or(rec.outgoing.as_ref())?;
    // The mail domain: the address's, else the host's parent (mail.example.com →
    // example.com), but never a bare top-level domain.
    let domain = config.address.as_ref().map_or_else(
        || {
            let host = first.host.trim_end_matches('.');
            match host.split_once('.') {
                Some((_, parent)) if parent.contains('.') => parent.to_owned(),
                _ => host.to_owned(),
            }
        },
        |a| a.domain_ascii.clone(),
    );
    let address = config.address.as_ref().map_or_else(
        || format!("%EMAILLOCALPART%@{domain}"),
        mailcheck::model::address::Address::ascii,
    );
    Some(match what {
        Export::Autoconfig => mailcheck::diagnose::export_autoconfig(rec, &address, &domain),
        Export::Srv => mailcheck::diagnose::export_srv(rec, &domain),
    })
}

fn code(c: i32) -> ExitCode {
    ExitCode::from(u8::try_from(c).unwrap_or(1))
}
