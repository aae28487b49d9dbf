//! The JSON renderer: the report model as-is, pretty-printed, one document.

use std::io::{self, Write};

use crate::report::{Report, SettingsReport};

/// Writes `report` as a JSON document followed by a newline.
pub fn render(report: &Report, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out)
}

/// Writes the discovered settings as a JSON document followed by a newline.
pub fn render_settings(report: &SettingsReport, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out)
}
