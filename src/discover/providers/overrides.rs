//! The override layer, `data/providers.toml`: written by hand, on top of the
//! ISPDB snapshot, for what the ISPDB does not carry and for its few mistakes.
//!
//! An override either refines one snapshot entry (`ispdb = "hotmail.com"`, the
//! upstream file name without `.xml`) or stands alone (`unlinked = "why"`, e.g.
//! Proton Mail, whose servers are a local bridge). Fields the snapshot also
//! has (`name`, `domains`, `servers`, `username`, `oauth2`) are inherited when
//! left out; an override that states one anyway must give the reason in
//! `differs`, and the tests ([`super::validation`]) fail on a difference
//! without a reason and on a reason without a difference, so an update of the
//! snapshot shows every correction it makes obsolete.

use std::collections::HashSet;

use serde::Deserialize;

use super::snapshot::{self, Entry, Snapshot};
use super::{OAuth2Flow, OAuth2Settings, Provider, RetiredHost, SignIn};
use crate::model::{Protocol, Security};
use crate::report::{Note, Setting, UsernameForm};

/// The overrides' text, embedded at build time.
pub(super) const OVERRIDES_TOML: &str = include_str!("../../../data/providers.toml");

/// The whole override file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Overrides {
    /// When the facts were checked, unless an entry says otherwise.
    pub checked: String,
    #[serde(rename = "provider")]
    pub entries: Vec<Override>,
}

/// One override, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Override {
    pub id: String,
    pub name: Option<String>,
    /// The snapshot entry refined (its upstream file name without `.xml`).
    pub ispdb: Option<String>,
    /// Why no snapshot entry fits (required without `ispdb`).
    pub unlinked: Option<String>,
    pub domains: Option<Vec<String>>,
    #[serde(default)]
    pub mx_suffixes: Vec<String>,
    #[serde(default)]
    pub autodiscover_hosts: Vec<String>,
    pub username: Option<RawUsername>,
    pub logins: Vec<SignIn>,
    pub servers: Option<Vec<RawServer>>,
    #[serde(default)]
    pub retired: Vec<RetiredHost>,
    /// Replaces the snapshot's notes when given.
    pub notes: Option<Vec<Note>>,
    pub oauth2: Option<RawOAuth2>,
    pub sources: Vec<String>,
    pub checked: Option<String>,
    /// Read by the override test only (see [`Differs`]).
    #[cfg_attr(not(test), allow(dead_code))]
    #[serde(default)]
    pub differs: Differs,
}

/// Why an override states a field differently from the snapshot. Only the
/// override test reads it ([`super::validation`]); a build keeps it so that a
/// reason is parsed (and a misspelt field refused) on every run.
#[cfg_attr(not(test), allow(dead_code))]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Differs {
    pub name: Option<String>,
    pub domains: Option<String>,
    pub servers: Option<String>,
    pub username: Option<String>,
    pub oauth2: Option<String>,
}

/// A server as an override writes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    pub protocol: Protocol,
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// A server whose username differs from the provider's (iCloud IMAP).
    pub username: Option<RawUsername>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum RawUsername {
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

/// OAuth2 facts an override adds or corrects; missing fields are the snapshot's.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOAuth2 {
    pub issuer: Option<String>,
    pub scope: Option<String>,
    pub auth_url: Option<String>,
    pub token_url: Option<String>,
    pub device_authorization_url: Option<String>,
    /// The client registration family (the client configuration file's table);
    /// the issuer's host when left out.
    pub id: Option<String>,
    /// The token revocation endpoint (RFC 7009).
    pub revocation_url: Option<String>,
    /// The flow `mailcheck login` uses unless told; the device flow where there
    /// is a device endpoint, else the browser flow.
    pub flow: Option<OAuth2Flow>,
    /// The loopback redirect's host, where the provider only accepts `localhost`.
    pub redirect_host: Option<String>,
    /// Whether the token endpoint wants the registration's client secret.
    #[serde(default)]
    pub client_secret: bool,
    #[serde(default)]
    pub sources: Vec<String>,
}

/// Parses an override file (without checking it against the snapshot).
pub(super) fn parse(text: &str) -> Result<Overrides, toml::de::Error> {
    toml::from_str(text)
}

/// The merged providers: each override (on its snapshot entry, if it names
/// one), then every snapshot entry no override names. Fails only when an
/// override names no entry, or leaves out what nothing else supplies.
pub(super) fn merge(snapshot: &Snapshot, overrides: &Overrides) -> Result<Vec<Provider>, String> {
    let mut out = Vec::new();
    for o in &overrides.entries {
        let entry =
            match (&o.ispdb, &o.unlinked) {
                (Some(key), _) => Some(snapshot.entry(key).ok_or_else(|| {
                    format!("{}: ispdb entry {key:?} is not in the snapshot", o.id)
                })?),
                (None, Some(why)) if !why.trim().is_empty() => None,
                (None, _) => {
                    return Err(format!("{}: neither ispdb nor an unlinked reason", o.id));
                }
            };
        out.push(o.provider(entry, &overrides.checked, &snapshot.source)?);
    }
    let linked: HashSet<&str> = overrides
        .entries
        .iter()
        .filter_map(|o| o.ispdb.as_deref())
        .collect();
    out.extend(
        snapshot
            .entries
            .iter()
            .filter(|e| !linked.contains(e.key()))
            .map(|e| from_entry(e, &snapshot.source)),
    );
    Ok(out)
}

impl Override {
    fn provider(
        &self,
        entry: Option<&Entry>,
        table_checked: &str,
        source: &snapshot::Source,
    ) -> Result<Provider, String> {
        let missing = |field: &str| format!("{}: no {field} here or in the snapshot", self.id);
        let name = self
            .name
            .clone()
            .or_else(|| entry.map(|e| e.name.clone()))
            .ok_or_else(|| missing("name"))?;
        let domains = self
            .domains
            .clone()
            .or_else(|| entry.map(|e| e.domains.clone()))
            .ok_or_else(|| missing("domains"))?;
        let username = self
            .username
            .map(UsernameForm::from)
            .or_else(|| entry.map(entry_username))
            .ok_or_else(|| missing("username"))?;
        let settings = match (&self.servers, entry) {
            (Some(servers), _) => self.own_settings(servers, username),
            (None, Some(e)) => e.servers.iter().map(snapshot::Server::template).collect(),
            (None, None) => return Err(missing("servers")),
        };
        let (incoming, outgoing) = settings.into_iter().partition(|s| s.protocol.is_incoming());
        let mut sources: Vec<String> = entry.map(|e| entry_url(e, source)).into_iter().collect();
        sources.extend(self.sources.iter().cloned());
        Ok(Provider {
            id: self.id.clone(),
            name,
            domains,
            mx_suffixes: self.mx_suffixes.clone(),
            autodiscover_hosts: self.autodiscover_hosts.clone(),
            incoming,
            outgoing,
            username,
            logins: self.logins.clone(),
            oauth2: self.oauth2_settings(entry, source),
            retired: self.retired.clone(),
            notes: self
                .notes
                .clone()
                .unwrap_or_else(|| entry.map(entry_notes).unwrap_or_default()),
            sources,
            checked: self
                .checked
                .clone()
                .unwrap_or_else(|| table_checked.to_owned()),
            ispdb: self.ispdb.clone(),
            overridden: true,
        })
    }

    /// The override's own servers, with the provider's username form and the
    /// authentication of its best login.
    fn own_settings(&self, servers: &[RawServer], username: UsernameForm) -> Vec<Setting> {
        let auth = self.logins.first().map(|l| l.auth_method());
        servers
            .iter()
            .map(|s| Setting {
                protocol: s.protocol,
                host: s.host.clone(),
                port: s.port,
                security: s.security,
                username: Some(s.username.map_or(username, UsernameForm::from)),
                auth,
            })
            .collect()
    }

    /// The snapshot's `<oAuth2>` with the override's fields on top; `None`
    /// unless all four required fields are known from one or the other.
    fn oauth2_settings(
        &self,
        entry: Option<&Entry>,
        source: &snapshot::Source,
    ) -> Option<OAuth2Settings> {
        let base = entry.and_then(|e| e.oauth2.as_ref());
        let own = self.oauth2.clone().unwrap_or_default();
        let pick =
            |mine: &Option<String>, theirs: Option<&String>| mine.clone().or(theirs.cloned());
        let scope = pick(&own.scope, base.map(|b| &b.scope))?;
        let mut sources: Vec<String> = base
            .and(entry)
            .map(|e| entry_url(e, source))
            .into_iter()
            .collect();
        sources.extend(own.sources.iter().cloned());
        let issuer = pick(&own.issuer, base.map(|b| &b.issuer))?;
        let device_url = own.device_authorization_url.clone();
        Some(OAuth2Settings {
            id: own.id.clone().unwrap_or_else(|| issuer_host(&issuer)),
            issuer: issuer_url(&issuer),
            scopes: scope.split_whitespace().map(str::to_owned).collect(),
            authorization_url: Some(pick(&own.auth_url, base.map(|b| &b.auth_url))?),
            token_url: Some(pick(&own.token_url, base.map(|b| &b.token_url))?),
            flow: own.flow.unwrap_or(default_flow(device_url.as_ref())),
            device_url,
            revocation_url: own.revocation_url.clone(),
            redirect_host: own
                .redirect_host
                .clone()
                .unwrap_or_else(|| crate::report::LOOPBACK_REDIRECT_HOST.to_owned()),
            client_secret: own.client_secret,
            sources,
        })
    }
}

/// The ISPDB names an issuer by its host; an override may give the URL.
fn issuer_url(issuer: &str) -> String {
    if issuer.contains("://") {
        issuer.to_owned()
    } else {
        format!("https://{issuer}")
    }
}

/// The host of an issuer given as a host or a URL.
fn issuer_host(issuer: &str) -> String {
    let rest = issuer.split_once("://").map_or(issuer, |(_, rest)| rest);
    rest.split(['/', ':']).next().unwrap_or(rest).to_owned()
}

/// Without a stated flow: the device flow where the provider has the endpoint.
fn default_flow(device_url: Option<&String>) -> OAuth2Flow {
    if device_url.is_some() {
        OAuth2Flow::Device
    } else {
        OAuth2Flow::Browser
    }
}

/// A provider known from the snapshot alone.
fn from_entry(e: &Entry, source: &snapshot::Source) -> Provider {
    let (incoming, outgoing) = e
        .servers
        .iter()
        .map(snapshot::Server::template)
        .partition(|s: &Setting| s.protocol.is_incoming());
    let mut sources = vec![entry_url(e, source)];
    sources.extend(e.documentation.iter().cloned());
    Provider {
        id: e.key().to_owned(),
        name: e.name.clone(),
        domains: e.domains.clone(),
        mx_suffixes: Vec::new(),
        autodiscover_hosts: Vec::new(),
        incoming,
        outgoing,
        username: entry_username(e),
        logins: entry_logins(e),
        oauth2: e.oauth2.as_ref().map(|o| OAuth2Settings {
            id: issuer_host(&o.issuer),
            issuer: issuer_url(&o.issuer),
            scopes: o.scope.split_whitespace().map(str::to_owned).collect(),
            authorization_url: Some(o.auth_url.clone()),
            token_url: Some(o.token_url.clone()),
            device_url: None,
            revocation_url: None,
            flow: OAuth2Flow::Browser,
            redirect_host: crate::report::LOOPBACK_REDIRECT_HOST.to_owned(),
            client_secret: false,
            sources: vec![entry_url(e, source)],
        }),
        retired: Vec::new(),
        notes: entry_notes(e),
        sources,
        checked: source.date.clone(),
        ispdb: Some(e.key().to_owned()),
        overridden: false,
    }
}

/// The upstream file at the pinned commit.
pub(super) fn entry_url(e: &Entry, source: &snapshot::Source) -> String {
    format!(
        "{}/blob/{}/ispdb/{}",
        source.repository, source.commit, e.file
    )
}

/// The username form of the entry's first server that states one.
pub(super) fn entry_username(e: &Entry) -> UsernameForm {
    e.servers
        .iter()
        .find_map(|s| s.template().username)
        .unwrap_or(UsernameForm::Address)
}

/// Sign-in ways from the `<authentication>` values, in the file's order.
fn entry_logins(e: &Entry) -> Vec<SignIn> {
    let mut out = Vec::new();
    for value in e.servers.iter().flat_map(|s| &s.auth) {
        let login = match value.to_ascii_lowercase().as_str() {
            "oauth2" => SignIn::OAuth2,
            "password-cleartext" | "password-encrypted" | "plain" | "secure" => SignIn::Password,
            _ => continue,
        };
        if !out.contains(&login) {
            out.push(login);
        }
    }
    if out.is_empty() {
        out.push(SignIn::Password);
    }
    out
}

/// `<enable>`: access for mail clients must be switched on first.
pub(super) fn entry_notes(e: &Entry) -> Vec<Note> {
    let Some(enable) = &e.enable else {
        return Vec::new();
    };
    let instruction = enable.instruction.trim().trim_end_matches(['.', '!', ' ']);
    let text = if instruction.is_empty() {
        format!(
            "Access for mail clients must first be switched on in the account's web settings (see {}).",
            enable.url
        )
    } else {
        format!("{instruction} (see {}).", enable.url)
    };
    vec![Note {
        key: "enable_pop_imap_first".into(),
        text,
    }]
}
