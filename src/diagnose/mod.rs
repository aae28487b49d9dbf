//! Diagnosis: turns a finished run (the [`Report`](crate::report::Report)) into
//! findings a help desk can read out and CI can act on, and into the settings to
//! use, worded for the user's own mail client.
//!
//! Everything here is a pure function of the report: no I/O, no clock. The rules
//! live in [`rules`] (each code is documented in docs/findings.md), the choice of
//! settings in [`recommend`](mod@recommend), the client wording in [`clients`], and
//! the files an administrator can publish in [`export`].

pub mod clients;
pub mod export;
pub mod recommend;
pub mod rules;
#[cfg(test)]
pub(crate) mod testing;

pub use clients::words;
pub use export::{export_autoconfig, export_srv};
pub use recommend::recommend;
pub use rules::findings;

use serde::Serialize;

use crate::model::{Protocol, Security};

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
    /// The combinations involved, as "imap:993:tls@host".
    pub combinations: Vec<String>,
    /// The server's own words, where they matter.
    pub evidence: Vec<String>,
    /// The host the finding is about; `None` for run-level findings (discovery,
    /// notes). Added so findings can be deduplicated and grouped per host.
    pub host: Option<String>,
}

/// Thresholds and preferences for diagnosis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// A certificate with this many days left or fewer is a warning.
    pub warn_days: i64,
    /// A certificate with this many days left or fewer is critical.
    pub crit_days: i64,
    /// Recommend POP3 rather than IMAP for incoming mail (`--prefer pop3`).
    pub prefer_pop3: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            warn_days: 21,
            crit_days: 7,
            prefer_pop3: false,
        }
    }
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

/// Mail clients whose words the recommendation can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Client {
    /// Mozilla Thunderbird.
    Thunderbird,
    /// Microsoft Outlook (classic, desktop).
    Outlook,
    /// Apple Mail on macOS.
    AppleMail,
    /// The Gmail app on Android (other accounts).
    AndroidGmail,
    /// Mail on iPhone and iPad.
    Ios,
    /// Claws Mail.
    Claws,
    /// Neutral words.
    Generic,
}
