//! Runs every discovery source at once, each bounded in time, and merges what they
//! proposed into candidates that keep their sources, noting where sources disagree.
//!
//! The order of the reports is the order of trust (docs/discovery.md): the
//! provider overrides, the ISPDB snapshot, the ISPDB online, SRV, MX,
//! autoconfig, Autodiscover, guesses.
//!
//! Each request is bounded by `--timeout`, but some sources chain requests
//! (autoconfig's plain-HTTP fallback after https, the MX host's ISPDB entry
//! after the MX lookup, a POX service after the step that named it, POX
//! answers that redirect); so discovery as a whole has a deadline too
//! ([`deadline_for`]), and a source still running then is reported cut short.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use futures_util::future::join_all;

pub use super::cutoff::{DEADLINE_IN_TIMEOUTS, deadline_for};

use super::cutoff::Cut;
use super::fetch::Fetcher;
use super::providers::{self, Provider};
use super::{autoconfig, autodiscover, dns, domain, ispdb, merge};
use crate::model::Address;
use crate::net::resolve::{Families, Resolver};
use crate::report::SourceKind;
use crate::report::SourceReport;
use crate::report::{Discovery, ProviderMatch};

/// Shared by every source.
pub struct Sources<'a> {
    /// DNS.
    pub resolver: &'a Resolver,
    /// HTTP(S) for autoconfig, the ISPDB and Autodiscover.
    pub fetcher: &'a Fetcher,
    /// Address families for the guesses.
    pub families: Families,
    /// The online ISPDB's base URL, checked ([`ispdb::base_url`]).
    pub ispdb_url: &'a str,
    /// How long discovery may take as a whole ([`deadline_for`]).
    pub deadline: Duration,
    /// What the run's `--deadline` leaves for discovery, if it has one: when
    /// that is less, it cuts the sources still running instead ([`Cut::within`]).
    pub run_left: Option<Duration>,
}

/// Discovery without the network: the provider overrides and the ISPDB
/// snapshot built into mailcheck.
#[must_use]
pub fn offline(address: Address) -> Discovery {
    let started = Instant::now();
    let (provider, reports) = built_in(&address);
    finish(address, provider, reports, true, started)
}

/// Discovery with every source at once.
pub async fn online(address: Address, s: &Sources<'_>) -> Discovery {
    let started = Instant::now();
    let domain = address.domain_ascii.clone();
    let ascii = address.ascii();
    let (by_domain, built_in_reports) = built_in(&address);
    let plan = autodiscover::Plan::for_domain(&domain, &ascii);
    let cut = Cut::within(s.deadline, s.run_left);
    let (srv, mx, ispdb_report, domain_autoconfig, found, guesses) = tokio::join!(
        cut.bound(dns::srv(s.resolver, &domain), || {
            vec![cut.report(SourceKind::Srv, format!("SRV records of {domain}"))]
        }),
        Box::pin(mx_branch(s, &domain, &ascii, cut)),
        cut.bound(ispdb_report(s, &domain, &ascii), || {
            cut.report(SourceKind::Ispdb, ispdb::url_for(s.ispdb_url, &domain))
        }),
        cut.bound(autoconfig_reports(s.fetcher, &domain, &ascii), || {
            vec![cut.report(SourceKind::Autoconfig, format!("autoconfig for {domain}"))]
        }),
        Box::pin(autodiscover::lookup(
            s.fetcher,
            s.resolver,
            &plan,
            &domain,
            &ascii,
            Some(cut)
        )),
        cut.bound(dns::guess(s.resolver, &domain, s.families), || {
            cut.report(SourceKind::Guess, format!("guessed names under {domain}"))
        }),
    );
    let provider = by_domain
        .or_else(|| mx.provider.map(|p| match_of(p, SourceKind::Mx)))
        .or_else(|| found.provider.map(|(p, kind)| match_of(p, kind)));
    let mut reports = built_in_reports;
    reports.push(ispdb_report);
    reports.extend(mx.ispdb);
    reports.extend(srv);
    reports.push(mx.mx);
    reports.extend(domain_autoconfig);
    reports.extend(mx.autoconfig);
    reports.extend(found.reports);
    reports.push(guesses);
    finish(address, provider, reports, false, started)
}

/// What the MX branch learnt; each kind of report goes to its own place in
/// the order of trust.
struct MxBranch {
    /// The provider the MX hosts point at.
    provider: Option<&'static Provider>,
    /// The MX lookup.
    mx: SourceReport,
    /// The ISPDB asked for the MX host's parent and base domains.
    ispdb: Vec<SourceReport>,
    /// Autoconfig at the MX host's base domain.
    autoconfig: Vec<SourceReport>,
}

/// The domain's MX hosts, the provider they point at, and, as Thunderbird
/// does, the ISPDB for the MX host's parent and base domains and autoconfig
/// at its base domain ([`mx_autoconfig_domain`]).
async fn mx_branch(s: &Sources<'_>, domain: &str, address: &str, cut: Cut) -> MxBranch {
    let mx_cut = || {
        (
            Vec::new(),
            cut.report(SourceKind::Mx, format!("MX {domain}")),
        )
    };
    let (mx_hosts, mut mx_report) = cut.bound(dns::mx(s.resolver, domain), mx_cut).await;
    let recognised = providers::by_mx(&mx_hosts);
    if let Some(p) = recognised {
        mx_report.settings = p.settings_for(address);
        mx_report.outcome = format!("{} → {}", mx_report.outcome, p.name);
    }
    let lookups = mx_hosts
        .first()
        .map(|h| domain::mx_lookup_domains(h, domain))
        .unwrap_or_default();
    let base = mx_autoconfig_domain(mx_hosts.first(), domain, recognised.is_some());
    let cut_base = base.clone();
    let autoconfig_at_base = async {
        match base {
            Some(b) => {
                let attempts = autoconfig::lookup_at_mx(s.fetcher, &b, address).await;
                attempts
                    .into_iter()
                    .map(|a| attempt_report(SourceKind::Autoconfig, a, &b))
                    .collect()
            }
            None => Vec::new(),
        }
    };
    let ispdb_cut = |d: &String| cut.report(SourceKind::Ispdb, ispdb::url_for(s.ispdb_url, d));
    let (ispdb, autoconfig) = tokio::join!(
        join_all(
            lookups
                .iter()
                .map(|d| cut.bound(ispdb_report(s, d, address), || ispdb_cut(d)))
        ),
        cut.bound(autoconfig_at_base, || match cut_base {
            Some(b) => vec![cut.report(SourceKind::Autoconfig, format!("autoconfig for {b}"))],
            None => Vec::new(),
        }),
    );
    MxBranch {
        provider: recognised,
        mx: mx_report,
        ispdb,
        autoconfig,
    }
}

/// Where autoconfig is asked on behalf of the MX host (`mx_host`): its base
/// domain, unless that is the address's own domain (asked already) or the MX
/// host already named a known provider (`recognised`), whose settings are
/// known: the address is not sent to the provider's web server for nothing.
fn mx_autoconfig_domain(
    mx_host: Option<&String>,
    domain: &str,
    recognised: bool,
) -> Option<String> {
    if recognised {
        return None;
    }
    mx_host
        .and_then(|h| domain::base_domain(h))
        .filter(|b| b != domain)
}

/// The built-in sources: the provider overrides and the ISPDB snapshot, each
/// asked for the address's domain, and the provider they know it by.
fn built_in(address: &Address) -> (Option<ProviderMatch>, Vec<SourceReport>) {
    let domain = &address.domain_ascii;
    let ascii = address.ascii();
    let found = providers::by_domain(domain);
    let mut overrides = SourceReport::new(
        SourceKind::Provider,
        format!(
            "provider overrides, checked {} ({domain})",
            providers::checked_date()
        ),
    );
    overrides.outcome = match found {
        Some(p) if p.overridden => {
            overrides.settings = p.settings_for(&ascii);
            match &p.ispdb {
                Some(key) => format!("{} (refines the ISPDB's {key})", p.name),
                None => format!("{} (not in the ISPDB)", p.name),
            }
        }
        Some(p) => format!("no override; {} is known from the ISPDB alone", p.name),
        None => "not a listed provider domain".into(),
    };
    let snap = providers::snapshot();
    let mut snapshot = SourceReport::new(
        SourceKind::IspdbSnapshot,
        format!("ISPDB snapshot {} ({domain})", snap.source.short_commit()),
    );
    snapshot.outcome = match snap.by_domain(domain) {
        Some(e) => {
            snapshot.settings = e.settings_for(&ascii);
            format!("{} (ispdb/{})", e.name, e.file)
        }
        None => "not in the snapshot".into(),
    };
    let via = |p: &Provider| {
        if p.overridden {
            SourceKind::Provider
        } else {
            SourceKind::IspdbSnapshot
        }
    };
    (
        found.map(|p| match_of(p, via(p))),
        vec![overrides, snapshot],
    )
}

fn match_of(p: &Provider, via: SourceKind) -> ProviderMatch {
    ProviderMatch {
        id: p.id.clone(),
        name: p.name.clone(),
        via,
        notes: p.notes.clone(),
        checked: p.checked.clone(),
    }
}

/// The online ISPDB asked about `domain`, in the shape of every other report.
async fn ispdb_report(s: &Sources<'_>, domain: &str, address: &str) -> SourceReport {
    let attempt = ispdb::lookup(s.fetcher, s.ispdb_url, domain, address).await;
    ispdb_attempt_report(attempt, s.ispdb_url)
}

/// An ISPDB attempt as a report. Its redirects are judged against the ISPDB's
/// own domain (that of `base`), not the address's: an answer from elsewhere is
/// that server's claim, not the ISPDB's, and says "another domain".
fn ispdb_attempt_report(attempt: autoconfig::Attempt, base: &str) -> SourceReport {
    attempt_report(SourceKind::Ispdb, attempt, &ispdb::home(base))
}

async fn autoconfig_reports(fetcher: &Fetcher, domain: &str, address: &str) -> Vec<SourceReport> {
    autoconfig::lookup(fetcher, domain, address)
        .await
        .into_iter()
        .map(|a| attempt_report(SourceKind::Autoconfig, a, domain))
        .collect()
}

/// One config-v1.1 URL tried (autoconfig or the ISPDB), as a report.
fn attempt_report(kind: SourceKind, a: autoconfig::Attempt, domain: &str) -> SourceReport {
    let mut report = SourceReport::new(kind, a.url.clone());
    report.duration_ms = a.duration.as_millis() as u64;
    let mut outcome = match a.outcome {
        autoconfig::Outcome::Found(config) => {
            let n = config.incoming.len() + config.outgoing.len();
            report.settings = config.incoming.into_iter().chain(config.outgoing).collect();
            match config.display_name {
                Some(name) if kind == SourceKind::Ispdb => format!("{name}: {n} server settings"),
                _ => format!("{n} server settings"),
            }
        }
        autoconfig::Outcome::FetchFailed(e) => e.to_string(),
        autoconfig::Outcome::Invalid(e) => format!("unusable document: {e}"),
    };
    for r in &a.redirects {
        let _ = write!(outcome, "; {}", r.describe(domain));
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
    let candidates = merge::merge(&sources);
    let disagreements = merge::disagreements(&sources);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Protocol;

    fn offline_for(address: &str) -> Discovery {
        offline(crate::model::address::parse(address).unwrap())
    }

    #[test]
    fn offline_discovery_uses_the_built_in_sources_only() {
        let d = offline_for("someone@outlook.com");
        assert!(d.offline);
        let kinds: Vec<SourceKind> = d.sources.iter().map(|r| r.kind).collect();
        assert_eq!(kinds, [SourceKind::Provider, SourceKind::IspdbSnapshot]);
        let p = d.provider.unwrap();
        assert_eq!(p.via, SourceKind::Provider);
        assert!(p.notes.iter().any(|n| n.key == "oauth2_only"));
        let smtp = d
            .candidates
            .iter()
            .find(|c| c.setting.protocol == Protocol::Smtp)
            .unwrap();
        assert_eq!(smtp.setting.host, "smtp-mail.outlook.com");
        assert_eq!(
            smtp.sources,
            [SourceKind::Provider, SourceKind::IspdbSnapshot],
            "the override and the snapshot agree"
        );
        assert!(d.disagreements.is_empty(), "{:?}", d.disagreements);
    }

    #[test]
    fn offline_discovery_answers_from_the_snapshot_with_its_commit() {
        let d = offline_for("alice@163.com");
        let p = d.provider.as_ref().unwrap();
        assert_eq!(
            (p.id.as_str(), p.via),
            ("163.com", SourceKind::IspdbSnapshot)
        );
        let commit = providers::snapshot().source.short_commit();
        assert!(
            d.sources[1].query.contains(commit),
            "{}",
            d.sources[1].query
        );
        assert_eq!(d.sources[1].outcome, "163.com (ispdb/163.com.xml)");
        assert!(d.sources[0].settings.is_empty(), "no override for 163.com");
        assert!(
            d.candidates
                .iter()
                .all(|c| c.sources == [SourceKind::IspdbSnapshot])
        );
        assert_eq!(d.host_for(Protocol::Imap), Some("imap.163.com"));
    }

    #[test]
    fn every_snapshot_domain_answers_offline() {
        for e in &providers::snapshot().entries {
            for domain in &e.domains {
                let d = offline_for(&format!("someone@{domain}"));
                let report = &d.sources[1];
                assert_eq!(report.settings.len(), e.servers.len(), "{domain}");
                assert!(
                    report.outcome.contains(&e.file),
                    "{domain}: {}",
                    report.outcome
                );
                assert!(!d.candidates.is_empty(), "{domain}");
            }
        }
    }

    #[test]
    fn autoconfig_at_the_mx_base_domain_only_for_an_unknown_provider() {
        let mx = "mx1.mail.hoster.example".to_owned();
        assert_eq!(
            mx_autoconfig_domain(Some(&mx), "example.com", false).as_deref(),
            Some("hoster.example")
        );
        assert_eq!(mx_autoconfig_domain(Some(&mx), "example.com", true), None);
        assert_eq!(
            mx_autoconfig_domain(Some(&mx), "hoster.example", false),
            None
        );
        assert_eq!(mx_autoconfig_domain(None, "example.com", false), None);
    }

    /// Every network source waits on a DNS server that never answers, for
    /// longer than discovery's deadline: each is reported cut short, and the
    /// built-in sources still answer.
    #[tokio::test]
    async fn the_deadline_cuts_every_source_still_running() {
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let dns = silent.local_addr().unwrap();
        let timeout = Duration::from_secs(10);
        let resolver = std::sync::Arc::new(Resolver::new(Some(dns), timeout).unwrap());
        let fetcher = Fetcher::new(resolver.clone(), None, timeout).unwrap();
        let sources = Sources {
            resolver: &resolver,
            fetcher: &fetcher,
            families: Families::Any,
            ispdb_url: "https://ispdb.mailcheck.test/v1.1/",
            deadline: Duration::from_millis(300),
            run_left: None,
        };
        let address = crate::model::address::parse("alice@outlook.com").unwrap();
        let d = online(address, &sources).await;
        assert!(d.duration_ms < 5000, "took {} ms", d.duration_ms);
        let cut: Vec<SourceKind> = d
            .sources
            .iter()
            .filter(|r| {
                r.outcome
                    .starts_with("cut short: discovery's deadline (0.3 s")
            })
            .map(|r| r.kind)
            .collect();
        assert_eq!(
            cut,
            [
                SourceKind::Ispdb,
                SourceKind::Srv,
                SourceKind::Mx,
                SourceKind::Autoconfig,
                SourceKind::AutodiscoverJson,
                SourceKind::AutodiscoverPox,
                SourceKind::AutodiscoverPox,
                SourceKind::AutodiscoverPox,
                SourceKind::AutodiscoverPox,
                SourceKind::Guess
            ],
            "{:#?}",
            d.sources
        );
        assert_eq!(d.provider.unwrap().id, "outlook");
        assert!(!d.candidates.is_empty(), "the built-in sources answered");
    }

    #[test]
    fn an_ispdb_redirect_says_another_domain_when_it_leaves_the_ispdb() {
        let report = |to: &str| {
            let attempt = autoconfig::Attempt {
                url: format!("{}example.com", ispdb::DEFAULT_URL),
                plain_http: false,
                final_url: to.to_owned(),
                redirects: vec![super::super::fetch::Redirect {
                    from: format!("{}example.com", ispdb::DEFAULT_URL),
                    status: 302,
                    to: to.to_owned(),
                }],
                status: Some(404),
                duration: Duration::ZERO,
                outcome: autoconfig::Outcome::FetchFailed(super::super::fetch::FetchError::Status(
                    404,
                )),
            };
            ispdb_attempt_report(attempt, ispdb::DEFAULT_URL).outcome
        };
        let within = report("https://www.thunderbird.net/v1.1/example.com");
        assert!(!within.contains("another domain"), "{within}");
        for away in [
            "https://example.com/mail/config-v1.1.xml",
            "https://evil.example/config.xml",
        ] {
            let outcome = report(away);
            assert!(outcome.contains(", another domain ("), "{outcome}");
        }
    }

    #[test]
    fn an_unknown_domain_is_known_to_neither() {
        let d = offline_for("a@example.com");
        assert!(d.provider.is_none() && d.candidates.is_empty());
        assert_eq!(d.sources[1].outcome, "not in the snapshot");
    }
}
