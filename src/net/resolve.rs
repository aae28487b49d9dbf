//! A and AAAA lookups through hickory-resolver, with the failure classes a person
//! needs told apart: the name does not exist, it has no address, the DNS server is
//! slow, or it failed.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::RData;
use thiserror::Error;

use crate::model::Code;

/// Which address families to look up and connect over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Families {
    /// IPv4 and IPv6.
    Any,
    /// IPv4 only (`-4`).
    V4,
    /// IPv6 only (`-6`).
    V6,
}

impl Families {
    /// Name used in the report's inputs.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Families::Any => "any",
            Families::V4 => "ipv4",
            Families::V6 => "ipv6",
        }
    }

    fn wants_v4(self) -> bool {
        self != Families::V6
    }

    fn wants_v6(self) -> bool {
        self != Families::V4
    }
}

/// The resolver could not even be set up.
#[derive(Debug, Error)]
#[error("cannot set up DNS resolution: {0}")]
pub struct ResolverSetupError(String);

/// A lookup that produced no usable address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupFailure {
    /// The failure class.
    pub code: Code,
    /// What happened, in words.
    pub message: String,
}

/// The outcome of resolving one host.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// Addresses, IPv4 first, in the order the server gave them.
    pub addresses: Vec<IpAddr>,
    /// Set when no address could be found.
    pub failure: Option<LookupFailure>,
    /// True when the host was an IP literal and no DNS was needed.
    pub literal: bool,
}

/// Resolves host names, through a given DNS server or the system's configuration.
///
/// A DNS server that does not answer at all is remembered: once a lookup has
/// gone unanswered and none has ever been answered in this run, later lookups
/// fail at once instead of each waiting out the timeout again. So a run with a
/// dead resolver costs about one DNS timeout, however many names it looks up.
pub struct Resolver {
    inner: TokioResolver,
    timeout: Duration,
    /// Some lookup got a DNS answer (an address, NXDOMAIN, no data, an error code).
    answered: AtomicBool,
    /// Some lookup got a useful answer: records, or "no such name" / "no data".
    informed: AtomicBool,
    /// Some lookup got no answer at all.
    unanswered: AtomicBool,
}

impl Resolver {
    /// A resolver using `server` (IP and port) or, when `None`, the system's
    /// resolv.conf and hosts file.
    pub fn new(server: Option<SocketAddr>, timeout: Duration) -> Result<Self, ResolverSetupError> {
        let provider = TokioRuntimeProvider::default();
        let mut builder = match server {
            Some(addr) => {
                let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                for conn in &mut ns.connections {
                    conn.port = addr.port();
                }
                let config = ResolverConfig::from_name_servers(vec![ns]);
                TokioResolver::builder_with_config(config, provider)
            }
            None => {
                TokioResolver::builder(provider).map_err(|e| ResolverSetupError(e.to_string()))?
            }
        };
        let opts: &mut ResolverOpts = builder.options_mut();
        opts.timeout = timeout.min(Duration::from_secs(5));
        opts.attempts = 2;
        // Names are looked up as given: a help desk types full host names.
        opts.ndots = 0;
        let inner = builder
            .build()
            .map_err(|e| ResolverSetupError(e.to_string()))?;
        Ok(Resolver {
            inner,
            timeout,
            answered: AtomicBool::new(false),
            informed: AtomicBool::new(false),
            unanswered: AtomicBool::new(false),
        })
    }

    /// Looks up A and AAAA records for `host` (as the families allow), both at once.
    pub async fn resolve(&self, host: &str, families: Families) -> Resolution {
        if let Ok(ip) = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            return literal(ip, families);
        }
        let name = format!("{}.", host.trim_end_matches('.'));
        let v4 = async {
            if families.wants_v4() {
                Some(self.lookup(&name, true).await)
            } else {
                None
            }
        };
        let v6 = async {
            if families.wants_v6() {
                Some(self.lookup(&name, false).await)
            } else {
                None
            }
        };
        let (v4, v6) = tokio::join!(v4, v6);
        combine(host, v4, v6)
    }

    async fn lookup(&self, name: &str, v4: bool) -> Result<Vec<IpAddr>, LookupFailure> {
        let lookup = if v4 {
            self.bounded(self.inner.ipv4_lookup(name)).await?
        } else {
            self.bounded(self.inner.ipv6_lookup(name)).await?
        };
        Ok(lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                _ => None,
            })
            .collect())
    }

    /// Whether the DNS server has stayed silent: a lookup went unanswered and
    /// none was answered in this run.
    #[must_use]
    pub fn silent(&self) -> bool {
        self.unanswered.load(Ordering::Relaxed) && !self.answered.load(Ordering::Relaxed)
    }

    /// Whether any name (not an IP literal) was looked up in this run.
    #[must_use]
    pub fn asked(&self) -> bool {
        self.answered.load(Ordering::Relaxed) || self.unanswered.load(Ordering::Relaxed)
    }

    /// Whether any lookup of this run got a useful answer: records, or an
    /// authoritative "no such name" or "no data" (the DNS server works).
    #[must_use]
    pub fn informed(&self) -> bool {
        self.informed.load(Ordering::Relaxed)
    }
}

fn literal(ip: IpAddr, families: Families) -> Resolution {
    let allowed = match ip {
        IpAddr::V4(_) => families.wants_v4(),
        IpAddr::V6(_) => families.wants_v6(),
    };
    let failure = (!allowed).then(|| LookupFailure {
        code: Code::DnsNoAddress,
        message: format!("{ip} is not of the address family asked for (-4/-6)"),
    });
    Resolution {
        addresses: if allowed { vec![ip] } else { vec![] },
        failure,
        literal: true,
    }
}

/// How a failure without any DNS answer (an I/O error, a refused socket) begins.
const NO_ANSWER: &str = "DNS lookup failed without an answer";

fn timeout_failure(timeout: Duration) -> LookupFailure {
    LookupFailure {
        code: Code::DnsTimeout,
        message: format!(
            "the DNS server did not answer within {}s",
            timeout.as_secs_f32()
        ),
    }
}

/// Maps a hickory error to a failure class.
fn classify(e: &NetError) -> LookupFailure {
    let (code, message) = match e {
        NetError::Dns(DnsError::NoRecordsFound(nr))
            if nr.response_code == ResponseCode::NXDomain =>
        {
            (
                Code::DnsNameNotFound,
                "the name does not exist (NXDOMAIN)".to_owned(),
            )
        }
        NetError::Dns(DnsError::NoRecordsFound(_)) => (
            Code::DnsNoAddress,
            "the name exists but has no address record".to_owned(),
        ),
        NetError::Timeout => (
            Code::DnsTimeout,
            "the DNS server did not answer in time".to_owned(),
        ),
        NetError::Dns(DnsError::ResponseCode(rc)) => (
            Code::DnsServerFailure,
            format!("the DNS server answered {rc} instead of an address"),
        ),
        other => (Code::DnsServerFailure, format!("{NO_ANSWER}: {other}")),
    };
    LookupFailure { code, message }
}

type Answer = Option<Result<Vec<IpAddr>, LookupFailure>>;

/// Joins the A and AAAA answers: any address wins; otherwise the most telling failure.
fn combine(host: &str, v4: Answer, v6: Answer) -> Resolution {
    let mut addresses = Vec::new();
    let mut failures = Vec::new();
    for answer in [v4, v6].into_iter().flatten() {
        match answer {
            Ok(found) => addresses.extend(found),
            Err(f) => failures.push(f),
        }
    }
    let failure = if addresses.is_empty() {
        Some(worst(host, failures))
    } else {
        None
    };
    Resolution {
        addresses,
        failure,
        literal: false,
    }
}

/// NXDOMAIN beats a server failure, which beats a timeout, which beats "no address".
fn worst(host: &str, failures: Vec<LookupFailure>) -> LookupFailure {
    let rank = |c: Code| match c {
        Code::DnsNameNotFound => 0,
        Code::DnsServerFailure => 1,
        Code::DnsTimeout => 2,
        _ => 3,
    };
    let mut f = failures
        .into_iter()
        .min_by_key(|f| rank(f.code))
        .unwrap_or(LookupFailure {
            code: Code::DnsNoAddress,
            message: "the name has no address record".to_owned(),
        });
    f.message = format!("{host}: {}", f.message);
    f
}

/// One SRV record (RFC 2782).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvRecord {
    /// Lower is tried first.
    pub priority: u16,
    /// Among equal priorities, higher is chosen more often.
    pub weight: u16,
    /// Port of the service.
    pub port: u16,
    /// Target host, without the trailing dot; "." means "service not offered".
    pub target: String,
}

/// Service and mail-exchanger lookups, for discovery.
impl Resolver {
    /// SRV records of `name`, in RFC 2782 order: priority ascending, then weight
    /// descending (a report lists them; it does not pick one at random).
    pub async fn srv(&self, name: &str) -> Result<Vec<SrvRecord>, LookupFailure> {
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        let lookup = self.bounded(self.inner.srv_lookup(fqdn)).await?;
        let mut records: Vec<SrvRecord> = lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::SRV(srv) => Some(SrvRecord {
                    priority: srv.priority,
                    weight: srv.weight,
                    port: srv.port,
                    target: bare(&srv.target.to_string()),
                }),
                _ => None,
            })
            .collect();
        records.sort_by_key(|r| (r.priority, std::cmp::Reverse(r.weight)));
        Ok(records)
    }

    /// MX hosts of `domain`, most preferred first.
    pub async fn mx(&self, domain: &str) -> Result<Vec<String>, LookupFailure> {
        let fqdn = format!("{}.", domain.trim_end_matches('.'));
        let lookup = self.bounded(self.inner.mx_lookup(fqdn)).await?;
        let mut records: Vec<(u16, String)> = lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::MX(mx) => Some((mx.preference, bare(&mx.exchange.to_string()))),
                _ => None,
            })
            .collect();
        records.sort();
        Ok(records.into_iter().map(|(_, host)| host).collect())
    }

    /// Runs one query within the timeout, keeping count of whether the DNS
    /// server answers at all (see [`Resolver`]).
    async fn bounded<T>(
        &self,
        query: impl std::future::Future<Output = Result<T, NetError>>,
    ) -> Result<T, LookupFailure> {
        if self.silent() {
            return Err(LookupFailure {
                code: Code::DnsTimeout,
                message:
                    "the DNS server did not answer (it has not answered any lookup in this run)"
                        .to_owned(),
            });
        }
        let outcome = match tokio::time::timeout(self.timeout, query).await {
            Err(_) => Err(timeout_failure(self.timeout)),
            Ok(Err(e)) => Err(classify(&e)),
            Ok(Ok(v)) => Ok(v),
        };
        let answered = match &outcome {
            Ok(_) => true,
            Err(f) => f.code != Code::DnsTimeout && !f.message.starts_with(NO_ANSWER),
        };
        let informed = match &outcome {
            Ok(_) => true,
            Err(f) => matches!(f.code, Code::DnsNameNotFound | Code::DnsNoAddress),
        };
        if informed {
            self.informed.store(true, Ordering::Relaxed);
        }
        let flag = if answered {
            &self.answered
        } else {
            &self.unanswered
        };
        flag.store(true, Ordering::Relaxed);
        outcome
    }
}

/// A DNS name as people write it: no trailing dot (the root stays ".").
fn bare(name: &str) -> String {
    if name == "." {
        ".".to_owned()
    } else {
        name.trim_end_matches('.').to_ascii_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(code: Code) -> Result<Vec<IpAddr>, LookupFailure> {
        Err(LookupFailure {
            code,
            message: "x".into(),
        })
    }

    #[test]
    fn any_address_wins_over_a_failed_family() {
        let r = combine(
            "h",
            Some(Ok(vec!["127.0.0.1".parse().unwrap()])),
            Some(fail(Code::DnsTimeout)),
        );
        assert!(r.failure.is_none());
        assert_eq!(r.addresses.len(), 1);
    }

    #[test]
    fn nxdomain_is_reported_over_no_data() {
        let r = combine(
            "h",
            Some(fail(Code::DnsNoAddress)),
            Some(fail(Code::DnsNameNotFound)),
        );
        assert_eq!(r.failure.unwrap().code, Code::DnsNameNotFound);
    }

    #[test]
    fn both_families_without_records_means_no_address() {
        let r = combine(
            "h",
            Some(fail(Code::DnsNoAddress)),
            Some(fail(Code::DnsNoAddress)),
        );
        let f = r.failure.unwrap();
        assert_eq!(f.code, Code::DnsNoAddress);
        assert!(f.message.starts_with("h: "));
    }

    #[test]
    fn ip_literal_skips_dns_and_respects_family() {
        let r = literal("::1".parse().unwrap(), Families::V4);
        assert!(r.literal);
        assert_eq!(r.failure.unwrap().code, Code::DnsNoAddress);
        let r = literal("127.0.0.2".parse().unwrap(), Families::Any);
        assert_eq!(r.addresses, vec!["127.0.0.2".parse::<IpAddr>().unwrap()]);
    }

    #[test]
    fn server_failure_codes_are_classified() {
        let e = NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail));
        assert_eq!(classify(&e).code, Code::DnsServerFailure);
        assert_eq!(classify(&NetError::Timeout).code, Code::DnsTimeout);
    }
}
