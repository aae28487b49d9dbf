//! OAuth2 sign-in for the mail servers that want a token instead of a password
//! (Outlook.com and Microsoft 365 always, Gmail unless an app password is used).
//!
//! mailcheck is a *public native client* (RFC 8252): it has a client ID the user
//! registered (docs/login.md), no confidential secret, and obtains a token with
//!
//! - the device authorization grant (RFC 8628, [`device`]) where the provider
//!   allows it for mail scopes (Microsoft): a code to type in any browser; or
//! - the authorization code grant with PKCE (RFC 7636) and a loopback redirect
//!   (RFC 8252 §7.3, [`browser`]) otherwise (Google).
//!
//! Endpoints come from the provider table ([`crate::report::OAuth2Settings`]),
//! from an issuer's OpenID Connect discovery document ([`discovery`]), or from
//! the user. Tokens are refreshed (RFC 6749 §6) and revoked (RFC 7009) through
//! [`token`], and kept in the operating system's keyring or a file only the user
//! can read ([`store`]). All HTTP is bounded ([`http`]) and, except on loopback,
//! HTTPS only.
//!
//! Nothing here prints: what the person must see (the code, the URL) goes
//! through [`Prompt`], and no token, refresh token or client secret is ever part
//! of an error message or a `Debug` output.

pub mod browser;
pub mod device;
pub mod discovery;
pub mod flow;
pub mod http;
pub mod store;
pub mod token;

use thiserror::Error;
use url::Url;

use crate::proto::sasl::Secret;

pub use flow::{Prompt, SignIn, refresh, sign_in};

/// An error answer of an authorization server (RFC 6749 §5.2, RFC 8628 §3.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    /// The error code: `invalid_grant`, `authorization_pending`, ….
    pub error: String,
    /// The server's own words (Microsoft puts its `AADSTS` code here).
    /// (`error_uri` is not kept: the explanation's fix says what to do.)
    pub description: Option<String>,
}

impl ServerError {
    /// Whether the answer ends the grant or the client's use of it (RFC 6749
    /// §5.2: the refresh token is revoked or expired, the client is unknown or
    /// not allowed, the scope refused): its access tokens are then to be taken
    /// as ended too (RFC 7009 §2.1). `temporarily_unavailable`, `server_error`
    /// and other words of a server in trouble are not.
    #[must_use]
    pub fn ends_grant(&self) -> bool {
        matches!(
            self.error.as_str(),
            "invalid_grant" | "invalid_client" | "unauthorized_client" | "invalid_scope"
        )
    }
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.error)?;
        if let Some(d) = &self.description {
            // The first line: Microsoft appends trace and correlation ids.
            write!(f, " ({})", d.lines().next().unwrap_or(d).trim())?;
        }
        Ok(())
    }
}

/// Why a sign-in, refresh or revocation did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OAuthError {
    /// An endpoint URL mailcheck will not use (not HTTPS off loopback, unparsable).
    #[error("{what} {url:?}: {reason}")]
    BadEndpoint {
        /// Which endpoint ("token endpoint").
        what: String,
        /// The URL as given.
        url: String,
        /// Why not.
        reason: String,
    },
    /// The request could not be made or answered (DNS, TCP, TLS, timeout, size).
    #[error("{url}: {message}")]
    Http {
        /// The URL asked.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The server answered with an OAuth2 error.
    #[error("the authorization server refused: {0}")]
    Refused(ServerError),
    /// The server's answer is not what the protocol says it must be.
    #[error("{url}: {reason}")]
    Malformed {
        /// The URL asked.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// The person did not finish signing in within the time allowed (`--wait`).
    #[error(
        "nobody completed the sign-in within {0} s; run mailcheck login again, with a longer --wait if more time is needed"
    )]
    TimedOut(u64),
    /// The device code expired (the server's limit, shorter than `--wait`)
    /// before the person finished signing in (RFC 8628 §3.2 `expires_in`).
    #[error(
        "the code expired after {0} s (the authorization server's limit) before the sign-in was completed; run mailcheck login again for a new code"
    )]
    CodeExpired(u64),
    /// What mailcheck needs to sign in is missing (a client ID, an endpoint).
    #[error("{0}")]
    Setup(String),
}

impl OAuthError {
    /// The server's error, when it answered with one.
    #[must_use]
    pub fn server_error(&self) -> Option<&ServerError> {
        match self {
            OAuthError::Refused(e) => Some(e),
            _ => None,
        }
    }
}

/// The authorization server's endpoints, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The issuer (or the provider table's authority), when one is known: the
    /// user gave only endpoint URLs otherwise.
    pub issuer: Option<String>,
    /// Whether [`Endpoints::issuer`] is confirmed by the issuer's own metadata
    /// document; only then does the browser flow hold the redirect's `iss` to
    /// it (RFC 9207 §2.4).
    pub issuer_confirmed: bool,
    /// Whether the confirmed issuer's metadata says it puts `iss` in every
    /// authorization response: then one without it is refused (RFC 9207 §2.4).
    pub sends_iss: bool,
    /// Authorization endpoint (browser flow).
    pub authorization: Option<Url>,
    /// Token endpoint.
    pub token: Url,
    /// Device authorization endpoint.
    pub device: Option<Url>,
    /// Revocation endpoint.
    pub revocation: Option<Url>,
}

impl Endpoints {
    /// The authorization server in words: the issuer, else the token
    /// endpoint's origin (`https://auth.example.com`).
    #[must_use]
    pub fn server(&self) -> String {
        self.issuer
            .clone()
            .unwrap_or_else(|| self.token.origin().ascii_serialization())
    }
}

/// The registered client: its ID, and the secret where the provider wants one.
#[derive(Debug, Clone)]
pub struct Client {
    /// The client ID (public).
    pub id: String,
    /// The client secret ("desktop app" registrations at Google), never shown.
    pub secret: Option<Secret>,
}

impl Client {
    /// The client's parameters in a token request (RFC 6749 §2.3.1 allows the
    /// secret in the body; public clients send only their ID, §3.2.1).
    pub(crate) fn params(&self) -> Vec<(&'static str, String)> {
        let mut p = vec![("client_id", self.id.clone())];
        if let Some(s) = &self.secret {
            p.push(("client_secret", s.expose().to_owned()));
        }
        p
    }
}

/// Whether a URL may carry tokens: HTTPS, or plain HTTP to a loopback address
/// (RFC 8252 §8.3 allows nothing less; a test server on loopback is the only
/// plain-HTTP endpoint accepted).
pub fn check_endpoint(what: &str, url: &str) -> Result<Url, OAuthError> {
    let bad = |reason: &str| OAuthError::BadEndpoint {
        what: what.to_owned(),
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let parsed = Url::parse(url).map_err(|e| bad(&format!("not a URL ({e})")))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad("credentials in a URL are refused"));
    }
    if parsed.fragment().is_some() {
        return Err(bad("an endpoint URL has no #fragment (RFC 6749 §3.1)"));
    }
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if is_loopback(&parsed) => Ok(parsed),
        "http" => Err(bad(
            "plain HTTP would expose the tokens; only https:// is accepted (http:// on loopback only)",
        )),
        other => Err(bad(&format!("the {other}: scheme is not HTTP(S)"))),
    }
}

/// Whether the URL's host is a loopback address or `localhost`.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Seconds since the Unix epoch, now.
#[must_use]
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Unix seconds as RFC 3339.
#[must_use]
pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_https_except_on_loopback() {
        for ok in [
            "https://login.example.com/token",
            "http://127.0.0.1:8080/token",
            "http://[::1]/token",
            "http://localhost:9/token",
        ] {
            assert!(check_endpoint("token endpoint", ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("http://login.example.com/token", "plain HTTP"),
            ("http://192.0.2.1/token", "plain HTTP"),
            ("ftp://login.example.com/", "not HTTP"),
            ("https://user:pw@login.example.com/", "credentials"),
            ("https://login.example.com/#x", "fragment"),
            ("login.example.com/token", "not a URL"),
        ] {
            let e = check_endpoint("token endpoint", bad)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(why) && e.contains("token endpoint"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn server_errors_show_the_first_line_of_the_description() {
        let e = ServerError {
            error: "invalid_grant".into(),
            description: Some("AADSTS70000: The grant is expired.\r\nTrace ID: 1".into()),
        };
        assert_eq!(
            e.to_string(),
            "invalid_grant (AADSTS70000: The grant is expired.)"
        );
    }

    #[test]
    fn client_secrets_do_not_show_in_debug_output() {
        let c = Client {
            id: "id".into(),
            secret: Some(Secret::new("s3cr3t")),
        };
        assert!(!format!("{c:?}").contains("s3cr3t"));
        assert_eq!(c.params()[1], ("client_secret", "s3cr3t".to_owned()));
    }
}
