//! The human renderer, shaped for a help desk on a call: the verdict and the
//! settings to use first, then each problem once with its cause and fix, then a
//! compact matrix, the logins and where the servers were found. A healthy
//! account fits one screen. `-v` adds what a developer wants: every finding,
//! the full table with times, each combination's failure, the login replies,
//! every source and the transcripts.

mod matrix;
mod verbose;

use std::io::{self, Write};

use colored::{ColoredString, Colorize};

use super::Options;
use super::text::{capped, clean, truncate, wrap};
use crate::report::{Direction, Finding, LoginResult, RelayResult, Report, Severity, SourceKind};

pub use matrix::short;

/// The most of one line of evidence shown with `-v`.
const EVIDENCE: usize = 500;

/// Writes the report for a person.
pub fn render(report: &Report, opts: &Options, out: &mut dyn Write) -> io::Result<()> {
    header(report, out)?;
    verdict(report, out)?;
    settings_block(report, opts, out)?;
    problems(report, opts.verbose, out)?;
    if opts.verbose {
        matrix::table(report, out)?;
    } else {
        matrix::compact(report, out)?;
    }
    logins(report, out)?;
    if let Some(d) = &report.run.discovery {
        if opts.verbose {
            super::settings::sources(d, out)?;
        } else {
            sources(d, out)?;
        }
    }
    if opts.verbose {
        verbose::details(report, out)?;
        verbose::logins(report, out)?;
        verbose::relay_tests(report, out)?;
        verbose::transcripts(report, out)?;
    } else if has_more(report) {
        writeln!(
            out,
            "\n{}",
            "Details, info and transcripts: run again with -v.".dimmed()
        )?;
    }
    Ok(())
}

/// Who the report is about: the address and its provider, or the hosts.
fn header(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    if let Some(d) = &report.run.discovery {
        let a = &d.address;
        let shown = if a.is_international() {
            format!("{} ({})", a.input, a.ascii())
        } else {
            a.input.clone()
        };
        let who = d
            .provider
            .as_ref()
            .map_or_else(|| "not a known provider".to_owned(), |p| p.name.clone());
        return writeln!(out, "{} · {}", clean(&shown).bold(), clean(&who));
    }
    let mut hosts: Vec<&str> = Vec::new();
    for p in &report.run.probes {
        if !hosts.contains(&p.host.as_str()) {
            hosts.push(&p.host);
        }
    }
    writeln!(out, "{}", clean(&hosts.join(", ")).bold())
}

fn severity_mark(s: Severity) -> ColoredString {
    match s {
        Severity::Critical => "✗".red().bold(),
        Severity::Warning => "⚠".yellow(),
        Severity::Info => "i".blue(),
        Severity::Ok => "✓".green(),
    }
}

/// Writes `text` wrapped to 80 columns after `lead` (its width counted as
/// `lead_width`), continuation lines indented by `indent`.
fn para(
    out: &mut dyn Write,
    lead: &str,
    lead_width: usize,
    indent: usize,
    text: &str,
) -> io::Result<()> {
    for (i, line) in wrap(text, 80 - lead_width.max(indent))
        .into_iter()
        .enumerate()
    {
        if i == 0 {
            writeln!(out, "{lead}{line}")?;
        } else {
            writeln!(out, "{:indent$}{line}", "")?;
        }
    }
    Ok(())
}

/// The verdict in one sentence, and a line per direction that does not work.
fn verdict(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let v = &report.verdict;
    writeln!(out)?;
    let lead = format!("{} ", severity_mark(v.status));
    para(out, &lead, 2, 2, &v.headline)?;
    for r in &report.summary.unmet_requirements {
        para(
            out,
            &format!("{} ", "✗".red().bold()),
            2,
            2,
            &format!("Required: {r} does not work (--require)."),
        )?;
    }
    for (d, what) in [(v.incoming, "Reading mail"), (v.outgoing, "Sending mail")] {
        if d == Direction::NotOffered {
            writeln!(out, "  {what}: the domain says it does not offer it.")?;
        }
    }
    if let Some(why) = &report.run.cut_short {
        writeln!(
            out,
            "{}",
            format!("  Run cut short ({why}): unfinished combinations are marked '…'.").yellow()
        )?;
    }
    Ok(())
}

/// "Use these settings", in the words of the user's mail client.
fn settings_block(report: &Report, opts: &Options, out: &mut dyn Write) -> io::Result<()> {
    let rec = &report.recommendation;
    if rec.incoming.is_none() && rec.outgoing.is_none() {
        return Ok(());
    }
    writeln!(out, "\n{}", "Use these settings".bold())?;
    for line in crate::diagnose::words(rec, opts.client) {
        writeln!(out, "  {}", clean(&line))?;
    }
    Ok(())
}

/// The problems (warnings and worse; everything with `-v`), root cause first,
/// each with its fix and the first piece of evidence.
fn problems(report: &Report, verbose: bool, out: &mut dyn Write) -> io::Result<()> {
    let shown: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| verbose || f.severity >= Severity::Warning)
        .collect();
    let title = if verbose { "Findings" } else { "Problems" };
    if shown.is_empty() {
        return writeln!(out, "\n{}: none", title.bold());
    }
    writeln!(out, "\n{}", title.bold())?;
    for f in shown {
        let lead = format!("{} ", severity_mark(f.severity));
        para(out, &lead, 2, 2, &f.cause)?;
        if f.severity > Severity::Ok && f.severity > Severity::Info
            || verbose && f.severity == Severity::Info
        {
            para(out, "    Fix: ", 9, 9, &f.fix)?;
        }
        let evidence: &[String] = if verbose {
            &f.evidence
        } else {
            &f.evidence[..f.evidence.len().min(1)]
        };
        for e in evidence {
            let e = if verbose {
                capped(e, EVIDENCE)
            } else {
                truncate(e, 68)
            };
            para(out, "    Seen: ", 10, 10, &e)?;
        }
    }
    Ok(())
}

/// One line for the logins and one per relay test.
fn logins(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let logins = &report.run.logins;
    if !logins.is_empty() {
        let parts: Vec<String> = logins
            .iter()
            .map(|l| {
                let mark = match l.result {
                    LoginResult::Ok => "✓".green(),
                    LoginResult::Failed | LoginResult::ConnectionFailed => "✗".red(),
                    LoginResult::NotAttempted | LoginResult::Cancelled => "–".yellow(),
                };
                format!("{mark} {}", l.protocol)
            })
            .collect();
        let user = logins
            .iter()
            .find_map(|l| l.usernames.last())
            .map(|u| format!(" as {}", clean(u)))
            .unwrap_or_default();
        writeln!(out, "\n{}{user}: {}", "Login test".bold(), parts.join("  "))?;
    }
    for t in &report.run.relay_tests {
        let what = match t.result {
            RelayResult::Refused => "✓ refuses to relay without a login".green(),
            RelayResult::OpenRelay => "✗ OPEN RELAY: accepts outside recipients without a login"
                .red()
                .bold(),
            RelayResult::NotTested => "– not tested".yellow(),
        };
        writeln!(out, "{} {}: {what}", "Relay test".bold(), clean(&t.host))?;
    }
    Ok(())
}

/// Where the servers were found: one line per kind of source that named
/// servers, the MX hosts, and one line for the kinds that named none (`-v` has
/// each answer).
fn sources(d: &crate::report::Discovery, out: &mut dyn Write) -> io::Result<()> {
    let mut labels: Vec<&str> = Vec::new();
    for s in &d.sources {
        let label = super::settings::short_source(s.kind);
        if !labels.contains(&label) {
            labels.push(label);
        }
    }
    if labels.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n{}", "Where the settings came from".bold())?;
    let mut silent = Vec::new();
    for label in labels {
        let of_kind: Vec<&crate::report::SourceReport> = d
            .sources
            .iter()
            .filter(|s| super::settings::short_source(s.kind) == label)
            .collect();
        // The MX lookup names the hosts that take the domain's mail, not settings:
        // its answer is the line (also "no MX record", which matters).
        if let [mx] = of_kind[..]
            && mx.kind == SourceKind::Mx
        {
            para(
                out,
                &format!("  {label:<13}"),
                15,
                15,
                &truncate(&mx.outcome, 130),
            )?;
            continue;
        }
        let hosts = hosts_and_ports(&of_kind);
        if hosts.is_empty() {
            silent.push(label);
            continue;
        }
        let label = format!("  {label:<13}");
        para(out, &label, 15, 15, &truncate(&hosts.join(", "), 130))?;
    }
    if !silent.is_empty() {
        let said = format!("no servers from {}", silent.join(", "));
        para(out, "  ", 2, 4, &said)?;
    }
    Ok(())
}

/// The servers the sources named, "host (port, port)" each, in order.
fn hosts_and_ports(sources: &[&crate::report::SourceReport]) -> Vec<String> {
    let mut hosts: Vec<(String, Vec<String>)> = Vec::new();
    for setting in sources.iter().flat_map(|s| &s.settings) {
        let port = setting.port.to_string();
        match hosts.iter_mut().find(|(h, _)| *h == setting.host) {
            Some((_, ports)) if !ports.contains(&port) => ports.push(port),
            Some(_) => {}
            None => hosts.push((setting.host.clone(), vec![port])),
        }
    }
    hosts
        .into_iter()
        .map(|(h, ports)| format!("{h} ({})", ports.join(", ")))
        .collect()
}

/// Whether `-v` would show more than the default report.
fn has_more(report: &Report) -> bool {
    !report.run.probes.is_empty() || report.findings.iter().any(|f| f.severity <= Severity::Info)
}
