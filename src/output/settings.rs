//! The settings renderer: what a provider and the other discovery sources publish
//! for an address, with where each setting came from.

use std::io::{self, Write};

use colored::Colorize;

use super::text::{truncate, wrap};
use crate::report::{AuthMethod, Candidate, Discovery, SourceKind, UsernameForm};

/// Writes the discovered settings for a person.
pub fn render(d: &Discovery, out: &mut dyn Write) -> io::Result<()> {
    header(d, out)?;
    let incoming: Vec<&Candidate> = d
        .candidates
        .iter()
        .filter(|c| c.setting.protocol.is_incoming())
        .collect();
    let outgoing: Vec<&Candidate> = d
        .candidates
        .iter()
        .filter(|c| !c.setting.protocol.is_incoming())
        .collect();
    section("Incoming mail (IMAP, POP3)", true, &incoming, d, out)?;
    section("Outgoing mail (SMTP)", false, &outgoing, d, out)?;
    notes(d, out)?;
    sources(d, out)
}

/// The lines that say who the provider is and where that was learned; shared
/// with the probe report.
pub fn header(d: &Discovery, out: &mut dyn Write) -> io::Result<()> {
    let a = &d.address;
    let shown = if a.is_international() {
        format!("{} ({})", a.input, a.ascii())
    } else {
        a.input.clone()
    };
    match &d.provider {
        Some(p) => {
            let how = match p.via {
                SourceKind::Mx => "recognised from the domain's MX hosts",
                SourceKind::AutodiscoverJson | SourceKind::AutodiscoverPox => {
                    "recognised from the domain's Autodiscover service"
                }
                SourceKind::IspdbSnapshot => "Thunderbird's ISPDB, built-in snapshot",
                _ => "provider overrides on the ISPDB snapshot",
            };
            para(
                out,
                "",
                "  ",
                &format!("Address {shown}: {} ({how}, checked {})", p.name, p.checked),
            )?;
        }
        None => para(
            out,
            "",
            "  ",
            &format!("Address {shown}: not a known provider"),
        )?,
    }
    Ok(())
}

/// Writes `text` wrapped to 80 columns: the first line after `first`, the rest
/// after `rest`.
fn para(out: &mut dyn Write, first: &str, rest: &str, text: &str) -> io::Result<()> {
    let width = 80 - first.chars().count().max(rest.chars().count());
    for (i, line) in wrap(text, width).into_iter().enumerate() {
        writeln!(out, "{}{line}", if i == 0 { first } else { rest })?;
    }
    Ok(())
}

fn section(
    title: &str,
    incoming: bool,
    rows: &[&Candidate],
    d: &Discovery,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(out, "\n{}", title.bold())?;
    if rows.is_empty() {
        writeln!(out, "  nothing found")?;
    }
    for c in rows {
        let s = &c.setting;
        let from: Vec<&str> = c.sources.iter().map(|k| short_source(*k)).collect();
        writeln!(
            out,
            "  {:<4} {:<28} {:>5}  {:<8}  from {}",
            s.protocol.to_string(),
            truncate(&s.host, 28),
            s.port,
            s.security.to_string(),
            truncate(&from.join(", "), 24)
        )?;
        let user = match s.username {
            Some(UsernameForm::LocalPart) => d.address.local.clone(),
            Some(UsernameForm::Address) | None => d.address.ascii(),
        };
        let auth = s.auth.map_or("not stated", auth_words);
        para(
            out,
            "       ",
            "       ",
            &format!("username: {user}; authentication: {auth}"),
        )?;
    }
    for n in d
        .not_offered
        .iter()
        .filter(|n| n.protocol.is_incoming() == incoming)
    {
        let text = format!(
            "{} with {} is deliberately not offered (SRV {} has target \".\")",
            n.protocol, n.security, n.service
        );
        para(out, "  ", "    ", &text)?;
    }
    Ok(())
}

/// The provider's notes and the sources' disagreements; shared with the probe report.
pub fn notes(d: &Discovery, out: &mut dyn Write) -> io::Result<()> {
    let provider_notes = d.provider.iter().flat_map(|p| &p.notes);
    let mut any = false;
    for n in provider_notes {
        if !any {
            writeln!(out, "\n{}", "Good to know".bold())?;
            any = true;
        }
        para(out, "  - ", "    ", &n.text)?;
    }
    if !d.disagreements.is_empty() {
        writeln!(out, "\n{}", "Sources disagree".bold().yellow())?;
        for line in &d.disagreements {
            para(out, "  - ", "    ", line)?;
        }
    }
    Ok(())
}

/// Every source consulted, what it said and how long it took; shared with the
/// probe report.
pub fn sources(d: &Discovery, out: &mut dyn Write) -> io::Result<()> {
    let title = if d.offline {
        "Sources (offline: the built-in provider data only)"
    } else {
        "Sources consulted"
    };
    writeln!(out, "\n{}", title.bold())?;
    for r in &d.sources {
        let label = format!("  {:<12} ", short_source(r.kind));
        // URLs have no spaces: the wrap cuts them, but never drops a part.
        para(
            out,
            &label,
            "               ",
            &format!("{} ({} ms)", r.query, r.duration_ms),
        )?;
        para(out, "               ", "               ", &r.outcome)?;
    }
    Ok(())
}

pub(crate) fn short_source(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Provider => "overrides",
        SourceKind::IspdbSnapshot => "snapshot",
        SourceKind::Ispdb => "ISPDB",
        SourceKind::Srv => "SRV",
        SourceKind::Mx => "MX",
        SourceKind::Autoconfig => "autoconfig",
        SourceKind::AutodiscoverJson | SourceKind::AutodiscoverPox => "Autodiscover",
        SourceKind::Guess => "guess",
    }
}

fn auth_words(a: AuthMethod) -> &'static str {
    match a {
        AuthMethod::PasswordCleartext => "normal password",
        AuthMethod::PasswordEncrypted => "encrypted password",
        AuthMethod::OAuth2 => "OAuth2",
        AuthMethod::Other => "other",
    }
}
