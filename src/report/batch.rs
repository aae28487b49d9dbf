//! One target of `mailcheck batch` and how it ended: one JSON Lines record
//! (docs/schema/batch-record.schema.json), and the counts over the whole batch.

use serde::Serialize;

use super::Report;

/// One target: its line in the list, and its report or why there is none.
#[derive(Debug, Clone, Serialize)]
pub struct BatchRecord {
    /// The line of the target list (1-based).
    pub line: usize,
    /// The target, in short: the address, or the host(s); empty for a line that
    /// could not be read.
    pub target: String,
    /// The target's exit code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
    pub exit_code: i32,
    /// The full report, when the target was probed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Box<Report>>,
    /// Why the target was not probed: a bad line, the batch's deadline, an
    /// interruption, or a setup error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// How the batch went, counted as the records were written.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BatchTotals {
    /// Records written.
    pub targets: usize,
    /// Records by exit code: OK, WARNING, CRITICAL, UNKNOWN.
    pub by_exit_code: [usize; 4],
    /// Records without a report (bad lines, not probed).
    pub not_probed: usize,
    /// Wall time so far.
    pub elapsed_ms: u64,
}

impl BatchTotals {
    /// Counts one record.
    pub fn add(&mut self, record: &BatchRecord) {
        self.targets += 1;
        let code = usize::try_from(record.exit_code).unwrap_or(3).min(3);
        self.by_exit_code[code] += 1;
        if record.report.is_none() {
            self.not_probed += 1;
        }
    }
}
