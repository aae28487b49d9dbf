//! The device authorization grant (RFC 8628): ask for a code (§3.1), show the
//! person the code and the page to type it on (§3.3), then poll the token
//! endpoint at the interval the server gives (§3.4) until it answers with tokens
//! or a final error (§3.5). What each poll answer means is the pure [`next`].

use std::time::Duration;

use serde_json::Value;
use url::Url;

use super::http::Http;
use super::token::{self, Tokens};
use super::{Client, OAuthError};
use crate::proto::sasl::Secret;

/// The grant type of the polling requests (RFC 8628 §3.4).
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The polling interval when the server names none (RFC 8628 §3.2).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// How much longer to wait after `slow_down` (RFC 8628 §3.5).
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// Bounds on what a server may ask for: the polling interval, and the life of
/// the code (mailcheck never waits longer than the caller's own limit either).
const MAX_INTERVAL: Duration = Duration::from_mins(1);

/// What the device authorization endpoint answered (RFC 8628 §3.2).
#[derive(Debug, Clone)]
pub struct DeviceCode {
    /// The code mailcheck polls with (not for the person's eyes).
    pub device_code: Secret,
    /// The code the person types.
    pub user_code: String,
    /// Where to type it.
    pub verification_uri: String,
    /// The page with the code filled in, when the server gives one.
    pub verification_uri_complete: Option<String>,
    /// How long the codes are valid.
    pub expires_in: Duration,
    /// How often to poll.
    pub interval: Duration,
}

/// Asks for a device code for `scopes`.
pub async fn start(
    http: &Http,
    url: &Url,
    client: &Client,
    scopes: &[String],
) -> Result<DeviceCode, OAuthError> {
    let mut params = vec![("scope", scopes.join(" "))];
    params.extend(client.params());
    let answer = http.post_form(url, &params).await?;
    if answer.status != 200 {
        return Err(token::server_error(&answer.json).map_or_else(
            || OAuthError::Malformed {
                url: url.to_string(),
                reason: format!("HTTP {} to the device authorization request", answer.status),
            },
            OAuthError::Refused,
        ));
    }
    read(&answer.json).map_err(|reason| OAuthError::Malformed {
        url: url.to_string(),
        reason,
    })
}

/// Reads the device authorization answer (Microsoft's older endpoints say
/// `verification_url`).
fn read(json: &Value) -> Result<DeviceCode, String> {
    let text = |key: &str| json.get(key).and_then(Value::as_str).map(str::to_owned);
    let secs = |key: &str| {
        json.get(key).and_then(|v| match v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        })
    };
    let need = |key: &str| text(key).ok_or(format!("the answer has no {key}"));
    let uri = text("verification_uri")
        .or_else(|| text("verification_url"))
        .ok_or("the answer has no verification_uri")?;
    if !uri.starts_with("https://") && !uri.starts_with("http://") {
        return Err(format!("verification_uri {uri:?} is not a web page"));
    }
    let user_code = need("user_code")?;
    if user_code.len() > 64 || user_code.chars().any(char::is_control) {
        return Err("the user_code is not something a person can type".into());
    }
    Ok(DeviceCode {
        device_code: Secret::new(need("device_code")?),
        user_code,
        verification_uri: uri,
        verification_uri_complete: text("verification_uri_complete"),
        expires_in: Duration::from_secs(secs("expires_in").ok_or("the answer has no expires_in")?),
        interval: secs("interval")
            .map_or(DEFAULT_INTERVAL, Duration::from_secs)
            .clamp(Duration::from_secs(1), MAX_INTERVAL),
    })
}

/// What to do after one poll.
#[derive(Debug)]
pub enum Next {
    /// Signed in.
    Done(Tokens),
    /// Not yet: poll again after this long.
    Wait(Duration),
    /// A final answer: give up with this error.
    Fail(OAuthError),
}

/// What a poll's answer means (RFC 8628 §3.5): `authorization_pending` → wait
/// the same interval; `slow_down` → wait 5 s longer from now on;
/// `access_denied`, `expired_token` and any other error are final. A failed
/// request (network) is retried at the same interval: the code is still valid.
pub fn next(answer: Result<Tokens, OAuthError>, interval: &mut Duration) -> Next {
    match answer {
        Ok(tokens) => Next::Done(tokens),
        Err(OAuthError::Refused(e)) if e.error == "authorization_pending" => Next::Wait(*interval),
        Err(OAuthError::Refused(e)) if e.error == "slow_down" => {
            *interval = (*interval + SLOW_DOWN_STEP).min(MAX_INTERVAL);
            Next::Wait(*interval)
        }
        Err(OAuthError::Http { .. }) => Next::Wait(*interval),
        Err(e) => Next::Fail(e),
    }
}

/// Polls until the person has approved (or denied) the request, the code
/// expired, or `limit` passed.
pub async fn poll(
    http: &Http,
    token_url: &Url,
    client: &Client,
    code: &DeviceCode,
    limit: Duration,
) -> Result<Tokens, OAuthError> {
    let mut params = vec![
        ("grant_type", GRANT_TYPE.to_owned()),
        ("device_code", code.device_code.expose().to_owned()),
    ];
    params.extend(client.params());
    let mut interval = code.interval;
    let give_up = tokio::time::Instant::now() + limit.min(code.expires_in);
    loop {
        let wait = tokio::time::Instant::now() + interval;
        if wait > give_up {
            return Err(gave_up(limit, code.expires_in));
        }
        tokio::time::sleep_until(wait).await;
        let answer = match http.post_form(token_url, &params).await {
            Ok(a) => token::read_answer(token_url, &a),
            Err(e) => Err(e),
        };
        match next(answer, &mut interval) {
            Next::Done(tokens) => return Ok(tokens),
            Next::Wait(_) => {}
            Next::Fail(e) => return Err(e),
        }
    }
}

/// Why polling stopped: the caller's limit, or the code's life when that
/// was not longer (then a longer `--wait` would not have helped).
fn gave_up(limit: Duration, expires_in: Duration) -> OAuthError {
    if expires_in <= limit {
        OAuthError::CodeExpired(expires_in.as_secs())
    } else {
        OAuthError::TimedOut(limit.as_secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::ServerError;
    use serde_json::json;

    fn refused(error: &str) -> Result<Tokens, OAuthError> {
        Err(OAuthError::Refused(ServerError {
            error: error.into(),
            description: None,
        }))
    }

    #[test]
    fn polling_follows_rfc_8628_section_3_5() {
        let mut interval = Duration::from_secs(5);
        assert!(
            matches!(next(refused("authorization_pending"), &mut interval), Next::Wait(d) if d.as_secs() == 5)
        );
        assert!(
            matches!(next(refused("slow_down"), &mut interval), Next::Wait(d) if d.as_secs() == 10)
        );
        assert_eq!(interval.as_secs(), 10, "slow_down lasts");
        assert!(
            matches!(next(refused("authorization_pending"), &mut interval), Next::Wait(d) if d.as_secs() == 10)
        );
        for last in ["access_denied", "expired_token", "invalid_client"] {
            assert!(
                matches!(next(refused(last), &mut interval), Next::Fail(_)),
                "{last}"
            );
        }
        let network = Err(OAuthError::Http {
            url: "u".into(),
            message: "reset".into(),
        });
        assert!(matches!(next(network, &mut interval), Next::Wait(_)));
        for _ in 0..20 {
            let _ = next(refused("slow_down"), &mut interval);
        }
        assert_eq!(interval, MAX_INTERVAL, "bounded");
    }

    #[test]
    fn giving_up_says_what_to_do() {
        let e = gave_up(Duration::from_secs(90), Duration::from_mins(15)).to_string();
        assert!(
            e.contains("within 90 s") && e.contains("mailcheck login") && e.contains("--wait"),
            "{e}"
        );
        for limit in [Duration::from_mins(30), Duration::from_mins(15)] {
            let e = gave_up(limit, Duration::from_mins(15)).to_string();
            assert!(
                e.contains("expired after 900 s")
                    && e.contains("mailcheck login")
                    && !e.contains("--wait"),
                "{e}"
            );
        }
    }

    #[test]
    fn device_answers_are_read_and_checked() {
        let a = json!({"device_code": "dc", "user_code": "ABCD-EFGH",
            "verification_url": "https://microsoft.com/devicelogin", "expires_in": "900",
            "message": "To sign in, use a web browser to open the page …"});
        let d = read(&a).unwrap();
        assert_eq!(d.verification_uri, "https://microsoft.com/devicelogin");
        assert_eq!(d.interval, DEFAULT_INTERVAL);
        assert_eq!(d.expires_in.as_secs(), 900);
        assert!(!format!("{d:?}").contains("\"dc\""));
        let too_fast = json!({"device_code": "d", "user_code": "u",
            "verification_uri": "https://x.example/device", "expires_in": 60, "interval": 0});
        assert_eq!(read(&too_fast).unwrap().interval, Duration::from_secs(1));
        for bad in [
            json!({"user_code": "u", "verification_uri": "https://x", "expires_in": 1}),
            json!({"device_code": "d", "user_code": "u\u{1b}[2J", "verification_uri": "https://x", "expires_in": 1}),
            json!({"device_code": "d", "user_code": "u", "verification_uri": "javascript:x", "expires_in": 1}),
            json!({"device_code": "d", "user_code": "u", "verification_uri": "https://x"}),
        ] {
            assert!(read(&bad).is_err(), "{bad}");
        }
    }
}
