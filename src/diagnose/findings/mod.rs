//! The findings: from what a run observed to causes a help desk can read out.
//!
//! One cause, one finding: each rule looks at the whole run, finds a cause once
//! and lists everything it affects (hosts, combinations, protocols, address
//! families). Consequences fold into their cause: a password not sent because no
//! certificate verified is said under that certificate's finding. Every failure
//! code has a rule that names its cause (a test walks every [`Code`]); there is
//! no catch-all.
//!
//! Findings come out root cause first ([`Category`] order: this computer and its
//! network, the server's reachability, TLS, the login, advice), then by severity.
//! Severity follows the impact on the person: a port they do not need, or a
//! service the domain says it does not offer, is not a problem.
//!
//! The rules live in `local`, `server`, `tls`, `login` and `advice`;
//! docs/findings.md lists every code with its cause, fix and test.

mod advice;
mod local;
mod login;
mod server;
pub mod software;
mod tls;

use std::cmp::Reverse;

use super::Options;
use crate::model::{Code, Endpoint, Protocol};
use crate::report::{Affects, Category, Finding, ProbeReport, Run, Severity, Status};

/// Every finding code, with where its cause lies; docs/findings.md documents
/// each (a test checks both ways). `provider_note_<key>` stands for one code per
/// provider note key.
pub const CODES: &[(&str, Category)] = &[
    ("dns_not_answering", Category::Local),
    ("dns_everything_fails", Category::Local),
    ("port_blocked", Category::Local),
    ("no_route", Category::Local),
    ("tls_interception", Category::Local),
    ("smtp_inspection", Category::Local),
    ("address_blocklisted", Category::Local),
    ("connection_changed", Category::Local),
    ("host_not_found", Category::Server),
    ("host_no_address", Category::Server),
    ("host_no_ipv6", Category::Server),
    ("host_no_ipv4", Category::Server),
    ("domain_dns_failing", Category::Server),
    ("domain_dns_silent", Category::Server),
    ("no_server_found", Category::Server),
    ("server_down", Category::Server),
    ("port_closed", Category::Server),
    ("wrong_service", Category::Server),
    ("service_unavailable", Category::Server),
    ("service_refused", Category::Server),
    ("server_silent", Category::Server),
    ("connection_dropped", Category::Server),
    ("server_stalls", Category::Server),
    ("server_floods", Category::Server),
    ("server_sends_garbage", Category::Server),
    ("protocol_error", Category::Server),
    ("slow_greeting", Category::Server),
    ("ipv6_broken", Category::Server),
    ("cert_expired", Category::Tls),
    ("cert_expiring", Category::Tls),
    ("cert_name_mismatch", Category::Tls),
    ("cert_untrusted", Category::Tls),
    ("cert_not_yet_valid", Category::Tls),
    ("certificate_differs", Category::Tls),
    ("tls_refused", Category::Tls),
    ("starttls_not_offered", Category::Tls),
    ("starttls_refused", Category::Tls),
    ("starttls_injection", Category::Tls),
    ("tls_version_old", Category::Tls),
    ("only_unencrypted", Category::Tls),
    ("login_failed", Category::Login),
    ("login_not_attempted", Category::Login),
    ("login_connection_failed", Category::Login),
    ("login_ok", Category::Login),
    ("secret_exposed", Category::Login),
    ("send_refused", Category::Login),
    ("open_relay", Category::Login),
    ("relay_refused", Category::Login),
    ("password_in_clear", Category::Login),
    ("challenge_login_before_tls", Category::Login),
    ("oauth2_token_unreadable", Category::Login),
    ("wrong_mode_plaintext_port", Category::Advice),
    ("wrong_mode_implicit_port", Category::Advice),
    ("plaintext_no_login", Category::Advice),
    ("service_not_offered", Category::Advice),
    ("sources_disagree", Category::Advice),
    ("http_autoconfig", Category::Advice),
    ("provider_note_<key>", Category::Advice),
    ("retired_host", Category::Advice),
    ("run_cut_short", Category::Advice),
    ("incoming_ok", Category::Advice),
    ("outgoing_ok", Category::Advice),
];

/// Every finding for `run`, root cause first.
#[must_use]
pub fn findings(run: &Run, opts: &Options) -> Vec<Finding> {
    let facts = Facts::new(run);
    let mut out = Vec::new();
    local::check(&facts, &mut out);
    server::check(&facts, &mut out);
    tls::check(&facts, opts, &mut out);
    login::check(&facts, &mut out);
    advice::check(&facts, &mut out);
    for f in &mut out {
        dedup(&mut f.evidence);
        bound(f);
    }
    out.sort_by_key(|f| (f.category, Reverse(f.severity)));
    out
}

impl Finding {
    /// A finding that affects nothing yet.
    pub(crate) fn new(
        code: &str,
        severity: Severity,
        category: Category,
        cause: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        debug_assert!(
            CODES.iter().any(|(c, cat)| {
                *cat == category
                    && (*c == code || (c.ends_with("<key>") && code.starts_with("provider_note_")))
            }),
            "{code} is not in CODES under {category:?}"
        );
        Finding {
            code: code.to_owned(),
            severity,
            category,
            cause: cause.into(),
            fix: fix.into(),
            affects: Affects::default(),
            evidence: Vec::new(),
        }
    }

    /// Adds the combination of `p` (with its host and protocol).
    pub(crate) fn on(mut self, p: &ProbeReport) -> Self {
        self.affects.add(p.endpoint());
        self
    }

    /// Adds every combination of `ps`.
    pub(crate) fn on_all<'a>(mut self, ps: impl IntoIterator<Item = &'a ProbeReport>) -> Self {
        for p in ps {
            self.affects.add(p.endpoint());
        }
        self
    }

    /// Adds every combination of `ps`, and the failures of the first `most` of
    /// them as evidence.
    pub(crate) fn failures(self, ps: &[&ProbeReport], most: usize) -> Self {
        let mut f = self.on_all(ps.iter().copied());
        for p in ps.iter().take(most) {
            f = f.because(failure_text(p));
        }
        f
    }

    /// Adds an endpoint.
    pub(crate) fn at(mut self, endpoint: Endpoint) -> Self {
        self.affects.add(endpoint);
        self
    }

    /// Adds a line of evidence.
    pub(crate) fn because(mut self, evidence: impl Into<String>) -> Self {
        self.evidence.push(evidence.into());
        self
    }

    /// Whether this finding affects `p`'s combination.
    #[cfg(test)]
    pub(crate) fn covers(&self, p: &ProbeReport) -> bool {
        self.affects.combinations.contains(&p.endpoint())
    }
}

/// What every rule needs to know about the run beyond one combination.
pub(crate) struct Facts<'a> {
    /// The run.
    pub run: &'a Run,
    /// The combinations tried (not inferred).
    pub tried: Vec<&'a ProbeReport>,
}

impl<'a> Facts<'a> {
    fn new(run: &'a Run) -> Self {
        Facts {
            run,
            tried: run.probes.iter().filter(|p| !p.inferred).collect(),
        }
    }

    /// Tried combinations that failed with one of `codes`.
    pub fn failed_with(&self, codes: &[Code]) -> Vec<&'a ProbeReport> {
        self.tried_where(|p| p.failure.as_ref().is_some_and(|f| codes.contains(&f.code)))
    }

    /// The tried combinations for which `pred` holds, in run order.
    pub fn tried_where(&self, mut pred: impl FnMut(&ProbeReport) -> bool) -> Vec<&'a ProbeReport> {
        self.tried.iter().copied().filter(|p| pred(p)).collect()
    }

    /// The hosts of the run, in first-seen order.
    pub fn hosts(&self) -> Vec<&'a str> {
        let mut hosts: Vec<&str> = Vec::new();
        for p in &self.run.probes {
            if !hosts.contains(&p.host.as_str()) {
                hosts.push(&p.host);
            }
        }
        hosts
    }

    /// `hit` by host, in the hosts' order, with each host's ports in words;
    /// hosts with none of `hit` are left out.
    pub fn per_host<'h>(
        &self,
        hit: &[&'h ProbeReport],
    ) -> Vec<(&'a str, Vec<&'h ProbeReport>, String)> {
        self.hosts()
            .into_iter()
            .filter_map(|host| {
                let on: Vec<&ProbeReport> =
                    hit.iter().copied().filter(|p| p.host == host).collect();
                let list = ports(&on.iter().map(|p| p.port).collect::<Vec<_>>());
                (!on.is_empty()).then_some((host, on, list))
            })
            .collect()
    }

    /// The tried combinations on `host`.
    pub fn on_host(&self, host: &str) -> Vec<&'a ProbeReport> {
        self.tried_where(|p| p.host == host)
    }

    /// Whether a secure combination of the direction (`incoming`: reading
    /// mail) worked, on any host.
    pub fn direction_works(&self, incoming: bool) -> bool {
        self.tried
            .iter()
            .any(|p| p.protocol.is_incoming() == incoming && p.security.is_secure() && works(p))
    }

    /// As [`Facts::direction_works`], and with a certificate that verified.
    pub fn direction_verified(&self, incoming: bool) -> bool {
        self.tried
            .iter()
            .any(|p| p.protocol.is_incoming() == incoming && p.security.is_secure() && verified(p))
    }

    /// Whether the domain says (SRV target ".") it does not offer this
    /// protocol in this security mode.
    pub fn not_offered(&self, p: &ProbeReport) -> bool {
        self.run.discovery.as_ref().is_some_and(|d| {
            d.not_offered
                .iter()
                .any(|n| n.protocol == p.protocol && n.security == p.security)
        })
    }

    /// How much a failure of these combinations matters to the person: not at
    /// all (info) when each one's direction works securely elsewhere, or the
    /// domain does not offer it; critical otherwise.
    pub fn impact(&self, ps: &[&ProbeReport]) -> Severity {
        let needed = ps
            .iter()
            .any(|p| !self.not_offered(p) && !self.direction_works(p.protocol.is_incoming()));
        if needed {
            Severity::Critical
        } else {
            Severity::Info
        }
    }

    /// As [`Facts::impact`] for a certificate or TLS problem: critical when
    /// no verified combination of the direction is left, a warning otherwise
    /// (whoever uses these ports is affected).
    pub fn tls_impact(&self, ps: &[&ProbeReport]) -> Severity {
        let needed = ps
            .iter()
            .any(|p| !self.not_offered(p) && !self.direction_verified(p.protocol.is_incoming()));
        if needed {
            Severity::Critical
        } else {
            Severity::Warning
        }
    }

    /// Secure combinations that worked on `host`, as "ports 993 and 465".
    pub fn working_ports(&self, host: &str, incoming: Option<bool>) -> Vec<u16> {
        let mut ports: Vec<u16> = self
            .on_host(host)
            .into_iter()
            .filter(|p| works(p) && p.security.is_secure())
            .filter(|p| incoming.is_none_or(|i| p.protocol.is_incoming() == i))
            .map(|p| p.port)
            .collect();
        ports.dedup();
        ports
    }
}

/// Whether the combination was tried and worked (possibly with a warning).
pub(crate) fn works(p: &ProbeReport) -> bool {
    !p.inferred && matches!(p.status, Status::Ok | Status::Warning)
}

/// Whether the combination worked over TLS whose certificate verified.
pub(crate) fn verified(p: &ProbeReport) -> bool {
    works(p)
        && p.tls
            .as_ref()
            .and_then(|t| t.certificate.as_ref())
            .is_some_and(|c| c.trusted)
}

/// The implicit-TLS port of a protocol (RFC 8314 §7.3).
pub(crate) fn implicit_port(protocol: Protocol) -> u16 {
    match protocol {
        Protocol::Pop3 => 995,
        Protocol::Imap => 993,
        Protocol::Smtp => 465,
    }
}

/// "POP3 110 STARTTLS" as a client's settings say it.
pub(crate) fn setting(p: &ProbeReport) -> String {
    format!("{} {} {}", p.protocol, p.port, p.security)
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

/// The distinct hosts of `ps`, as "a", "a and b".
pub(crate) fn hosts_of(ps: &[&ProbeReport]) -> String {
    let mut hosts: Vec<String> = Vec::new();
    for p in ps {
        if !hosts.contains(&p.host) {
            hosts.push(p.host.clone());
        }
    }
    and_list(&hosts)
}

/// The failure's message, or its code.
pub(crate) fn failure_text(p: &ProbeReport) -> String {
    p.failure.as_ref().map_or_else(String::new, |f| {
        format!("{} {}: {}: {}", p.protocol, p.port, f.code, f.message)
    })
}

/// The most of one finding's cause or fix, in characters.
const MAX_TEXT: usize = 600;
/// The most of one line of evidence, in characters.
const MAX_EVIDENCE: usize = 400;
/// The most lines of evidence one finding keeps.
const MAX_EVIDENCE_LINES: usize = 12;

/// Keeps a finding's text bounded, whatever the server sent (a certificate with
/// a thousand names, a reply of 64 KiB): each cut says how much was cut.
fn bound(f: &mut Finding) {
    cap(&mut f.cause, MAX_TEXT);
    cap(&mut f.fix, MAX_TEXT);
    if f.evidence.len() > MAX_EVIDENCE_LINES {
        let more = f.evidence.len() - (MAX_EVIDENCE_LINES - 1);
        f.evidence.truncate(MAX_EVIDENCE_LINES - 1);
        f.evidence
            .push(format!("… and {more} more lines of evidence"));
    }
    for e in &mut f.evidence {
        cap(e, MAX_EVIDENCE);
    }
}

fn cap(text: &mut String, max: usize) {
    let total = text.chars().count();
    if total > max {
        let kept: String = text.chars().take(max).collect();
        *text = format!("{kept}… [{} more characters]", total - max);
    }
}

/// At most `max` items, then "and N more".
pub(crate) fn some_of(items: &[String], max: usize) -> String {
    if items.len() <= max {
        return items.join(", ");
    }
    format!(
        "{}, and {} more",
        items[..max].join(", "),
        items.len() - max
    )
}

fn dedup(items: &mut Vec<String>) {
    let mut seen: Vec<String> = Vec::new();
    items.retain(|e| {
        let new = !seen.contains(e);
        seen.push(e.clone());
        new
    });
}

#[cfg(test)]
mod tests;
