//! Fetching configuration documents over HTTP(S) for every discovery source
//! that asks a web server (autoconfig, the ISPDB online, Autodiscover): bounded
//! in time, size ([`MAX_BODY`]) and redirects ([`MAX_REDIRECTS`]), with names
//! resolved through mailcheck's own [`Resolver`] and the probes' trust anchors.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Url;
use rustls::RootCertStore;
use serde::Serialize;
use thiserror::Error;

use crate::net::http::{self, ReadError, request_error};
use crate::net::resolve::{Families, Resolver};
use crate::net::tls;

/// The largest configuration document read; a longer body fails the fetch.
pub const MAX_BODY: usize = 256 * 1024;

/// How many redirects a fetch follows before giving up.
pub const MAX_REDIRECTS: usize = 3;

/// The fetcher could not be set up.
#[derive(Debug, Error)]
pub enum FetcherError {
    /// Trust anchors (`--ca-file`) could not be loaded.
    #[error(transparent)]
    Tls(#[from] tls::TlsSetupError),
    /// The HTTP client refused its configuration.
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
}

/// Why a fetch produced no document.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FetchError {
    /// The URL (or a redirect's target) is not an http(s) URL.
    #[error("{url} cannot be fetched: {reason}")]
    BadUrl {
        /// The URL.
        url: String,
        /// Why not.
        reason: String,
    },
    /// DNS, connection, TLS or HTTP failure, with its causes.
    #[error("{0}")]
    Request(String),
    /// The whole fetch (redirects included) took longer than the timeout.
    #[error("no complete answer within {}s", .0.as_secs_f32())]
    Timeout(Duration),
    /// A final status other than 2xx.
    #[error("the server answered HTTP {0}")]
    Status(u16),
    /// A 3xx without a usable `Location`.
    #[error("HTTP {0} redirect without a Location header")]
    NoLocation(u16),
    /// More redirects than the request's [`Policy`] follows.
    #[error("more than {limit} redirects (the next pointed to {})", .refused.to)]
    TooManyRedirects {
        /// How many the policy follows.
        limit: usize,
        /// The redirect not followed.
        refused: Redirect,
    },
    /// The body is longer than [`MAX_BODY`]; reading stopped there.
    #[error("the document is larger than {MAX_BODY} bytes")]
    TooLarge,
    /// A redirect from https to plain http, refused by the request's [`Policy`].
    #[error(
        "{from} redirects to {to}, plain HTTP: not followed, since the request would travel unencrypted"
    )]
    Downgrade {
        /// The https URL that redirected.
        from: String,
        /// The plain-HTTP URL it pointed to.
        to: String,
    },
}

/// What one request accepts on its way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// How many redirects are followed; the next one fails the fetch with
    /// [`FetchError::TooManyRedirects`], which holds it (so with 0, the first
    /// `Location` is read and not followed).
    pub max_redirects: usize,
    /// Whether a redirect from https to plain http is followed (and the fetch
    /// marked [`Fetched::plain_http`]) or refused ([`FetchError::Downgrade`]).
    pub downgrade: bool,
}

impl Policy {
    /// For documents a client would also fetch over plain HTTP (autoconfig,
    /// the ISPDB): a downgrade is followed, and reported through
    /// [`Fetched::plain_http`].
    pub const DOCUMENT: Policy = Policy {
        max_redirects: MAX_REDIRECTS,
        downgrade: true,
    };

    /// For requests that carry the address (Autodiscover's POST) or whose
    /// answer says where to send it next (Autodiscover's JSON service): HTTPS
    /// stays HTTPS, since a downgrade would hand both to anyone on the path.
    pub const HTTPS_ONLY: Policy = Policy {
        max_redirects: MAX_REDIRECTS,
        downgrade: false,
    };

    /// Whether the redirect from `current` to `next` may be followed, after
    /// `followed` others.
    fn allows(
        self,
        current: &Url,
        next: &Url,
        redirect: &Redirect,
        followed: usize,
    ) -> Result<(), FetchError> {
        if !self.downgrade && current.scheme() == "https" && next.scheme() == "http" {
            return Err(FetchError::Downgrade {
                from: redirect.from.clone(),
                to: redirect.to.clone(),
            });
        }
        if followed >= self.max_redirects {
            return Err(FetchError::TooManyRedirects {
                limit: self.max_redirects,
                refused: redirect.clone(),
            });
        }
        Ok(())
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy::DOCUMENT
    }
}

/// One redirect followed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Redirect {
    /// The URL that answered with the redirect.
    pub from: String,
    /// Its status (301, 302, 303, 307, 308).
    pub status: u16,
    /// Where it pointed (resolved against `from`).
    pub to: String,
}

impl Redirect {
    /// The redirect in words, saying so when it leaves `domain`, the domain
    /// whose server was asked (the address's, or the ISPDB's): settings from
    /// another domain's server are that server's claim, not the domain owner's.
    #[must_use]
    pub fn describe(&self, domain: &str) -> String {
        let mut out = format!("redirected ({}) to {}", self.status, self.to);
        let host = Url::parse(&self.to)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        if !host.is_empty() && !crate::discover::domain::same_site(&host, domain) {
            let other = crate::discover::domain::base_domain(&host).unwrap_or(host);
            out = format!("{out}, another domain ({other})");
        }
        out
    }
}

/// What one fetch did.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The URL asked for.
    pub url: String,
    /// The last URL requested (after redirects).
    pub final_url: String,
    /// Every redirect followed, in order.
    pub redirects: Vec<Redirect>,
    /// The last HTTP status received, if any.
    pub status: Option<u16>,
    /// True if any request in the chain went over plain HTTP (a redirect from
    /// HTTPS to HTTP counts: the document could have been forged there).
    pub plain_http: bool,
    /// How long the whole fetch took.
    pub duration: Duration,
    /// The body (at most [`MAX_BODY`] bytes), or why there is none.
    pub body: Result<Vec<u8>, FetchError>,
}

/// What one request sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// GET, as for autoconfig and the ISPDB.
    Get,
    /// POST with a body, as for Autodiscover's POX requests. A redirect is
    /// followed with the same POST (MS-OXDSCLI §3.1.5.2: the client resends
    /// the request to the new URL).
    Post {
        /// The request body.
        body: String,
        /// Its `Content-Type`.
        content_type: &'static str,
    },
}

/// An HTTP(S) client for configuration documents (autoconfig, the ISPDB,
/// Autodiscover): bounded, resolving through mailcheck's resolver, trusting
/// the system's roots plus `--ca-file`.
pub struct Fetcher {
    client: reqwest::Client,
    timeout: Duration,
}

impl Fetcher {
    /// A fetcher resolving names with `resolver` (over both address families) and
    /// bounding each fetch, redirects included, by `timeout`.
    ///
    /// The resolver is shared (`Arc`) because the HTTP client resolves in tasks
    /// that may outlive any borrow; pass the one the probes use, so that
    /// `--dns-server` applies here too.
    pub fn new(
        resolver: Arc<Resolver>,
        ca_file: Option<&Path>,
        timeout: Duration,
    ) -> Result<Self, FetcherError> {
        Self::with_families(resolver, Families::Any, ca_file, timeout)
    }

    /// As [`Fetcher::new`], connecting only over `families` (`-4`/`-6`).
    pub fn with_families(
        resolver: Arc<Resolver>,
        families: Families,
        ca_file: Option<&Path>,
        timeout: Duration,
    ) -> Result<Self, FetcherError> {
        let (roots, _) = tls::root_store(ca_file)?;
        Self::with_roots(resolver, families, roots, timeout)
    }

    /// As [`Fetcher::with_families`], trusting `roots` (already loaded, e.g. by
    /// the probes' TLS setup, so the system's store is read once per run).
    pub fn with_roots(
        resolver: Arc<Resolver>,
        families: Families,
        roots: RootCertStore,
        timeout: Duration,
    ) -> Result<Self, FetcherError> {
        let client = http::client(resolver, families, roots).map_err(FetcherError::Client)?;
        Ok(Fetcher { client, timeout })
    }

    /// Fetches `url` with [`Policy::DOCUMENT`], following at most
    /// [`MAX_REDIRECTS`] redirects to http(s) URLs, reading at most [`MAX_BODY`] bytes, all within the timeout.
    pub async fn fetch(&self, url: &str) -> Fetched {
        self.request(url, &Method::Get, Policy::default()).await
    }

    /// As [`Fetcher::fetch`], with `method` (redirects repeat it) and `policy`.
    pub async fn request(&self, url: &str, method: &Method, policy: Policy) -> Fetched {
        let started = Instant::now();
        let mut fetched = Fetched {
            url: url.to_owned(),
            final_url: url.to_owned(),
            redirects: Vec::new(),
            status: None,
            plain_http: false,
            duration: Duration::ZERO,
            body: Err(FetchError::Timeout(self.timeout)),
        };
        let following = self.follow(&mut fetched, method, policy);
        let outcome = tokio::time::timeout(self.timeout, following).await;
        fetched.body = outcome.unwrap_or(Err(FetchError::Timeout(self.timeout)));
        fetched.duration = started.elapsed();
        fetched
    }

    async fn follow(
        &self,
        fetched: &mut Fetched,
        method: &Method,
        policy: Policy,
    ) -> Result<Vec<u8>, FetchError> {
        let mut current = http_url(&fetched.url, None)?;
        loop {
            fetched.final_url = current.to_string();
            fetched.plain_http |= current.scheme() == "http";
            let response = self.send(&current, method).await?;
            let status = response.status();
            fetched.status = Some(status.as_u16());
            if !status.is_redirection() {
                if !status.is_success() {
                    return Err(FetchError::Status(status.as_u16()));
                }
                return read_body(response).await;
            }
            let (next, redirect) = next_hop(&current, &response)?;
            policy.allows(&current, &next, &redirect, fetched.redirects.len())?;
            fetched.redirects.push(redirect);
            current = next;
        }
    }

    /// One request of the chain.
    async fn send(&self, url: &Url, method: &Method) -> Result<reqwest::Response, FetchError> {
        let request = match method {
            Method::Get => self.client.get(url.clone()),
            Method::Post { body, content_type } => self
                .client
                .post(url.clone())
                .header(reqwest::header::CONTENT_TYPE, *content_type)
                .body(body.clone()),
        };
        request
            .send()
            .await
            .map_err(|e| FetchError::Request(request_error(&e)))
    }
}

/// Where a 3xx answer to `current` points.
fn next_hop(current: &Url, response: &reqwest::Response) -> Result<(Url, Redirect), FetchError> {
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(FetchError::NoLocation(status))?;
    let next = http_url(location, Some(current))?;
    let redirect = Redirect {
        from: current.to_string(),
        status,
        to: next.to_string(),
    };
    Ok((next, redirect))
}

/// Parses `url` (relative to `base`, for a `Location`), accepting only http(s).
fn http_url(url: &str, base: Option<&Url>) -> Result<Url, FetchError> {
    let bad = |reason: String| FetchError::BadUrl {
        url: url.to_owned(),
        reason,
    };
    let parsed = match base {
        Some(base) => base.join(url),
        None => Url::parse(url),
    }
    .map_err(|e| bad(e.to_string()))?;
    match parsed.scheme() {
        "http" | "https" => Ok(parsed),
        other => Err(bad(format!(
            "the {other}: scheme is refused (http/https only)"
        ))),
    }
}

/// Whether `url` is an https URL with a host: the one test discovery makes
/// before it sends an address to a URL it was given or follows a redirect
/// that must stay encrypted. It parses the URL, so `HTTPS://` counts and a
/// mere prefix (`https:host`, `https://` alone) does not.
#[must_use]
pub fn is_https(url: &str) -> bool {
    Url::parse(url)
        .is_ok_and(|u| u.scheme() == "https" && u.host_str().is_some_and(|h| !h.is_empty()))
}

/// Reads the body, at most [`MAX_BODY`] bytes.
async fn read_body(response: reqwest::Response) -> Result<Vec<u8>, FetchError> {
    http::read_limited(response, MAX_BODY)
        .await
        .map_err(|e| match e {
            ReadError::TooLarge(_) => FetchError::TooLarge,
            ReadError::Request(message) => FetchError::Request(message),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_is_decided_by_parsing_the_url() {
        for yes in [
            "https://a.example/x",
            "HTTPS://A.example",
            "https://[::1]:8443/",
        ] {
            assert!(is_https(yes), "{yes}");
        }
        for no in [
            "http://a.example/",
            "https://",
            "https:",
            "ftp://a.example/",
            "a.example",
            "",
        ] {
            assert!(!is_https(no), "{no}");
        }
    }

    #[test]
    fn redirect_targets_must_be_http() {
        let base = Url::parse("https://autoconfig.example.com/mail/config-v1.1.xml").unwrap();
        assert_eq!(
            http_url("/other.xml", Some(&base)).unwrap().as_str(),
            "https://autoconfig.example.com/other.xml"
        );
        assert!(http_url("http://x.example/", Some(&base)).is_ok());
        for refused in [
            "file:///etc/passwd",
            "ftp://x/",
            "javascript:alert(1)",
            "data:,x",
        ] {
            assert!(
                matches!(
                    http_url(refused, Some(&base)),
                    Err(FetchError::BadUrl { .. })
                ),
                "{refused}"
            );
        }
    }
}
