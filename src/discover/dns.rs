//! The DNS sources of discovery: RFC 6186 / RFC 8314 SRV records, the domain's MX
//! hosts, and host-name guesses that resolve.

use std::time::Instant;

use futures_util::future::join_all;

use crate::model::{Protocol, Security};
use crate::net::resolve::{Families, Resolver};
use crate::report::NotOffered;
use crate::report::Setting;
use crate::report::SourceKind;
use crate::report::SourceReport;

/// The SRV services of RFC 6186 and RFC 8314 (§5.1: `_submissions` for implicit
/// TLS), most secure first.
pub const SRV_SERVICES: [(&str, Protocol, Security); 6] = [
    ("_submissions._tcp", Protocol::Smtp, Security::Tls),
    ("_submission._tcp", Protocol::Smtp, Security::StartTls),
    ("_imaps._tcp", Protocol::Imap, Security::Tls),
    ("_imap._tcp", Protocol::Imap, Security::StartTls),
    ("_pop3s._tcp", Protocol::Pop3, Security::Tls),
    ("_pop3._tcp", Protocol::Pop3, Security::StartTls),
];

/// Looks up every SRV service of `domain` at once; one report per service.
pub async fn srv(resolver: &Resolver, domain: &str) -> Vec<SourceReport> {
    let queries = SRV_SERVICES
        .iter()
        .map(|(service, protocol, security)| async move {
            let name = format!("{service}.{domain}");
            let started = Instant::now();
            let result = resolver.srv(&name).await;
            let mut report = SourceReport::new(SourceKind::Srv, format!("SRV {name}"));
            report.duration_ms = started.elapsed().as_millis() as u64;
            match result {
                Err(f) => report.outcome = f.message,
                Ok(records) if records.iter().any(|r| r.target == ".") => {
                    report.outcome =
                        String::from("service deliberately not offered (target \".\", RFC 2782)");
                    report.not_offered = Some(NotOffered {
                        protocol: *protocol,
                        security: *security,
                        service: (*service).to_owned(),
                    });
                }
                Ok(records) => {
                    report.settings = records
                        .iter()
                        .map(|r| Setting {
                            protocol: *protocol,
                            host: r.target.clone(),
                            port: r.port,
                            security: *security,
                            username: None,
                            auth: None,
                        })
                        .collect();
                    report.outcome = records
                        .iter()
                        .map(|r| {
                            format!(
                                "{}:{} (priority {}, weight {})",
                                r.target, r.port, r.priority, r.weight
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ");
                }
            }
            report
        });
    join_all(queries).await
}

/// The domain's MX hosts, most preferred first, with the report of the lookup.
pub async fn mx(resolver: &Resolver, domain: &str) -> (Vec<String>, SourceReport) {
    let started = Instant::now();
    let mut report = SourceReport::new(SourceKind::Mx, format!("MX {domain}"));
    let hosts = match resolver.mx(domain).await {
        Ok(hosts) => {
            report.outcome = if hosts.is_empty() {
                "no MX record".into()
            } else {
                hosts.join(", ")
            };
            hosts
        }
        Err(f) => {
            report.outcome = f.message;
            Vec::new()
        }
    };
    report.duration_ms = started.elapsed().as_millis() as u64;
    (hosts, report)
}

/// Host names people (and Thunderbird) try, per protocol, in order.
#[must_use]
pub fn guesses(domain: &str) -> Vec<(Protocol, String)> {
    let mut out = Vec::new();
    for prefix in ["imap.", "mail.", ""] {
        out.push((Protocol::Imap, format!("{prefix}{domain}")));
    }
    for prefix in ["pop3.", "pop.", "mail.", ""] {
        out.push((Protocol::Pop3, format!("{prefix}{domain}")));
    }
    for prefix in ["smtp.", "mail.", ""] {
        out.push((Protocol::Smtp, format!("{prefix}{domain}")));
    }
    out
}

/// Resolves every guess at once; those that resolve become settings on the
/// protocol's standard implicit-TLS port (the matrix then tries every mode).
pub async fn guess(resolver: &Resolver, domain: &str, families: Families) -> SourceReport {
    let started = Instant::now();
    let mut names: Vec<String> = guesses(domain).into_iter().map(|(_, n)| n).collect();
    names.sort();
    names.dedup();
    let lookups = names.iter().map(|n| resolver.resolve(n, families));
    let resolved: Vec<(String, bool)> = names
        .iter()
        .cloned()
        .zip(
            join_all(lookups)
                .await
                .into_iter()
                .map(|r| r.failure.is_none()),
        )
        .collect();
    let exists = |name: &str| resolved.iter().any(|(n, ok)| n == name && *ok);
    let mut report = SourceReport::new(SourceKind::Guess, format!("guessed names under {domain}"));
    report.settings = guesses(domain)
        .into_iter()
        .filter(|(_, name)| exists(name))
        .map(|(protocol, host)| Setting {
            protocol,
            host,
            port: standard_tls_port(protocol),
            security: Security::Tls,
            username: None,
            auth: None,
        })
        .collect();
    let found: Vec<&str> = resolved
        .iter()
        .filter(|(_, ok)| *ok)
        .map(|(n, _)| n.as_str())
        .collect();
    report.outcome = if found.is_empty() {
        "none of the usual names resolves".to_owned()
    } else {
        format!("resolve: {}", found.join(", "))
    };
    report.duration_ms = started.elapsed().as_millis() as u64;
    report
}

/// RFC 8314's implicit-TLS port of each protocol.
#[must_use]
pub fn standard_tls_port(protocol: Protocol) -> u16 {
    match protocol {
        Protocol::Pop3 => 995,
        Protocol::Imap => 993,
        Protocol::Smtp => 465,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_follow_thunderbirds_names() {
        let g = guesses("example.com");
        let names = |p: Protocol| {
            g.iter()
                .filter(|(q, _)| *q == p)
                .map(|(_, n)| n.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(Protocol::Imap),
            ["imap.example.com", "mail.example.com", "example.com"]
        );
        assert_eq!(
            names(Protocol::Pop3),
            [
                "pop3.example.com",
                "pop.example.com",
                "mail.example.com",
                "example.com"
            ]
        );
        assert_eq!(
            names(Protocol::Smtp),
            ["smtp.example.com", "mail.example.com", "example.com"]
        );
    }

    #[test]
    fn srv_services_cover_rfc_6186_and_8314() {
        let names: Vec<&str> = SRV_SERVICES.iter().map(|s| s.0).collect();
        assert_eq!(names.len(), 6);
        assert!(names.contains(&"_submissions._tcp") && names.contains(&"_pop3._tcp"));
        let implicit = SRV_SERVICES.iter().filter(|s| s.2 == Security::Tls).count();
        assert_eq!(implicit, 3);
    }
}
