//! Plans the matrix of combinations and runs them all at once, within the run's
//! deadline and until Ctrl-C, then fills in the rows that are inferred rather
//! than tried and sums up what works.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared, join_all};

use std::sync::Arc;

use crate::config::{Config, Requirement, SettingsConfig};
use crate::diagnose;
use crate::discover::autoconfig::Fetcher;
use crate::discover::providers;
use crate::discover::run::{self, Sources};
use crate::login::{self};
use crate::model::Code;
use crate::model::{Combination, Phase, Protocol, Security};
use crate::net::driver::Limits;
use crate::net::resolve::Families;
use crate::net::resolve::{Resolution, Resolver};
use crate::net::tls::TlsSetup;
use crate::probe::{self, Env, Target};
use crate::progress::Progress;
use crate::report::Discovery;
use crate::report::Login;
use crate::report::LoginResult;
use crate::report::{Failure, Inputs, ProbeReport, Report, SCHEMA_VERSION, Status, Summary};
use crate::report::{Finding, Recommendation, Severity};

/// Exit code when at least one secure incoming and one secure outgoing combination work.
pub const EXIT_OK: i32 = 0;
/// Exit code when something works but deserves attention (a warning finding).
pub const EXIT_WARNING: i32 = 1;
/// Exit code when a probed direction has no working secure combination.
pub const EXIT_CRITICAL: i32 = 2;
/// Exit code when mailcheck itself could not run (bad arguments, bad CA file, …).
pub const EXIT_UNKNOWN: i32 = 3;

/// The default matrix: what a person might choose in a mail client, right or wrong.
/// `(combination, inferred)`: plain on an implicit-TLS port is inferred from the
/// TLS result instead of waiting out a silent server.
pub const DEFAULT_MATRIX: [(Combination, bool); 16] = [
    (Combination::new(Protocol::Pop3, 995, Security::Tls), false),
    (Combination::new(Protocol::Pop3, 995, Security::Plain), true),
    (
        Combination::new(Protocol::Pop3, 110, Security::StartTls),
        false,
    ),
    (
        Combination::new(Protocol::Pop3, 110, Security::Plain),
        false,
    ),
    (Combination::new(Protocol::Imap, 993, Security::Tls), false),
    (Combination::new(Protocol::Imap, 993, Security::Plain), true),
    (
        Combination::new(Protocol::Imap, 143, Security::StartTls),
        false,
    ),
    (
        Combination::new(Protocol::Imap, 143, Security::Plain),
        false,
    ),
    (Combination::new(Protocol::Smtp, 465, Security::Tls), false),
    (Combination::new(Protocol::Smtp, 465, Security::Plain), true),
    (
        Combination::new(Protocol::Smtp, 587, Security::StartTls),
        false,
    ),
    (Combination::new(Protocol::Smtp, 587, Security::Tls), false),
    (
        Combination::new(Protocol::Smtp, 587, Security::Plain),
        false,
    ),
    (
        Combination::new(Protocol::Smtp, 25, Security::StartTls),
        false,
    ),
    (Combination::new(Protocol::Smtp, 25, Security::Plain), false),
    (Combination::new(Protocol::Smtp, 25, Security::Tls), false),
];

/// One row of the plan.
#[derive(Debug, Clone)]
pub struct Planned {
    /// What to probe (or infer).
    pub target: Target,
    /// Inferred from the implicit-TLS row on the same port instead of tried.
    pub inferred: bool,
}

/// The rows for the hosts, in report order: `--only`, or the default matrix plus
/// any other combination discovery proposed for the chosen hosts (e.g. a
/// provider's non-standard port).
#[must_use]
pub fn plan(config: &Config, hosts: &Hosts, discovered: &[Combination]) -> Vec<Planned> {
    let rows: Vec<(Combination, bool)> = if config.only.is_empty() {
        let mut rows = DEFAULT_MATRIX.to_vec();
        for c in discovered {
            if !rows.iter().any(|(r, _)| r == c) {
                rows.push((*c, false));
            }
        }
        rows
    } else {
        config.only.iter().map(|c| (*c, false)).collect()
    };
    // A required combination is always tried, matrix or not.
    let mut rows = rows;
    for r in &config.require {
        if let Requirement::Combination(c) = r
            && !rows.iter().any(|(row, inferred)| row == c && !inferred)
        {
            rows.push((*c, false));
        }
    }
    rows.into_iter()
        .filter_map(|(c, inferred)| {
            let host = hosts.get(c.protocol)?;
            Some(Planned {
                target: Target {
                    protocol: c.protocol,
                    host: host.to_owned(),
                    port: c.port,
                    security: c.security,
                },
                inferred,
            })
        })
        .collect()
}

/// The host probed for each protocol: from the flags, else from discovery.
#[derive(Debug, Clone, Default)]
pub struct Hosts {
    /// POP3.
    pub pop3: Option<String>,
    /// IMAP.
    pub imap: Option<String>,
    /// SMTP.
    pub smtp: Option<String>,
}

impl Hosts {
    /// The host for `protocol`.
    #[must_use]
    pub fn get(&self, protocol: Protocol) -> Option<&str> {
        match protocol {
            Protocol::Pop3 => self.pop3.as_deref(),
            Protocol::Imap => self.imap.as_deref(),
            Protocol::Smtp => self.smtp.as_deref(),
        }
    }
}

/// Flags first; discovery's most trusted candidate for the rest.
fn choose_hosts(config: &Config, discovery: Option<&Discovery>) -> Hosts {
    let pick = |p: Protocol| {
        config
            .host_for(p)
            .or_else(|| discovery.and_then(|d| d.host_for(p)))
            .map(str::to_owned)
    };
    Hosts {
        pop3: pick(Protocol::Pop3),
        imap: pick(Protocol::Imap),
        smtp: pick(Protocol::Smtp),
    }
}

/// A host name a provider retired (e.g. pop3.live.com) still works sometimes and
/// then stops; say which names replace it.
fn retired_notes(hosts: &Hosts) -> Vec<String> {
    let mut notes = Vec::new();
    for p in Protocol::ALL {
        let Some(r) = hosts.get(p).and_then(providers::retired_host) else {
            continue;
        };
        let current: Vec<String> = r
            .replacements
            .iter()
            .map(|s| format!("{}:{} {}", s.host, s.port, s.security))
            .collect();
        let note = format!(
            "{} is a retired {} name for {}; use {} instead",
            r.host,
            r.protocol,
            r.provider.name,
            current.join(" or ")
        );
        if !notes.contains(&note) {
            notes.push(note);
        }
    }
    notes
}

/// Combinations discovery proposed for the chosen hosts.
fn discovered_combinations(discovery: Option<&Discovery>, hosts: &Hosts) -> Vec<Combination> {
    discovery
        .map(|d| {
            d.candidates
                .iter()
                .filter(|c| hosts.get(c.setting.protocol) == Some(c.setting.host.as_str()))
                .map(|c| Combination::new(c.setting.protocol, c.setting.port, c.setting.security))
                .collect()
        })
        .unwrap_or_default()
}

/// Discovery for `mailcheck settings`: the provider table alone when offline,
/// every source otherwise.
pub async fn settings(config: &SettingsConfig) -> anyhow::Result<Discovery> {
    if config.offline {
        return Ok(run::offline(config.address.clone()));
    }
    let resolver = Arc::new(Resolver::new(config.dns_server, config.timeout)?);
    let fetcher = Fetcher::new(resolver.clone(), config.ca_file.as_deref(), config.timeout)?;
    let sources = Sources {
        resolver: &resolver,
        fetcher: &fetcher,
        families: Families::Any,
    };
    Ok(run::online(config.address.clone(), &sources).await)
}

/// Runs `work` until it finishes, the deadline passes or Ctrl-C arrives; the
/// error says which ("deadline", "interrupted").
async fn until_cut<T>(
    work: impl Future<Output = T>,
    deadline_at: Option<tokio::time::Instant>,
) -> Result<T, String> {
    let deadline = async {
        match deadline_at {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    let interrupted = async {
        // Without a signal handler there is no Ctrl-C to wait for.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        done = work => Ok(done),
        () = deadline => Err("deadline".to_owned()),
        () = interrupted => Err("interrupted".to_owned()),
    }
}

/// Discovery from the address, unless every host was named; bounded by the
/// run's deadline (`Some("deadline")` when it ran out).
async fn discover(
    config: &Config,
    env: &Env,
    resolver: &Arc<Resolver>,
    deadline_at: Option<tokio::time::Instant>,
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
    };
    let found = run::online(address.clone(), &sources);
    let found = match deadline_at {
        Some(at) => tokio::time::timeout_at(at, found).await.ok(),
        None => Some(found.await),
    };
    let cut = found.is_none().then(|| "deadline".to_owned());
    Ok((found, cut))
}

/// Runs the whole check and builds the report.
pub async fn run(config: &Config) -> anyhow::Result<Report> {
    let started_at = now_rfc3339();
    let started = Instant::now();
    let deadline_at = config.deadline.map(|d| tokio::time::Instant::now() + d);
    let tls = TlsSetup::new(config.ca_file.as_deref())?;
    let resolver = Arc::new(Resolver::new(config.dns_server, config.timeout)?);
    let env = Env {
        tls,
        timeout: config.timeout,
        limits: Limits::default(),
        slow_greeting: slow_greeting_threshold(config.timeout),
    };
    let (discovery, cut_short) = discover(config, &env, &resolver, deadline_at).await?;
    let hosts = choose_hosts(config, discovery.as_ref());
    let planned = if cut_short.is_some() {
        Vec::new()
    } else {
        plan(
            config,
            &hosts,
            &discovered_combinations(discovery.as_ref(), &hosts),
        )
    };
    let tried: Vec<&Planned> = planned.iter().filter(|p| !p.inferred).collect();
    let mut reports: Vec<ProbeReport> = tried.iter().map(|p| p.target.blank_report()).collect();
    let cut_short = cut_short.or({
        let all = run_all(&env, &resolver, config, &tried, started, &mut reports);
        until_cut(all, deadline_at).await.err()
    });
    if let Some(why) = &cut_short {
        let now_ms = started.elapsed().as_millis() as u64;
        for r in &mut reports {
            mark_cancelled(r, why, now_ms);
        }
    }
    let probes = assemble(&planned, reports);
    // The logins and relay tests obey the same deadline and Ctrl-C.
    let (cut_short, (logins, relay_tests)) = if cut_short.is_some() {
        (cut_short, (Vec::new(), Vec::new()))
    } else {
        let follow_up = async {
            let logins = match &config.auth {
                Some(auth) => {
                    let ctx = login::Context {
                        env: &env,
                        resolver: &resolver,
                        families: config.families,
                        auth,
                        address: config.address.as_ref(),
                        discovery: discovery.as_ref(),
                    };
                    login::run(&ctx, &probes).await
                }
                None => Vec::new(),
            };
            let relay_tests = match (&config.address, config.relay_test) {
                (Some(address), true) => {
                    login::relay_tests(&env, &resolver, config.families, address, &probes).await
                }
                _ => Vec::new(),
            };
            (logins, relay_tests)
        };
        match until_cut(follow_up, deadline_at).await {
            Ok(done) => (None, done),
            Err(why) => (Some(why), (Vec::new(), Vec::new())),
        }
    };
    let mut summary = summarise(
        &probes,
        config.expects_incoming(),
        config.expects_outgoing(),
    );
    if config.auth.is_some() {
        require_logins(&mut summary, &logins, &probes);
    }
    check_requirements(&mut summary, &config.require, &probes);
    let mut report = Report {
        schema_version: SCHEMA_VERSION,
        mailcheck_version: env!("CARGO_PKG_VERSION").to_owned(),
        started_at,
        duration_ms: started.elapsed().as_millis() as u64,
        inputs: inputs(config, &env.tls.roots_source),
        notes: retired_notes(&hosts),
        discovery,
        logins,
        relay_tests,
        cut_short,
        probes,
        summary,
        findings: Vec::new(),
        recommendation: Recommendation {
            incoming: None,
            outgoing: None,
        },
    };
    report.findings = diagnose::findings(&report, &config.diagnose);
    report.recommendation = diagnose::recommend(&report, &config.diagnose);
    report.summary.exit_code = exit_code(&report.summary, &report.findings);
    Ok(report)
}

/// The Nagios plugin convention: 0 OK, 1 WARNING, 2 CRITICAL (3 UNKNOWN is for
/// runs that could not happen at all). A direction that does not work, an unmet
/// `--require` or a critical finding is CRITICAL; a warning finding is WARNING.
#[must_use]
pub fn exit_code(summary: &Summary, findings: &[Finding]) -> i32 {
    let worst = findings.iter().map(|f| f.severity).max();
    if !summary.ok || worst == Some(Severity::Critical) {
        EXIT_CRITICAL
    } else if worst == Some(Severity::Warning) {
        EXIT_WARNING
    } else {
        EXIT_OK
    }
}

/// A greeting slower than half the phase timeout (at most 5 s) is flagged.
fn slow_greeting_threshold(timeout: Duration) -> Duration {
    (timeout / 2).min(Duration::from_secs(5))
}

async fn run_all(
    env: &Env,
    resolver: &Resolver,
    config: &Config,
    tried: &[&Planned],
    clock: Instant,
    reports: &mut [ProbeReport],
) {
    // One lookup per host, shared by its combinations, each of which starts as
    // soon as its own host is resolved.
    let mut lookups: HashMap<&str, Shared<BoxFuture<'_, Resolution>>> = HashMap::new();
    for p in tried {
        let host = p.target.host.as_str();
        lookups
            .entry(host)
            .or_insert_with(|| resolver.resolve(host, config.families).boxed().shared());
    }
    let name = |t: &Target| format!("{}:{}:{}", t.protocol.as_str(), t.port, t.security.as_str());
    let progress = Progress::new(tried.iter().map(|p| name(&p.target)), config.progress);
    let probes = tried.iter().zip(reports.iter_mut()).map(|(p, report)| {
        let lookup = lookups[p.target.host.as_str()].clone();
        let progress = &progress;
        async move {
            probe::run(env, &p.target, lookup, clock, report).await;
            progress.done(&name(&p.target));
        }
    });
    tokio::select! {
        _ = join_all(probes) => {}
        () = progress.show() => {}
    }
    progress.clear();
}

/// Closes a combination the run did not let finish, keeping what it learned: an
/// earlier failure stands; otherwise it is `cancelled`.
fn mark_cancelled(report: &mut ProbeReport, why: &str, now_ms: u64) {
    if report.status != Status::Cancelled {
        return;
    }
    report.duration_ms = now_ms;
    let phase = report.phases.last().map_or(Phase::Resolve, |p| p.phase);
    if let Some(open) = report
        .phases
        .last_mut()
        .filter(|p| p.detail.as_deref() == Some("in progress"))
    {
        open.detail = Some(format!("cut short ({why})"));
        open.duration_ms = now_ms.saturating_sub(open.start_ms);
    }
    let note = Failure {
        code: Code::Cancelled,
        phase,
        message: format!("the run ended ({why}) during {phase}, before this combination finished"),
    };
    if report.failure.is_some() {
        report.status = Status::Failed;
        report.warnings.push(note);
    } else {
        report.failure = Some(note);
    }
}

/// Puts tried and inferred rows together, in plan order. An inferred row always
/// follows the SSL/TLS row it is inferred from.
fn assemble(planned: &[Planned], reports: Vec<ProbeReport>) -> Vec<ProbeReport> {
    let mut tried = reports.into_iter();
    let mut out: Vec<ProbeReport> = Vec::with_capacity(planned.len());
    for p in planned {
        if p.inferred {
            let t = &p.target;
            let basis = out.iter().find(|r| {
                (r.protocol, r.host.as_str(), r.port, r.security)
                    == (t.protocol, t.host.as_str(), t.port, Security::Tls)
            });
            let row = infer_plain(t, basis);
            out.push(row);
        } else {
            out.extend(tried.next());
        }
    }
    out
}

/// Plain on an implicit-TLS port, judged from the SSL/TLS try on the same port.
#[must_use]
pub fn infer_plain(target: &Target, basis: Option<&ProbeReport>) -> ProbeReport {
    let mut report = target.blank_report();
    report.inferred = true;
    let Some(tls) = basis else {
        report.failure = Some(Failure {
            code: Code::Cancelled,
            phase: Phase::Greeting,
            message: "nothing to infer from: the SSL/TLS combination on this port was not tried"
                .into(),
        });
        return report;
    };
    report.addresses.clone_from(&tls.addresses);
    let from = format!("inferred from the SSL/TLS try on port {}", target.port);
    let copy = |f: &Failure, note: &str| Failure {
        code: f.code,
        phase: f.phase,
        message: format!("{from}: {}{note}", f.message),
    };
    let expects_tls = || Failure {
        code: Code::ExpectsImplicitTls,
        phase: Phase::Greeting,
        message: format!(
            "{from}: port {} speaks TLS from the first byte, so a client set to 'None' or STARTTLS waits for a greeting that never comes; choose SSL/TLS",
            target.port
        ),
    };
    // TLS got under way: a handshake completed, a certificate arrived, or the
    // server answered with a TLS alert.
    let spoke_tls = tls.tls.is_some()
        || tls.failure.as_ref().is_some_and(|f| {
            matches!(f.code, Code::TlsAlert | Code::TlsVersionTooOld)
                || !matches!(f.phase, Phase::Resolve | Phase::Connect | Phase::Tls)
        });
    match &tls.failure {
        None => {
            report.status = Status::Failed;
            report.failure = Some(expects_tls());
        }
        Some(f) if f.code == Code::Cancelled => {
            report.status = Status::Cancelled;
            report.failure = Some(copy(f, ""));
        }
        Some(f) if f.code == Code::TlsGotPlaintext => {
            report.status = Status::Ok;
            report.warnings.push(Failure {
                code: Code::TlsGotPlaintext,
                phase: Phase::Greeting,
                message: format!(
                    "{from}: the port answers in plaintext, so a client set to 'None' gets a greeting ({})",
                    f.message
                ),
            });
        }
        Some(f) if f.code == Code::TlsTimeout => {
            report.status = Status::Failed;
            report.failure = Some(Failure {
                code: Code::NoGreeting,
                phase: Phase::Greeting,
                message: format!(
                    "{from}: the server stays silent, so a plaintext client would wait for a greeting that never comes"
                ),
            });
        }
        Some(_) if spoke_tls => {
            report.status = Status::Failed;
            report.failure = Some(expects_tls());
        }
        Some(f) => {
            report.status = Status::Failed;
            report.failure = Some(copy(
                f,
                " (nothing showed whether this port speaks TLS; a plaintext client likely fails the same way)",
            ));
        }
    }
    report
}

/// What works per direction. A direction is judged when it was probed or
/// expected (an address implies both).
pub(crate) fn summarise(
    probes: &[ProbeReport],
    expect_incoming: bool,
    expect_outgoing: bool,
) -> Summary {
    let works = |r: &&ProbeReport| {
        !r.inferred && r.security.is_secure() && matches!(r.status, Status::Ok | Status::Warning)
    };
    let name =
        |r: &ProbeReport| format!("{}:{}:{}", r.protocol.as_str(), r.port, r.security.as_str());
    let secure_incoming: Vec<String> = probes
        .iter()
        .filter(works)
        .filter(|r| r.protocol.is_incoming())
        .map(name)
        .collect();
    let secure_outgoing: Vec<String> = probes
        .iter()
        .filter(works)
        .filter(|r| !r.protocol.is_incoming())
        .map(name)
        .collect();
    let judged = |incoming: bool| {
        let expected = if incoming {
            expect_incoming
        } else {
            expect_outgoing
        };
        expected || probes.iter().any(|r| r.protocol.is_incoming() == incoming)
    };
    let ok = (!judged(true) || !secure_incoming.is_empty())
        && (!judged(false) || !secure_outgoing.is_empty());
    Summary {
        unmet_requirements: Vec::new(),
        logins_ok: None,
        secure_incoming,
        secure_outgoing,
        ok,
        exit_code: if ok { EXIT_OK } else { EXIT_CRITICAL },
    }
}

/// `--require`: every requirement must hold, else the run is CRITICAL.
fn check_requirements(summary: &mut Summary, require: &[Requirement], probes: &[ProbeReport]) {
    let works = |c: &Combination| {
        probes.iter().any(|p| {
            !p.inferred
                && (p.protocol, p.port, p.security) == (c.protocol, c.port, c.security)
                && matches!(p.status, Status::Ok | Status::Warning)
        })
    };
    summary.unmet_requirements = require
        .iter()
        .filter(|r| match r {
            Requirement::Incoming => summary.secure_incoming.is_empty(),
            Requirement::Outgoing => summary.secure_outgoing.is_empty(),
            Requirement::Combination(c) => !works(c),
        })
        .map(ToString::to_string)
        .collect();
    if !summary.unmet_requirements.is_empty() {
        summary.ok = false;
        summary.exit_code = EXIT_CRITICAL;
    }
}

/// With credentials, a combination counts as working only when a login over its
/// protocol (and host) succeeded.
pub(crate) fn require_logins(summary: &mut Summary, logins: &[Login], probes: &[ProbeReport]) {
    if logins.is_empty() {
        return;
    }
    let logged_in = |spec: &String| {
        probes.iter().any(|p| {
            format!("{}:{}:{}", p.protocol.as_str(), p.port, p.security.as_str()) == *spec
                && logins.iter().any(|l| {
                    l.protocol == p.protocol && l.host == p.host && l.result == LoginResult::Ok
                })
        })
    };
    summary.secure_incoming.retain(logged_in);
    summary.secure_outgoing.retain(logged_in);
    summary.logins_ok = Some(logins.iter().all(|l| l.result == LoginResult::Ok));
    let judged = |incoming: bool| probes.iter().any(|p| p.protocol.is_incoming() == incoming);
    summary.ok = summary.ok
        && (!judged(true) || !summary.secure_incoming.is_empty())
        && (!judged(false) || !summary.secure_outgoing.is_empty());
    summary.exit_code = if summary.ok { EXIT_OK } else { EXIT_CRITICAL };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::TlsReport;

    fn target(port: u16, security: Security) -> Target {
        Target {
            protocol: Protocol::Imap,
            host: "h".into(),
            port,
            security,
        }
    }

    fn tls_row(status: Status, failure: Option<(Code, Phase)>, tls: bool) -> ProbeReport {
        let mut r = target(993, Security::Tls).blank_report();
        r.status = status;
        r.failure = failure.map(|(code, phase)| Failure {
            code,
            phase,
            message: "m".into(),
        });
        r.tls = tls.then_some(TlsReport {
            via_starttls: false,
            version: None,
            cipher_suite: None,
            sni: None,
            certificate: None,
            injected_bytes_discarded: 0,
        });
        r
    }

    fn inferred(basis: &ProbeReport) -> (Status, Option<Code>) {
        let r = infer_plain(&target(993, Security::Plain), Some(basis));
        assert!(r.inferred);
        (r.status, r.failure.map(|f| f.code))
    }

    #[test]
    fn plain_is_inferred_to_fail_where_tls_works() {
        let ok = tls_row(Status::Ok, None, true);
        assert_eq!(
            inferred(&ok),
            (Status::Failed, Some(Code::ExpectsImplicitTls))
        );
        let bad_cert = tls_row(Status::Failed, Some((Code::CertExpired, Phase::Tls)), true);
        assert_eq!(inferred(&bad_cert).1, Some(Code::ExpectsImplicitTls));
        let alert = tls_row(Status::Failed, Some((Code::TlsAlert, Phase::Tls)), false);
        assert_eq!(inferred(&alert).1, Some(Code::ExpectsImplicitTls));
    }

    #[test]
    fn plain_is_inferred_to_work_where_the_port_spoke_plaintext() {
        let r = tls_row(
            Status::Failed,
            Some((Code::TlsGotPlaintext, Phase::Tls)),
            false,
        );
        assert_eq!(inferred(&r), (Status::Ok, None));
    }

    #[test]
    fn nothing_is_claimed_without_evidence() {
        let reset = tls_row(
            Status::Failed,
            Some((Code::ConnectionReset, Phase::Tls)),
            false,
        );
        assert_eq!(
            inferred(&reset),
            (Status::Failed, Some(Code::ConnectionReset))
        );
        let refused = tls_row(
            Status::Failed,
            Some((Code::ConnectRefused, Phase::Connect)),
            false,
        );
        assert_eq!(inferred(&refused).1, Some(Code::ConnectRefused));
        let silent = tls_row(Status::Failed, Some((Code::TlsTimeout, Phase::Tls)), false);
        assert_eq!(inferred(&silent).1, Some(Code::NoGreeting));
        let cut = tls_row(
            Status::Cancelled,
            Some((Code::Cancelled, Phase::Tls)),
            false,
        );
        assert_eq!(inferred(&cut), (Status::Cancelled, Some(Code::Cancelled)));
    }

    #[test]
    fn the_exit_code_needs_a_secure_combination_per_probed_direction() {
        let mut imap = tls_row(Status::Ok, None, true);
        let mut smtp = tls_row(Status::Ok, None, true);
        smtp.protocol = Protocol::Smtp;
        assert_eq!(
            summarise(&[imap.clone(), smtp.clone()], false, false).exit_code,
            EXIT_OK
        );
        assert_eq!(
            summarise(&[imap.clone()], false, false).exit_code,
            EXIT_OK,
            "SMTP not probed"
        );
        smtp.status = Status::Failed;
        assert_eq!(
            summarise(&[imap.clone(), smtp.clone()], false, false).exit_code,
            EXIT_CRITICAL
        );
        // Plain never counts as secure, however well it works.
        imap.security = Security::Plain;
        smtp.status = Status::Ok;
        assert_eq!(
            summarise(&[imap, smtp], false, false).exit_code,
            EXIT_CRITICAL
        );
    }

    #[test]
    fn retired_host_names_are_pointed_out() {
        let hosts = Hosts {
            pop3: Some("pop3.live.com".into()),
            imap: Some("imap.example.com".into()),
            smtp: Some("smtp-mail.outlook.com".into()),
        };
        let notes = retired_notes(&hosts);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].starts_with("pop3.live.com is a retired POP3 name for Outlook.com"),
            "{}",
            notes[0]
        );
        assert!(
            notes[0].contains("outlook.office365.com:995 SSL/TLS"),
            "{}",
            notes[0]
        );
    }

    #[test]
    fn the_default_matrix_infers_only_after_its_tls_row() {
        for (i, (c, inferred)) in DEFAULT_MATRIX.iter().enumerate() {
            if *inferred {
                assert_eq!(c.security, Security::Plain);
                let prev = DEFAULT_MATRIX[i - 1].0;
                assert_eq!(
                    (prev.protocol, prev.port, prev.security),
                    (c.protocol, c.port, Security::Tls)
                );
            }
        }
    }
}
