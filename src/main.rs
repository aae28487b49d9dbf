//! The `mailcheck` binary: parse → validate → run → render → exit with the
//! documented code (see `engine::outcome`).

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use mailcheck::cli::{Cli, Command};
use mailcheck::config::oauth::{LoginConfig, LogoutConfig, account};
use mailcheck::config::serve::ServeConfig;
use mailcheck::config::unattended::BatchConfig;
use mailcheck::config::{Config, SettingsConfig};
use mailcheck::engine::outcome::{EXIT_CRITICAL, EXIT_UNKNOWN};
use mailcheck::engine::{self};
use mailcheck::output::progress::ProgressLine;
use mailcheck::output::{self, Options};
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
        // The reader went away (`mailcheck … | head`): nothing left to say.
        Err(e) if broken_pipe(&e) => ExitCode::SUCCESS,
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
        Command::Batch(args) => batch(&BatchConfig::try_from(args)?),
        Command::Serve(args) => serve(ServeConfig::try_from(args)?),
        Command::Login(args) => login(&LoginConfig::try_from(*args)?),
        Command::Logout(args) => logout(&LogoutConfig::try_from(args)?),
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

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn settings(config: &SettingsConfig) -> anyhow::Result<i32> {
    colored::control::set_override(config.color);
    let discovery = runtime()?.block_on(engine::settings(config))?;
    let found = !discovery.candidates.is_empty();
    let mut out = std::io::stdout().lock();
    output::render_settings(&SettingsReport::new(discovery), config.format, &mut out)?;
    out.flush()?;
    Ok(if found { 0 } else { EXIT_CRITICAL })
}

fn batch(config: &BatchConfig) -> anyhow::Result<i32> {
    colored::control::set_override(config.color);
    let mut out = std::io::stdout().lock();
    runtime()?.block_on(mailcheck::batch::run(config, &mut out))
}

fn serve(config: ServeConfig) -> anyhow::Result<i32> {
    // The status page shows the human reports as plain text.
    colored::control::set_override(false);
    runtime()?.block_on(mailcheck::serve::run(config))?;
    Ok(0)
}

/// `mailcheck login`: 0 when signed in, 2 when the sign-in failed or its token
/// could not be stored.
fn login(config: &LoginConfig) -> anyhow::Result<i32> {
    let prompt = output::signin::StderrPrompt;
    let outcome = runtime()?.block_on(engine::signin::login(config, &prompt))?;
    match outcome {
        Ok(signed_in) => {
            let mut out = std::io::stdout().lock();
            output::signin::signed_in(&signed_in, &mut out)?;
            out.flush()?;
            if signed_in.stored.is_err() {
                output::signin::not_kept(&signed_in, &mut std::io::stderr().lock())?;
                return Ok(EXIT_CRITICAL);
            }
            Ok(0)
        }
        Err(refused) => {
            output::signin::refused(&refused, &mut std::io::stderr().lock())?;
            Ok(EXIT_CRITICAL)
        }
    }
}

/// `mailcheck logout`: 0 whether or not a token was stored.
fn logout(config: &LogoutConfig) -> anyhow::Result<i32> {
    let done = runtime()?.block_on(engine::signin::logout(config))?;
    let mut out = std::io::stdout().lock();
    output::signin::logged_out(&account(&config.address), &done, &mut out)?;
    out.flush()?;
    Ok(0)
}

fn probe(config: &Config) -> anyhow::Result<i32> {
    colored::control::set_override(config.color);
    let progress = ProgressLine::new(config.progress);
    let report = runtime()?.block_on(engine::run(config, &progress))?;
    let mut out = std::io::stdout().lock();
    if let Some(what) = config.export {
        let rec = &report.recommendation;
        match mailcheck::diagnose::export(what, rec, config.address.as_ref()) {
            Some(text) => out.write_all(text.as_bytes())?,
            None => eprintln!(
                "mailcheck: nothing to export: no combination worked over TLS with a verified certificate"
            ),
        }
    } else {
        let opts = Options {
            format: config.format,
            verbose: config.verbose,
            client: config.client,
            warn_days: config.diagnose.warn_days,
            crit_days: config.diagnose.crit_days,
        };
        output::render(&report, &opts, &mut out)?;
    }
    out.flush()?;
    Ok(report.summary.exit_code)
}

fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn code(c: i32) -> ExitCode {
    ExitCode::from(u8::try_from(c).unwrap_or(1))
}
