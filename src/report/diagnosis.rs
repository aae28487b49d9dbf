//! What the run means: findings with stable codes, severities, causes and fixes,
//! the verdict, and the settings to use.

use serde::Serialize;

use crate::model::{Endpoint, Protocol, Security};

/// How much a finding matters to the person asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Good news worth saying ("IMAP over SSL/TLS works").
    Ok,
    /// Worth knowing; nothing to fix (or nothing this person needs).
    Info,
    /// Works, but should be fixed (insecure option, certificate expiring soon).
    Warning,
    /// Does not work, or is dangerous.
    Critical,
}

/// Where a cause lies, in the order a help desk checks: this computer and its
/// network first, then the server's reachability, TLS, the login, and advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// This computer and its network: DNS not answering, a blocked port, a
    /// product that intercepts mail connections, a blocklisted address.
    Local,
    /// The server's reachability: names, ports, greetings, the server's manners.
    Server,
    /// TLS and certificates.
    Tls,
    /// The login, the send test and relaying.
    Login,
    /// Choices in the client and facts about the provider.
    Advice,
}

/// What a finding is about: everything one cause affects.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Affects {
    /// Host names (or addresses).
    pub hosts: Vec<String>,
    /// Combinations, each on its host ("imap:993:tls@host").
    pub combinations: Vec<Endpoint>,
    /// Protocols.
    pub protocols: Vec<Protocol>,
    /// Address families ("ipv4", "ipv6") when the cause is tied to one.
    pub families: Vec<String>,
}

impl Affects {
    /// Adds `endpoint` (and its host and protocol), each once.
    pub fn add(&mut self, endpoint: Endpoint) {
        push_new(&mut self.hosts, endpoint.host.clone());
        push_new(&mut self.protocols, endpoint.protocol());
        push_new(&mut self.combinations, endpoint);
    }

    /// Adds a host, once.
    pub fn add_host(&mut self, host: &str) {
        push_new(&mut self.hosts, host.to_owned());
    }

    /// Adds a protocol, once.
    pub fn add_protocol(&mut self, protocol: Protocol) {
        push_new(&mut self.protocols, protocol);
    }

    /// Adds an address family, once.
    pub fn add_family(&mut self, family: &str) {
        push_new(&mut self.families, family.to_owned());
    }

    /// Everything `other` affects, added to this.
    pub fn merge(&mut self, other: Affects) {
        for h in other.hosts {
            push_new(&mut self.hosts, h);
        }
        for c in other.combinations {
            push_new(&mut self.combinations, c);
        }
        for p in other.protocols {
            push_new(&mut self.protocols, p);
        }
        for f in other.families {
            push_new(&mut self.families, f);
        }
    }
}

fn push_new<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// One finding: one cause, found once, with everything it affects, the fix,
/// and the evidence in the server's own words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable code, documented in docs/findings.md.
    pub code: String,
    /// How much it matters to the person asking.
    pub severity: Severity,
    /// Where the cause lies.
    pub category: Category,
    /// The cause, in one plain sentence.
    pub cause: String,
    /// What to do, and who does it.
    pub fix: String,
    /// Everything this cause affects.
    pub affects: Affects,
    /// What was seen: the server's own words, failure codes, certificate facts.
    pub evidence: Vec<String>,
}

/// How the whole run came out, in one line and per direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunVerdict {
    /// `ok`, `warning` or `critical`, as the exit code says.
    pub status: Severity,
    /// One sentence for the first line of a report.
    pub headline: String,
    /// Reading mail.
    pub incoming: Direction,
    /// Sending mail.
    pub outgoing: Direction,
}

/// How one direction (reading or sending) came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// A secure combination works (and the login, when tested).
    Works,
    /// Connections work securely, but the login or the send test failed.
    LoginFails,
    /// Only a combination without encryption works.
    OnlyUnencrypted,
    /// Nothing works.
    Fails,
    /// The domain says it does not offer this (SRV target ".").
    NotOffered,
    /// Not probed in this run.
    NotChecked,
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
    /// Authentication method, in neutral words ("normal password", "app
    /// password", "OAuth2").
    pub authentication: String,
    /// Whether a login over exactly this combination succeeded in this run.
    pub login_verified: bool,
}

/// The settings to type in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recommendation {
    /// Best working incoming setting (IMAP preferred unless `--prefer pop3`).
    pub incoming: Option<Recommended>,
    /// Best working outgoing setting.
    pub outgoing: Option<Recommended>,
}
