//! Rules about the account rather than one connection: what discovery found
//! (sources that disagree, settings over plain HTTP, provider notes, retired host
//! names), the login tests (with the catalogue's explanation of a refusal), the
//! relay tests, and a run cut short.

use super::Finding;
use crate::diagnose::Severity;
use crate::discover::SourceKind;
use crate::login::{Login, LoginResult, RelayResult};
use crate::report::Report;

pub(super) fn check(report: &Report, raw: &mut Vec<Finding>) {
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

fn discovery(report: &Report, raw: &mut Vec<Finding>) {
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

fn login_combination(login: &Login) -> Vec<String> {
    login
        .combination
        .iter()
        .map(|c| format!("{c}@{}", login.host))
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
        LoginResult::Failed => {
            let (cause, fix) = login.explanation.as_ref().map_or_else(
                || {
                    (
                        login.reason.clone().unwrap_or_else(|| {
                            format!("The {} login on {} failed", login.protocol, login.host)
                        }),
                        "Check the username and password; read the server's reply below."
                            .to_owned(),
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

fn relay(report: &Report, raw: &mut Vec<Finding>) {
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
            .map(|c| format!("{c}@{}", t.host))
            .collect();
        if let Some(r) = &t.rcpt_to {
            f = f.because(format!("RCPT TO:<{}>: {r}", t.recipient));
        }
        raw.push(f);
    }
}
