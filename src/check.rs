//! Plans the matrix of combinations and runs them all at once, within the run's
//! deadline and until Ctrl-C, then fills in the rows that are inferred rather
//! than tried and sums up what works.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::future::join_all;

use crate::config::Config;
use crate::model::{Combination, Phase, Protocol, Security};
use crate::net::driver::Limits;
use crate::net::resolve::{Resolution, Resolver};
use crate::net::tls::TlsSetup;
use crate::probe::{self, Env, Target};
use crate::report::{Code, Failure, Inputs, ProbeReport, Report, SCHEMA_VERSION, Status, Summary};

/// Exit code when at least one secure incoming and one secure outgoing combination work.
pub const EXIT_OK: i32 = 0;
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

/// The rows for the configured hosts, in report order.
#[must_use]
pub fn plan(config: &Config) -> Vec<Planned> {
    let rows: Vec<(Combination, bool)> = if config.only.is_empty() {
        DEFAULT_MATRIX.to_vec()
    } else {
        config.only.iter().map(|c| (*c, false)).collect()
    };
    rows.into_iter()
        .filter_map(|(c, inferred)| {
            let host = config.host_for(c.protocol)?;
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

/// Runs the whole check and builds the report.
pub async fn run(config: &Config) -> anyhow::Result<Report> {
    let started_at = now_rfc3339();
    let started = Instant::now();
    let tls = TlsSetup::new(config.ca_file.as_deref())?;
    let resolver = Resolver::new(config.dns_server, config.timeout)?;
    let env = Env {
        tls,
        timeout: config.timeout,
        limits: Limits::default(),
        slow_greeting: slow_greeting_threshold(config.timeout),
    };
    let planned = plan(config);
    let tried: Vec<&Planned> = planned.iter().filter(|p| !p.inferred).collect();
    let mut reports: Vec<ProbeReport> = tried.iter().map(|p| p.target.blank_report()).collect();
    let cut_short = {
        let all = run_all(&env, &resolver, config, &tried, &mut reports);
        let deadline = async {
            match config.deadline {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = all => None,
            () = deadline => Some("deadline".to_owned()),
            _ = tokio::signal::ctrl_c() => Some("interrupted".to_owned()),
        }
    };
    if let Some(why) = &cut_short {
        for r in &mut reports {
            mark_cancelled(r, why);
        }
    }
    let probes = assemble(&planned, reports);
    let summary = summarise(&probes);
    Ok(Report {
        schema_version: SCHEMA_VERSION,
        mailcheck_version: env!("CARGO_PKG_VERSION").to_owned(),
        started_at,
        duration_ms: started.elapsed().as_millis() as u64,
        inputs: inputs(config),
        cut_short,
        probes,
        summary,
    })
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
    reports: &mut [ProbeReport],
) {
    let mut hosts: Vec<&str> = tried.iter().map(|p| p.target.host.as_str()).collect();
    hosts.sort_unstable();
    hosts.dedup();
    let lookups = hosts.iter().map(|h| resolver.resolve(h, config.families));
    let resolved: HashMap<&str, Resolution> =
        hosts.iter().copied().zip(join_all(lookups).await).collect();
    let probes = tried.iter().zip(reports.iter_mut()).map(|(p, report)| {
        let resolution = &resolved[p.target.host.as_str()];
        probe::run(env, &p.target, resolution, report)
    });
    join_all(probes).await;
}

fn mark_cancelled(report: &mut ProbeReport, why: &str) {
    if report.status != Status::Cancelled {
        return;
    }
    let phase = report.phases.last().map_or(Phase::Resolve, |p| p.phase);
    if let Some(open) = report
        .phases
        .last_mut()
        .filter(|p| p.detail.as_deref() == Some("in progress"))
    {
        open.detail = Some(format!("cut short ({why})"));
    }
    report.failure = Some(Failure {
        code: Code::Cancelled,
        phase,
        message: format!("the run ended ({why}) during {phase}, before this combination finished"),
    });
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
    report.status = Status::Failed;
    let from = format!("inferred from the SSL/TLS try on port {}", target.port);
    report.failure = match &tls.failure {
        Some(f) if f.code == Code::TlsGotPlaintext => {
            report.status = Status::Ok;
            report.warnings.push(Failure {
                code: Code::TlsGotPlaintext,
                phase: Phase::Greeting,
                message: format!("{from}: the port answers in plaintext, so a client set to 'None' gets a greeting ({})", f.message),
            });
            None
        }
        Some(f)
            if matches!(f.phase, Phase::Resolve | Phase::Connect) || f.code == Code::Cancelled =>
        {
            Some(Failure {
                code: f.code,
                phase: f.phase,
                message: format!("{from}: {}", f.message),
            })
        }
        Some(f)
            if f.code == Code::TlsHandshakeFailed && f.message.starts_with("no TLS handshake") =>
        {
            Some(Failure {
                code: Code::NoGreeting,
                phase: Phase::Greeting,
                message: format!(
                    "{from}: the server stays silent, so a plaintext client would wait for a greeting that never comes"
                ),
            })
        }
        _ => Some(Failure {
            code: Code::ExpectsImplicitTls,
            phase: Phase::Greeting,
            message: format!(
                "{from}: port {} speaks TLS from the first byte, so a client set to 'None' or STARTTLS waits for a greeting that never comes; choose SSL/TLS",
                target.port
            ),
        }),
    };
    report
}

fn summarise(probes: &[ProbeReport]) -> Summary {
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
    let probed = |incoming: bool| probes.iter().any(|r| r.protocol.is_incoming() == incoming);
    let ok = (!probed(true) || !secure_incoming.is_empty())
        && (!probed(false) || !secure_outgoing.is_empty());
    Summary {
        secure_incoming,
        secure_outgoing,
        ok,
        exit_code: if ok { EXIT_OK } else { EXIT_CRITICAL },
    }
}

fn inputs(config: &Config) -> Inputs {
    Inputs {
        address: config.address.clone(),
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
