//! The rules: each turns one kind of observation in a [`Run`] into findings
//! with a stable code (docs/findings.md lists every code, when it fires and the
//! test that pins it).
//!
//! Rules are grouped by what they read: the security mode and the session
//! (`mode`), the network (`network`), the certificates (`certs`), and
//! discovery, logins and relay tests (`account`). [`findings`] runs them all,
//! merges what they said into one finding per code and host, adds a finding for
//! every failed combination no rule explained, and sorts the result.

mod account;
mod certs;
mod mode;
mod network;

use std::collections::BTreeMap;

use super::Options;
use crate::model::Endpoint;
use crate::report::Finding;
use crate::report::Severity;
use crate::report::{ProbeReport, Run, Status};

/// Every finding for `report`: sorted by severity (critical first), then code,
/// then host; one finding per code and host, listing every combination involved.
#[must_use]
pub fn findings(report: &Run, opts: &Options) -> Vec<Finding> {
    let mut raw = Vec::new();
    mode::check(report, &mut raw);
    network::check(report, &mut raw);
    certs::check(report, opts, &mut raw);
    account::check(report, &mut raw);
    unexplained(report, &mut raw);
    merge(raw)
}

impl Finding {
    /// A finding without combinations or evidence yet.
    pub(crate) fn new(
        code: &str,
        severity: Severity,
        host: Option<&str>,
        cause: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Finding {
            code: code.to_owned(),
            severity,
            cause: cause.into(),
            fix: fix.into(),
            combinations: Vec::new(),
            evidence: Vec::new(),
            host: host.map(str::to_owned),
        }
    }

    /// Adds `p` to the combinations.
    pub(crate) fn with(mut self, p: &ProbeReport) -> Self {
        self.combinations.push(p.endpoint());
        self
    }

    /// Adds every probe in `ps` to the combinations.
    pub(crate) fn with_all<'a>(mut self, ps: impl IntoIterator<Item = &'a ProbeReport>) -> Self {
        self.combinations
            .extend(ps.into_iter().map(ProbeReport::endpoint));
        self
    }

    /// Adds a line of evidence.
    pub(crate) fn because(mut self, evidence: impl Into<String>) -> Self {
        self.evidence.push(evidence.into());
        self
    }
}

/// Whether the combination was tried and worked (possibly with a warning).
pub(crate) fn works(p: &ProbeReport) -> bool {
    !p.inferred && matches!(p.status, Status::Ok | Status::Warning)
}

/// The probes of `report` grouped by host, hosts in first-seen order; inferred
/// rows are kept (some rules read them).
pub(crate) fn by_host(report: &Run) -> Vec<(&str, Vec<&ProbeReport>)> {
    let mut hosts: Vec<(&str, Vec<&ProbeReport>)> = Vec::new();
    for p in &report.probes {
        match hosts.iter_mut().find(|(h, _)| *h == p.host) {
            Some((_, ps)) => ps.push(p),
            None => hosts.push((p.host.as_str(), vec![p])),
        }
    }
    hosts
}

/// "port 587", "ports 587 and 25", "ports 993, 995 and 465" (each port once).
pub(crate) fn ports(list: &[u16]) -> String {
    let mut seen: Vec<u16> = Vec::new();
    for p in list {
        if !seen.contains(p) {
            seen.push(*p);
        }
    }
    let words: Vec<String> = seen.iter().map(u16::to_string).collect();
    match words.as_slice() {
        [one] => format!("port {one}"),
        _ => format!("ports {}", and_list(&words)),
    }
}

/// "a", "a and b", "a, b and c".
pub(crate) fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// A finding for every failed combination that no rule listed: nothing a probe
/// saw goes unsaid. Cancelled combinations are left to `run_cut_short`.
fn unexplained(report: &Run, raw: &mut Vec<Finding>) {
    let explained: Vec<Endpoint> = raw.iter().flat_map(|f| f.combinations.clone()).collect();
    for (host, ps) in by_host(report) {
        let open: Vec<&ProbeReport> = ps
            .into_iter()
            .filter(|p| p.status == Status::Failed && !p.inferred)
            .filter(|p| !explained.contains(&p.endpoint()))
            .collect();
        if open.is_empty() {
            continue;
        }
        let mut f = Finding::new(
            "combination_failed",
            Severity::Warning,
            Some(host),
            format!(
                "{} on {host} failed for a reason no other finding covers",
                ports(&open.iter().map(|p| p.port).collect::<Vec<_>>())
            ),
            "Read the evidence: each line gives the failure code (docs/failure-codes.md) and the server's words.",
        )
        .with_all(open.iter().copied());
        for p in &open {
            if let Some(fail) = &p.failure {
                f = f.because(format!("{}: {}: {}", p.endpoint(), fail.code, fail.message));
            }
        }
        raw.push(f);
    }
}

/// One finding per code and host: combinations and evidence are joined (each
/// once), the highest severity wins, and the first cause and fix stand. Login
/// findings stay one per protocol: each login has its own cause and fix.
fn merge(raw: Vec<Finding>) -> Vec<Finding> {
    type Key = (String, Option<String>, String);
    let mut merged: BTreeMap<Key, Finding> = BTreeMap::new();
    for f in raw {
        let per_login = if f.code.starts_with("login_") {
            f.cause.clone()
        } else {
            String::new()
        };
        let key = (f.code.clone(), f.host.clone(), per_login);
        match merged.get_mut(&key) {
            None => {
                merged.insert(key, dedup(f));
            }
            Some(m) => {
                m.severity = m.severity.max(f.severity);
                m.combinations.extend(f.combinations);
                m.evidence.extend(f.evidence);
                let joined = std::mem::replace(m, Finding::new("", Severity::Ok, None, "", ""));
                *m = dedup(joined);
            }
        }
    }
    let mut out: Vec<Finding> = merged.into_values().collect();
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.code.cmp(&b.code))
            .then_with(|| a.host.cmp(&b.host))
    });
    out
}

/// Drops repeated combinations and evidence, keeping the first of each.
fn dedup(mut f: Finding) -> Finding {
    let mut seen = Vec::new();
    f.combinations.retain(|c| {
        let new = !seen.contains(c);
        seen.push(c.clone());
        new
    });
    let mut seen = Vec::new();
    f.evidence.retain(|e| {
        let new = !seen.contains(e);
        seen.push(e.clone());
        new
    });
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::testing::{failed, ok, report};
    use crate::model::Code;
    use crate::model::Phase;

    #[test]
    fn findings_are_sorted_critical_first_then_by_code() {
        let mut expiring = ok("imap:993:tls");
        expiring
            .tls
            .as_mut()
            .unwrap()
            .certificate
            .as_mut()
            .unwrap()
            .certificates[0]
            .days_left = 3;
        let r = report(vec![expiring, ok("imap:143:plain")]);
        let codes: Vec<(Severity, String)> = findings(&r, &Options::default())
            .into_iter()
            .map(|f| (f.severity, f.code))
            .collect();
        let mut sorted = codes.clone();
        sorted.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        assert_eq!(codes, sorted);
        assert_eq!(codes[0], (Severity::Critical, "cert_expiring".to_owned()));
    }

    #[test]
    fn one_finding_per_code_and_host_lists_every_combination() {
        let r = report(vec![
            failed("smtp:587:tls", Code::TlsGotPlaintext, Phase::Tls),
            failed("smtp:25:tls", Code::TlsGotPlaintext, Phase::Tls),
            failed(
                "smtp:25:tls@other.example.com",
                Code::TlsGotPlaintext,
                Phase::Tls,
            ),
        ]);
        let found: Vec<Finding> = findings(&r, &Options::default())
            .into_iter()
            .filter(|f| f.code == "wrong_mode_plaintext_port")
            .collect();
        assert_eq!(found.len(), 2, "{found:#?}");
        assert_eq!(
            crate::diagnose::testing::labels(&found[0].combinations),
            [
                "smtp:587:tls@mail.example.com",
                "smtp:25:tls@mail.example.com"
            ]
        );
        assert!(
            found[0].cause.contains("ports 587 and 25"),
            "{}",
            found[0].cause
        );
    }

    #[test]
    fn merge_keeps_the_highest_severity_and_each_evidence_once() {
        let a = Finding::new("x", Severity::Warning, Some("h"), "c", "f").because("e");
        let b = Finding::new("x", Severity::Critical, Some("h"), "c2", "f2").because("e");
        let m = merge(vec![a, b]);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].severity, Severity::Critical);
        assert_eq!(m[0].evidence, ["e"]);
        assert_eq!(m[0].cause, "c");
    }

    #[test]
    fn a_failure_no_rule_explains_still_becomes_a_finding() {
        let r = report(vec![failed(
            "imap:993:tls",
            Code::ConnectionReset,
            Phase::Greeting,
        )]);
        let f = findings(&r, &Options::default());
        let other = f.iter().find(|f| f.code == "combination_failed").unwrap();
        assert_eq!(
            crate::diagnose::testing::labels(&other.combinations),
            ["imap:993:tls@mail.example.com"]
        );
        assert!(other.evidence[0].contains("connection_reset"));
    }

    #[test]
    fn port_lists_read_naturally() {
        assert_eq!(ports(&[587]), "port 587");
        assert_eq!(ports(&[587, 25, 587]), "ports 587 and 25");
        assert_eq!(ports(&[993, 995, 465]), "ports 993, 995 and 465");
    }
}
