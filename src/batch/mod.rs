//! `mailcheck batch`: many targets, one per line of a list, for the help desk
//! or MSP that checks every customer domain each night.
//!
//! Targets run `--parallel` at a time, each as its own task, every connection
//! counted against one shared per-server cap ([`crate::net::limit`]), each
//! target's login rule as in `probe` (and one line per account). Records are
//! written as targets finish — JSON Lines or table rows — and then dropped, so
//! memory stays flat however long the list. The batch's `--deadline` (and
//! Ctrl-C) bounds the whole run: targets still running are cut short as `probe
//! --deadline` would cut them, targets already read are reported as not probed,
//! and the rest of the list is not read — a reader blocked on standard input
//! is not waited for. The exit code is the worst of all targets.

pub mod input;
mod progress;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use crate::config::Format;
use crate::config::unattended::BatchConfig;
use crate::engine;
use crate::engine::outcome::{EXIT_UNKNOWN, worst};
use crate::net::limit::PerServer;
use crate::net::tls::TlsSetups;
use crate::output::batch as render;
use crate::report::{BatchRecord, BatchTotals};
use input::Target;
use progress::Progress;

/// Why the batch stopped taking targets before the list ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Halt {
    /// The batch's `--deadline` passed.
    Deadline = 1,
    /// Ctrl-C.
    Interrupted = 2,
}

/// Whether, and why, the batch halted: shared by the reader thread (which
/// stops reading and building configurations), the targets' tasks (which do
/// not start) and the target stream (which ends).
#[derive(Debug, Default)]
pub struct Stop(AtomicU8);

impl Stop {
    fn set(&self, why: Halt) {
        let _ = self
            .0
            .compare_exchange(0, why as u8, Ordering::Relaxed, Ordering::Relaxed);
    }

    fn get(&self) -> Option<Halt> {
        match self.0.load(Ordering::Relaxed) {
            1 => Some(Halt::Deadline),
            2 => Some(Halt::Interrupted),
            _ => None,
        }
    }

    /// Whether the batch halted.
    #[must_use]
    pub fn is_set(&self) -> bool {
        self.get().is_some()
    }
}

/// Runs the batch, writing to `out`; returns the exit code.
pub async fn run(config: &BatchConfig, out: &mut dyn Write) -> anyhow::Result<i32> {
    let started = Instant::now();
    // Registered before anything is written, so Ctrl-C is ours from then on.
    let halt = halt(config.deadline.map(|d| started + d))?;
    let stop = Arc::new(Stop::default());
    let (tx, mut rx) = mpsc::channel::<Target>(config.parallel.get() * 2);
    let reader = input::spawn(config, tx, stop.clone())
        .map_err(|e| anyhow::anyhow!("cannot read the target list: {e}"))?;
    let shared = Arc::new(Shared {
        per_server: Arc::new(PerServer::new(config.per_server)),
        tls: Arc::default(),
        deadline: config.deadline.map(|d| started + d),
        stop: stop.clone(),
    });
    // Once halted, no more targets are taken: those already read are reported
    // as not probed, and a reader blocked on its input is not waited for.
    let halted = stop.clone();
    let targets = futures_util::stream::poll_fn(move |cx| {
        if halted.is_set() {
            rx.close();
        }
        rx.poll_recv(cx)
    });
    let mut records = targets
        .map(|target| probe(shared.clone(), target))
        .buffer_unordered(config.parallel.get());
    let progress = Progress::new(|| input::count(&config.input));
    if config.format == Format::Human {
        render::table_header(out)?;
        out.flush()?;
    }
    let (mut exit, mut totals) = (0, BatchTotals::default());
    tokio::pin!(halt);
    loop {
        let record = tokio::select! {
            record = records.next() => record,
            why = &mut halt, if !stop.is_set() => {
                stop.set(why);
                continue;
            }
        };
        let Some(record) = record else { break };
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
    finish(config, &totals, out)?;
    ended(reader, stop.get(), &totals, exit)
}

/// The exit code, once the records are out: what stopped the batch early, an
/// error reading the list, or an empty list is said on stderr. A reader still
/// blocked on its input (a pipe nobody writes to) is left behind, not joined.
fn ended(
    reader: std::thread::JoinHandle<std::io::Result<()>>,
    halted: Option<Halt>,
    totals: &BatchTotals,
    exit: i32,
) -> anyhow::Result<i32> {
    let read_all = halted.is_none() || reader.is_finished();
    if read_all {
        reader
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the reading thread failed")))
            .map_err(|e| anyhow::anyhow!("reading the target list: {e}"))?;
    }
    let rest = if read_all {
        String::new()
    } else {
        "; the rest of the target list was not read".to_owned()
    };
    match halted {
        Some(Halt::Deadline) => eprintln!("mailcheck: the batch's --deadline passed{rest}"),
        Some(Halt::Interrupted) => eprintln!("mailcheck: interrupted{rest}"),
        None if totals.targets == 0 => {
            eprintln!("mailcheck: the target list holds no target (only blank lines and comments)");
        }
        None => {}
    }
    Ok(if totals.targets == 0 {
        EXIT_UNKNOWN
    } else {
        exit
    })
}

/// Resolves when the batch must stop taking targets: at `deadline`, or on
/// Ctrl-C. The signal handler is installed now, not at the first poll.
fn halt(deadline: Option<Instant>) -> std::io::Result<impl Future<Output = Halt>> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        let deadline = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = deadline => Halt::Deadline,
            Some(()) = interrupt.recv() => Halt::Interrupted,
        }
    })
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
    /// Trust anchors and verifiers, built once per CA file for all targets.
    tls: Arc<TlsSetups>,
    deadline: Option<Instant>,
    stop: Arc<Stop>,
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
    let not_probed = |why: &str| record(EXIT_UNKNOWN, None, Some(format!("not probed: {why}")));
    let passed = "the batch's --deadline passed before its turn";
    match shared.stop.get() {
        Some(Halt::Interrupted) => return not_probed("interrupted"),
        Some(Halt::Deadline) => return not_probed(passed),
        None => {}
    }
    if let Some(at) = shared.deadline {
        let left = at.saturating_duration_since(Instant::now());
        if left < Duration::from_millis(1) {
            return not_probed(passed);
        }
        config.deadline = Some(config.deadline.map_or(left, |own| own.min(left)));
    }
    config.per_server = Some(shared.per_server.clone());
    config.tls = Some(shared.tls.clone());
    let run = tokio::spawn(async move { engine::run(&config, &()).await });
    match run.await {
        Ok(Ok(report)) => record(report.summary.exit_code, Some(Box::new(report)), None),
        Ok(Err(e)) => record(EXIT_UNKNOWN, None, Some(format!("{e:#}"))),
        Err(e) => record(EXIT_UNKNOWN, None, Some(format!("the probe failed: {e}"))),
    }
}
