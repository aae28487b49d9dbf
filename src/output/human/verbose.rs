//! What `-v` adds to the human report: each combination's failure and warnings
//! in full, the login replies and send test, the relay test and the transcripts.

use std::io::{self, Write};

use colored::Colorize;

use super::matrix::short;
use crate::output::text::{capped, clean, setting, wrap};

/// The most of one transcript line shown (the driver allows 8 KiB).
const LINE: usize = 1000;
use crate::report::{Login, LoginResult, ProbeReport, RelayResult, Report, SendOutcome};

pub(super) fn details(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let troubled: Vec<&ProbeReport> = report
        .run
        .probes
        .iter()
        .filter(|p| p.failure.is_some() || !p.warnings.is_empty())
        .collect();
    if troubled.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n{}", "Details".bold())?;
    let hosts = report
        .run
        .probes
        .iter()
        .map(|p| p.host.as_str())
        .collect::<std::collections::BTreeSet<_>>();
    for p in troubled {
        let on = if hosts.len() > 1 {
            format!(" on {}", p.host)
        } else {
            String::new()
        };
        let name = format!("{} {} {}{on}", p.protocol, p.port, p.security);
        let failures = p.failure.iter().map(|f| ("✗".red(), f));
        let warnings = p.warnings.iter().map(|w| ("⚠".yellow(), w));
        for (mark, f) in failures.chain(warnings) {
            let head = format!("{name}: {} [{} in {}]", short(f.code), f.code, f.phase);
            marked(out, &mark, &head)?;
            for line in wrap(&capped(&f.message, LINE), 76) {
                writeln!(out, "    {line}")?;
            }
        }
    }
    Ok(())
}

pub(super) fn logins(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    if report.run.logins.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n{}", "Login test".bold())?;
    for l in &report.run.logins {
        login_head(l, out)?;
        login_details(l, out)?;
    }
    Ok(())
}

fn login_head(l: &Login, out: &mut dyn Write) -> io::Result<()> {
    let via = l.combination.map(setting).unwrap_or_default();
    let (mark, what) = match l.result {
        LoginResult::Ok => (
            "✓".green(),
            format!(
                "logged in as {}",
                l.usernames.last().map_or("?", String::as_str)
            ),
        ),
        LoginResult::Failed if l.usernames.is_empty() => ("✗".red(), "failed".to_owned()),
        LoginResult::Failed => (
            "✗".red(),
            format!("refused for {}", l.usernames.join(", then ")),
        ),
        LoginResult::ConnectionFailed => (
            "✗".red(),
            "the connection broke before the server answered".to_owned(),
        ),
        LoginResult::NotAttempted => ("–".yellow(), "not attempted".to_owned()),
        LoginResult::Cancelled => (
            "–".yellow(),
            "cut short by the end of the run; the credentials may have been sent".to_owned(),
        ),
    };
    let head = if via.is_empty() {
        format!("{} on {}: {what}", l.protocol, l.host)
    } else {
        format!("{} on {} via {via}: {what}", l.protocol, l.host)
    };
    marked(out, &mark, &head)?;
    Ok(())
}

fn login_details(l: &Login, out: &mut dyn Write) -> io::Result<()> {
    let indented = |out: &mut dyn Write, text: &str| -> io::Result<()> {
        for line in wrap(text, 76) {
            writeln!(out, "    {line}")?;
        }
        Ok(())
    };
    let attempts = l
        .probe
        .as_ref()
        .and_then(|p| p.session.as_ref())
        .and_then(|s| s.auth.as_ref());
    for a in attempts.into_iter().flat_map(|o| &o.attempts) {
        indented(
            out,
            &format!(
                "{} with {}: {}",
                a.username,
                a.mechanism,
                a.reply.replace('\n', " / ")
            ),
        )?;
    }
    if let Some(reason) = &l.reason {
        indented(out, reason)?;
    }
    if let Some(e) = &l.explanation {
        if let Some(alert) = &e.alert {
            indented(out, &format!("Server alert: {alert}"))?;
        }
        indented(out, &format!("Why: {}", e.cause))?;
        indented(out, &format!("Fix: {}", e.fix))?;
    }
    if l.secret_exposed {
        let warning = format!(
            "the {} travelled without verified encryption (--allow-insecure-auth)",
            l.secret_word()
        );
        writeln!(out, "    {}", warning.red().bold())?;
    }
    if let Some(send) = &l.send {
        indented(out, &send_test(send))?;
    }
    Ok(())
}

/// "Send test: the server accepts …; nothing was sent (250 … / 250 …)".
fn send_test(send: &SendOutcome) -> String {
    let verdict = if send.accepted {
        "the server accepts this sender and recipient"
    } else {
        "the server refused the envelope"
    };
    let sent = if send.data.is_some() {
        "the test message was sent"
    } else {
        "nothing was sent"
    };
    let replies: Vec<&str> = [&send.mail_from, &send.rcpt_to, &send.data]
        .into_iter()
        .filter_map(|r| r.as_deref())
        .collect();
    format!("Send test: {verdict}; {sent} ({})", replies.join(" / "))
}

pub(super) fn relay_tests(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    if report.run.relay_tests.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n{}", "Relay test (no login)".bold())?;
    for t in &report.run.relay_tests {
        let via = t.combination.map(setting).unwrap_or_default();
        let (mark, what) = match t.result {
            RelayResult::Refused => (
                "✓".green(),
                "refuses to relay without a login, as it should".to_owned(),
            ),
            RelayResult::OpenRelay => (
                "✗".red(),
                format!(
                    "OPEN RELAY: accepted mail for {} without a login",
                    t.recipient
                )
                .red()
                .bold()
                .to_string(),
            ),
            RelayResult::NotTested => ("–".yellow(), "not tested".to_owned()),
        };
        let head = if via.is_empty() {
            format!("SMTP on {}: {what}", t.host)
        } else {
            format!("SMTP on {} via {via}: {what}", t.host)
        };
        marked(out, &mark, &head)?;
        let detail = t
            .rcpt_to
            .as_deref()
            .or(t.reason.as_deref())
            .unwrap_or_default();
        for line in wrap(detail, 76) {
            writeln!(out, "    {line}")?;
        }
    }
    Ok(())
}

pub(super) fn transcripts(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let login_probes = report
        .run
        .logins
        .iter()
        .filter_map(|l| l.probe.as_ref())
        .chain(
            report
                .run
                .relay_tests
                .iter()
                .filter_map(|t| t.probe.as_ref()),
        );
    for p in report
        .run
        .probes
        .iter()
        .chain(login_probes)
        .filter(|p| !p.transcript.is_empty())
    {
        writeln!(
            out,
            "\n{}",
            format!(
                "Transcript: {} {} {} on {}",
                p.protocol,
                p.port,
                p.security,
                clean(&p.host)
            )
            .bold()
        )?;
        for l in &p.transcript {
            let arrow = match l.from {
                "server" => "S:",
                "client" => "C:",
                _ => "--",
            };
            writeln!(out, "{:>6}ms {arrow} {}", l.t_ms, capped(&l.text, LINE))?;
        }
    }
    Ok(())
}

/// `text` wrapped at 78 columns, the first line after `mark`, the others indented
/// to match.
fn marked(out: &mut dyn Write, mark: &dyn std::fmt::Display, text: &str) -> io::Result<()> {
    for (i, line) in wrap(text, 78).into_iter().enumerate() {
        if i == 0 {
            writeln!(out, "{mark} {line}")?;
        } else {
            writeln!(out, "  {line}")?;
        }
    }
    Ok(())
}
