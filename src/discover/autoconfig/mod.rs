//! Mozilla autoconfig: the `config-v1.1.xml` documents that Thunderbird (and other
//! clients) fetch from a mail domain's own web server to learn its settings.
//!
//! The format and the places a client looks are described on the Mozilla wiki,
//! "Thunderbird:Autoconfiguration" and "Thunderbird:Autoconfiguration:ConfigFileFormat"
//! (config-v1.1). In the order Thunderbird's account setup tries them:
//!
//! 1. `https://autoconfig.<domain>/mail/config-v1.1.xml?emailaddress=<address>`
//! 2. `https://<domain>/.well-known/autoconfig/mail/config-v1.1.xml`
//! 3. the same two over plain HTTP.
//!
//! Like Thunderbird, mailcheck asks the two https URLs at once, and the two
//! plain-HTTP ones (at once) only if neither https one gave a configuration;
//! the first in this order that gives one is used ([`lookup_urls`]).
//!
//! The plain-HTTP forms are a fallback only: a configuration fetched without TLS can
//! be forged by anyone on the path (pointing the client at an attacker's server), so
//! every [`Attempt`] says whether plain HTTP was involved, and callers must report
//! it as a finding. (Thunderbird's central ISPDB and the MX-based lookup are other
//! sources, not this module.)
//!
//! Everything fetched is hostile until parsed: fetches ([`super::fetch`]) are
//! bounded in time, size and redirects; the XML parser ([`super::xml`]) refuses
//! DTDs, so no entity is ever expanded or loaded (XXE-safe).
//!
//! Names are resolved through mailcheck's own [`Resolver`](crate::net::resolve::Resolver), so `--dns-server`
//! applies to these fetches too, and trust anchors are those of the probes
//! ([`root_store`](crate::net::tls::root_store)): the system's plus `--ca-file`.

mod parse;

use std::time::Duration;

pub use parse::{ClientConfig, ParseError, parse};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use super::fetch::{FetchError, Fetched, Fetcher, Method, Policy, Redirect};

/// The URLs to try for `domain`, in Thunderbird's order, each with whether it is
/// plain HTTP (see the module docs: a plain-HTTP configuration can be forged).
/// `domain` is as discovery holds it, normalised once where the address is
/// parsed: lower case, IDNA's ASCII form, no root dot
/// ([`crate::model::Address::domain_ascii`]).
#[must_use]
pub fn candidate_urls(domain: &str, address: &str) -> Vec<(String, bool)> {
    // Thunderbird uses encodeURIComponent; the form encoding gives the same
    // for any address (`@` and `+` escaped; a space, which no address has, aside).
    let query: String = url::form_urlencoded::byte_serialize(address.as_bytes()).collect();
    let paths = [
        format!("autoconfig.{domain}/mail/config-v1.1.xml?emailaddress={query}"),
        format!("{domain}/.well-known/autoconfig/mail/config-v1.1.xml"),
    ];
    let https = paths.iter().map(|p| (format!("https://{p}"), false));
    let http = paths.iter().map(|p| (format!("http://{p}"), true));
    https.chain(http).collect()
}

/// The URL to try at the base domain of a domain's MX host, as Thunderbird's
/// `fetchConfigForMX` does: `https://autoconfig.<domain>/mail/config-v1.1.xml`
/// only. That server belongs to whoever runs the mail exchanger, not to the
/// address's domain, so the address goes there over https or not at all.
#[must_use]
pub fn mx_candidate_urls(domain: &str, address: &str) -> Vec<(String, bool)> {
    let mut urls = candidate_urls(domain, address);
    urls.truncate(1);
    urls
}

/// What one candidate URL gave.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A usable configuration.
    Found(ClientConfig),
    /// Nothing fetched.
    FetchFailed(FetchError),
    /// A document, but not a usable configuration.
    Invalid(ParseError),
}

/// One candidate URL tried.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The candidate URL.
    pub url: String,
    /// Plain HTTP was involved (the candidate itself or a redirect): a finding.
    pub plain_http: bool,
    /// The last URL requested.
    pub final_url: String,
    /// Redirects followed.
    pub redirects: Vec<Redirect>,
    /// The last HTTP status, if any.
    pub status: Option<u16>,
    /// How long the fetch took.
    pub duration: Duration,
    /// What came of it.
    pub outcome: Outcome,
}

/// Tries [`candidate_urls`] for `domain` ([`lookup_urls`]).
pub async fn lookup(fetcher: &Fetcher, domain: &str, address: &str) -> Vec<Attempt> {
    lookup_urls(
        fetcher,
        &candidate_urls(domain, address),
        address,
        Policy::DOCUMENT,
    )
    .await
}

/// As [`lookup`], at the base domain of the address's MX host
/// ([`mx_candidate_urls`]).
pub async fn lookup_at_mx(fetcher: &Fetcher, domain: &str, address: &str) -> Vec<Attempt> {
    // Over https or not at all: a redirect to plain HTTP is refused too.
    lookup_urls(
        fetcher,
        &mx_candidate_urls(domain, address),
        address,
        Policy::HTTPS_ONLY,
    )
    .await
}

/// Tries the `(url, plain_http)` candidates the way Thunderbird does (its
/// `promiseFirstSuccessful`): the https ones at once, the plain-HTTP ones at
/// once only if no https one gave a configuration. The configuration used is
/// the first in the candidates' order; the attempts returned are those up to
/// and including it (or all, if none gave one), in that order. A candidate
/// after the one used is dropped unfinished, as a client would not use it.
///
/// So a lookup takes at most two fetches' time ([`Fetcher`]'s timeout),
/// not one per candidate.
pub async fn lookup_urls(
    fetcher: &Fetcher,
    candidates: &[(String, bool)],
    address: &str,
    policy: Policy,
) -> Vec<Attempt> {
    let (https, http): (Vec<_>, Vec<_>) = candidates.iter().partition(|(_, plain)| !plain);
    let mut attempts = first_found(fetcher, &https, address, policy).await;
    if !attempts.iter().any(Attempt::found) {
        attempts.extend(first_found(fetcher, &http, address, policy).await);
    }
    attempts
}

/// Asks every candidate at once; see [`lookup_urls`] for which attempts count.
async fn first_found(
    fetcher: &Fetcher,
    candidates: &[&(String, bool)],
    address: &str,
    policy: Policy,
) -> Vec<Attempt> {
    let mut pending: FuturesUnordered<_> = candidates
        .iter()
        .enumerate()
        .map(|(i, (url, plain))| async move {
            (i, lookup_url(fetcher, url, *plain, address, policy).await)
        })
        .collect();
    let mut done: Vec<Option<Attempt>> = candidates.iter().map(|_| None).collect();
    while let Some((i, attempt)) = pending.next().await {
        done[i] = Some(attempt);
        if let Some(used) = decided(&done) {
            done.truncate(used + 1);
            break;
        }
    }
    done.into_iter().flatten().collect()
}

/// The candidate whose configuration is used, once known: the first that gave
/// one, when every candidate before it has failed.
fn decided(done: &[Option<Attempt>]) -> Option<usize> {
    for (i, attempt) in done.iter().enumerate() {
        match attempt {
            None => return None,
            Some(a) if a.found() => return Some(i),
            Some(_) => {}
        }
    }
    None
}

impl Attempt {
    /// Whether it gave a usable configuration.
    #[must_use]
    pub fn found(&self) -> bool {
        matches!(self.outcome, Outcome::Found(_))
    }
}

/// Fetches one document URL (`plain`: it is plain HTTP) under `policy` and
/// reads it.
pub async fn lookup_url(
    fetcher: &Fetcher,
    url: &str,
    plain: bool,
    address: &str,
    policy: Policy,
) -> Attempt {
    attempt(
        fetcher.request(url, &Method::Get, policy).await,
        plain,
        address,
    )
}

fn attempt(fetched: Fetched, plain: bool, address: &str) -> Attempt {
    let outcome = match fetched.body {
        Err(e) => Outcome::FetchFailed(e),
        Ok(bytes) => match std::str::from_utf8(&bytes) {
            Err(e) => Outcome::Invalid(ParseError::Xml(format!("not UTF-8 ({e})"))),
            Ok(xml) => parse(xml, address).map_or_else(Outcome::Invalid, Outcome::Found),
        },
    };
    Attempt {
        url: fetched.url,
        plain_http: plain || fetched.plain_http,
        final_url: fetched.final_url,
        redirects: fetched.redirects,
        status: fetched.status,
        duration: fetched.duration,
        outcome,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidate_urls_in_thunderbird_order() {
        let urls = candidate_urls("example.com", "alice+tag@example.com");
        assert_eq!(
            urls,
            [
                (
                    "https://autoconfig.example.com/mail/config-v1.1.xml?emailaddress=alice%2Btag%40example.com"
                        .to_owned(),
                    false
                ),
                (
                    "https://example.com/.well-known/autoconfig/mail/config-v1.1.xml".to_owned(),
                    false
                ),
                (
                    "http://autoconfig.example.com/mail/config-v1.1.xml?emailaddress=alice%2Btag%40example.com"
                        .to_owned(),
                    true
                ),
                (
                    "http://example.com/.well-known/autoconfig/mail/config-v1.1.xml".to_owned(),
                    true
                ),
            ]
        );
    }

    #[test]
    fn the_mx_base_domain_is_asked_over_https_only() {
        assert_eq!(
            mx_candidate_urls("hoster.example", "alice@example.com"),
            [(
                "https://autoconfig.hoster.example/mail/config-v1.1.xml?emailaddress=alice%40example.com"
                    .to_owned(),
                false
            )]
        );
    }
}
