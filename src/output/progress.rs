//! The progress line on stderr while probing: which combinations are still
//! running. Only on a terminal (never in a pipe or a CI log), and erased when the
//! probes are done so the report starts on a clean line. It draws the events the
//! engine reports ([`Observer`]).

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use crate::engine::progress::{Event, Observer};

/// Tracks which combinations are still running and redraws the line.
pub struct ProgressLine {
    enabled: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    total: usize,
    pending: BTreeSet<String>,
}

impl ProgressLine {
    /// A line shown only when `wanted` and stderr is a terminal.
    #[must_use]
    pub fn new(wanted: bool) -> Self {
        ProgressLine {
            enabled: wanted && std::io::stderr().is_terminal(),
            state: Mutex::new(State::default()),
        }
    }

    /// The line to show now.
    #[must_use]
    pub fn line(&self) -> String {
        let state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let done = state.total - state.pending.len();
        let mut waiting = state.pending.iter().cloned().collect::<Vec<_>>().join(", ");
        if waiting.chars().count() > 50 {
            waiting = waiting.chars().take(49).collect::<String>() + "…";
        }
        format!(
            "probing: {done}/{} done; waiting for {waiting}",
            state.total
        )
    }

    fn draw(&self, text: &str) {
        if self.enabled {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{text}");
            let _ = err.flush();
        }
    }
}

impl Observer for ProgressLine {
    fn event(&self, event: Event<'_>) {
        {
            let mut state = self
                .state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match event {
                Event::Probing(endpoints) => {
                    state.pending = endpoints
                        .iter()
                        .map(|e| e.combination.to_string())
                        .collect();
                    state.total = state.pending.len();
                }
                Event::Probed(endpoint) => {
                    state.pending.remove(&endpoint.combination.to_string());
                }
                Event::AllProbed => {
                    drop(state);
                    return self.draw("");
                }
            }
        }
        self.draw(&self.line());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Combination, Endpoint, Protocol, Security};

    #[test]
    fn the_line_counts_and_names_what_is_left() {
        let p = ProgressLine::new(false);
        let imap = Endpoint::new("h", Combination::new(Protocol::Imap, 993, Security::Tls));
        let smtp = Endpoint::new("h", Combination::new(Protocol::Smtp, 25, Security::Tls));
        p.event(Event::Probing(&[imap.clone(), smtp]));
        assert_eq!(
            p.line(),
            "probing: 0/2 done; waiting for imap:993:tls, smtp:25:tls"
        );
        p.event(Event::Probed(&imap));
        assert_eq!(p.line(), "probing: 1/2 done; waiting for smtp:25:tls");
    }

    #[test]
    fn nothing_is_shown_when_not_wanted() {
        assert!(!ProgressLine::new(false).enabled);
    }
}
