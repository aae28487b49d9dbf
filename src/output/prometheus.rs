//! The Prometheus text exposition format (version 0.0.4) of one report: what
//! `mailcheck serve` answers to `GET /probe`. Encoded by the `prometheus` crate's
//! `TextEncoder`; names follow the Prometheus naming conventions (a `mailcheck_`
//! prefix, base units in the name: `_seconds`, `_timestamp_seconds`; `_info`
//! for labels-only series), checked by `promtool check metrics` in the tests.
//!
//! | metric | labels | value |
//! |---|---|---|
//! | `mailcheck_probe_success` | | 1 when the exit code is OK or WARNING |
//! | `mailcheck_probe_exit_code` | | 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN |
//! | `mailcheck_probe_duration_seconds` | | wall time of the run |
//! | `mailcheck_probe_cut_short` | | 1 when the deadline ended the run early |
//! | `mailcheck_probe_result_age_seconds` | | age of the result ([`render_age`]) |
//! | `mailcheck_combination_success` | host, protocol, port, security | 1 when it works |
//! | `mailcheck_combination_duration_seconds` | host, protocol, port, security | time its phases took ([`ProbeReport::took_ms`]) |
//! | `mailcheck_combination_phase_duration_seconds` | … and phase | time of each phase |
//! | `mailcheck_tls_version_info` | … and version | 1 |
//! | `mailcheck_tls_cert_expiry_timestamp_seconds` | host, protocol, port, security | earliest notAfter of the chain presented, Unix time |
//! | `mailcheck_tls_cert_trusted` | host, protocol, port, security | 1 when the chain verified |
//! | `mailcheck_tls_cert_earliest_expiry_timestamp_seconds` | | earliest notAfter of all chains, Unix time |
//! | `mailcheck_login_success` | host, protocol | 1 when the login test succeeded |
//! | `mailcheck_requirement_met` | requirement | 1 when the `require` item holds |
//! | `mailcheck_findings` | severity, code | how many findings of that code |
//!
//! Expiry is a timestamp, as blackbox_exporter's `probe_ssl_earliest_cert_expiry`:
//! it stays right between scrapes, and `… - time()` gives the seconds left
//! (negative once expired).

use std::collections::BTreeMap;
use std::io::{self, Write};

use ::prometheus::{Encoder, Gauge, GaugeVec, Opts, Registry, TextEncoder};

use crate::report::{ChainReport, LoginResult, ProbeReport, Report, Severity, Status};

/// The content type of the text format, for the HTTP answer.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

const COMBINATION: [&str; 4] = ["host", "protocol", "port", "security"];

/// Writes the metrics of `report`; `requirements` are the module's `require`
/// items, as written in the report's `unmet_requirements`.
pub fn render(report: &Report, requirements: &[String], out: &mut dyn Write) -> io::Result<()> {
    let families = gather(report, requirements).map_err(io::Error::other)?;
    let mut text = Vec::new();
    TextEncoder::new()
        .encode(&families, &mut text)
        .map_err(io::Error::other)?;
    out.write_all(&text)
}

/// Writes `mailcheck_probe_result_age_seconds`: how old the result the answer
/// holds is (0 for a probe run for this scrape; the exporter answers some
/// scrapes from a recent login's probe).
pub fn render_age(seconds: f64, out: &mut dyn Write) -> io::Result<()> {
    let r = Registry::new();
    gauge(
        &r,
        "mailcheck_probe_result_age_seconds",
        "How old the result in this answer is: 0 when the probe ran for this scrape; for a module with credentials, scrapes within a minute of the account's last login are answered from that login's probe.",
        seconds,
    )
    .map_err(io::Error::other)?;
    let mut text = Vec::new();
    TextEncoder::new()
        .encode(&r.gather(), &mut text)
        .map_err(io::Error::other)?;
    out.write_all(&text)
}

fn gather(
    report: &Report,
    requirements: &[String],
) -> ::prometheus::Result<Vec<::prometheus::proto::MetricFamily>> {
    let r = Registry::new();
    probe(&r, report)?;
    combinations(&r, &report.run.probes)?;
    certificates(&r, &report.run.probes)?;
    logins(&r, report)?;
    requirements_met(&r, report, requirements)?;
    findings(&r, report)?;
    Ok(r.gather())
}

fn gauge(r: &Registry, name: &str, help: &str, value: f64) -> ::prometheus::Result<()> {
    let g = Gauge::with_opts(Opts::new(name, help))?;
    g.set(value);
    r.register(Box::new(g))
}

fn gauge_vec(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> ::prometheus::Result<GaugeVec> {
    let g = GaugeVec::new(Opts::new(name, help), labels)?;
    r.register(Box::new(g.clone()))?;
    Ok(g)
}

fn set(g: &GaugeVec, labels: &[&str], value: f64) -> ::prometheus::Result<()> {
    g.get_metric_with_label_values(labels)?.set(value);
    Ok(())
}

fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

fn probe(r: &Registry, report: &Report) -> ::prometheus::Result<()> {
    let code = report.summary.exit_code;
    gauge(
        r,
        "mailcheck_probe_success",
        "Whether the target works from here: 1 when the run's exit code is OK or WARNING (each direction asked for has a secure combination that works, logins succeeded, every required item holds), else 0.",
        flag(crate::engine::outcome::works(code)),
    )?;
    gauge(
        r,
        "mailcheck_probe_exit_code",
        "The run's exit code, as a Nagios plugin's: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
        f64::from(code),
    )?;
    gauge(
        r,
        "mailcheck_probe_duration_seconds",
        "Wall time of the whole run: discovery, every combination, logins.",
        report.run.duration_ms as f64 / 1000.0,
    )?;
    gauge(
        r,
        "mailcheck_probe_cut_short",
        "1 when the run's deadline (or the scrape timeout) ended it before every combination finished.",
        flag(report.run.cut_short.is_some()),
    )
}

fn labels(p: &ProbeReport) -> [String; 4] {
    [
        p.host.clone(),
        p.protocol.as_str().to_owned(),
        p.port.to_string(),
        p.security.as_str().to_owned(),
    ]
}

fn combinations(r: &Registry, probes: &[ProbeReport]) -> ::prometheus::Result<()> {
    let success = gauge_vec(
        r,
        "mailcheck_combination_success",
        "Whether this combination works (1) or not (0); rows the matrix infers without connecting are included.",
        &COMBINATION,
    )?;
    let duration = gauge_vec(
        r,
        "mailcheck_combination_duration_seconds",
        "Time this combination took, in seconds: the sum of its phases (resolve to quit); waiting for its turn under the per-server cap is not counted.",
        &COMBINATION,
    )?;
    let phases = gauge_vec(
        r,
        "mailcheck_combination_phase_duration_seconds",
        "Time of each phase of a combination (resolve, connect, tls, greeting, capabilities, starttls, ...).",
        &["host", "protocol", "port", "security", "phase"],
    )?;
    let version = gauge_vec(
        r,
        "mailcheck_tls_version_info",
        "The TLS version a combination negotiated, as a label; always 1.",
        &["host", "protocol", "port", "security", "version"],
    )?;
    for p in probes {
        let l = labels(p);
        let l: Vec<&str> = l.iter().map(String::as_str).collect();
        set(
            &success,
            &l,
            flag(matches!(p.status, Status::Ok | Status::Warning)),
        )?;
        if p.inferred {
            continue;
        }
        set(&duration, &l, p.took_ms() as f64 / 1000.0)?;
        for ph in &p.phases {
            let with_phase = [l.as_slice(), &[ph.phase.as_str()]].concat();
            set(&phases, &with_phase, ph.duration_ms as f64 / 1000.0)?;
        }
        if let Some(v) = p.tls.as_ref().and_then(|t| t.version.as_deref()) {
            set(&version, &[l.as_slice(), &[v]].concat(), 1.0)?;
        }
    }
    Ok(())
}

/// The earliest notAfter of a chain, as a Unix time.
fn expiry(chain: &ChainReport) -> Option<i64> {
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    chain
        .certificates
        .iter()
        .filter_map(|c| time::OffsetDateTime::parse(&c.not_after, rfc3339).ok())
        .map(time::OffsetDateTime::unix_timestamp)
        .min()
}

fn certificates(r: &Registry, probes: &[ProbeReport]) -> ::prometheus::Result<()> {
    let expires = gauge_vec(
        r,
        "mailcheck_tls_cert_expiry_timestamp_seconds",
        "The earliest notAfter among the certificates of the chain this combination presented, as a Unix time; minus time() it is the seconds left, negative once expired.",
        &COMBINATION,
    )?;
    let trusted = gauge_vec(
        r,
        "mailcheck_tls_cert_trusted",
        "Whether the chain a combination presented verified (trusted root, name, dates): 1 or 0.",
        &COMBINATION,
    )?;
    let mut earliest: Option<i64> = None;
    for p in probes.iter().filter(|p| !p.inferred) {
        let Some(chain) = p.tls.as_ref().and_then(|t| t.certificate.as_ref()) else {
            continue;
        };
        let l = labels(p);
        let l: Vec<&str> = l.iter().map(String::as_str).collect();
        set(&trusted, &l, flag(chain.trusted))?;
        if let Some(at) = expiry(chain) {
            set(&expires, &l, at as f64)?;
            earliest = Some(earliest.map_or(at, |e| e.min(at)));
        }
    }
    if let Some(at) = earliest {
        gauge(
            r,
            "mailcheck_tls_cert_earliest_expiry_timestamp_seconds",
            "The earliest notAfter among all certificates presented in this run, as a Unix time; minus time() it is the seconds left, negative once expired.",
            at as f64,
        )?;
    }
    Ok(())
}

fn logins(r: &Registry, report: &Report) -> ::prometheus::Result<()> {
    let success = gauge_vec(
        r,
        "mailcheck_login_success",
        "With credentials: whether the login test on this protocol and host succeeded (1) or not (0).",
        &["host", "protocol"],
    )?;
    for l in &report.run.logins {
        let ok = flag(l.result == LoginResult::Ok);
        set(&success, &[&l.host, l.protocol.as_str()], ok)?;
    }
    Ok(())
}

fn requirements_met(
    r: &Registry,
    report: &Report,
    requirements: &[String],
) -> ::prometheus::Result<()> {
    let met = gauge_vec(
        r,
        "mailcheck_requirement_met",
        "Whether each item the module requires (a combination, incoming or outgoing) holds: 1 or 0.",
        &["requirement"],
    )?;
    let unmet = &report.summary.unmet_requirements;
    for req in requirements {
        set(&met, &[req], flag(!unmet.contains(req)))?;
    }
    Ok(())
}

fn findings(r: &Registry, report: &Report) -> ::prometheus::Result<()> {
    let count = gauge_vec(
        r,
        "mailcheck_findings",
        "How many findings of each code this run made, by severity (codes in docs/findings.md).",
        &["severity", "code"],
    )?;
    let mut by: BTreeMap<(&str, &str), u32> = BTreeMap::new();
    for f in &report.findings {
        *by.entry((severity(f.severity), &f.code)).or_default() += 1;
    }
    for ((severity, code), n) in by {
        set(&count, &[severity, code], f64::from(n))?;
    }
    Ok(())
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Ok => "ok",
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::testing::{failed, login, ok, report};
    use crate::engine::outcome::Expectations;
    use crate::model::{Code, Phase};

    fn metrics(run: crate::report::Run, require: &[&str]) -> String {
        let expect = Expectations {
            incoming: true,
            outgoing: true,
            logins: !run.logins.is_empty(),
            require: require
                .iter()
                .map(|r| crate::config::parse_requirement(r).unwrap())
                .collect(),
            not_offered: Vec::new(),
        };
        let report = crate::engine::judge(run, &crate::diagnose::Options::default(), &expect);
        let reqs: Vec<String> = require.iter().map(|s| (*s).to_owned()).collect();
        let mut out = Vec::new();
        render(&report, &reqs, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn a_working_target() {
        // Started 500 ms into the run (a turn under the per-server cap), then
        // 30 ms of connecting and 45 ms of TLS: it took 75 ms.
        let mut imap = ok("imap:993:tls");
        let phase = |phase, start_ms, duration_ms| crate::report::PhaseRecord {
            phase,
            start_ms,
            duration_ms,
            ok: true,
            detail: None,
        };
        imap.phases = vec![phase(Phase::Connect, 500, 30), phase(Phase::Tls, 530, 45)];
        imap.duration_ms = 575;
        let mut run = report(vec![imap, ok("smtp:587:starttls")]);
        run.logins = vec![
            login("imap:993:tls", LoginResult::Ok, &["alice"]),
            login("smtp:587:starttls", LoginResult::Ok, &["alice"]),
        ];
        let m = metrics(run, &["imap:993:tls"]);
        assert_eq!(value(&m, "mailcheck_probe_success"), Some(1.0), "{m}");
        // The encoder sorts labels by name.
        let imap = r#"{host="mail.example.com",port="993",protocol="imap",security="tls"}"#;
        assert_eq!(
            value(&m, &format!("mailcheck_combination_duration_seconds{imap}")),
            Some(0.075),
            "its phases' time, not its end on the run's time line"
        );
        assert_eq!(
            value(&m, &format!("mailcheck_combination_success{imap}")),
            Some(1.0)
        );
        // The test leaf expires 2026-01-01T00:00:00Z.
        let expiry = value(
            &m,
            &format!("mailcheck_tls_cert_expiry_timestamp_seconds{imap}"),
        );
        assert_eq!(expiry, Some(1_767_225_600.0));
        assert_eq!(
            value(&m, "mailcheck_tls_cert_earliest_expiry_timestamp_seconds"),
            Some(1_767_225_600.0)
        );
        let tls13 = r#"{host="mail.example.com",port="993",protocol="imap",security="tls",version="TLSv1.3"}"#;
        assert_eq!(
            value(&m, &format!("mailcheck_tls_version_info{tls13}")),
            Some(1.0)
        );
        let login = r#"mailcheck_login_success{host="mail.example.com",protocol="imap"}"#;
        assert_eq!(value(&m, login), Some(1.0));
        let req = r#"mailcheck_requirement_met{requirement="imap:993:tls"}"#;
        assert_eq!(value(&m, req), Some(1.0));
        assert!(m.contains("# TYPE mailcheck_probe_success gauge"));
    }

    #[test]
    fn a_failing_target() {
        let run = report(vec![
            failed("imap:993:tls", Code::ConnectRefused, Phase::Connect),
            failed("smtp:587:starttls", Code::ConnectRefused, Phase::Connect),
        ]);
        let m = metrics(run, &["smtp:587:starttls"]);
        assert_eq!(value(&m, "mailcheck_probe_success"), Some(0.0), "{m}");
        assert_eq!(value(&m, "mailcheck_probe_exit_code"), Some(2.0));
        let req = r#"mailcheck_requirement_met{requirement="smtp:587:starttls"}"#;
        assert_eq!(value(&m, req), Some(0.0));
        let critical = m
            .lines()
            .find(|l| l.starts_with("mailcheck_findings{") && l.contains("severity=\"critical\"}"));
        assert!(critical.is_some_and(|l| l.ends_with(" 1")), "{m}");
        assert!(
            !m.contains("mailcheck_tls_cert_earliest_expiry_timestamp_seconds"),
            "no certificate, no expiry: {m}"
        );
    }
}
