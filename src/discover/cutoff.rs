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
}

impl Cut {
    /// The deadline `limit` from now.
    #[must_use]
    pub fn after(limit: Duration) -> Cut {
        Cut {
            at: tokio::time::Instant::now() + limit,
            limit,
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
        format!(
            "cut short: discovery's deadline ({:.1} s, {DEADLINE_IN_TIMEOUTS} × --timeout) passed first",
            self.limit.as_secs_f64()
        )
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
