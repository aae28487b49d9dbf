//! Runs every discovery source at once, each bounded in time, and merges what they
//! proposed into candidates that keep their sources, noting where sources disagree.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use super::providers::{self, Provider};
use super::{autoconfig, dns, domain};
use crate::model::Address;
use crate::model::Protocol;
use crate::net::resolve::{Families, Resolver};
use crate::report::Setting;
use crate::report::SourceKind;
use crate::report::SourceReport;
use crate::report::{Candidate, Discovery, ProviderMatch};

/// Shared by every source.
pub struct Sources<'a> {
    /// DNS.
    pub resolver: &'a Resolver,
    /// HTTP(S) for autoconfig.
    pub fetcher: &'a autoconfig::Fetcher,
    /// Address families for the guesses.
    pub families: Families,
}

/// Discovery without the network: the provider table only.
#[must_use]
pub fn offline(address: Address) -> Discovery {
    let started = Instant::now();
    let (provider, report) = table(&address);
    finish(address, provider, vec![report], true, started)
}

/// Discovery with every source at once.
pub async fn online(address: Address, s: &Sources<'_>) -> Discovery {
    let started = Instant::now();
    let domain = address.domain_ascii.clone();
    let ascii = address.ascii();
    let (by_domain, table_report) = table(&address);
    let mx_then_autoconfig = async {
        let (mx_hosts, mx_report) = dns::mx(s.resolver, &domain).await;
        let mut reports = vec![mx_report];
        let recognised = providers::by_mx(&mx_hosts);
        if let Some(p) = recognised {
            reports[0].settings = settings_of(p);
            reports[0].outcome = format!("{} → {}", reports[0].outcome, p.name);
        }
        // Thunderbird also asks the MX host's base domain for autoconfig.
        if let Some(base) = mx_hosts
            .first()
            .and_then(|h| domain::base_domain(h))
            .filter(|b| *b != domain)
        {
            reports.extend(autoconfig_reports(s.fetcher, &base, &ascii).await);
        }
        (recognised, reports)
    };
    let (srv, (by_mx, mx_reports), domain_autoconfig, guesses) = tokio::join!(
        dns::srv(s.resolver, &domain),
        mx_then_autoconfig,
        autoconfig_reports(s.fetcher, &domain, &ascii),
        dns::guess(s.resolver, &domain, s.families),
    );
    let provider = by_domain.or_else(|| by_mx.map(|p| match_of(p, SourceKind::Mx)));
    let mut reports = vec![table_report];
    reports.extend(srv);
    reports.extend(
        mx_reports
            .iter()
            .filter(|r| r.kind == SourceKind::Mx)
            .cloned(),
    );
    reports.extend(domain_autoconfig);
    reports.extend(mx_reports.into_iter().filter(|r| r.kind != SourceKind::Mx));
    reports.push(guesses);
    finish(address, provider, reports, false, started)
}

fn table(address: &Address) -> (Option<ProviderMatch>, SourceReport) {
    let mut report = SourceReport::new(
        SourceKind::Provider,
        format!("provider table ({})", address.domain_ascii),
    );
    let found = providers::by_domain(&address.domain_ascii);
    match found {
        Some(p) => {
            report.outcome.clone_from(&p.name);
            report.settings = settings_of(p);
        }
        None => report.outcome = "not a listed provider domain".into(),
    }
    (found.map(|p| match_of(p, SourceKind::Provider)), report)
}

fn match_of(p: &Provider, via: SourceKind) -> ProviderMatch {
    ProviderMatch {
        id: p.id.clone(),
        name: p.name.clone(),
        via,
        notes: p.notes.clone(),
        checked: providers::checked_date().to_owned(),
    }
}

fn settings_of(p: &Provider) -> Vec<Setting> {
    p.incoming.iter().chain(&p.outgoing).cloned().collect()
}

async fn autoconfig_reports(
    fetcher: &autoconfig::Fetcher,
    domain: &str,
    address: &str,
) -> Vec<SourceReport> {
    autoconfig::lookup(fetcher, domain, address)
        .await
        .into_iter()
        .map(autoconfig_report)
        .collect()
}

/// One autoconfig URL tried, in the shape of every other source's report.
fn autoconfig_report(a: autoconfig::Attempt) -> SourceReport {
    let mut report = SourceReport::new(SourceKind::Autoconfig, a.url.clone());
    report.duration_ms = a.duration.as_millis() as u64;
    let mut outcome = match a.outcome {
        autoconfig::Outcome::Found(config) => {
            let n = config.incoming.len() + config.outgoing.len();
            report.settings = config.incoming.into_iter().chain(config.outgoing).collect();
            format!("{n} server settings")
        }
        autoconfig::Outcome::FetchFailed(e) => e.to_string(),
        autoconfig::Outcome::Invalid(e) => format!("unusable document: {e}"),
    };
    for r in &a.redirects {
        let _ = write!(outcome, "; redirected ({}) to {}", r.status, r.to);
    }
    if a.plain_http && !report.settings.is_empty() {
        outcome.push_str("; fetched over plain HTTP, so it could have been forged on the way");
        report.plain_http = true;
    }
    report.outcome = outcome;
    report
}

fn finish(
    address: Address,
    provider: Option<ProviderMatch>,
    mut sources: Vec<SourceReport>,
    offline: bool,
    started: Instant,
) -> Discovery {
    // Host names compare as DNS does: case-insensitively, without the root dot.
    for s in sources.iter_mut().flat_map(|r| r.settings.iter_mut()) {
        s.host = s.host.trim_end_matches('.').to_ascii_lowercase();
    }
    let candidates = merge(&sources);
    let disagreements = disagreements(&sources);
    let not_offered = sources
        .iter()
        .filter_map(|r| r.not_offered.clone())
        .collect();
    Discovery {
        address,
        provider,
        sources,
        candidates,
        disagreements,
        not_offered,
        offline,
        duration_ms: Duration::as_millis(&started.elapsed()) as u64,
    }
}

/// One candidate per (protocol, host, port, security), in the order the most
/// trusted source proposed it.
fn merge(sources: &[SourceReport]) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    let mut ordered: Vec<&SourceReport> = sources.iter().collect();
    ordered.sort_by_key(|r| r.kind);
    for report in ordered {
        for s in &report.settings {
            let same = |c: &&mut Candidate| {
                (
                    c.setting.protocol,
                    c.setting.host.as_str(),
                    c.setting.port,
                    c.setting.security,
                ) == (s.protocol, s.host.as_str(), s.port, s.security)
            };
            match out.iter_mut().find(same) {
                Some(c) => {
                    if !c.sources.contains(&report.kind) {
                        c.sources.push(report.kind);
                    }
                    c.setting.username = c.setting.username.or(s.username);
                    c.setting.auth = c.setting.auth.or(s.auth);
                }
                None => out.push(Candidate {
                    setting: s.clone(),
                    sources: vec![report.kind],
                }),
            }
        }
    }
    out
}

/// Per protocol, each source's first choice; where they differ, say so.
fn disagreements(sources: &[SourceReport]) -> Vec<String> {
    let mut out = Vec::new();
    for protocol in Protocol::ALL {
        let mut firsts: Vec<(SourceKind, &Setting)> = Vec::new();
        for r in sources.iter().filter(|r| r.kind != SourceKind::Guess) {
            let first = r.settings.iter().find(|s| s.protocol == protocol);
            if let Some(s) = first.filter(|_| !firsts.iter().any(|(k, _)| *k == r.kind)) {
                firsts.push((r.kind, s));
            }
        }
        let differ = firsts.windows(2).any(|w| {
            (w[0].1.host.as_str(), w[0].1.port, w[0].1.security)
                != (w[1].1.host.as_str(), w[1].1.port, w[1].1.security)
        });
        if differ {
            let said: Vec<String> = firsts
                .iter()
                .map(|(k, s)| {
                    format!(
                        "{} says {}:{} {}",
                        source_name(*k),
                        s.host,
                        s.port,
                        s.security
                    )
                })
                .collect();
            out.push(format!("{protocol}: {}", said.join("; ")));
        }
    }
    out
}

/// A source's name in a sentence.
#[must_use]
pub fn source_name(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Provider => "the provider table",
        SourceKind::Srv => "SRV",
        SourceKind::Mx => "the MX provider",
        SourceKind::Autoconfig => "autoconfig",
        SourceKind::Guess => "a guess",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Security;

    fn setting(protocol: Protocol, host: &str, port: u16, security: Security) -> Setting {
        Setting {
            protocol,
            host: host.into(),
            port,
            security,
            username: None,
            auth: None,
        }
    }

    fn report(kind: SourceKind, settings: Vec<Setting>) -> SourceReport {
        let mut r = SourceReport::new(kind, "q".into());
        r.settings = settings;
        r
    }

    #[test]
    fn merging_keeps_every_source_and_the_most_trusted_order() {
        let imap = setting(Protocol::Imap, "imap.example.com", 993, Security::Tls);
        let guess = setting(Protocol::Imap, "mail.example.com", 993, Security::Tls);
        let sources = [
            report(SourceKind::Guess, vec![guess.clone(), imap.clone()]),
            report(SourceKind::Srv, vec![imap.clone()]),
        ];
        let merged = merge(&sources);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].setting, imap, "SRV outranks a guess");
        assert_eq!(merged[0].sources, [SourceKind::Srv, SourceKind::Guess]);
        assert_eq!(merged[1].sources, [SourceKind::Guess]);
    }

    #[test]
    fn disagreeing_sources_are_named() {
        let sources = [
            report(
                SourceKind::Provider,
                vec![setting(
                    Protocol::Smtp,
                    "smtp.example.com",
                    465,
                    Security::Tls,
                )],
            ),
            report(
                SourceKind::Srv,
                vec![setting(
                    Protocol::Smtp,
                    "smtp.example.com",
                    587,
                    Security::StartTls,
                )],
            ),
            report(
                SourceKind::Autoconfig,
                vec![setting(
                    Protocol::Imap,
                    "imap.example.com",
                    993,
                    Security::Tls,
                )],
            ),
        ];
        let d = disagreements(&sources);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].starts_with("SMTP:"), "{}", d[0]);
        assert!(
            d[0].contains("the provider table says smtp.example.com:465 SSL/TLS"),
            "{}",
            d[0]
        );
        assert!(
            d[0].contains("SRV says smtp.example.com:587 STARTTLS"),
            "{}",
            d[0]
        );
    }

    #[test]
    fn agreeing_sources_and_guesses_raise_nothing() {
        let s = setting(Protocol::Imap, "imap.example.com", 993, Security::Tls);
        let sources = [
            report(SourceKind::Provider, vec![s.clone()]),
            report(SourceKind::Srv, vec![s]),
            report(
                SourceKind::Guess,
                vec![setting(
                    Protocol::Imap,
                    "mail.example.com",
                    993,
                    Security::Tls,
                )],
            ),
        ];
        assert!(disagreements(&sources).is_empty());
    }

    #[test]
    fn offline_discovery_uses_the_table_only() {
        let a = crate::model::address::parse("someone@outlook.com").unwrap();
        let d = offline(a);
        assert!(d.offline);
        assert_eq!(d.sources.len(), 1);
        let p = d.provider.unwrap();
        assert_eq!(p.via, SourceKind::Provider);
        assert!(p.notes.iter().any(|n| n.key == "oauth2_only"));
        assert!(
            d.candidates
                .iter()
                .any(|c| c.setting.protocol == Protocol::Smtp)
        );
    }
}
