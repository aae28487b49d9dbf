//! The HTTP(S) client every part of mailcheck that speaks HTTP starts from:
//! autoconfig documents (`discover::autoconfig::fetch`) and OAuth2 endpoints
//! (`oauth`). Names are resolved through mailcheck's own [`Resolver`] (so
//! `--dns-server` applies), TLS trusts the probes' roots (system + `--ca-file`),
//! redirects are never followed by the client itself, nothing is retried and no
//! proxy is used: each caller decides what it follows, and bounds bodies with
//! [`read_limited`].

use std::error::Error as _;
use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use rustls::RootCertStore;
use thiserror::Error;

use crate::net::resolve::{Families, Resolver};

/// A body could not be read in full.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReadError {
    /// Longer than the caller's limit; reading stopped there.
    #[error("the body is larger than {0} bytes")]
    TooLarge(usize),
    /// The connection failed while reading.
    #[error("{0}")]
    Request(String),
}

/// An HTTP client resolving with `resolver` over `families` and trusting `roots`.
pub fn client(
    resolver: Arc<Resolver>,
    families: Families,
    roots: RootCertStore,
) -> Result<reqwest::Client, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .dns_resolver(ViaResolver { resolver, families })
        .redirect(reqwest::redirect::Policy::none())
        .retry(reqwest::retry::never())
        .no_proxy()
        .user_agent(concat!("mailcheck/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| error_chain(&e))
}

/// Reads the body, failing as soon as it is known to exceed `max` bytes: from
/// `Content-Length` before reading anything, or from the bytes read so far.
pub async fn read_limited(
    mut response: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, ReadError> {
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(ReadError::TooLarge(max));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| ReadError::Request(request_error(&e)))?
    {
        if body.len() + chunk.len() > max {
            return Err(ReadError::TooLarge(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A reqwest error's causes, without its "error sending request for url (…)"
/// wrapper: callers record the URL beside the message.
#[must_use]
pub fn request_error(e: &reqwest::Error) -> String {
    e.source().map_or_else(|| e.to_string(), error_chain)
}

/// An error and its causes, "outer: inner: innermost", without repeats.
#[must_use]
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    // A failed lookup says everything in mailcheck's own words.
    let mut source = Some(e);
    while let Some(s) = source {
        if let Some(dns) = s.downcast_ref::<DnsFailure>() {
            return format!("DNS: {dns}");
        }
        source = s.source();
    }
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// reqwest's resolver hook, answered by mailcheck's resolver.
struct ViaResolver {
    resolver: Arc<Resolver>,
    families: Families,
}

/// A failed lookup, as an error reqwest can carry.
#[derive(Debug, Error)]
#[error("{0}")]
struct DnsFailure(String);

impl Resolve for ViaResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let resolver = self.resolver.clone();
        let families = self.families;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolution = resolver.resolve(&host, families).await;
            if let Some(failure) = resolution.failure {
                return Err(DnsFailure(failure.message).into());
            }
            // Port 0: the HTTP connector puts in the URL's port.
            let addrs: Addrs = Box::new(
                resolution
                    .addresses
                    .into_iter()
                    .map(|ip| SocketAddr::new(ip, 0)),
            );
            Ok(addrs)
        })
    }
}
