//! The probe's record as it happens: phases, timed, and the transcript, written
//! straight into the report so that a run cut short keeps what was learned.

use std::time::Instant;

use crate::model::{Code, Phase};
use crate::report::{Failure, PhaseRecord, ProbeReport, TranscriptLine};

/// Records phases and the transcript straight into the probe's report, so that a
/// run cut short by the deadline keeps everything learned so far.
pub struct Trace<'a> {
    /// The report being filled in.
    pub report: &'a mut ProbeReport,
    start: Instant,
    open: Option<Instant>,
}

impl<'a> Trace<'a> {
    /// Records into `report`, timing from `clock` (the start of the run, so that
    /// every combination's phases share one time line).
    pub fn new(report: &'a mut ProbeReport, clock: Instant) -> Self {
        Trace {
            report,
            start: clock,
            open: None,
        }
    }

    /// Milliseconds since the run started.
    #[must_use]
    pub fn elapsed_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Opens a phase (closing any open one as successful).
    pub fn begin(&mut self, phase: Phase) {
        if self.open.is_some() {
            self.end(true, None);
        }
        self.report.phases.push(PhaseRecord {
            phase,
            start_ms: self.elapsed_ms(),
            duration_ms: 0,
            ok: false,
            detail: Some("in progress".into()),
        });
        self.open = Some(Instant::now());
    }

    /// Closes the open phase.
    pub fn end(&mut self, ok: bool, detail: Option<String>) {
        if let (Some(opened), Some(rec)) = (self.open.take(), self.report.phases.last_mut()) {
            rec.duration_ms = opened.elapsed().as_millis() as u64;
            rec.ok = ok;
            rec.detail = detail;
        }
    }

    /// Records the first failure (later ones are consequences), and marks the
    /// phase it happened in as failed.
    pub fn fail(&mut self, code: Code, phase: Phase, message: String) {
        let report = &mut *self.report;
        if let Some(rec) = report.phases.iter_mut().rev().find(|p| p.phase == phase) {
            rec.ok = false;
        }
        if report.failure.is_none() {
            report.failure = Some(Failure {
                code,
                phase,
                message,
            });
        }
    }

    /// Records an observation that does not stop the combination from working.
    pub fn warn(&mut self, code: Code, phase: Phase, message: String) {
        self.report.warnings.push(Failure {
            code,
            phase,
            message,
        });
    }

    /// Adds a transcript line.
    pub fn line(&mut self, from: &'static str, text: &str) {
        let t_ms = self.elapsed_ms();
        self.report.transcript.push(TranscriptLine {
            t_ms,
            from,
            text: escape(text),
        });
    }
}

/// Escapes control characters, keeping everything else verbatim.
#[must_use]
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}
