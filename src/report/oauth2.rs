//! OAuth2 as data: what a provider publishes for signing in to its mail servers
//! (the provider table's and the ISPDB's `oAuth2` settings), and which stored token
//! a run used (never the token itself).

use serde::{Deserialize, Serialize};

/// How to obtain a token from a provider's authorization server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OAuth2Flow {
    /// The device authorization grant (RFC 8628): a code to type on any device's
    /// browser; works without a browser on this machine.
    Device,
    /// The authorization code grant with PKCE (RFC 7636) and a loopback redirect
    /// (RFC 8252 §7.3): a browser on this machine.
    Browser,
}

/// What a provider publishes for OAuth2 sign-in to its mail servers.
///
/// The ISPDB's `<oAuth2>` element carries the issuer, scopes and the
/// authorization and token URLs; the device endpoint, the revocation endpoint and
/// the flow come from the provider's own documentation (`sources`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Settings {
    /// The authorization server family a client ID is registered with
    /// (`microsoft`, `google`); the key of the client configuration file.
    pub id: String,
    /// The issuer (OpenID Connect), or for a multi-tenant server its authority.
    pub issuer: String,
    /// Every scope to ask for: mail access, and a refresh token.
    pub scopes: Vec<String>,
    /// Authorization endpoint (RFC 6749 §3.1); with `token_url` absent, both come
    /// from the issuer's OpenID Connect discovery document.
    pub authorization_url: Option<String>,
    /// Token endpoint (RFC 6749 §3.2).
    pub token_url: Option<String>,
    /// Device authorization endpoint (RFC 8628 §3.1), where the provider allows
    /// the device flow for mail scopes.
    pub device_url: Option<String>,
    /// Token revocation endpoint (RFC 7009), where there is one.
    pub revocation_url: Option<String>,
    /// The flow to use unless the user chooses.
    pub flow: OAuth2Flow,
    /// The host of the loopback redirect URI: `127.0.0.1` (RFC 8252 §7.3) unless
    /// the provider only accepts `localhost`.
    #[serde(default = "default_redirect_host")]
    pub redirect_host: String,
    /// Whether the token endpoint wants the client secret of the registration
    /// (Google's "desktop app" clients), although it is not confidential.
    #[serde(default)]
    pub client_secret: bool,
    /// The provider's pages these settings come from.
    pub sources: Vec<String>,
}

/// The loopback redirect URI's host unless a provider wants another (RFC 8252 §7.3).
pub const LOOPBACK_REDIRECT_HOST: &str = "127.0.0.1";

fn default_redirect_host() -> String {
    LOOPBACK_REDIRECT_HOST.to_owned()
}

/// Scopes every OpenID Connect server knows that do not grant mail access.
pub const NON_MAIL_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];

impl OAuth2Settings {
    /// The scopes that grant mail access (all but the OpenID Connect ones).
    #[must_use]
    pub fn mail_scopes(&self) -> Vec<&str> {
        mail_scopes(&self.scopes)
    }
}

/// The scopes among `scopes` that grant mail access.
#[must_use]
pub fn mail_scopes(scopes: &[String]) -> Vec<&str> {
    scopes
        .iter()
        .map(String::as_str)
        .filter(|s| !NON_MAIL_SCOPES.contains(s))
        .collect()
}

/// Which stored OAuth2 token a run used, and what happened to it (never the
/// token, the refresh token or the client secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenUse {
    /// The address the token was stored for.
    pub account: String,
    /// Where it was stored: "keyring" or "file PATH".
    pub store: String,
    /// The authorization server that issued it.
    pub issuer: String,
    /// The client ID it was issued to.
    pub client_id: String,
    /// The scopes asked for at sign-in.
    pub scopes_requested: Vec<String>,
    /// The scopes the server granted, when it said (RFC 6749 §5.1).
    pub scopes_granted: Option<Vec<String>>,
    /// When the user signed in (RFC 3339).
    pub obtained_at: String,
    /// When the access token expires (RFC 3339), when the server said.
    pub expires_at: Option<String>,
    /// Whether the access token was refreshed for this run (it had expired or was
    /// about to).
    pub refreshed: bool,
    /// What went wrong with it, in words: why no usable access token could be
    /// had (the refresh failed), or a failed refresh when the still valid
    /// access token was used all the same, or a refreshed token not saved.
    pub error: Option<String>,
}
