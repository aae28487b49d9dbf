//! Tests of the findings: every failure code has a specific cause, one cause is
//! one finding, root causes come first, and severity follows the impact.

use super::*;
use crate::diagnose::testing::{attempt, chain, discovery, failed, leaf, login, ok, report};
use crate::model::{Code, Phase};
use crate::report::{DnsCheck, Explanation, LoginResult, NotOffered, SendOutcome, Status, Verdict};

fn run_findings(r: &Run) -> Vec<Finding> {
    findings(r, &Options::default())
}

fn find<'a>(fs: &'a [Finding], code: &str) -> &'a Finding {
    fs.iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("no {code} in {:#?}", codes(fs)))
}

fn codes(fs: &[Finding]) -> Vec<String> {
    fs.iter().map(|f| f.code.clone()).collect()
}

fn with_chain(mut p: ProbeReport, verdict: Verdict, days_left: i64) -> ProbeReport {
    let mut c = chain(leaf("BB:02", days_left));
    c.verdict = verdict;
    c.trusted = verdict == Verdict::Trusted;
    c.host_name_matches = verdict != Verdict::NameMismatch;
    let mut t = ok("imap:993:tls").tls.unwrap();
    t.certificate = Some(c);
    p.tls = Some(t);
    p
}

fn greeting_refused(spec: &str, text: &str) -> ProbeReport {
    let mut p = failed(spec, Code::GreetingRejected, Phase::Greeting);
    let s = p.session.get_or_insert_with(Default::default);
    s.greeting_rejected = Some(text.into());
    p
}

/// A run where the one combination tried failed with `code`, built the way the
/// engine would report it.
fn failing_with(code: Code) -> Run {
    let cert = |verdict, days| with_chain(failed("imap:993:tls", code, Phase::Tls), verdict, days);
    let p = match code {
        c if matches!(
            c,
            Code::DnsNameNotFound | Code::DnsNoAddress | Code::DnsTimeout | Code::DnsServerFailure
        ) =>
        {
            failed("imap:993:tls", c, Phase::Resolve)
        }
        Code::ConnectRefused | Code::ConnectTimeout | Code::NetworkUnreachable => {
            failed("imap:993:tls", code, Phase::Connect)
        }
        Code::TlsGotPlaintext
        | Code::TlsAlert
        | Code::TlsHandshakeFailed
        | Code::TlsTimeout
        | Code::TlsVersionTooOld => failed("imap:993:tls", code, Phase::Tls),
        Code::CertExpired => cert(Verdict::Expired, -3),
        Code::CertNotYetValid => cert(Verdict::NotYetValid, 400),
        Code::CertNameMismatch => cert(Verdict::NameMismatch, 90),
        Code::CertSelfSigned => cert(Verdict::SelfSigned, 90),
        Code::CertUntrusted => cert(Verdict::Untrusted, 90),
        Code::CertIncompleteChain => cert(Verdict::IncompleteChain, 90),
        Code::CertInvalid => cert(Verdict::Invalid, 90),
        Code::SlowGreeting => {
            let mut p = ok("imap:993:tls");
            p.status = Status::Warning;
            p.warnings
                .push(crate::diagnose::testing::warning(code, Phase::Greeting));
            p
        }
        Code::WrongProtocol => {
            let mut p = failed("imap:143:starttls", code, Phase::Greeting);
            p.failure.as_mut().unwrap().message =
                "expected a IMAP greeting, but the server sent SSH (\"SSH-2.0-OpenSSH_9.2\")"
                    .into();
            p
        }
        Code::GreetingRejected => greeting_refused("imap:143:starttls", "* BYE server busy"),
        Code::StartTlsNotAdvertised => failed("imap:143:starttls", code, Phase::Capabilities),
        Code::StartTlsRefused | Code::StartTlsInjection => {
            failed("imap:143:starttls", code, Phase::StartTls)
        }
        Code::ExpectsImplicitTls => {
            let mut p = failed("imap:993:plain", code, Phase::Greeting);
            p.inferred = true;
            p
        }
        Code::Cancelled => {
            let mut p = failed("imap:993:tls", code, Phase::Greeting);
            p.status = Status::Cancelled;
            p
        }
        // Reset, closed, timeouts, floods, garbage, protocol errors: mid-dialogue.
        other => failed("imap:143:starttls", other, Phase::Capabilities),
    };
    let mut r = report(vec![p]);
    if code == Code::Cancelled {
        r.cut_short = Some("deadline".into());
    }
    r
}

/// The rule: no catch-all; every code's failure is covered by a
/// finding that names its cause.
#[test]
fn every_failure_code_gets_a_specific_finding() {
    for code in Code::ALL {
        let r = failing_with(*code);
        let fs = run_findings(&r);
        let row = &r.probes[0];
        let covering: Vec<&Finding> = fs
            .iter()
            .filter(|f| f.covers(row) && !matches!(f.code.as_str(), "incoming_ok" | "outgoing_ok"))
            .collect();
        assert!(
            !covering.is_empty(),
            "{code:?}: no finding covers {}: {:#?}",
            row.endpoint(),
            codes(&fs)
        );
        for f in covering {
            assert!(!f.cause.is_empty() && !f.fix.is_empty(), "{code:?}: {f:#?}");
        }
    }
}

#[test]
fn one_self_signed_certificate_on_three_hosts_is_one_finding() {
    let probes = [
        "imap:993:tls@imap.example.com",
        "pop3:995:tls@pop.example.com",
        "smtp:465:tls@smtp.example.com",
    ]
    .iter()
    .map(|spec| {
        with_chain(
            failed(spec, Code::CertSelfSigned, Phase::Tls),
            Verdict::SelfSigned,
            90,
        )
    })
    .collect();
    let fs = run_findings(&report(probes));
    let untrusted: Vec<&Finding> = fs.iter().filter(|f| f.code == "cert_untrusted").collect();
    assert_eq!(untrusted.len(), 1, "{:#?}", codes(&fs));
    let f = untrusted[0];
    assert_eq!(f.affects.hosts.len(), 3);
    assert_eq!(f.severity, Severity::Critical);
    assert!(f.cause.contains("self-signed"), "{}", f.cause);
}

fn refused_login(spec: &str, code: &str) -> crate::report::Login {
    let mut l = login(spec, LoginResult::Failed, &["alice@gmail.com"]);
    l.explanation = Some(Explanation {
        code: code.into(),
        cause: "The account has 2-Step Verification on, so Google refuses the account password from mail clients.".into(),
        fix: "Create an app password.".into(),
        provider_specific: true,
        alert: None,
    });
    l
}

#[test]
fn one_refusal_on_three_protocols_is_one_finding() {
    let mut r = report(vec![
        ok("imap:993:tls"),
        ok("pop3:995:tls"),
        ok("smtp:465:tls"),
    ]);
    for spec in ["imap:993:tls", "pop3:995:tls", "smtp:465:tls"] {
        r.logins
            .push(refused_login(spec, "gmail_app_password_required"));
    }
    let fs = run_findings(&r);
    let refused: Vec<&Finding> = fs.iter().filter(|f| f.code == "login_failed").collect();
    assert_eq!(refused.len(), 1, "{:#?}", codes(&fs));
    assert_eq!(refused[0].affects.protocols.len(), 3);
}

#[test]
fn ipv6_failing_on_several_hosts_is_one_finding() {
    let mut a = ok("imap:993:tls@imap.example.com");
    let mut b = ok("smtp:465:tls@smtp.example.com");
    for p in [&mut a, &mut b] {
        p.connects.push(attempt(
            "[2001:db8::1]:993",
            "ipv6",
            Some(Code::ConnectTimeout),
        ));
    }
    let fs = run_findings(&report(vec![a, b]));
    let f = find(&fs, "ipv6_broken");
    assert_eq!(f.affects.hosts.len(), 2);
    assert_eq!(f.affects.families, ["ipv6"]);
    assert_eq!(fs.iter().filter(|f| f.code == "ipv6_broken").count(), 1);
}

#[test]
fn a_refused_port_while_others_work_is_closed_and_no_problem_when_not_needed() {
    let r = report(vec![
        failed("pop3:995:tls", Code::ConnectRefused, Phase::Connect),
        ok("imap:993:tls"),
        ok("smtp:465:tls"),
    ]);
    let fs = run_findings(&r);
    let f = find(&fs, "port_closed");
    assert_eq!(
        f.severity,
        Severity::Info,
        "IMAP works, so POP3 995 is not needed"
    );
    assert!(
        f.cause.contains("Nothing listens on port 995"),
        "{}",
        f.cause
    );
    assert!(!codes(&fs).contains(&"server_down".to_owned()));
}

#[test]
fn another_service_on_a_mail_port_is_named() {
    let fs = run_findings(&failing_with(Code::WrongProtocol));
    let f = find(&fs, "wrong_service");
    assert!(f.cause.contains("an SSH"), "{}", f.cause);
    assert!(
        f.evidence.iter().any(|e| e.contains("SSH-2.0-OpenSSH")),
        "{:?}",
        f.evidence
    );
}

#[test]
fn a_blocklist_refusal_is_this_networks_address_and_names_the_list() {
    let r = report(vec![
        greeting_refused(
            "smtp:25:starttls",
            "554 5.7.1 Service unavailable; Client host [192.0.2.7] blocked using zen.spamhaus.org",
        ),
        ok("smtp:587:starttls"),
    ]);
    let fs = run_findings(&r);
    let f = find(&fs, "address_blocklisted");
    assert_eq!(f.category, Category::Local);
    assert!(f.cause.contains("zen.spamhaus.org"), "{}", f.cause);
    assert!(!codes(&fs).iter().any(|c| c == "service_refused"));
}

#[test]
fn temporary_refusals_are_service_unavailable_with_the_servers_words() {
    for text in [
        "-ERR [SYS/TEMP] Service unavailable",
        "* BYE Too many connections",
        "421 4.3.2 Service not available",
    ] {
        let spec = match &text[..1] {
            "-" => "pop3:995:tls",
            "*" => "imap:993:tls",
            _ => "smtp:587:starttls",
        };
        let fs = run_findings(&report(vec![greeting_refused(spec, text)]));
        let f = find(&fs, "service_unavailable");
        assert!(
            f.evidence.iter().any(|e| e.contains(text)),
            "{:?}",
            f.evidence
        );
    }
}

#[test]
fn tls_aborted_on_every_port_says_so_and_suggests_no_other_port() {
    let r = report(vec![
        failed("smtp:465:tls", Code::TlsAlert, Phase::Tls),
        failed("smtp:587:starttls", Code::TlsAlert, Phase::Tls),
        failed("imap:993:tls", Code::TlsAlert, Phase::Tls),
    ]);
    let fs = run_findings(&r);
    let f = find(&fs, "tls_refused");
    assert!(f.cause.contains("every TLS handshake"), "{}", f.cause);
    assert!(!f.fix.contains("465"), "{}", f.fix);
    assert_eq!(f.severity, Severity::Critical);
}

#[test]
fn silence_after_connecting_is_its_own_cause() {
    let fs = run_findings(&failing_with(Code::NoGreeting));
    let f = find(&fs, "server_silent");
    assert!(f.cause.contains("never says a word"), "{}", f.cause);
}

#[test]
fn a_service_the_domain_does_not_offer_is_not_a_problem() {
    let mut d = discovery();
    for (protocol, security, service) in [
        (Protocol::Imap, crate::model::Security::Tls, "_imaps._tcp"),
        (
            Protocol::Imap,
            crate::model::Security::StartTls,
            "_imap._tcp",
        ),
        (Protocol::Pop3, crate::model::Security::Tls, "_pop3s._tcp"),
        (
            Protocol::Pop3,
            crate::model::Security::StartTls,
            "_pop3._tcp",
        ),
    ] {
        d.not_offered.push(NotOffered {
            protocol,
            security,
            service: service.into(),
        });
    }
    let mut r = report(vec![
        failed("imap:993:tls", Code::ConnectRefused, Phase::Connect),
        failed("imap:143:starttls", Code::ConnectRefused, Phase::Connect),
        ok("smtp:465:tls"),
    ]);
    r.discovery = Some(d);
    let fs = run_findings(&r);
    assert!(fs.iter().all(|f| f.severity < Severity::Warning), "{fs:#?}");
    find(&fs, "service_not_offered");
}

#[test]
fn ipv6_only_without_aaaa_says_so_instead_of_blaming_the_domain() {
    let mut r = report(vec![failed(
        "imap:993:tls",
        Code::DnsNoAddress,
        Phase::Resolve,
    )]);
    r.inputs.address_family = "ipv6".into();
    let fs = run_findings(&r);
    let f = find(&fs, "host_no_ipv6");
    assert!(f.cause.contains("no IPv6 address"), "{}", f.cause);
    assert!(f.fix.contains("without -6"), "{}", f.fix);
}

fn plain_with(spec: &str, greeting: &str, caps: &[&str]) -> ProbeReport {
    let mut p = ok(spec);
    let s = p.session.as_mut().unwrap();
    s.greeting = Some(greeting.into());
    s.capabilities = caps.iter().map(|c| (*c).to_owned()).collect();
    p
}

#[test]
fn challenge_response_before_tls_is_a_weaker_point_without_a_foreign_fix() {
    let cyrus = plain_with(
        "pop3:110:plain",
        "+OK mail.example.com Cyrus POP3 server ready <1896.697170952@mail.example.com>",
        &["SASL CRAM-MD5 SCRAM-SHA-256", "STLS"],
    );
    let fs = run_findings(&report(vec![cyrus, ok("imap:993:tls"), ok("smtp:465:tls")]));
    let f = find(&fs, "challenge_login_before_tls");
    assert_eq!(f.severity, Severity::Info);
    assert!(
        !codes(&fs).contains(&"password_in_clear".to_owned()),
        "{:?}",
        codes(&fs)
    );
    assert!(
        !fs.iter()
            .any(|f| f.fix.contains("Postfix") || f.fix.contains("Dovecot"))
    );
}

#[test]
fn a_password_in_clear_names_the_fix_of_the_software_it_identified() {
    let dovecot = plain_with("pop3:110:plain", "+OK Dovecot ready.", &["USER", "STLS"]);
    let fs = run_findings(&report(vec![
        dovecot,
        ok("imap:993:tls"),
        ok("smtp:465:tls"),
    ]));
    let f = find(&fs, "password_in_clear");
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.fix.contains("disable_plaintext_auth"), "{}", f.fix);
    assert!(!f.fix.contains("Postfix"), "{}", f.fix);
    let anonymous = plain_with("pop3:110:plain", "+OK ready", &["USER"]);
    let fs = run_findings(&report(vec![
        anonymous,
        ok("imap:993:tls"),
        ok("smtp:465:tls"),
    ]));
    let f = find(&fs, "password_in_clear");
    assert!(
        !f.fix.contains("Dovecot") && !f.fix.contains("Postfix"),
        "{}",
        f.fix
    );
}

#[test]
fn a_refused_send_test_is_a_problem_of_its_own() {
    let mut r = report(vec![ok("smtp:465:tls")]);
    let mut l = login("smtp:465:tls", LoginResult::Ok, &["alice@example.com"]);
    l.send = Some(SendOutcome {
        mail_from: Some("530 5.7.1 Sender rejected".into()),
        rcpt_to: None,
        accepted: false,
        data: None,
    });
    r.logins.push(l);
    let fs = run_findings(&r);
    let f = find(&fs, "send_refused");
    assert_eq!(f.severity, Severity::Critical);
    assert!(f.evidence.iter().any(|e| e.contains("Sender rejected")));
}

#[test]
fn a_login_not_sent_for_want_of_a_verified_certificate_folds_into_the_certificate() {
    let mut r = report(vec![with_chain(
        failed("imap:993:tls", Code::CertSelfSigned, Phase::Tls),
        Verdict::SelfSigned,
        90,
    )]);
    let mut l = login("imap:993:tls", LoginResult::NotAttempted, &[]);
    l.combination = None;
    l.reason = Some("no IMAP combination on mail.example.com worked over TLS with a verified certificate, so the password was not sent".into());
    r.logins.push(l);
    let fs = run_findings(&r);
    assert!(
        !codes(&fs).contains(&"login_not_attempted".to_owned()),
        "{:?}",
        codes(&fs)
    );
    let f = find(&fs, "cert_untrusted");
    assert!(
        f.evidence
            .iter()
            .any(|e| e.contains("so the IMAP login was not tried: no password or token was sent")),
        "{:?}",
        f.evidence
    );
}

#[test]
fn root_causes_come_first() {
    let mut r = report(vec![
        failed("smtp:25:starttls", Code::ConnectTimeout, Phase::Connect),
        with_chain(
            failed("imap:993:tls", Code::CertExpired, Phase::Tls),
            Verdict::Expired,
            -1,
        ),
        ok("smtp:587:starttls"),
    ]);
    r.logins.push(refused_login(
        "smtp:587:starttls",
        "smtp_credentials_invalid",
    ));
    let fs = run_findings(&r);
    let order: Vec<Category> = fs.iter().map(|f| f.category).collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted, "{:?}", codes(&fs));
    assert_eq!(fs[0].code, "port_blocked");
}

#[test]
fn port_25_blocked_while_submission_works_is_no_problem() {
    let r = report(vec![
        failed("smtp:25:starttls", Code::ConnectTimeout, Phase::Connect),
        failed("smtp:25:plain", Code::ConnectTimeout, Phase::Connect),
        ok("smtp:587:starttls"),
        ok("imap:993:tls"),
    ]);
    let fs = run_findings(&r);
    let f = find(&fs, "port_blocked");
    assert_eq!(f.severity, Severity::Info);
    assert!(f.fix.contains("587"), "{}", f.fix);
}

#[test]
fn a_dns_server_that_never_answers_is_this_computers_problem() {
    let mut r = report(vec![failed(
        "imap:993:tls",
        Code::DnsTimeout,
        Phase::Resolve,
    )]);
    r.dns_check = Some(DnsCheck {
        name: "outlook.office365.com".into(),
        ok: false,
        code: Some(Code::DnsTimeout),
        message: "the DNS server did not answer".into(),
    });
    let fs = run_findings(&r);
    let f = find(&fs, "dns_not_answering");
    assert_eq!(f.category, Category::Local);
    assert!(
        !codes(&fs).iter().any(|c| c.starts_with("domain_dns")),
        "{:?}",
        codes(&fs)
    );
    r.dns_check.as_mut().unwrap().code = Some(Code::DnsServerFailure);
    find(&run_findings(&r), "dns_everything_fails");
    r.dns_check.as_mut().unwrap().ok = true;
    find(&run_findings(&r), "domain_dns_silent");
}

#[test]
fn a_security_products_certificate_is_interception_on_this_side() {
    let mut imap = ok("imap:993:tls");
    let chain = imap.tls.as_mut().unwrap().certificate.as_mut().unwrap();
    chain.certificates[0].issuer = "CN=Avast Web/Mail Shield Root,O=Avast".into();
    let fs = run_findings(&report(vec![imap, ok("smtp:465:tls")]));
    let f = find(&fs, "tls_interception");
    assert_eq!(
        (f.category, f.severity),
        (Category::Local, Severity::Critical)
    );
    assert!(f.fix.contains("avast"), "{}", f.fix);
    let mut a = ok("imap:993:tls");
    let mut b = ok("imap:143:starttls");
    b.tls
        .as_mut()
        .unwrap()
        .certificate
        .as_mut()
        .unwrap()
        .certificates[0]
        .issuer = "CN=Gateway CA".into();
    a.tls
        .as_mut()
        .unwrap()
        .certificate
        .as_mut()
        .unwrap()
        .certificates[0]
        .issuer = "CN=R11,O=Let's Encrypt".into();
    let fs = run_findings(&report(vec![a, b]));
    assert_eq!(find(&fs, "tls_interception").severity, Severity::Warning);
}

#[test]
fn a_firewall_masking_smtp_is_said_with_the_fix_on_this_side() {
    let mut p = failed(
        "smtp:587:starttls",
        Code::StartTlsNotAdvertised,
        Phase::Capabilities,
    );
    let s = p.session.as_mut().unwrap();
    s.greeting = Some("220 ***********************************".into());
    s.capabilities = vec![
        "mail.example.com".into(),
        "XXXXXXXA".into(),
        "8BITMIME".into(),
    ];
    s.starttls = crate::report::StartTlsState::NotAdvertised;
    let fs = run_findings(&report(vec![p, ok("smtp:465:tls")]));
    let f = find(&fs, "smtp_inspection");
    assert_eq!(f.category, Category::Local);
    assert!(f.fix.contains("465"), "{}", f.fix);
    assert!(
        !codes(&fs).contains(&"starttls_not_offered".to_owned()),
        "{:?}",
        codes(&fs)
    );
}

#[test]
fn only_an_unencrypted_way_is_said_plainly() {
    let plain = plain_with("smtp:587:plain", "220 mail ESMTP", &["AUTH PLAIN LOGIN"]);
    let fs = run_findings(&report(vec![
        plain,
        failed("smtp:465:tls", Code::ConnectRefused, Phase::Connect),
        ok("imap:993:tls"),
    ]));
    let f = find(&fs, "only_unencrypted");
    assert_eq!(f.severity, Severity::Critical);
    assert!(f.cause.contains("readable by anyone"), "{}", f.cause);
}

#[test]
fn docs_findings_lists_every_code_and_no_other() {
    let docs = include_str!("../../../docs/findings.md");
    for (code, _) in CODES {
        assert!(
            docs.contains(&format!("`{code}`")),
            "docs/findings.md lacks {code}"
        );
    }
    let mut in_table = false;
    for line in docs.lines() {
        in_table = (in_table && !line.is_empty()) || line.starts_with("| code | severity");
        if in_table && line.starts_with("| `") {
            let code = line.split('`').nth(1).unwrap_or_default();
            assert!(
                CODES.iter().any(|(c, _)| *c == code),
                "docs/findings.md lists unknown {code}"
            );
        }
    }
}

/// Regression: `probe ADDRESS --only imap:993:tls` said no SMTP server was found.
#[test]
fn a_direction_left_out_by_only_is_not_missing() {
    let mut r = report(vec![ok("imap:993:tls")]);
    r.discovery = Some(discovery());
    assert!(run_findings(&r).iter().any(|f| f.code == "no_server_found"));
    r.inputs.only = vec!["imap:993:tls".into()];
    assert!(!run_findings(&r).iter().any(|f| f.code == "no_server_found"));
}

/// A token sent over unverified TLS is called a token, and the fix is to
/// revoke it (changing a password would not end it).
#[test]
fn an_exposed_token_is_called_a_token_and_revoked() {
    let mut r = report(vec![ok("imap:993:tls")]);
    let mut l = login("imap:993:tls", LoginResult::Ok, &["alice@example.com"]);
    l.secret_exposed = true;
    let mut probe = ok("imap:993:tls");
    let session = probe.session.get_or_insert_with(Default::default);
    session.auth = Some(crate::report::AuthOutcome {
        attempts: vec![crate::report::AuthAttempt {
            username: "alice@example.com".into(),
            mechanism: "XOAUTH2".into(),
            ok: true,
            reply: "A1 OK".into(),
            oauth_error: None,
        }],
        ok: true,
        ..Default::default()
    });
    l.probe = Some(probe);
    r.logins.push(l);
    let fs = run_findings(&r);
    let f = find(&fs, "secret_exposed");
    assert!(
        f.cause.starts_with("The OAuth2 token for IMAP"),
        "{}",
        f.cause
    );
    assert!(f.fix.contains("Revoke the token"), "{}", f.fix);
    // A password login keeps its words.
    let mut r = report(vec![ok("imap:993:tls")]);
    let mut l = login("imap:993:tls", LoginResult::Ok, &["alice@example.com"]);
    l.secret_exposed = true;
    r.logins.push(l);
    let fs = run_findings(&r);
    let f = find(&fs, "secret_exposed");
    assert!(f.cause.starts_with("The password for IMAP"), "{}", f.cause);
    assert!(f.fix.contains("Change the password"), "{}", f.fix);
}

/// A server that takes no token: the fix is not about TLS.
#[test]
fn a_token_no_mechanism_takes_says_to_test_with_the_password() {
    let mut r = report(vec![ok("imap:993:tls")]);
    let mut l = login("imap:993:tls", LoginResult::NotAttempted, &[]);
    l.reason =
        Some("the server offers PLAIN, LOGIN, none of which takes OAuth2 token credentials".into());
    r.logins.push(l);
    let fs = run_findings(&r);
    let f = find(&fs, "login_not_attempted");
    assert!(
        f.fix.contains("neither XOAUTH2 nor OAUTHBEARER") && !f.fix.contains("verified TLS"),
        "{}",
        f.fix
    );
}
