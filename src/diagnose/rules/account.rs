//! Rules about the account rather than one connection: what discovery found
//! (sources that disagree, settings over plain HTTP, provider notes, retired host
//! names), the login tests (with the catalogue's explanation of a refusal), the
//! relay tests, and a run cut short.

use crate::model::Endpoint;
use crate::report::{Finding, Login, LoginResult, RelayResult, Run, Severity, SourceKind};

pub(super) fn check(report: &Run, raw: &mut Vec<Finding>) {
    discovery(report, raw);
    for note in &report.notes {
        retired_host(note, raw);
    }
    for login in &report.logins {
        raw.push(login_finding(login));
        if login.secret_exposed {
            raw.push(secret_exposed(login));
        }
    }
    relay(report, raw);
    if let Some(why) = &report.cut_short {
        raw.push(
            Finding::new(
                "run_cut_short",
                Severity::Warning,
                None,
                format!("The run was cut short ({why}); some combinations were not finished"),
                "Run again with a longer --deadline, or without interrupting it.",
            )
            .because(why.clone()),
        );
    }
}

fn discovery(report: &Run, raw: &mut Vec<Finding>) {
    let Some(d) = &report.discovery else { return };
    if !d.disagreements.is_empty() {
        let mut f = Finding::new(
            "sources_disagree",
            Severity::Info,
            None,
            format!("The sources of settings for {} disagree", d.address.domain),
            "Trust the combinations that worked below; tell the domain's administrator to align the published settings.",
        );
        for line in &d.disagreements {
            f = f.because(line.clone());
        }
        raw.push(f);
    }
    for s in &d.sources {
        if s.kind == SourceKind::Autoconfig && s.plain_http && !s.settings.is_empty() {
            raw.push(
                Finding::new(
                    "http_autoconfig",
                    Severity::Warning,
                    None,
                    "Settings were fetched over plain HTTP, so anyone on the path could have changed them",
                    "Check the settings against the provider's own page; domain owner: serve autoconfig over HTTPS.",
                )
                .because(s.query.clone()),
            );
        }
    }
    if let Some(p) = &d.provider {
        for note in &p.notes {
            raw.push(
                Finding::new(
                    &format!("provider_note_{}", note.key),
                    Severity::Info,
                    None,
                    note.text.clone(),
                    format!("See {}'s help pages (facts checked {}).", p.name, p.checked),
                )
                .because(format!("provider: {}", p.id)),
            );
        }
    }
}

/// Notes of the form "{host} is a retired {protocol} name for {provider}; use … instead".
fn retired_host(note: &str, raw: &mut Vec<Finding>) {
    let Some((host, _)) = note.split_once(" is a retired ") else {
        return;
    };
    let fix = note
        .split_once("; ")
        .map_or("Use the provider's current server name.", |(_, f)| f);
    let mut fix = fix.to_owned();
    if let Some(first) = fix.get(..1) {
        fix = first.to_uppercase() + &fix[1..] + ".";
    }
    raw.push(
        Finding::new(
            "retired_host",
            Severity::Warning,
            Some(host),
            note.split_once("; ").map_or(note, |(c, _)| c).to_owned(),
            fix,
        )
        .because(note.to_owned()),
    );
}

fn login_combination(login: &Login) -> Vec<Endpoint> {
    login
        .combination
        .iter()
        .map(|c| Endpoint::new(login.host.clone(), *c))
        .collect()
}

fn login_finding(login: &Login) -> Finding {
    let who = login
        .usernames
        .last()
        .map_or(String::new(), |u| format!(" as {u}"));
    let mut f = match login.result {
        LoginResult::Ok => Finding::new(
            "login_ok",
            Severity::Ok,
            Some(&login.host),
            format!("{} login{who} works on {}", login.protocol, login.host),
            "Nothing to do.",
        ),
        LoginResult::Failed => login_failed(login),
        LoginResult::NotAttempted => Finding::new(
            "login_not_attempted",
            Severity::Warning,
            Some(&login.host),
            login.reason.clone().unwrap_or_else(|| {
                format!(
                    "The {} login on {} was not attempted",
                    login.protocol, login.host
                )
            }),
            "Fix the findings above so a combination works over verified TLS, then test again.",
        ),
    };
    if let Some(reply) = login
        .probe
        .as_ref()
        .and_then(|p| p.session.as_ref())
        .and_then(|s| s.auth.as_ref())
        .and_then(|a| a.attempts.last())
        .filter(|a| !a.ok)
    {
        f = f.because(format!(
            "{} {}: {}",
            reply.mechanism, reply.username, reply.reply
        ));
    }
    f.combinations = login_combination(login);
    f
}

/// A refused login: the explanation's cause and fix when there is one.
fn login_failed(login: &Login) -> Finding {
    let (cause, fix) = login.explanation.as_ref().map_or_else(
        || {
            (
                login.reason.clone().unwrap_or_else(|| {
                    format!("The {} login on {} failed", login.protocol, login.host)
                }),
                "Check the username and password; read the server's reply below.".to_owned(),
            )
        },
        |e| (e.cause.clone(), e.fix.clone()),
    );
    let mut f = Finding::new(
        "login_failed",
        Severity::Critical,
        Some(&login.host),
        cause,
        fix,
    );
    if let Some(e) = &login.explanation {
        f = f.because(format!("explanation: {}", e.code));
        if let Some(alert) = &e.alert {
            f = f.because(format!("ALERT: {alert}"));
        }
    }
    if let Some(reason) = &login.reason {
        f = f.because(reason.clone());
    }
    f
}

fn secret_exposed(login: &Login) -> Finding {
    let mut f = Finding::new(
        "secret_exposed",
        Severity::Critical,
        Some(&login.host),
        format!(
            "The password for {} on {} went over plaintext or unverified TLS (--allow-insecure-auth)",
            login.protocol, login.host
        ),
        "Change the password, and only use SSL/TLS or STARTTLS with a verified certificate.",
    );
    f.combinations = login_combination(login);
    f
}

fn relay(report: &Run, raw: &mut Vec<Finding>) {
    for t in &report.relay_tests {
        let (code, severity, cause, fix) = match t.result {
            RelayResult::OpenRelay => (
                "open_relay",
                Severity::Critical,
                format!(
                    "{} accepts mail for outside recipients without a login: an open relay",
                    t.host
                ),
                "Server: only relay for authenticated users or your own networks (Postfix smtpd_relay_restrictions).",
            ),
            RelayResult::Refused => (
                "relay_refused",
                Severity::Ok,
                format!(
                    "{} refuses to relay for outside recipients without a login",
                    t.host
                ),
                "Nothing to do.",
            ),
            RelayResult::NotTested => continue,
        };
        let mut f = Finding::new(code, severity, Some(&t.host), cause, fix);
        f.combinations = t
            .combination
            .iter()
            .map(|c| Endpoint::new(t.host.clone(), *c))
            .collect();
        if let Some(r) = &t.rcpt_to {
            f = f.because(format!("RCPT TO:<{}>: {r}", t.recipient));
        }
        raw.push(f);
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::testing::{HOST, discovery, login, ok, report};
    use crate::diagnose::{Options, findings};
    use crate::report::Explanation;
    use crate::report::Finding;
    use crate::report::LoginResult;
    use crate::report::Note;
    use crate::report::ProviderMatch;
    use crate::report::RelayResult;
    use crate::report::RelayTest;
    use crate::report::Run;
    use crate::report::Severity;
    use crate::report::SourceKind;
    use crate::report::SourceReport;

    fn find(r: &Run, code: &str) -> Option<Finding> {
        findings(r, &Options::default())
            .into_iter()
            .find(|f| f.code == code)
    }

    #[test]
    fn discovery_disagreements_plain_http_and_provider_notes() {
        let mut d = discovery();
        d.disagreements
            .push("SRV says 993, autoconfig says 143".into());
        let mut http = SourceReport::new(
            SourceKind::Autoconfig,
            "http://autoconfig.example.com/mail/config-v1.1.xml".into(),
        );
        http.plain_http = true;
        http.settings = vec![crate::report::Setting {
            protocol: crate::model::Protocol::Imap,
            host: HOST.into(),
            port: 993,
            security: crate::model::Security::Tls,
            username: None,
            auth: None,
        }];
        d.sources.push(http);
        d.provider = Some(ProviderMatch {
            id: "outlook".into(),
            name: "Outlook.com".into(),
            via: SourceKind::Provider,
            notes: vec![Note {
                key: "oauth2_only".into(),
                text: "Password login is off; use OAuth2.".into(),
            }],
            checked: "2025-01-01".into(),
        });
        let mut r = report(vec![]);
        r.discovery = Some(d);
        let f = find(&r, "sources_disagree").unwrap();
        assert_eq!(f.evidence, ["SRV says 993, autoconfig says 143"]);
        assert_eq!(f.host, None);
        assert!(find(&r, "http_autoconfig").unwrap().evidence[0].starts_with("http://"));
        let note = find(&r, "provider_note_oauth2_only").unwrap();
        assert_eq!(note.severity, Severity::Info);
    }

    #[test]
    fn a_retired_host_note_becomes_a_finding_with_the_replacement() {
        let mut r = report(vec![]);
        r.notes.push(
            "pop3.live.com is a retired POP3 name for Outlook.com; use outlook.office365.com:995 SSL/TLS instead".into(),
        );
        let f = find(&r, "retired_host").unwrap();
        assert_eq!(f.host.as_deref(), Some("pop3.live.com"));
        assert!(
            f.fix.starts_with("Use outlook.office365.com:995"),
            "{}",
            f.fix
        );
    }

    #[test]
    fn logins_ok_failed_not_attempted_and_exposed() {
        let mut r = report(vec![ok("imap:993:tls")]);
        r.logins
            .push(login("imap:993:tls", LoginResult::Ok, &["alice"]));
        let mut bad = login("smtp:465:tls", LoginResult::Failed, &["alice@example.com"]);
        bad.explanation = Some(Explanation {
            code: "microsoft_basic_auth_disabled".into(),
            cause: "Microsoft has turned off password login.".into(),
            fix: "Use OAuth2.".into(),
            provider_specific: true,
            alert: None,
        });
        bad.secret_exposed = true;
        r.logins.push(bad);
        let mut skipped = login("pop3:995:tls", LoginResult::NotAttempted, &[]);
        skipped.reason = Some("no POP3 combination worked over TLS".into());
        r.logins.push(skipped);
        let ok = find(&r, "login_ok").unwrap();
        assert_eq!(
            crate::diagnose::testing::labels(&ok.combinations),
            [format!("imap:993:tls@{HOST}")]
        );
        assert!(ok.cause.contains("as alice"));
        let failed = find(&r, "login_failed").unwrap();
        assert_eq!(failed.cause, "Microsoft has turned off password login.");
        assert_eq!(failed.fix, "Use OAuth2.");
        assert!(
            failed
                .evidence
                .contains(&"explanation: microsoft_basic_auth_disabled".to_owned())
        );
        assert_eq!(
            find(&r, "secret_exposed").unwrap().severity,
            Severity::Critical
        );
        assert_eq!(
            find(&r, "login_not_attempted").unwrap().cause,
            "no POP3 combination worked over TLS"
        );
    }

    #[test]
    fn relay_tests_open_or_refused_and_a_cut_short_run() {
        let relay = |result, rcpt: &str| RelayTest {
            host: HOST.into(),
            combination: Some(crate::model::Combination::new(
                crate::model::Protocol::Smtp,
                25,
                crate::model::Security::StartTls,
            )),
            recipient: "x@example.net".into(),
            result,
            mail_from: Some("250 ok".into()),
            rcpt_to: Some(rcpt.into()),
            reason: None,
            probe: None,
        };
        let mut r = report(vec![]);
        r.relay_tests
            .push(relay(RelayResult::OpenRelay, "250 2.1.5 Ok"));
        assert_eq!(find(&r, "open_relay").unwrap().severity, Severity::Critical);
        r.relay_tests[0] = relay(RelayResult::Refused, "554 5.7.1 Relay access denied");
        let f = find(&r, "relay_refused").unwrap();
        assert_eq!(f.severity, Severity::Ok);
        assert!(f.evidence[0].contains("554"));
        r.cut_short = Some("deadline".into());
        assert!(find(&r, "run_cut_short").is_some());
    }
}
