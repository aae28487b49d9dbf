//! Autodiscover v2, the JSON service: `GET …/autodiscover/autodiscover.json/
//! v1.0/<address>?Protocol=<name>` answers `{"Protocol": …, "Url": …}` with one
//! URL for the protocol asked, or `{"ErrorCode": …, "ErrorMessage": …}`.
//!
//! For mail clients the protocol that matters is `AutodiscoverV1`: the URL of
//! the POX service ([`super::pox`]) that describes the mailbox's IMAP, POP3 and
//! SMTP servers; Outlook asks it first. Exchange Online answers it for every
//! Microsoft 365 domain with `https://autodiscover-s.outlook.com/…`, which is
//! how a custom domain on Microsoft 365 is recognised without a password.

use serde::Deserialize;
use thiserror::Error;

/// The protocol asked for: the POX service's URL.
pub const PROTOCOL: &str = "AutodiscoverV1";

/// What the JSON service said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The POX service for this address (an https URL).
    Url(String),
    /// `ErrorCode` and `ErrorMessage`.
    Error(String),
}

/// Why an answer is unusable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// Not a JSON object of the expected shape.
    #[error("not an Autodiscover JSON answer: {0}")]
    Json(String),
    /// Neither `Url` nor `ErrorCode`.
    #[error("the answer has neither Url nor ErrorCode")]
    Empty,
    /// A `Protocol` other than the one asked for.
    #[error("the answer is for protocol {0:?}, not {PROTOCOL}")]
    OtherProtocol(String),
    /// A `Url` that is not an https URL with a host.
    #[error("Url {0:?} is not an https URL")]
    BadUrl(String),
}

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "Protocol")]
    protocol: Option<String>,
    #[serde(rename = "Url")]
    url: Option<String>,
    #[serde(rename = "ErrorCode")]
    error_code: Option<String>,
    #[serde(rename = "ErrorMessage")]
    error_message: Option<String>,
}

/// The service's URL for `address` under `base` (`https://autodiscover.example.com`).
#[must_use]
pub fn url(base: &str, address: &str) -> String {
    // Escaped as a form value, but with `@` as Microsoft writes it: RFC 3986
    // allows it in a path segment.
    let address = url::form_urlencoded::byte_serialize(address.as_bytes())
        .collect::<String>()
        .replace("%40", "@");
    format!(
        "{}/autodiscover/autodiscover.json/v1.0/{address}?Protocol={PROTOCOL}",
        base.trim_end_matches('/')
    )
}

/// Reads an answer. Only an https `Url` is accepted: the POX service it names
/// is asked for settings next, and a downgrade to plain HTTP there would let
/// anyone on the path forge them.
pub fn parse(body: &[u8]) -> Result<Answer, ParseError> {
    let raw: Raw = serde_json::from_slice(body).map_err(|e| ParseError::Json(e.to_string()))?;
    if let Some(code) = raw.error_code {
        let message = raw.error_message.unwrap_or_default();
        return Ok(Answer::Error(format!("{code}: {message}")));
    }
    if let Some(p) = raw.protocol.filter(|p| !p.eq_ignore_ascii_case(PROTOCOL)) {
        return Err(ParseError::OtherProtocol(p));
    }
    let url = raw.url.ok_or(ParseError::Empty)?;
    if !super::super::fetch::is_https(&url) {
        return Err(ParseError::BadUrl(url));
    }
    Ok(Answer::Url(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_carries_the_address_and_the_protocol() {
        assert_eq!(
            url("https://autodiscover.example.com/", "alice+x@example.com"),
            "https://autodiscover.example.com/autodiscover/autodiscover.json/v1.0/alice%2Bx@example.com?Protocol=AutodiscoverV1"
        );
        assert_eq!(
            url("https://a.example", "a/b?c%d#e@example.com"),
            "https://a.example/autodiscover/autodiscover.json/v1.0/a%2Fb%3Fc%25d%23e@example.com?Protocol=AutodiscoverV1"
        );
    }

    #[test]
    fn answers_errors_and_garbage() {
        let ok = br#"{"Protocol":"AutodiscoverV1","Url":"https://autodiscover-s.outlook.com/autodiscover/autodiscover.xml"}"#;
        assert_eq!(
            parse(ok).unwrap(),
            Answer::Url("https://autodiscover-s.outlook.com/autodiscover/autodiscover.xml".into())
        );
        let err = br#"{"ErrorCode":"InvalidProtocol","ErrorMessage":"The given protocol value 'x' is invalid."}"#;
        assert!(
            matches!(parse(err).unwrap(), Answer::Error(e) if e.starts_with("InvalidProtocol: "))
        );
        assert!(matches!(parse(b"{\"Protocol\":"), Err(ParseError::Json(_))));
        assert!(matches!(parse(b"<html>"), Err(ParseError::Json(_))));
        assert_eq!(parse(b"{}"), Err(ParseError::Empty));
        assert_eq!(
            parse(br#"{"Protocol":"ActiveSync","Url":"https://x.example/"}"#),
            Err(ParseError::OtherProtocol("ActiveSync".into()))
        );
        for bad in [
            "http://x.example/autodiscover.xml",
            "javascript:alert(1)",
            "//x.example/a.xml",
        ] {
            let body = format!(r#"{{"Protocol":"AutodiscoverV1","Url":"{bad}"}}"#);
            assert!(
                matches!(parse(body.as_bytes()), Err(ParseError::BadUrl(_))),
                "{bad}"
            );
        }
    }
}
