//! Causes at the server's end of the path: names that do not resolve for that
//! domain, a server that answers on no port, a closed port, another service on
//! a mail port, a greeting that refuses service, silence, dropped connections,
//! and servers that break the protocol or flood the client. Each names the
//! cause in the server's own words where there are some.

use super::{Facts, failure_text, hosts_of, ports, works};
use crate::model::{Code, Phase};
use crate::report::{Category, Finding, ProbeReport, Severity};

pub(super) fn check(facts: &Facts<'_>, out: &mut Vec<Finding>) {
    dns(facts, out);
    out.extend(no_server_found(facts));
    let down = down_hosts(facts);
    for host in &down {
        out.push(server_down(facts, host));
    }
    closed_ports(facts, &down, out);
    wrong_protocol(facts, out);
    refused_service(facts, out);
    silent(facts, out);
    misbehaviour(facts, out);
    slow_greeting(facts, out);
    ipv6_broken(facts, out);
}

/// Names that do not resolve while this computer's DNS works: that domain's
/// problem (or a typo), one finding per kind of failure.
fn dns(facts: &Facts<'_>, out: &mut Vec<Finding>) {
    if facts.run.dns_check.as_ref().is_some_and(|c| !c.ok) {
        return; // This computer's DNS: a local finding says so.
    }
    let family = facts.run.inputs.address_family.as_str();
    for code in [
        Code::DnsNameNotFound,
        Code::DnsNoAddress,
        Code::DnsServerFailure,
        Code::DnsTimeout,
    ] {
        let hit = facts.failed_with(&[code]);
        if hit.is_empty() {
            continue;
        }
        let names = hosts_of(&hit);
        let (id, cause, fix) = match code {
            Code::DnsNameNotFound => (
                "host_not_found",
                format!("{names}: no such name in DNS (NXDOMAIN)"),
                "Check the spelling of the server name (or of the address's domain); a provider's page may name a server that no longer exists."
                    .to_owned(),
            ),
            Code::DnsNoAddress => no_address(&names, family),
            Code::DnsServerFailure => (
                "domain_dns_failing",
                format!("The DNS servers for {names} fail to answer it (SERVFAIL or refused), while this computer's DNS works"),
                "The domain's DNS is broken: tell its administrator (or the provider); try again later.".to_owned(),
            ),
            _ => (
                "domain_dns_silent",
                format!("Lookups of {names} time out, while this computer's DNS answers other names: the domain's DNS servers do not answer"),
                "Try again later; tell the domain's administrator if it persists.".to_owned(),
            ),
        };
        out.push(
            Finding::new(id, facts.impact(&hit), Category::Server, cause, fix).failures(&hit, 3),
        );
    }
}

/// `dns_no_address` in the words of the address family asked for.
fn no_address(names: &str, family: &str) -> (&'static str, String, String) {
    match family {
        "ipv6" => (
            "host_no_ipv6",
            format!("{names} has no IPv6 address (no AAAA record), and -6 allows only IPv6"),
            "Run without -6: the server is reachable over IPv4 only. From an IPv6-only network, ask the provider for IPv6.".to_owned(),
        ),
        "ipv4" => (
            "host_no_ipv4",
            format!("{names} has no IPv4 address (no A record), and -4 allows only IPv4"),
            "Run without -4: the server is reachable over IPv6 only.".to_owned(),
        ),
        _ => (
            "host_no_address",
            format!("{names} exists in DNS but has no address (no A or AAAA record)"),
            "The name is not a server: check the server name; the domain's administrator must add an address record.".to_owned(),
        ),
    }
}

/// Discovery ran but found no server for a direction it expects.
fn no_server_found(facts: &Facts<'_>) -> Option<Finding> {
    let d = facts.run.discovery.as_ref()?;
    if facts.run.cut_short.is_some() || facts.run.dns_check.as_ref().is_some_and(|c| !c.ok) {
        return None;
    }
    let probed = |incoming: bool| {
        facts
            .run
            .probes
            .iter()
            .any(|p| p.protocol.is_incoming() == incoming)
    };
    // With --only, a direction left out was not asked for.
    let only = &facts.run.inputs.only;
    let asked = |incoming: bool| {
        only.is_empty()
            || only
                .iter()
                .any(|spec| spec.starts_with("smtp:") != incoming)
    };
    let missing: Vec<&str> = [(true, "reading (IMAP, POP3)"), (false, "sending (SMTP)")]
        .into_iter()
        .filter(|(incoming, _)| asked(*incoming) && !probed(*incoming))
        .filter(|(incoming, _)| !all_declared_not_offered(d, *incoming))
        .map(|(_, what)| what)
        .collect();
    if missing.is_empty() {
        return None;
    }
    let sources: Vec<String> = d.sources.iter().map(|s| s.query.clone()).collect();
    let mut f = Finding::new(
        "no_server_found",
        Severity::Critical,
        Category::Server,
        format!(
            "No server for {} was found for {}: the provider table, DNS (SRV, MX), autoconfig and the usual names all came back empty",
            missing.join(" or "),
            d.address.domain
        ),
        "Look up the provider's own help page for the server names and give them with --host (or --imap-host, --smtp-host); \
         check the spelling of the address's domain.",
    );
    for s in sources.iter().take(4) {
        f = f.because(format!("asked: {s}"));
    }
    Some(f)
}

/// Whether the domain declares every service of a direction not offered.
fn all_declared_not_offered(d: &crate::report::Discovery, incoming: bool) -> bool {
    let declared: Vec<_> = d
        .not_offered
        .iter()
        .filter(|n| n.protocol.is_incoming() == incoming)
        .collect();
    let needed = if incoming { 4 } else { 2 };
    declared.len() >= needed
}

/// Hosts on which every tried combination failed to connect, for a reason
/// other than this network blocking the port.
fn down_hosts(facts: &Facts<'_>) -> Vec<String> {
    facts
        .hosts()
        .into_iter()
        .filter(|h| {
            let ps = facts.on_host(h);
            !ps.is_empty()
                && ps.iter().all(|p| {
                    p.failure.as_ref().is_some_and(|f| {
                        f.phase == Phase::Connect && f.code != Code::NetworkUnreachable
                    })
                })
        })
        .filter(|h| {
            // A port that times out on other hosts too is this network's doing.
            let others_timeout = facts.tried.iter().any(|o| {
                o.host != *h
                    && o.failure
                        .as_ref()
                        .is_some_and(|f| f.code == Code::ConnectTimeout)
            });
            !others_timeout
        })
        .map(str::to_owned)
        .collect()
}

fn server_down(facts: &Facts<'_>, host: &str) -> Finding {
    let ps = facts.on_host(host);
    let refused = ps.iter().all(|p| {
        p.failure
            .as_ref()
            .is_some_and(|f| f.code == Code::ConnectRefused)
    });
    let how = if refused {
        "refuses every connection"
    } else {
        "does not answer connections"
    };
    let mut f = Finding::new(
        "server_down",
        facts.impact(&ps),
        Category::Server,
        format!(
            "{host} {how} on {}: the server is down, or the name points to a machine that is not the mail server",
            ports(&ps.iter().map(|p| p.port).collect::<Vec<_>>())
        ),
        "Check the server name against the provider's page; try again later or from another network; tell the provider.",
    )
    .on_all(ps.iter().copied());
    if let Some(addresses) = ps.first().map(|p| p.addresses.join(", ")) {
        f = f.because(format!("{host} is {addresses}"));
    }
    for p in ps.iter().take(3) {
        f = f.because(failure_text(p));
    }
    f
}

/// Ports that refuse connections while other ports of the same host answer.
fn closed_ports(facts: &Facts<'_>, down: &[String], out: &mut Vec<Finding>) {
    for host in facts.hosts() {
        if down.iter().any(|d| d == host) {
            continue;
        }
        let hit: Vec<&ProbeReport> = facts
            .on_host(host)
            .into_iter()
            .filter(|p| {
                p.failure
                    .as_ref()
                    .is_some_and(|f| f.code == Code::ConnectRefused)
            })
            .collect();
        if hit.is_empty() {
            continue;
        }
        let list = ports(&hit.iter().map(|p| p.port).collect::<Vec<_>>());
        let incoming = hit.iter().all(|p| p.protocol.is_incoming());
        let working = facts.working_ports(host, Some(incoming));
        let declared = hit.iter().all(|p| facts.not_offered(p));
        let severity = facts.impact(&hit);
        let fix = if severity == Severity::Info {
            format!(
                "Nothing to fix: the server does not offer {list}; use {} as recommended.",
                ports(&working)
            )
        } else {
            format!(
                "Use a port the server offers ({}); the provider's page may list an old port.",
                if working.is_empty() {
                    "none answered".to_owned()
                } else {
                    ports(&working)
                }
            )
        };
        let why = if declared {
            " (and the domain's SRV records say the service is not offered)"
        } else {
            ""
        };
        out.push(
            Finding::new(
                "port_closed",
                severity,
                Category::Server,
                format!("Nothing listens on {list} of {host}: the connection is refused, while other ports answer{why}"),
                fix,
            )
            .on_all(hit.iter().copied())
            .because(format!("{list}: connect_refused")),
        );
    }
}

/// Another service answers on a mail port (SSH, HTTP, FTP, another mail protocol).
fn wrong_protocol(facts: &Facts<'_>, out: &mut Vec<Finding>) {
    for p in facts.failed_with(&[Code::WrongProtocol]) {
        let message = p
            .failure
            .as_ref()
            .map(|f| f.message.clone())
            .unwrap_or_default();
        let found = message
            .split("but the server sent ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or("another service");
        let greeting = message
            .split_once(" (")
            .map_or("", |(_, g)| g.trim_end_matches(')'));
        out.push(
            Finding::new(
                "wrong_service",
                facts.impact(&[p]),
                Category::Server,
                format!(
                    "Port {} of {} is answered by {} {found}, not by a {} server: the port or the server name is wrong",
                    p.port,
                    p.host,
                    article(found),
                    p.protocol
                ),
                format!(
                    "Check the port: {} uses {}; the provider's page or the client's settings name the wrong one.",
                    p.protocol,
                    standard_ports(p.protocol)
                ),
            )
            .on(p)
            .because(format!("the server said: {greeting}")),
        );
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['A', 'E', 'I', 'O', 'U', 'H', 'S', 'F']) && word.len() <= 5 {
        // "an SSH", "an HTTP", "an FTP", "an SMTP", "an IMAP": letters said as names.
        "an"
    } else {
        "a"
    }
}

fn standard_ports(p: crate::model::Protocol) -> &'static str {
    match p {
        crate::model::Protocol::Pop3 => "995 (SSL/TLS) or 110 (STARTTLS)",
        crate::model::Protocol::Imap => "993 (SSL/TLS) or 143 (STARTTLS)",
        crate::model::Protocol::Smtp => "465 (SSL/TLS) or 587 (STARTTLS) for sending",
    }
}

/// A greeting that refuses service (not for a blocklist: that is local):
/// temporarily (SMTP 421, POP3 `-ERR [SYS/TEMP]`, IMAP `* BYE`) or for good.
fn refused_service(facts: &Facts<'_>, out: &mut Vec<Finding>) {
    for p in facts.failed_with(&[Code::GreetingRejected]) {
        let text = p
            .session
            .as_ref()
            .and_then(|s| s.greeting_rejected.clone())
            .unwrap_or_default();
        let lower = text.to_ascii_lowercase();
        if super::local::names_blocklist(&lower) {
            continue;
        }
        let temporary = text.starts_with("421")
            || lower.contains("[sys/temp]")
            || lower.contains("[in-use]")
            || text.starts_with("* BYE")
            || lower.contains("try again")
            || lower.contains("too many");
        let (code, cause, fix) = if temporary {
            (
                "service_unavailable",
                format!(
                    "{} {} on {} says it cannot serve right now",
                    p.protocol, p.port, p.host
                ),
                "Try again later; if it lasts, tell the provider (the server is overloaded, in maintenance, or limits connections from one address).",
            )
        } else {
            (
                "service_refused",
                format!(
                    "{} {} on {} refuses service to this connection",
                    p.protocol, p.port, p.host
                ),
                "Ask the provider: the server may accept only its own network or customers on this port; try the submission ports 587 or 465 for sending.",
            )
        };
        out.push(
            Finding::new(code, facts.impact(&[p]), Category::Server, cause, fix)
                .on(p)
                .because(format!("the server said: {text}")),
        );
    }
}

/// Silence after connecting on a port where nothing shows that TLS is expected.
fn silent(facts: &Facts<'_>, out: &mut Vec<Finding>) {
    let tls_seen = |p: &ProbeReport| {
        facts.tried.iter().any(|t| {
            t.host == p.host
                && t.port == p.port
                && t.security == crate::model::Security::Tls
                && (works(t) || t.tls.is_some())
        })
    };
    let hit: Vec<&ProbeReport> = facts
        .failed_with(&[Code::NoGreeting, Code::TlsTimeout])
        .into_iter()
        .filter(|p| !tls_seen(p))
        .collect();
    for host in facts.hosts() {
        let on: Vec<&ProbeReport> = hit.iter().copied().filter(|p| p.host == host).collect();
        if on.is_empty() {
            continue;
        }
        out.push(
            Finding::new(
                "server_silent",
                facts.impact(&on),
                Category::Server,
                format!(
                    "{host} accepts connections on {} but never says a word: no greeting, no TLS answer",
                    ports(&on.iter().map(|p| p.port).collect::<Vec<_>>())
                ),
                "A filter or an overloaded server holds the connection: try again later, or from another network; tell the provider if it lasts.",
            )
            .on_all(on.iter().copied())
            .because(failure_text(on[0])),
        );
    }
}

/// Ways a server misbehaves mid-dialogue: (code, failures, what it does, fix).
const MISBEHAVIOUR: [(&str, &[Code], &str, &str); 5] = [
    (
        "connection_dropped",
        &[Code::ConnectionReset, Code::ConnectionClosed],
        "drops the connection",
        "Try again later; if it lasts, the server or a firewall between cuts connections: tell the provider.",
    ),
    (
        "server_stalls",
        &[Code::ReplyTimeout],
        "stops answering in the middle of the conversation",
        "Try again later; the server is overloaded or stuck: tell the provider if it lasts.",
    ),
    (
        "server_floods",
        &[Code::LineTooLong, Code::ReplyTooLong, Code::ProbeTooLarge],
        "sends far more than a mail server ever should (mailcheck stopped reading at its limit)",
        "This is not a working mail server on that port: check the port and the server name; tell the provider.",
    ),
    (
        "server_sends_garbage",
        &[Code::InvalidBytes],
        "sends bytes that are not text",
        "Something other than a mail server answers, or the connection is corrupted: check the port; tell the provider.",
    ),
    (
        "protocol_error",
        &[Code::ProtocolViolation],
        "answers with something the mail protocol does not allow",
        "The server software misbehaves: tell the provider, quoting the reply below.",
    ),
];

/// The server drops the connection, stops answering, floods, sends garbage or
/// breaks the protocol: one finding per kind and host.
fn misbehaviour(facts: &Facts<'_>, out: &mut Vec<Finding>) {
    for (id, codes, what, fix) in MISBEHAVIOUR {
        let hit: Vec<&ProbeReport> = facts
            .failed_with(codes)
            .into_iter()
            .filter(|p| failed_outside_tls(p))
            .collect();
        for (host, on, list) in facts.per_host(&hit) {
            out.push(
                Finding::new(
                    id,
                    facts.impact(&on),
                    Category::Server,
                    format!("{host} {what} on {list}"),
                    fix,
                )
                .failures(&on, 3),
            );
        }
    }
}

/// Failures in the TLS handshake belong to the TLS rules.
fn failed_outside_tls(p: &ProbeReport) -> bool {
    p.failure.as_ref().is_some_and(|f| f.phase != Phase::Tls)
}

/// A greeting that came, but late.
fn slow_greeting(facts: &Facts<'_>, out: &mut Vec<Finding>) {
    let hit: Vec<&ProbeReport> =
        facts.tried_where(|p| p.warnings.iter().any(|w| w.code == Code::SlowGreeting));
    if hit.is_empty() {
        return;
    }
    let mut f = Finding::new(
        "slow_greeting",
        Severity::Warning,
        Category::Server,
        format!("{} greets late, so clients with short timeouts give up", hosts_of(&hit)),
        "Raise the client's server timeout; server: check load, DNS lookups of clients and tarpitting.",
    )
    .on_all(hit.iter().copied());
    for p in hit.iter().take(3) {
        if let Some(w) = p.warnings.iter().find(|w| w.code == Code::SlowGreeting) {
            f = f.because(format!("{} {}: {}", p.protocol, p.port, w.message));
        }
    }
    out.push(f);
}

/// IPv6 connections that time out or are refused while IPv4 works: one finding
/// for every host it happens on.
fn ipv6_broken(facts: &Facts<'_>, out: &mut Vec<Finding>) {
    let mut evidence: Vec<String> = Vec::new();
    let hit: Vec<&ProbeReport> = facts.tried_where(|p| {
        let v4 = p.connects.iter().any(|c| c.family == "ipv4" && c.ok);
        let bad = p
            .connects
            .iter()
            .find(|c| c.family == "ipv6" && !c.ok && c.code != Some(Code::NetworkUnreachable));
        if let (true, Some(b)) = (v4, bad) {
            evidence.push(format!(
                "{}: {}",
                b.address,
                b.error.clone().unwrap_or_else(|| "failed".into())
            ));
            true
        } else {
            false
        }
    });
    if hit.is_empty() {
        return;
    }
    let mut f = Finding::new(
        "ipv6_broken",
        Severity::Warning,
        Category::Server,
        format!(
            "{} does not answer over IPv6 from here, while IPv4 works; clients that try IPv6 first wait or fail",
            hosts_of(&hit)
        ),
        "Server: fix IPv6 (the AAAA record, a firewall, the listener); or this network's IPv6. Meanwhile IPv4 works.",
    )
    .on_all(hit.iter().copied());
    f.affects.add_family("ipv6");
    for e in evidence.into_iter().take(3) {
        f = f.because(e);
    }
    out.push(f);
}
