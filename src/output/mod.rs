//! Renderers: each writes a [`Report`] to any `io::Write` with one signature,
//! `render(&Report, &Options, &mut dyn Write)`. Colour is decided once, by the
//! caller, through `colored`'s global override. The progress line draws the
//! engine's events while a run is under way.

pub mod batch;
#[cfg(test)]
mod hostile_text;
pub mod human;
pub mod json;
pub mod nagios;
pub mod progress;
pub mod prometheus;
pub mod settings;
pub mod signin;
#[cfg(test)]
mod snapshots;
pub mod text;

use std::io::{self, Write};

use crate::config::Format;
use crate::diagnose::Client;
use crate::report::{Report, SettingsReport};

/// How to render a report, from the validated configuration.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Human, JSON or Nagios.
    pub format: Format,
    /// Add the details and every transcript (human).
    pub verbose: bool,
    /// Word the settings in this mail client's terms (human).
    pub client: Client,
    /// Certificate-days warning threshold (Nagios perfdata).
    pub warn_days: i64,
    /// Certificate-days critical threshold (Nagios perfdata).
    pub crit_days: i64,
}

/// Writes `report` in the format `opts` asks for.
pub fn render(report: &Report, opts: &Options, out: &mut dyn Write) -> io::Result<()> {
    match opts.format {
        Format::Human => human::render(report, opts, out),
        Format::Json => json::render(report, out),
        Format::Nagios => nagios::render(report, opts, out),
    }
}

/// Writes what `mailcheck settings` found: JSON, or for a person.
pub fn render_settings(
    report: &SettingsReport,
    format: Format,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Json => json::render(report, out),
        Format::Human | Format::Nagios => settings::render(&report.discovery, out),
    }
}
