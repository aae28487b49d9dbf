//! What discovery learned: the sources consulted, what each proposed, the merged
//! candidates and the provider recognised.

use serde::{Deserialize, Serialize};

use crate::model::{Address, Protocol, Security};

/// Which source a candidate or a finding came from. The order is the order of
/// trust: merged candidates list their sources in it (docs/discovery.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// mailcheck's own provider overrides (`data/providers.toml`), by the
    /// address's domain.
    Provider,
    /// The ISPDB snapshot built into mailcheck (`data/ispdb.toml`), by the
    /// address's domain.
    IspdbSnapshot,
    /// Thunderbird's ISPDB online (`autoconfig.thunderbird.net`), for the
    /// domain and the MX host's parent and base domains.
    Ispdb,
    /// RFC 6186 / RFC 8314 SRV records.
    Srv,
    /// The domain's MX hosts point at a known provider.
    Mx,
    /// Mozilla autoconfig (config-v1.1.xml) from the domain's own web server.
    Autoconfig,
    /// Microsoft Autodiscover v2 (`autodiscover.json`): where the domain's
    /// Autodiscover service is.
    AutodiscoverJson,
    /// Microsoft Autodiscover "POX" (`autodiscover.xml`, the Outlook schema):
    /// the IMAP, POP3 and SMTP settings.
    AutodiscoverPox,
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
    /// Autoconfig and Autodiscover: plain HTTP was involved in getting the
    /// settings (they could have been forged on the way).
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

/// A provider recognised for the address.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderMatch {
    /// Stable id from the table.
    pub id: String,
    /// Display name.
    pub name: String,
    /// How it was recognised: by the address's domain in the overrides
    /// (`provider`) or the ISPDB snapshot (`ispdb_snapshot`), by the domain's MX
    /// hosts (`mx`), or by where its Autodiscover service is
    /// (`autodiscover_json`, `autodiscover_pox`).
    pub via: SourceKind,
    /// What a user must know (OAuth2 only, app passwords, …).
    pub notes: Vec<Note>,
    /// The date the provider's facts were checked: the override's, or the
    /// ISPDB snapshot commit's.
    pub checked: String,
}

/// A merged candidate setting and every source that proposed it.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    /// The setting.
    #[serde(flatten)]
    pub setting: Setting,
    /// Sources that proposed it, most trusted first.
    pub sources: Vec<SourceKind>,
}

/// Everything discovery learned.
#[derive(Debug, Clone, Serialize)]
pub struct Discovery {
    /// The address, with its ASCII domain.
    pub address: Address,
    /// The provider, if recognised.
    pub provider: Option<ProviderMatch>,
    /// Every source consulted, in trust order.
    pub sources: Vec<SourceReport>,
    /// Merged candidates, most trusted first.
    pub candidates: Vec<Candidate>,
    /// Where sources disagree, in words.
    pub disagreements: Vec<String>,
    /// Services the domain says (SRV target ".") it does not offer.
    pub not_offered: Vec<NotOffered>,
    /// Whether the network was used at all.
    pub offline: bool,
    /// Wall time of discovery.
    pub duration_ms: u64,
}

impl Discovery {
    /// The most trusted candidate host for `protocol`.
    #[must_use]
    pub fn host_for(&self, protocol: Protocol) -> Option<&str> {
        self.candidates
            .iter()
            .find(|c| c.setting.protocol == protocol)
            .map(|c| c.setting.host.as_str())
    }
}

/// One thing a person must know about a provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Note {
    /// Stable key, one of [`NOTE_KEYS`](crate::discover::providers::NOTE_KEYS).
    pub key: String,
    /// A short plain sentence.
    pub text: String,
}
