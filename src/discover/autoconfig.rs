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
//! The plain-HTTP forms are a fallback only: a configuration fetched without TLS can
//! be forged by anyone on the path (pointing the client at an attacker's server), so
//! every [`Attempt`] says whether plain HTTP was involved, and callers must report
//! it as a finding. (Thunderbird's central ISPDB and the MX-based lookup are other
//! sources, not this module.)
//!
//! Everything fetched is hostile until parsed: fetches are bounded in time, size
//! ([`MAX_BODY`]) and redirects ([`MAX_REDIRECTS`]); the XML parser (roxmltree)
//! refuses DTDs, so no entity is ever expanded or loaded (XXE-safe).
//!
//! Names are resolved through mailcheck's own [`Resolver`], so `--dns-server`
//! applies to these fetches too, and trust anchors are those of the probes
//! ([`tls::root_store`]): the system's plus `--ca-file`.

use std::error::Error as _;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use rustls::RootCertStore;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use roxmltree::{Document, Node, ParsingOptions};
use serde::Serialize;
use thiserror::Error;

use crate::model::{Protocol, Security};
use crate::net::resolve::{Families, Resolver};
use crate::net::tls;
use crate::report::AuthMethod;
use crate::report::Setting;
use crate::report::UsernameForm;

/// The largest configuration document read; a longer body fails the fetch.
pub const MAX_BODY: usize = 256 * 1024;

/// How many redirects a fetch follows before giving up.
pub const MAX_REDIRECTS: usize = 3;

/// At most this many XML nodes are parsed (a real config has a few dozen).
const MAX_NODES: u32 = 10_000;

// ---------------------------------------------------------------------------
// Parsing

/// What a config-v1.1 document says, restricted to what mailcheck can probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Config {
    /// `<emailProvider id="…">`.
    pub provider_id: Option<String>,
    /// `<displayName>`.
    pub display_name: Option<String>,
    /// Every `<domain>` the provider serves.
    pub domains: Vec<String>,
    /// IMAP and POP3 servers, in the document's order (its order of preference).
    pub incoming: Vec<Setting>,
    /// SMTP servers, in the document's order.
    pub outgoing: Vec<Setting>,
}

/// Why a document is not a usable configuration. Each names the element at fault.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// Not well-formed XML, not UTF-8, or a DTD (refused, see the module docs).
    #[error("not a well-formed XML document: {0}")]
    Xml(String),
    /// Well-formed, but some other kind of document.
    #[error("the root element is <{0}>, not <clientConfig>")]
    NotClientConfig(String),
    /// `<clientConfig>` without `<emailProvider>`.
    #[error("<clientConfig> has no <emailProvider>")]
    NoProvider,
    /// A server without a required child element.
    #[error("{server}: <{element}> is missing or empty")]
    Missing {
        /// Which server, e.g. `<incomingServer type="imap"> #1`.
        server: String,
        /// The element.
        element: &'static str,
    },
    /// `<port>` that is not a number from 1 to 65535.
    #[error("{server}: <port> {value:?} is not a port number (1-65535)")]
    BadPort {
        /// Which server.
        server: String,
        /// The text found.
        value: String,
    },
    /// `<socketType>` other than SSL, STARTTLS or plain.
    #[error("{server}: <socketType> {value:?} is not one of SSL, STARTTLS, plain")]
    UnknownSocketType {
        /// Which server.
        server: String,
        /// The text found.
        value: String,
    },
    /// `<hostname>` that cannot be a host name or IP address.
    #[error("{server}: <hostname> {value:?} is not a host name")]
    BadHostname {
        /// Which server.
        server: String,
        /// The host name after placeholder substitution.
        value: String,
    },
}

/// Parses a config-v1.1 document for `address` (used for the `%EMAIL…%` placeholders).
///
/// Incoming servers of types other than `imap` and `pop3` (e.g. `exchange`) are
/// skipped, as are outgoing servers other than `smtp`; a malformed server of a
/// known type fails the whole document, since a client would not know which of
/// the provider's settings to trust.
pub fn parse(xml: &str, address: &str) -> Result<Config, ParseError> {
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
        ..ParsingOptions::default()
    };
    let xml = xml.strip_prefix('\u{feff}').unwrap_or(xml);
    let doc =
        Document::parse_with_options(xml, options).map_err(|e| ParseError::Xml(e.to_string()))?;
    let root = doc.root_element();
    if root.tag_name().name() != "clientConfig" {
        return Err(ParseError::NotClientConfig(
            root.tag_name().name().to_owned(),
        ));
    }
    let provider = children(root, "emailProvider")
        .next()
        .ok_or(ParseError::NoProvider)?;
    let vars = Placeholders::new(address);
    let mut config = Config {
        provider_id: provider.attribute("id").map(|s| s.trim().to_owned()),
        display_name: child_text(provider, "displayName").map(str::to_owned),
        domains: children(provider, "domain")
            .filter_map(text)
            .map(str::to_owned)
            .collect(),
        incoming: Vec::new(),
        outgoing: Vec::new(),
    };
    for (element, list) in [
        ("incomingServer", &mut config.incoming),
        ("outgoingServer", &mut config.outgoing),
    ] {
        for (i, node) in children(provider, element).enumerate() {
            let kind = node.attribute("type").unwrap_or("");
            let Some(protocol) = protocol(element, kind) else {
                continue;
            };
            let label = format!("<{element} type=\"{kind}\"> #{}", i + 1);
            list.push(setting(node, protocol, &label, &vars)?);
        }
    }
    Ok(config)
}

fn protocol(element: &str, kind: &str) -> Option<Protocol> {
    let kind = kind.trim().to_ascii_lowercase();
    match (element, kind.as_str()) {
        ("incomingServer", "imap") => Some(Protocol::Imap),
        ("incomingServer", "pop3") => Some(Protocol::Pop3),
        ("outgoingServer", "smtp") => Some(Protocol::Smtp),
        _ => None,
    }
}

fn setting(
    node: Node<'_, '_>,
    protocol: Protocol,
    label: &str,
    vars: &Placeholders,
) -> Result<Setting, ParseError> {
    let required = |element: &'static str| {
        child_text(node, element).ok_or_else(|| ParseError::Missing {
            server: label.to_owned(),
            element,
        })
    };
    let host = vars.substitute(required("hostname")?);
    if !is_host(&host) {
        return Err(ParseError::BadHostname {
            server: label.to_owned(),
            value: host,
        });
    }
    let port_text = required("port")?;
    let port = port_text
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| ParseError::BadPort {
            server: label.to_owned(),
            value: port_text.to_owned(),
        })?;
    let socket = required("socketType")?;
    let security = socket_type(socket).ok_or_else(|| ParseError::UnknownSocketType {
        server: label.to_owned(),
        value: socket.to_owned(),
    })?;
    Ok(Setting {
        protocol,
        host,
        port,
        security,
        username: child_text(node, "username").and_then(username_form),
        auth: children(node, "authentication")
            .filter_map(text)
            .find_map(auth_method),
    })
}

/// config-v1.1 `socketType`: "SSL" is implicit TLS (RFC 8314), "STARTTLS" the upgrade.
fn socket_type(value: &str) -> Option<Security> {
    match value.to_ascii_lowercase().as_str() {
        "ssl" => Some(Security::Tls),
        "starttls" => Some(Security::StartTls),
        "plain" => Some(Security::Plain),
        _ => None,
    }
}

/// Only the two placeholders the format defines for usernames; a literal or any
/// other pattern says nothing mailcheck can use.
fn username_form(value: &str) -> Option<UsernameForm> {
    match value {
        "%EMAILADDRESS%" => Some(UsernameForm::Address),
        "%EMAILLOCALPART%" => Some(UsernameForm::LocalPart),
        _ => None,
    }
}

/// The `<authentication>` values of config-v1.1. The first value understood wins
/// (the document lists them in the provider's order of preference); unknown values
/// are skipped, as Thunderbird does.
fn auth_method(value: &str) -> Option<AuthMethod> {
    match value.to_ascii_lowercase().as_str() {
        "password-cleartext" | "plain" => Some(AuthMethod::PasswordCleartext),
        "password-encrypted" | "secure" => Some(AuthMethod::PasswordEncrypted),
        "oauth2" => Some(AuthMethod::OAuth2),
        "ntlm" | "gssapi" | "client-ip-address" | "tls-client-cert" | "none" => {
            Some(AuthMethod::Other)
        }
        _ => None,
    }
}

/// Letters, digits, dots, hyphens and underscores; or an IPv6 literal in brackets.
fn is_host(host: &str) -> bool {
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
    if let Some(v6) = bare {
        return v6.parse::<std::net::Ipv6Addr>().is_ok();
    }
    !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// The values of `%EMAILADDRESS%`, `%EMAILLOCALPART%` and `%EMAILDOMAIN%`.
struct Placeholders {
    address: String,
    local: String,
    domain: String,
}

impl Placeholders {
    fn new(address: &str) -> Self {
        let (local, domain) = address.rsplit_once('@').unwrap_or((address, ""));
        Placeholders {
            address: address.to_owned(),
            local: local.to_owned(),
            domain: domain.to_owned(),
        }
    }

    fn substitute(&self, text: &str) -> String {
        text.replace("%EMAILADDRESS%", &self.address)
            .replace("%EMAILLOCALPART%", &self.local)
            .replace("%EMAILDOMAIN%", &self.domain)
    }
}

fn children<'a, 'i>(node: Node<'a, 'i>, name: &'static str) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

fn text<'a>(node: Node<'a, '_>) -> Option<&'a str> {
    node.text().map(str::trim).filter(|t| !t.is_empty())
}

fn child_text<'a>(node: Node<'a, '_>, name: &'static str) -> Option<&'a str> {
    children(node, name).next().and_then(text)
}

// ---------------------------------------------------------------------------
// Where to look

/// The URLs to try for `domain`, in Thunderbird's order, each with whether it is
/// plain HTTP (see the module docs: a plain-HTTP configuration can be forged).
#[must_use]
pub fn candidate_urls(domain: &str, address: &str) -> Vec<(String, bool)> {
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let query = percent_encode(address);
    let paths = [
        format!("autoconfig.{domain}/mail/config-v1.1.xml?emailaddress={query}"),
        format!("{domain}/.well-known/autoconfig/mail/config-v1.1.xml"),
    ];
    let https = paths.iter().map(|p| (format!("https://{p}"), false));
    let http = paths.iter().map(|p| (format!("http://{p}"), true));
    https.chain(http).collect()
}

/// Like JavaScript's `encodeURIComponent`, which Thunderbird uses for the address.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Fetching

/// The fetcher could not be set up.
#[derive(Debug, Error)]
pub enum SetupError {
    /// Trust anchors (`--ca-file`) could not be loaded.
    #[error(transparent)]
    Tls(#[from] tls::SetupError),
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
    /// More redirects than [`MAX_REDIRECTS`].
    #[error("more than {MAX_REDIRECTS} redirects (the next pointed to {next})")]
    TooManyRedirects {
        /// Where the refused redirect pointed.
        next: String,
    },
    /// The body is longer than [`MAX_BODY`]; reading stopped there.
    #[error("the document is larger than {MAX_BODY} bytes")]
    TooLarge,
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

/// An HTTP(S) client for autoconfig documents: bounded, resolving through
/// mailcheck's resolver, trusting the system's roots plus `--ca-file`.
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
    ) -> Result<Self, SetupError> {
        Self::with_families(resolver, Families::Any, ca_file, timeout)
    }

    /// As [`Fetcher::new`], connecting only over `families` (`-4`/`-6`).
    pub fn with_families(
        resolver: Arc<Resolver>,
        families: Families,
        ca_file: Option<&Path>,
        timeout: Duration,
    ) -> Result<Self, SetupError> {
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
    ) -> Result<Self, SetupError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| SetupError::Client(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .dns_resolver(ViaResolver { resolver, families })
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .no_proxy()
            .user_agent(concat!("mailcheck/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SetupError::Client(error_chain(&e)))?;
        Ok(Fetcher { client, timeout })
    }

    /// Fetches `url`, following at most [`MAX_REDIRECTS`] redirects to http(s)
    /// URLs, reading at most [`MAX_BODY`] bytes, all within the timeout.
    pub async fn fetch(&self, url: &str) -> Fetched {
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
        let outcome = tokio::time::timeout(self.timeout, self.follow(&mut fetched)).await;
        fetched.body = outcome.unwrap_or(Err(FetchError::Timeout(self.timeout)));
        fetched.duration = started.elapsed();
        fetched
    }

    async fn follow(&self, fetched: &mut Fetched) -> Result<Vec<u8>, FetchError> {
        let mut current = http_url(&fetched.url, None)?;
        loop {
            fetched.final_url = current.to_string();
            fetched.plain_http |= current.scheme() == "http";
            let response = self
                .client
                .get(current.clone())
                .send()
                .await
                .map_err(|e| FetchError::Request(request_error(&e)))?;
            let status = response.status().as_u16();
            fetched.status = Some(status);
            if !response.status().is_redirection() {
                if !response.status().is_success() {
                    return Err(FetchError::Status(status));
                }
                return read_body(response).await;
            }
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or(FetchError::NoLocation(status))?;
            let next = http_url(location, Some(&current))?;
            if fetched.redirects.len() >= MAX_REDIRECTS {
                return Err(FetchError::TooManyRedirects {
                    next: next.to_string(),
                });
            }
            fetched.redirects.push(Redirect {
                from: current.to_string(),
                status,
                to: next.to_string(),
            });
            current = next;
        }
    }
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

/// Reads the body, failing as soon as it is known to exceed [`MAX_BODY`]: from
/// `Content-Length` before reading anything, or from the bytes read so far.
async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, FetchError> {
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY as u64)
    {
        return Err(FetchError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| FetchError::Request(request_error(&e)))?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(FetchError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A reqwest error's causes, without its "error sending request for url (…)"
/// wrapper: the URL is recorded beside the message.
fn request_error(e: &reqwest::Error) -> String {
    e.source().map_or_else(|| e.to_string(), error_chain)
}

/// An error and its causes, "outer: inner: innermost", without repeats.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
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

// ---------------------------------------------------------------------------
// Lookup

/// What one candidate URL gave.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A usable configuration.
    Found(Config),
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

/// Tries [`candidate_urls`] for `domain` in order, stopping at the first that
/// yields a configuration; every attempt is returned.
pub async fn lookup(fetcher: &Fetcher, domain: &str, address: &str) -> Vec<Attempt> {
    lookup_urls(fetcher, &candidate_urls(domain, address), address).await
}

/// As [`lookup`], over the given `(url, plain_http)` candidates.
pub async fn lookup_urls(
    fetcher: &Fetcher,
    candidates: &[(String, bool)],
    address: &str,
) -> Vec<Attempt> {
    let mut attempts = Vec::new();
    for (url, plain) in candidates {
        let attempt = attempt(fetcher.fetch(url).await, *plain, address);
        let found = matches!(attempt.outcome, Outcome::Found(_));
        attempts.push(attempt);
        if found {
            break;
        }
    }
    attempts
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

    const ADDRESS: &str = "alice@example.com";

    /// The shape of a Thunderbird ISPDB entry: several incoming servers, including
    /// one of a type mailcheck does not probe, several authentication values.
    const ISPDB_LIKE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="example.com">
    <domain>example.com</domain>
    <domain>example.net</domain>
    <displayName>Example Mail</displayName>
    <displayShortName>Example</displayShortName>
    <incomingServer type="exchange">
      <hostname>outlook.example.com</hostname>
      <port>443</port>
      <username>%EMAILADDRESS%</username>
      <socketType>SSL</socketType>
      <authentication>OAuth2</authentication>
    </incomingServer>
    <incomingServer type="imap">
      <hostname>imap.example.com</hostname>
      <port>993</port>
      <socketType>SSL</socketType>
      <authentication>OAuth2</authentication>
      <authentication>password-cleartext</authentication>
      <username>%EMAILADDRESS%</username>
    </incomingServer>
    <incomingServer type="pop3">
      <hostname>pop.%EMAILDOMAIN%</hostname>
      <port>110</port>
      <socketType>STARTTLS</socketType>
      <authentication>password-encrypted</authentication>
      <username>%EMAILLOCALPART%</username>
      <pop3>
        <leaveMessagesOnServer>true</leaveMessagesOnServer>
      </pop3>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname> smtp.example.com </hostname>
      <port>587</port>
      <socketType>STARTTLS</socketType>
      <authentication>password-cleartext</authentication>
      <username>%EMAILADDRESS%</username>
    </outgoingServer>
    <documentation url="https://example.com/help">
      <descr lang="en">Generic settings page</descr>
    </documentation>
  </emailProvider>
</clientConfig>
"#;

    fn server(kind: &str, body: &str) -> String {
        format!(
            "<clientConfig version=\"1.1\"><emailProvider id=\"x\">\
             <incomingServer type=\"{kind}\">{body}</incomingServer>\
             </emailProvider></clientConfig>"
        )
    }

    fn imap(host: &str, port: &str, socket: &str, extra: &str) -> String {
        server(
            "imap",
            &format!(
                "<hostname>{host}</hostname><port>{port}</port>\
                 <socketType>{socket}</socketType>{extra}"
            ),
        )
    }

    fn one(xml: &str) -> Setting {
        let config = parse(xml, ADDRESS).unwrap();
        assert_eq!(config.incoming.len(), 1);
        config.incoming.into_iter().next().unwrap()
    }

    #[test]
    fn ispdb_like_config_parses_in_document_order() {
        let c = parse(ISPDB_LIKE, ADDRESS).unwrap();
        assert_eq!(c.provider_id.as_deref(), Some("example.com"));
        assert_eq!(c.display_name.as_deref(), Some("Example Mail"));
        assert_eq!(c.domains, ["example.com", "example.net"]);
        assert_eq!(
            c.incoming,
            [
                Setting {
                    protocol: Protocol::Imap,
                    host: "imap.example.com".into(),
                    port: 993,
                    security: Security::Tls,
                    username: Some(UsernameForm::Address),
                    auth: Some(AuthMethod::OAuth2),
                },
                Setting {
                    protocol: Protocol::Pop3,
                    host: "pop.example.com".into(),
                    port: 110,
                    security: Security::StartTls,
                    username: Some(UsernameForm::LocalPart),
                    auth: Some(AuthMethod::PasswordEncrypted),
                },
            ]
        );
        assert_eq!(
            c.outgoing,
            [Setting {
                protocol: Protocol::Smtp,
                host: "smtp.example.com".into(),
                port: 587,
                security: Security::StartTls,
                username: Some(UsernameForm::Address),
                auth: Some(AuthMethod::PasswordCleartext),
            }]
        );
    }

    #[test]
    fn placeholders_are_substituted_in_host_names() {
        let s = one(&imap(
            "%EMAILLOCALPART%.mail.%EMAILDOMAIN%",
            "993",
            "SSL",
            "",
        ));
        assert_eq!(s.host, "alice.mail.example.com");
        let err = parse(&imap("%EMAILADDRESS%", "993", "SSL", ""), ADDRESS).unwrap_err();
        assert!(matches!(err, ParseError::BadHostname { ref value, .. } if value == ADDRESS));
    }

    #[test]
    fn username_forms() {
        let form =
            |u: &str| one(&imap("h", "1", "SSL", &format!("<username>{u}</username>"))).username;
        assert_eq!(form("%EMAILADDRESS%"), Some(UsernameForm::Address));
        assert_eq!(form("%EMAILLOCALPART%"), Some(UsernameForm::LocalPart));
        assert_eq!(form("%EMAILLOCALPART%@corp"), None);
        assert_eq!(form("shared-account"), None);
        assert_eq!(one(&imap("h", "1", "SSL", "")).username, None);
    }

    #[test]
    fn each_socket_type() {
        for (text, security) in [
            ("SSL", Security::Tls),
            ("STARTTLS", Security::StartTls),
            ("plain", Security::Plain),
        ] {
            assert_eq!(one(&imap("h", "143", text, "")).security, security);
        }
    }

    #[test]
    fn unknown_socket_type_is_an_error_naming_the_element() {
        let err = parse(&imap("h", "143", "TLS1.3", ""), ADDRESS).unwrap_err();
        assert_eq!(
            err,
            ParseError::UnknownSocketType {
                server: "<incomingServer type=\"imap\"> #1".into(),
                value: "TLS1.3".into()
            }
        );
        assert!(err.to_string().contains("<socketType>"), "{err}");
    }

    #[test]
    fn authentication_values() {
        let auth = |a: &str| {
            one(&imap(
                "h",
                "1",
                "SSL",
                &format!("<authentication>{a}</authentication>"),
            ))
            .auth
        };
        assert_eq!(
            auth("password-cleartext"),
            Some(AuthMethod::PasswordCleartext)
        );
        assert_eq!(auth("plain"), Some(AuthMethod::PasswordCleartext));
        assert_eq!(
            auth("password-encrypted"),
            Some(AuthMethod::PasswordEncrypted)
        );
        assert_eq!(auth("secure"), Some(AuthMethod::PasswordEncrypted));
        assert_eq!(auth("OAuth2"), Some(AuthMethod::OAuth2));
        for other in [
            "NTLM",
            "GSSAPI",
            "client-IP-address",
            "TLS-client-cert",
            "none",
        ] {
            assert_eq!(auth(other), Some(AuthMethod::Other), "{other}");
        }
    }

    #[test]
    fn unknown_authentication_is_skipped_not_an_error() {
        let s = one(&imap(
            "h",
            "1",
            "SSL",
            "<authentication>magic-token</authentication>\
             <authentication>password-cleartext</authentication>",
        ));
        assert_eq!(s.auth, Some(AuthMethod::PasswordCleartext));
        let s = one(&imap(
            "h",
            "1",
            "SSL",
            "<authentication>magic</authentication>",
        ));
        assert_eq!(s.auth, None);
    }

    #[test]
    fn malformed_xml_is_an_xml_error() {
        let err = parse("<clientConfig><emailProvider></clientConfig>", ADDRESS).unwrap_err();
        assert!(matches!(err, ParseError::Xml(_)), "{err:?}");
    }

    #[test]
    fn empty_document_is_an_xml_error() {
        assert!(matches!(parse("", ADDRESS), Err(ParseError::Xml(_))));
        assert!(matches!(parse("  \n", ADDRESS), Err(ParseError::Xml(_))));
    }

    #[test]
    fn other_documents_are_named() {
        assert_eq!(
            parse("<html><body>Not found</body></html>", ADDRESS),
            Err(ParseError::NotClientConfig("html".into()))
        );
        assert_eq!(
            parse("<clientConfig version=\"1.1\"/>", ADDRESS),
            Err(ParseError::NoProvider)
        );
    }

    #[test]
    fn missing_hostname_names_the_element() {
        let xml = server("imap", "<port>993</port><socketType>SSL</socketType>");
        let err = parse(&xml, ADDRESS).unwrap_err();
        assert!(
            matches!(
                err,
                ParseError::Missing {
                    element: "hostname",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("<hostname>"), "{err}");
        let xml = server("pop3", "<hostname> </hostname><port>995</port>");
        assert!(matches!(
            parse(&xml, ADDRESS),
            Err(ParseError::Missing {
                element: "hostname",
                ..
            })
        ));
    }

    #[test]
    fn missing_port_and_socket_type_name_the_element() {
        let xml = server("imap", "<hostname>h</hostname><socketType>SSL</socketType>");
        assert!(matches!(
            parse(&xml, ADDRESS),
            Err(ParseError::Missing {
                element: "port",
                ..
            })
        ));
        let xml = server("imap", "<hostname>h</hostname><port>993</port>");
        assert!(matches!(
            parse(&xml, ADDRESS),
            Err(ParseError::Missing {
                element: "socketType",
                ..
            })
        ));
    }

    #[test]
    fn bad_ports_are_errors() {
        for port in ["0", "65536", "-1", "99999999999", "993a", "0x3e1"] {
            let err = parse(&imap("h", port, "SSL", ""), ADDRESS).unwrap_err();
            assert_eq!(
                err,
                ParseError::BadPort {
                    server: "<incomingServer type=\"imap\"> #1".into(),
                    value: port.into()
                }
            );
        }
        assert_eq!(one(&imap("h", "65535", "SSL", "")).port, 65535);
    }

    #[test]
    fn dtd_and_entities_are_refused() {
        let xxe = r#"<?xml version="1.0"?>
<!DOCTYPE clientConfig [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<clientConfig><emailProvider id="&xxe;"/></clientConfig>"#;
        assert!(matches!(parse(xxe, ADDRESS), Err(ParseError::Xml(_))));
        let laughs = r#"<!DOCTYPE a [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>
<clientConfig><emailProvider id="&b;"/></clientConfig>"#;
        assert!(matches!(parse(laughs, ADDRESS), Err(ParseError::Xml(_))));
        // An undeclared entity is an error too, never left for later.
        let undeclared = "<clientConfig><emailProvider id=\"&xxe;\"/></clientConfig>";
        assert!(matches!(
            parse(undeclared, ADDRESS),
            Err(ParseError::Xml(_))
        ));
    }

    #[test]
    fn hostile_host_names_are_refused() {
        for host in ["imap.example.com/evil", "a b", "h:993", "[not-v6]"] {
            assert!(
                matches!(
                    parse(&imap(host, "993", "SSL", ""), ADDRESS),
                    Err(ParseError::BadHostname { .. })
                ),
                "{host}"
            );
        }
        assert_eq!(one(&imap("[::1]", "993", "SSL", "")).host, "[::1]");
    }

    #[test]
    fn other_server_types_are_ignored() {
        let c = parse(&server("exchange", "<hostname>h</hostname>"), ADDRESS).unwrap();
        assert!(c.incoming.is_empty() && c.outgoing.is_empty());
    }

    #[test]
    fn candidate_urls_in_thunderbird_order() {
        let urls = candidate_urls("Example.COM.", "alice+tag@example.com");
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
