//! SASL client mechanisms: which one to use and what to send, with no I/O.
//!
//! A login proof runs one SASL exchange (RFC 4422) inside the protocol's own command:
//! IMAP `AUTHENTICATE` (RFC 9051 §6.2.2, initial response with SASL-IR, RFC 4959),
//! POP3 `AUTH` (RFC 5034) and SMTP `AUTH` (RFC 4954). The protocol dialogue strips its
//! own framing (`+ `, `334 `) and hands the base64 challenge to [`Exchange`], which
//! answers with a [`Wire`]: the base64 text to send and a redacted form for the
//! transcript. Secrets live in [`Secret`], whose `Debug` and `Display` never show them.
//!
//! Mechanisms, each from its defining document:
//! - PLAIN, RFC 4616: `authzid NUL authcid NUL passwd`, with an empty authzid.
//! - LOGIN, draft-murchison-sasl-login: the username, then the password, each in
//!   answer to a prompt.
//! - CRAM-MD5, RFC 2195: `user SP hex(HMAC-MD5(password, challenge))` (HMAC: RFC 2104).
//! - XOAUTH2, Google's "SASL XOAUTH2 mechanism": `user=U ^A auth=Bearer T ^A ^A`; a
//!   failure arrives as a base64 JSON challenge that is answered with an empty line.
//! - OAUTHBEARER, RFC 7628: a GS2 header (RFC 5801 §4, with `,` and `=` in the user
//!   escaped as `=2C` and `=3D`), then `auth=Bearer T`; a failure arrives as a JSON
//!   challenge (§3.2.2) answered with a single `%x01` (§3.2.3).
//!
//! Base64 is the standard alphabet with padding (RFC 4648 §4), as RFC 4422 §4 and the
//! three protocols require.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use thiserror::Error;
use zeroize::Zeroize;

use crate::model::Protocol;

/// A password or token. `Debug` and `Display` print `[redacted]`; the memory is
/// zeroed when the value is dropped.
///
/// Hand-rolled rather than `secrecy::SecretString`: mailcheck needs exactly a
/// redacting `Debug` *and* `Display` (secrecy has no `Display` and prints its own
/// `SecretBox<str>([REDACTED])`), and the zeroing is the `zeroize` crate that
/// `secrecy` itself builds on, already in the dependency tree.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that must send it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// What the user gave mailcheck to log in with.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// A username and password (PLAIN, LOGIN, CRAM-MD5).
    Password {
        /// The login name, as the server expects it.
        username: String,
        /// The password.
        password: Secret,
    },
    /// A username and an OAuth2 access token (OAUTHBEARER, XOAUTH2).
    OAuth2 {
        /// The account the token is for.
        username: String,
        /// The bearer token (RFC 6750).
        token: Secret,
    },
}

impl Credentials {
    /// The login name.
    #[must_use]
    pub fn username(&self) -> &str {
        match self {
            Credentials::Password { username, .. } | Credentials::OAuth2 { username, .. } => {
                username
            }
        }
    }

    /// The password or token.
    #[must_use]
    pub fn secret(&self) -> &Secret {
        match self {
            Credentials::Password { password: s, .. } | Credentials::OAuth2 { token: s, .. } => s,
        }
    }

    /// Which kind of credentials these are.
    #[must_use]
    pub fn kind(&self) -> CredentialKind {
        match self {
            Credentials::Password { .. } => CredentialKind::Password,
            Credentials::OAuth2 { .. } => CredentialKind::OAuth2,
        }
    }
}

/// The kind of [`Credentials`], for errors and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// A password.
    Password,
    /// An OAuth2 access token.
    OAuth2,
}

impl fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CredentialKind::Password => "password",
            CredentialKind::OAuth2 => "OAuth2 token",
        })
    }
}

/// A SASL mechanism mailcheck can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Mechanism {
    /// PLAIN, RFC 4616.
    Plain,
    /// LOGIN, draft-murchison-sasl-login.
    Login,
    /// CRAM-MD5, RFC 2195.
    CramMd5,
    /// XOAUTH2, Google's pre-standard OAuth2 mechanism (also Microsoft 365).
    XOAuth2,
    /// OAUTHBEARER, RFC 7628.
    OAuthBearer,
}

/// Password mechanisms, preferred first.
///
/// mailcheck sends a password only over verified TLS unless the user opts in, and
/// there PLAIN is the standard (RFC 4616; the mechanism IMAP4rev2 requires, RFC 9051
/// §11.1, and that RFC 8314 expects under implicit TLS). It is also what mainstream
/// clients send for a "normal password", so it proves the login that users will
/// actually make. LOGIN carries the same two strings, is unstandardised and needs an
/// extra round trip, so it comes second. CRAM-MD5 comes last: it hides the password
/// from an eavesdropper TLS already excludes, but it requires the server to keep a
/// plaintext-equivalent secret, so servers that store password hashes often advertise
/// it and then fail it (or check a different password store); its MD5 is obsolete and
/// it has been proposed for Historic status. It stays usable as a last resort and
/// through `--auth-mech CRAM-MD5`, which a caller should force when it sends a
/// password over a connection it could not verify.
const PASSWORD_PREFERENCE: [Mechanism; 3] =
    [Mechanism::Plain, Mechanism::Login, Mechanism::CramMd5];

/// Token mechanisms, preferred first: the IETF standard (RFC 7628) before the
/// vendor mechanism it replaces.
const OAUTH2_PREFERENCE: [Mechanism; 2] = [Mechanism::OAuthBearer, Mechanism::XOAuth2];

impl Mechanism {
    /// Every mechanism.
    pub const ALL: [Mechanism; 5] = [
        Mechanism::Plain,
        Mechanism::Login,
        Mechanism::CramMd5,
        Mechanism::XOAuth2,
        Mechanism::OAuthBearer,
    ];

    /// The registered SASL name (RFC 4422 §3.1).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::CramMd5 => "CRAM-MD5",
            Mechanism::XOAuth2 => "XOAUTH2",
            Mechanism::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// The mechanism with this SASL name, ignoring case (RFC 4422 §3.1 names are
    /// upper case, but servers differ).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Mechanism> {
        Mechanism::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// Which credentials the mechanism takes.
    #[must_use]
    pub fn credential_kind(self) -> CredentialKind {
        match self {
            Mechanism::Plain | Mechanism::Login | Mechanism::CramMd5 => CredentialKind::Password,
            Mechanism::XOAuth2 | Mechanism::OAuthBearer => CredentialKind::OAuth2,
        }
    }

    /// Whether the client speaks first (RFC 4422 §3.3): PLAIN, XOAUTH2 and
    /// OAUTHBEARER do; LOGIN and CRAM-MD5 wait for the server's challenge.
    #[must_use]
    pub fn client_first(self) -> bool {
        matches!(
            self,
            Mechanism::Plain | Mechanism::XOAuth2 | Mechanism::OAuthBearer
        )
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not one of the [`Mechanism`]s mailcheck runs.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown SASL mechanism {0:?} (known: PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER)")]
pub struct UnknownMechanism(pub String);

impl FromStr for Mechanism {
    type Err = UnknownMechanism;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mechanism::from_name(s.trim()).ok_or_else(|| UnknownMechanism(s.to_owned()))
    }
}

/// The SASL names a server offers, upper-cased, deduplicated, in the order offered,
/// including those mailcheck cannot run (SCRAM-SHA-256, GSSAPI, …) so that reports
/// and errors can name them.
///
/// `capabilities` are as the dialogues keep them ([`super::Session::capabilities`]):
/// - IMAP: atoms such as `AUTH=PLAIN` (RFC 9051 §6.2.2; whole lines are split too);
/// - POP3: CAPA lines such as `SASL PLAIN LOGIN` (RFC 2449 §6.3, RFC 5034 §3);
/// - SMTP: EHLO keyword lines such as `AUTH PLAIN LOGIN` (RFC 4954 §3), and the
///   pre-standard `AUTH=PLAIN LOGIN` that old Outlook-era servers still send.
#[must_use]
pub fn offered_names(protocol: Protocol, capabilities: &[String]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for entry in capabilities {
        for name in names_in(protocol, entry) {
            let name = name.to_ascii_uppercase();
            if is_sasl_name(&name) && !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

/// The mechanisms a server offers that mailcheck can run, in the order offered.
#[must_use]
pub fn offered_mechanisms(protocol: Protocol, capabilities: &[String]) -> Vec<Mechanism> {
    offered_names(protocol, capabilities)
        .iter()
        .filter_map(|name| Mechanism::from_name(name))
        .collect()
}

/// The mechanism names in one capability entry of `protocol`.
fn names_in(protocol: Protocol, entry: &str) -> Vec<&str> {
    let mut words = entry.split_ascii_whitespace();
    match protocol {
        Protocol::Imap => words.filter_map(|w| strip_prefix_ci(w, "AUTH=")).collect(),
        Protocol::Pop3 => match words.next() {
            Some(first) if first.eq_ignore_ascii_case("SASL") => words.collect(),
            _ => Vec::new(),
        },
        Protocol::Smtp => match words.next() {
            Some(first) if first.eq_ignore_ascii_case("AUTH") => words.collect(),
            Some(first) => match strip_prefix_ci(first, "AUTH=") {
                Some(name) => std::iter::once(name).chain(words).collect(),
                None => Vec::new(),
            },
            None => Vec::new(),
        },
    }
}

/// `s` without `prefix`, compared ignoring ASCII case.
fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// RFC 4422 §3.1: 1 to 20 characters of upper-case letters, digits, `-` and `_`.
fn is_sasl_name(name: &str) -> bool {
    (1..=20).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Why no mechanism could be chosen.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChooseError {
    /// Nothing the server offers works with these credentials.
    #[error(
        "the server offers {}, none of which takes {credentials} credentials",
        list(offered)
    )]
    NothingSuitable {
        /// The SASL names the server offers.
        offered: Vec<String>,
        /// The credentials at hand.
        credentials: CredentialKind,
    },
    /// The mechanism forced with `--auth-mech` is not offered.
    #[error("{forced} was asked for, but the server offers {}", list(offered))]
    ForcedNotOffered {
        /// The forced mechanism.
        forced: Mechanism,
        /// The SASL names the server offers.
        offered: Vec<String>,
    },
    /// The mechanism forced with `--auth-mech` cannot carry these credentials.
    #[error("{forced} was asked for, but it cannot carry {credentials} credentials")]
    ForcedUnsuitable {
        /// The forced mechanism.
        forced: Mechanism,
        /// The credentials at hand.
        credentials: CredentialKind,
    },
}

/// "PLAIN, LOGIN", or "no SASL mechanism".
fn list(offered: &[String]) -> String {
    if offered.is_empty() {
        "no SASL mechanism".to_owned()
    } else {
        offered.join(", ")
    }
}

/// The mechanism to log in with: `forced` when given (it must be offered and fit
/// the credentials), otherwise the most preferred offered mechanism that fits (see
/// [`PASSWORD_PREFERENCE`]; for tokens OAUTHBEARER before XOAUTH2).
///
/// `offered` holds SASL names, as from [`offered_names`]; case does not matter.
/// A password is never sent through a token mechanism, nor a token through PLAIN.
pub fn choose(
    offered: &[String],
    creds: &Credentials,
    forced: Option<Mechanism>,
) -> Result<Mechanism, ChooseError> {
    let kind = creds.kind();
    let is_offered = |m: Mechanism| {
        offered
            .iter()
            .any(|o| m.name().eq_ignore_ascii_case(o.trim()))
    };
    if let Some(forced) = forced {
        if forced.credential_kind() != kind {
            return Err(ChooseError::ForcedUnsuitable {
                forced,
                credentials: kind,
            });
        }
        if !is_offered(forced) {
            return Err(ChooseError::ForcedNotOffered {
                forced,
                offered: offered.to_vec(),
            });
        }
        return Ok(forced);
    }
    let preference: &[Mechanism] = match kind {
        CredentialKind::Password => &PASSWORD_PREFERENCE,
        CredentialKind::OAuth2 => &OAUTH2_PREFERENCE,
    };
    preference
        .iter()
        .copied()
        .find(|&m| is_offered(m))
        .ok_or_else(|| ChooseError::NothingSuitable {
            offered: offered.to_vec(),
            credentials: kind,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(user: &str, pass: &str) -> Credentials {
        Credentials::Password {
            username: user.to_owned(),
            password: Secret::new(pass),
        }
    }

    fn token(user: &str, token: &str) -> Credentials {
        Credentials::OAuth2 {
            username: user.to_owned(),
            token: Secret::new(token),
        }
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    // --- Names and capabilities ----------------------------------------------------

    #[test]
    fn mechanism_names_round_trip_ignoring_case() {
        let expected = ["PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER"];
        for (mechanism, name) in Mechanism::ALL.into_iter().zip(expected) {
            assert_eq!(mechanism.name(), name);
            assert_eq!(mechanism.to_string(), name);
            assert_eq!(name.parse::<Mechanism>(), Ok(mechanism));
            assert_eq!(
                name.to_ascii_lowercase().parse::<Mechanism>(),
                Ok(mechanism)
            );
        }
        assert_eq!(
            "SCRAM-SHA-256".parse::<Mechanism>(),
            Err(UnknownMechanism("SCRAM-SHA-256".to_owned()))
        );
        assert_eq!(Mechanism::from_name(""), None);
    }

    #[test]
    fn offered_mechanisms_from_imap_atoms() {
        let caps = names(&[
            "IMAP4rev1",
            "SASL-IR",
            "AUTH=PLAIN",
            "auth=xoauth2",
            "AUTH=SCRAM-SHA-256",
            "AUTH=PLAIN",
            "LOGINDISABLED",
        ]);
        assert_eq!(
            offered_mechanisms(Protocol::Imap, &caps),
            [Mechanism::Plain, Mechanism::XOAuth2]
        );
        assert_eq!(
            offered_names(Protocol::Imap, &caps),
            ["PLAIN", "XOAUTH2", "SCRAM-SHA-256"]
        );
        // A whole capability line is split into atoms too.
        let line = names(&["IMAP4rev1 AUTH=OAUTHBEARER AUTH=LOGIN"]);
        assert_eq!(
            offered_mechanisms(Protocol::Imap, &line),
            [Mechanism::OAuthBearer, Mechanism::Login]
        );
    }

    #[test]
    fn offered_mechanisms_from_the_pop3_sasl_line() {
        let caps = names(&["TOP", "USER", "SASL PLAIN LOGIN CRAM-MD5", "UIDL"]);
        assert_eq!(
            offered_mechanisms(Protocol::Pop3, &caps),
            [Mechanism::Plain, Mechanism::Login, Mechanism::CramMd5]
        );
        assert!(offered_mechanisms(Protocol::Pop3, &names(&["USER", "SASL"])).is_empty());
        // The IMAP form means nothing in POP3.
        assert!(offered_mechanisms(Protocol::Pop3, &names(&["AUTH=PLAIN"])).is_empty());
    }

    #[test]
    fn offered_mechanisms_from_smtp_ehlo_in_both_forms() {
        let caps = names(&[
            "PIPELINING",
            "SIZE 35882577",
            "AUTH LOGIN PLAIN XOAUTH2",
            "8BITMIME",
        ]);
        assert_eq!(
            offered_mechanisms(Protocol::Smtp, &caps),
            [Mechanism::Login, Mechanism::Plain, Mechanism::XOAuth2]
        );
        // The pre-RFC 2554 form, alone and next to the standard one.
        let old = names(&["AUTH=PLAIN LOGIN CRAM-MD5"]);
        assert_eq!(
            offered_mechanisms(Protocol::Smtp, &old),
            [Mechanism::Plain, Mechanism::Login, Mechanism::CramMd5]
        );
        let both = names(&["AUTH LOGIN PLAIN", "AUTH=LOGIN PLAIN"]);
        assert_eq!(offered_names(Protocol::Smtp, &both), ["LOGIN", "PLAIN"]);
        // Neither other protocol's form, nor a keyword that merely starts with AUTH.
        let other = names(&["SASL PLAIN", "AUTHX PLAIN", "X-AUTH PLAIN"]);
        assert!(offered_mechanisms(Protocol::Smtp, &other).is_empty());
    }

    #[test]
    fn offered_names_drop_what_is_not_a_sasl_name() {
        let caps = names(&["AUTH PLAIN <script> A-NAME-LONGER-THAN-TWENTY GSSAPI"]);
        assert_eq!(offered_names(Protocol::Smtp, &caps), ["PLAIN", "GSSAPI"]);
    }

    // --- Choosing ------------------------------------------------------------------

    #[test]
    fn choose_prefers_plain_then_login_then_cram_md5_for_passwords() {
        let creds = password("u", "p");
        let cases: [(&[&str], Mechanism); 5] = [
            (&["CRAM-MD5", "LOGIN", "PLAIN", "XOAUTH2"], Mechanism::Plain),
            (&["CRAM-MD5", "LOGIN"], Mechanism::Login),
            (&["SCRAM-SHA-1", "CRAM-MD5"], Mechanism::CramMd5),
            (&["plain"], Mechanism::Plain),
            (&["OAUTHBEARER", "LOGIN"], Mechanism::Login),
        ];
        for (offered, expected) in cases {
            assert_eq!(
                choose(&names(offered), &creds, None),
                Ok(expected),
                "{offered:?}"
            );
        }
    }

    #[test]
    fn choose_prefers_oauthbearer_and_never_sends_a_token_through_plain() {
        let creds = token("u", "t");
        assert_eq!(
            choose(&names(&["XOAUTH2", "PLAIN", "OAUTHBEARER"]), &creds, None),
            Ok(Mechanism::OAuthBearer)
        );
        assert_eq!(
            choose(&names(&["PLAIN", "LOGIN", "XOAUTH2"]), &creds, None),
            Ok(Mechanism::XOAuth2)
        );
        let err = choose(&names(&["PLAIN", "LOGIN", "CRAM-MD5"]), &creds, None).unwrap_err();
        assert_eq!(
            err,
            ChooseError::NothingSuitable {
                offered: names(&["PLAIN", "LOGIN", "CRAM-MD5"]),
                credentials: CredentialKind::OAuth2,
            }
        );
        assert!(err.to_string().contains("PLAIN, LOGIN, CRAM-MD5"), "{err}");
    }

    #[test]
    fn choose_with_nothing_offered_says_so() {
        let err = choose(&[], &password("u", "p"), None).unwrap_err();
        assert!(err.to_string().contains("no SASL mechanism"), "{err}");
    }

    #[test]
    fn forced_mechanism_wins_when_offered_and_fitting() {
        let offered = names(&["PLAIN", "LOGIN", "CRAM-MD5"]);
        let creds = password("u", "p");
        assert_eq!(
            choose(&offered, &creds, Some(Mechanism::CramMd5)),
            Ok(Mechanism::CramMd5)
        );
        assert_eq!(
            choose(&offered, &creds, Some(Mechanism::Login)),
            Ok(Mechanism::Login)
        );
    }

    #[test]
    fn forced_mechanism_not_offered_names_what_is() {
        let offered = names(&["PLAIN", "LOGIN"]);
        let err = choose(&offered, &password("u", "p"), Some(Mechanism::CramMd5)).unwrap_err();
        assert_eq!(
            err,
            ChooseError::ForcedNotOffered {
                forced: Mechanism::CramMd5,
                offered: offered.clone(),
            }
        );
        let message = err.to_string();
        assert!(
            message.contains("CRAM-MD5") && message.contains("PLAIN, LOGIN"),
            "{message}"
        );
    }

    #[test]
    fn forced_mechanism_must_fit_the_credentials() {
        let offered = names(&["PLAIN", "XOAUTH2"]);
        assert_eq!(
            choose(&offered, &token("u", "t"), Some(Mechanism::Plain)),
            Err(ChooseError::ForcedUnsuitable {
                forced: Mechanism::Plain,
                credentials: CredentialKind::OAuth2,
            })
        );
        assert_eq!(
            choose(&offered, &password("u", "p"), Some(Mechanism::XOAuth2)),
            Err(ChooseError::ForcedUnsuitable {
                forced: Mechanism::XOAuth2,
                credentials: CredentialKind::Password,
            })
        );
    }

    const USER: &str = "redaction-user@example.com";
    const SECRET: &str = "Sup3r-Secret-Value/unique+0123456789";

    #[test]
    fn secret_prints_redacted() {
        let secret = Secret::new(SECRET);
        assert_eq!(format!("{secret}"), "[redacted]");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{secret:#?}"), "[redacted]");
        assert_eq!(secret.expose(), SECRET);
        let creds = password(USER, SECRET);
        let debug = format!("{creds:#?}");
        assert!(
            debug.contains(USER) && debug.contains("[redacted]"),
            "{debug}"
        );
        assert!(!debug.contains(SECRET));
    }
}
