//! OAuth2 in mailcheck's runs: `mailcheck login` (find the provider's endpoints,
//! sign in, store the token), `mailcheck logout` (revoke where possible, delete),
//! and the stored token a probe's logins use, refreshed first when it has
//! expired or is about to.

use std::sync::Arc;
use std::time::Duration;

use crate::config::NetConfig;
use crate::config::oauth::{LoginConfig, LogoutConfig, StoredLogin, account};
use crate::config::secrets::Found;
use crate::diagnose::oauth2 as explain;
use crate::discover::{dns, providers};
use crate::model::Address;
use crate::net::resolve::{Families, Resolver};
use crate::net::tls::TlsSetup;
use crate::oauth::discovery::{self, Overrides};
use crate::oauth::flow::needs_refresh;
use crate::oauth::http::Http;
use crate::oauth::store::{Location, StoredToken};
use crate::oauth::{self, Client, Endpoints, OAuthError, Prompt, check_endpoint, token};
use crate::report::{Explanation, LOOPBACK_REDIRECT_HOST, OAuth2Flow, OAuth2Settings, TokenUse};

/// A sign-in or refresh that did not give a token: what happened, and what it
/// means when the server said why.
#[derive(Debug, Clone)]
pub struct Refused {
    /// What happened, in words.
    pub message: String,
    /// Cause and fix, when the authorization server answered with an error.
    pub explanation: Option<Box<Explanation>>,
}

impl From<OAuthError> for Refused {
    fn from(e: OAuthError) -> Self {
        Refused {
            explanation: e
                .server_error()
                .map(|s| Box::new(explain::explain_error(&s.error, s.description.as_deref()))),
            message: e.to_string(),
        }
    }
}

/// What `mailcheck login` did.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The record (its secrets are never shown).
    pub token: StoredToken,
    /// Where it was stored, or why it could not be: the sign-in itself worked.
    pub stored: Result<Location, NotKept>,
}

/// A token obtained but not stored: why, and what to do.
#[derive(Debug, Clone)]
pub struct NotKept {
    /// Why, naming the place (the keyring, the file's directory).
    pub reason: String,
    /// What to do, for the store the user chose.
    pub fix: String,
    /// What asking the issuer to revoke the unkept tokens came to, in words:
    /// nobody holds them, so none should stay valid (RFC 7009).
    pub revoked: String,
}

/// HTTP for the OAuth2 endpoints, with the run's DNS and trust anchors.
fn http(net: &NetConfig) -> anyhow::Result<(Http, Arc<Resolver>)> {
    let tls = TlsSetup::new(net.ca_file.as_deref())?;
    let resolver = Arc::new(Resolver::new(net.dns_server, net.timeout)?);
    let roots = tls.roots.as_ref().clone();
    let http = Http::new(resolver.clone(), Families::Any, roots, net.timeout)?;
    Ok((http, resolver))
}

/// `mailcheck login`: `Err` when mailcheck could not run at all, `Ok(Err)` when
/// the sign-in was refused or failed.
pub async fn login(
    config: &LoginConfig,
    prompt: &dyn Prompt,
) -> anyhow::Result<Result<SignedIn, Refused>> {
    let (http, resolver) = http(&config.net)?;
    let settings = provider_settings(&config.address, &config.overrides, &resolver).await;
    Ok(sign_in(config, &http, settings, prompt).await)
}

async fn sign_in(
    config: &LoginConfig,
    http: &Http,
    settings: Option<&'static OAuth2Settings>,
    prompt: &dyn Prompt,
) -> Result<SignedIn, Refused> {
    let endpoints = discovery::endpoints(http, settings, &config.overrides).await?;
    let request = oauth::SignIn {
        account: account(&config.address),
        client: client(config, settings, &endpoints)?,
        scopes: scopes(config, settings)?,
        flow: config
            .flow
            .or(settings.map(|s| s.flow))
            .unwrap_or(if endpoints.device.is_some() {
                OAuth2Flow::Device
            } else {
                OAuth2Flow::Browser
            }),
        open_browser: config.open_browser,
        redirect_host: settings.map_or_else(
            || LOOPBACK_REDIRECT_HOST.to_owned(),
            |s| s.redirect_host.clone(),
        ),
        wait: config.wait,
        endpoints,
    };
    let token = oauth::sign_in(http, &request, prompt).await?;
    let stored = match config.store.save_async(&token).await {
        Ok(location) => Ok(location),
        Err(e) => Err(NotKept {
            reason: e.0,
            fix: config.store.remedy(),
            revoked: revoke(http, &token, "they stay valid until they expire").await,
        }),
    };
    Ok(SignedIn { token, stored })
}

/// The provider table's OAuth2 settings for the address: by its domain, else
/// (Microsoft 365, Google Workspace) by the domain's MX hosts. None when the user
/// named an issuer or a token endpoint: theirs is the server to use.
async fn provider_settings(
    address: &Address,
    overrides: &Overrides,
    resolver: &Resolver,
) -> Option<&'static OAuth2Settings> {
    if overrides.issuer.is_some() || overrides.token.is_some() {
        return None;
    }
    if let Some(s) = providers::oauth2_for(&address.domain) {
        return Some(s);
    }
    let (hosts, _) = dns::mx(resolver, &address.domain).await;
    providers::by_mx(&hosts).and_then(|p| p.oauth2.as_ref())
}

/// The client ID (and secret) from the flags, else the client configuration file
/// (its entry for the provider family, else for the issuer).
fn client(
    config: &LoginConfig,
    settings: Option<&OAuth2Settings>,
    endpoints: &Endpoints,
) -> Result<Client, Refused> {
    let family = settings.map(|s| s.id.as_str());
    let entry = config.clients.find(family, endpoints.issuer.as_deref());
    let server = family.map_or_else(|| endpoints.server(), str::to_owned);
    let id = config
        .client_id
        .clone()
        .or_else(|| entry.map(|e| e.client_id.clone()))
        .ok_or_else(|| setup(format!(
            "no OAuth2 client ID for {server}: register mailcheck with the provider (docs/login.md, \"Registering a client\") and give --client-id, \
             or put it in the client configuration file as {}",
            file_entry(family, endpoints.issuer.as_deref())
        )))?;
    let secret = config
        .client_secret
        .clone()
        .or_else(|| entry.and_then(|e| e.client_secret.clone()));
    if secret.is_none() && settings.is_some_and(|s| s.client_secret) {
        return Err(setup(format!(
            "{server} wants the client secret of your registration (a desktop-app client has one, shown beside its ID): \
             give --client-secret-file FILE, set MAILCHECK_OAUTH2_CLIENT_SECRET, or add client_secret to the client configuration file"
        )));
    }
    Ok(Client { id, secret })
}

/// The client configuration file's entry that would be found: by family, else
/// by issuer (without an issuer, none can be: `--issuer` names one).
fn file_entry(family: Option<&str>, issuer: Option<&str>) -> String {
    match (family, issuer) {
        (Some(f), _) => format!("[{f}] client_id = \"...\""),
        (None, Some(i)) => format!("[name] issuer = \"{i}\" client_id = \"...\""),
        (None, None) => {
            "[name] issuer = \"...\" client_id = \"...\" (found by issuer: give --issuer too)"
                .to_owned()
        }
    }
}

fn scopes(config: &LoginConfig, settings: Option<&OAuth2Settings>) -> Result<Vec<String>, Refused> {
    let scopes = if config.scopes.is_empty() {
        settings.map(|s| s.scopes.clone()).unwrap_or_default()
    } else {
        config.scopes.clone()
    };
    if scopes.is_empty() {
        return Err(setup(
            "which scopes give mail access on this server? give --scope (e.g. --scope openid,offline_access,mail)".into(),
        ));
    }
    Ok(scopes)
}

fn setup(message: String) -> Refused {
    Refused {
        message,
        explanation: None,
    }
}

/// What `mailcheck logout` did.
#[derive(Debug, Clone, Default)]
pub struct LoggedOut {
    /// Where tokens were deleted from.
    pub deleted: Vec<Location>,
    /// What the revocation came to, in words, when one was asked for.
    pub revoked: Option<String>,
}

/// `mailcheck logout`: revokes the refresh token (RFC 7009; revoking it ends its
/// access tokens too), then deletes the record wherever it is.
/// A record that cannot be read is still deleted, and the person told that
/// nothing was revoked.
pub async fn logout(config: &LogoutConfig) -> anyhow::Result<LoggedOut> {
    let account = account(&config.address);
    let mut out = LoggedOut::default();
    if config.revoke {
        out.revoked = match config.store.load_to_revoke_async(&account).await {
            Ok(Some((t, _))) => {
                let (http, _) = http(&config.net)?;
                Some(revoke(&http, &t, "the local copy is deleted anyway").await)
            }
            Ok(None) => None,
            Err(e) => Some(format!(
                "not attempted ({e}); to end the tokens now, remove mailcheck's access in the account's security settings"
            )),
        };
    }
    out.deleted = config
        .store
        .delete_async(&account)
        .await
        .map_err(|e| anyhow::anyhow!(e.0))?;
    Ok(out)
}

/// Asks the issuer to revoke `t`'s tokens; what it came to, in words, with
/// `if_failed` said after a failure.
async fn revoke(http: &Http, t: &StoredToken, if_failed: &str) -> String {
    let Some(url) = &t.revocation_url else {
        return format!(
            "{} has no revocation endpoint; the token stays valid until it expires (remove the app's access in the account's security settings to end it now)",
            t.issuer
        );
    };
    let client = Client {
        id: t.client_id.clone(),
        secret: t.client_secret.clone(),
    };
    let result = async {
        let url = check_endpoint("revocation endpoint", url)?;
        if let Some(refresh) = &t.refresh_token {
            token::revoke(http, &url, &client, refresh, "refresh_token").await?;
        }
        token::revoke(http, &url, &client, &t.access_token, "access_token").await
    };
    match result.await {
        Ok(()) => format!("{} revoked the tokens", t.issuer),
        Err(e) => format!("revoking at {url} failed ({e}); {if_failed}"),
    }
}

/// The token a probe's logins use: the stored one, refreshed first when it has
/// expired or is about to (and saved back, rotated refresh token included).
/// Also says which token it was, for the report.
pub async fn stored_token(
    stored: &StoredLogin,
    resolver: Arc<Resolver>,
    families: Families,
    roots: rustls::RootCertStore,
    timeout: Duration,
) -> (Result<Found, Refused>, TokenUse) {
    let now = oauth::now();
    let mut token = stored.token.clone();
    let mut usage = token_use(&token, &stored.location, false);
    if !needs_refresh(&token, now) {
        return (Ok(Found::Token(token.access_token)), usage);
    }
    if token.refresh_token.is_none() {
        // Still valid for a few seconds: use it; expired: explain.
        if token.expires_at.is_some_and(|e| e > now) {
            return (Ok(Found::Token(token.access_token)), usage);
        }
        let refused = Refused {
            message: format!(
                "the stored OAuth2 token for {} has expired and cannot be refreshed",
                token.account
            ),
            explanation: Some(Box::new(explain::token_expired(&usage))),
        };
        usage.error = Some(refused.message.clone());
        return (Err(refused), usage);
    }
    let refreshed = match Http::new(resolver, families, roots, timeout) {
        Ok(http) => oauth::refresh(&http, &token).await,
        Err(e) => Err(e),
    };
    match refreshed {
        Ok(fresh) => {
            token = fresh;
            let saved = stored.store.save_async(&token).await;
            usage = token_use(&token, &stored.location, true);
            usage.error = saved.err().map(|e| {
                format!(
                    "the refreshed token could not be saved: {e}; {}",
                    stored.store.remedy()
                )
            });
            (Ok(Found::Token(token.access_token)), usage)
        }
        Err(e) => not_refreshed(token, usage, e, now),
    }
}

/// A refresh that failed: the stored access token while it is still valid,
/// else why there is none. The report says both. Only when the authorization
/// server could not be asked (the network, an unusable answer) or was in
/// trouble (`temporarily_unavailable`, `server_error`): when it ended the grant
/// (`invalid_grant`: revoked, expired; see [`oauth::ServerError::ends_grant`]),
/// its access tokens end with it (RFC 7009 §2.1 asks servers to revoke them
/// together).
fn not_refreshed(
    token: StoredToken,
    mut usage: TokenUse,
    e: OAuthError,
    now: i64,
) -> (Result<Found, Refused>, TokenUse) {
    let final_answer = e.server_error().is_some_and(oauth::ServerError::ends_grant);
    let mut refused = Refused::from(e);
    refused.message = format!(
        "the stored OAuth2 token for {} could not be refreshed: {}",
        token.account, refused.message
    );
    let still_valid = token
        .expires_at
        .filter(|&until| until > now && !final_answer);
    if let Some(until) = still_valid {
        usage.error = Some(format!(
            "{}; its access token, valid until {}, was used",
            refused.message,
            oauth::rfc3339(until)
        ));
        return (Ok(Found::Token(token.access_token)), usage);
    }
    usage.error = Some(refused.message.clone());
    (Err(refused), usage)
}

/// The report's record of a token (never the token).
fn token_use(t: &StoredToken, location: &Location, refreshed: bool) -> TokenUse {
    TokenUse {
        account: t.account.clone(),
        store: location.to_string(),
        issuer: t.issuer.clone(),
        client_id: t.client_id.clone(),
        scopes_requested: t.scopes_requested.clone(),
        scopes_granted: t.scopes_granted.clone(),
        obtained_at: oauth::rfc3339(t.obtained_at),
        expires_at: t.expires_at.map(oauth::rfc3339),
        refreshed,
        error: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::store::{Kind, Store, VERSION};
    use crate::proto::sasl::Secret;

    /// A stored token that expires in `secs`, whose token endpoint refuses
    /// connections (nothing listens on port 1).
    fn stored(dir: &std::path::Path, secs: i64) -> StoredLogin {
        let now = oauth::now();
        StoredLogin {
            store: Store::new(Kind::File, Some(dir.to_owned())).unwrap(),
            token: StoredToken {
                version: VERSION,
                account: "alice@example.com".into(),
                issuer: "http://127.0.0.1:1".into(),
                client_id: "cid".into(),
                client_secret: None,
                token_url: "http://127.0.0.1:1/token".into(),
                revocation_url: None,
                scopes_requested: vec!["mail".into()],
                scopes_granted: None,
                access_token: Secret::new("access-t0ken"),
                refresh_token: Some(Secret::new("refresh-t0ken")),
                obtained_at: now - 3600,
                expires_at: Some(now + secs),
            },
            location: Location::Keyring,
        }
    }

    async fn use_stored(s: &StoredLogin) -> (Result<Found, Refused>, TokenUse) {
        let resolver = Arc::new(Resolver::new(None, Duration::from_secs(2)).unwrap());
        let roots = rustls::RootCertStore::empty();
        stored_token(s, resolver, Families::Any, roots, Duration::from_secs(5)).await
    }

    /// The regression: a refresh tried 60 s early that failed threw away an
    /// access token still good for the logins.
    #[tokio::test]
    async fn a_failed_refresh_falls_back_to_the_still_valid_access_token() {
        let dir = tempfile::tempdir().unwrap();
        let (found, usage) = use_stored(&stored(dir.path(), 30)).await;
        let Ok(Found::Token(t)) = found else {
            panic!("no token: {:?}", found.err().map(|r| r.message))
        };
        assert_eq!(t.expose(), "access-t0ken");
        assert!(!usage.refreshed);
        let error = usage.error.unwrap();
        assert!(
            error.contains("could not be refreshed") && error.contains("was used"),
            "{error}"
        );
        assert!(!error.contains("t0ken"), "{error}");
    }

    /// The regression: the access token of a revoked grant was used (and
    /// refused) because its expiry had not come yet.
    #[test]
    fn a_refused_refresh_is_final_even_before_the_access_token_expires() {
        let dir = tempfile::tempdir().unwrap();
        let s = stored(dir.path(), 30);
        let usage = token_use(&s.token, &s.location, false);
        let refusal = OAuthError::Refused(oauth::ServerError {
            error: "invalid_grant".into(),
            description: Some("grant request is invalid".into()),
        });
        let (found, usage) = not_refreshed(s.token, usage, refusal, oauth::now());
        let Err(refused) = found else {
            panic!("the revoked grant's access token was used")
        };
        assert!(
            refused.message.contains("invalid_grant"),
            "{}",
            refused.message
        );
        assert!(refused.explanation.is_some());
        assert_eq!(usage.error.as_deref(), Some(refused.message.as_str()));
    }

    /// A server in trouble has not ended the grant: the access token, still
    /// valid, is used, and the report says why it was not refreshed.
    #[test]
    fn a_server_in_trouble_leaves_the_valid_access_token_in_use() {
        for error in ["temporarily_unavailable", "server_error"] {
            let dir = tempfile::tempdir().unwrap();
            let s = stored(dir.path(), 30);
            let usage = token_use(&s.token, &s.location, false);
            let trouble = OAuthError::Refused(oauth::ServerError {
                error: error.into(),
                description: None,
            });
            let (found, usage) = not_refreshed(s.token, usage, trouble, oauth::now());
            assert!(matches!(found, Ok(Found::Token(_))), "{error}");
            let said = usage.error.unwrap();
            assert!(said.contains(error) && said.contains("was used"), "{said}");
        }
    }

    #[tokio::test]
    async fn a_failed_refresh_of_an_expired_token_leaves_none() {
        let dir = tempfile::tempdir().unwrap();
        let (found, usage) = use_stored(&stored(dir.path(), -10)).await;
        let Err(refused) = found else {
            panic!("a token to use")
        };
        assert!(refused.message.contains("could not be refreshed"));
        assert_eq!(usage.error.as_deref(), Some(refused.message.as_str()));
    }
}
