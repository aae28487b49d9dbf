//! Validation of the provider data: what serde cannot check. Run by the tests
//! on the embedded files, so a broken table fails `cargo test`, never a user's
//! run.
//!
//! [`validate`] checks the merged providers (syntax of names, ports, notes,
//! duplicates, retired names); [`compare`] is the override test: every field an
//! override states that the snapshot also has must differ from the snapshot
//! and carry a written reason in `differs`, and every reason must still
//! explain a difference.

#![cfg(test)]

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use super::overrides::{Override, Overrides, RawServer};
use super::snapshot::{Entry, Snapshot};
use super::{NOTE_KEYS, OAuth2Flow, Provider, SignIn};
use crate::discover::fetch::is_https;
use crate::discover::xml::substitute;
use crate::report::UsernameForm;

/// Every problem in the merged providers, as sentences; empty when sound.
pub(super) fn validate(checked: &str, providers: &[Provider]) -> Vec<String> {
    let mut problems = Vec::new();
    if !is_date(checked) {
        problems.push(format!("checked date {checked:?} is not YYYY-MM-DD"));
    }
    let mut ids = HashSet::new();
    let mut domain_owner: HashMap<&str, &str> = HashMap::new();
    let mut mx_owner: HashMap<&str, &str> = HashMap::new();
    for p in providers {
        let mut say = |what: String| problems.push(format!("{}: {what}", p.id));
        if !ids.insert(p.id.as_str()) {
            say("id used twice".into());
        }
        if p.overridden && !is_override_id(&p.id) {
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
        for suffix in p.mx_suffixes.iter().chain(&p.autodiscover_hosts) {
            if !is_dns_name(suffix) {
                say(format!(
                    "host suffix {suffix:?} is not a lower-case DNS name"
                ));
            }
        }
        for suffix in &p.mx_suffixes {
            if let Some(owner) = mx_owner.insert(suffix, &p.id) {
                say(format!("MX suffix {suffix} is also listed by {owner}"));
            }
        }
        validate_settings(p, &mut say);
        validate_sources(p, &mut say);
        validate_notes(p, &mut say);
    }
    validate_retired(providers, &mut problems);
    problems
}

fn is_override_id(id: &str) -> bool {
    id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Servers: both directions present, ports non-zero, hosts well-formed (once
/// an address fills in the ISPDB's placeholders).
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
        let host = substitute(&s.host, "someone@example.com");
        if !is_dns_name(&host) && !is_loopback(&host) {
            say(format!(
                "{at}: host is not a lower-case DNS name or loopback address"
            ));
        }
        if !seen.insert((s.protocol, s.host.as_str(), s.port, s.security)) {
            say(format!("{at}: listed twice"));
        }
    }
    validate_oauth2(p, say);
}

/// OAuth2 settings: every URL https, a mail scope, the endpoints for the flow.
/// (The logins may leave OAuth2 out where the snapshot knows the endpoints:
/// the logins are the override's advice, the endpoints the ISPDB's facts.)
fn validate_oauth2(p: &Provider, say: &mut impl FnMut(String)) {
    let Some(o) = &p.oauth2 else {
        return;
    };
    let urls = [
        &o.authorization_url,
        &o.token_url,
        &o.device_url,
        &o.revocation_url,
    ];
    for url in urls.into_iter().flatten().chain([&o.issuer]) {
        if !is_https(url) || url.contains(char::is_whitespace) {
            say(format!("OAuth2 URL {url:?} is not an https URL"));
        }
    }
    if o.id.is_empty() || o.mail_scopes().is_empty() {
        say("OAuth2 without a client family or a mail scope".into());
    }
    if o.flow == OAuth2Flow::Device && o.device_url.is_none() {
        say("OAuth2 flow is device but there is no device endpoint".into());
    }
}

/// The overrides name their sources (https), the snapshot its files.
fn validate_sources(p: &Provider, say: &mut impl FnMut(String)) {
    if p.sources.is_empty() {
        say("no source URL".into());
    }
    for url in &p.sources {
        let scheme_ok =
            url.starts_with("https://") || (!p.overridden && url.starts_with("http://"));
        if !scheme_ok || url.contains(char::is_whitespace) {
            say(format!("source {url:?} is not an https URL"));
        }
    }
    if !is_date(&p.checked) {
        say(format!("checked date {:?} is not YYYY-MM-DD", p.checked));
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
    if !p.overridden {
        return;
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

/// Retired names: well-formed, listed once, never a current server anywhere,
/// and replaced by a current server of the same protocol.
fn validate_retired(providers: &[Provider], problems: &mut Vec<String>) {
    let current: HashSet<&str> = providers
        .iter()
        .flat_map(|p| p.settings().map(|s| s.host.as_str()))
        .collect();
    let mut seen = HashSet::new();
    for p in providers {
        for old in &p.retired {
            let mut say =
                |what: String| problems.push(format!("{}: retired host {} {what}", p.id, old.host));
            if !is_dns_name(&old.host) {
                say("is not a DNS name".into());
            }
            if current.contains(old.host.as_str()) {
                say("is also a current server".into());
            }
            if !seen.insert(old.host.as_str()) {
                say("is listed twice".into());
            }
            if !p.settings().any(|s| s.protocol == old.protocol) {
                say(format!("has no current {}", old.protocol));
            }
        }
    }
}

/// The override test: each override against the snapshot entry it names.
pub(super) fn compare(snapshot: &Snapshot, overrides: &Overrides) -> Vec<String> {
    let mut problems = Vec::new();
    for o in &overrides.entries {
        let mut say = |what: String| problems.push(format!("{}: {what}", o.id));
        match (&o.ispdb, &o.unlinked) {
            (Some(key), None) => match snapshot.entry(key) {
                Some(entry) => compare_linked(o, entry, &mut say),
                None => say(format!("ispdb entry {key:?} is not in the snapshot")),
            },
            (None, Some(why)) => compare_unlinked(o, why, snapshot, &mut say),
            (Some(_), Some(_)) => say("has both ispdb and unlinked".into()),
            (None, None) => say("names no ispdb entry and gives no reason (unlinked)".into()),
        }
    }
    problems
}

/// One field an override may restate: `None` when it does not, else whether
/// it equals the snapshot's.
fn judge(field: &str, stated: Option<bool>, reason: Option<&String>, say: &mut impl FnMut(String)) {
    match (stated, reason) {
        (Some(true), _) => say(format!("{field} restates the snapshot; leave it out")),
        (Some(false), None) => say(format!(
            "{field} differs from the snapshot without a reason in differs.{field}"
        )),
        (None, Some(_)) => say(format!(
            "differs.{field} explains a difference that is not there"
        )),
        (Some(false), Some(why)) if why.trim().is_empty() => {
            say(format!("differs.{field} is empty"));
        }
        _ => {}
    }
}

fn compare_linked(o: &Override, e: &Entry, say: &mut impl FnMut(String)) {
    let d = &o.differs;
    judge(
        "name",
        o.name.as_ref().map(|n| *n == e.name),
        d.name.as_ref(),
        say,
    );
    let same_domains = |mine: &Vec<String>| {
        let a: HashSet<&String> = mine.iter().collect();
        a == e.domains.iter().collect()
    };
    judge(
        "domains",
        o.domains.as_ref().map(same_domains),
        d.domains.as_ref(),
        say,
    );
    let theirs: Vec<(_, &str, u16, _)> = e
        .servers
        .iter()
        .map(|s| (s.protocol, s.host.as_str(), s.port, s.security))
        .collect();
    let same_servers = |mine: &Vec<RawServer>| {
        mine.iter()
            .map(|s| (s.protocol, s.host.as_str(), s.port, s.security))
            .eq(theirs.iter().copied())
    };
    judge(
        "servers",
        o.servers.as_ref().map(same_servers),
        d.servers.as_ref(),
        say,
    );
    let entry_username = super::overrides::entry_username(e);
    let same_username = |u: UsernameForm| u == entry_username;
    judge(
        "username",
        o.username.map(|u| same_username(u.into())),
        d.username.as_ref(),
        say,
    );
    compare_oauth2(o, e, say);
}

/// OAuth2 fields the snapshot has must differ with a reason; fields it lacks
/// (all of them, or the device endpoint) are additions.
fn compare_oauth2(o: &Override, e: &Entry, say: &mut impl FnMut(String)) {
    let Some(theirs) = &e.oauth2 else {
        if o.differs.oauth2.is_some() {
            say("differs.oauth2 given, but the snapshot has no <oAuth2>".into());
        }
        return;
    };
    let mine = o.oauth2.clone().unwrap_or_default();
    let pairs = [
        (&mine.issuer, &theirs.issuer),
        (&mine.scope, &theirs.scope),
        (&mine.auth_url, &theirs.auth_url),
        (&mine.token_url, &theirs.token_url),
    ];
    let stated: Vec<bool> = pairs
        .iter()
        .filter_map(|(m, t)| m.as_ref().map(|m| m == *t))
        .collect();
    let verdict = if stated.is_empty() {
        None
    } else {
        Some(stated.iter().all(|same| *same))
    };
    judge("oauth2", verdict, o.differs.oauth2.as_ref(), say);
}

fn compare_unlinked(o: &Override, why: &str, snapshot: &Snapshot, say: &mut impl FnMut(String)) {
    if why.trim().is_empty() {
        say("unlinked gives no reason".into());
    }
    let d = &o.differs;
    if d.name.is_some()
        || d.domains.is_some()
        || d.servers.is_some()
        || d.username.is_some()
        || d.oauth2.is_some()
    {
        say("differs is for overrides of a snapshot entry".into());
    }
    for domain in o.domains.iter().flatten() {
        if let Some(e) = snapshot.by_domain(domain) {
            say(format!(
                "domain {domain} is in the snapshot ({}): refine that entry with ispdb = {:?}",
                e.file,
                e.key()
            ));
        }
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
