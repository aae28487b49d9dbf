//! What the run means: findings with stable codes, severities, causes and fixes,
//! and the settings to use.

use serde::Serialize;

use crate::model::{Endpoint, Protocol, Security};

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Good news worth saying ("IMAP over SSL/TLS works").
    Ok,
    /// Worth knowing; nothing to fix.
    Info,
    /// Works, but should be fixed (insecure option, certificate expiring soon).
    Warning,
    /// Does not work, or is dangerous.
    Critical,
}

/// One finding: a stable code, a severity, the cause in one sentence, the fix,
/// and the evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable code, documented in docs/findings.md.
    pub code: String,
    /// How much it matters.
    pub severity: Severity,
    /// The cause, in one plain sentence.
    pub cause: String,
    /// What to do.
    pub fix: String,
    /// The combinations involved, each on its host ("imap:993:tls@host").
    pub combinations: Vec<Endpoint>,
    /// The server's own words, where they matter.
    pub evidence: Vec<String>,
    /// The host the finding is about; `None` for run-level findings (discovery,
    /// notes). Added so findings can be deduplicated and grouped per host.
    pub host: Option<String>,
}

/// One recommended setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recommended {
    /// Protocol.
    pub protocol: Protocol,
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Security mode.
    pub security: Security,
    /// Username to type.
    pub username: Option<String>,
    /// Authentication method, in neutral words ("normal password", "OAuth2").
    pub authentication: String,
}

/// The settings to type in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recommendation {
    /// Best working incoming setting (IMAP preferred unless `--prefer pop3`).
    pub incoming: Option<Recommended>,
    /// Best working outgoing setting.
    pub outgoing: Option<Recommended>,
}
