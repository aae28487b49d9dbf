//! What the engine tells whoever watches a run. The engine only reports events;
//! `output::progress` draws them (on a terminal), and tests or batch runs can
//! listen in without any drawing.

use crate::model::Endpoint;

/// Something that happened in a run.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// These endpoints are being probed, all at once.
    Probing(&'a [Endpoint]),
    /// This one finished.
    Probed(&'a Endpoint),
    /// Every probe has finished or was cut short.
    AllProbed,
}

/// Receives a run's events; called from the probes' tasks, so it must be `Sync`.
pub trait Observer: Sync {
    /// One event.
    fn event(&self, event: Event<'_>);
}

/// Nobody watching.
impl Observer for () {
    fn event(&self, _: Event<'_>) {}
}
