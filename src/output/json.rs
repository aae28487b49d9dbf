//! The JSON renderer: the report model as-is, pretty-printed, one document.

use std::io::{self, Write};

use serde::Serialize;

/// Writes `report` (a probe report or the settings) as a JSON document
/// followed by a newline.
pub fn render(report: &impl Serialize, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out)
}
