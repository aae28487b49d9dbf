//! The batch's progress bar on stderr: targets done out of the total (a counter
//! when the list comes from standard input), the problems so far, the time left.
//! Only on a terminal, never in a pipe or a CI log; rows written to the same
//! terminal go above it without tearing it.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::report::BatchTotals;

/// The bar, or nothing when stderr is not a terminal.
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// A bar for `total()` targets (unknown: a counter). `total` is called only
    /// when the bar is shown: counting a list file reads it once more.
    pub fn new(total: impl FnOnce() -> Option<u64>) -> Self {
        if !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let total = total();
        let template = if total.is_some() {
            "{bar:30.cyan/blue} {pos}/{len} targets, {msg} [{elapsed}, ~{eta} left]"
        } else {
            "{spinner} {pos} targets, {msg} [{elapsed}]"
        };
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let bar =
            ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr()).with_style(style);
        bar.enable_steady_tick(Duration::from_millis(250));
        Progress(Some(bar))
    }

    /// Runs `f` (which writes to the terminal) with the bar out of the way.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.0 {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    /// One more target done.
    pub fn advance(&self, totals: &BatchTotals) {
        if let Some(bar) = &self.0 {
            let [_, warning, critical, unknown] = totals.by_exit_code;
            bar.set_message(format!(
                "{critical} critical, {warning} warning, {unknown} unknown"
            ));
            bar.inc(1);
        }
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
