//! Discovery: from an email address to candidate servers, each keeping where it
//! came from. Sources, in order of trust: the built-in provider table, RFC 6186 /
//! RFC 8314 SRV records, MX-based provider recognition, Mozilla autoconfig, and
//! host-name guesses (as Thunderbird's account setup does).

pub mod address;
pub mod autoconfig;
pub mod dns;
pub mod providers;
pub mod run;

use serde::Serialize;

use crate::model::{Protocol, Security};

/// Which source a candidate or a finding came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// The built-in provider table (by the address's domain).
    Provider,
    /// RFC 6186 / RFC 8314 SRV records.
    Srv,
    /// The domain's MX hosts point at a known provider.
    Mx,
    /// Mozilla autoconfig (config-v1.1.xml).
    Autoconfig,
    /// A host-name guess that resolves (imap., pop3., smtp., mail., the domain).
    Guess,
}

/// What the user types as the username.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UsernameForm {
    /// The full address (alice@example.com).
    Address,
    /// The part before the @ (alice).
    LocalPart,
}

/// How the client authenticates, as sources describe it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// Password, sent in the clear inside TLS (PLAIN/LOGIN).
    PasswordCleartext,
    /// Password, challenge-response (CRAM-MD5 and the like).
    PasswordEncrypted,
    /// OAuth2 bearer token (XOAUTH2/OAUTHBEARER).
    #[serde(rename = "oauth2")]
    OAuth2,
    /// Anything else a source named (NTLM, GSSAPI, client certificate, none).
    Other,
}

/// One server setting a source proposed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting {
    /// Protocol.
    pub protocol: Protocol,
    /// Host name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Security mode.
    pub security: Security,
    /// Username form, when the source says.
    pub username: Option<UsernameForm>,
    /// Authentication, when the source says.
    pub auth: Option<AuthMethod>,
}

/// A service a domain deliberately does not offer (an SRV target of ".").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotOffered {
    /// Protocol.
    pub protocol: Protocol,
    /// Security mode of the service (`_pop3._tcp` is STARTTLS, `_pop3s._tcp` TLS).
    pub security: Security,
    /// The SRV service name, e.g. `_pop3._tcp`.
    pub service: String,
}

/// What one source was asked and what it said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceReport {
    /// The source.
    pub kind: SourceKind,
    /// What was asked: "SRV _imaps._tcp.example.com", a URL, "provider table".
    pub query: String,
    /// What it said, in words ("NXDOMAIN", "mail.example.com:993 (priority 0, weight 1)").
    pub outcome: String,
    /// The settings it proposed.
    pub settings: Vec<Setting>,
    /// SRV only: the service the domain says it deliberately does not offer
    /// (target "."), e.g. POP3 with STARTTLS for `_pop3._tcp`.
    pub not_offered: Option<NotOffered>,
    /// Autoconfig only: the settings came over plain HTTP (they could be forged).
    pub plain_http: bool,
    /// How long it took.
    pub duration_ms: u64,
}

impl SourceReport {
    /// An empty report for `query` on `kind`.
    #[must_use]
    pub fn new(kind: SourceKind, query: String) -> Self {
        SourceReport {
            kind,
            query,
            outcome: String::new(),
            settings: Vec::new(),
            not_offered: None,
            plain_http: false,
            duration_ms: 0,
        }
    }
}
