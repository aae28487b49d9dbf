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

use std::fmt::{self, Write as _};
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;
use serde::Serialize;
use serde_json::Value;
use thiserror::Error;
use zeroize::{Zeroize, Zeroizing};

use crate::model::Protocol;
use crate::report::OAuthError;

/// What [`Wire::redacted`] shows in place of a response that carries a secret.
pub const REDACTED_RESPONSE: &str = "[credentials redacted]";

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
/// `capabilities` are as the dialogues keep them ([`crate::report::Session::capabilities`]):
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
/// the credentials), otherwise the most preferred offered mechanism that fits.
///
/// Passwords: PLAIN, then LOGIN, then CRAM-MD5. Passwords travel only over verified
/// TLS unless the user opts in, and there PLAIN is the standard and what clients
/// send for a "normal password"; CRAM-MD5 needs plaintext-equivalent storage on the
/// server, often fails where PLAIN works, and is left for last or for
/// `--auth-mech CRAM-MD5`. Tokens: OAUTHBEARER (RFC 7628), then XOAUTH2.
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

/// One client response: `text` goes on the wire (followed by the protocol's CRLF; it
/// may be empty), `redacted` is what a transcript may show.
///
/// `Debug` shows only `redacted`.
#[derive(Clone, PartialEq, Eq)]
pub struct Wire {
    /// Base64, as sent.
    pub text: String,
    /// Safe to show: [`REDACTED_RESPONSE`] when `text` carries a secret or a value
    /// derived from it, otherwise `text` itself.
    pub redacted: String,
}

impl Wire {
    /// A response that carries a secret.
    fn secret(plain: &[u8]) -> Self {
        Self {
            text: STANDARD.encode(plain),
            redacted: REDACTED_RESPONSE.to_owned(),
        }
    }

    /// A response with nothing to hide.
    fn public(plain: &[u8]) -> Self {
        let text = STANDARD.encode(plain);
        Self {
            redacted: text.clone(),
            text,
        }
    }
}

impl fmt::Debug for Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wire")
            .field("redacted", &self.redacted)
            .finish_non_exhaustive()
    }
}

impl OAuthError {
    /// Parses the decoded challenge; the error says what is wrong with it.
    fn parse(json: &[u8]) -> Result<Self, String> {
        let value: Value = serde_json::from_slice(json).map_err(|e| e.to_string())?;
        let object = value.as_object().ok_or("not a JSON object")?;
        let status = match object.get("status") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err("no \"status\" string".to_owned()),
        };
        let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
        Ok(Self {
            status,
            schemes: text("schemes"),
            scope: text("scope"),
            openid_configuration: text("openid-configuration"),
        })
    }
}

/// Why an exchange cannot go on.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SaslError {
    /// The mechanism cannot carry these credentials.
    #[error("{mechanism} cannot carry {credentials} credentials")]
    Unsuitable {
        /// The mechanism.
        mechanism: Mechanism,
        /// The credentials at hand.
        credentials: CredentialKind,
    },
    /// The credentials contain a byte the mechanism uses as a separator.
    #[error("{mechanism} cannot carry this {field}: it contains {forbidden}")]
    InvalidCredentials {
        /// The mechanism.
        mechanism: Mechanism,
        /// "username", "password" or "token".
        field: &'static str,
        /// The forbidden byte, described.
        forbidden: &'static str,
    },
    /// The challenge is not base64.
    #[error("{mechanism}: the server's challenge is not valid base64: {challenge:?}")]
    Base64 {
        /// The mechanism.
        mechanism: Mechanism,
        /// The challenge as received.
        challenge: String,
    },
    /// The mechanism expects no challenge (or no more) at this point.
    #[error("{mechanism}: unexpected challenge {challenge:?}")]
    UnexpectedChallenge {
        /// The mechanism.
        mechanism: Mechanism,
        /// The challenge as received.
        challenge: String,
    },
    /// An XOAUTH2/OAUTHBEARER error challenge that is not the JSON it should be.
    #[error("{mechanism}: the server's error challenge is not valid: {reason}")]
    MalformedServerError {
        /// The mechanism.
        mechanism: Mechanism,
        /// What is wrong with it.
        reason: String,
    },
}

/// One SASL exchange, as a pure state machine: the driver sends
/// [`initial_response`](Self::initial_response) with the command when the protocol
/// allows it, then answers each server challenge with
/// [`on_challenge`](Self::on_challenge) until the server's final OK or NO.
///
/// `Debug` shows the mechanism and progress, never the secret. `Clone` lets the
/// dialogues that hold an exchange stay `Clone`.
#[derive(Debug, Clone)]
pub struct Exchange {
    mechanism: Mechanism,
    username: String,
    secret: Secret,
    /// OAUTHBEARER's optional `host` and `port` keys (RFC 7628 §3.1).
    server: Option<(String, u16)>,
    /// Challenges answered so far.
    answered: u8,
    server_error: Option<OAuthError>,
}

impl Exchange {
    /// Starts an exchange; fails when the mechanism does not fit the credentials or
    /// they contain one of its separators (NUL for PLAIN, RFC 4616 §2; `^A` for the
    /// OAuth2 mechanisms).
    pub fn new(mechanism: Mechanism, creds: &Credentials) -> Result<Self, SaslError> {
        if mechanism.credential_kind() != creds.kind() {
            return Err(SaslError::Unsuitable {
                mechanism,
                credentials: creds.kind(),
            });
        }
        let secret_field = match creds.kind() {
            CredentialKind::Password => "password",
            CredentialKind::OAuth2 => "token",
        };
        let (separator, forbidden) = match mechanism {
            Mechanism::Plain => (Some('\0'), "NUL"),
            Mechanism::XOAuth2 | Mechanism::OAuthBearer => (Some('\u{1}'), "the byte 0x01"),
            Mechanism::Login | Mechanism::CramMd5 => (None, ""),
        };
        for (field, value) in [
            ("username", creds.username()),
            (secret_field, creds.secret().expose()),
        ] {
            if separator.is_some_and(|c| value.contains(c)) {
                return Err(SaslError::InvalidCredentials {
                    mechanism,
                    field,
                    forbidden,
                });
            }
        }
        Ok(Self {
            mechanism,
            username: creds.username().to_owned(),
            secret: creds.secret().clone(),
            server: None,
            answered: 0,
            server_error: None,
        })
    }

    /// Adds OAUTHBEARER's `host` and `port` keys (RFC 7628 §3.1), which some servers
    /// check; the other mechanisms ignore them.
    #[must_use]
    pub fn with_server(mut self, host: &str, port: u16) -> Self {
        self.server = Some((host.to_owned(), port));
        self
    }

    /// The mechanism being run.
    #[must_use]
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// The response to send with the command itself (SASL-IR, RFC 4959; RFC 4954 §4;
    /// RFC 5034 §4), for mechanisms where the client speaks first.
    #[must_use]
    pub fn initial_response(&self) -> Option<Wire> {
        let plain: Zeroizing<String> = match self.mechanism {
            Mechanism::Plain => {
                Zeroizing::new(format!("\0{}\0{}", self.username, self.secret.expose()))
            }
            Mechanism::XOAuth2 => Zeroizing::new(format!(
                "user={}\u{1}auth=Bearer {}\u{1}\u{1}",
                self.username,
                self.secret.expose()
            )),
            Mechanism::OAuthBearer => self.oauthbearer(),
            Mechanism::Login | Mechanism::CramMd5 => return None,
        };
        Some(Wire::secret(plain.as_bytes()))
    }

    /// RFC 7628 §3.1: GS2 header `n,a=USER,`, then `^A`-separated key-value pairs.
    fn oauthbearer(&self) -> Zeroizing<String> {
        let mut user = String::with_capacity(self.username.len());
        for c in self.username.chars() {
            match c {
                ',' => user.push_str("=2C"),
                '=' => user.push_str("=3D"),
                c => user.push(c),
            }
        }
        let mut message = Zeroizing::new(format!("n,a={user},\u{1}"));
        if let Some((host, port)) = &self.server {
            let _ = write!(message, "host={host}\u{1}port={port}\u{1}");
        }
        let _ = write!(message, "auth=Bearer {}\u{1}\u{1}", self.secret.expose());
        message
    }

    /// The response to a server challenge, given as the base64 text after the
    /// protocol's `+ ` or `334 ` (surrounding whitespace is ignored).
    ///
    /// An empty challenge to a client-first mechanism asks for the initial response
    /// (the server lacks SASL-IR, or the driver did not use it). An XOAUTH2 or
    /// OAUTHBEARER challenge after that is the server's error, kept for
    /// [`server_error`](Self::server_error) and acknowledged as the mechanism requires
    /// so that the server can send its final NO.
    pub fn on_challenge(&mut self, challenge_base64: &str) -> Result<Wire, SaslError> {
        let challenge = challenge_base64.trim();
        let decoded =
            Zeroizing::new(STANDARD.decode(challenge).map_err(|_| SaslError::Base64 {
                mechanism: self.mechanism,
                challenge: challenge.to_owned(),
            })?);
        let wire = match self.mechanism {
            Mechanism::Plain | Mechanism::XOAuth2 | Mechanism::OAuthBearer
                if decoded.is_empty() && self.answered == 0 =>
            {
                self.initial_response()
            }
            Mechanism::XOAuth2 | Mechanism::OAuthBearer
                if !decoded.is_empty() && self.server_error.is_none() =>
            {
                Some(self.on_oauth_error(&decoded)?)
            }
            Mechanism::Login if self.answered < 2 => Some(self.login(&decoded)),
            Mechanism::CramMd5 if !decoded.is_empty() && self.answered == 0 => {
                Some(self.cram_md5(&decoded))
            }
            _ => None,
        };
        let wire = wire.ok_or_else(|| SaslError::UnexpectedChallenge {
            mechanism: self.mechanism,
            challenge: challenge.to_owned(),
        })?;
        self.answered += 1;
        Ok(wire)
    }

    /// Keeps the server's JSON error; answers it with an empty response (XOAUTH2,
    /// Google's protocol) or `%x01` (OAUTHBEARER, RFC 7628 §3.2.3).
    fn on_oauth_error(&mut self, json: &[u8]) -> Result<Wire, SaslError> {
        let error = OAuthError::parse(json).map_err(|reason| SaslError::MalformedServerError {
            mechanism: self.mechanism,
            reason,
        })?;
        self.server_error = Some(error);
        Ok(match self.mechanism {
            Mechanism::OAuthBearer => Wire::public(b"\x01"),
            _ => Wire::public(b""),
        })
    }

    /// LOGIN: the username, then the password. The prompts ("Username:",
    /// "User Name", "Password:") are informational, but one that names a password
    /// gets the password even out of order.
    fn login(&self, prompt: &[u8]) -> Wire {
        let prompt = String::from_utf8_lossy(prompt).to_ascii_lowercase();
        let wants_password =
            prompt.contains("pass") || (self.answered == 1 && !prompt.contains("user"));
        if wants_password {
            Wire::secret(self.secret.expose().as_bytes())
        } else {
            Wire::public(self.username.as_bytes())
        }
    }

    /// CRAM-MD5 (RFC 2195 §2): `user SP` the lower-case hex HMAC-MD5 of the challenge
    /// keyed with the password. The digest is redacted too: with the challenge it
    /// allows an offline guess of the password.
    fn cram_md5(&self, challenge: &[u8]) -> Wire {
        let mut mac = Hmac::<Md5>::new_from_slice(self.secret.expose().as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(challenge);
        let digest = mac.finalize().into_bytes();
        let mut response = Zeroizing::new(format!("{} ", self.username));
        for byte in digest {
            let _ = write!(response, "{byte:02x}");
        }
        Wire::secret(response.as_bytes())
    }

    /// The error the server sent in an XOAUTH2/OAUTHBEARER challenge, if any.
    #[must_use]
    pub fn server_error(&self) -> Option<&OAuthError> {
        self.server_error.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::OAuthError;

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

    fn b64(plain: &str) -> String {
        STANDARD.encode(plain)
    }

    fn decode(text: &str) -> String {
        String::from_utf8(STANDARD.decode(text).unwrap()).unwrap()
    }

    // --- Known vectors -------------------------------------------------------------

    #[test]
    fn cram_md5_matches_rfc_2195() {
        let mut ex =
            Exchange::new(Mechanism::CramMd5, &password("tim", "tanstaaftanstaaf")).unwrap();
        assert_eq!(ex.initial_response(), None);
        // RFC 2195 §2, base64 forms as printed in the RFC.
        let wire = ex
            .on_challenge("PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+")
            .unwrap();
        assert_eq!(
            wire.text,
            "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"
        );
        assert_eq!(decode(&wire.text), "tim b913a602c7eda7a495b4e6e7334d3890");
        assert_eq!(wire.redacted, REDACTED_RESPONSE);
    }

    #[test]
    fn plain_matches_rfc_4616_with_empty_authzid() {
        // RFC 4616 §4: "\0tim\0tanstaaftanstaaf".
        let ex = Exchange::new(Mechanism::Plain, &password("tim", "tanstaaftanstaaf")).unwrap();
        let wire = ex.initial_response().unwrap();
        assert_eq!(wire.text, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
        assert_eq!(decode(&wire.text), "\0tim\0tanstaaftanstaaf");
        assert_eq!(wire.redacted, REDACTED_RESPONSE);
    }

    #[test]
    fn xoauth2_matches_googles_example() {
        let creds = token(
            "someuser@example.com",
            "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg",
        );
        let wire = Exchange::new(Mechanism::XOAuth2, &creds)
            .unwrap()
            .initial_response()
            .unwrap();
        assert_eq!(
            wire.text,
            "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="
        );
    }

    #[test]
    fn oauthbearer_matches_rfc_7628_section_4_1() {
        let creds = token(
            "user@example.com",
            "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
        );
        let wire = Exchange::new(Mechanism::OAuthBearer, &creds)
            .unwrap()
            .with_server("server.example.com", 143)
            .initial_response()
            .unwrap();
        assert_eq!(
            wire.text,
            concat!(
                "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhv",
                "c3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyI",
                "HZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQ",
                "EB"
            )
        );
    }

    #[test]
    fn oauthbearer_without_server_keys() {
        let wire = Exchange::new(Mechanism::OAuthBearer, &token("user@example.com", "t"))
            .unwrap()
            .initial_response()
            .unwrap();
        assert_eq!(
            decode(&wire.text),
            "n,a=user@example.com,\u{1}auth=Bearer t\u{1}\u{1}"
        );
    }

    #[test]
    fn oauthbearer_escapes_comma_and_equals_in_the_user() {
        // RFC 5801 §4 saslname: "," is "=2C" and "=" is "=3D".
        let wire = Exchange::new(Mechanism::OAuthBearer, &token("a,b=c", "t"))
            .unwrap()
            .initial_response()
            .unwrap();
        assert_eq!(
            decode(&wire.text),
            "n,a=a=2Cb=3Dc,\u{1}auth=Bearer t\u{1}\u{1}"
        );
    }

    // --- Challenges ------------------------------------------------------------------

    #[test]
    fn login_answers_username_then_password() {
        let mut ex = Exchange::new(Mechanism::Login, &password("alice", "hunter2")).unwrap();
        assert_eq!(ex.initial_response(), None);
        let user = ex.on_challenge("VXNlcm5hbWU6").unwrap(); // "Username:"
        assert_eq!(decode(&user.text), "alice");
        assert_eq!(user.redacted, user.text, "the username is not secret");
        let pass = ex.on_challenge("UGFzc3dvcmQ6").unwrap(); // "Password:"
        assert_eq!(decode(&pass.text), "hunter2");
        assert_eq!(pass.redacted, REDACTED_RESPONSE);
        assert!(matches!(
            ex.on_challenge("UGFzc3dvcmQ6"),
            Err(SaslError::UnexpectedChallenge {
                mechanism: Mechanism::Login,
                ..
            })
        ));
    }

    #[test]
    fn login_follows_the_draft_prompts_and_unknown_ones_by_order() {
        // draft-murchison-sasl-login: "User Name" and "Password" with a trailing NUL.
        let mut ex = Exchange::new(Mechanism::Login, &password("alice", "hunter2")).unwrap();
        assert_eq!(
            decode(&ex.on_challenge(&b64("User Name\0")).unwrap().text),
            "alice"
        );
        assert_eq!(
            decode(&ex.on_challenge(&b64("Password\0")).unwrap().text),
            "hunter2"
        );
        // Prompts in another language: order decides.
        let mut ex = Exchange::new(Mechanism::Login, &password("alice", "hunter2")).unwrap();
        assert_eq!(
            decode(&ex.on_challenge(&b64("Benutzer:")).unwrap().text),
            "alice"
        );
        assert_eq!(
            decode(&ex.on_challenge(&b64("Kennwort:")).unwrap().text),
            "hunter2"
        );
    }

    #[test]
    fn client_first_mechanisms_answer_an_empty_challenge_once() {
        // Without SASL-IR the server sends "+ " / "334 " and the client sends the
        // initial response then.
        for (mechanism, creds) in [
            (Mechanism::Plain, password("tim", "tanstaaftanstaaf")),
            (Mechanism::XOAuth2, token("u@example.com", "tok")),
            (Mechanism::OAuthBearer, token("u@example.com", "tok")),
        ] {
            let mut ex = Exchange::new(mechanism, &creds).unwrap();
            let expected = ex.initial_response().unwrap();
            assert_eq!(ex.on_challenge("").unwrap(), expected, "{mechanism}");
            assert!(
                matches!(
                    ex.on_challenge(""),
                    Err(SaslError::UnexpectedChallenge { .. })
                ),
                "{mechanism}"
            );
        }
    }

    #[test]
    fn plain_and_cram_md5_reject_challenges_they_do_not_expect() {
        let mut plain = Exchange::new(Mechanism::Plain, &password("u", "p")).unwrap();
        assert!(matches!(
            plain.on_challenge(&b64("surprise")),
            Err(SaslError::UnexpectedChallenge {
                mechanism: Mechanism::Plain,
                ..
            })
        ));
        let mut cram = Exchange::new(Mechanism::CramMd5, &password("u", "p")).unwrap();
        assert!(matches!(
            cram.on_challenge(""),
            Err(SaslError::UnexpectedChallenge { .. })
        ));
        cram.on_challenge(&b64("<1.2@host>")).unwrap();
        assert!(matches!(
            cram.on_challenge(&b64("<3.4@host>")),
            Err(SaslError::UnexpectedChallenge { .. })
        ));
    }

    #[test]
    fn xoauth2_error_challenge_is_kept_and_answered_with_an_empty_response() {
        let mut ex = Exchange::new(Mechanism::XOAuth2, &token("u@gmail.com", "expired")).unwrap();
        assert_eq!(ex.server_error(), None);
        // Google's documented failure.
        let challenge = "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==";
        let wire = ex.on_challenge(challenge).unwrap();
        assert_eq!(wire.text, "");
        assert_eq!(wire.redacted, "");
        assert_eq!(
            ex.server_error(),
            Some(&OAuthError {
                status: "401".to_owned(),
                schemes: Some("Bearer".to_owned()),
                scope: Some("https://mail.google.com/".to_owned()),
                openid_configuration: None,
            })
        );
        assert!(matches!(
            ex.on_challenge(challenge),
            Err(SaslError::UnexpectedChallenge { .. })
        ));
    }

    #[test]
    fn oauthbearer_error_challenge_is_kept_and_answered_with_0x01() {
        let mut ex =
            Exchange::new(Mechanism::OAuthBearer, &token("user@example.com", "bad")).unwrap();
        // RFC 7628 §4.3.
        let challenge = "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3BlIiwib3BlbmlkLWNvbmZpZ3VyYXRpb24iOiJodHRwczovL2V4YW1wbGUuY29tLy53ZWxsLWtub3duL29wZW5pZC1jb25maWd1cmF0aW9uIn0=";
        let wire = ex.on_challenge(challenge).unwrap();
        assert_eq!(wire.text, "AQ==");
        let error = ex.server_error().unwrap();
        assert_eq!(error.status, "invalid_token");
        assert_eq!(error.scope.as_deref(), Some("example_scope"));
        assert_eq!(
            error.openid_configuration.as_deref(),
            Some("https://example.com/.well-known/openid-configuration")
        );
        assert_eq!(error.schemes, None);
    }

    #[test]
    fn a_numeric_status_is_accepted() {
        let mut ex = Exchange::new(Mechanism::XOAuth2, &token("u", "t")).unwrap();
        ex.on_challenge(&b64(r#"{"status":401}"#)).unwrap();
        assert_eq!(ex.server_error().unwrap().status, "401");
    }

    #[test]
    fn malformed_base64_is_an_error_for_every_mechanism() {
        for mechanism in Mechanism::ALL {
            let creds = match mechanism.credential_kind() {
                CredentialKind::Password => password("u", "p"),
                CredentialKind::OAuth2 => token("u", "t"),
            };
            for bad in ["not base64!", "QUJD=", "QQ", "====", "\u{e9}t\u{e9}"] {
                let mut ex = Exchange::new(mechanism, &creds).unwrap();
                assert!(
                    matches!(
                        ex.on_challenge(bad),
                        Err(SaslError::Base64 { mechanism: m, ref challenge }) if m == mechanism && challenge == bad
                    ),
                    "{mechanism} {bad:?}"
                );
            }
        }
    }

    #[test]
    fn malformed_json_challenges_are_errors_and_leave_no_server_error() {
        for mechanism in [Mechanism::XOAuth2, Mechanism::OAuthBearer] {
            for bad in [
                "{",
                "[]",
                r#""401""#,
                "{}",
                r#"{"status":null}"#,
                "\u{1}",
                "{\"status\":\"4",
            ] {
                let mut ex = Exchange::new(mechanism, &token("u", "t")).unwrap();
                let result = ex.on_challenge(&b64(bad));
                assert!(
                    matches!(result, Err(SaslError::MalformedServerError { mechanism: m, .. }) if m == mechanism),
                    "{mechanism} {bad:?}: {result:?}"
                );
                assert_eq!(ex.server_error(), None);
            }
            // Bytes that are not even UTF-8.
            let mut ex = Exchange::new(mechanism, &token("u", "t")).unwrap();
            assert!(matches!(
                ex.on_challenge(&STANDARD.encode([0xff, 0xfe, 0x00])),
                Err(SaslError::MalformedServerError { .. })
            ));
        }
    }

    #[test]
    fn surrounding_whitespace_in_a_challenge_is_ignored() {
        let mut ex = Exchange::new(Mechanism::Login, &password("alice", "p")).unwrap();
        assert_eq!(
            decode(&ex.on_challenge(" VXNlcm5hbWU6 \r\n").unwrap().text),
            "alice"
        );
    }

    // --- Construction -------------------------------------------------------------

    #[test]
    fn exchange_refuses_credentials_the_mechanism_cannot_carry() {
        for mechanism in [Mechanism::Plain, Mechanism::Login, Mechanism::CramMd5] {
            assert!(matches!(
                Exchange::new(mechanism, &token("u", "t")),
                Err(SaslError::Unsuitable {
                    credentials: CredentialKind::OAuth2,
                    ..
                })
            ));
        }
        for mechanism in [Mechanism::XOAuth2, Mechanism::OAuthBearer] {
            assert!(matches!(
                Exchange::new(mechanism, &password("u", "p")),
                Err(SaslError::Unsuitable {
                    credentials: CredentialKind::Password,
                    ..
                })
            ));
        }
    }

    #[test]
    fn exchange_refuses_separators_inside_credentials() {
        let cases = [
            (Mechanism::Plain, password("u", "p\0q"), "password"),
            (Mechanism::Plain, password("u\0v", "p"), "username"),
            (Mechanism::XOAuth2, token("u", "t\u{1}auth=x"), "token"),
            (Mechanism::OAuthBearer, token("u\u{1}", "t"), "username"),
        ];
        for (mechanism, creds, expected) in cases {
            match Exchange::new(mechanism, &creds) {
                Err(e @ SaslError::InvalidCredentials { field, .. }) => {
                    assert_eq!(field, expected);
                    assert!(!e.to_string().contains("p\0q"), "{e}");
                }
                other => panic!("{mechanism}: {other:?}"),
            }
        }
        // LOGIN sends each string on its own, so NUL is the server's business.
        assert!(Exchange::new(Mechanism::Login, &password("u", "p\0q")).is_ok());
    }

    #[test]
    fn initial_responses_only_for_client_first_mechanisms() {
        for mechanism in Mechanism::ALL {
            let creds = match mechanism.credential_kind() {
                CredentialKind::Password => password("u", "p"),
                CredentialKind::OAuth2 => token("u", "t"),
            };
            let ex = Exchange::new(mechanism, &creds).unwrap();
            assert_eq!(
                ex.initial_response().is_some(),
                mechanism.client_first(),
                "{mechanism}"
            );
            assert_eq!(ex.mechanism(), mechanism);
        }
        assert!(Mechanism::Plain.client_first());
        assert!(!Mechanism::Login.client_first());
        assert!(!Mechanism::CramMd5.client_first());
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

    // --- Redaction -----------------------------------------------------------------

    const USER: &str = "redaction-user@example.com";
    const SECRET: &str = "Sup3r-Secret-Value/unique+0123456789";

    /// Every base64 run that encodes part of `SECRET` whatever its alignment in a
    /// longer message: the whole encoding and the fully-secret middle of the
    /// encodings at offsets 1 and 2.
    fn secret_fragments() -> Vec<String> {
        let mut fragments = vec![SECRET.to_owned(), b64(SECRET)];
        for offset in 0..3 {
            let mut bytes = vec![b'x'; offset];
            bytes.extend_from_slice(SECRET.as_bytes());
            let encoded = STANDARD.encode(&bytes);
            let inner = &encoded[4..encoded.len() - 4];
            assert!(inner.len() >= 16);
            fragments.push(inner.to_owned());
        }
        fragments
    }

    /// Runs `mechanism` to the end with challenges that make it send everything it
    /// can, returning every response.
    fn full_exchange(mechanism: Mechanism) -> (Exchange, Credentials, Vec<Wire>) {
        let creds = match mechanism.credential_kind() {
            CredentialKind::Password => password(USER, SECRET),
            CredentialKind::OAuth2 => token(USER, SECRET),
        };
        let mut ex = Exchange::new(mechanism, &creds)
            .unwrap()
            .with_server("h", 1);
        let mut wires: Vec<Wire> = ex.initial_response().into_iter().collect();
        let challenges: &[&str] = match mechanism {
            Mechanism::Plain => &[""],
            Mechanism::Login => &["Username:", "Password:"],
            Mechanism::CramMd5 => &["<1896.697170952@postoffice.reston.mci.net>"],
            Mechanism::XOAuth2 | Mechanism::OAuthBearer => &["", r#"{"status":"401"}"#],
        };
        for challenge in challenges {
            wires.push(ex.on_challenge(&b64(challenge)).unwrap());
        }
        (ex, creds, wires)
    }

    #[test]
    fn nothing_shown_ever_contains_the_secret_or_its_base64() {
        let fragments = secret_fragments();
        for mechanism in Mechanism::ALL {
            let (ex, creds, wires) = full_exchange(mechanism);
            let secret_texts: Vec<&str> = wires
                .iter()
                .filter(|w| w.redacted == REDACTED_RESPONSE)
                .map(|w| w.text.as_str())
                .collect();
            assert!(!secret_texts.is_empty(), "{mechanism} sent no secret");
            let mut shown = vec![
                format!("{creds:?}"),
                format!("{ex:?}"),
                creds.secret().to_string(),
            ];
            for wire in &wires {
                shown.push(wire.redacted.clone());
                shown.push(format!("{wire:?}"));
            }
            for text in &shown {
                for needle in fragments
                    .iter()
                    .map(String::as_str)
                    .chain(secret_texts.iter().copied())
                {
                    assert!(
                        !text.contains(needle),
                        "{mechanism}: {text:?} shows {needle:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_secret_does_reach_the_wire() {
        // The redaction test above is only meaningful if the secret is really sent.
        for mechanism in [
            Mechanism::Plain,
            Mechanism::Login,
            Mechanism::XOAuth2,
            Mechanism::OAuthBearer,
        ] {
            let (_, _, wires) = full_exchange(mechanism);
            assert!(
                wires.iter().any(|w| decode(&w.text).contains(SECRET)),
                "{mechanism}"
            );
        }
    }

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
