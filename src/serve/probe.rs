//! `GET /probe?target=T&module=M`: one probe per scrape. The request is checked
//! (a target, a known module, the allow list) before anything touches the
//! network; the probe's deadline is the scrape timeout Prometheus announces in
//! `X-Prometheus-Scrape-Timeout-Seconds`, less a margin for the answer to get
//! back, so a slow target gives Prometheus what was learned instead of a failed
//! scrape.

use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::SemaphorePermit;

use super::metrics::{Metrics, Refusal};
use super::page::Entry;
use super::{App, text};
use crate::config::serve::{DEFAULT_DEADLINE, Target};
use crate::config::{Config, Format};
use crate::engine;
use crate::output::{self, prometheus};
use crate::report::Report;

/// Time kept back from the scrape timeout for answering (blackbox_exporter's
/// default `timeout_offset`).
const OFFSET: f64 = 0.5;

/// The module used when a scrape names none.
const DEFAULT_MODULE: &str = "default";

/// The query string.
#[derive(Debug, Deserialize)]
pub struct ProbeQuery {
    target: Option<String>,
    module: Option<String>,
}

/// A request answered without a probe.
struct Refused(StatusCode, String, Refusal);

/// The handler.
pub async fn probe(
    State(app): State<Arc<App>>,
    Query(q): Query<ProbeQuery>,
    headers: HeaderMap,
) -> Response {
    let started = Instant::now();
    match run(&app, &q, &headers, started).await {
        Ok(body) => ([(header::CONTENT_TYPE, prometheus::CONTENT_TYPE)], body).into_response(),
        Err(Refused(status, why, refusal)) => {
            app.metrics.refused(refusal);
            text(status, format!("{why}\n"))
        }
    }
}

async fn run(
    app: &App,
    q: &ProbeQuery,
    headers: &HeaderMap,
    started: Instant,
) -> Result<Vec<u8>, Refused> {
    let (module, target, mut config) = prepare(app, q).await?;
    let deadline = deadline(headers, config.deadline);
    let permit = wait_turn(app, deadline).await?;
    config.deadline = Some(
        deadline
            .saturating_sub(started.elapsed())
            .max(Duration::from_millis(1)),
    );
    config.per_server = Some(app.per_server.clone());
    let at = now_rfc3339();
    let report = {
        let _running = InFlight::new(&app.metrics);
        engine::run(&config, &()).await
    };
    drop(permit);
    let report = report.map_err(|e| {
        Refused(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the probe could not run: {e:#}"),
            Refusal::Error,
        )
    })?;
    let body = metrics_text(&report, &config).map_err(|e| {
        Refused(
            StatusCode::INTERNAL_SERVER_ERROR,
            e.to_string(),
            Refusal::Error,
        )
    })?;
    let code = report.summary.exit_code;
    app.metrics
        .probed(&module, code <= 1, started.elapsed().as_secs_f64());
    let entry = Entry {
        id: 0,
        at,
        module,
        target: target.as_str().to_owned(),
        exit_code: code,
        duration_ms: report.run.duration_ms,
        report: human(&report, &config),
    };
    app.recent
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(entry);
    Ok(body)
}

/// A place among the probes running at once, within the deadline.
async fn wait_turn(app: &App, deadline: Duration) -> Result<SemaphorePermit<'_>, Refused> {
    match tokio::time::timeout(deadline, app.running.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(Refused(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "{} probes were already running for the whole scrape timeout; raise `parallel` \
                 or scrape less often",
                app.config.parallel
            ),
            Refusal::Busy,
        )),
    }
}

/// The module, the target and the configuration, or why not.
async fn prepare(app: &App, q: &ProbeQuery) -> Result<(String, Target, Config), Refused> {
    let bad = |why: String| Refused(StatusCode::BAD_REQUEST, why, Refusal::BadRequest);
    let Some(target) = q.target.as_deref().filter(|t| !t.is_empty()) else {
        return Err(bad(
            "the target parameter is missing; expected /probe?target=alice@example.com&module=NAME"
                .into(),
        ));
    };
    let name = q.module.as_deref().unwrap_or(DEFAULT_MODULE);
    let Some(module) = app.config.modules.get(name) else {
        let known: Vec<&str> = app.config.modules.keys().map(String::as_str).collect();
        return Err(bad(format!(
            "unknown module {name:?}; this exporter has: {}",
            known.join(", ")
        )));
    };
    let target = Target::parse(target).map_err(|e| bad(e.0))?;
    if !app.config.allow.permits(&target) {
        return Err(Refused(
            StatusCode::FORBIDDEN,
            format!(
                "target {:?} is not on this exporter's allow list",
                target.as_str()
            ),
            Refusal::Denied,
        ));
    }
    // Off the async threads: validating reads any OAuth2 token stored for the
    // address, and a keyring call may block for seconds.
    let (for_module, for_target) = (module.clone(), target.clone());
    let config = tokio::task::spawn_blocking(move || for_module.config_for(&for_target))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.0))
        .map_err(|e| {
            Refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("module {name}: {e}"),
                Refusal::Error,
            )
        })?;
    Ok((name.to_owned(), target, config))
}

/// The probe's deadline: the scrape timeout less [`OFFSET`] (at least half of
/// it), the module's own deadline, whichever is shorter; [`DEFAULT_DEADLINE`]
/// when neither is known.
fn deadline(headers: &HeaderMap, module: Option<Duration>) -> Duration {
    let scrape = headers
        .get("x-prometheus-scrape-timeout-seconds")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(|s| {
            let s = s.min(86_400.0);
            Duration::from_secs_f64((s - OFFSET).max(s / 2.0))
        });
    [scrape, module]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(DEFAULT_DEADLINE)
}

fn metrics_text(report: &Report, config: &Config) -> std::io::Result<Vec<u8>> {
    let requirements: Vec<String> = config.require.iter().map(ToString::to_string).collect();
    let mut body = Vec::new();
    prometheus::render(report, &requirements, &mut body)?;
    Ok(body)
}

/// The human report, for the status page (colour is off in the exporter).
fn human(report: &Report, config: &Config) -> String {
    let opts = output::Options {
        format: Format::Human,
        verbose: false,
        client: config.client,
        warn_days: config.diagnose.warn_days,
        crit_days: config.diagnose.crit_days,
    };
    let mut out = Vec::new();
    match output::render(report, &opts, &mut out) {
        Ok(()) => String::from_utf8_lossy(&out).into_owned(),
        Err(e) => format!("(the report could not be rendered: {e})"),
    }
}

/// Now, to the second (the page has no use for nanoseconds).
fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Counts a running probe for as long as it runs, even when the scrape is
/// abandoned and the probe dropped.
struct InFlight<'a>(&'a Metrics);

impl<'a> InFlight<'a> {
    fn new(m: &'a Metrics) -> Self {
        m.in_flight(1);
        InFlight(m)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight(-1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(timeout: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "x-prometheus-scrape-timeout-seconds",
            timeout.parse().unwrap(),
        );
        h
    }

    #[test]
    fn the_probe_never_outlives_the_scrape() {
        let secs = |d: Duration| d.as_secs_f64();
        assert!((secs(deadline(&headers("10"), None)) - 9.5).abs() < 1e-9);
        assert!((secs(deadline(&headers("0.4"), None)) - 0.2).abs() < 1e-9);
        let module = Some(Duration::from_secs(3));
        assert_eq!(deadline(&headers("10"), module), Duration::from_secs(3));
        assert_eq!(deadline(&HeaderMap::new(), None), DEFAULT_DEADLINE);
        for junk in ["-1", "NaN", "inf", "x", "1e308"] {
            let d = deadline(&headers(junk), None);
            assert!(d <= Duration::from_hours(24), "{junk}: {d:?}");
        }
    }
}
