//! Diagnosis: turns what a run observed (the [`Run`](crate::report::Run)) into
//! findings a help desk can read out and CI can act on, and into the settings to
//! use, worded for the user's own mail client.
//!
//! Everything here is a pure function of its input: no I/O, no clock. The rules
//! live in [`findings`](mod@findings) (each code is documented in docs/findings.md), the choice of
//! settings in [`recommend`](mod@recommend), the client wording in [`clients`],
//! what a refused login means in [`refusals`] (and an OAuth2 refusal in
//! [`oauth2`](mod@oauth2)), and the files an administrator can publish in
//! [`export`](mod@export).

pub mod clients;
pub mod export;
pub mod findings;
pub mod oauth2;
pub mod recommend;
pub mod refusals;
#[cfg(test)]
pub(crate) mod testing;
pub mod verdict;

pub use clients::words;
pub use export::{Export, export, export_autoconfig, export_srv};
pub use findings::findings;
pub use recommend::recommend;
pub use verdict::verdict;

use serde::Serialize;

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

/// Mail clients whose words the recommendation can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
