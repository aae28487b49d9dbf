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

use super::logins::{self, Last, Recent, Turn};
use super::metrics::{Metrics, Refusal};
use super::page::Entry;
use super::{App, text};
use crate::config::serve::{DEFAULT_DEADLINE, Module, Target};
use crate::config::{Config, Format, unattended};
use crate::engine::{self, outcome};
use crate::output::{self, prometheus};
use crate::report::{LoginResult, Report};

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

/// A request answered without a probe: the status, why, the reason counted,
/// and for a rate-limited account when to come back.
struct Refused(StatusCode, String, Refusal, Option<Duration>);

impl Refused {
    fn new(status: StatusCode, why: String, refusal: Refusal) -> Self {
        Refused(status, why, refusal, None)
    }
}

/// The handler.
pub async fn probe(
    State(app): State<Arc<App>>,
    Query(q): Query<ProbeQuery>,
    headers: HeaderMap,
) -> Response {
    let started = Instant::now();
    match run(&app, &q, &headers, started).await {
        Ok(body) => ([(header::CONTENT_TYPE, prometheus::CONTENT_TYPE)], body).into_response(),
        Err(Refused(status, why, refusal, retry)) => {
            app.metrics.refused(refusal);
            let mut answer = text(status, format!("{why}\n"));
            if let Some(after) = retry {
                let secs = whole_secs(after);
                answer
                    .headers_mut()
                    .insert(header::RETRY_AFTER, secs.into());
            }
            answer
        }
    }
}

/// A probe, or for a module with credentials the answer the account's last
/// login allows ([`logins`]).
async fn run(
    app: &App,
    q: &ProbeQuery,
    headers: &HeaderMap,
    started: Instant,
) -> Result<Vec<u8>, Refused> {
    let (module, target, config, deadline) = prepare(app, q, headers).await?;
    let Some(account) = unattended::account(&config) else {
        let (body, _) = probe_now(app, &module, &target, config, started, deadline).await?;
        return with_age(&body, Duration::ZERO);
    };
    let mut turn = tokio::time::timeout(deadline, app.logins.turn(&account))
        .await
        .map_err(|_| {
            Refused::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "a probe logging in to {account} ran for the whole scrape timeout; scrape \
                     this account with a longer timeout"
                ),
                Refusal::Busy,
            )
        })?;
    match logins::recent(turn.as_ref(), &module, &target.normal()) {
        Recent::None => {}
        Recent::Same(age) => {
            let last = turn
                .as_ref()
                .and_then(|l| l.body.clone())
                .unwrap_or_default();
            return with_age(&last, age);
        }
        Recent::Other(wait) => return Err(rate_limited(turn.as_ref(), &account, wait)),
    }
    probe_in_turn(app, &mut turn, module, &target, config, started, deadline).await
}

/// Probes at the account's `turn`, and records it there. Until the probe says
/// otherwise it counts as a login: if its scrape is abandoned (the client
/// hangs up, which drops this future with the turn) it may have sent the
/// password all the same.
async fn probe_in_turn(
    app: &App,
    turn: &mut Turn,
    module: String,
    target: &Target,
    config: Config,
    started: Instant,
    deadline: Duration,
) -> Result<Vec<u8>, Refused> {
    let before = turn.take();
    let last = |module: String, body: Option<Arc<Vec<u8>>>| Last {
        at: Instant::now(),
        module,
        target: target.normal(),
        body,
    };
    **turn = Some(last(module.clone(), None));
    let (body, may_have_logged_in) =
        match probe_now(app, &module, target, config, started, deadline).await {
            Ok(done) => done,
            Err(refused) => {
                **turn = before;
                return Err(refused);
            }
        };
    **turn = if may_have_logged_in {
        Some(last(module, Some(Arc::new(body.clone()))))
    } else {
        before
    };
    with_age(&body, Duration::ZERO)
}

/// 429: the account logged in within the minute for another module or target.
fn rate_limited(last: Option<&Last>, account: &str, wait: Duration) -> Refused {
    let (module, target) = last.map_or(("", ""), |l| (l.module.as_str(), l.target.as_str()));
    Refused(
        StatusCode::TOO_MANY_REQUESTS,
        format!(
            "a probe logging in as {account} ran less than {}s ago (module {module}, target \
             {target}); this exporter logs in to an account at most once a minute: retry in {}s",
            logins::INTERVAL.as_secs(),
            whole_secs(wait)
        ),
        Refusal::RateLimited,
        Some(wait),
    )
}

/// A wait in whole seconds, rounded up (at least 1): a client that comes back
/// after `Retry-After` must not come back early.
fn whole_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// The metrics text with the age of the result it holds.
fn with_age(body: &[u8], age: Duration) -> Result<Vec<u8>, Refused> {
    let mut out = body.to_vec();
    prometheus::render_age(age.as_secs_f64(), &mut out).map_err(|e| internal(e.to_string()))?;
    Ok(out)
}

/// 500: the exporter's own failure.
fn internal(why: String) -> Refused {
    Refused::new(StatusCode::INTERNAL_SERVER_ERROR, why, Refusal::Error)
}

/// Runs the probe now (once a place among the running probes is free) and
/// keeps it for the status page: its metrics text, and whether it logged in.
async fn probe_now(
    app: &App,
    module: &str,
    target: &Target,
    mut config: Config,
    started: Instant,
    deadline: Duration,
) -> Result<(Vec<u8>, bool), Refused> {
    let permit = wait_turn(app, deadline.saturating_sub(started.elapsed())).await?;
    config.deadline = Some(
        deadline
            .saturating_sub(started.elapsed())
            .max(Duration::from_millis(1)),
    );
    config.per_server = Some(app.per_server.clone());
    config.tls = Some(app.tls.clone());
    let at = now_rfc3339();
    let report = {
        let _running = InFlight::new(&app.metrics);
        engine::run(&config, &()).await
    };
    drop(permit);
    let report = report.map_err(|e| internal(format!("the probe could not run: {e:#}")))?;
    let body = metrics_text(&report, &config).map_err(|e| internal(e.to_string()))?;
    let code = report.summary.exit_code;
    // The run's own time: the wait for a place among the running probes (or
    // for the account's turn) is not counted.
    let took = report.run.duration_ms as f64 / 1000.0;
    app.metrics.probed(module, outcome::works(code), took);
    // A run the deadline cut short may have sent the password before its
    // login record was made: it counts as a login too.
    let logged_in = report.run.cut_short.is_some()
        || report
            .run
            .logins
            .iter()
            .any(|l| l.result != LoginResult::NotAttempted);
    let entry = Entry {
        id: 0,
        at,
        module: module.to_owned(),
        target: target.as_str().to_owned(),
        exit_code: code,
        duration_ms: report.run.duration_ms,
        report: human(&report, &config),
    };
    app.recent
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(entry);
    Ok((body, logged_in))
}

/// A place among the probes running at once, within the deadline.
async fn wait_turn(app: &App, deadline: Duration) -> Result<SemaphorePermit<'_>, Refused> {
    match tokio::time::timeout(deadline, app.running.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(Refused::new(
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
async fn prepare(
    app: &App,
    q: &ProbeQuery,
    headers: &HeaderMap,
) -> Result<(String, Target, Config, Duration), Refused> {
    let bad = |why: String| Refused::new(StatusCode::BAD_REQUEST, why, Refusal::BadRequest);
    let Some(target) = q.target.as_deref().filter(|t| !t.is_empty()) else {
        return Err(bad(
            "the target parameter is missing; expected /probe?target=alice@example.com&module=NAME"
                .into(),
        ));
    };
    let name = q.module.as_deref().unwrap_or(DEFAULT_MODULE);
    let Some(module) = app.config.modules.get(name) else {
        return Err(bad(format!(
            "unknown module {name:?}; this exporter has: {}",
            app.config.module_names().join(", ")
        )));
    };
    let target = Target::parse(target).map_err(|e| bad(e.0))?;
    if !app.config.allow.permits(&target) {
        return Err(Refused::new(
            StatusCode::FORBIDDEN,
            format!(
                "target {:?} is not on this exporter's allow list",
                target.as_str()
            ),
            Refusal::Denied,
        ));
    }
    if !module.permits(&target) {
        return Err(Refused::new(
            StatusCode::FORBIDDEN,
            format!(
                "module {name} may not probe {:?}: its credentials go only to the targets \
                 its `targets` list names",
                target.as_str()
            ),
            Refusal::Denied,
        ));
    }
    if let Some(why) = module.refuses(&target) {
        return Err(bad(format!("module {name} {why}")));
    }
    let deadline = deadline(headers, module.deadline());
    let config = module_config(module, &target, deadline)
        .await
        .map_err(|e| internal(format!("module {name}: {e}")))?;
    Ok((name.to_owned(), target, config, deadline))
}

/// The module's configuration for `target`, off the async threads and within
/// the scrape's `deadline`: the module's password or token file is read afresh
/// at every scrape, and a file on a slow or network file system (or a FIFO
/// nobody writes) may block.
async fn module_config(
    module: &Module,
    target: &Target,
    deadline: Duration,
) -> Result<Config, String> {
    let (module, target) = (module.clone(), target.clone());
    let read = tokio::task::spawn_blocking(move || module.config_for(&target));
    match tokio::time::timeout(deadline, read).await {
        Ok(Ok(config)) => config.map_err(|e| e.0),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "reading its credential file took the whole scrape timeout ({:.1} s)",
            deadline.as_secs_f64()
        )),
    }
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
    fn retry_after_is_rounded_up() {
        assert_eq!(whole_secs(Duration::from_millis(59_900)), 60);
        assert_eq!(whole_secs(Duration::from_secs(59)), 59);
        assert_eq!(whole_secs(Duration::ZERO), 1);
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
