//! The Nagios plugin format: one status line with performance data, so mailcheck
//! drops into Nagios, Icinga and Checkmk as a check plugin. Grammar (Nagios
//! plugin guidelines): `SERVICE STATUS - text | 'label'=value[UOM];[warn];[crit];[min];[max] …`.

use std::io::{self, Write};

use super::Options;
pub use crate::engine::outcome::status_word;
use crate::report::{ProbeReport, Report, Severity, Status};

/// Writes the one-line status with performance data; the certificate-days
/// thresholds come from `opts`.
pub fn render(report: &Report, opts: &Options, out: &mut dyn Write) -> io::Result<()> {
    let (warn_days, crit_days) = (opts.warn_days, opts.crit_days);
    let status = status_word(report.summary.exit_code);
    let mut perf = Vec::new();
    for p in report
        .run
        .probes
        .iter()
        .filter(|p| !p.inferred && matches!(p.status, Status::Ok | Status::Warning))
    {
        perf.push(format!(
            "'{}'={:.3}s;;;0",
            label(p),
            p.took_ms() as f64 / 1000.0
        ));
        let days = p
            .tls
            .as_ref()
            .and_then(|t| t.certificate.as_ref())
            .and_then(|c| c.certificates.first())
            .map(|leaf| leaf.days_left);
        if let Some(days) = days {
            // Range "N:" alerts when the value falls below N.
            perf.push(format!(
                "'{}_cert_days'={days};{warn_days}:;{crit_days}:;0",
                label(p)
            ));
        }
    }
    let text = clean(&summary_text(report));
    if perf.is_empty() {
        writeln!(out, "MAILCHECK {status} - {text}")
    } else {
        writeln!(out, "MAILCHECK {status} - {text} | {}", perf.join(" "))
    }
}

/// The status text: an unmet `--require` first, else the verdict's headline
/// (the root cause when something fails, what works otherwise), and how many
/// problems the report lists.
#[must_use]
pub fn summary_text(report: &Report) -> String {
    let problems = report
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
        .count();
    let head = match report.summary.unmet_requirements.first() {
        Some(r) => format!("required {r} does not work"),
        None => report.verdict.headline.trim_end_matches('.').to_owned(),
    };
    let more = match problems {
        0 | 1 => String::new(),
        n => format!(" ({n} problems)"),
    };
    let cut = report
        .run
        .cut_short
        .as_ref()
        .map(|why| format!("; run cut short ({why})"))
        .unwrap_or_default();
    format!("{head}{more}{cut}")
}

/// `imap_993_tls@mail.example.com`, without the characters perfdata labels forbid.
fn label(p: &ProbeReport) -> String {
    format!(
        "{}@{}",
        p.combination().to_string().replace(':', "_"),
        super::text::clean(&p.host)
    )
    .chars()
    .filter(|c| !matches!(c, '\'' | '=' | '|'))
    .collect()
}

/// The status text may not contain '|' (it starts the performance data) nor a
/// line break (the first line is what most monitoring systems show).
fn clean(text: &str) -> String {
    super::text::clean(text)
        .replace('|', "/")
        .replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_words_follow_the_plugin_guidelines() {
        assert_eq!(status_word(0), "OK");
        assert_eq!(status_word(1), "WARNING");
        assert_eq!(status_word(2), "CRITICAL");
        assert_eq!(status_word(3), "UNKNOWN");
    }

    #[test]
    fn text_cannot_break_the_grammar() {
        assert_eq!(clean("a | b\nc\u{1b}[2J"), "a / b / c\\u{1b}[2J");
    }
}
