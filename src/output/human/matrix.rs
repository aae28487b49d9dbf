//! The matrix of combinations: compact by default (one line per protocol and
//! host, a mark per combination), as a full table with details and times under
//! `-v`.

use std::io::{self, Write};

use colored::{ColoredString, Colorize};

use crate::model::{Code, Security};
use crate::output::text::{clean, format_ms, truncate};
use crate::report::{ProbeReport, Report, Status};

/// Width of one compact cell ("587 STARTTLS ✓" and room).
const CELL: usize = 17;
/// Cells per line in the compact matrix.
const PER_LINE: usize = 4;

/// One line per protocol and host: every combination with a mark.
pub(super) fn compact(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let probes = &report.run.probes;
    if probes.is_empty() {
        return Ok(());
    }
    let mut hosts: Vec<&str> = Vec::new();
    for p in probes {
        if !hosts.contains(&p.host.as_str()) {
            hosts.push(&p.host);
        }
    }
    writeln!(
        out,
        "\n{}  ({} works, {} works without encryption, {} fails)",
        "Combinations tried".bold(),
        "✓".green(),
        "!".yellow(),
        "✗".red()
    )?;
    for host in hosts {
        writeln!(out, "  {}", clean(host).bold())?;
        for protocol in crate::model::Protocol::ALL {
            let row: Vec<&ProbeReport> = probes
                .iter()
                .filter(|p| p.host == host && p.protocol == protocol)
                .collect();
            for (i, cells) in row.chunks(PER_LINE).enumerate() {
                let label = if i == 0 {
                    protocol.to_string()
                } else {
                    String::new()
                };
                write!(out, "  {label:<5}")?;
                for (j, p) in cells.iter().enumerate() {
                    let text = format!("{:>3} {}", p.port, p.security);
                    let pad = if j + 1 == cells.len() {
                        0
                    } else {
                        CELL.saturating_sub(text.chars().count() + 2)
                    };
                    write!(out, " {text} {}{}", mark(p), " ".repeat(pad))?;
                }
                writeln!(out)?;
            }
        }
    }
    Ok(())
}

/// ✓ works securely, ! works without encryption, ✗ fails, … not finished.
fn mark(p: &ProbeReport) -> ColoredString {
    match p.status {
        Status::Ok | Status::Warning if p.security == Security::Plain => "!".yellow(),
        Status::Ok | Status::Warning => "✓".green(),
        Status::Failed => "✗".red(),
        Status::Cancelled => "…".yellow(),
    }
}

/// The full table: one row per combination with its key detail and time.
pub(super) fn table(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    if report.run.probes.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "\n{:<5} {:>5}  {:<9} {:<6} {:<40} {:>6}",
        "PROTO", "PORT", "SECURITY", "RESULT", "DETAIL", "TIME"
    )?;
    let mut host: Option<&str> = None;
    for p in &report.run.probes {
        if host != Some(p.host.as_str()) {
            writeln!(out, "{}", format!("{}:", clean(&p.host)).bold())?;
            host = Some(&p.host);
        }
        row(p, out)?;
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
        format_ms(p.took_ms())
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
