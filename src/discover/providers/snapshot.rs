//! The pinned ISPDB snapshot: Thunderbird's provider database at one upstream
//! commit, converted by `scripts/update-ispdb.py` into `data/ispdb.toml` (which
//! stays under the Mozilla Public License 2.0, as its header says).
//!
//! It is the base of mailcheck's provider knowledge and a discovery source of
//! its own ("ISPDB snapshot" and the commit); the hand-written overrides in
//! `data/providers.toml` refine it. Host names and
//! usernames keep the ISPDB's `%EMAIL…%` placeholders until an address fills
//! them in ([`Entry::settings_for`]).

use serde::{Deserialize, Serialize};

use crate::discover::xml::{auth_method, substitute, username_form};
use crate::model::{Protocol, Security};
use crate::report::Setting;

/// The snapshot's text, embedded at build time.
pub(super) const SNAPSHOT_TOML: &str = include_str!("../../../data/ispdb.toml");

/// The whole snapshot.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// Where it came from.
    pub source: Source,
    /// One entry per upstream file, in file-name order.
    #[serde(rename = "provider")]
    pub entries: Vec<Entry>,
}

/// The upstream repository and commit the snapshot was converted from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The repository (`https://github.com/thunderbird/autoconfig`).
    pub repository: String,
    /// The full commit id.
    pub commit: String,
    /// The commit's date (YYYY-MM-DD).
    pub date: String,
    /// How many provider files it holds.
    pub files: usize,
    /// How many domains they list.
    pub domains: usize,
}

impl Source {
    /// The commit as people quote it: its first 12 hex digits.
    #[must_use]
    pub fn short_commit(&self) -> &str {
        self.commit.get(..12).unwrap_or(&self.commit)
    }
}

/// One upstream file: a provider as the ISPDB describes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The upstream file name (`hotmail.com.xml`).
    pub file: String,
    /// `<emailProvider id>` (not unique upstream: six Zoho files say `zoho.com`).
    pub id: String,
    /// `<displayName>`.
    pub name: String,
    /// Every `<domain>`, lower case; address domains and MX domains alike.
    pub domains: Vec<String>,
    /// The IMAP, POP3 and SMTP servers, in the file's order of preference.
    pub servers: Vec<Server>,
    /// `<documentation url>`.
    #[serde(default)]
    pub documentation: Vec<String>,
    /// `<enable>`: something the user must switch on first.
    pub enable: Option<Enable>,
    /// `<oAuth2>`.
    pub oauth2: Option<RawOAuth2>,
}

/// One server of an entry, placeholders kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// IMAP, POP3 or SMTP.
    pub protocol: Protocol,
    /// Host name, possibly with `%EMAILDOMAIN%`.
    pub host: String,
    /// Port.
    pub port: u16,
    /// `socketType`: SSL is implicit TLS.
    pub security: Security,
    /// `<username>`, e.g. `%EMAILADDRESS%`.
    pub username: Option<String>,
    /// Every `<authentication>` value, in order.
    #[serde(default)]
    pub auth: Vec<String>,
}

/// `<enable visiturl>` and its instruction.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enable {
    /// The page where it is switched on.
    pub url: String,
    /// The English instruction.
    pub instruction: String,
}

/// The ISPDB's `<oAuth2>` element, as written there.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOAuth2 {
    /// `<issuer>`: the host name of the authorisation server.
    pub issuer: String,
    /// `<scope>`: space-separated scopes.
    pub scope: String,
    /// `<authURL>`.
    pub auth_url: String,
    /// `<tokenURL>`.
    pub token_url: String,
}

impl Server {
    /// The setting with placeholders kept, read as the autoconfig parser reads
    /// the same XML: the first understood authentication value wins, and only
    /// the two username placeholders say a form.
    #[must_use]
    pub fn template(&self) -> Setting {
        Setting {
            protocol: self.protocol,
            host: self.host.clone(),
            port: self.port,
            security: self.security,
            username: self.username.as_deref().and_then(username_form),
            auth: self.auth.iter().find_map(|a| auth_method(a)),
        }
    }

    /// The setting for `address`: [`Server::template`] with the host name's
    /// placeholders filled in.
    #[must_use]
    pub fn setting_for(&self, address: &str) -> Setting {
        let mut s = self.template();
        s.host = substitute(&self.host, address);
        s
    }
}

impl Entry {
    /// The file name without `.xml`: the entry's unique key (`hotmail.com`).
    #[must_use]
    pub fn key(&self) -> &str {
        self.file.strip_suffix(".xml").unwrap_or(&self.file)
    }

    /// Every server for `address`, in the file's order.
    #[must_use]
    pub fn settings_for(&self, address: &str) -> Vec<Setting> {
        self.servers
            .iter()
            .map(|s| s.setting_for(address))
            .collect()
    }
}

impl Snapshot {
    /// The entry that lists `domain` (lower case, no trailing dot, exact).
    #[must_use]
    pub fn by_domain(&self, domain: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.domains.iter().any(|d| d == domain))
    }

    /// The entry of an upstream file, by [`Entry::key`].
    #[must_use]
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key() == key)
    }
}

/// Parses a snapshot in the format of `data/ispdb.toml`.
pub(super) fn parse(text: &str) -> Result<Snapshot, toml::de::Error> {
    toml::from_str(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{AuthMethod, UsernameForm};

    fn snapshot() -> Snapshot {
        parse(SNAPSHOT_TOML).unwrap_or_else(|e| panic!("data/ispdb.toml: {e}"))
    }

    #[test]
    fn the_snapshot_parses_and_records_its_commit() {
        let s = snapshot();
        assert_eq!(s.source.commit.len(), 40);
        assert!(s.source.commit.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(s.source.files, s.entries.len());
        let domains: usize = s.entries.iter().map(|e| e.domains.len()).sum();
        assert_eq!(s.source.domains, domains);
        assert!(s.entries.len() >= 150 && domains >= 900, "{domains}");
    }

    #[test]
    fn keys_are_unique_and_domains_listed_once() {
        let s = snapshot();
        let mut keys = std::collections::HashSet::new();
        let mut domains = std::collections::HashSet::new();
        for e in &s.entries {
            assert!(keys.insert(e.key()), "{}", e.file);
            for d in &e.domains {
                assert!(domains.insert(d.as_str()), "{d} listed twice");
            }
        }
    }

    #[test]
    fn placeholders_are_filled_in_for_an_address() {
        let s = snapshot();
        let e = s.by_domain("inbox.lv").expect("inbox.lv");
        let settings = e.settings_for("anna@inbox.lv");
        assert!(
            settings.iter().all(|s| s.host == "mail.inbox.lv"),
            "{settings:?}"
        );
        let t = e.servers[0].template();
        assert_eq!(t.host, "mail.%EMAILDOMAIN%");
    }

    #[test]
    fn username_and_authentication_read_as_the_autoconfig_parser_does() {
        let s = snapshot();
        let jp = s
            .by_domain("yahoo.co.jp")
            .unwrap()
            .settings_for("taro@yahoo.co.jp");
        assert_eq!(jp[0].username, Some(UsernameForm::LocalPart));
        assert_eq!(jp[0].auth, Some(AuthMethod::PasswordCleartext));
        let gmail = s
            .by_domain("gmail.com")
            .unwrap()
            .settings_for("a@gmail.com");
        assert_eq!(
            gmail[0].auth,
            Some(AuthMethod::OAuth2),
            "OAuth2 is listed first"
        );
        assert_eq!(gmail[0].username, Some(UsernameForm::Address));
    }

    #[test]
    fn short_commit_is_twelve_digits() {
        assert_eq!(snapshot().source.short_commit().len(), 12);
    }
}
