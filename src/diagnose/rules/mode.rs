//! Rules about the security mode and the session: the wrong mode for a port,
//! plaintext that works, credentials offered before TLS (RFC 8314 §3, RFC 3207
//! §4.2, RFC 2595 §3.1 and §4, RFC 9051 §6.2.3), STARTTLS that breaks or is
//! tampered with (CVE-2011-0411 class), old TLS (RFC 8996), slow greetings, and
//! what works.

use super::{and_list, by_host, ports, works};
use crate::model::Code;
use crate::model::{Phase, Protocol, Security};
use crate::report::Finding;
use crate::report::Severity;
use crate::report::{ProbeReport, Run};

pub(super) fn check(report: &Run, raw: &mut Vec<Finding>) {
    for (host, ps) in by_host(report) {
        wrong_mode_plaintext_port(host, &ps, raw);
        wrong_mode_implicit_port(host, &ps, raw);
        plaintext_works(host, &ps, raw);
        auth_before_tls(host, &ps, raw);
        logindisabled_missing(host, &ps, raw);
        starttls_broken(host, &ps, raw);
        starttls_injection(host, &ps, raw);
        tls_version_old(host, &ps, raw);
        slow_greeting(host, &ps, raw);
        what_works(host, &ps, raw);
    }
}

/// The implicit-TLS port of a protocol (RFC 8314 §7.3).
pub(crate) fn implicit_port(protocol: Protocol) -> u16 {
    match protocol {
        Protocol::Pop3 => 995,
        Protocol::Imap => 993,
        Protocol::Smtp => 465,
    }
}

fn failed_with(p: &ProbeReport, code: Code) -> bool {
    p.failure.as_ref().is_some_and(|f| f.code == code)
}

/// SSL/TLS tried on a port that answers in plaintext (587, 25, 143, 110).
fn wrong_mode_plaintext_port(host: &str, ps: &[&ProbeReport], raw: &mut Vec<Finding>) {
    let hit: Vec<&ProbeReport> = ps
        .iter()
        .copied()
        .filter(|p| failed_with(p, Code::TlsGotPlaintext))
        .collect();
    if hit.is_empty() {
        return;
    }
    let list = ports(&hit.iter().map(|p| p.port).collect::<Vec<_>>());
    let verb = if list.starts_with("ports") {
        "answer"
    } else {
        "answers"
    };
    let implicit: Vec<String> = hit
        .iter()
        .map(|p| format!("{} with SSL/TLS", implicit_port(p.protocol)))
        .collect();
    raw.push(
        Finding::new(
            "wrong_mode_plaintext_port",
            Severity::Info,
            Some(host),
            format!("{list} on {host} {verb} in plaintext: choose STARTTLS, not SSL/TLS"),
            format!(
                "In the client, set {list} to STARTTLS, or use port {} instead.",
                dedup_join(implicit)
            ),
        )
        .with_all(hit),
    );
}

/// None or STARTTLS chosen on a port that speaks TLS from the first byte.
fn wrong_mode_implicit_port(host: &str, ps: &[&ProbeReport], raw: &mut Vec<Finding>) {
    let tls_seen = |port: u16| {
        ps.iter().any(|t| {
            t.port == port
                && t.security == Security::Tls
                && (works(t) || t.failure.as_ref().is_some_and(|f| f.code.is_certificate()))
        })
    };
    let hit: Vec<&ProbeReport> = ps
        .iter()
        .copied()
        .filter(|p| p.security != Security::Tls)
        .filter(|p| {
            failed_with(p, Code::ExpectsImplicitTls)
                || (failed_with(p, Code::NoGreeting) && tls_seen(p.port))
        })
        .collect();
    if hit.is_empty() {
        return;
    }
    let list = ports(&hit.iter().map(|p| p.port).collect::<Vec<_>>());
    let verb = if list.starts_with("ports") {
        "expect"
    } else {
        "expects"
    };
    raw.push(
        Finding::new(
            "wrong_mode_implicit_port",
            Severity::Info,
            Some(host),
            format!(
                "{list} on {host} {verb} SSL/TLS from the first byte: choose SSL/TLS, not None or STARTTLS"
            ),
            format!("In the client, set {list} to SSL/TLS."),
        )
        .with_all(hit),
    );
}

/// Whether `caps` (as the server wrote them) let a client send a password.
pub(crate) fn offers_auth(protocol: Protocol, caps: &[String]) -> Vec<String> {
    let upper = |c: &String| c.to_ascii_uppercase();
    caps.iter()
        .filter(|c| match protocol {
            Protocol::Smtp => upper(c).starts_with("AUTH ") || upper(c).starts_with("AUTH="),
            Protocol::Imap => {
                upper(c).starts_with("AUTH=") && !caps.iter().any(|c| upper(c) == "LOGINDISABLED")
            }
            // A bare "SASL" lists no mechanism: nothing is offered (RFC 2449 §6.3).
            Protocol::Pop3 => upper(c) == "USER" || upper(c).starts_with("SASL "),
        })
        .cloned()
        .collect()
}

/// The capabilities a client saw before any TLS: the pre-upgrade list on a
/// STARTTLS row, the only list on a plain row.
fn plaintext_caps(p: &ProbeReport) -> Option<&[String]> {
    let s = p.session.as_ref()?;
    match p.security {
        Security::StartTls => Some(&s.capabilities_before_tls),
        Security::Plain => Some(&s.capabilities),
        Security::Tls => None,
    }
}

/// Whether a client could send a password on this plaintext session: a login
/// is offered (SMTP AUTH, POP3 USER/SASL), or for IMAP, LOGINDISABLED is absent.
fn login_possible(p: &ProbeReport) -> bool {
    let caps = plaintext_caps(p).unwrap_or(&[]);
    match p.protocol {
        Protocol::Imap => !caps.iter().any(|c| c.eq_ignore_ascii_case("LOGINDISABLED")),
        Protocol::Pop3 | Protocol::Smtp => !offers_auth(p.protocol, caps).is_empty(),
    }
}

/// A plain combination worked. It is a warning where a password could travel in
/// clear there, and only worth knowing where the server refuses logins without
/// TLS. SMTP port 25 is server-to-server relay, plaintext by design, so it counts
/// only when it offers AUTH in the clear.
fn plaintext_works(host: &str, ps: &[&ProbeReport], raw: &mut Vec<Finding>) {
    let plain: Vec<&ProbeReport> = ps
        .iter()
        .copied()
        .filter(|p| works(p) && p.security == Security::Plain)
        .filter(|p| p.port != 25 || login_possible(p))
        .collect();
    let (exposed, refused): (Vec<&ProbeReport>, Vec<&ProbeReport>) =
        plain.into_iter().partition(|p| login_possible(p));
    let names = |hit: &[&ProbeReport]| {
        and_list(
            &hit.iter()
                .map(|p| format!("{} {}", p.protocol, p.port))
                .collect::<Vec<_>>(),
        )
    };
    if !exposed.is_empty() {
        raw.push(
            Finding::new(
                "plaintext_works",
                Severity::Warning,
                Some(host),
                format!(
                    "None (no encryption) works for {} on {host}, and a password would travel in clear",
                    names(&exposed)
                ),
                "Never choose None in the client; use SSL/TLS or STARTTLS. Server: require TLS before login.",
            )
            .with_all(exposed),
        );
    }
    if !refused.is_empty() {
        raw.push(
            Finding::new(
                "plaintext_no_login",
                Severity::Info,
                Some(host),
                format!(
                    "None (no encryption) connects for {} on {host}, but the server offers no login there, so no password travels in clear",
                    names(&refused)
                ),
                "Nothing to fix; in the client choose SSL/TLS or STARTTLS all the same.",
            )
            .with_all(refused),
        );
    }
}

/// Login offered on a plaintext session, before STARTTLS.
fn auth_before_tls(host: &str, ps: &[&ProbeReport], raw: &mut Vec<Finding>) {
    for p in ps.iter().filter(|p| !p.inferred) {
        let offered = offers_auth(p.protocol, plaintext_caps(p).unwrap_or(&[]));
        if offered.is_empty() {
            continue;
        }
        raw.push(
            Finding::new(
                "auth_before_tls",
                Severity::Warning,
                Some(host),
                format!(
                    "{} {} on {host} offers login before TLS, so a client could send the password in clear",
                    p.protocol, p.port
                ),
                "Server: offer AUTH/USER only after STARTTLS (Postfix smtpd_tls_auth_only = yes; \
                 Dovecot disable_plaintext_auth = yes, which also adds LOGINDISABLED).",
            )
            .with(p)
            .because(format!("{} {}: {}", p.protocol, p.port, offered.join(", "))),
        );
    }
}

/// A plaintext IMAP session without LOGINDISABLED (RFC 9051 §6.2.3).
fn logindisabled_missing(host: &str, ps: &[&ProbeReport], raw: &mut Vec<Finding>) {
    for p in ps
        .iter()
        .filter(|p| !p.inferred && p.protocol == Protocol::Imap)
    {
        let Some(caps) = plaintext_caps(p).filter(|c| !c.is_empty()) else {
            continue;
        };
        if caps.iter().any(|c| c.eq_ignore_ascii_case("LOGINDISABLED")) {
            continue;
        }
        raw.push(
            Finding::new(
                "logindisabled_missing",
                Severity::Warning,
                Some(host),
                format!("IMAP on {host} accepts LOGIN before TLS: its plaintext capabilities lack LOGINDISABLED"),
                "Server: advertise LOGINDISABLED until STARTTLS (Dovecot: disable_plaintext_auth = yes).",
            )
            .with(p)
            .because(format!("imap {}: {}", p.port, caps.join(" "))),
        );
    }
}

/// STARTTLS advertised but refused, not advertised, or the handshake after it
/// failed (certificate problems, old versions and injection have their own codes).
fn starttls_broken(host: &str, ps: &[&ProbeReport], raw: &mut Vec<Finding>) {
    for p in ps
        .iter()
        .filter(|p| p.security == Security::StartTls && !p.inferred)
    {
        let Some(f) = &p.failure else { continue };
        let broken = f.code == Code::StartTlsRefused
            || (f.phase == Phase::Tls
                && !f.code.is_certificate()
                && !matches!(f.code, Code::TlsVersionTooOld | Code::StartTlsInjection));
        let code = if broken {
            "starttls_broken"
        } else if f.code == Code::StartTlsNotAdvertised {
            "starttls_not_advertised"
        } else {
            continue;
        };
        let fallback = ps
            .iter()
            .any(|o| o.protocol == p.protocol && o.security.is_secure() && works(o));
        let severity = if fallback {
            Severity::Warning
        } else {
            Severity::Critical
        };
        let cause = if broken {
            format!(
                "STARTTLS on {host} port {} is advertised but does not work",
                p.port
            )
        } else {
            format!("{host} port {} does not offer STARTTLS", p.port)
        };
        raw.push(
            Finding::new(
                code,
                severity,
                Some(host),
                cause,
                format!(
                    "Use SSL/TLS on port {} if it works; server: fix the TLS configuration of port {}.",
                    implicit_port(p.protocol),
                    p.port
                ),
            )
            .with(p)
            .because(format!("{}: {}", f.code, f.message)),
        );
    }
}

/// Bytes after the STARTTLS reply and before the handshake (CVE-2011-0411 class).
fn starttls_injection(host: &str, ps: &[&ProbeReport], raw: &mut Vec<Finding>) {
    for p in ps {
        let flagged = p
            .failure
            .iter()
            .chain(&p.warnings)
            .find(|f| f.code == Code::StartTlsInjection);
        let discarded = p.tls.as_ref().map_or(0, |t| t.injected_bytes_discarded);
        if flagged.is_none() && discarded == 0 {
            continue;
        }
        let mut f = Finding::new(
            "starttls_injection",
            Severity::Critical,
            Some(host),
            format!("{host} port {} sent data between STARTTLS and the TLS handshake, which lets an attacker inject commands", p.port),
            "Server: upgrade the mail software (CVE-2011-0411 class); check for a middlebox on the path.",
        )
        .with(p);
        if let Some(w) = flagged {
            f = f.because(w.message.clone());
        }
        if discarded > 0 {
            f = f.because(format!("{discarded} bytes discarded unread"));
        }
        raw.push(f);
    }
}

/// Only TLS older than 1.2 (RFC 8996).
fn tls_version_old(host: &str, ps: &[&ProbeReport], raw: &mut Vec<Finding>) {
    for p in ps.iter().filter(|p| !p.inferred) {
        let refused = failed_with(p, Code::TlsVersionTooOld);
        let version = p.tls.as_ref().and_then(|t| t.version.as_deref());
        let old = version.is_some_and(|v| matches!(v, "TLSv1.0" | "TLSv1.1" | "SSLv3"));
        if !refused && !old {
            continue;
        }
        raw.push(
            Finding::new(
                "tls_version_old",
                if refused {
                    Severity::Critical
                } else {
                    Severity::Warning
                },
                Some(host),
                format!(
                    "{host} port {} only speaks TLS older than 1.2, which current clients refuse",
                    p.port
                ),
                "Server: enable TLS 1.2 and 1.3 (RFC 8996 deprecates TLS 1.0 and 1.1).",
            )
            .with(p)
            .because(version.map_or_else(
                || {
                    p.failure
                        .as_ref()
                        .map(|f| f.message.clone())
                        .unwrap_or_default()
                },
                str::to_owned,
            )),
        );
    }
}

/// A greeting that came, but late.
fn slow_greeting(host: &str, ps: &[&ProbeReport], raw: &mut Vec<Finding>) {
    for p in ps {
        let Some(w) = p.warnings.iter().find(|w| w.code == Code::SlowGreeting) else {
            continue;
        };
        raw.push(
            Finding::new(
                "slow_greeting",
                Severity::Warning,
                Some(host),
                format!("{host} greets late, so clients with short timeouts give up"),
                "Raise the client's server timeout; server: check load, DNS lookups and tarpitting.",
            )
            .with(p)
            .because(w.message.clone()),
        );
    }
}

/// One `incoming_ok` / `outgoing_ok` per host: the secure combinations that work.
fn what_works(host: &str, ps: &[&ProbeReport], raw: &mut Vec<Finding>) {
    for (incoming, code) in [(true, "incoming_ok"), (false, "outgoing_ok")] {
        let good: Vec<&ProbeReport> = ps
            .iter()
            .copied()
            .filter(|p| works(p) && p.security.is_secure())
            .filter(|p| p.protocol.is_incoming() == incoming)
            .collect();
        if good.is_empty() {
            continue;
        }
        let names: Vec<String> = good
            .iter()
            .map(|p| format!("{} over {} ({})", p.protocol, p.security, p.port))
            .collect();
        let verb = if names.len() == 1 { "works" } else { "work" };
        raw.push(
            Finding::new(
                code,
                Severity::Ok,
                Some(host),
                format!("{} {verb} on {host}", and_list(&names)),
                "Nothing to do.",
            )
            .with_all(good),
        );
    }
}

fn dedup_join(mut items: Vec<String>) -> String {
    items.dedup();
    let mut unique: Vec<String> = Vec::new();
    for i in items {
        if !unique.contains(&i) {
            unique.push(i);
        }
    }
    unique.join(" or ")
}

#[cfg(test)]
mod tests {
    use crate::diagnose::testing::{HOST, caps, failed, ok, report, warning};
    use crate::diagnose::{Options, findings};
    use crate::model::Code;
    use crate::model::Phase;
    use crate::report::Finding;
    use crate::report::Severity;
    use crate::report::{ProbeReport, Status};

    fn find(probes: Vec<ProbeReport>, code: &str) -> Option<Finding> {
        findings(&report(probes), &Options::default())
            .into_iter()
            .find(|f| f.code == code)
    }

    #[test]
    fn wrong_mode_plaintext_port_from_tls_got_plaintext() {
        let f = find(
            vec![failed("smtp:587:tls", Code::TlsGotPlaintext, Phase::Tls)],
            "wrong_mode_plaintext_port",
        )
        .unwrap();
        assert_eq!(
            f.cause,
            format!("port 587 on {HOST} answers in plaintext: choose STARTTLS, not SSL/TLS")
        );
        assert!(f.fix.contains("465 with SSL/TLS"));
    }

    #[test]
    fn wrong_mode_implicit_port_from_inferred_and_silent_rows() {
        let mut inferred = failed("pop3:995:plain", Code::ExpectsImplicitTls, Phase::Greeting);
        inferred.inferred = true;
        let silent = failed("imap:993:starttls", Code::NoGreeting, Phase::Greeting);
        let f = find(
            vec![ok("pop3:995:tls"), inferred, ok("imap:993:tls"), silent],
            "wrong_mode_implicit_port",
        )
        .unwrap();
        assert!(f.cause.starts_with("ports 995 and 993"), "{}", f.cause);
        assert_eq!(f.combinations.len(), 2);
        // Silence without a working TLS row on the port is not this finding.
        let alone = failed("imap:143:plain", Code::NoGreeting, Phase::Greeting);
        assert!(find(vec![alone], "wrong_mode_implicit_port").is_none());
    }

    #[test]
    fn plaintext_works_but_not_for_relay_port_25_without_auth() {
        let f = find(
            vec![ok("imap:143:plain"), ok("smtp:25:plain")],
            "plaintext_works",
        )
        .unwrap();
        assert_eq!(
            crate::diagnose::testing::labels(&f.combinations),
            [format!("imap:143:plain@{HOST}")]
        );
        assert_eq!(f.severity, Severity::Warning);
        assert!(f.cause.contains("password would travel in clear"));
    }

    #[test]
    fn plaintext_that_refuses_logins_is_only_info() {
        let mut imap = ok("imap:143:plain");
        imap.session.as_mut().unwrap().capabilities =
            caps(&["IMAP4rev1", "STARTTLS", "LOGINDISABLED"]);
        let mut smtp = ok("smtp:587:plain");
        smtp.session.as_mut().unwrap().capabilities = caps(&["PIPELINING", "STARTTLS"]);
        let probes = vec![imap, smtp];
        assert!(
            find(probes.clone(), "plaintext_works").is_none(),
            "no password can travel"
        );
        let f = find(probes, "plaintext_no_login").unwrap();
        assert_eq!(f.severity, Severity::Info);
        assert_eq!(f.combinations.len(), 2);
    }

    #[test]
    fn auth_before_tls_reads_pre_tls_capabilities_of_starttls_rows() {
        let mut smtp = ok("smtp:587:starttls");
        let s = smtp.session.as_mut().unwrap();
        s.capabilities_before_tls = caps(&["PIPELINING", "AUTH PLAIN LOGIN", "STARTTLS"]);
        s.capabilities = caps(&["AUTH PLAIN LOGIN"]);
        let mut pop = ok("pop3:110:plain");
        pop.session.as_mut().unwrap().capabilities = caps(&["USER", "STLS"]);
        let mut safe = ok("imap:143:starttls");
        safe.session.as_mut().unwrap().capabilities_before_tls =
            caps(&["IMAP4rev1", "STARTTLS", "LOGINDISABLED"]);
        let f = find(vec![smtp, pop, safe], "auth_before_tls").unwrap();
        assert_eq!(f.combinations.len(), 2, "{f:#?}");
        assert!(f.evidence.iter().any(|e| e.contains("AUTH PLAIN LOGIN")));
    }

    #[test]
    fn imap_auth_with_logindisabled_is_not_auth_before_tls_but_without_it_is() {
        let mut imap = ok("imap:143:starttls");
        imap.session.as_mut().unwrap().capabilities_before_tls =
            caps(&["IMAP4rev1", "STARTTLS", "AUTH=PLAIN"]);
        assert!(find(vec![imap.clone()], "auth_before_tls").is_some());
        assert!(find(vec![imap.clone()], "logindisabled_missing").is_some());
        imap.session
            .as_mut()
            .unwrap()
            .capabilities_before_tls
            .push("LOGINDISABLED".into());
        assert!(find(vec![imap.clone()], "auth_before_tls").is_none());
        assert!(find(vec![imap], "logindisabled_missing").is_none());
    }

    #[test]
    fn starttls_broken_is_critical_without_a_secure_alternative() {
        let refused = failed("smtp:587:starttls", Code::StartTlsRefused, Phase::StartTls);
        let f = find(vec![refused.clone()], "starttls_broken").unwrap();
        assert_eq!(f.severity, Severity::Critical);
        let f = find(vec![refused, ok("smtp:465:tls")], "starttls_broken").unwrap();
        assert_eq!(f.severity, Severity::Warning);
        let handshake = failed("imap:143:starttls", Code::TlsHandshakeFailed, Phase::Tls);
        assert!(find(vec![handshake], "starttls_broken").is_some());
        let cert = failed("imap:143:starttls", Code::CertExpired, Phase::Tls);
        assert!(find(vec![cert], "starttls_broken").is_none());
    }

    #[test]
    fn starttls_not_advertised_is_its_own_code() {
        let p = failed(
            "pop3:110:starttls",
            Code::StartTlsNotAdvertised,
            Phase::Capabilities,
        );
        assert!(find(vec![p], "starttls_not_advertised").is_some());
    }

    #[test]
    fn starttls_injection_from_failure_or_discarded_bytes() {
        let p = failed("smtp:25:starttls", Code::StartTlsInjection, Phase::StartTls);
        assert_eq!(
            find(vec![p], "starttls_injection").unwrap().severity,
            Severity::Critical
        );
        let mut q = ok("smtp:587:starttls");
        q.tls.as_mut().unwrap().injected_bytes_discarded = 12;
        let f = find(vec![q], "starttls_injection").unwrap();
        assert!(f.evidence.iter().any(|e| e.contains("12 bytes")));
    }

    #[test]
    fn tls_version_old_refused_or_negotiated() {
        let p = failed("imap:993:tls", Code::TlsVersionTooOld, Phase::Tls);
        assert_eq!(
            find(vec![p], "tls_version_old").unwrap().severity,
            Severity::Critical
        );
        let mut q = ok("imap:993:tls");
        q.tls.as_mut().unwrap().version = Some("TLSv1.1".into());
        assert_eq!(
            find(vec![q], "tls_version_old").unwrap().severity,
            Severity::Warning
        );
        assert!(find(vec![ok("imap:993:tls")], "tls_version_old").is_none());
    }

    #[test]
    fn slow_greeting_from_the_warning() {
        let mut p = ok("smtp:587:starttls");
        p.status = Status::Warning;
        p.warnings
            .push(warning(Code::SlowGreeting, Phase::Greeting));
        assert!(find(vec![p], "slow_greeting").is_some());
    }

    #[test]
    fn ok_findings_per_direction_list_secure_combinations_only() {
        let probes = vec![ok("imap:993:tls"), ok("imap:143:plain"), ok("smtp:465:tls")];
        let incoming = find(probes.clone(), "incoming_ok").unwrap();
        assert_eq!(
            incoming.cause,
            format!("IMAP over SSL/TLS (993) works on {HOST}")
        );
        assert_eq!(incoming.severity, Severity::Ok);
        assert!(find(probes, "outgoing_ok").is_some());
        assert!(find(vec![ok("imap:143:plain")], "incoming_ok").is_none());
    }
}
