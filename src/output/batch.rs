//! `mailcheck batch` output: JSON Lines (one record per target, written and
//! flushed as each target finishes, so nothing accumulates), or a table for
//! people with one row per target, also written as each finishes, and the
//! counts at the end.

use std::fmt::Write as _;
use std::io::{self, Write};

use colored::Colorize;

use super::nagios::{status_word, summary_text};
use super::text::{format_ms, setting, truncate};
use crate::report::{BatchRecord, BatchTotals, Recommended, Report, Severity, Status};

/// One JSON Lines record: the object on one line, then a line feed.
pub fn json_line(record: &BatchRecord, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer(&mut *out, record)?;
    out.write_all(b"\n")?;
    out.flush()
}

const TARGET_WIDTH: usize = 30;
const SETTING_WIDTH: usize = 18;
const FINDING_WIDTH: usize = 60;

/// The table's header.
pub fn table_header(out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "{:<8}  {:<TARGET_WIDTH$}  {:<SETTING_WIDTH$}  {:<SETTING_WIDTH$}  {:>5}  WORST FINDING",
        "STATUS", "TARGET", "INCOMING", "OUTGOING", "CERT"
    )
}

/// One row: status, target, the recommended incoming and outgoing settings,
/// the fewest certificate days left, and the most severe finding.
pub fn table_row(record: &BatchRecord, out: &mut dyn Write) -> io::Result<()> {
    let status = format!("{:<8}", status_word(record.exit_code));
    let status = match record.exit_code {
        0 => status.green(),
        1 => status.yellow(),
        2 => status.red(),
        _ => status.magenta(),
    };
    let target = if record.target.is_empty() {
        format!("line {}", record.line)
    } else {
        truncate(&record.target, TARGET_WIDTH)
    };
    let Some(report) = &record.report else {
        let why = record.error.as_deref().unwrap_or("not probed");
        let why = if record.target.is_empty() {
            why.to_owned()
        } else {
            format!("line {}: {why}", record.line)
        };
        let why = truncate(&why, 2 * SETTING_WIDTH + 71);
        return writeln!(out, "{status}  {target:<TARGET_WIDTH$}  {why}");
    };
    let cert = cert_days(report).map_or_else(|| "-".to_owned(), |d| format!("{d}d"));
    writeln!(
        out,
        "{status}  {target:<TARGET_WIDTH$}  {:<SETTING_WIDTH$}  {:<SETTING_WIDTH$}  {cert:>5}  {}",
        direction(report, true),
        direction(report, false),
        worst_finding(report),
    )
}

/// The counts after the last row.
pub fn table_totals(totals: &BatchTotals, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out)?;
    writeln!(out, "{}", totals_line(totals))
}

/// "12 targets in 3.4s: 8 OK, 1 WARNING, 2 CRITICAL, 1 UNKNOWN (1 not probed)".
#[must_use]
pub fn totals_line(t: &BatchTotals) -> String {
    let [ok, warning, critical, unknown] = t.by_exit_code;
    let mut line = format!(
        "{} target{} in {}: {ok} OK, {warning} WARNING, {critical} CRITICAL, {unknown} UNKNOWN",
        t.targets,
        if t.targets == 1 { "" } else { "s" },
        format_ms(t.elapsed_ms)
    );
    if t.not_probed > 0 {
        let _ = write!(line, " ({} not probed)", t.not_probed);
    }
    line
}

/// The recommended setting of one direction; "none works" when that direction
/// was probed and nothing secure worked, "-" when it was not probed.
fn direction(report: &Report, incoming: bool) -> String {
    let rec: Option<&Recommended> = if incoming {
        report.recommendation.incoming.as_ref()
    } else {
        report.recommendation.outgoing.as_ref()
    };
    if let Some(r) = rec {
        return truncate(
            &setting(crate::model::Combination::new(
                r.protocol, r.port, r.security,
            )),
            SETTING_WIDTH,
        );
    }
    let probed = report
        .run
        .probes
        .iter()
        .any(|p| p.protocol.is_incoming() == incoming);
    if probed { "none works" } else { "-" }.to_owned()
}

/// The fewest days any leaf certificate seen has left.
fn cert_days(report: &Report) -> Option<i64> {
    report
        .run
        .probes
        .iter()
        .filter(|p| !p.inferred && p.status != Status::Cancelled)
        .filter_map(|p| p.tls.as_ref()?.certificate.as_ref()?.certificates.first())
        .map(|leaf| leaf.days_left)
        .min()
}

/// The most severe finding that calls for action (the first of those, as
/// findings come root cause first), as "code: cause"; for a target that fails
/// without one, what does not work.
fn worst_finding(report: &Report) -> String {
    let worst = report
        .findings
        .iter()
        .rev()
        .filter(|f| f.severity >= Severity::Warning)
        .max_by_key(|f| f.severity);
    match worst {
        Some(f) => truncate(&format!("{}: {}", f.code, f.cause), FINDING_WIDTH),
        None if report.summary.exit_code >= 2 => truncate(&summary_text(report), FINDING_WIDTH),
        None => "-".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unprobed(line: usize, target: &str, error: &str) -> BatchRecord {
        BatchRecord {
            line,
            target: target.into(),
            exit_code: 3,
            report: None,
            error: Some(error.into()),
        }
    }

    fn text(f: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> String {
        colored::control::set_override(false);
        let mut out = Vec::new();
        f(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_bad_line_is_one_row_with_its_line_number() {
        let r = unprobed(7, "", "--only \"ftp:21:tls\": unknown protocol");
        let row = text(|o| table_row(&r, o));
        assert!(row.starts_with("UNKNOWN   line 7 "), "{row}");
        assert!(row.contains("line 7  "), "{row}");
        assert!(row.contains("  --only \"ftp"), "{row}");
        assert_eq!(row.lines().count(), 1);
    }

    #[test]
    fn a_row_shows_the_settings_the_certificate_and_the_worst_finding() {
        use crate::diagnose::testing::{failed, ok, report};
        use crate::engine::outcome::Expectations;
        use crate::model::{Code, Phase};
        let expect = Expectations {
            incoming: true,
            outgoing: true,
            logins: false,
            require: Vec::new(),
            not_offered: Vec::new(),
        };
        let mut expiring = ok("smtp:587:starttls");
        if let Some(c) = expiring.tls.as_mut().and_then(|t| t.certificate.as_mut()) {
            c.certificates[0].days_left = 5;
        }
        let run = report(vec![
            ok("imap:993:tls"),
            expiring,
            failed("pop3:995:tls", Code::ConnectRefused, Phase::Connect),
        ]);
        let r = crate::engine::judge(run, &crate::diagnose::Options::default(), &expect);
        let record = BatchRecord {
            line: 4,
            target: "alice@example.com".into(),
            exit_code: r.summary.exit_code,
            report: Some(Box::new(r)),
            error: None,
        };
        let row = text(|o| table_row(&record, o));
        assert!(row.contains("alice@example.com"), "{row}");
        assert!(
            row.contains("IMAP 993 SSL/TLS") && row.contains("SMTP 587 STARTTLS"),
            "{row}"
        );
        assert!(row.contains("   5d  "), "fewest days left: {row}");
        let findings = &record.report.as_ref().unwrap().findings;
        let worst = findings.iter().rev().max_by_key(|f| f.severity).unwrap();
        assert!(worst.severity >= Severity::Warning, "{findings:?}");
        assert!(row.contains(&worst.code), "{row}");
        assert_eq!(row.lines().count(), 1);
    }

    #[test]
    fn json_lines_are_one_object_per_line() {
        let r = unprobed(
            3,
            "mail.example.com",
            "not probed: the batch's deadline passed",
        );
        let line = text(|o| json_line(&r, o));
        assert!(line.ends_with('\n') && line.lines().count() == 1);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["line"], 3);
        assert_eq!(v["exit_code"], 3);
        assert!(v.get("report").is_none());
    }

    #[test]
    fn totals_count_every_status() {
        let mut t = BatchTotals::default();
        t.add(&unprobed(1, "a", "x"));
        t.by_exit_code[0] += 2;
        t.targets += 2;
        t.elapsed_ms = 1500;
        assert_eq!(
            totals_line(&t),
            "3 targets in 1.5s: 2 OK, 0 WARNING, 0 CRITICAL, 1 UNKNOWN (1 not probed)"
        );
    }
}
