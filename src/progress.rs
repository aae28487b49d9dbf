//! The progress line on stderr while probing: which combinations are still
//! running. Only on a terminal (never in a pipe or a CI log), and erased when the
//! run ends so the report starts on a clean line.

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

/// Tracks which combinations are still running.
pub struct Progress {
    enabled: bool,
    total: usize,
    pending: Mutex<BTreeSet<String>>,
}

impl Progress {
    /// A tracker for `names`; shown only when `wanted` and stderr is a terminal.
    #[must_use]
    pub fn new(names: impl IntoIterator<Item = String>, wanted: bool) -> Self {
        let pending: BTreeSet<String> = names.into_iter().collect();
        Progress {
            enabled: wanted && std::io::stderr().is_terminal(),
            total: pending.len(),
            pending: Mutex::new(pending),
        }
    }

    /// Marks `name` finished.
    pub fn done(&self, name: &str) {
        if let Ok(mut p) = self.pending.lock() {
            p.remove(name);
        }
    }

    /// The line to show now.
    #[must_use]
    pub fn line(&self) -> String {
        let pending = self
            .pending
            .lock()
            .map(|p| p.iter().cloned().collect::<Vec<_>>())
            .unwrap_or_default();
        let done = self.total - pending.len();
        let mut waiting = pending.join(", ");
        if waiting.chars().count() > 50 {
            waiting = waiting.chars().take(49).collect::<String>() + "…";
        }
        format!("probing: {done}/{} done; waiting for {waiting}", self.total)
    }

    /// Redraws the line every 200 ms until dropped (run it alongside the work).
    pub async fn show(&self) {
        if !self.enabled {
            return std::future::pending().await;
        }
        loop {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{}", self.line());
            let _ = err.flush();
            drop(err);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Erases the line.
    pub fn clear(&self) {
        if self.enabled {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_counts_and_names_what_is_left() {
        let p = Progress::new(["imap:993:tls".to_owned(), "smtp:25:tls".to_owned()], false);
        assert_eq!(
            p.line(),
            "probing: 0/2 done; waiting for imap:993:tls, smtp:25:tls"
        );
        p.done("imap:993:tls");
        assert_eq!(p.line(), "probing: 1/2 done; waiting for smtp:25:tls");
    }

    #[test]
    fn nothing_is_shown_when_not_wanted() {
        assert!(!Progress::new(Vec::new(), false).enabled);
    }
}
