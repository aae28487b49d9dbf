//! Which endpoints to use: the provider table's, an issuer's published metadata
//! (OpenID Connect Discovery 1.0 §4, else RFC 8414 §3), and the user's own URLs,
//! each layer overriding the one before.

use serde_json::Value;
use url::Url;

use super::http::Http;
use super::{Endpoints, OAuthError, check_endpoint};
use crate::report::OAuth2Settings;

/// Endpoints the user named (`--issuer`, `--token-url`, …).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// An issuer whose discovery document gives the endpoints.
    pub issuer: Option<String>,
    /// Authorization endpoint.
    pub authorization: Option<String>,
    /// Token endpoint.
    pub token: Option<String>,
    /// Device authorization endpoint.
    pub device: Option<String>,
    /// Revocation endpoint.
    pub revocation: Option<String>,
}

/// What the issuer publishes (the fields mailcheck uses).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    /// `issuer`, which must equal the URL it was fetched for (none when only
    /// endpoint URLs are known).
    pub issuer: Option<String>,
    /// `authorization_endpoint`.
    pub authorization: Option<String>,
    /// `token_endpoint`.
    pub token: Option<String>,
    /// `device_authorization_endpoint` (RFC 8628 §4).
    pub device: Option<String>,
    /// `revocation_endpoint` (RFC 8414 §2).
    pub revocation: Option<String>,
    /// `authorization_response_iss_parameter_supported` (RFC 9207 §3): the
    /// server puts `iss` in every authorization response.
    pub sends_iss: bool,
}

/// The endpoints: the provider table's, then the issuer's discovery document
/// (when the user named an issuer, or the table gives no token URL), then the
/// user's own URLs. The issuer is confirmed only when its document was fetched;
/// with only `--token-url` and friends there is none.
pub async fn endpoints(
    http: &Http,
    settings: Option<&OAuth2Settings>,
    overrides: &Overrides,
) -> Result<Endpoints, OAuthError> {
    let mut found = Metadata::default();
    if let Some(s) = settings {
        found = Metadata {
            issuer: Some(s.issuer.clone()),
            authorization: s.authorization_url.clone(),
            token: s.token_url.clone(),
            device: s.device_url.clone(),
            revocation: s.revocation_url.clone(),
            sends_iss: false,
        };
    }
    let issuer = overrides
        .issuer
        .clone()
        .or_else(|| settings.map(|s| s.issuer.clone()));
    let must_discover = overrides.issuer.is_some() || found.token.is_none();
    let mut confirmed = false;
    if let (true, Some(issuer)) = (must_discover, issuer.as_deref()) {
        found = discover(http, issuer).await?;
        confirmed = true;
    }
    let pick = |user: &Option<String>, known: Option<String>| user.clone().or(known);
    let merged = Metadata {
        issuer: found.issuer,
        authorization: pick(&overrides.authorization, found.authorization),
        token: pick(&overrides.token, found.token),
        device: pick(&overrides.device, found.device),
        revocation: pick(&overrides.revocation, found.revocation),
        sends_iss: found.sends_iss,
    };
    checked(merged, confirmed)
}

/// Every URL checked; a token endpoint is required.
fn checked(m: Metadata, issuer_confirmed: bool) -> Result<Endpoints, OAuthError> {
    let check = |what: &str, url: Option<String>| -> Result<Option<Url>, OAuthError> {
        url.map(|u| check_endpoint(what, &u)).transpose()
    };
    let token = check("token endpoint", m.token)?.ok_or_else(|| {
        OAuthError::Setup(
            "no token endpoint: the provider table has no OAuth2 settings for this address; \
             give --issuer URL (OpenID Connect discovery) or --token-url and --authorization-url \
             or --device-url"
                .into(),
        )
    })?;
    Ok(Endpoints {
        issuer_confirmed: issuer_confirmed && m.issuer.is_some(),
        sends_iss: issuer_confirmed && m.sends_iss,
        issuer: m.issuer,
        authorization: check("authorization endpoint", m.authorization)?,
        token,
        device: check("device authorization endpoint", m.device)?,
        revocation: check("revocation endpoint", m.revocation)?,
    })
}

/// Fetches the issuer's metadata: OpenID Connect's
/// `{issuer}/.well-known/openid-configuration` first, RFC 8414's
/// `/.well-known/oauth-authorization-server{path}` when that is not found.
pub async fn discover(http: &Http, issuer: &str) -> Result<Metadata, OAuthError> {
    let base = check_endpoint("issuer", issuer)?;
    let trimmed = issuer.trim_end_matches('/');
    let oidc = check_endpoint(
        "discovery document",
        &format!("{trimmed}/.well-known/openid-configuration"),
    )?;
    let answer = http.get_json(&oidc).await?;
    let (url, answer) = if answer.status == 404 {
        let path = base.path().trim_end_matches('/');
        let mut rfc8414 = base.clone();
        rfc8414.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
        let a = http.get_json(&rfc8414).await?;
        (rfc8414, a)
    } else {
        (oidc, answer)
    };
    if answer.status != 200 {
        return Err(OAuthError::Malformed {
            url: url.to_string(),
            reason: format!("HTTP {} instead of the issuer's metadata", answer.status),
        });
    }
    parse(&answer.json, issuer).map_err(|reason| OAuthError::Malformed {
        url: url.to_string(),
        reason,
    })
}

/// Reads a metadata document, which must name `issuer` as its issuer (OpenID
/// Connect Discovery §4.3, RFC 8414 §3.3: otherwise it could send the tokens to
/// an impostor).
fn parse(json: &Value, issuer: &str) -> Result<Metadata, String> {
    let text = |key: &str| json.get(key).and_then(Value::as_str).map(str::to_owned);
    let Some(said) = text("issuer") else {
        return Err("not an authorization server's metadata (no \"issuer\")".into());
    };
    if said.trim_end_matches('/') != issuer.trim_end_matches('/') {
        return Err(format!(
            "the document names the issuer {said:?}, not {issuer:?}; refusing it"
        ));
    }
    Ok(Metadata {
        issuer: Some(said),
        authorization: text("authorization_endpoint"),
        token: text("token_endpoint"),
        device: text("device_authorization_endpoint"),
        revocation: text("revocation_endpoint"),
        sends_iss: json
            .get("authorization_response_iss_parameter_supported")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_must_name_the_issuer_it_was_fetched_for() {
        let doc = serde_json::json!({
            "issuer": "https://auth.example.com",
            "authorization_endpoint": "https://auth.example.com/auth",
            "token_endpoint": "https://auth.example.com/token",
            "device_authorization_endpoint": "https://auth.example.com/device/auth",
        });
        let m = parse(&doc, "https://auth.example.com/").unwrap();
        assert_eq!(m.token.as_deref(), Some("https://auth.example.com/token"));
        assert_eq!(
            m.device.as_deref(),
            Some("https://auth.example.com/device/auth")
        );
        let e = parse(&doc, "https://other.example.com").unwrap_err();
        assert!(e.contains("refusing"), "{e}");
        assert!(parse(&serde_json::json!({"a": 1}), "https://x.example").is_err());
    }

    #[test]
    fn user_urls_override_and_are_checked() {
        let m = Metadata {
            issuer: Some("https://auth.example.com".into()),
            token: Some("http://auth.example.com/token".into()),
            ..Metadata::default()
        };
        let e = checked(m, true).unwrap_err().to_string();
        assert!(e.contains("plain HTTP"), "{e}");
        let e = checked(Metadata::default(), false).unwrap_err().to_string();
        assert!(e.contains("--issuer"), "{e}");
    }

    fn http() -> Http {
        let resolver = std::sync::Arc::new(
            crate::net::resolve::Resolver::new(None, std::time::Duration::from_secs(1)).unwrap(),
        );
        Http::new(
            resolver,
            crate::net::resolve::Families::Any,
            rustls::RootCertStore::empty(),
            std::time::Duration::from_secs(1),
        )
        .unwrap()
    }

    /// The regression: `--token-url` without `--issuer` left an empty issuer
    /// that the browser flow held the redirect's `iss` to, and that messages named.
    #[tokio::test]
    async fn without_an_issuer_none_is_invented_or_confirmed() {
        let overrides = Overrides {
            token: Some("https://auth.example.com:8443/token".into()),
            authorization: Some("https://auth.example.com:8443/auth".into()),
            ..Overrides::default()
        };
        let e = endpoints(&http(), None, &overrides).await.unwrap();
        assert_eq!(e.issuer, None);
        assert!(!e.issuer_confirmed);
        assert_eq!(e.server(), "https://auth.example.com:8443");
    }

    /// The provider table's issuer (an authority, for Microsoft's tenants) is
    /// kept for the record, but only a fetched document confirms one.
    #[tokio::test]
    async fn the_table_s_issuer_is_kept_but_not_confirmed() {
        let settings: OAuth2Settings = serde_json::from_value(serde_json::json!({
            "id": "microsoft",
            "issuer": "https://login.example.com/common/v2.0",
            "scopes": ["mail"],
            "authorization_url": "https://login.example.com/common/oauth2/v2.0/authorize",
            "token_url": "https://login.example.com/common/oauth2/v2.0/token",
            "device_url": null,
            "revocation_url": null,
            "flow": "browser",
            "sources": ["https://learn.microsoft.com/"],
        }))
        .unwrap();
        let e = endpoints(&http(), Some(&settings), &Overrides::default())
            .await
            .unwrap();
        assert_eq!(
            e.issuer.as_deref(),
            Some("https://login.example.com/common/v2.0")
        );
        assert!(!e.issuer_confirmed);
    }
}
