//! Hostile server text through every renderer and every section: nothing that
//! can move the cursor, set the title, clear the screen or reorder text reaches
//! the terminal raw.

use crate::config::Format;
use crate::diagnose::Client;
use crate::diagnose::testing::{discovery, failed, login, ok, report};
use crate::model::{Code, Phase};
use crate::report::{
    AuthAttempt, AuthOutcome, LoginResult, RelayResult, RelayTest, Report, SendOutcome,
    SettingsReport, SourceKind, SourceReport, TranscriptLine,
};

use super::text::unsafe_char;
use super::{Options, render, render_settings};

/// Everything a server could try: CR and erase-line to fake a line, OSC to set
/// the title, clear screen, C1 CSI, bidi override and isolate, zero width, tags.
const HOSTILE: &str =
    "235 ok\r\x1b[2K\x1b]0;pwned\x07\x1b[2J\u{9b}31m\u{202e}txt.exe\u{2066}\u{200b}\u{e0041}";

fn hostile_report() -> Report {
    let mut bad = failed("imap:143:starttls", Code::GreetingRejected, Phase::Greeting);
    bad.failure.as_mut().unwrap().message = format!("the server refuses service: {HOSTILE}");
    let s = bad.session.get_or_insert_with(Default::default);
    s.greeting_rejected = Some(HOSTILE.into());
    s.greeting = Some(HOSTILE.into());
    bad.transcript.push(TranscriptLine {
        t_ms: 1,
        from: "server",
        text: HOSTILE.into(),
    });
    let mut run = report(vec![ok("imap:993:tls"), bad, ok("smtp:465:tls")]);
    let mut l = login("smtp:465:tls", LoginResult::Failed, &[HOSTILE]);
    let mut conn = ok("smtp:465:tls");
    conn.session.as_mut().unwrap().auth = Some(AuthOutcome {
        attempts: vec![AuthAttempt {
            username: HOSTILE.into(),
            mechanism: "PLAIN".into(),
            ok: false,
            reply: HOSTILE.into(),
            oauth_error: None,
        }],
        ok: false,
        not_attempted: None,
        offered: vec![HOSTILE.into()],
    });
    l.probe = Some(conn);
    l.reason = Some(HOSTILE.into());
    l.explanation = Some(crate::diagnose::refusals::explain(
        crate::model::Protocol::Smtp,
        HOSTILE,
        None,
        Some(HOSTILE),
    ));
    l.send = Some(SendOutcome {
        mail_from: Some(HOSTILE.into()),
        rcpt_to: Some(HOSTILE.into()),
        accepted: false,
        data: None,
    });
    run.logins.push(l);
    run.relay_tests.push(RelayTest {
        host: "mail.example.com".into(),
        combination: None,
        recipient: "x@example.net".into(),
        result: RelayResult::NotTested,
        mail_from: Some(HOSTILE.into()),
        rcpt_to: Some(HOSTILE.into()),
        reason: Some(HOSTILE.into()),
        probe: None,
    });
    let mut d = discovery();
    let mut source = SourceReport::new(SourceKind::Autoconfig, HOSTILE.into());
    source.outcome = HOSTILE.into();
    d.sources.push(source);
    d.disagreements.push(HOSTILE.into());
    run.discovery = Some(d);
    run.notes.push(HOSTILE.into());
    crate::engine::judge(
        run,
        &crate::diagnose::Options::default(),
        &crate::engine::outcome::Expectations::default(),
    )
}

fn rendered(report: &Report, format: Format, verbose: bool) -> String {
    colored::control::set_override(false);
    let opts = Options {
        format,
        verbose,
        client: Client::Thunderbird,
        warn_days: 21,
        crit_days: 7,
    };
    let mut out = Vec::new();
    render(report, &opts, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn assert_safe(what: &str, text: &str) {
    let raw: Vec<char> = text
        .chars()
        .filter(|c| *c != '\n' && unsafe_char(*c))
        .collect();
    assert!(raw.is_empty(), "{what}: raw {raw:?} in\n{text}");
}

#[test]
fn no_hostile_character_survives_any_format_or_section() {
    let r = hostile_report();
    assert!(
        r.findings
            .iter()
            .any(|f| f.evidence.iter().any(|e| e.contains('\u{1b}'))),
        "the findings carry the server's words, so the renderers must clean them"
    );
    for (name, format, verbose) in [
        ("human", Format::Human, false),
        ("human -v", Format::Human, true),
        ("json", Format::Json, false),
        ("nagios", Format::Nagios, false),
    ] {
        let text = rendered(&r, format, verbose);
        assert_safe(name, &text);
        assert!(
            text.contains("txt.exe"),
            "{name}: the text itself is still shown"
        );
    }
    let verbose = rendered(&r, Format::Human, true);
    for section in [
        "Transcript",
        "Login test",
        "Send test",
        "Relay test",
        "Details",
    ] {
        assert!(verbose.contains(section), "-v shows {section}:\n{verbose}");
    }
    let settings = SettingsReport::new(r.run.discovery.clone().unwrap());
    for format in [Format::Human, Format::Json] {
        let mut out = Vec::new();
        render_settings(&settings, format, &mut out).unwrap();
        assert_safe("settings", &String::from_utf8(out).unwrap());
    }
}
