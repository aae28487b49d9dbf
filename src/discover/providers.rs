//! The built-in provider table: what the big mail providers publish about their
//! POP3, IMAP and SMTP servers, and what a person must know to use them.
//!
//! Why a table: DNS alone cannot say that Outlook.com refuses passwords, that GMX
//! wants POP3 and IMAP switched on first, or that `pop3.live.com` was replaced
//! long ago. Those facts come from the providers' own help pages, so they live in
//! a data file, `data/providers.toml`, that records where each fact comes from
//! and when it was checked. The file is embedded at build time and parsed once;
//! the tests below validate it, so a broken table fails `cargo test`, never a
//! user's run.
//!
//! Three ways in, in the order of trust that [`super`] describes:
//! [`by_domain`] (the address's domain is listed), [`by_mx`] (the domain's MX
//! hosts belong to a provider that hosts other domains, such as Microsoft 365 or
//! Google Workspace), and [`retired_host`] (a host name the user typed is an old
//! name for a current server). Everything here is pure: no I/O.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::model::{Protocol, Security};
use crate::report::AuthMethod;
use crate::report::Note;
use crate::report::OAuth2Settings;
use crate::report::Setting;
use crate::report::UsernameForm;

/// The table's text, embedded at build time.
const TABLE_TOML: &str = include_str!("../../data/providers.toml");

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
    /// Stable identifier (`outlook`, `gmx_net`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Address domains it serves (lower case, IDNA form).
    pub domains: Vec<String>,
    /// Suffixes of MX host names that identify domains it hosts.
    pub mx_suffixes: Vec<String>,
    /// POP3 and IMAP settings, in preference order.
    pub incoming: Vec<Setting>,
    /// SMTP settings, in preference order.
    pub outgoing: Vec<Setting>,
    /// What the user types as the username (a setting may differ; see its own field).
    pub username: UsernameForm,
    /// Ways to sign in, best first.
    pub logins: Vec<SignIn>,
    /// How to sign in with OAuth2 (`mailcheck login`), where the table knows.
    pub oauth2: Option<OAuth2Settings>,
    /// Old host names that people still type, and the protocol they were for.
    pub retired: Vec<RetiredHost>,
    /// Things a person must know.
    pub notes: Vec<Note>,
    /// The provider's help pages the facts come from.
    pub sources: Vec<String>,
    /// When the facts were checked (YYYY-MM-DD).
    pub checked: String,
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
    /// Every setting, incoming first.
    pub fn settings(&self) -> impl Iterator<Item = &Setting> {
        self.incoming.iter().chain(&self.outgoing)
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

/// The whole table, in file order.
#[must_use]
pub fn all() -> &'static [Provider] {
    &TABLE.providers
}

/// A host name every working DNS resolves: the first server of the table's
/// first provider. Looked up only when nothing else of a run resolved.
#[must_use]
pub fn control_host() -> &'static str {
    all()
        .iter()
        .flat_map(Provider::settings)
        .map(|s| s.host.as_str())
        .next()
        .unwrap_or("outlook.office365.com")
}

/// When the table's facts were checked (YYYY-MM-DD).
#[must_use]
pub fn checked_date() -> &'static str {
    &TABLE.checked
}

/// The provider that lists this address domain (case-insensitive, a trailing
/// dot ignored, exact match: `mail.gmail.com` is not `gmail.com`).
#[must_use]
pub fn by_domain(domain: &str) -> Option<&'static Provider> {
    let domain = normalise(domain);
    all().iter().find(|p| p.domains.contains(&domain))
}

/// The provider that hosts a domain whose MX hosts are these, most preferred
/// first. The first MX host that matches any provider decides; among providers
/// matching it, the longest suffix wins (`gm0.yahoodns.net` is AOL, the rest of
/// `yahoodns.net` Yahoo). A suffix matches the whole host or a label boundary:
/// `evilgoogle.com` is not `google.com`.
#[must_use]
pub fn by_mx(mx_hosts: &[String]) -> Option<&'static Provider> {
    mx_hosts.iter().find_map(|host| {
        let host = normalise(host);
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
    })
}

/// Whether a host name the user typed is an old name for a provider's server,
/// and which current settings replace it (case-insensitive, trailing dot ignored).
#[must_use]
pub fn retired_host(host: &str) -> Option<Retired> {
    let host = normalise(host);
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

/// The OAuth2 sign-in settings for an address domain (the provider listing it),
/// if the table has them. Domains hosted by Microsoft 365 or Google Workspace are
/// recognised by their MX hosts: see [`by_mx`].
#[must_use]
pub fn oauth2(domain: &str) -> Option<&'static OAuth2Settings> {
    by_domain(domain).and_then(|p| p.oauth2.as_ref())
}

/// Lower case, without a trailing dot: the form the table uses.
fn normalise(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Whether `host` is `suffix` or ends in `.{suffix}`.
fn is_label_suffix(host: &str, suffix: &str) -> bool {
    host.strip_suffix(suffix)
        .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
}

// ---------------------------------------------------------------------------
// Loading: the file's shape, and its conversion into `Provider`s.

/// The parsed table.
struct Table {
    checked: String,
    providers: Vec<Provider>,
}

static TABLE: LazyLock<Table> = LazyLock::new(|| {
    parse(TABLE_TOML).expect(
        "data/providers.toml does not parse; \
         `cargo test providers` names the problem",
    )
});

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    checked: String,
    provider: Vec<RawProvider>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    id: String,
    name: String,
    domains: Vec<String>,
    #[serde(default)]
    mx_suffixes: Vec<String>,
    username: RawUsername,
    logins: Vec<SignIn>,
    oauth2: Option<OAuth2Settings>,
    servers: Vec<RawServer>,
    #[serde(default)]
    retired: Vec<RetiredHost>,
    #[serde(default)]
    notes: Vec<Note>,
    sources: Vec<String>,
    /// A provider checked on another day than the table.
    checked: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    protocol: Protocol,
    host: String,
    port: u16,
    security: Security,
    /// A server whose username differs from the provider's (iCloud IMAP).
    username: Option<RawUsername>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawUsername {
    Address,
    LocalPart,
}

impl From<RawUsername> for UsernameForm {
    fn from(raw: RawUsername) -> Self {
        match raw {
            RawUsername::Address => UsernameForm::Address,
            RawUsername::LocalPart => UsernameForm::LocalPart,
        }
    }
}

/// Parses a table in the format of `data/providers.toml` (without validating it).
fn parse(text: &str) -> Result<Table, toml::de::Error> {
    let raw: RawTable = toml::from_str(text)?;
    let providers = raw
        .provider
        .into_iter()
        .map(|p| p.into_provider(&raw.checked))
        .collect();
    Ok(Table {
        checked: raw.checked,
        providers,
    })
}

impl RawProvider {
    fn into_provider(self, table_checked: &str) -> Provider {
        let username = UsernameForm::from(self.username);
        let auth = self.logins.first().map(|l| l.auth_method());
        let (incoming, outgoing): (Vec<Setting>, Vec<Setting>) = self
            .servers
            .into_iter()
            .map(|s| Setting {
                protocol: s.protocol,
                host: s.host,
                port: s.port,
                security: s.security,
                username: Some(s.username.map_or(username, UsernameForm::from)),
                auth,
            })
            .partition(|s| s.protocol.is_incoming());
        Provider {
            id: self.id,
            name: self.name,
            domains: self.domains,
            mx_suffixes: self.mx_suffixes,
            incoming,
            outgoing,
            username,
            logins: self.logins,
            oauth2: self.oauth2,
            retired: self.retired,
            notes: self.notes,
            sources: self.sources,
            checked: self.checked.unwrap_or_else(|| table_checked.to_owned()),
        }
    }
}

// ---------------------------------------------------------------------------
// Validation: what serde cannot check. Run by the tests on the embedded table.

#[cfg(test)]
mod validation {
    use std::collections::{HashMap, HashSet};
    use std::net::IpAddr;

    use super::{NOTE_KEYS, Provider, SignIn, Table};

    /// Every problem in a parsed table, as sentences; empty when the table is sound.
    pub(super) fn validate(table: &Table) -> Vec<String> {
        let mut problems = Vec::new();
        if !is_date(&table.checked) {
            problems.push(format!(
                "checked date {:?} is not YYYY-MM-DD",
                table.checked
            ));
        }
        let mut ids = HashSet::new();
        let mut domain_owner: HashMap<&str, &str> = HashMap::new();
        let mut mx_owner: HashMap<&str, &str> = HashMap::new();
        let current_hosts: HashSet<&str> = table
            .providers
            .iter()
            .flat_map(|p| p.settings().map(|s| s.host.as_str()))
            .collect();
        let mut retired_seen = HashSet::new();
        for p in &table.providers {
            let mut say = |what: String| problems.push(format!("{}: {what}", p.id));
            if !ids.insert(p.id.as_str()) {
                say("id used twice".into());
            }
            let id_ok = p.id.starts_with(|c: char| c.is_ascii_lowercase())
                && p.id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !id_ok {
                say("id must be lower-case letters, digits and underscores".into());
            }
            for domain in &p.domains {
                if !is_dns_name(domain) {
                    say(format!("domain {domain:?} is not a lower-case DNS name"));
                }
                if let Some(owner) = domain_owner.insert(domain, &p.id) {
                    say(format!("domain {domain} is also listed by {owner}"));
                }
            }
            for suffix in &p.mx_suffixes {
                if !is_dns_name(suffix) {
                    say(format!("MX suffix {suffix:?} is not a lower-case DNS name"));
                }
                if let Some(owner) = mx_owner.insert(suffix, &p.id) {
                    say(format!("MX suffix {suffix} is also listed by {owner}"));
                }
            }
            validate_settings(p, &mut say);
            validate_oauth2(p, &mut say);
            for old in &p.retired {
                if !is_dns_name(&old.host) {
                    say(format!("retired host {:?} is not a DNS name", old.host));
                }
                if current_hosts.contains(old.host.as_str()) {
                    say(format!(
                        "retired host {} is also a current server",
                        old.host
                    ));
                }
                if !retired_seen.insert(old.host.as_str()) {
                    say(format!("retired host {} is listed twice", old.host));
                }
                if !p.settings().any(|s| s.protocol == old.protocol) {
                    say(format!(
                        "retired host {} has no current {}",
                        old.host, old.protocol
                    ));
                }
            }
            validate_notes(p, &mut say);
            if p.sources.is_empty() {
                say("no source URL".into());
            }
            for url in &p.sources {
                if !url.starts_with("https://") || url.contains(char::is_whitespace) {
                    say(format!("source {url:?} is not an https URL"));
                }
            }
            if !is_date(&p.checked) {
                say(format!("checked date {:?} is not YYYY-MM-DD", p.checked));
            }
        }
        problems
    }

    /// Servers: both directions present, ports non-zero, hosts well-formed.
    fn validate_settings(p: &Provider, say: &mut impl FnMut(String)) {
        if p.incoming.is_empty() {
            say("no incoming (POP3 or IMAP) server".into());
        }
        if p.outgoing.is_empty() {
            say("no outgoing (SMTP) server".into());
        }
        if p.logins.is_empty() {
            say("no login method".into());
        }
        let mut seen = HashSet::new();
        for s in p.settings() {
            let at = format!("{} {}:{}", s.protocol, s.host, s.port);
            if s.port == 0 {
                say(format!("{at}: port 0"));
            }
            if !is_dns_name(&s.host) && !is_loopback(&s.host) {
                say(format!(
                    "{at}: host is not a lower-case DNS name or loopback address"
                ));
            }
            if !seen.insert((s.protocol, s.host.as_str(), s.port, s.security)) {
                say(format!("{at}: listed twice"));
            }
        }
    }

    /// OAuth2 settings: only for providers that take OAuth2, every URL https, a
    /// mail scope, endpoints for the flow, sources.
    fn validate_oauth2(p: &Provider, say: &mut impl FnMut(String)) {
        let Some(o) = &p.oauth2 else {
            return;
        };
        if !p.logins.contains(&SignIn::OAuth2) {
            say("oauth2 settings, but oauth2 is not among the logins".into());
        }
        let urls = [
            &o.authorization_url,
            &o.token_url,
            &o.device_url,
            &o.revocation_url,
        ];
        for url in urls.into_iter().flatten().chain([&o.issuer]) {
            if !url.starts_with("https://") || url.contains(char::is_whitespace) {
                say(format!("oauth2 URL {url:?} is not an https URL"));
            }
        }
        if o.mail_scopes().is_empty() {
            say("oauth2 scopes grant no mail access".into());
        }
        if o.authorization_url.is_some() != o.token_url.is_some() {
            say("oauth2 needs both authorization_url and token_url, or neither (discovery)".into());
        }
        if o.flow == crate::report::OAuth2Flow::Device && o.device_url.is_none() {
            say("oauth2 flow is device but there is no device_url".into());
        }
        if o.sources.is_empty() {
            say("oauth2 settings without sources".into());
        }
    }

    /// Notes: known, unique keys; short plain sentences; login restrictions explained.
    fn validate_notes(p: &Provider, say: &mut impl FnMut(String)) {
        let mut keys = HashSet::new();
        for note in &p.notes {
            if !NOTE_KEYS.contains(&note.key.as_str()) {
                say(format!("note key {:?} is not in NOTE_KEYS", note.key));
            }
            if !keys.insert(note.key.as_str()) {
                say(format!("note key {} used twice", note.key));
            }
            if note.text.is_empty() || note.text.len() > 300 || !note.text.ends_with('.') {
                say(format!(
                    "note {}: text must be one short sentence ending in '.'",
                    note.key
                ));
            }
        }
        // Whoever cannot use the account password must be told why.
        let explains = ["oauth2_only", "app_password_required", "bridge_required"];
        if !p.accepts_account_password() && !explains.iter().any(|k| keys.contains(k)) {
            say("account password refused but no note says so".into());
        }
        if p.note("oauth2_only").is_some() && p.logins != [SignIn::OAuth2] {
            say("oauth2_only note, but logins other than oauth2".into());
        }
    }

    /// A lower-case ASCII DNS name with at least two labels (IDNA form for
    /// international names): labels of 1..=63 letters, digits and inner hyphens.
    pub(super) fn is_dns_name(name: &str) -> bool {
        let valid_label = |l: &str| {
            (1..=63).contains(&l.len())
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        name.len() <= 253 && name.contains('.') && name.split('.').all(valid_label)
    }

    /// Whether `host` is a loopback address literal (Proton Mail Bridge's servers).
    pub(super) fn is_loopback(host: &str) -> bool {
        host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// Whether `s` looks like YYYY-MM-DD.
    pub(super) fn is_date(s: &str) -> bool {
        let b = s.as_bytes();
        b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
    }
}

#[cfg(test)]
mod tests {
    use super::validation::{is_date, is_dns_name, is_loopback, validate};
    use super::*;

    fn provider(id: &str) -> &'static Provider {
        all()
            .iter()
            .find(|p| p.id == id)
            .unwrap_or_else(|| panic!("no provider {id}"))
    }

    fn hosts(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn has(settings: &[Setting], protocol: Protocol, host: &str, port: u16, sec: Security) -> bool {
        settings.iter().any(|s| {
            s.protocol == protocol && s.host == host && s.port == port && s.security == sec
        })
    }

    #[test]
    fn table_parses_and_validates() {
        let table = parse(TABLE_TOML).unwrap_or_else(|e| panic!("data/providers.toml: {e}"));
        let problems = validate(&table);
        assert!(
            problems.is_empty(),
            "data/providers.toml:\n{}",
            problems.join("\n")
        );
        assert!(table.providers.len() >= 19);
    }

    #[test]
    fn the_brief_s_providers_are_all_there() {
        for id in [
            "outlook",
            "microsoft365",
            "gmail",
            "google_workspace",
            "yahoo",
            "aol",
            "icloud",
            "gmx_net",
            "gmx_com",
            "webde",
            "zoho",
            "fastmail",
            "proton",
            "yandex",
            "mailru",
            "comcast",
            "orange",
            "tonline",
            "qq",
        ] {
            provider(id);
        }
    }

    #[test]
    fn checked_date_is_recorded() {
        assert_eq!(checked_date(), "2026-11-26");
        assert!(all().iter().all(|p| is_date(&p.checked)));
    }

    #[test]
    fn every_listed_domain_maps_to_its_provider() {
        for p in all() {
            for d in &p.domains {
                assert_eq!(by_domain(d).map(|f| &f.id), Some(&p.id), "{d}");
            }
        }
    }

    #[test]
    fn by_domain_ignores_case_and_a_trailing_dot_but_not_subdomains() {
        assert_eq!(by_domain("GMail.COM.").unwrap().id, "gmail");
        assert_eq!(by_domain("Hotmail.co.uk").unwrap().id, "outlook");
        assert!(by_domain("mail.gmail.com").is_none());
        assert!(by_domain("example.com").is_none());
        assert!(by_domain("").is_none());
    }

    #[test]
    fn settings_carry_username_and_auth() {
        for s in all().iter().flat_map(Provider::settings) {
            assert!(s.username.is_some() && s.auth.is_some(), "{s:?}");
        }
        let icloud = provider("icloud");
        assert_eq!(icloud.incoming[0].username, Some(UsernameForm::LocalPart));
        assert_eq!(icloud.outgoing[0].username, Some(UsernameForm::Address));
        assert_eq!(
            provider("outlook").incoming[0].auth,
            Some(AuthMethod::OAuth2)
        );
        assert_eq!(
            provider("gmx_net").incoming[0].auth,
            Some(AuthMethod::PasswordCleartext)
        );
    }

    #[test]
    fn mx_recognises_hosted_domains() {
        let id = |mx: &[&str]| by_mx(&hosts(mx)).map(|p| p.id.as_str());
        assert_eq!(
            id(&["contoso-com.mail.protection.outlook.com"]),
            Some("microsoft365")
        );
        assert_eq!(
            id(&["outlook-com.olc.protection.outlook.com."]),
            Some("outlook")
        );
        assert_eq!(id(&["aspmx.l.google.com"]), Some("google_workspace"));
        assert_eq!(id(&["ALT1.ASPMX.L.GOOGLE.COM."]), Some("google_workspace"));
        assert_eq!(id(&["smtp.google.com"]), Some("google_workspace"));
        assert_eq!(id(&["aspmx2.googlemail.com"]), Some("google_workspace"));
        assert_eq!(id(&["mta5.am0.yahoodns.net"]), Some("yahoo"));
        assert_eq!(id(&["mx-aol.mail.gm0.yahoodns.net"]), Some("aol"));
        assert_eq!(id(&["in1-smtp.messagingengine.com"]), Some("fastmail"));
        assert_eq!(id(&["mail.protonmail.ch"]), Some("proton"));
        assert_eq!(id(&["mx01.mail.icloud.com"]), Some("icloud"));
    }

    #[test]
    fn mx_rejects_unrelated_hosts_and_partial_labels() {
        let id = |mx: &[&str]| by_mx(&hosts(mx)).map(|p| p.id.as_str());
        assert_eq!(id(&["mx.example.net"]), None);
        assert_eq!(id(&["evilgoogle.com"]), None);
        assert_eq!(id(&["mx.evilgoogle.com"]), None);
        assert_eq!(id(&["google.com.evil.example"]), None);
        assert_eq!(id(&["notyahoodns.net"]), None);
        assert_eq!(id(&[]), None);
        assert_eq!(id(&[""]), None);
    }

    #[test]
    fn mx_the_most_preferred_matching_host_decides() {
        let id = |mx: &[&str]| by_mx(&hosts(mx)).map(|p| p.id.as_str());
        assert_eq!(
            id(&["mx.example.net", "aspmx.l.google.com"]),
            Some("google_workspace")
        );
        assert_eq!(
            id(&[
                "contoso-com.mail.protection.outlook.com",
                "aspmx.l.google.com"
            ]),
            Some("microsoft365")
        );
    }

    #[test]
    fn retired_outlook_hosts_map_to_current_ones() {
        for (old, protocol, new) in [
            ("pop3.live.com", Protocol::Pop3, "outlook.office365.com"),
            (
                "pop-mail.outlook.com",
                Protocol::Pop3,
                "outlook.office365.com",
            ),
            (
                "imap-mail.outlook.com",
                Protocol::Imap,
                "outlook.office365.com",
            ),
            ("smtp.live.com", Protocol::Smtp, "smtp-mail.outlook.com"),
        ] {
            let r = retired_host(old).unwrap_or_else(|| panic!("{old} not retired"));
            assert_eq!(r.provider.id, "outlook");
            assert_eq!(r.protocol, protocol);
            assert_eq!(r.replacements[0].host, new, "{old}");
            assert!(r.replacements.iter().all(|s| s.protocol == protocol));
        }
        assert_eq!(
            retired_host("POP3.Live.com.").unwrap().host,
            "pop3.live.com"
        );
    }

    #[test]
    fn current_hosts_and_families_are_not_retired() {
        // smtp-mail.outlook.com is what Microsoft's Outlook.com page names today.
        for host in [
            "smtp-mail.outlook.com",
            "outlook.office365.com",
            "smtp.office365.com",
            "pop.gmx.net",
            "pop.gmx.com",
            "imap.gmail.com",
            "example.com",
        ] {
            assert!(retired_host(host).is_none(), "{host}");
        }
    }

    #[test]
    fn gmail_spot_checks() {
        let g = provider("gmail");
        assert!(has(
            &g.incoming,
            Protocol::Imap,
            "imap.gmail.com",
            993,
            Security::Tls
        ));
        assert!(has(
            &g.incoming,
            Protocol::Pop3,
            "pop.gmail.com",
            995,
            Security::Tls
        ));
        assert!(has(
            &g.outgoing,
            Protocol::Smtp,
            "smtp.gmail.com",
            465,
            Security::Tls
        ));
        assert!(has(
            &g.outgoing,
            Protocol::Smtp,
            "smtp.gmail.com",
            587,
            Security::StartTls
        ));
        assert_eq!(g.username, UsernameForm::Address);
        assert!(!g.accepts_account_password());
    }

    #[test]
    fn outlook_spot_checks() {
        let o = provider("outlook");
        let note = o.note("oauth2_only").expect("oauth2_only note");
        assert!(note.text.contains("September 2024"));
        assert_eq!(o.logins, [SignIn::OAuth2]);
        assert!(has(
            &o.incoming,
            Protocol::Imap,
            "outlook.office365.com",
            993,
            Security::Tls
        ));
        assert!(has(
            &o.incoming,
            Protocol::Pop3,
            "outlook.office365.com",
            995,
            Security::Tls
        ));
        assert_eq!(o.outgoing[0].host, "smtp-mail.outlook.com");
        assert_eq!(
            (o.outgoing[0].port, o.outgoing[0].security),
            (587, Security::StartTls)
        );
        let m = provider("microsoft365");
        assert_eq!(m.outgoing[0].host, "smtp.office365.com");
        assert!(m.note("oauth2_only").is_some());
    }

    #[test]
    fn gmx_families_use_their_own_hosts() {
        let com = by_domain("gmx.co.uk").unwrap();
        assert_eq!(com.id, "gmx_com");
        assert!(com.settings().all(|s| s.host.ends_with(".gmx.com")));
        let net = by_domain("gmx.de").unwrap();
        assert_eq!(net.id, "gmx_net");
        assert!(net.settings().all(|s| s.host.ends_with(".gmx.net")));
        assert!(net.note("enable_pop_imap_first").is_some());
    }

    #[test]
    fn proton_points_at_the_local_bridge() {
        let p = provider("proton");
        assert!(has(
            &p.incoming,
            Protocol::Imap,
            "127.0.0.1",
            1143,
            Security::StartTls
        ));
        assert!(has(
            &p.outgoing,
            Protocol::Smtp,
            "127.0.0.1",
            1025,
            Security::StartTls
        ));
        assert!(p.note("bridge_required").is_some());
        assert!(p.note("no_pop").is_some());
    }

    #[test]
    fn icloud_has_no_pop() {
        let i = provider("icloud");
        assert!(i.incoming.iter().all(|s| s.protocol == Protocol::Imap));
        assert!(i.note("no_pop").is_some());
    }

    #[test]
    fn serialises_to_json() {
        let json = serde_json::to_value(provider("gmail")).unwrap();
        assert_eq!(json["id"], "gmail");
        assert_eq!(json["incoming"][0]["security"], "tls");
        assert_eq!(json["username"], "address");
        assert_eq!(json["logins"][0], "oauth2");
    }

    const GOOD_ENTRY: &str = r#"
        [[provider]]
        id = "a"
        name = "A"
        domains = ["a.example"]
        username = "address"
        logins = ["password"]
        servers = [
          { protocol = "imap", host = "imap.a.example", port = 993, security = "tls" },
          { protocol = "smtp", host = "smtp.a.example", port = 587, security = "starttls" },
        ]
        sources = ["https://a.example/help"]
    "#;

    fn problems(extra: &str) -> Vec<String> {
        let text = format!("checked = \"2026-11-26\"\n{GOOD_ENTRY}\n{extra}");
        validate(&parse(&text).unwrap())
    }

    #[test]
    fn validation_accepts_a_sound_entry() {
        assert_eq!(problems(""), Vec::<String>::new());
    }

    #[test]
    fn validation_rejects_broken_entries() {
        let entry = |body: &str| format!("[[provider]]\nid = \"b\"\nname = \"B\"\n{body}");
        let base = r#"username = "address"
            logins = ["password"]
            sources = ["https://b.example/"]"#;
        let imap =
            r#"{ protocol = "imap", host = "imap.b.example", port = 993, security = "tls" }"#;
        let smtp =
            r#"{ protocol = "smtp", host = "smtp.b.example", port = 465, security = "tls" }"#;
        let cases = [
            (format!("domains = [\"a.example\"]\n{base}\nservers = [{imap}, {smtp}]"), "also listed by a"),
            (format!("domains = [\"B.example\"]\n{base}\nservers = [{imap}, {smtp}]"), "not a lower-case DNS name"),
            (format!("domains = [\"b.example\", \"b.example\"]\n{base}\nservers = [{imap}, {smtp}]"), "also listed by b"),
            (format!("domains = []\n{base}\nservers = [{imap}]"), "no outgoing"),
            (format!("domains = []\n{base}\nservers = [{smtp}]"), "no incoming"),
            (
                format!("domains = []\n{base}\nservers = [{imap}, {{ protocol = \"smtp\", host = \"smtp.b.example\", port = 0, security = \"tls\" }}]"),
                "port 0",
            ),
            (
                format!("domains = []\n{base}\nservers = [{imap}, {{ protocol = \"smtp\", host = \"smtp_b.example\", port = 25, security = \"plain\" }}]"),
                "host is not",
            ),
            (
                format!("domains = []\n{base}\nservers = [{imap}, {smtp}]\nnotes = [{{ key = \"be_careful\", text = \"Careful.\" }}]"),
                "not in NOTE_KEYS",
            ),
            (
                "domains = []\nusername = \"address\"\nlogins = [\"oauth2\"]\nsources = [\"https://b.example/\"]\n".to_owned()
                    + &format!("servers = [{imap}, {smtp}]"),
                "no note says so",
            ),
            (
                format!("domains = []\nusername = \"address\"\nlogins = [\"password\"]\nsources = []\nservers = [{imap}, {smtp}]"),
                "no source URL",
            ),
            (
                format!("domains = []\n{base}\nservers = [{imap}, {smtp}]\nretired = [{{ host = \"imap.a.example\", protocol = \"imap\" }}]"),
                "also a current server",
            ),
        ];
        for (body, expected) in cases {
            let found = problems(&entry(&body));
            assert!(
                found.iter().any(|p| p.contains(expected)),
                "expected {expected:?} for\n{body}\ngot {found:?}"
            );
        }
    }

    #[test]
    fn parsing_rejects_unknown_modes_fields_and_big_ports() {
        let with = |server: &str| {
            format!(
                "checked = \"2026-11-26\"\n[[provider]]\nid = \"c\"\nname = \"C\"\ndomains = []\n\
                 username = \"address\"\nlogins = [\"password\"]\nsources = [\"https://c.example/\"]\n\
                 servers = [{server}]"
            )
        };
        for bad in [
            r#"{ protocol = "imap", host = "i.c.example", port = 993, security = "ssl" }"#,
            r#"{ protocol = "imap4", host = "i.c.example", port = 993, security = "tls" }"#,
            r#"{ protocol = "imap", host = "i.c.example", port = 65536, security = "tls" }"#,
            r#"{ protocol = "imap", host = "i.c.example", port = 993, security = "tls", ssl = true }"#,
        ] {
            assert!(parse(&with(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn dns_name_rules() {
        for good in [
            "gmail.com",
            "t-online.de",
            "mein.gmx",
            "xn--bcher-kva.example",
            "a1.b2.c3",
        ] {
            assert!(is_dns_name(good), "{good}");
        }
        for bad in [
            "",
            "com",
            "Gmail.com",
            "-a.com",
            "a-.com",
            "a..com",
            "a.com.",
            "bücher.de",
            "a_b.com",
        ] {
            assert!(!is_dns_name(bad), "{bad}");
        }
        assert!(is_loopback("127.0.0.1") && is_loopback("::1"));
        assert!(!is_loopback("192.0.2.1") && !is_loopback("localhost"));
    }
}
