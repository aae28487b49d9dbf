//! The human renderer: one row per combination, readable in 80 columns, then what
//! explains each failure, then what works.

use std::io::{self, Write};

use colored::Colorize;

use super::Options;
use super::text::{format_ms, setting, truncate, wrap};
use crate::diagnose::Client;
use crate::model::{Code, Combination, Security};
use crate::report::{
    Login, LoginResult, ProbeReport, RelayResult, Report, SendOutcome, Severity, Status,
};

/// Writes the report for a person; `verbose` adds every transcript.
pub fn render(report: &Report, opts: &Options, out: &mut dyn Write) -> io::Result<()> {
    if let Some(d) = &report.run.discovery {
        super::settings::header(d, out)?;
        super::settings::sources(d, out)?;
        super::settings::notes(d, out)?;
        writeln!(out)?;
    }
    for note in &report.run.notes {
        for (i, line) in wrap(note, 72).into_iter().enumerate() {
            let lead = if i == 0 {
                format!("{} ", "Note:".yellow().bold())
            } else {
                " ".repeat(6)
            };
            writeln!(out, "{lead}{line}")?;
        }
    }
    let mut host: Option<&str> = None;
    if !report.run.probes.is_empty() {
        writeln!(
            out,
            "{:<5} {:>5}  {:<9} {:<6} {:<40} {:>6}",
            "PROTO", "PORT", "SECURITY", "RESULT", "DETAIL", "TIME"
        )?;
    }
    for p in &report.run.probes {
        if host != Some(p.host.as_str()) {
            writeln!(out, "{}", format!("{}:", p.host).bold())?;
            host = Some(&p.host);
        }
        row(p, out)?;
    }
    findings(report, out)?;
    settings_block(report, opts.client, out)?;
    logins(report, out)?;
    relay_tests(report, out)?;
    if opts.verbose {
        problems(report, out)?;
        transcripts(report, out)?;
    }
    summary(report, out)
}

/// The findings, most severe first, each with its fix.
fn findings(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    if report.findings.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n{}", "Findings".bold())?;
    for f in &report.findings {
        let mark = match f.severity {
            Severity::Critical => "✗".red().bold(),
            Severity::Warning => "⚠".yellow(),
            Severity::Info => "i".blue(),
            Severity::Ok => "✓".green(),
        };
        for (i, line) in wrap(&f.cause, 76).into_iter().enumerate() {
            let lead = if i == 0 {
                format!("{mark} ")
            } else {
                "  ".to_owned()
            };
            writeln!(out, "{lead}{line}")?;
        }
        if f.severity > Severity::Ok {
            for line in wrap(&format!("Fix: {}", f.fix), 74) {
                writeln!(out, "    {line}")?;
            }
        }
    }
    Ok(())
}

/// "Use these settings", in the words of the user's mail client.
fn settings_block(report: &Report, client: Client, out: &mut dyn Write) -> io::Result<()> {
    let rec = &report.recommendation;
    if rec.incoming.is_none() && rec.outgoing.is_none() {
        return Ok(());
    }
    writeln!(out, "\n{}", "Use these settings".bold())?;
    for line in crate::diagnose::words(rec, client) {
        writeln!(out, "  {line}")?;
    }
    Ok(())
}

fn row(p: &ProbeReport, out: &mut dyn Write) -> io::Result<()> {
    let result = match p.status {
        Status::Ok => "✓ ok".green(),
        Status::Warning => "⚠ warn".yellow(),
        Status::Failed => "✗ FAIL".red().bold(),
        Status::Cancelled => "… cut".yellow(),
    };
    let time = if p.inferred {
        "-".to_owned()
    } else {
        format_ms(p.duration_ms)
    };
    let detail = truncate(&detail(p), 40);
    // Pad the plain text before colouring, so escape codes do not break alignment.
    let pad = 6usize.saturating_sub(result.chars().count());
    writeln!(
        out,
        "{:<5} {:>5}  {:<9} {}{} {:<40} {:>6}",
        p.protocol.to_string(),
        p.port,
        p.security.to_string(),
        result,
        " ".repeat(pad),
        detail,
        time
    )
}

/// The key detail of a row: TLS and certificate on success, the cause on failure.
fn detail(p: &ProbeReport) -> String {
    let inferred = if p.inferred { " (inferred)" } else { "" };
    if let Some(f) = &p.failure {
        return format!("{}{inferred}", short(f.code));
    }
    let mut parts = Vec::new();
    if let Some(tls) = &p.tls {
        parts.push(tls.version.clone().unwrap_or_else(|| "TLS".into()));
        if let Some(leaf) = tls
            .certificate
            .as_ref()
            .and_then(|c| c.certificates.first())
        {
            parts.push(format!("cert {} days left", leaf.days_left));
        }
    } else if p.security == Security::Plain {
        parts.push("works, NO encryption".into());
    }
    if let Some(w) = p.warnings.first() {
        parts.push(short(w.code).to_owned());
    }
    format!("{}{inferred}", parts.join(", "))
}

/// A few words per code, for the matrix.
#[must_use]
pub fn short(code: Code) -> &'static str {
    match code {
        Code::DnsNameNotFound => "name does not exist",
        Code::DnsNoAddress => "name has no address",
        Code::DnsTimeout => "DNS timed out",
        Code::DnsServerFailure => "DNS server failed",
        Code::ConnectRefused => "connection refused",
        Code::ConnectTimeout => "connect timed out (filtered?)",
        Code::NetworkUnreachable => "network unreachable",
        Code::ConnectionReset => "connection reset",
        Code::ConnectionClosed => "server hung up",
        Code::TlsGotPlaintext => "plaintext, not TLS: wrong mode",
        Code::TlsAlert => "TLS alert from server",
        Code::TlsHandshakeFailed => "TLS handshake failed",
        Code::TlsTimeout => "no TLS answer (silent)",
        Code::TlsVersionTooOld => "only TLS < 1.2 offered",
        Code::CertExpired => "certificate expired",
        Code::CertNotYetValid => "certificate not yet valid",
        Code::CertNameMismatch => "certificate for another name",
        Code::CertSelfSigned => "self-signed certificate",
        Code::CertUntrusted => "untrusted certificate",
        Code::CertIncompleteChain => "incomplete certificate chain",
        Code::CertInvalid => "certificate rejected",
        Code::NoGreeting => "silent: wants SSL/TLS?",
        Code::SlowGreeting => "slow greeting",
        Code::WrongProtocol => "another protocol answers",
        Code::GreetingRejected => "server refuses service",
        Code::StartTlsNotAdvertised => "no STARTTLS offered",
        Code::StartTlsRefused => "STARTTLS refused",
        Code::StartTlsInjection => "data injected at STARTTLS",
        Code::LineTooLong => "line too long",
        Code::ReplyTooLong => "reply too long",
        Code::ProbeTooLarge => "server sent too much",
        Code::InvalidBytes => "garbage bytes",
        Code::ProtocolViolation => "protocol error",
        Code::ReplyTimeout => "server stopped answering",
        Code::ExpectsImplicitTls => "expects SSL/TLS",
        Code::Cancelled => "not finished",
    }
}

fn problems(report: &Report, out: &mut dyn Write) -> io::Result<()> {
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
            for (i, line) in wrap(&head, 78).into_iter().enumerate() {
                let lead = if i == 0 {
                    format!("{mark} ")
                } else {
                    "  ".to_owned()
                };
                writeln!(out, "{lead}{line}")?;
            }
            for line in wrap(&f.message, 76) {
                writeln!(out, "    {line}")?;
            }
        }
    }
    Ok(())
}

fn logins(report: &Report, out: &mut dyn Write) -> io::Result<()> {
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
        LoginResult::NotAttempted => ("–".yellow(), "not attempted".to_owned()),
    };
    let head = if via.is_empty() {
        format!("{} on {}: {what}", l.protocol, l.host)
    } else {
        format!("{} on {} via {via}: {what}", l.protocol, l.host)
    };
    for (i, line) in wrap(&head, 78).into_iter().enumerate() {
        let lead = if i == 0 {
            format!("{mark} ")
        } else {
            "  ".to_owned()
        };
        writeln!(out, "{lead}{line}")?;
    }
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
        writeln!(
            out,
            "    {}",
            "the password travelled without verified encryption (--allow-insecure-auth)"
                .red()
                .bold()
        )?;
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

fn relay_tests(report: &Report, out: &mut dyn Write) -> io::Result<()> {
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
        for (i, line) in wrap(&head, 78).into_iter().enumerate() {
            let lead = if i == 0 {
                format!("{mark} ")
            } else {
                "  ".to_owned()
            };
            writeln!(out, "{lead}{line}")?;
        }
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

fn transcripts(report: &Report, out: &mut dyn Write) -> io::Result<()> {
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
                p.protocol, p.port, p.security, p.host
            )
            .bold()
        )?;
        for l in &p.transcript {
            let arrow = match l.from {
                "server" => "S:",
                "client" => "C:",
                _ => "--",
            };
            writeln!(out, "{:>6}ms {arrow} {}", l.t_ms, l.text)?;
        }
    }
    Ok(())
}

fn summary(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out)?;
    for r in &report.summary.unmet_requirements {
        writeln!(
            out,
            "{} {r} does not work (--require)",
            "Required:".red().bold()
        )?;
    }
    if let Some(why) = &report.run.cut_short {
        writeln!(
            out,
            "{}",
            format!("Run cut short ({why}): unfinished combinations are marked 'cut'.").yellow()
        )?;
    }
    directions(report, out)
}

/// Per direction: what works, or why nothing does.
fn directions(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let probed = |incoming: bool| {
        report
            .run
            .probes
            .iter()
            .any(|p| p.protocol.is_incoming() == incoming)
    };
    let list = |v: &[Combination]| v.iter().map(|c| setting(*c)).collect::<Vec<_>>().join(", ");
    if let Some(d) = &report.run.discovery {
        for (incoming, what) in [(true, "Incoming:"), (false, "Outgoing:")] {
            if !probed(incoming) && report.run.cut_short.is_none() {
                let text = format!(
                    "no server found for {} (every source above came back empty)",
                    d.address.domain
                );
                labelled(out, what, &text)?;
            }
        }
    }
    if probed(true) {
        if report.summary.secure_incoming.is_empty() {
            let why = nothing_works(report, true, "read");
            writeln!(out, "{} {why}", "Incoming:".bold())?;
        } else {
            labelled(
                out,
                "Incoming works:",
                &list(&report.summary.secure_incoming),
            )?;
        }
    }
    if probed(false) {
        if report.summary.secure_outgoing.is_empty() {
            let why = nothing_works(report, false, "send");
            writeln!(out, "{} {why}", "Outgoing:".bold())?;
        } else {
            labelled(
                out,
                "Outgoing works:",
                &list(&report.summary.secure_outgoing),
            )?;
        }
    }
    Ok(())
}

/// Why a direction has nothing to show: no secure combination, or (with
/// credentials) no successful login.
fn nothing_works(report: &Report, incoming: bool, verb: &str) -> String {
    let secure_worked = report.run.probes.iter().any(|p| {
        p.protocol.is_incoming() == incoming
            && !p.inferred
            && p.security.is_secure()
            && matches!(p.status, Status::Ok | Status::Warning)
    });
    if secure_worked && !report.run.logins.is_empty() {
        format!("secure connections work, but no login to {verb} mail succeeded")
    } else {
        format!("no secure way to {verb} mail works")
    }
}

/// A bold label and a text wrapped to 80 columns, continuation lines indented.
fn labelled(out: &mut dyn Write, label: &str, text: &str) -> io::Result<()> {
    let indent = label.chars().count() + 1;
    for (i, line) in wrap(text, 80 - indent).into_iter().enumerate() {
        if i == 0 {
            writeln!(out, "{} {line}", label.bold())?;
        } else {
            writeln!(out, "{:indent$}{line}", "")?;
        }
    }
    Ok(())
}
