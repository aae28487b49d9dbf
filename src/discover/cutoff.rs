//! Discovery's deadline ([`deadline_for`]) and what a source still running
//! when it passes reports ([`Cut`]).

use std::time::Duration;

use crate::report::{SourceKind, SourceReport};

/// Discovery's deadline, in request timeouts ([`deadline_for`]).
pub const DEADLINE_IN_TIMEOUTS: u32 = 3;

/// Discovery's deadline for a request timeout of `timeout`: every source
/// that meets only silent servers is done within two timeouts (autoconfig's
/// https then plain-HTTP round, the MX lookup then the MX host's ISPDB entry,
/// an Autodiscover step then the POX service it named), and a third leaves
/// room for DNS's retry; longer chains (answers that keep redirecting) are cut.
#[must_use]
pub fn deadline_for(timeout: Duration) -> Duration {
    timeout * DEADLINE_IN_TIMEOUTS
}

/// Discovery's deadline, when it passes (`at`), for the sources still running.
#[derive(Debug, Clone, Copy)]
pub struct Cut {
    at: tokio::time::Instant,
    limit: Duration,
    /// The run's `--deadline` set it (it left less than discovery's own).
    by_run: bool,
}

impl Cut {
    /// The deadline `limit` from now.
    #[must_use]
    pub fn after(limit: Duration) -> Cut {
        Cut {
            at: tokio::time::Instant::now() + limit,
            limit,
            by_run: false,
        }
    }

    /// Discovery's own deadline `limit` from now, or sooner when the run's
    /// `--deadline` leaves less (`run_left`): then the sources still running
    /// are cut short by it, and what the others found is kept.
    #[must_use]
    pub fn within(limit: Duration, run_left: Option<Duration>) -> Cut {
        match run_left {
            Some(left) if left < limit => Cut {
                by_run: true,
                ..Cut::after(left)
            },
            _ => Cut::after(limit),
        }
    }

    /// `work`'s result, or `cut()`'s if the deadline passes first.
    pub async fn bound<T>(self, work: impl Future<Output = T>, cut: impl FnOnce() -> T) -> T {
        tokio::time::timeout_at(self.at, work)
            .await
            .unwrap_or_else(|_| cut())
    }

    /// What a report cut short says.
    #[must_use]
    pub fn words(self) -> String {
        let secs = self.limit.as_secs_f64();
        if self.by_run {
            format!(
                "cut short: the run's --deadline, which left discovery {secs:.1} s, passed first"
            )
        } else {
            format!(
                "cut short: discovery's deadline ({secs:.1} s, {DEADLINE_IN_TIMEOUTS} × --timeout) passed first"
            )
        }
    }

    /// The report of a source the deadline cut short.
    #[must_use]
    pub fn report(self, kind: SourceKind, query: String) -> SourceReport {
        let mut report = SourceReport::new(kind, query);
        report.outcome = self.words();
        report.duration_ms = self.limit.as_millis() as u64;
        report
    }
}
