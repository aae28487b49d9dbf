//! The exporter's own metrics, at `GET /metrics`: how many probes it ran and
//! how they ended, what it refused and why, how many run now and how long they
//! take. Probe results themselves are at `/probe`, per scrape (the multi-target
//! exporter pattern: no probe state is kept between scrapes).

use ::prometheus::{
    Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// Why a `/probe` request got no probe.
#[derive(Debug, Clone, Copy)]
pub enum Refusal {
    /// No or a malformed `target`, an unknown `module`.
    BadRequest,
    /// The target is not on the allow list.
    Denied,
    /// Too many probes at once until the scrape's deadline.
    Busy,
    /// The account logged in within the minute for another module or target.
    RateLimited,
    /// The module could not be applied now (e.g. its credential file vanished),
    /// or the run could not start.
    Error,
}

impl Refusal {
    fn as_str(self) -> &'static str {
        match self {
            Refusal::BadRequest => "bad_request",
            Refusal::Denied => "denied",
            Refusal::Busy => "busy",
            Refusal::RateLimited => "rate_limited",
            Refusal::Error => "error",
        }
    }
}

/// The counters and gauges, in one registry.
pub struct Metrics {
    registry: Registry,
    probes: IntCounterVec,
    refused: IntCounterVec,
    in_flight: IntGauge,
    duration: HistogramVec,
}

impl Metrics {
    /// Registers everything.
    pub fn new() -> ::prometheus::Result<Self> {
        let registry = Registry::new();
        let probes = IntCounterVec::new(
            Opts::new(
                "mailcheck_exporter_probes_total",
                "Probes run, by module and result (success: exit code OK or WARNING).",
            ),
            &["module", "result"],
        )?;
        let refused = IntCounterVec::new(
            Opts::new(
                "mailcheck_exporter_probe_refusals_total",
                "Probe requests answered without a probe, by reason (bad_request, denied, busy, rate_limited, error).",
            ),
            &["reason"],
        )?;
        let in_flight =
            IntGauge::new("mailcheck_exporter_probes_in_flight", "Probes running now.")?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "mailcheck_exporter_probe_duration_seconds",
                "Time the probes took to run, by module, from their start to their end; the wait for a place among the probes running at once is not counted.",
            )
            .buckets(vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0]),
            &["module"],
        )?;
        let build = GaugeVec::new(
            Opts::new(
                "mailcheck_exporter_build_info",
                "The mailcheck version running, as a label; always 1.",
            ),
            &["version"],
        )?;
        build
            .get_metric_with_label_values(&[env!("CARGO_PKG_VERSION")])?
            .set(1.0);
        let started = Gauge::new(
            "mailcheck_exporter_start_time_seconds",
            "When the exporter started, as a Unix time.",
        )?;
        started.set(time::OffsetDateTime::now_utc().unix_timestamp() as f64);
        registry.register(Box::new(probes.clone()))?;
        registry.register(Box::new(refused.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(build))?;
        registry.register(Box::new(started))?;
        Ok(Metrics {
            registry,
            probes,
            refused,
            in_flight,
            duration,
        })
    }

    /// A probe finished.
    pub fn probed(&self, module: &str, success: bool, seconds: f64) {
        let result = if success { "success" } else { "failure" };
        if let Ok(c) = self.probes.get_metric_with_label_values(&[module, result]) {
            c.inc();
        }
        if let Ok(h) = self.duration.get_metric_with_label_values(&[module]) {
            h.observe(seconds);
        }
    }

    /// A request got no probe.
    pub fn refused(&self, why: Refusal) {
        if let Ok(c) = self.refused.get_metric_with_label_values(&[why.as_str()]) {
            c.inc();
        }
    }

    /// A probe starts (`+1`) or ends (`-1`).
    pub fn in_flight(&self, delta: i64) {
        self.in_flight.add(delta);
    }

    /// The text format of everything.
    pub fn text(&self) -> ::prometheus::Result<Vec<u8>> {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        Ok(out)
    }
}
