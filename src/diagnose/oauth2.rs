//! Why an OAuth2 sign-in or a token was refused, in words a person can act on:
//! the authorization server's error answers (RFC 6749 §5.2, RFC 8628 §3.5, with
//! Microsoft's `AADSTS` codes and Google's phrases), and a mail server's refusal
//! of a stored token whose scopes or expiry mailcheck knows.
//!
//! The catalogue is data, `data/oauth2-errors.toml`, embedded at build time and
//! validated by the tests below. Pure: no I/O.

use std::sync::LazyLock;

use serde::Deserialize;

use super::refusals::quote;
use crate::report::{Explanation, TokenUse, mail_scopes};

const CATALOGUE_TOML: &str = include_str!("../../data/oauth2-errors.toml");

/// The code of the explanation when no rule matches.
pub const FALLBACK_CODE: &str = "oauth2_refused";

/// One rule for an authorization server's error answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorRule {
    /// Stable identifier.
    pub code: String,
    /// OAuth2 error codes it applies to (any; empty: any error).
    #[serde(default)]
    pub errors: Vec<String>,
    /// Codes in the description, as whole words (any; Microsoft's `AADSTS…`).
    #[serde(default)]
    pub codes: Vec<String>,
    /// Substrings of the description, case-insensitive (any).
    #[serde(default)]
    pub contains: Vec<String>,
    /// Why, in one sentence.
    pub cause: String,
    /// What to do.
    pub fix: String,
    /// Where the meaning comes from.
    pub sources: Vec<String>,
    /// Answers as servers send them.
    pub examples: Vec<Example>,
}

/// An example error answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    /// `error`.
    pub error: String,
    /// `error_description`.
    pub description: String,
}

/// What a fact about a stored token means.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactRule {
    /// Stable identifier.
    pub code: String,
    /// Why, with `{missing}`, `{granted}`, `{expires}` filled in.
    pub cause: String,
    /// What to do.
    pub fix: String,
    /// Where the meaning comes from.
    pub sources: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Catalogue {
    checked: String,
    error: Vec<ErrorRule>,
    fact: Vec<FactRule>,
}

static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(|| {
    toml::from_str(CATALOGUE_TOML).expect(
        "data/oauth2-errors.toml does not parse; `cargo test diagnose::oauth2` names the problem",
    )
});

/// Every error rule, in the order they are tried.
#[must_use]
pub fn error_rules() -> &'static [ErrorRule] {
    &CATALOGUE.error
}

/// When the catalogue's texts were checked (YYYY-MM-DD).
#[must_use]
pub fn checked_date() -> &'static str {
    &CATALOGUE.checked
}

/// Every fact rule.
#[must_use]
pub fn fact_rules() -> &'static [FactRule] {
    &CATALOGUE.fact
}

impl ErrorRule {
    fn matches(&self, error: &str, description: &str) -> bool {
        let lower = description.to_lowercase();
        let words: Vec<&str> = description
            .split(|c: char| !c.is_ascii_alphanumeric())
            .collect();
        (self.errors.is_empty() || self.errors.iter().any(|e| e == error))
            && (self.codes.is_empty() || self.codes.iter().any(|c| words.contains(&c.as_str())))
            && (self.contains.is_empty()
                || self
                    .contains
                    .iter()
                    .any(|s| lower.contains(&s.to_lowercase())))
    }
}

/// Explains an authorization server's error answer.
#[must_use]
pub fn explain_error(error: &str, description: Option<&str>) -> Explanation {
    let description = description.unwrap_or("");
    if let Some(r) = error_rules().iter().find(|r| r.matches(error, description)) {
        return Explanation {
            code: r.code.clone(),
            cause: r.cause.clone(),
            fix: r.fix.clone(),
            provider_specific: r.code.starts_with("microsoft_") || r.code.starts_with("google_"),
            alert: None,
        };
    }
    let said = quote(description);
    let cause = if said.is_empty() {
        format!(
            "The authorization server refused with the error {}.",
            quote(error)
        )
    } else {
        format!(
            "The authorization server refused with the error {}: \"{said}\".",
            quote(error)
        )
    };
    Explanation {
        code: FALLBACK_CODE.to_owned(),
        cause,
        fix: "Run mailcheck login again; if it fails the same way, check the client registration (docs/login.md).".to_owned(),
        provider_specific: false,
        alert: None,
    }
}

/// When a mail server refused a stored token: the scopes it lacks, if mailcheck
/// can tell. `challenge_scope` is the scope the server's SASL error names (RFC
/// 7628 §3.2.2); the token's own mail scopes (those asked for at sign-in) count
/// too. `None` when the server granted what was asked, or did not say.
#[must_use]
pub fn scope_missing(challenge_scope: Option<&str>, token: &TokenUse) -> Option<Explanation> {
    let granted = token.scopes_granted.as_ref()?;
    let wanted = mail_scopes(&token.scopes_requested)
        .into_iter()
        .chain(challenge_scope.into_iter().flat_map(str::split_whitespace));
    let mut missing: Vec<&str> = Vec::new();
    for scope in wanted {
        if !granted.iter().any(|g| g == scope) && !missing.contains(&scope) {
            missing.push(scope);
        }
    }
    if missing.is_empty() {
        return None;
    }
    let granted = if granted.is_empty() {
        "no scope at all".to_owned()
    } else {
        granted.join(" ")
    };
    Some(fact(
        "oauth2_scope_missing",
        &[("{missing}", &missing.join(" ")), ("{granted}", &granted)],
    ))
}

/// A stored access token that expired with no refresh token to renew it.
#[must_use]
pub fn token_expired(token: &TokenUse) -> Explanation {
    let when = token.expires_at.as_deref().unwrap_or("an unknown time");
    fact("oauth2_token_expired", &[("{expires}", when)])
}

fn fact(code: &str, fill: &[(&str, &str)]) -> Explanation {
    let rule = fact_rules()
        .iter()
        .find(|r| r.code == code)
        .expect("the fact rules are validated by the tests");
    let cause = fill
        .iter()
        .fold(rule.cause.clone(), |c, (k, v)| c.replace(k, &quote(v)));
    Explanation {
        code: rule.code.clone(),
        cause,
        fix: rule.fix.clone(),
        provider_specific: false,
        alert: None,
    }
}

/// How the report's note about a stored token that could not be read begins.
pub const TOKEN_UNREADABLE: &str = "The OAuth2 token stored for ";

/// The run's note when the token stored for `account` could not be read and
/// none was required: the probe goes on without a login test.
#[must_use]
pub fn token_unreadable(account: &str, why: &str) -> String {
    format!(
        "{TOKEN_UNREADABLE}{account} could not be read, so no login was tested: {}",
        why.trim_end_matches('.')
    )
}

/// Which stored token the logins were given, in words (never the token): the
/// evidence of the login findings, whether or not a login sent it.
#[must_use]
pub fn token_note(t: &TokenUse) -> String {
    let state = match (&t.error, t.refreshed, &t.expires_at) {
        (Some(e), _, _) => format!("; {e}"),
        (None, true, Some(until)) => format!("; refreshed for this run, valid until {until}"),
        (None, true, None) => "; refreshed for this run".to_owned(),
        (None, false, Some(until)) => format!("; valid until {until}"),
        (None, false, None) => String::new(),
    };
    format!(
        "The OAuth2 token for the login test: the one stored for {} in the {} (signed in at {} with {} as client {}){state}.",
        t.account, t.store, t.obtained_at, t.issuer, t.client_id
    )
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn words_ok(code: &str, cause: &str, fix: &str, sources: &[String]) -> Vec<String> {
        let mut p = Vec::new();
        if !code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            p.push(format!("{code}: code must be lower snake case"));
        }
        for (name, text) in [("cause", cause), ("fix", fix)] {
            if text.trim().is_empty() || !text.ends_with('.') {
                p.push(format!(
                    "{code}: {name} must be a sentence ending with a full stop"
                ));
            }
        }
        if cause.trim_end_matches('.').contains(". ") {
            p.push(format!("{code}: cause is more than one sentence"));
        }
        if sources.is_empty()
            || sources
                .iter()
                .any(|s| !(s.starts_with("https://") || s.starts_with("RFC ")))
        {
            p.push(format!(
                "{code}: sources must be https URLs or RFC sections"
            ));
        }
        p
    }

    #[test]
    fn the_catalogue_is_valid() {
        let mut problems = Vec::new();
        let mut codes = HashSet::new();
        for r in error_rules() {
            problems.extend(words_ok(&r.code, &r.cause, &r.fix, &r.sources));
            if r.errors.is_empty() && r.codes.is_empty() && r.contains.is_empty() {
                problems.push(format!("{}: no condition", r.code));
            }
            if r.examples.is_empty() {
                problems.push(format!("{}: no example", r.code));
            }
            if !codes.insert(r.code.as_str()) {
                problems.push(format!("{}: code used twice", r.code));
            }
        }
        for r in fact_rules() {
            problems.extend(words_ok(&r.code, &r.cause, &r.fix, &r.sources));
            if !codes.insert(r.code.as_str()) {
                problems.push(format!("{}: code used twice", r.code));
            }
        }
        assert!(codes.contains("oauth2_scope_missing") && codes.contains("oauth2_token_expired"));
        assert!(!codes.contains(FALLBACK_CODE));
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(checked_date().len(), 10);
    }

    #[test]
    fn docs_list_every_code() {
        let docs = include_str!("../../docs/auth-messages.md");
        let codes = error_rules()
            .iter()
            .map(|r| &r.code)
            .chain(fact_rules().iter().map(|r| &r.code));
        for code in codes {
            assert!(
                docs.contains(&format!("`{code}`")),
                "{code} missing from docs/auth-messages.md"
            );
        }
        assert!(docs.contains(&format!("`{FALLBACK_CODE}`")));
    }

    #[test]
    fn every_example_is_explained_by_its_own_rule() {
        for r in error_rules() {
            for e in &r.examples {
                let got = explain_error(&e.error, Some(&e.description));
                assert_eq!(got.code, r.code, "{e:?}");
            }
        }
    }

    #[test]
    fn microsoft_codes_win_over_the_generic_error() {
        let e = explain_error(
            "invalid_grant",
            Some("AADSTS700082: The refresh token has expired due to inactivity."),
        );
        assert_eq!(e.code, "microsoft_refresh_token_expired");
        assert!(e.provider_specific);
        // A code must be a whole word: AADSTS500113 is not AADSTS50011.
        let e = explain_error("invalid_request", Some("AADSTS5001130: something new"));
        assert_eq!(e.code, FALLBACK_CODE);
        assert_eq!(
            explain_error("invalid_grant", None).code,
            "oauth2_invalid_grant"
        );
    }

    #[test]
    fn unknown_errors_are_quoted_safely() {
        let e = explain_error("weird\u{1b}[2J", Some("line1\r\nline2"));
        assert_eq!(e.code, FALLBACK_CODE);
        assert!(
            !e.cause.contains('\u{1b}') && e.cause.contains("line1 line2"),
            "{}",
            e.cause
        );
    }

    fn token(requested: &[&str], granted: Option<&[&str]>) -> TokenUse {
        TokenUse {
            account: "alice@example.com".into(),
            store: "keyring".into(),
            issuer: "https://auth.example.com".into(),
            client_id: "cid".into(),
            scopes_requested: requested.iter().map(|s| (*s).to_owned()).collect(),
            scopes_granted: granted.map(|g| g.iter().map(|s| (*s).to_owned()).collect()),
            obtained_at: "2026-11-29T10:00:00Z".into(),
            expires_at: Some("2026-11-29T11:00:00Z".into()),
            refreshed: false,
            error: None,
        }
    }

    #[test]
    fn a_missing_mail_scope_is_named() {
        let t = token(&["openid", "offline_access"], Some(&[]));
        let e = scope_missing(Some("mail"), &t).unwrap();
        assert_eq!(e.code, "oauth2_scope_missing");
        assert!(
            e.cause.contains("(mail)") && e.cause.contains("no scope at all"),
            "{}",
            e.cause
        );
        let t = token(
            &[
                "https://outlook.office.com/IMAP.AccessAsUser.All",
                "offline_access",
            ],
            Some(&["https://outlook.office.com/SMTP.Send"]),
        );
        let e = scope_missing(None, &t).unwrap();
        assert!(e.cause.contains("IMAP.AccessAsUser.All"), "{}", e.cause);
        assert!(scope_missing(Some("mail"), &token(&["mail"], Some(&["mail"]))).is_none());
        assert!(
            scope_missing(Some("mail"), &token(&["mail"], None)).is_none(),
            "unknown grants say nothing"
        );
    }

    /// The regression: only adjacent duplicates were removed, so a scope both
    /// asked for and named by the server's challenge was listed twice.
    #[test]
    fn a_missing_scope_is_named_once() {
        let t = token(&["mail", "openid", "offline_access"], Some(&["openid"]));
        let e = scope_missing(Some("calendar mail"), &t).unwrap();
        assert!(e.cause.contains("(mail calendar)"), "{}", e.cause);
    }

    #[test]
    fn an_expired_token_names_its_expiry() {
        let e = token_expired(&token(&["mail"], None));
        assert_eq!(e.code, "oauth2_token_expired");
        assert!(e.cause.contains("2026-11-29T11:00:00Z"), "{}", e.cause);
    }
}
