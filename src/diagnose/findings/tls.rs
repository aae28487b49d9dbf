//! TLS and certificate causes: expiry, names, trust (RFC 5280, RFC 9525), a
//! server that aborts every handshake, STARTTLS that is missing, refused or
//! tampered with (RFC 3207, CVE-2011-0411 class), TLS older than 1.2 (RFC 8996),
//! and a direction that only works without encryption (RFC 8314 §3).
//!
//! One certificate is one finding: the same self-signed certificate on three
//! hosts is said once, listing the hosts.

use super::{
    Facts, and_list, failure_text, hosts_of, implicit_port, ports, setting, some_of, works,
};
use crate::diagnose::Options;
use crate::model::{Code, Phase, Security};
use crate::report::{Category, ChainReport, Finding, ProbeReport, Severity, Verdict};

pub(super) fn check(facts: &Facts<'_>, opts: &Options, out: &mut Vec<Finding>) {
    let mut found = Vec::new();
    certificates(facts, opts, &mut found);
    fold_into_interception(found, out);
    certificate_differs(facts, out);
    handshake_refused(facts, out);
    starttls(facts, out);
    out.extend(injection(facts));
    out.extend(old_tls(facts));
    only_unencrypted(facts, out);
}

fn chain(p: &ProbeReport) -> Option<&ChainReport> {
    p.tls
        .as_ref()?
        .certificate
        .as_ref()
        .filter(|c| !c.certificates.is_empty())
}

/// One certificate problem: code, cause (with `{hosts}` to fill in), fix, and
/// a severity when the problem sets its own (expiry thresholds).
type Problem = (&'static str, String, String, Option<Severity>);

/// The certificate problems of one chain presented for `host`.
fn problems(c: &ChainReport, host: &str, opts: &Options) -> Vec<Problem> {
    let mut found: Vec<Problem> = Vec::new();
    found.extend(expiry(c, opts));
    let leaf = &c.certificates[0];
    if !c.host_name_matches || c.verdict == Verdict::NameMismatch {
        let names = if leaf.subject_alt_names.is_empty() {
            "no name at all".to_owned()
        } else {
            some_of(&leaf.subject_alt_names, 5)
        };
        found.push((
            "cert_name_mismatch",
            format!("The certificate presented by {{hosts}} is for {names}, not for {host}, so clients refuse it"),
            "In the client, use a server name the certificate names (often the provider's own name rather than your domain's); \
             server: put this name in the certificate."
                .to_owned(),
            None,
        ));
    }
    found.extend(trust(c.verdict));
    found
}

fn expiry(c: &ChainReport, opts: &Options) -> Option<Problem> {
    let soonest = c.certificates.iter().min_by_key(|i| i.days_left)?;
    if c.verdict == Verdict::Expired || soonest.days_left < 0 {
        return Some((
            "cert_expired",
            format!(
                "The certificate of {{hosts}} expired on {}, so clients refuse to connect",
                date(&soonest.not_after)
            ),
            "Server: install a renewed certificate. If it expired only just, check this computer's date and time.".to_owned(),
            None,
        ));
    }
    if soonest.days_left > opts.warn_days {
        return None;
    }
    let severity = if soonest.days_left <= opts.crit_days {
        Severity::Critical
    } else {
        Severity::Warning
    };
    Some((
        "cert_expiring",
        format!(
            "The certificate of {{hosts}} expires in {} days ({})",
            soonest.days_left,
            date(&soonest.not_after)
        ),
        "Server: renew the certificate now, and check that automatic renewal runs.".to_owned(),
        Some(severity),
    ))
}

fn trust(verdict: Verdict) -> Option<Problem> {
    let (code, cause, fix) = match verdict {
        Verdict::SelfSigned => (
            "cert_untrusted",
            "The certificate of {hosts} is self-signed, so no client trusts it",
            "Server: use a certificate from a public authority (Let's Encrypt is free). Your own private CA: give it to mailcheck with --ca-file.",
        ),
        Verdict::Untrusted => (
            "cert_untrusted",
            "The certificate of {hosts} comes from an authority this computer does not trust",
            "Server: use a certificate from a public authority. A private CA: --ca-file. If the server uses a public one, something on this side intercepts the connection.",
        ),
        Verdict::IncompleteChain => (
            "cert_untrusted",
            "{hosts} sends its certificate without the intermediate certificate, so clients cannot check it",
            "Server: configure the full chain (the certificate followed by the intermediate certificates).",
        ),
        Verdict::Invalid => (
            "cert_untrusted",
            "The certificate of {hosts} is rejected (bad signature, encoding or usage)",
            "Server: replace the certificate; the evidence names what was rejected.",
        ),
        Verdict::ChainTooLong => (
            "cert_untrusted",
            "{hosts} sends a certificate chain too long for any client to check (too many intermediate certificates)",
            "Server: send only the certificate and the intermediate certificates of its authority (usually one or two).",
        ),
        Verdict::NotYetValid => (
            "cert_not_yet_valid",
            "The certificate of {hosts} is not valid yet",
            "Check this computer's date and time; server: the certificate was installed too early.",
        ),
        Verdict::Trusted | Verdict::Expired | Verdict::NameMismatch => return None,
    };
    Some((code, cause.to_owned(), fix.to_owned(), None))
}

/// An untrusted certificate where security software was found re-signing the
/// connection is that software's doing: said under its finding, not again.
fn fold_into_interception(found: Vec<Finding>, out: &mut Vec<Finding>) {
    for f in found {
        let cause = out.iter_mut().find(|i| {
            i.code == "tls_interception"
                && i.severity == Severity::Critical
                && matches!(f.code.as_str(), "cert_untrusted" | "cert_name_mismatch")
                && f.affects
                    .combinations
                    .iter()
                    .all(|c| i.affects.combinations.contains(c))
        });
        match cause {
            Some(i) => i
                .evidence
                .push(format!("so clients refuse it: {}", f.cause.to_lowercase())),
            None => out.push(f),
        }
    }
}

/// "2026-01-01" from an RFC 3339 time.
fn date(rfc3339: &str) -> &str {
    rfc3339.get(..10).unwrap_or(rfc3339)
}

/// The combinations showing one certificate problem on one certificate.
struct CertGroup<'a> {
    /// "code fingerprint".
    key: String,
    probes: Vec<&'a ProbeReport>,
    problem: Problem,
    evidence: String,
}

/// One finding per certificate problem and certificate (leaf fingerprint).
fn certificates(facts: &Facts<'_>, opts: &Options, out: &mut Vec<Finding>) {
    let mut groups: Vec<CertGroup<'_>> = Vec::new();
    for p in &facts.tried {
        let Some(c) = chain(p) else { continue };
        let fingerprint = &c.certificates[0].sha256;
        for problem in problems(c, &p.host, opts) {
            let key = format!("{} {fingerprint}", problem.0);
            if let Some(g) = groups.iter_mut().find(|g| g.key == key) {
                g.probes.push(p);
            } else {
                let evidence = evidence(problem.0, c);
                groups.push(CertGroup {
                    key,
                    probes: vec![p],
                    problem,
                    evidence,
                });
            }
        }
    }
    for g in groups {
        let (code, cause, fix, severity) = g.problem;
        let severity = severity.unwrap_or_else(|| facts.tls_impact(&g.probes));
        let cause = cause.replace("{hosts}", &hosts_of(&g.probes));
        out.push(
            Finding::new(code, severity, Category::Tls, cause, fix)
                .on_all(g.probes.iter().copied())
                .because(g.evidence),
        );
    }
}

fn evidence(code: &str, c: &ChainReport) -> String {
    let leaf = &c.certificates[0];
    match code {
        "cert_expired" | "cert_expiring" => {
            let soonest = c
                .certificates
                .iter()
                .min_by_key(|i| i.days_left)
                .unwrap_or(leaf);
            format!(
                "{}: not after {} ({} days)",
                soonest.subject, soonest.not_after, soonest.days_left
            )
        }
        "cert_name_mismatch" => format!(
            "names in the certificate: {}",
            some_of(&leaf.subject_alt_names, 20)
        ),
        _ => c
            .verifier_error
            .clone()
            .unwrap_or_else(|| format!("issuer: {}", leaf.issuer)),
    }
}

/// A different leaf on the implicit-TLS and the STARTTLS port of one service.
fn certificate_differs(facts: &Facts<'_>, out: &mut Vec<Finding>) {
    use crate::model::Protocol;
    const PAIRS: &[(Protocol, u16, u16)] = &[
        (Protocol::Imap, 993, 143),
        (Protocol::Pop3, 995, 110),
        (Protocol::Smtp, 465, 587),
    ];
    for host in facts.hosts() {
        let on = facts.on_host(host);
        for (protocol, a, b) in PAIRS {
            let leaf = |port: u16| {
                on.iter()
                    .find(|p| p.protocol == *protocol && p.port == port)
                    .and_then(|p| Some((*p, chain(p)?.certificates[0].sha256.clone())))
            };
            let (Some((pa, sa)), Some((pb, sb))) = (leaf(*a), leaf(*b)) else {
                continue;
            };
            if sa == sb {
                continue;
            }
            out.push(
                Finding::new(
                    "certificate_differs",
                    Severity::Warning,
                    Category::Tls,
                    format!("{host} shows a different certificate on port {a} than on port {b}"),
                    "Server: install the same certificate on both ports; if the server has only one, suspect something on the path.",
                )
                .on(pa)
                .on(pb)
                .because(format!("{a}: {sa}"))
                .because(format!("{b}: {sb}")),
            );
        }
    }
}

/// TLS handshakes the server aborts (an alert, a broken handshake), per host:
/// when every TLS attempt on the host fails so, nothing encrypted is possible.
fn handshake_refused(facts: &Facts<'_>, out: &mut Vec<Finding>) {
    let aborted = |p: &&ProbeReport| {
        p.failure.as_ref().is_some_and(|f| {
            f.phase == Phase::Tls
                && matches!(
                    f.code,
                    Code::TlsAlert
                        | Code::TlsHandshakeFailed
                        | Code::ConnectionReset
                        | Code::ConnectionClosed
                )
        })
    };
    for host in facts.hosts() {
        let on = facts.on_host(host);
        let hit: Vec<&ProbeReport> = on.iter().copied().filter(aborted).collect();
        if !hit.is_empty() {
            out.push(refused_on(facts, host, &on, &hit));
        }
    }
}

fn refused_on(facts: &Facts<'_>, host: &str, on: &[&ProbeReport], hit: &[&ProbeReport]) -> Finding {
    let tls_works: Vec<u16> = on
        .iter()
        .filter(|p| p.security.is_secure() && works(p))
        .map(|p| p.port)
        .collect();
    let list = ports(&hit.iter().map(|p| p.port).collect::<Vec<_>>());
    let (cause, fix) = if tls_works.is_empty() {
        (
            format!("{host} aborts every TLS handshake ({list}): no encrypted connection to it is possible"),
            "Tell the provider: the server's TLS is broken (no certificate configured, or no TLS version or cipher in common). \
             Do not switch the client to \"None\": the password would travel in clear."
                .to_owned(),
        )
    } else {
        (
            format!(
                "{host} aborts the TLS handshake on {list}, while {} works",
                ports(&tls_works)
            ),
            format!(
                "Use {} instead; server: fix TLS on {list}.",
                ports(&tls_works)
            ),
        )
    };
    Finding::new(
        "tls_refused",
        facts.tls_impact(hit),
        Category::Tls,
        cause,
        fix,
    )
    .failures(hit, 3)
}

/// STARTTLS not offered or refused (an inspecting firewall is said by the
/// local rules instead).
fn starttls(facts: &Facts<'_>, out: &mut Vec<Finding>) {
    for (code, failure) in [
        ("starttls_not_offered", Code::StartTlsNotAdvertised),
        ("starttls_refused", Code::StartTlsRefused),
    ] {
        let hit: Vec<&ProbeReport> = facts
            .failed_with(&[failure])
            .into_iter()
            .filter(|p| !super::local::inspected(p))
            .collect();
        for (host, on, list) in facts.per_host(&hit) {
            let implicit_ok: Vec<String> = on
                .iter()
                .filter_map(|p| {
                    let port = implicit_port(p.protocol);
                    facts
                        .on_host(host)
                        .into_iter()
                        .find(|o| o.protocol == p.protocol && o.port == port && works(o))
                        .map(setting)
                })
                .collect();
            let what = if failure == Code::StartTlsRefused {
                "advertises STARTTLS but refuses it"
            } else {
                "does not offer STARTTLS"
            };
            let fix = if implicit_ok.is_empty() {
                format!(
                    "Server: enable STARTTLS on {list} (or SSL/TLS on the implicit port); until then there is no encrypted way in."
                )
            } else {
                format!(
                    "Use {} instead; server: enable STARTTLS on {list}.",
                    and_list(&implicit_ok)
                )
            };
            out.push(
                Finding::new(
                    code,
                    facts.tls_impact(&on),
                    Category::Tls,
                    format!("{host} {what} on {list}"),
                    fix,
                )
                .failures(&on, 2),
            );
        }
    }
}

/// Bytes after the STARTTLS reply and before the handshake (CVE-2011-0411 class).
fn injection(facts: &Facts<'_>) -> Option<Finding> {
    let hit: Vec<&ProbeReport> = facts.tried_where(ProbeReport::starttls_injected);
    let first = hit.first()?;
    let mut f = Finding::new(
        "starttls_injection",
        Severity::Critical,
        Category::Tls,
        format!(
            "{} sent data between STARTTLS and the TLS handshake on {}, which lets an attacker inject commands",
            hosts_of(&hit),
            ports(&hit.iter().map(|p| p.port).collect::<Vec<_>>())
        ),
        "Server: upgrade the mail software (CVE-2011-0411 class); check for a middlebox on the path. Prefer SSL/TLS on the implicit port.",
    )
    .on_all(hit.iter().copied());
    if let Some(w) = first
        .failure
        .iter()
        .chain(&first.warnings)
        .find(|w| w.code == Code::StartTlsInjection)
    {
        f = f.because(w.message.clone());
    }
    Some(f)
}

/// Only TLS older than 1.2 (RFC 8996).
fn old_tls(facts: &Facts<'_>) -> Option<Finding> {
    let hit: Vec<&ProbeReport> = facts.tried_where(|p| {
        p.failure
            .as_ref()
            .is_some_and(|f| f.code == Code::TlsVersionTooOld)
            || p.tls
                .as_ref()
                .and_then(|t| t.version.as_deref())
                .is_some_and(|v| matches!(v, "TLSv1.0" | "TLSv1.1" | "SSLv3"))
    });
    let first = hit.first()?;
    let refused = hit.iter().any(|p| p.failure.is_some());
    let severity = if refused {
        facts.tls_impact(&hit)
    } else {
        Severity::Warning
    };
    let evidence = first
        .tls
        .as_ref()
        .and_then(|t| t.version.clone())
        .unwrap_or_else(|| failure_text(first));
    Some(
        Finding::new(
            "tls_version_old",
            severity,
            Category::Tls,
            format!(
                "{} only speaks TLS older than 1.2 on {}, which current clients refuse",
                hosts_of(&hit),
                ports(&hit.iter().map(|p| p.port).collect::<Vec<_>>())
            ),
            "Server: enable TLS 1.2 and 1.3 (RFC 8996 retires TLS 1.0 and 1.1); an old client can't be helped safely.",
        )
        .on_all(hit.iter().copied())
        .because(evidence),
    )
}

/// A direction where nothing encrypted works but a plaintext combination does.
fn only_unencrypted(facts: &Facts<'_>, out: &mut Vec<Finding>) {
    for (incoming, what) in [(true, "reading mail"), (false, "sending mail")] {
        if facts.direction_works(incoming) {
            continue;
        }
        let plain: Vec<&ProbeReport> = facts
            .tried
            .iter()
            .copied()
            .filter(|p| {
                p.protocol.is_incoming() == incoming && p.security == Security::Plain && works(p)
            })
            .filter(|p| incoming || p.port != 25)
            .collect();
        if plain.is_empty() {
            continue;
        }
        let names: Vec<String> = plain
            .iter()
            .map(|p| format!("{} on {}", setting(p), p.host))
            .collect();
        out.push(
            Finding::new(
                "only_unencrypted",
                Severity::Critical,
                Category::Tls,
                format!(
                    "For {what}, only an unencrypted connection works ({}): your password and mail would then be readable by anyone on the path",
                    and_list(&names)
                ),
                "Do not use it. Ask the provider to enable SSL/TLS (993, 995, 465) or STARTTLS; until then there is no safe setting.",
            )
            .on_all(plain.iter().copied()),
        );
    }
}
