//! Causes on this computer and its network, checked first: a DNS server that
//! does not answer (or fails every name), an outbound port the network blocks, no
//! route for an address family, a security product or gateway that intercepts
//! mail connections, a firewall that inspects SMTP, and an address on a blocklist.
//! The fix is on the person's side, not the server's.

use super::{Facts, and_list, hosts_of, ports, works};
use crate::model::{Code, Phase, Protocol};
use crate::report::{Category, ChainReport, Finding, ProbeReport, Severity, StartTlsState};

pub(super) fn check(facts: &Facts<'_>, out: &mut Vec<Finding>) {
    out.extend(dns(facts));
    blocked_ports(facts, out);
    no_route(facts, out);
    interception(facts, out);
    out.extend(smtp_inspection(facts));
    out.extend(blocklisted(facts));
    changed_connections(facts, out);
}

fn said(c: crate::model::Combination) -> String {
    format!("{} {} {}", c.protocol, c.port, c.security)
}

/// A second connection to the same combination (the login's) that was not
/// the same as the first: another certificate, STARTTLS gone, data injected.
/// A server does not change so between two connections; an interceptor does.
fn changed_connections(facts: &Facts<'_>, out: &mut Vec<Finding>) {
    for l in facts.run.logins.iter().filter(|l| !l.changed.is_empty()) {
        let Some(combination) = l.combination else {
            continue;
        };
        // Both certificates verified and only the certificate differs: most
        // likely several certificates behind one name (renewal, a cluster).
        let benign = l
            .changed
            .iter()
            .all(|c| c.starts_with("certificate changed") && c.ends_with("(verified)"));
        let (severity, cause, fix) = if benign {
            (
                Severity::Warning,
                format!(
                    "The second connection to {} ({}) showed another certificate than the first, both valid",
                    l.host,
                    said(combination)
                ),
                "Nothing for the client to change; if the server should have one certificate, tell the provider (several servers behind one name, or a renewal under way).",
            )
        } else {
            (
                Severity::Critical,
                format!(
                    "The second connection to {} ({}) was not the same as the first: something on the path between this computer and the server is probably intercepting the connection",
                    l.host,
                    said(combination)
                ),
                "Do not send a password over this network until it is explained: try from another network; the network's administrator should look for a TLS-inspecting gateway or a compromised router.",
            )
        };
        let mut f = Finding::new("connection_changed", severity, Category::Local, cause, fix)
            .at(crate::model::Endpoint::new(l.host.clone(), combination));
        for c in &l.changed {
            f = f.because(c.clone());
        }
        out.push(f);
    }
}

/// Every name failed, and so did a control lookup of a well-known name.
fn dns(facts: &Facts<'_>) -> Option<Finding> {
    let check = facts.run.dns_check.as_ref().filter(|c| !c.ok)?;
    let unanswered = check.code == Some(Code::DnsTimeout);
    let (code, cause) = if unanswered {
        (
            "dns_not_answering",
            format!(
                "The DNS server this computer uses does not answer: no name could be looked up, not even {}",
                check.name
            ),
        )
    } else {
        (
            "dns_everything_fails",
            format!(
                "No name can be looked up from this computer, not even {}: it is offline, or its DNS server refuses every lookup",
                check.name
            ),
        )
    };
    let fix = "Check that this computer is connected (a Wi-Fi login page or a VPN can block DNS) and its DNS settings; \
               with --dns-server, check that server. The mail servers themselves may be fine.";
    let failed = facts.failed_with(&[
        Code::DnsTimeout,
        Code::DnsServerFailure,
        Code::DnsNameNotFound,
        Code::DnsNoAddress,
    ]);
    Some(
        Finding::new(code, Severity::Critical, Category::Local, cause, fix)
            .on_all(failed)
            .because(check.message.clone()),
    )
}

/// Ports on which every combination timed out while connecting.
fn timed_out_ports(ps: &[&ProbeReport]) -> Vec<u16> {
    let mut out: Vec<u16> = Vec::new();
    for p in ps {
        let all = ps.iter().filter(|o| o.port == p.port).all(|o| {
            o.failure
                .as_ref()
                .is_some_and(|f| f.phase == Phase::Connect && f.code == Code::ConnectTimeout)
        });
        if all && !out.contains(&p.port) {
            out.push(p.port);
        }
    }
    out
}

/// A port that times out while other ports of the same host work, or on several
/// hosts: this network (or a firewall on it) drops outbound connections to it.
fn blocked_ports(facts: &Facts<'_>, out: &mut Vec<Finding>) {
    let per_host: Vec<(&str, Vec<u16>)> = facts
        .hosts()
        .into_iter()
        .map(|h| (h, timed_out_ports(&facts.on_host(h))))
        .collect();
    let mut blocked: Vec<u16> = Vec::new();
    for (host, list) in &per_host {
        let others_work = facts.on_host(host).iter().any(|p| works(p));
        for port in list {
            let elsewhere = per_host
                .iter()
                .filter(|(h, l)| h != host && l.contains(port))
                .count();
            if (others_work || elsewhere > 0) && !blocked.contains(port) {
                blocked.push(*port);
            }
        }
    }
    for port in blocked {
        out.push(blocked_port(facts, port, &per_host));
    }
}

fn blocked_port(facts: &Facts<'_>, port: u16, per_host: &[(&str, Vec<u16>)]) -> Finding {
    let hit: Vec<&ProbeReport> = facts
        .tried
        .iter()
        .copied()
        .filter(|p| p.port == port)
        .filter(|p| {
            per_host
                .iter()
                .any(|(h, l)| *h == p.host && l.contains(&port))
        })
        .collect();
    let incoming = hit.iter().all(|p| p.protocol.is_incoming());
    let working: Vec<u16> = facts
        .tried
        .iter()
        .filter(|p| works(p) && p.security.is_secure() && p.protocol.is_incoming() == incoming)
        .map(|p| p.port)
        .collect();
    let cause = if working.is_empty() {
        format!(
            "This network blocks outbound port {port}: connections to {} on it time out",
            hosts_of(&hit)
        )
    } else {
        format!(
            "This network blocks outbound port {port}: connections to {} on it time out while {} {}",
            hosts_of(&hit),
            ports(&working),
            if working.len() == 1 { "works" } else { "work" }
        )
    };
    let fix = match (port, working.is_empty()) {
        (25, false) => "Nothing to do for a mail client: send through the submission ports (587 STARTTLS or 465 SSL/TLS). \
                        Home and mobile networks block port 25 on purpose."
            .to_owned(),
        (_, false) => format!(
            "Use {} instead, or ask the network's administrator to allow port {port}.",
            ports(&working)
        ),
        (_, true) => format!(
            "Ask the network's administrator to allow outbound port {port}, or try from another network."
        ),
    };
    Finding::new(
        "port_blocked",
        facts.impact(&hit),
        Category::Local,
        cause,
        fix,
    )
    .on_all(hit.iter().copied())
    .because(format!("port {port}: connect_timeout on every try"))
}

/// Connection attempts that failed with "no route" in one address family.
fn no_route(facts: &Facts<'_>, out: &mut Vec<Finding>) {
    for family in ["ipv6", "ipv4"] {
        let hit: Vec<&ProbeReport> = facts.tried_where(|p| {
            p.connects
                .iter()
                .any(|c| c.family == family && c.code == Some(Code::NetworkUnreachable))
        });
        if hit.is_empty() {
            continue;
        }
        let other_works = hit.iter().any(|p| p.connects.iter().any(|c| c.ok));
        let name = if family == "ipv6" { "IPv6" } else { "IPv4" };
        let (severity, cause, fix) = if other_works {
            (
                Severity::Info,
                format!(
                    "This computer has no {name} route, so the connections go over the other address family"
                ),
                "Nothing to do for mail: the other address family works.".to_owned(),
            )
        } else {
            (
                facts.impact(&hit),
                format!(
                    "This computer has no route to {} over {name}: it is not connected, or its {name} is not set up",
                    hosts_of(&hit)
                ),
                "Check the network connection; if only IPv6 is missing, run without -6.".to_owned(),
            )
        };
        let mut f = Finding::new("no_route", severity, Category::Local, cause, fix).on_all(hit);
        f.affects.add_family(family);
        out.push(f);
    }
}

/// Products that intercept TLS by re-signing certificates with their own CA,
/// as words that appear in that CA's name (issuer O or CN). Multi-word names
/// are matched as consecutive words, so "eset" does not match "reset".
const INTERCEPTORS: &[&str] = &[
    "avast",
    "avg",
    "kaspersky",
    "eset",
    "bitdefender",
    "norton",
    "symantec",
    "mcafee",
    "sophos",
    "fortinet",
    "fortigate",
    "palo alto",
    "zscaler",
    "cisco umbrella",
    "check point",
    "checkpoint",
    "watchguard",
    "barracuda",
    "netskope",
    "trend micro",
    "f-secure",
    "gdata",
    "g data",
];

/// Whether `name` contains `product` as whole consecutive words.
fn names_product(name: &str, product: &str) -> bool {
    let words: Vec<String> = name
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '-')
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let wanted: Vec<&str> = product.split(' ').collect();
    words
        .windows(wanted.len())
        .any(|w| w.iter().zip(&wanted).all(|(a, b)| a == b))
}

fn chain(p: &ProbeReport) -> Option<&ChainReport> {
    p.tls
        .as_ref()?
        .certificate
        .as_ref()
        .filter(|c| !c.certificates.is_empty())
}

/// A certificate issued by a security product, or certificates from different
/// issuers on ports of one host: something on this side re-signs the connections.
fn interception(facts: &Facts<'_>, out: &mut Vec<Finding>) {
    let mut by_product: Vec<(&str, Vec<&ProbeReport>, String)> = Vec::new();
    for p in &facts.tried {
        let Some(c) = chain(p) else { continue };
        for cert in &c.certificates {
            if let Some(product) = INTERCEPTORS.iter().find(|x| names_product(&cert.issuer, x)) {
                match by_product.iter_mut().find(|(x, _, _)| x == product) {
                    Some((_, ps, _)) => ps.push(p),
                    None => by_product.push((product, vec![p], cert.issuer.clone())),
                }
                break;
            }
        }
    }
    for (product, ps, issuer) in &by_product {
        out.push(
            Finding::new(
                "tls_interception",
                Severity::Critical,
                Category::Local,
                format!(
                    "Security software or a gateway on this side ({product}) intercepts the mail connections to {}: it replaces the server's certificate with its own, so clients see errors such as \"internal error with SSL\"",
                    hosts_of(ps)
                ),
                format!(
                    "On this computer, turn off the mail or TLS scanning of {product} (often called \"Mail Shield\", \"Email protection\" or \"SSL/TLS scanning\"), \
                     or have the network's administrator exempt mail ports from TLS inspection. Never switch the client to \"None\" to get around it."
                ),
            )
            .on_all(ps.iter().copied())
            .because(format!("certificate issuer: {issuer}")),
        );
    }
    for host in facts.hosts() {
        if by_product
            .iter()
            .any(|(_, ps, _)| ps.iter().any(|p| p.host == host))
        {
            continue;
        }
        out.extend(issuers_differ(facts, host));
    }
}

/// Leaf certificates from different issuers on ports of one host.
fn issuers_differ(facts: &Facts<'_>, host: &str) -> Option<Finding> {
    let chains: Vec<(&ProbeReport, String)> = facts
        .on_host(host)
        .into_iter()
        .filter_map(|p| Some((p, chain(p)?.certificates[0].issuer.clone())))
        .collect();
    let first = chains.first()?;
    if chains.iter().all(|(_, i)| *i == first.1) {
        return None;
    }
    let mut f = Finding::new(
        "tls_interception",
        Severity::Warning,
        Category::Local,
        format!(
            "Ports of {host} present certificates from different issuers, as when security software or a gateway on this side intercepts some ports"
        ),
        "Compare the issuers below: if the server uses one certificate authority, turn off the TLS or mail scanning of antivirus or firewall products here, \
         or ask the network's administrator.",
    );
    for (p, issuer) in &chains {
        f = f.on(p).because(format!("port {}: {issuer}", p.port));
    }
    Some(f)
}

/// A firewall's SMTP inspection (Cisco ASA/PIX "fixup"/ESMTP inspection and
/// the like): the greeting masked with asterisks, extensions replaced by X's,
/// STARTTLS hidden or refused.
fn smtp_inspection(facts: &Facts<'_>) -> Option<Finding> {
    let hit: Vec<&ProbeReport> =
        facts.tried_where(|p| p.protocol == Protocol::Smtp && inspected(p));
    let first = hit.first()?;
    let session = first.session.as_ref()?;
    let mut f = Finding::new(
        "smtp_inspection",
        facts.tls_impact(&hit).max(Severity::Warning),
        Category::Local,
        format!(
            "A firewall on this network inspects SMTP to {}: it masks the server's greeting and hides or refuses STARTTLS, so the client cannot encrypt on {}",
            hosts_of(&hit),
            ports(&hit.iter().map(|p| p.port).collect::<Vec<_>>())
        ),
        "Use port 465 (SSL/TLS), which the inspection cannot read; network administrator: turn off SMTP/ESMTP inspection \
         (Cisco ASA: no inspect esmtp) or let STARTTLS through. Do not switch the client to \"None\".",
    )
    .on_all(hit.iter().copied());
    if let Some(g) = &session.greeting {
        f = f.because(format!("greeting: {g}"));
    }
    let masked: Vec<String> = session
        .capabilities
        .iter()
        .filter(|c| masked_extension(c))
        .cloned()
        .collect();
    if !masked.is_empty() {
        f = f.because(format!("masked extensions: {}", masked.join(", ")));
    }
    Some(f)
}

pub(super) fn inspected(p: &ProbeReport) -> bool {
    let Some(s) = &p.session else { return false };
    let masked_greeting = s.greeting.as_deref().is_some_and(|g| g.contains("****"));
    let masked_caps = s
        .capabilities
        .iter()
        .chain(&s.capabilities_before_tls)
        .any(|c| masked_extension(c));
    let starttls_gone = matches!(
        s.starttls,
        StartTlsState::NotAdvertised | StartTlsState::Refused(_)
    );
    (masked_greeting || masked_caps)
        && (starttls_gone || p.security == crate::model::Security::Plain)
}

/// An EHLO keyword a Cisco-style inspection overwrote with X's ("XXXXXXXA").
fn masked_extension(keyword: &str) -> bool {
    let word = keyword.split_whitespace().next().unwrap_or("");
    word.len() >= 4 && word.starts_with("XXX") && word.chars().all(|c| c.is_ascii_alphabetic())
}

/// Words in a refusal that name a DNS blocklist.
const BLOCKLIST_WORDS: &[&str] = &[
    "spamhaus",
    "spamcop",
    "sorbs",
    "barracudacentral",
    "blocklist",
    "blacklist",
    "block list",
    "black list",
    "dnsbl",
    "rbl",
    "blocked using",
    "listed at",
    "listed in",
];

/// Whether a refusal's text (lower case) names a DNS blocklist.
pub(super) fn names_blocklist(lower: &str) -> bool {
    BLOCKLIST_WORDS.iter().any(|w| lower.contains(w))
}

/// A greeting that refuses service because this computer's address is listed.
fn blocklisted(facts: &Facts<'_>) -> Option<Finding> {
    let hit: Vec<(&ProbeReport, String)> = facts
        .failed_with(&[Code::GreetingRejected])
        .into_iter()
        .filter_map(|p| {
            let text = p.session.as_ref()?.greeting_rejected.clone()?;
            names_blocklist(&text.to_ascii_lowercase()).then_some((p, text))
        })
        .collect();
    let (_, text) = hit.first()?;
    let ps: Vec<&ProbeReport> = hit.iter().map(|(p, _)| *p).collect();
    let lists = list_names(&hit);
    let named = if lists.is_empty() {
        "a blocklist".to_owned()
    } else {
        and_list(&lists)
    };
    Some(
        Finding::new(
            "address_blocklisted",
            facts.impact(&ps).max(Severity::Warning),
            Category::Local,
            format!(
                "{} refuses this computer's network address because it is on {named}",
                hosts_of(&ps)
            ),
            "Send through your provider's submission server with a login (587 or 465) rather than port 25; \
             look the address up on the list's own page (for example check.spamhaus.org) and ask your internet provider. \
             Home and mobile addresses are often listed on purpose.",
        )
        .on_all(ps.iter().copied())
        .because(text.clone()),
    )
}

/// Blocklist zones named in the refusals ("zen.spamhaus.org").
fn list_names(hit: &[(&ProbeReport, String)]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (_, text) in hit {
        for word in text
            .split(|c: char| c.is_whitespace() || matches!(c, ';' | ',' | '(' | ')' | '<' | '>'))
        {
            let w = word.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '.' && c != '-');
            let lower = w.to_ascii_lowercase();
            let is_zone = lower.contains('.')
                && ["spamhaus", "spamcop", "sorbs", "barracuda", "dnsbl", "rbl"]
                    .iter()
                    .any(|b| lower.contains(b));
            if is_zone && !names.contains(&lower) {
                names.push(lower);
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_names_match_whole_words() {
        assert!(names_product("CN=Avast Web/Mail Shield Root", "avast"));
        assert!(names_product("O=Palo Alto Networks", "palo alto"));
        assert!(!names_product("CN=Reset CA", "eset"));
        assert!(names_product("CN=F-Secure SSL", "f-secure"));
    }

    #[test]
    fn masked_extensions_are_runs_of_x() {
        assert!(masked_extension("XXXXXXXA"));
        assert!(masked_extension("XXXA"));
        assert!(!masked_extension("XCLIENT NAME ADDR"));
        assert!(!masked_extension("X"));
    }
}
