//! Snapshot tests of the human report for the situations a help desk meets most,
//! colour off, built from hand-made reports so that nothing varies between runs.

use crate::config::Format;
use crate::diagnose::refusals;
use crate::diagnose::testing::{chain, failed, leaf, login, ok, report};
use crate::diagnose::{Client, Options};
use crate::engine::{self, outcome::Expectations};
use crate::model::Code;
use crate::model::{Phase, Protocol};
use crate::report::LoginResult;
use crate::report::{Report, Run};

/// Judges the run as the engine would, for an address (both directions
/// expected), with credentials when it has logins.
fn finish(r: Run) -> Report {
    let expect = Expectations {
        incoming: true,
        outgoing: true,
        logins: !r.logins.is_empty(),
        require: Vec::new(),
        not_offered: Vec::new(),
    };
    engine::judge(r, &Options::default(), &expect)
}

fn render(r: &Report, client: Client) -> String {
    colored::control::set_override(false);
    let opts = super::Options {
        format: Format::Human,
        verbose: false,
        client,
        warn_days: 21,
        crit_days: 7,
    };
    let mut out = Vec::new();
    super::human::render(r, &opts, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn inferred_plain(spec: &str) -> crate::report::ProbeReport {
    let mut p = failed(spec, Code::ExpectsImplicitTls, Phase::Greeting);
    p.inferred = true;
    p.tls = None;
    p
}

#[test]
fn all_good() {
    let r = finish(report(vec![
        ok("imap:993:tls"),
        inferred_plain("imap:993:plain"),
        ok("imap:143:starttls"),
        ok("smtp:465:tls"),
        ok("smtp:587:starttls"),
    ]));
    assert_eq!(r.summary.exit_code, 0);
    insta::assert_snapshot!(render(&r, Client::Thunderbird));
}

#[test]
fn port_25_blocked() {
    let r = finish(report(vec![
        ok("imap:993:tls"),
        ok("smtp:587:starttls"),
        ok("smtp:465:tls"),
        failed("smtp:25:starttls", Code::ConnectTimeout, Phase::Connect),
        failed("smtp:25:plain", Code::ConnectTimeout, Phase::Connect),
    ]));
    insta::assert_snapshot!(render(&r, Client::Outlook));
}

#[test]
fn wrong_mode() {
    let r = finish(report(vec![
        ok("imap:993:tls"),
        failed("smtp:587:tls", Code::TlsGotPlaintext, Phase::Tls),
        ok("smtp:587:starttls"),
    ]));
    insta::assert_snapshot!(render(&r, Client::AppleMail));
}

#[test]
fn expired_certificate() {
    let mut expired = failed("imap:993:tls", Code::CertExpired, Phase::Tls);
    let tls = ok("imap:993:tls").tls.map(|mut t| {
        let mut c = chain(leaf("AA:02", -3));
        c.trusted = false;
        c.verdict = crate::report::Verdict::Expired;
        t.certificate = Some(c);
        t
    });
    expired.tls = tls;
    let r = finish(report(vec![expired, ok("smtp:465:tls")]));
    assert_eq!(r.summary.exit_code, 2);
    insta::assert_snapshot!(render(&r, Client::Generic));
}

#[test]
fn oauth2_required() {
    let mut r = report(vec![
        ok("imap:993:tls@outlook.office365.com"),
        ok("smtp:587:starttls@smtp-mail.outlook.com"),
    ]);
    let reply = "535 5.7.139 Authentication unsuccessful, basic authentication is disabled.";
    let mut l = login(
        "smtp:587:starttls@smtp-mail.outlook.com",
        LoginResult::Failed,
        &["alice@example.com", "alice"],
    );
    l.explanation = Some(refusals::explain(
        Protocol::Smtp,
        reply,
        Some("outlook"),
        None,
    ));
    let mut imap = login(
        "imap:993:tls@outlook.office365.com",
        LoginResult::Failed,
        &["alice@example.com", "alice"],
    );
    imap.explanation = Some(refusals::explain(
        Protocol::Imap,
        "a1 NO AUTHENTICATE failed.",
        Some("outlook"),
        None,
    ));
    r.logins = vec![imap, l];
    let r = finish(r);
    insta::assert_snapshot!(render(&r, Client::Ios));
}

/// A refused login with the server's reply in its connection record.
fn refused(spec: &str, protocol: Protocol, reply: &str, provider: &str) -> crate::report::Login {
    let mut l = login(spec, LoginResult::Failed, &["alice@gmail.com"]);
    l.explanation = Some(refusals::explain(protocol, reply, Some(provider), None));
    let mut conn = ok(spec);
    conn.session.as_mut().unwrap().auth = Some(crate::report::AuthOutcome {
        attempts: vec![crate::report::AuthAttempt {
            username: "alice@gmail.com".into(),
            mechanism: "PLAIN".into(),
            ok: false,
            reply: reply.into(),
            oauth_error: None,
        }],
        ok: false,
        not_attempted: None,
        offered: vec!["PLAIN".into()],
    });
    l.probe = Some(conn);
    l
}

#[test]
fn app_password_required() {
    let mut r = report(vec![
        ok("imap:993:tls@imap.gmail.com"),
        ok("smtp:465:tls@smtp.gmail.com"),
    ]);
    let imap_reply = "a1 NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)";
    let smtp_reply = "534-5.7.9 Application-specific password required. For more information, go to\n534 5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor";
    r.logins = vec![
        refused(
            "imap:993:tls@imap.gmail.com",
            Protocol::Imap,
            imap_reply,
            "gmail",
        ),
        refused(
            "smtp:465:tls@smtp.gmail.com",
            Protocol::Smtp,
            smtp_reply,
            "gmail",
        ),
    ];
    let r = finish(r);
    assert_eq!(r.summary.exit_code, 2);
    let text = render(&r, Client::Thunderbird);
    assert!(!text.contains("normal password"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn only_plaintext() {
    let mut plain = ok("smtp:587:plain");
    let s = plain.session.as_mut().unwrap();
    s.greeting = Some("220 mail.example.com ESMTP".into());
    s.capabilities = vec!["mail.example.com".into(), "AUTH PLAIN LOGIN".into()];
    let r = finish(report(vec![
        ok("imap:993:tls"),
        failed("smtp:465:tls", Code::ConnectRefused, Phase::Connect),
        failed(
            "smtp:587:starttls",
            Code::StartTlsNotAdvertised,
            Phase::Capabilities,
        ),
        plain,
    ]));
    assert_eq!(r.summary.exit_code, 2);
    insta::assert_snapshot!(render(&r, Client::Generic));
}

#[test]
fn interception() {
    let mut probes = vec![
        ok("imap:993:tls"),
        ok("smtp:465:tls"),
        ok("smtp:587:starttls"),
    ];
    for p in &mut probes {
        let t = p.tls.as_mut().unwrap();
        let mut c = chain(leaf("EE:0E", 300));
        c.certificates[0].issuer = "CN=Avast Web/Mail Shield Root,O=Avast".into();
        c.trusted = false;
        c.verdict = crate::report::Verdict::Untrusted;
        c.verifier_error = Some("invalid peer certificate: UnknownIssuer".into());
        t.certificate = Some(c);
        p.status = crate::report::Status::Failed;
        p.failure = Some(crate::report::Failure {
            code: Code::CertUntrusted,
            phase: Phase::Tls,
            message: "invalid peer certificate: UnknownIssuer".into(),
        });
    }
    let r = finish(report(probes));
    assert_eq!(r.findings[0].code, "tls_interception");
    insta::assert_snapshot!(render(&r, Client::Thunderbird));
}

#[test]
fn smtp_inspection() {
    let mut masked = failed(
        "smtp:587:starttls",
        Code::StartTlsNotAdvertised,
        Phase::Capabilities,
    );
    let s = masked.session.as_mut().unwrap();
    s.greeting = Some("220 ****************************************".into());
    s.capabilities = vec![
        "mail.example.com".into(),
        "XXXXXXXA".into(),
        "8BITMIME".into(),
    ];
    s.starttls = crate::report::StartTlsState::NotAdvertised;
    let r = finish(report(vec![ok("imap:993:tls"), masked, ok("smtp:465:tls")]));
    insta::assert_snapshot!(render(&r, Client::Outlook));
}

#[test]
fn dead_resolver() {
    let mut r = report(vec![
        failed("imap:993:tls", Code::DnsTimeout, Phase::Resolve),
        failed("smtp:465:tls", Code::DnsTimeout, Phase::Resolve),
    ]);
    r.dns_check = Some(crate::report::DnsCheck {
        name: "outlook.office365.com".into(),
        ok: false,
        code: Some(Code::DnsTimeout),
        message: "outlook.office365.com: the DNS server did not answer (it has not answered any lookup in this run)".into(),
    });
    let r = finish(r);
    assert_eq!(r.findings[0].code, "dns_not_answering");
    insta::assert_snapshot!(render(&r, Client::Generic));
}

/// The healthy report fits one screen: at most 40 lines, none over 80 columns.
#[test]
fn a_healthy_report_fits_one_screen() {
    let r = finish(report(vec![
        ok("pop3:995:tls"),
        inferred_plain("pop3:995:plain"),
        ok("pop3:110:starttls"),
        ok("imap:993:tls"),
        inferred_plain("imap:993:plain"),
        ok("imap:143:starttls"),
        ok("smtp:465:tls"),
        inferred_plain("smtp:465:plain"),
        ok("smtp:587:starttls"),
        failed("smtp:587:tls", Code::TlsGotPlaintext, Phase::Tls),
        ok("smtp:25:starttls"),
        failed("smtp:25:tls", Code::TlsGotPlaintext, Phase::Tls),
    ]));
    let mut r = r;
    r.run.discovery = Some(discovered());
    for client in [Client::Generic, Client::Thunderbird, Client::Outlook] {
        let text = render(&r, client);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() <= 40, "{} lines:\n{text}", lines.len());
        // Where the settings came from: a line per kind that named servers, the
        // MX hosts, and one line for the twelve lookups that named none.
        let from = text
            .split("Where the settings came from")
            .nth(1)
            .expect("sources");
        assert_eq!(
            from.trim().lines().take_while(|l| !l.is_empty()).count(),
            3,
            "{from}"
        );
        assert!(from.contains("MX           mx.example.com"), "{from}");
        assert!(
            from.contains("no servers from overrides, snapshot, ISPDB, autoconfig, Autodiscover"),
            "{from}"
        );
        for l in &lines {
            assert!(l.chars().count() <= 80, "over 80 columns: {l:?}");
        }
    }
}

/// What discovery says of a healthy custom domain: SRV names the servers, the
/// MX is the domain's own, nothing else knows it.
fn discovered() -> crate::report::Discovery {
    use crate::model::Security;
    use crate::report::{Discovery, Setting, SourceKind, SourceReport};
    let source = |kind, query: &str, outcome: &str| {
        let mut s = SourceReport::new(kind, query.into());
        s.outcome = outcome.into();
        s
    };
    let mut srv = source(
        SourceKind::Srv,
        "SRV _imaps._tcp.example.com",
        "mail.example.com:993",
    );
    srv.settings.push(Setting {
        protocol: Protocol::Imap,
        host: "mail.example.com".into(),
        port: 993,
        security: Security::Tls,
        username: None,
        auth: None,
    });
    let mut sources = vec![
        source(
            SourceKind::Provider,
            "provider table",
            "not a listed provider domain",
        ),
        source(
            SourceKind::IspdbSnapshot,
            "ISPDB snapshot",
            "not in the snapshot",
        ),
        source(
            SourceKind::Ispdb,
            "https://autoconfig.thunderbird.net/v1.1/example.com",
            "HTTP 404",
        ),
        srv,
        source(SourceKind::Mx, "MX example.com", "mx.example.com"),
    ];
    for kind in [
        SourceKind::Autoconfig,
        SourceKind::AutodiscoverJson,
        SourceKind::AutodiscoverPox,
    ] {
        for n in 0..3 {
            sources.push(source(
                kind,
                &format!("https://{n}.example.com/"),
                "NXDOMAIN",
            ));
        }
    }
    Discovery {
        address: crate::model::address::parse("alice@example.com").unwrap(),
        provider: None,
        sources,
        candidates: Vec::new(),
        disagreements: Vec::new(),
        not_offered: Vec::new(),
        offline: false,
        duration_ms: 40,
    }
}
