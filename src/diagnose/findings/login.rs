//! Causes about the account and the password: a refused login (one finding per
//! reason, listing every protocol it hit), a login not attempted, a password
//! sent where it could be read, a refused send test, an open relay, and where
//! a password could travel in clear before TLS.
//!
//! A plaintext session exposes the password only when it offers a mechanism that
//! sends it (POP3 USER/PASS, IMAP LOGIN, AUTH PLAIN or LOGIN); challenge-response
//! mechanisms (CRAM-MD5, SCRAM, DIGEST-MD5, APOP, NTLM) are a weaker point of
//! their own (RFC 8314 §3, RFC 2595 §3.1, RFC 9051 §6.2.3).

use super::software::{self, Software};
use super::{Facts, and_list, works};
use crate::diagnose::recommend::{demands, family};
use crate::model::{Endpoint, Protocol, Security};
use crate::report::{Category, Finding, Login, LoginResult, ProbeReport, RelayResult, Severity};

pub(super) fn check(facts: &Facts<'_>, out: &mut Vec<Finding>) {
    refused(facts, out);
    out.extend(logged_in(facts));
    broken(facts, out);
    not_attempted(facts, out);
    for l in facts.run.logins.iter().filter(|l| l.secret_exposed) {
        out.push(exposed(l));
    }
    out.extend(send_refused(facts));
    relay(facts, out);
    password_in_clear(facts, out);
    out.extend(facts.run.notes.iter().filter_map(|n| token_unreadable(n)));
    if let Some(t) = &facts.run.oauth2_token {
        let note = crate::diagnose::oauth2::token_note(t);
        let about_logins =
            |f: &&mut Finding| f.category == Category::Login && f.code.starts_with("login_");
        for f in out.iter_mut().filter(about_logins) {
            f.evidence.push(note.clone());
        }
    }
}

fn endpoint(l: &Login) -> Option<Endpoint> {
    l.combination.map(|c| Endpoint::new(l.host.clone(), c))
}

/// The last reply to a refused attempt.
fn last_refusal(l: &Login) -> Option<String> {
    let a = l
        .probe
        .as_ref()?
        .session
        .as_ref()?
        .auth
        .as_ref()?
        .attempts
        .last()
        .filter(|a| !a.ok)?;
    Some(format!(
        "{} {} with {}: {}",
        l.protocol, a.username, a.mechanism, a.reply
    ))
}

/// Refused logins, one finding per reason (the explanation's code).
fn refused(facts: &Facts<'_>, out: &mut Vec<Finding>) {
    let mut groups: Vec<(String, Vec<&Login>)> = Vec::new();
    for l in facts
        .run
        .logins
        .iter()
        .filter(|l| l.result == LoginResult::Failed)
    {
        let key = l.explanation.as_ref().map_or_else(
            || format!("reason:{}", l.reason.clone().unwrap_or_default()),
            |e| {
                if CREDENTIALS.contains(&e.code.as_str()) {
                    "credentials".to_owned()
                } else {
                    e.code.clone()
                }
            },
        );
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, ls)) => ls.push(l),
            None => groups.push((key, vec![l])),
        }
    }
    for (_, ls) in fold_vague(groups) {
        out.push(refusal(&ls));
    }
}

/// Generic refusals (RFC response codes, the fallback): the same cause, "the
/// username or password was not accepted", whatever the protocol's words.
const CREDENTIALS: &[&str] = &[
    "smtp_credentials_invalid",
    "smtp_auth_rejected",
    "pop3_auth_failed",
    "imap_authentication_failed",
    "auth_refused",
];

/// One refused-login finding for the logins refused for one reason.
fn refusal(ls: &[&Login]) -> Finding {
    {
        let first = ls[0];
        let protocols: Vec<String> = ls.iter().map(|l| l.protocol.to_string()).collect();
        let (cause, fix) = first.explanation.as_ref().map_or_else(
            || {
                (
                    format!(
                        "The {} login failed: {}",
                        and_list(&protocols),
                        first
                            .reason
                            .clone()
                            .unwrap_or_else(|| "the server refused it".into())
                    ),
                    "Check the username and password; the server's reply is below.".to_owned(),
                )
            },
            |e| (e.cause.clone(), e.fix.clone()),
        );
        let mut f = Finding::new(
            "login_failed",
            Severity::Critical,
            Category::Login,
            cause,
            fix,
        );
        for l in ls {
            if let Some(e) = endpoint(l) {
                f = f.at(e);
            }
            f.affects.add_protocol(l.protocol);
            f.affects.add_host(&l.host);
            if let Some(r) = last_refusal(l) {
                f = f.because(r);
            }
            if let Some(alert) = l.explanation.as_ref().and_then(|e| e.alert.as_ref()) {
                f = f.because(format!("ALERT: {alert}"));
            }
        }
        if let Some(e) = &first.explanation {
            f = f.because(format!("explanation: {}", e.code));
        }
        f
    }
}

/// A clear refusal ("app password required") explains the vaguer refusals of
/// the same provider in the same run ("invalid credentials"): one cause.
fn fold_vague(mut groups: Vec<(String, Vec<&Login>)>) -> Vec<(String, Vec<&Login>)> {
    fn specific<'b>(ls: &[&'b Login]) -> Option<&'b crate::report::Explanation> {
        ls[0].explanation.as_ref().filter(|e| e.provider_specific)
    }
    let clear: Vec<(String, String)> = groups
        .iter()
        .filter_map(|(k, ls)| {
            let e = specific(ls)?;
            demands(&e.code).map(|_| (k.clone(), family(&e.code).to_owned()))
        })
        .collect();
    for (key, fam) in clear {
        let vague: Vec<String> = groups
            .iter()
            .filter(|(k, ls)| {
                *k != key
                    && specific(ls)
                        .is_some_and(|e| family(&e.code) == fam && demands(&e.code).is_none())
            })
            .map(|(k, _)| k.clone())
            .collect();
        for v in vague {
            let Some(i) = groups.iter().position(|(k, _)| *k == v) else {
                continue;
            };
            let (_, moved) = groups.remove(i);
            if let Some((_, ls)) = groups.iter_mut().find(|(k, _)| *k == key) {
                ls.extend(moved);
            }
        }
    }
    groups
}

/// Logins that worked: one finding.
fn logged_in(facts: &Facts<'_>) -> Option<Finding> {
    let ok: Vec<&Login> = facts
        .run
        .logins
        .iter()
        .filter(|l| l.result == LoginResult::Ok)
        .collect();
    let first = ok.first()?;
    let protocols: Vec<String> = ok.iter().map(|l| l.protocol.to_string()).collect();
    let user = first.usernames.last().cloned().unwrap_or_default();
    let mut f = Finding::new(
        "login_ok",
        Severity::Ok,
        Category::Login,
        format!("The {} login works as {user}", and_list(&protocols)),
        "Nothing to do.",
    );
    for l in ok {
        if let Some(e) = endpoint(l) {
            f = f.at(e);
        }
    }
    Some(f)
}

/// Logins whose connection broke before the server answered the credentials:
/// a connection failure, not a refused password.
fn broken(facts: &Facts<'_>, out: &mut Vec<Finding>) {
    let hit: Vec<&Login> = facts
        .run
        .logins
        .iter()
        .filter(|l| l.result == LoginResult::ConnectionFailed)
        .collect();
    let Some(first) = hit.first() else { return };
    let protocols: Vec<String> = hit
        .iter()
        .map(|l| format!("{} on {}", l.protocol, l.host))
        .collect();
    let mut f = Finding::new(
        "login_connection_failed",
        Severity::Critical,
        Category::Login,
        format!(
            "The connection broke during the {} login, before the server answered: nothing was refused, and nothing proven",
            and_list(&protocols)
        ),
        "Try again; if it lasts, the server or something on the path cuts the connection at login: tell the provider. \
         The password is not known to be wrong.",
    );
    for l in &hit {
        if let Some(e) = endpoint(l) {
            f = f.at(e);
        }
        f.affects.add_protocol(l.protocol);
        f.affects.add_host(&l.host);
    }
    if let Some(reason) = &first.reason {
        f = f.because(reason.clone());
    }
    out.push(f);
}

/// Logins not attempted. When no combination with a verified certificate was
/// left, that is a consequence: it is said under the TLS finding that caused it.
fn not_attempted(facts: &Facts<'_>, out: &mut Vec<Finding>) {
    for l in facts
        .run
        .logins
        .iter()
        .filter(|l| l.result == LoginResult::NotAttempted)
    {
        let reason = l
            .reason
            .clone()
            .unwrap_or_else(|| format!("The {} login on {} was not attempted", l.protocol, l.host));
        let consequence = format!(
            "so the {} login was not tried: no password or token was sent",
            l.protocol
        );
        let cause_found = out.iter_mut().find(|f| {
            matches!(
                f.category,
                Category::Tls | Category::Local | Category::Server
            ) && f.severity >= Severity::Warning
                && f.affects.hosts.contains(&l.host)
                && f.affects.protocols.contains(&l.protocol)
        });
        let consequence_of_it = reason.contains("verified certificate") || !l.changed.is_empty();
        if let Some(f) = cause_found.filter(|_| consequence_of_it) {
            f.evidence.push(consequence);
            continue;
        }
        // One cause for several logins (a stored OAuth2 token that could not be
        // refreshed): one finding that lists them all.
        if let Some(same) = out
            .iter_mut()
            .find(|f| f.code == "login_not_attempted" && f.cause == reason)
        {
            same.affects.add_host(&l.host);
            same.affects.add_protocol(l.protocol);
            continue;
        }
        out.push(not_sent(l, reason));
    }
}

/// A login not sent, for a reason of its own. When the reason has an
/// explanation (the authorization server's refusal), its fix is the one to follow.
fn not_sent(l: &Login, reason: String) -> Finding {
    let fix = l.explanation.as_ref().map_or_else(
        || {
            if reason.contains("takes OAuth2 token credentials") {
                NO_TOKEN_MECHANISM.to_owned()
            } else {
                "Fix the findings above so a combination works over verified TLS, then test again."
                    .to_owned()
            }
        },
        |e| e.fix.clone(),
    );
    let mut f = Finding::new(
        "login_not_attempted",
        Severity::Warning,
        Category::Login,
        reason,
        fix,
    );
    if let Some(e) = &l.explanation {
        f.evidence
            .push(format!("explanation: {}: {}", e.code, e.cause));
    }
    f.affects.add_host(&l.host);
    f.affects.add_protocol(l.protocol);
    f
}

/// What to do when the server takes no OAuth2 token (no XOAUTH2 or
/// OAUTHBEARER, RFC 7628) on this connection.
const NO_TOKEN_MECHANISM: &str = "This server does not take an OAuth2 token here (it offers neither XOAUTH2 nor OAUTHBEARER): \
     test the login with the account's password instead (--password-file, --password-cmd or --ask-password), \
     or check that these are the provider's servers for OAuth2.";

/// A stored OAuth2 token that could not be read, when none was required: the
/// run went on without a login test, and says why once.
fn token_unreadable(note: &str) -> Option<Finding> {
    note.starts_with(crate::diagnose::oauth2::TOKEN_UNREADABLE)
        .then(|| {
            Finding::new(
                "oauth2_token_unreadable",
                Severity::Warning,
                Category::Login,
                note.to_owned(),
                "Run mailcheck logout, then mailcheck login, for this address (docs/login.md); or give a password or token for the login test.",
            )
        })
}

fn exposed(l: &Login) -> Finding {
    let what = l.secret_word();
    let fix = if what == "password" {
        "Change the password, and from now on only use SSL/TLS or STARTTLS with a verified certificate."
    } else {
        "Revoke the token (mailcheck logout ADDRESS revokes one mailcheck login stored; otherwise remove the app's access in the account's security settings), \
         and from now on only use SSL/TLS or STARTTLS with a verified certificate."
    };
    let mut f = Finding::new(
        "secret_exposed",
        Severity::Critical,
        Category::Login,
        format!(
            "The {what} for {} on {} went over plaintext or unverified TLS (--allow-insecure-auth)",
            l.protocol, l.host
        ),
        fix,
    );
    if let Some(e) = endpoint(l) {
        f = f.at(e);
    }
    f
}

/// The send test: the login worked, but the server refused the envelope.
fn send_refused(facts: &Facts<'_>) -> Option<Finding> {
    let refused: Vec<&Login> = facts
        .run
        .logins
        .iter()
        .filter(|l| l.send.as_ref().is_some_and(|s| !s.accepted))
        .collect();
    let first = refused.first()?;
    let send = first.send.as_ref()?;
    let reply = send
        .rcpt_to
        .as_deref()
        .or(send.mail_from.as_deref())
        .or(send.data.as_deref())
        .unwrap_or_default();
    let sender = facts.run.inputs.address.clone().unwrap_or_default();
    let mut f = Finding::new(
        "send_refused",
        Severity::Critical,
        Category::Login,
        format!("The login worked, but {} refuses to send mail from {sender}", first.host),
        "Send from an address this account may use (its own address or an alias the provider knows); ask the provider about its sender policy.",
    )
    .because(format!("the server said: {reply}"));
    for l in refused {
        if let Some(e) = endpoint(l) {
            f = f.at(e);
        }
    }
    Some(f)
}

fn relay(facts: &Facts<'_>, out: &mut Vec<Finding>) {
    for t in &facts.run.relay_tests {
        let (code, severity, cause, fix) = match t.result {
            RelayResult::OpenRelay => (
                "open_relay",
                Severity::Critical,
                format!(
                    "{} accepts mail for outside recipients without a login: an open relay that spammers will use",
                    t.host
                ),
                "Server: relay only for logged-in users and your own networks (Postfix: smtpd_relay_restrictions).",
            ),
            RelayResult::Refused => (
                "relay_refused",
                Severity::Ok,
                format!(
                    "{} refuses to relay for outside recipients without a login, as it should",
                    t.host
                ),
                "Nothing to do.",
            ),
            RelayResult::NotTested => continue,
        };
        let mut f = Finding::new(code, severity, Category::Login, cause, fix);
        if let Some(c) = t.combination {
            f = f.at(Endpoint::new(t.host.clone(), c));
        }
        if let Some(r) = &t.rcpt_to {
            f = f.because(format!("RCPT TO:<{}>: {r}", t.recipient));
        }
        out.push(f);
    }
}

/// Mechanisms that send the password itself (base64 is not encryption).
const CLEARTEXT: &[&str] = &["PLAIN", "LOGIN"];
/// Mechanisms that prove the password without sending it.
const CHALLENGE: &[&str] = &["CRAM-MD5", "DIGEST-MD5", "NTLM", "GSSAPI", "APOP"];

/// The login methods a plaintext session offers, split into those that send
/// the password and those that only answer a challenge.
pub(crate) fn plaintext_logins(p: &ProbeReport) -> (Vec<String>, Vec<String>) {
    let Some(s) = &p.session else {
        return (Vec::new(), Vec::new());
    };
    let caps = match p.security {
        Security::StartTls => &s.capabilities_before_tls,
        Security::Plain => &s.capabilities,
        Security::Tls => return (Vec::new(), Vec::new()),
    };
    let upper: Vec<String> = caps.iter().map(|c| c.to_ascii_uppercase()).collect();
    let mut mechanisms: Vec<String> = Vec::new();
    for c in &upper {
        let list = c
            .strip_prefix("AUTH=")
            .map(|m| vec![m.to_owned()])
            .or_else(|| {
                c.strip_prefix("AUTH ")
                    .map(|l| l.split_whitespace().map(str::to_owned).collect())
            })
            .or_else(|| {
                c.strip_prefix("SASL ")
                    .map(|l| l.split_whitespace().map(str::to_owned).collect())
            })
            .unwrap_or_default();
        mechanisms.extend(list);
    }
    let mut clear: Vec<String> = Vec::new();
    let mut challenge: Vec<String> = Vec::new();
    for m in mechanisms {
        if CLEARTEXT.contains(&m.as_str()) {
            clear.push(format!("AUTH {m}"));
        } else if CHALLENGE.contains(&m.as_str()) || m.starts_with("SCRAM-") {
            challenge.push(format!("AUTH {m}"));
        }
    }
    match p.protocol {
        Protocol::Pop3 if upper.iter().any(|c| c == "USER") => clear.push("USER/PASS".into()),
        // IMAP LOGIN is allowed unless LOGINDISABLED says otherwise (RFC 9051 §6.2.3).
        Protocol::Imap if !caps.is_empty() && !upper.iter().any(|c| c == "LOGINDISABLED") => {
            clear.push("LOGIN".into());
        }
        _ => {}
    }
    if p.protocol == Protocol::Pop3
        && s.greeting
            .as_deref()
            .is_some_and(|g| g.contains('<') && g.contains('@'))
    {
        challenge.push("APOP".into());
    }
    (clear, challenge)
}

/// Plaintext sessions (None rows, and STARTTLS rows before the upgrade) that
/// accept a password: one finding per host; and those that offer only
/// challenge-response mechanisms.
fn password_in_clear(facts: &Facts<'_>, out: &mut Vec<Finding>) {
    for host in facts.hosts() {
        let mut clear: Vec<(&ProbeReport, Vec<String>)> = Vec::new();
        let mut challenge: Vec<(&ProbeReport, Vec<String>)> = Vec::new();
        for p in facts.on_host(host) {
            if p.security == Security::Plain && !works(p) {
                continue;
            }
            let (c, ch) = plaintext_logins(p);
            if !c.is_empty() {
                clear.push((p, c));
            } else if !ch.is_empty() {
                challenge.push((p, ch));
            }
        }
        if let Some(f) = in_clear(host, &clear) {
            out.push(f);
        }
        if let Some(f) = challenge_only(host, &challenge) {
            out.push(f);
        }
    }
}

/// "POP3 110 (USER/PASS, AUTH PLAIN)", once per protocol and port (the None
/// row and the STARTTLS row of a port show the same plaintext session).
fn port_names(hit: &[(&ProbeReport, Vec<String>)]) -> Vec<String> {
    let mut ports: Vec<(String, Vec<String>)> = Vec::new();
    for (p, mechanisms) in hit {
        let name = format!("{} {}", p.protocol, p.port);
        let i = ports
            .iter()
            .position(|(n, _)| *n == name)
            .unwrap_or_else(|| {
                ports.push((name, Vec::new()));
                ports.len() - 1
            });
        let entry = &mut ports[i].1;
        for m in mechanisms {
            if !entry.contains(m) {
                entry.push(m.clone());
            }
        }
    }
    ports
        .into_iter()
        .map(|(n, m)| format!("{n} ({})", m.join(", ")))
        .collect()
}

fn in_clear(host: &str, hit: &[(&ProbeReport, Vec<String>)]) -> Option<Finding> {
    let ps: Vec<&ProbeReport> = hit.iter().map(|(p, _)| *p).collect();
    let first = ps.first()?;
    let names = port_names(hit);
    let software: Vec<Software> = ps.iter().filter_map(|p| software::identify(p)).collect();
    let server_fix = if software.is_empty() {
        "Server: offer password logins only after TLS.".to_owned()
    } else {
        let mut settings: Vec<&str> = software.iter().map(|s| s.tls_before_login()).collect();
        settings.dedup();
        format!("Server: {}.", settings.join("; "))
    };
    let mut f = Finding::new(
        "password_in_clear",
        Severity::Warning,
        Category::Login,
        format!(
            "{} on {host} accept{} a password before any encryption: a client set to None, or one that skips STARTTLS, sends it readable to anyone on the path",
            and_list(&names),
            if names.len() == 1 { "s" } else { "" }
        ),
        format!("In the client, never choose None; use SSL/TLS or STARTTLS. {server_fix}"),
    )
    .on_all(ps.iter().copied());
    if let Some(g) = first.session.as_ref().and_then(|s| s.greeting.clone()) {
        f = f.because(format!("greeting: {g}"));
    }
    Some(f)
}

fn challenge_only(host: &str, hit: &[(&ProbeReport, Vec<String>)]) -> Option<Finding> {
    let ps: Vec<&ProbeReport> = hit.iter().map(|(p, _)| *p).collect();
    if ps.is_empty() {
        return None;
    }
    let names = port_names(hit);
    Some(
        Finding::new(
            "challenge_login_before_tls",
            Severity::Info,
            Category::Login,
            format!(
                "{} on {host} offer{} only challenge-response logins before encryption: the password is not sent, but an eavesdropper could try to guess it from the exchange",
                and_list(&names),
                if names.len() == 1 { "s" } else { "" }
            ),
            "In the client, use SSL/TLS or STARTTLS all the same. Server: offer logins only after TLS.",
        )
        .on_all(ps),
    )
}
