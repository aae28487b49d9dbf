//! Provider knowledge: what mail providers publish about their POP3, IMAP and
//! SMTP servers, and what a person must know to use them.
//!
//! Two layers, both embedded at build time and used without any network:
//!
//! 1. **The ISPDB snapshot** ([`mod@snapshot`]): Thunderbird's provider database
//!    (`github.com/thunderbird/autoconfig`, about 160 providers and 960
//!    domains) at one pinned commit, converted by `scripts/update-ispdb.py`
//!    into `data/ispdb.toml` (MPL-2.0, as upstream).
//! 2. **The overrides**: `data/providers.toml`, written by hand
//!    for what the ISPDB does not carry (app passwords, OAuth2-only notes,
//!    "POP is off by default", retired host names, MX markers, OAuth2 device
//!    endpoints) and for the few corrections it needs, each with its source, the
//!    date it was checked and, where it differs from the snapshot, a written
//!    reason. A test compares every override with the snapshot and fails on a
//!    difference without a reason, or a reason without a difference.
//!
//! [`all`] is the merged view: one [`Provider`] per override (refining the
//! snapshot entry it names, if any) and one per snapshot entry no override
//! names. Ways in, in the order of trust that [`super`] describes: [`by_domain`]
//! (the address's domain is listed), [`by_mx`] (the domain's MX hosts belong to a
//! provider that hosts other domains), [`by_autodiscover_host`] (the domain's
//! Autodiscover service is a provider's), [`retired_host`] (a host name the user
//! typed is an old name for a current server) and [`oauth2_for`] (how a client
//! signs in with OAuth2). Everything here is pure: no I/O.

mod overrides;
pub mod snapshot;

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use super::domain;
use super::xml::substitute;
use crate::model::Protocol;
use crate::report::AuthMethod;
use crate::report::Note;
use crate::report::Setting;
use crate::report::UsernameForm;
pub use crate::report::{OAuth2Flow, OAuth2Settings};

pub use snapshot::{Snapshot, Source as SnapshotSource};

/// Every key a note may have. Later layers match on these keys (to word a
/// finding, or to explain a refused login), so the set is closed: the tests
/// reject a note whose key is not here.
pub const NOTE_KEYS: &[&str] = &[
    // Password login is switched off; only OAuth2 sign-in works.
    "oauth2_only",
    // The account password is refused; an app-specific password (or OAuth2) works.
    "app_password_required",
    // POP and/or IMAP must be switched on in the web mail settings first.
    "enable_pop_imap_first",
    // An organisation's administrator decides whether POP, IMAP, SMTP AUTH work.
    "admin_must_enable",
    // The provider offers no POP3.
    "no_pop",
    // Mail clients reach the provider only through a local bridge application.
    "bridge_required",
    // The host names depend on the region or data centre of the account.
    "regional_hosts",
];

/// A mail provider: its domains, servers, and what a person must know.
#[derive(Debug, Clone, Serialize)]
pub struct Provider {
    /// Stable identifier: the override's (`outlook`, `gmx_net`), or for a
    /// provider known from the snapshot alone its upstream file (`163.com`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Address domains it serves (lower case, IDNA form); from the ISPDB these
    /// include the MX domains Thunderbird matches (`olc.protection.outlook.com`).
    pub domains: Vec<String>,
    /// Suffixes of MX host names that identify domains it hosts.
    pub mx_suffixes: Vec<String>,
    /// Suffixes of Autodiscover host names that identify it (Microsoft 365's
    /// `autodiscover-s.outlook.com`).
    pub autodiscover_hosts: Vec<String>,
    /// POP3 and IMAP settings, in preference order. Host names may keep the
    /// ISPDB's `%EMAILDOMAIN%`: use [`Provider::settings_for`] for an address.
    pub incoming: Vec<Setting>,
    /// SMTP settings, in preference order (same caveat).
    pub outgoing: Vec<Setting>,
    /// What the user types as the username (a setting may differ; see its own field).
    pub username: UsernameForm,
    /// Ways to sign in, best first.
    pub logins: Vec<SignIn>,
    /// How a client signs in with OAuth2, where the provider offers it.
    pub oauth2: Option<OAuth2Settings>,
    /// Old host names that people still type, and the protocol they were for.
    pub retired: Vec<RetiredHost>,
    /// Things a person must know.
    pub notes: Vec<Note>,
    /// The pages the facts come from (the ISPDB file at the pinned commit
    /// first, for a provider the snapshot knows).
    pub sources: Vec<String>,
    /// When the facts were checked (YYYY-MM-DD): the override's date, or the
    /// snapshot commit's.
    pub checked: String,
    /// The snapshot entry it is based on ([`snapshot::Entry::key`]), if any.
    pub ispdb: Option<String>,
    /// Whether `data/providers.toml` refines or defines it.
    pub overridden: bool,
}

/// A way to sign in that a provider accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SignIn {
    /// OAuth2 sign-in (XOAUTH2/OAUTHBEARER), done by the mail client.
    #[serde(rename = "oauth2")]
    OAuth2,
    /// The account's own password.
    #[serde(rename = "password")]
    Password,
    /// An app-specific password made in the account settings.
    #[serde(rename = "app_password")]
    AppPassword,
    /// The password a local bridge application shows (Proton Mail Bridge).
    #[serde(rename = "bridge_password")]
    BridgePassword,
}

impl SignIn {
    /// How a client authenticates with this kind of login.
    #[must_use]
    pub fn auth_method(self) -> AuthMethod {
        match self {
            SignIn::OAuth2 => AuthMethod::OAuth2,
            SignIn::Password | SignIn::AppPassword | SignIn::BridgePassword => {
                AuthMethod::PasswordCleartext
            }
        }
    }
}

/// An old host name, and the protocol it served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetiredHost {
    /// The old host name.
    pub host: String,
    /// The protocol it served; the provider's current servers of this protocol replace it.
    pub protocol: Protocol,
}

/// What [`retired_host`] found: an old host name and what replaces it.
#[derive(Debug, Clone, Serialize)]
pub struct Retired {
    /// The provider the old name belonged to.
    pub provider: &'static Provider,
    /// The old host name, as the table spells it.
    pub host: &'static str,
    /// The protocol it served.
    pub protocol: Protocol,
    /// The current settings for that protocol, in preference order.
    pub replacements: Vec<&'static Setting>,
}

impl Provider {
    /// Every setting, incoming first (host names as stored: see [`Provider::incoming`]).
    pub fn settings(&self) -> impl Iterator<Item = &Setting> {
        self.incoming.iter().chain(&self.outgoing)
    }

    /// Every setting for `address`, incoming first, placeholders filled in.
    #[must_use]
    pub fn settings_for(&self, address: &str) -> Vec<Setting> {
        self.settings()
            .map(|s| Setting {
                host: substitute(&s.host, address),
                ..s.clone()
            })
            .collect()
    }

    /// The note with this key, if the provider has one.
    #[must_use]
    pub fn note(&self, key: &str) -> Option<&Note> {
        self.notes.iter().find(|n| n.key == key)
    }

    /// Whether the account's own password works in a mail client.
    #[must_use]
    pub fn accepts_account_password(&self) -> bool {
        self.logins.contains(&SignIn::Password)
    }
}

/// Every provider: the overrides in file order, then the snapshot entries no
/// override names, in file-name order.
#[must_use]
pub fn all() -> &'static [Provider] {
    &TABLE.providers
}

/// A host name every working DNS resolves: the first server of the first
/// provider (Outlook.com's), for the diagnosis to look up when nothing else of
/// a run resolved.
#[must_use]
pub fn control_host() -> &'static str {
    all()
        .iter()
        .flat_map(Provider::settings)
        .map(|s| s.host.as_str())
        .next()
        .unwrap_or("outlook.office365.com")
}

/// The pinned ISPDB snapshot, as converted.
#[must_use]
pub fn snapshot() -> &'static Snapshot {
    &TABLE.snapshot
}

/// When the overrides' facts were checked (YYYY-MM-DD).
#[must_use]
pub fn checked_date() -> &'static str {
    &TABLE.checked
}

/// The provider that lists this address domain (case-insensitive, a trailing
/// dot ignored, exact match: `mail.gmail.com` is not `gmail.com`).
#[must_use]
pub fn by_domain(domain: &str) -> Option<&'static Provider> {
    let domain = domain::normalise(domain);
    all().iter().find(|p| p.domains.contains(&domain))
}

/// The provider that hosts a domain whose MX hosts are these, most preferred
/// first. The first MX host that matches decides: first by the overrides' MX
/// suffixes (the longest suffix wins: `gm0.yahoodns.net` is AOL, the rest of
/// `yahoodns.net` Yahoo; a suffix matches the whole host or at a label
/// boundary, so `evilgoogle.com` is not `google.com`), then as Thunderbird does,
/// by the MX host's parent domain or base domain among the listed domains.
#[must_use]
pub fn by_mx(mx_hosts: &[String]) -> Option<&'static Provider> {
    mx_hosts
        .iter()
        .find_map(|host| by_mx_suffix(host).or_else(|| by_mx_domain(host)))
}

fn by_mx_suffix(host: &str) -> Option<&'static Provider> {
    let host = domain::normalise(host);
    all()
        .iter()
        .filter_map(|p| {
            let longest = p
                .mx_suffixes
                .iter()
                .filter(|s| is_label_suffix(&host, s))
                .map(String::len)
                .max()?;
            Some((longest, p))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, p)| p)
}

fn by_mx_domain(host: &str) -> Option<&'static Provider> {
    [domain::parent_domain(host), domain::base_domain(host)]
        .into_iter()
        .flatten()
        .find_map(|d| by_domain(&d))
}

/// The provider whose Autodiscover service runs on `host` (the host of the URL
/// an Autodiscover answer or redirect pointed to), matched on a label boundary.
#[must_use]
pub fn by_autodiscover_host(host: &str) -> Option<&'static Provider> {
    let host = domain::normalise(host);
    all().iter().find(|p| {
        p.autodiscover_hosts
            .iter()
            .any(|s| is_label_suffix(&host, s))
    })
}

/// How a client signs in with OAuth2 for addresses at `domain`, if the
/// provider that lists the domain offers it (ISPDB's `<oAuth2>`, refined by the
/// overrides, e.g. with Microsoft's device authorisation endpoint).
#[must_use]
pub fn oauth2_for(domain: &str) -> Option<&'static OAuth2Settings> {
    by_domain(domain)?.oauth2.as_ref()
}

/// Whether a host name the user typed is an old name for a provider's server,
/// and which current settings replace it (case-insensitive, trailing dot ignored).
#[must_use]
pub fn retired_host(host: &str) -> Option<Retired> {
    let host = domain::normalise(host);
    all().iter().find_map(|provider| {
        let old = provider.retired.iter().find(|r| r.host == host)?;
        let replacements = provider
            .settings()
            .filter(|s| s.protocol == old.protocol)
            .collect();
        Some(Retired {
            provider,
            host: &old.host,
            protocol: old.protocol,
            replacements,
        })
    })
}

/// Whether `host` is `suffix` or ends in `.{suffix}`.
fn is_label_suffix(host: &str, suffix: &str) -> bool {
    host.strip_suffix(suffix)
        .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
}

/// The snapshot, the overrides and the merged providers.
struct Table {
    checked: String,
    snapshot: Snapshot,
    providers: Vec<Provider>,
}

static TABLE: LazyLock<Table> = LazyLock::new(|| {
    let snapshot = snapshot::parse(snapshot::SNAPSHOT_TOML)
        .unwrap_or_else(|e| panic!("data/ispdb.toml does not parse: {e}"));
    let raw = overrides::parse(overrides::OVERRIDES_TOML).unwrap_or_else(|e| {
        panic!("data/providers.toml does not parse: {e}; `cargo test providers` says more")
    });
    let providers = overrides::merge(&snapshot, &raw)
        .unwrap_or_else(|e| panic!("data/providers.toml does not fit data/ispdb.toml: {e}"));
    Table {
        checked: raw.checked,
        snapshot,
        providers,
    }
});

#[cfg(test)]
mod validation;

#[cfg(test)]
mod tests;
