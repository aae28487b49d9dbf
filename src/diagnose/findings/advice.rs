//! Advice: choices in the client (the wrong security mode for a port), plaintext
//! that connects but takes no password, what discovery found (sources that
//! disagree, settings over plain HTTP, provider notes, retired names, services the
//! domain does not offer), a run cut short, and what works.

use super::login::plaintext_logins;
use super::{Facts, and_list, implicit_port, ports, works};
use crate::model::{Code, Security};
use crate::report::{Category, Finding, ProbeReport, Severity};

pub(super) fn check(facts: &Facts<'_>, out: &mut Vec<Finding>) {
    for host in facts.hosts() {
        let on = facts.on_host(host);
        let all: Vec<&ProbeReport> = facts.run.probes.iter().filter(|p| p.host == host).collect();
        out.extend(wrong_mode_plaintext_port(host, &on));
        out.extend(wrong_mode_implicit_port(host, &all, &on));
        out.extend(plaintext_no_login(host, &on));
    }
    not_offered(facts, out);
    discovery(facts, out);
    for note in &facts.run.notes {
        out.extend(retired_host(note));
    }
    if let Some(why) = &facts.run.cut_short {
        let cut: Vec<&ProbeReport> = facts
            .run
            .probes
            .iter()
            .filter(|p| {
                p.failure
                    .iter()
                    .chain(&p.warnings)
                    .any(|f| f.code == Code::Cancelled)
            })
            .collect();
        out.push(
            Finding::new(
                "run_cut_short",
                Severity::Warning,
                Category::Advice,
                format!("The run was cut short ({why}) before everything was tried; what was not finished is marked 'cut'"),
                "Run again with a longer --deadline, or without interrupting it.",
            )
            .on_all(cut),
        );
    }
    what_works(facts, out);
}

/// SSL/TLS tried on a port that answers in plaintext (587, 25, 143, 110).
fn wrong_mode_plaintext_port(host: &str, on: &[&ProbeReport]) -> Option<Finding> {
    let hit: Vec<&ProbeReport> = on
        .iter()
        .copied()
        .filter(|p| {
            p.failure
                .as_ref()
                .is_some_and(|f| f.code == Code::TlsGotPlaintext)
        })
        .collect();
    if hit.is_empty() {
        return None;
    }
    let list = ports(&hit.iter().map(|p| p.port).collect::<Vec<_>>());
    let mut implicit: Vec<String> = hit
        .iter()
        .map(|p| format!("{} with SSL/TLS", implicit_port(p.protocol)))
        .collect();
    implicit.dedup();
    Some(
        Finding::new(
            "wrong_mode_plaintext_port",
            Severity::Info,
            Category::Advice,
            format!(
                "{list} of {host} start{} in plaintext: choose STARTTLS there, not SSL/TLS",
                if hit.len() == 1 { "s" } else { "" }
            ),
            format!(
                "In the client, set {list} to STARTTLS, or use port {} instead.",
                implicit.join(" or ")
            ),
        )
        .on_all(hit),
    )
}

/// None or STARTTLS chosen on a port that speaks TLS from the first byte.
fn wrong_mode_implicit_port(
    host: &str,
    all: &[&ProbeReport],
    on: &[&ProbeReport],
) -> Option<Finding> {
    let tls_seen = |port: u16| {
        on.iter().any(|t| {
            t.port == port
                && t.security == Security::Tls
                && (works(t)
                    || t.tls.is_some()
                    || t.failure.as_ref().is_some_and(|f| f.code == Code::TlsAlert))
        })
    };
    let hit: Vec<&ProbeReport> = all
        .iter()
        .copied()
        .filter(|p| p.security != Security::Tls)
        .filter(|p| {
            p.failure.as_ref().is_some_and(|f| {
                f.code == Code::ExpectsImplicitTls
                    || (f.code == Code::NoGreeting && tls_seen(p.port))
            })
        })
        .collect();
    if hit.is_empty() {
        return None;
    }
    let list = ports(&hit.iter().map(|p| p.port).collect::<Vec<_>>());
    Some(
        Finding::new(
            "wrong_mode_implicit_port",
            Severity::Info,
            Category::Advice,
            format!("{list} of {host} speak{} TLS from the first byte: choose SSL/TLS there, not None or STARTTLS", if hit.len() == 1 { "s" } else { "" }),
            format!("In the client, set {list} to SSL/TLS."),
        )
        .on_all(hit),
    )
}

/// Plain combinations that connect but accept no password at all.
fn plaintext_no_login(host: &str, on: &[&ProbeReport]) -> Option<Finding> {
    let hit: Vec<&ProbeReport> = on
        .iter()
        .copied()
        .filter(|p| works(p) && p.security == Security::Plain && p.port != 25)
        .filter(|p| {
            let (clear, challenge) = plaintext_logins(p);
            clear.is_empty() && challenge.is_empty()
        })
        .collect();
    if hit.is_empty() {
        return None;
    }
    let names: Vec<String> = hit
        .iter()
        .map(|p| format!("{} {}", p.protocol, p.port))
        .collect();
    Some(
        Finding::new(
            "plaintext_no_login",
            Severity::Info,
            Category::Advice,
            format!(
                "None (no encryption) connects for {} on {host}, but the server takes no password there, so none can travel in clear",
                and_list(&names)
            ),
            "Nothing to fix; in the client choose SSL/TLS or STARTTLS all the same.",
        )
        .on_all(hit),
    )
}

/// Services the domain says it does not offer (an SRV target of ".").
fn not_offered(facts: &Facts<'_>, out: &mut Vec<Finding>) {
    let Some(d) = &facts.run.discovery else {
        return;
    };
    if d.not_offered.is_empty() {
        return;
    }
    let names: Vec<String> = d
        .not_offered
        .iter()
        .map(|n| format!("{} with {}", n.protocol, n.security))
        .collect();
    let hit: Vec<&ProbeReport> = facts.tried_where(|p| facts.not_offered(p));
    let mut f = Finding::new(
        "service_not_offered",
        Severity::Info,
        Category::Advice,
        format!(
            "{} says it does not offer {}",
            d.address.domain,
            and_list(&names)
        ),
        "Nothing to fix: use the services the domain offers.",
    )
    .on_all(hit);
    for n in &d.not_offered {
        f = f.because(format!(
            "SRV {}.{}: target \".\"",
            n.service, d.address.domain_ascii
        ));
    }
    out.push(f);
}

fn discovery(facts: &Facts<'_>, out: &mut Vec<Finding>) {
    let Some(d) = &facts.run.discovery else {
        return;
    };
    if !d.disagreements.is_empty() {
        let mut f = Finding::new(
            "sources_disagree",
            Severity::Info,
            Category::Advice,
            format!(
                "The published settings for {} disagree with each other",
                d.address.domain
            ),
            "Trust the combinations that worked; the domain's administrator should align the published settings.",
        );
        for line in &d.disagreements {
            f = f.because(line.clone());
        }
        out.push(f);
    }
    for s in &d.sources {
        // Autoconfig, Autodiscover and the online ISPDB are fetched over HTTP(S).
        if s.plain_http && !s.settings.is_empty() {
            out.push(
                Finding::new(
                    "http_autoconfig",
                    Severity::Warning,
                    Category::Advice,
                    "Settings were fetched over plain HTTP, so anyone on the path could have changed them",
                    "Check the settings against the provider's own page; domain owner: serve autoconfig over HTTPS.",
                )
                .because(s.query.clone()),
            );
        }
    }
    if let Some(p) = &d.provider {
        for note in &p.notes {
            out.push(
                Finding::new(
                    &format!("provider_note_{}", note.key),
                    Severity::Info,
                    Category::Advice,
                    note.text.clone(),
                    format!("See {}'s help pages (facts checked {}).", p.name, p.checked),
                )
                .because(format!("provider: {}", p.id)),
            );
        }
    }
}

/// Notes of the form "{host} is a retired {protocol} name for {provider}; use … instead".
fn retired_host(note: &str) -> Option<Finding> {
    let (host, _) = note.split_once(" is a retired ")?;
    let fix = note
        .split_once("; ")
        .map_or("Use the provider's current server name.", |(_, f)| f);
    let mut fix = fix.to_owned();
    if let Some(first) = fix.get(..1) {
        fix = first.to_uppercase() + &fix[1..] + ".";
    }
    let mut f = Finding::new(
        "retired_host",
        Severity::Warning,
        Category::Advice,
        note.split_once("; ").map_or(note, |(c, _)| c).to_owned(),
        fix,
    )
    .because(note.to_owned());
    f.affects.add_host(host);
    Some(f)
}

/// What works, per direction, across hosts.
fn what_works(facts: &Facts<'_>, out: &mut Vec<Finding>) {
    for (incoming, code) in [(true, "incoming_ok"), (false, "outgoing_ok")] {
        let good: Vec<&ProbeReport> = facts.tried_where(|p| {
            works(p) && p.security.is_secure() && p.protocol.is_incoming() == incoming
        });
        if good.is_empty() {
            continue;
        }
        let names: Vec<String> = good
            .iter()
            .map(|p| format!("{} {} {} on {}", p.protocol, p.port, p.security, p.host))
            .collect();
        out.push(
            Finding::new(
                code,
                Severity::Ok,
                Category::Advice,
                format!(
                    "{} {}",
                    and_list(&names),
                    if names.len() == 1 { "works" } else { "work" }
                ),
                "Nothing to do.",
            )
            .on_all(good),
        );
    }
}
