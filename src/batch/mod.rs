//! `mailcheck batch`: many targets, one per line of a list, for the help desk
//! or MSP that checks every customer domain each night.
//!
//! Targets run `--parallel` at a time, each as its own task, every connection
//! counted against one shared per-server cap ([`crate::net::limit`]), each
//! target's login rule as in `probe` (and one line per account). Records are
//! written as targets finish — JSON Lines or table rows — and then dropped, so
//! memory stays flat however long the list. The batch's `--deadline` bounds the
//! whole run: targets still running are cut short as `probe --deadline` would
//! cut them, targets not started are reported as not probed. The exit code is
//! the worst of all targets.

pub mod input;
mod progress;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::config::Format;
use crate::config::unattended::BatchConfig;
use crate::engine;
use crate::engine::outcome::EXIT_UNKNOWN;
use crate::net::limit::PerServer;
use crate::output::batch as render;
use crate::report::{BatchRecord, BatchTotals};
use input::Target;
use progress::Progress;

/// The worse of two exit codes, as monitoring ranks states (Checkmk's
/// "worst state"): CRITICAL over UNKNOWN over WARNING over OK.
#[must_use]
pub fn worst(a: i32, b: i32) -> i32 {
    let rank = |c: i32| match c {
        0 => 0,
        1 => 1,
        2 => 3,
        _ => 2,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// Runs the batch, writing to `out`; returns the exit code.
pub async fn run(config: &BatchConfig, out: &mut dyn Write) -> anyhow::Result<i32> {
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    watch_interrupt(stop.clone());
    let (tx, mut rx) = mpsc::channel::<Target>(config.parallel.get() * 2);
    let reader = input::spawn(config, tx, stop.clone())
        .map_err(|e| anyhow::anyhow!("cannot read the target list: {e}"))?;
    let shared = Arc::new(Shared {
        per_server: Arc::new(PerServer::new(config.per_server)),
        deadline: config.deadline.map(|d| started + d),
        stop,
    });
    let targets = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let mut records = targets
        .map(|target| probe(shared.clone(), target))
        .buffer_unordered(config.parallel.get());
    let progress = Progress::new(input::count(&config.input));
    if config.format == Format::Human {
        render::table_header(out)?;
    }
    let (mut exit, mut totals) = (0, BatchTotals::default());
    while let Some(record) = records.next().await {
        totals.add(&record);
        exit = worst(exit, record.exit_code);
        progress.suspend(|| match config.format {
            Format::Human => render::table_row(&record, out),
            _ => render::json_line(&record, out),
        })?;
        progress.advance(&totals);
    }
    progress.finish();
    totals.elapsed_ms = started.elapsed().as_millis() as u64;
    let read = reader
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("the reading thread failed")));
    finish(config, &totals, out)?;
    read.map_err(|e| anyhow::anyhow!("reading the target list: {e}"))?;
    if totals.targets == 0 {
        eprintln!("mailcheck: the target list holds no target (only blank lines and comments)");
        return Ok(EXIT_UNKNOWN);
    }
    Ok(exit)
}

/// The table's counts, or for JSON Lines the same line on stderr.
fn finish(config: &BatchConfig, totals: &BatchTotals, out: &mut dyn Write) -> anyhow::Result<()> {
    if config.format == Format::Human {
        render::table_totals(totals, out)?;
    } else {
        eprintln!("mailcheck: {}", render::totals_line(totals));
    }
    out.flush()?;
    Ok(())
}

/// What every target's task shares.
struct Shared {
    per_server: Arc<PerServer>,
    deadline: Option<Instant>,
    stop: Arc<AtomicBool>,
}

/// Probes one target on a task of its own (so targets spread over the cores),
/// within what is left of the batch's deadline.
async fn probe(shared: Arc<Shared>, target: Target) -> BatchRecord {
    let record = |exit_code, report, error| BatchRecord {
        line: target.line,
        target: target.label.clone(),
        exit_code,
        report,
        error,
    };
    let mut config = match target.config {
        Ok(c) => c,
        Err(ref why) => return record(EXIT_UNKNOWN, None, Some(why.clone())),
    };
    if shared.stop.load(Ordering::Relaxed) {
        return record(EXIT_UNKNOWN, None, Some("not probed: interrupted".into()));
    }
    if let Some(at) = shared.deadline {
        let left = at.saturating_duration_since(Instant::now());
        if left < Duration::from_millis(1) {
            let why = "not probed: the batch's --deadline passed before its turn";
            return record(EXIT_UNKNOWN, None, Some(why.into()));
        }
        config.deadline = Some(config.deadline.map_or(left, |own| own.min(left)));
    }
    config.per_server = Some(shared.per_server.clone());
    let run = tokio::spawn(async move { engine::run(&config, &()).await });
    match run.await {
        Ok(Ok(report)) => record(report.summary.exit_code, Some(Box::new(report)), None),
        Ok(Err(e)) => record(EXIT_UNKNOWN, None, Some(format!("{e:#}"))),
        Err(e) => record(EXIT_UNKNOWN, None, Some(format!("the probe failed: {e}"))),
    }
}

/// On Ctrl-C: stop reading and starting targets; the running ones end as
/// `probe` ends on Ctrl-C (each reports what it learned, marked interrupted).
fn watch_interrupt(stop: Arc<AtomicBool>) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.store(true, Ordering::Relaxed);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_state_wins() {
        assert_eq!(worst(0, 1), 1);
        assert_eq!(worst(1, 3), 3);
        assert_eq!(worst(3, 2), 2);
        assert_eq!(worst(2, 3), 2);
        assert_eq!(worst(2, 0), 2);
        assert_eq!(worst(0, 0), 0);
    }
}
