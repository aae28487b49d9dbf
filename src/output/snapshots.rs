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
