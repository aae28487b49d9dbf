//! The run's cut-off: `--deadline` and Ctrl-C end whatever is still running, and
//! each unfinished combination keeps what it learned.

use crate::model::{Code, Phase};
use crate::report::{Failure, ProbeReport, Status};

/// When the whole run must end, if ever.
#[derive(Debug, Clone, Copy)]
pub struct Deadline(Option<tokio::time::Instant>);

impl Deadline {
    /// `--deadline` from now.
    #[must_use]
    pub fn after(limit: Option<std::time::Duration>) -> Self {
        Deadline(limit.map(|d| tokio::time::Instant::now() + d))
    }

    /// The time left, if there is a deadline.
    #[must_use]
    pub fn left(self) -> Option<std::time::Duration> {
        self.0
            .map(|at| at.saturating_duration_since(tokio::time::Instant::now()))
    }

    /// Runs `work` until it finishes or the deadline passes (`None`).
    pub async fn bound<T>(self, work: impl Future<Output = T>) -> Option<T> {
        match self.0 {
            Some(at) => tokio::time::timeout_at(at, work).await.ok(),
            None => Some(work.await),
        }
    }

    /// Runs `work` until it finishes, the deadline passes or Ctrl-C arrives; the
    /// error says which ("deadline", "interrupted").
    pub async fn run<T>(self, work: impl Future<Output = T>) -> Result<T, String> {
        let deadline = async {
            match self.0 {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let interrupted = async {
            // Without a signal handler there is no Ctrl-C to wait for.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            done = work => Ok(done),
            () = deadline => Err("deadline".to_owned()),
            () = interrupted => Err("interrupted".to_owned()),
        }
    }
}

/// Closes a combination the run did not let finish, keeping what it learned: an
/// earlier failure stands; otherwise it is `cancelled`.
pub fn mark_cancelled(report: &mut ProbeReport, why: &str, now_ms: u64) {
    if report.status != Status::Cancelled {
        return;
    }
    report.duration_ms = now_ms;
    let phase = report.phases.last().map_or(Phase::Resolve, |p| p.phase);
    // Between phases (a finished resolve, then waiting for a connection slot
    // under --per-server) the combination was not "during" its last phase.
    let message = if let Some(open) = report
        .phases
        .last_mut()
        .filter(|p| p.detail.as_deref() == Some("in progress"))
    {
        open.detail = Some(format!("cut short ({why})"));
        open.duration_ms = now_ms.saturating_sub(open.start_ms);
        format!("the run ended ({why}) during {phase}, before this combination finished")
    } else if report.phases.is_empty() {
        format!("the run ended ({why}) before this combination started")
    } else {
        format!("the run ended ({why}) after {phase}, while this combination waited for its turn")
    };
    let note = Failure {
        code: Code::Cancelled,
        phase,
        message,
    };
    if report.failure.is_some() {
        report.status = Status::Failed;
        report.warnings.push(note);
    } else {
        report.failure = Some(note);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Combination, Endpoint, Protocol, Security};
    use crate::report::PhaseRecord;

    fn cut(phases: &[(Phase, &str)]) -> String {
        let endpoint = Endpoint::new(
            "mail.example.com",
            Combination::new(Protocol::Imap, 993, Security::Tls),
        );
        let mut r = ProbeReport::blank(&endpoint);
        r.phases = phases
            .iter()
            .map(|(phase, detail)| PhaseRecord {
                phase: *phase,
                start_ms: 0,
                duration_ms: 0,
                ok: true,
                detail: Some((*detail).to_owned()),
            })
            .collect();
        mark_cancelled(&mut r, "deadline", 500);
        r.failure.expect("cancelled").message
    }

    /// The message says where the combination was: inside a phase, between
    /// two (a finished resolve, waiting for a connection slot), or not begun.
    #[test]
    fn a_cut_says_where_the_combination_was() {
        assert_eq!(
            cut(&[
                (Phase::Resolve, "127.0.0.1"),
                (Phase::Connect, "in progress")
            ]),
            "the run ended (deadline) during connect, before this combination finished"
        );
        assert_eq!(
            cut(&[(Phase::Resolve, "127.0.0.1")]),
            "the run ended (deadline) after resolve, while this combination waited for its turn"
        );
        assert_eq!(
            cut(&[]),
            "the run ended (deadline) before this combination started"
        );
    }
}
