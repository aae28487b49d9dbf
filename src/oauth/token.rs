//! The token endpoint (RFC 6749 §3.2): exchanging an authorization code
//! (§4.1.3, with the PKCE verifier of RFC 7636 §4.5), refreshing (§6), and
//! revoking at the revocation endpoint (RFC 7009). Answers are read by pure
//! functions, so hostile ones are tested without a server.

use serde_json::Value;
use url::Url;

use super::http::{Answer, Http};
use super::{Client, OAuthError, ServerError};
use crate::proto::sasl::Secret;

/// A successful token answer (RFC 6749 §5.1).
#[derive(Debug, Clone)]
pub struct Tokens {
    /// The access token: what XOAUTH2 and OAUTHBEARER send.
    pub access: Secret,
    /// The refresh token, when the server issued (or rotated) one.
    pub refresh: Option<Secret>,
    /// Seconds until the access token expires, when the server said.
    pub expires_in: Option<u64>,
    /// The scopes granted, when the server said (otherwise those asked for).
    pub scope: Option<Vec<String>>,
}

/// Reads a token endpoint's answer: tokens on 200, the OAuth2 error otherwise.
pub fn read_answer(url: &Url, answer: &Answer) -> Result<Tokens, OAuthError> {
    let malformed = |reason: String| OAuthError::Malformed {
        url: url.to_string(),
        reason,
    };
    if answer.status != 200 {
        return Err(server_error(&answer.json).map_or_else(
            || {
                malformed(format!(
                    "HTTP {} without an OAuth2 error in the body",
                    answer.status
                ))
            },
            OAuthError::Refused,
        ));
    }
    let text = |key: &str| answer.json.get(key).and_then(Value::as_str);
    let access = text("access_token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| malformed("the answer has no access_token".into()))?;
    // RFC 6749 §7.1: mailcheck can only use bearer tokens (RFC 6750).
    let kind = text("token_type").unwrap_or("");
    if !kind.eq_ignore_ascii_case("bearer") {
        return Err(malformed(format!(
            "token_type {kind:?}; only Bearer tokens (RFC 6750) can log in to mail servers"
        )));
    }
    let expires_in = match answer.json.get("expires_in") {
        Some(Value::Number(n)) => n.as_u64(),
        // Some servers send it as a string (Microsoft's v1 endpoints did).
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    Ok(Tokens {
        access: Secret::new(access),
        refresh: text("refresh_token")
            .filter(|t| !t.is_empty())
            .map(Secret::new),
        expires_in,
        scope: text("scope").map(|s| s.split_whitespace().map(str::to_owned).collect()),
    })
}

/// The OAuth2 error in a body (RFC 6749 §5.2), if there is one.
#[must_use]
pub fn server_error(json: &Value) -> Option<ServerError> {
    let text = |key: &str| {
        json.get(key)
            .and_then(Value::as_str)
            .map(|s| s.chars().take(1000).collect::<String>())
    };
    Some(ServerError {
        error: text("error").filter(|e| !e.is_empty())?,
        description: text("error_description"),
    })
}

/// Exchanges an authorization code for tokens (RFC 6749 §4.1.3, RFC 7636 §4.5).
pub async fn exchange_code(
    http: &Http,
    token_url: &Url,
    client: &Client,
    code: &Secret,
    verifier: &Secret,
    redirect_uri: &str,
) -> Result<Tokens, OAuthError> {
    let mut params = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code.expose().to_owned()),
        ("redirect_uri", redirect_uri.to_owned()),
        ("code_verifier", verifier.expose().to_owned()),
    ];
    params.extend(client.params());
    let answer = http.post_form(token_url, &params).await?;
    read_answer(token_url, &answer)
}

/// Uses a refresh token (RFC 6749 §6). The answer may rotate the refresh token
/// (RFC 9700 §4.14.2); the caller keeps the old one when it does not.
pub async fn refresh(
    http: &Http,
    token_url: &Url,
    client: &Client,
    refresh_token: &Secret,
) -> Result<Tokens, OAuthError> {
    let mut params = vec![
        ("grant_type", "refresh_token".to_owned()),
        ("refresh_token", refresh_token.expose().to_owned()),
    ];
    params.extend(client.params());
    let answer = http.post_form(token_url, &params).await?;
    read_answer(token_url, &answer)
}

/// Revokes a token (RFC 7009 §2.1); revoking a refresh token also ends the
/// access tokens issued with it where the server supports that (§2.1).
pub async fn revoke(
    http: &Http,
    url: &Url,
    client: &Client,
    token: &Secret,
    hint: &str,
) -> Result<(), OAuthError> {
    let mut params = vec![
        ("token", token.expose().to_owned()),
        ("token_type_hint", hint.to_owned()),
    ];
    params.extend(client.params());
    let answer = http.post_form(url, &params).await?;
    // §2.2: 200 also for a token the server did not know.
    if answer.status == 200 {
        return Ok(());
    }
    Err(server_error(&answer.json).map_or_else(
        || OAuthError::Malformed {
            url: url.to_string(),
            reason: format!("HTTP {} to the revocation request", answer.status),
        },
        OAuthError::Refused,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn url() -> Url {
        Url::parse("https://auth.example.com/token").unwrap()
    }

    fn answer(status: u16, json: Value) -> Answer {
        Answer { status, json }
    }

    #[test]
    fn a_token_answer_gives_the_tokens() {
        let a = answer(
            200,
            json!({"access_token": "at", "token_type": "bearer", "expires_in": "3599",
                   "refresh_token": "rt", "scope": "mail openid"}),
        );
        let t = read_answer(&url(), &a).unwrap();
        assert_eq!(t.access.expose(), "at");
        assert_eq!(t.refresh.unwrap().expose(), "rt");
        assert_eq!(t.expires_in, Some(3599));
        assert_eq!(t.scope.unwrap(), ["mail", "openid"]);
    }

    #[test]
    fn errors_and_hostile_answers_are_refused_with_a_reason() {
        let e = read_answer(
            &url(),
            &answer(
                400,
                json!({"error": "invalid_grant", "error_description": "revoked"}),
            ),
        )
        .unwrap_err();
        assert_eq!(e.server_error().unwrap().error, "invalid_grant");
        for (a, why) in [
            (answer(500, Value::Null), "HTTP 500"),
            (
                answer(200, json!({"token_type": "Bearer"})),
                "no access_token",
            ),
            (
                answer(200, json!({"access_token": "x", "token_type": "mac"})),
                "only Bearer",
            ),
            (
                answer(200, json!({"access_token": "", "token_type": "Bearer"})),
                "no access_token",
            ),
        ] {
            let e = read_answer(&url(), &a).unwrap_err().to_string();
            assert!(e.contains(why), "{e}");
        }
    }

    #[test]
    fn refused_answers_never_echo_the_tokens() {
        let a = answer(
            200,
            json!({"access_token": "sekrit-at", "token_type": "mac"}),
        );
        let e = read_answer(&url(), &a).unwrap_err();
        assert!(!format!("{e} {e:?}").contains("sekrit"));
    }
}
