//! The engine: one run from a validated [`Config`] to a finished [`Report`].
//!
//! discover (unless every host was named) → plan the matrix → probe every
//! combination at once → log in and test relaying over the best combinations →
//! diagnose → summarise and decide the exit code. The run's deadline and Ctrl-C
//! bound everything after discovery; what was learned by then is reported.
//!
//! - [`plan`]: hosts, the matrix and the rows inferred instead of tried;
//! - [`probe`]: one combination over one connection;
//! - [`login`] and [`relay`]: the follow-up connections;
//! - [`signin`]: `mailcheck login`/`logout`, and the stored OAuth2 token a
//!   probe's logins use;
//! - [`outcome`]: the summary and the exit code, decided once;
//! - [`deadline`]: the cut-off; [`progress`]: events for whoever watches.

pub mod deadline;
pub mod login;
pub mod outcome;
pub mod plan;
pub mod probe;
pub mod progress;
pub mod relay;
pub mod signin;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared, join_all};

use crate::config::{AuthSecret, Config, SettingsConfig};
use crate::diagnose;
use crate::discover::fetch::Fetcher;
use crate::discover::lookup::{self, Sources};
use crate::discover::providers;
use crate::model::{Address, Endpoint};
use crate::net::driver::Limits;
use crate::net::resolve::{Families, Resolution, Resolver};
use crate::net::tls::TlsSetup;
use crate::report::{
    Discovery, DnsCheck, Inputs, Login, ProbeReport, RelayTest, Report, Run, TokenUse,
};
use deadline::Deadline;
use outcome::Expectations;
use plan::{Hosts, Planned};
use probe::{Env, Task};
use progress::{Event, Observer};

/// What the follow-up connections (logins, relay tests) share.
pub struct Context<'a> {
    /// Probe settings.
    pub env: &'a Env,
    /// DNS (shared: the OAuth2 refresh's HTTP client keeps it).
    pub resolver: Arc<Resolver>,
    /// `-4` / `-6`.
    pub families: Families,
    /// The address, when given.
    pub address: Option<&'a Address>,
    /// Discovery, for the username form.
    pub discovery: Option<&'a Discovery>,
}

impl Context<'_> {
    /// One follow-up connection to `endpoint` for `task`, on its own time line.
    pub async fn connect(&self, endpoint: &Endpoint, task: Task) -> ProbeReport {
        let mut report = ProbeReport::blank(endpoint);
        let lookup = self.resolver.resolve(&endpoint.host, self.families);
        probe::run(
            self.env,
            endpoint,
            lookup,
            Instant::now(),
            task,
            &mut report,
        )
        .await;
        report
    }
}

/// Runs the whole check and builds the report; `observer` hears how it goes.
pub async fn run(config: &Config, observer: &dyn Observer) -> anyhow::Result<Report> {
    let started_at = now_rfc3339();
    let started = Instant::now();
    let deadline = Deadline::after(config.deadline);
    let env = Env::for_config(config)?;
    let resolver = Arc::new(Resolver::new(config.dns_server, config.timeout)?);
    let (discovery, cut_short) = discover(config, &env, &resolver, deadline).await?;
    let hosts = Hosts::choose(config, discovery.as_ref());
    let planned = if cut_short.is_some() {
        Vec::new()
    } else {
        plan::plan(config, &hosts, discovery.as_ref())
    };
    let matrix = Matrix {
        env: &env,
        resolver: &resolver,
        families: config.families,
        clock: started,
    };
    let (probes, probing_cut) = matrix.run(&planned, deadline, observer).await;
    let mut cut_short = cut_short.or(probing_cut);
    let ctx = Context {
        env: &env,
        resolver: resolver.clone(),
        families: config.families,
        address: config.address.as_ref(),
        discovery: discovery.as_ref(),
    };
    let follow = follow_up_within(config, &ctx, &probes, deadline, &mut cut_short).await;
    // A diagnostic extra: once the deadline has cut the run short the user
    // wants the answer now, so it runs only when it costs nothing (a silent
    // DNS server is remembered: the lookup fails at once); otherwise it is
    // bounded by what is left of the deadline.
    let check = dns_check(&resolver, config.families);
    let dns_check = match (cut_short.is_some(), resolver.silent()) {
        (true, true) => check.await,
        (true, false) => None,
        (false, _) => deadline.run(check).await.ok().flatten(),
    };
    let run = Run {
        schema_version: crate::report::SCHEMA_VERSION,
        mailcheck_version: env!("CARGO_PKG_VERSION").to_owned(),
        started_at,
        duration_ms: started.elapsed().as_millis() as u64,
        inputs: inputs(config, &env.tls.roots_source),
        notes: [config.notes.clone(), plan::retired_notes(&hosts)].concat(),
        discovery,
        logins: follow.logins,
        oauth2_token: follow.token,
        relay_tests: follow.relay_tests,
        cut_short,
        probes,
        dns_check,
    };
    Ok(judge(run, &config.diagnose, &Expectations::of(config)))
}

/// Diagnoses the run and decides its outcome: the report, complete.
#[must_use]
pub fn judge(run: Run, options: &diagnose::Options, expect: &Expectations) -> Report {
    let findings = diagnose::findings(&run, options);
    let recommendation = diagnose::recommend(&run, options);
    let expect = expect.given(&run);
    let summary = outcome::summarise(&expect, &run.probes, &run.logins, &findings);
    let judged = [true, false].map(|incoming| expect.judges(incoming, &run.probes));
    let verdict = diagnose::verdict(&run, &findings, &recommendation, &summary, judged);
    Report {
        run,
        verdict,
        summary,
        findings,
        recommendation,
    }
}

/// When no lookup of the run got a useful answer, one lookup of a well-known
/// name tells "this computer's DNS fails" from "that domain's DNS fails".
async fn dns_check(resolver: &Resolver, families: Families) -> Option<DnsCheck> {
    if !resolver.asked() || resolver.informed() {
        return None;
    }
    let name = providers::control_host();
    let resolution = resolver.resolve(name, families).await;
    Some(match resolution.failure {
        None => DnsCheck {
            name: name.to_owned(),
            ok: true,
            code: None,
            message: format!("resolved to {}", resolution.addresses.len()),
        },
        Some(f) => DnsCheck {
            name: name.to_owned(),
            ok: false,
            code: Some(f.code),
            message: f.message,
        },
    })
}

/// Discovery for `mailcheck settings`: the provider table alone when offline,
/// every source otherwise.
pub async fn settings(config: &SettingsConfig) -> anyhow::Result<Discovery> {
    if config.offline {
        return Ok(lookup::offline(config.address.clone()));
    }
    let resolver = Arc::new(Resolver::new(config.dns_server, config.timeout)?);
    let fetcher = Fetcher::new(resolver.clone(), config.ca_file.as_deref(), config.timeout)?;
    let sources = Sources {
        resolver: &resolver,
        fetcher: &fetcher,
        families: Families::Any,
        ispdb_url: &config.ispdb_url,
        deadline: lookup::deadline_for(config.timeout),
        run_left: None,
    };
    Ok(lookup::online(config.address.clone(), &sources).await)
}

/// How long before the run's deadline discovery cuts its sources still
/// running, to hand over what the others found.
const CUT_MARGIN: std::time::Duration = std::time::Duration::from_millis(100);

/// Discovery from the address, unless every host was named; bounded by the
/// run's deadline and Ctrl-C (`Some("deadline")`, `Some("interrupted")`).
async fn discover(
    config: &Config,
    env: &Env,
    resolver: &Arc<Resolver>,
    deadline: Deadline,
) -> anyhow::Result<(Option<Discovery>, Option<String>)> {
    let Some(address) = config
        .address
        .as_ref()
        .filter(|_| !config.all_hosts_given())
    else {
        return Ok((None, None));
    };
    let fetcher = Fetcher::with_roots(
        resolver.clone(),
        config.families,
        env.tls.roots.as_ref().clone(),
        config.timeout,
    )?;
    let sources = Sources {
        resolver,
        fetcher: &fetcher,
        families: config.families,
        ispdb_url: &config.ispdb_url,
        deadline: lookup::deadline_for(config.timeout),
        // Discovery's own cut comes first, so that what the sources found in
        // time is kept; the run's bound below is the backstop, and Ctrl-C.
        run_left: deadline.left().map(|d| d.saturating_sub(CUT_MARGIN)),
    };
    Ok(
        match deadline
            .run(lookup::online(address.clone(), &sources))
            .await
        {
            Ok(found) => (Some(found), None),
            Err(why) => (None, Some(why)),
        },
    )
}

/// The matrix: every planned combination at once, on one time line.
struct Matrix<'a> {
    env: &'a Env,
    resolver: &'a Resolver,
    families: Families,
    /// The start of the run: every combination's phases share this time line.
    clock: Instant,
}

impl Matrix<'_> {
    /// Probes the plan within the deadline: the rows in plan order (inferred
    /// ones filled in), and why the probing was cut short, if it was.
    async fn run(
        &self,
        planned: &[Planned],
        deadline: Deadline,
        observer: &dyn Observer,
    ) -> (Vec<ProbeReport>, Option<String>) {
        let tried: Vec<&Planned> = planned.iter().filter(|p| !p.inferred).collect();
        let mut reports: Vec<ProbeReport> = tried
            .iter()
            .map(|p| ProbeReport::blank(&p.endpoint))
            .collect();
        let cut_short = if tried.is_empty() {
            None
        } else {
            let all = self.probe_all(&tried, &mut reports, observer);
            deadline.run(all).await.err()
        };
        observer.event(Event::AllProbed);
        if let Some(why) = &cut_short {
            let now_ms = self.clock.elapsed().as_millis() as u64;
            for r in &mut reports {
                deadline::mark_cancelled(r, why, now_ms);
            }
        }
        (plan::assemble(planned, reports), cut_short)
    }

    /// One lookup per host, shared by its combinations, each of which starts as
    /// soon as its own host is resolved.
    async fn probe_all(
        &self,
        tried: &[&Planned],
        reports: &mut [ProbeReport],
        observer: &dyn Observer,
    ) {
        let mut lookups: HashMap<&str, Shared<BoxFuture<'_, Resolution>>> = HashMap::new();
        for p in tried {
            let host = p.endpoint.host.as_str();
            lookups
                .entry(host)
                .or_insert_with(|| self.resolver.resolve(host, self.families).boxed().shared());
        }
        let endpoints: Vec<Endpoint> = tried.iter().map(|p| p.endpoint.clone()).collect();
        observer.event(Event::Probing(&endpoints));
        let probes = tried.iter().zip(reports.iter_mut()).map(|(p, report)| {
            let lookup = lookups[p.endpoint.host.as_str()].clone();
            async move {
                probe::run(
                    self.env,
                    &p.endpoint,
                    lookup,
                    self.clock,
                    Task::Look,
                    report,
                )
                .await;
                observer.event(Event::Probed(&p.endpoint));
            }
        });
        join_all(probes).await;
    }
}

/// The follow-up connections, unless the run was already cut short, and only
/// until the deadline (which then cuts it short).
async fn follow_up_within(
    config: &Config,
    ctx: &Context<'_>,
    probes: &[ProbeReport],
    deadline: Deadline,
    cut_short: &mut Option<String>,
) -> FollowUp {
    if cut_short.is_some() {
        return FollowUp::default();
    }
    deadline
        .run(follow_up(config, ctx, probes))
        .await
        .unwrap_or_else(|why| {
            // The logins under way may have sent the credentials: the report
            // must not read as if none was tried.
            let logins = config
                .auth
                .as_ref()
                .map(|auth| login::cancelled(probes, auth, &why))
                .unwrap_or_default();
            *cut_short = Some(why);
            FollowUp {
                logins,
                ..FollowUp::default()
            }
        })
}

/// What the follow-up connections found.
#[derive(Default)]
struct FollowUp {
    logins: Vec<Login>,
    relay_tests: Vec<RelayTest>,
    token: Option<TokenUse>,
}

/// The logins (with credentials; a stored OAuth2 token refreshed first when it
/// has expired) and relay tests (`--send-test` without).
async fn follow_up(config: &Config, ctx: &Context<'_>, probes: &[ProbeReport]) -> FollowUp {
    let mut out = FollowUp::default();
    if let Some(auth) = &config.auth {
        let found = match &auth.secret {
            AuthSecret::Given(found) => Ok(found.as_ref().clone()),
            AuthSecret::Stored(stored) => {
                let roots = ctx.env.tls.roots.as_ref().clone();
                let (found, usage) = signin::stored_token(
                    stored,
                    ctx.resolver.clone(),
                    ctx.families,
                    roots,
                    config.timeout,
                )
                .await;
                out.token = Some(usage);
                found
            }
        };
        out.logins = match found {
            Ok(found) => {
                let secret = login::Secret {
                    found: &found,
                    token: out.token.as_ref(),
                };
                login::run(ctx, auth, &secret, probes).await
            }
            Err(refused) => {
                login::none_attempted(probes, &refused.message, refused.explanation.as_deref())
            }
        };
    }
    if let (Some(address), true) = (&config.address, config.relay_test) {
        out.relay_tests = relay::run(ctx, address, probes).await;
    }
    out
}

impl Env {
    /// What the probes of a run with `config` share.
    fn for_config(config: &Config) -> anyhow::Result<Env> {
        Ok(Env {
            tls: match &config.tls {
                Some(shared) => shared.get(config.ca_file.as_deref())?,
                None => Arc::new(TlsSetup::new(config.ca_file.as_deref())?),
            },
            timeout: config.timeout,
            limits: Limits::default(),
            slow_greeting: slow_greeting_threshold(config.timeout),
            per_server: config.per_server.clone(),
        })
    }
}

/// A greeting slower than half the phase timeout (at most 5 s) is flagged.
fn slow_greeting_threshold(timeout: Duration) -> Duration {
    (timeout / 2).min(Duration::from_secs(5))
}

fn inputs(config: &Config, trust_anchors: &str) -> Inputs {
    Inputs {
        trust_anchors: trust_anchors.to_owned(),
        address: config.address.as_ref().map(|a| a.input.clone()),
        pop3_host: config.pop3_host.clone(),
        imap_host: config.imap_host.clone(),
        smtp_host: config.smtp_host.clone(),
        only: config.only.iter().map(ToString::to_string).collect(),
        dns_server: config.dns_server,
        ca_file: config.ca_file.as_ref().map(|p| p.display().to_string()),
        timeout_ms: config.timeout.as_millis() as u64,
        deadline_ms: config.deadline.map(|d| d.as_millis() as u64),
        address_family: config.families.as_str().to_owned(),
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
