//! Rules about reaching the servers: a host name that does not resolve, a host
//! that answers on no port, a port this network blocks, and IPv6 that fails
//! where IPv4 works.

use super::{by_host, ports, works};
use crate::model::Code;
use crate::model::Phase;
use crate::report::Finding;
use crate::report::Severity;
use crate::report::{ProbeReport, Run};

pub(super) fn check(report: &Run, raw: &mut Vec<Finding>) {
    let hosts = by_host(report);
    let timed_out: Vec<(&str, Vec<u16>)> = hosts
        .iter()
        .map(|(h, ps)| (*h, timed_out_ports(ps)))
        .collect();
    for (host, ps) in &hosts {
        let tried: Vec<&ProbeReport> = ps.iter().copied().filter(|p| !p.inferred).collect();
        if tried.is_empty() {
            continue;
        }
        let failed_in = |phase: Phase| {
            tried
                .iter()
                .all(|p| p.failure.as_ref().is_some_and(|f| f.phase == phase))
        };
        if failed_in(Phase::Resolve) {
            dns_failed(host, &tried, raw);
            continue;
        }
        if failed_in(Phase::Connect) {
            server_down(host, &tried, raw);
        }
        let elsewhere = |port: u16| {
            timed_out
                .iter()
                .filter(|(h, list)| h != host && list.contains(&port))
                .count()
        };
        let own = timed_out
            .iter()
            .find(|(h, _)| h == host)
            .map(|(_, l)| l.clone())
            .unwrap_or_default();
        for port in own {
            let working: Vec<u16> = tried
                .iter()
                .filter(|p| p.port != port && works(p))
                .map(|p| p.port)
                .collect();
            if !working.is_empty() || elsewhere(port) > 0 {
                port_blocked(host, port, &working, &tried, raw);
            }
        }
        ipv6_broken(host, &tried, raw);
    }
}

/// Ports on which every tried combination timed out while connecting.
fn timed_out_ports(ps: &[&ProbeReport]) -> Vec<u16> {
    let mut out: Vec<u16> = Vec::new();
    for p in ps.iter().filter(|p| !p.inferred) {
        let all = ps
            .iter()
            .filter(|o| o.port == p.port && !o.inferred)
            .all(|o| {
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

fn dns_failed(host: &str, tried: &[&ProbeReport], raw: &mut Vec<Finding>) {
    let message = tried[0]
        .failure
        .as_ref()
        .map(|f| format!("{}: {}", f.code, f.message))
        .unwrap_or_default();
    raw.push(
        Finding::new(
            "dns_failed",
            Severity::Critical,
            Some(host),
            format!("{host} could not be looked up in DNS, so nothing could be tried"),
            "Check the spelling of the server name; if it is right, the domain's DNS is broken.",
        )
        .with_all(tried.iter().copied())
        .because(message),
    );
}

fn server_down(host: &str, tried: &[&ProbeReport], raw: &mut Vec<Finding>) {
    let mut f = Finding::new(
        "server_down",
        Severity::Critical,
        Some(host),
        format!("{host} refused or ignored every connection: the server is down or unreachable from here"),
        "Check the server name; try again later or from another network; tell the server's administrator.",
    )
    .with_all(tried.iter().copied());
    for p in tried {
        if let Some(fail) = &p.failure {
            f = f.because(format!("port {}: {}", p.port, fail.code));
        }
    }
    raw.push(f);
}

fn port_blocked(
    host: &str,
    port: u16,
    working: &[u16],
    tried: &[&ProbeReport],
    raw: &mut Vec<Finding>,
) {
    let on_port: Vec<&ProbeReport> = tried.iter().copied().filter(|p| p.port == port).collect();
    let cause = if working.is_empty() {
        format!(
            "port {port} timed out here on several servers: this network blocks outbound port {port}"
        )
    } else {
        let verb = if working.len() == 1 { "works" } else { "work" };
        format!(
            "port {port} on {host} timed out while {} {verb}: this network (or a firewall) blocks outbound port {port}",
            ports(working)
        )
    };
    let fix = match port {
        25 => "Send through the submission port 587 (STARTTLS) or 465 (SSL/TLS); home and mobile networks block port 25.".to_owned(),
        _ if working.is_empty() => format!("Ask the network's administrator to allow port {port}, or try another network."),
        _ => format!(
            "Use {} instead, or ask the network's administrator to allow port {port}.",
            ports(working)
        ),
    };
    raw.push(
        Finding::new("port_blocked", Severity::Warning, Some(host), cause, fix)
            .with_all(on_port.iter().copied())
            .because(format!("{}: connect_timeout", on_port[0].endpoint())),
    );
}

fn ipv6_broken(host: &str, tried: &[&ProbeReport], raw: &mut Vec<Finding>) {
    for p in tried {
        let v4 = p.connects.iter().any(|c| c.family == "ipv4" && c.ok);
        let Some(bad) = p.connects.iter().find(|c| c.family == "ipv6" && !c.ok) else {
            continue;
        };
        if !v4 {
            continue;
        }
        raw.push(
            Finding::new(
                "ipv6_broken",
                Severity::Warning,
                Some(host),
                format!("{host} does not answer over IPv6 from here, while IPv4 works; clients that try IPv6 first wait or fail"),
                "Fix the server's IPv6 (AAAA record, firewall, listener) or this network's IPv6; meanwhile IPv4 works.",
            )
            .with(p)
            .because(format!(
                "{}: {}",
                bad.address,
                bad.error.clone().unwrap_or_else(|| "failed".into())
            )),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::testing::{attempt, failed, ok, report};
    use crate::diagnose::{Options, findings};
    use crate::model::Code;
    use crate::model::Phase;
    use crate::report::Finding;
    use crate::report::ProbeReport;

    fn find(probes: Vec<ProbeReport>, code: &str) -> Vec<Finding> {
        findings(&report(probes), &Options::default())
            .into_iter()
            .filter(|f| f.code == code)
            .collect()
    }

    fn timeout(spec: &str) -> ProbeReport {
        failed(spec, Code::ConnectTimeout, Phase::Connect)
    }

    #[test]
    fn port_25_timing_out_while_587_works_is_blocked_not_down() {
        let probes = vec![
            timeout("smtp:25:starttls"),
            timeout("smtp:25:plain"),
            ok("smtp:587:starttls"),
        ];
        let f = find(probes.clone(), "port_blocked");
        assert_eq!(f.len(), 1);
        assert!(f[0].cause.contains("port 25") && f[0].cause.contains("port 587 works"));
        assert!(f[0].fix.contains("587"));
        assert!(find(probes, "server_down").is_empty());
    }

    #[test]
    fn the_same_port_timing_out_on_several_hosts_is_blocked() {
        let probes = vec![
            timeout("smtp:465:tls@a.example"),
            timeout("smtp:465:tls@b.example"),
        ];
        assert_eq!(find(probes, "port_blocked").len(), 2);
        assert!(find(vec![timeout("smtp:465:tls@a.example")], "port_blocked").is_empty());
    }

    #[test]
    fn every_port_refused_or_timing_out_is_server_down() {
        let probes = vec![
            failed("imap:993:tls", Code::ConnectRefused, Phase::Connect),
            timeout("imap:143:starttls"),
        ];
        let f = find(probes, "server_down");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].combinations.len(), 2);
    }

    #[test]
    fn a_name_that_does_not_resolve_is_dns_failed() {
        let p = failed("imap:993:tls", Code::DnsNameNotFound, Phase::Resolve);
        let f = find(vec![p], "dns_failed");
        assert!(f[0].evidence[0].contains("dns_name_not_found"));
    }

    #[test]
    fn ipv6_failing_where_ipv4_works_is_ipv6_broken() {
        let mut p = ok("imap:993:tls");
        p.connects.push(attempt(
            "[2001:db8::1]:993",
            "ipv6",
            Some(Code::NetworkUnreachable),
        ));
        let f = find(vec![p], "ipv6_broken");
        assert!(f[0].evidence[0].starts_with("[2001:db8::1]:993"));
        assert!(find(vec![ok("imap:993:tls")], "ipv6_broken").is_empty());
    }
}
