//! Signing in and refreshing, from endpoints and a client to a record for the
//! [`super::store`].

use std::time::Duration;

use url::Url;

use super::browser::{self, AuthRequest, Loopback, Pkce};
use super::device::{self, DeviceCode};
use super::http::Http;
use super::store::{StoredToken, VERSION};
use super::token::{self, Tokens};
use super::{Client, Endpoints, OAuthError, check_endpoint, now};
use crate::report::OAuth2Flow;

/// How early before its expiry an access token is refreshed: a token that
/// expires during the logins would fail them, and a second login is not allowed.
pub const REFRESH_MARGIN_SECS: i64 = 60;

/// What the person must see or do while signing in.
pub trait Prompt: Send + Sync {
    /// The device flow: the code and where to type it, and how long mailcheck
    /// waits for the person (the shorter of `--wait` and the code's life).
    fn device_code(&self, code: &DeviceCode, wait: Duration);
    /// The browser flow: the page to sign in on, shown before any browser is
    /// started (a browser that never comes must not hide it); whether one is
    /// about to be; and how long mailcheck waits.
    fn browser(&self, url: &Url, opening: bool, wait: Duration);
}

/// Starts the person's browser on a page.
pub trait Opener: Send + Sync {
    /// Whether there plausibly is a browser to start.
    fn available(&self) -> bool;
    /// Starts it on `url`, without waiting for it.
    fn open(&self, url: &Url);
}

/// The system's browser, through the `webbrowser` crate.
pub struct SystemBrowser;

impl Opener for SystemBrowser {
    /// A graphical session (or `BROWSER` set) on Linux; always elsewhere.
    fn available(&self) -> bool {
        !cfg!(target_os = "linux")
            || ["DISPLAY", "WAYLAND_DISPLAY", "BROWSER"]
                .iter()
                .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
    }

    /// On a detached thread: the opener may block (`xdg-open` waiting for a
    /// browser, a `BROWSER` command that never returns), and mailcheck neither
    /// waits for it nor lets it delay the exit (a `spawn_blocking` task would
    /// hold up the runtime's shutdown).
    fn open(&self, url: &Url) {
        let url = url.to_string();
        let _ = std::thread::Builder::new()
            .name("browser".into())
            .spawn(move || {
                let _ = webbrowser::open_browser_with_options(
                    webbrowser::Browser::Default,
                    &url,
                    webbrowser::BrowserOptions::new().with_suppress_output(true),
                );
            });
    }
}

/// One sign-in, as asked for.
#[derive(Debug, Clone)]
pub struct SignIn {
    /// The address.
    pub account: String,
    /// Where.
    pub endpoints: Endpoints,
    /// As whom.
    pub client: Client,
    /// For what.
    pub scopes: Vec<String>,
    /// How.
    pub flow: OAuth2Flow,
    /// Whether to open a browser (else only print the URL).
    pub open_browser: bool,
    /// The loopback redirect's host.
    pub redirect_host: String,
    /// How long to wait for the person.
    pub wait: Duration,
}

/// Signs in with the chosen flow and returns the record to store.
pub async fn sign_in(
    http: &Http,
    s: &SignIn,
    prompt: &dyn Prompt,
) -> Result<StoredToken, OAuthError> {
    let tokens = match s.flow {
        OAuth2Flow::Device => with_device(http, s, prompt).await?,
        OAuth2Flow::Browser => with_browser(http, s, prompt, &SystemBrowser).await?,
    };
    Ok(record(s, tokens, now()))
}

async fn with_device(http: &Http, s: &SignIn, prompt: &dyn Prompt) -> Result<Tokens, OAuthError> {
    let url = s.endpoints.device.as_ref().ok_or_else(|| {
        OAuthError::Setup(
            "this authorization server has no device authorization endpoint: use --flow browser (or give --device-url)".into(),
        )
    })?;
    let code = device::start(http, url, &s.client, &s.scopes).await?;
    prompt.device_code(&code, s.wait.min(code.expires_in));
    device::poll(http, &s.endpoints.token, &s.client, &code, s.wait).await
}

async fn with_browser(
    http: &Http,
    s: &SignIn,
    prompt: &dyn Prompt,
    opener: &dyn Opener,
) -> Result<Tokens, OAuthError> {
    let endpoint = s.endpoints.authorization.as_ref().ok_or_else(|| {
        OAuthError::Setup(
            "this authorization server has no authorization endpoint: use --flow device (or give --authorization-url)".into(),
        )
    })?;
    let pkce = Pkce::new()?;
    let state = browser::random(16)?;
    let listener = Loopback::bind(&s.redirect_host).await?;
    let redirect_uri = listener.redirect_uri.clone();
    let url = browser::authorization_url(
        endpoint,
        &AuthRequest {
            client_id: &s.client.id,
            redirect_uri: &redirect_uri,
            scopes: &s.scopes,
            state: &state,
            challenge: &pkce.challenge,
            login_hint: &s.account,
        },
    );
    let opening = s.open_browser && opener.available();
    prompt.browser(&url, opening, s.wait);
    if opening {
        opener.open(&url);
    }
    let issuer = s
        .endpoints
        .issuer
        .as_deref()
        .filter(|_| s.endpoints.issuer_confirmed)
        .map(|id| browser::Issuer {
            id,
            sends_iss: s.endpoints.sends_iss,
        });
    let code = listener.wait(&state, issuer, s.wait).await?;
    token::exchange_code(
        http,
        &s.endpoints.token,
        &s.client,
        &code,
        &pkce.verifier,
        &redirect_uri,
    )
    .await
}

/// The record for a fresh sign-in.
fn record(s: &SignIn, tokens: Tokens, at: i64) -> StoredToken {
    StoredToken {
        version: VERSION,
        account: s.account.clone(),
        issuer: s.endpoints.server(),
        client_id: s.client.id.clone(),
        client_secret: s.client.secret.clone(),
        token_url: s.endpoints.token.to_string(),
        revocation_url: s.endpoints.revocation.as_ref().map(ToString::to_string),
        scopes_requested: s.scopes.clone(),
        scopes_granted: tokens.scope,
        expires_at: tokens.expires_in.map(|e| at.saturating_add_unsigned(e)),
        access_token: tokens.access,
        refresh_token: tokens.refresh,
        obtained_at: at,
    }
}

/// Whether the access token has expired, or will within [`REFRESH_MARGIN_SECS`].
#[must_use]
pub fn needs_refresh(t: &StoredToken, at: i64) -> bool {
    t.expires_at.is_some_and(|e| e - REFRESH_MARGIN_SECS <= at)
}

/// Refreshes a stored token (RFC 6749 §6): the new access token, the rotated
/// refresh token when the server sent one (the old one otherwise), the granted
/// scopes when the server names them.
pub async fn refresh(http: &Http, t: &StoredToken) -> Result<StoredToken, OAuthError> {
    let refresh_token = t.refresh_token.as_ref().ok_or_else(|| {
        OAuthError::Setup(format!(
            "the stored token for {} has expired and there is no refresh token (the sign-in did not ask for offline access); run mailcheck login {} again",
            t.account, t.account
        ))
    })?;
    let url = check_endpoint("token endpoint", &t.token_url)?;
    let client = Client {
        id: t.client_id.clone(),
        secret: t.client_secret.clone(),
    };
    let tokens = token::refresh(http, &url, &client, refresh_token).await?;
    let at = now();
    let mut fresh = t.clone();
    fresh.expires_at = tokens.expires_in.map(|e| at.saturating_add_unsigned(e));
    fresh.access_token = tokens.access;
    if let Some(rotated) = tokens.refresh {
        fresh.refresh_token = Some(rotated);
    }
    if tokens.scope.is_some() {
        fresh.scopes_granted = tokens.scope;
    }
    Ok(fresh)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::sasl::Secret;

    fn sign_in() -> SignIn {
        SignIn {
            account: "alice@example.com".into(),
            endpoints: Endpoints {
                issuer: Some("https://auth.example.com".into()),
                issuer_confirmed: true,
                sends_iss: false,
                authorization: None,
                token: Url::parse("https://auth.example.com/token").unwrap(),
                device: None,
                revocation: None,
            },
            client: Client {
                id: "cid".into(),
                secret: None,
            },
            scopes: vec!["mail".into(), "offline_access".into()],
            flow: OAuth2Flow::Device,
            open_browser: false,
            redirect_host: "127.0.0.1".into(),
            wait: Duration::from_secs(1),
        }
    }

    #[test]
    fn records_note_expiry_and_refresh_early() {
        let tokens = Tokens {
            access: Secret::new("a"),
            refresh: None,
            expires_in: Some(3600),
            scope: None,
        };
        let r = record(&sign_in(), tokens, 1000);
        assert_eq!(r.expires_at, Some(4600));
        assert_eq!(r.scopes_granted, None);
        assert!(!needs_refresh(&r, 1000));
        assert!(needs_refresh(&r, 4600 - REFRESH_MARGIN_SECS));
        assert!(needs_refresh(&r, 5000));
    }

    #[tokio::test]
    async fn without_a_device_endpoint_the_device_flow_says_what_to_do() {
        struct Silent;
        impl Prompt for Silent {
            fn device_code(&self, _: &DeviceCode, _: Duration) {}
            fn browser(&self, _: &Url, _: bool, _: Duration) {}
        }
        let e = super::sign_in(&http(), &sign_in(), &Silent)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("--flow browser"), "{e}");
    }

    fn http() -> Http {
        let resolver = std::sync::Arc::new(
            crate::net::resolve::Resolver::new(None, Duration::from_secs(1)).unwrap(),
        );
        Http::new(
            resolver,
            crate::net::resolve::Families::Any,
            rustls::RootCertStore::empty(),
            Duration::from_secs(1),
        )
        .unwrap()
    }

    /// What the person was shown and what was started, in order.
    #[derive(Default)]
    struct Events(std::sync::Mutex<Vec<String>>);

    impl Events {
        fn push(&self, e: String) {
            self.0.lock().unwrap().push(e);
        }
    }

    impl Prompt for Events {
        fn device_code(&self, _: &DeviceCode, _: Duration) {}
        fn browser(&self, url: &Url, opening: bool, _: Duration) {
            self.push(format!("shown {} opening={opening}", url.path()));
        }
    }

    impl Opener for Events {
        fn available(&self) -> bool {
            true
        }
        fn open(&self, url: &Url) {
            self.push(format!("opened {}", url.path()));
        }
    }

    /// The regression: the page was printed only after the browser opener
    /// returned, so an opener that hung hid it. Now it is shown first, the
    /// opener is only started, and without --no-browser's consent none is.
    #[tokio::test]
    async fn the_browser_flow_shows_the_page_before_starting_a_browser() {
        for (open_browser, expected) in [
            (true, &["shown /auth opening=true", "opened /auth"][..]),
            (false, &["shown /auth opening=false"][..]),
        ] {
            let mut s = sign_in();
            s.flow = OAuth2Flow::Browser;
            s.endpoints.authorization = Some(Url::parse("https://auth.example.com/auth").unwrap());
            s.open_browser = open_browser;
            s.wait = Duration::from_millis(100);
            let events = Events::default();
            let e = with_browser(&http(), &s, &events, &events)
                .await
                .unwrap_err();
            assert!(matches!(e, OAuthError::TimedOut(_)), "{e}");
            assert_eq!(*events.0.lock().unwrap(), expected);
        }
    }
}
