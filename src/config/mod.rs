//! Validated configuration: [`Config::try_from`] turns typed arguments into values
//! the rest of mailcheck can trust, or into a message that says what was wrong and
//! what was expected.

use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

mod login;
pub mod oauth;
pub mod secrets;
pub mod serve;
mod settings;
pub mod unattended;

pub use login::{AuthConfig, AuthSecret, StoredTokens};
pub use settings::{NetConfig, SettingsConfig};

use crate::cli::{ClientChoice, ColorChoice, ExportChoice, FormatChoice, Prefer, ProbeArgs};
use crate::diagnose::{Client, Export};
use crate::model::address;
use crate::model::address::Address;
use crate::model::{Combination, Protocol, Security};
use crate::net::limit::PerServer;
use crate::net::resolve::Families;
use crate::net::tls::TlsSetups;
use secrets::SecretError;

/// A usage error: what was wrong and what was expected.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("{0}")]
pub struct UsageError(pub String);

impl From<SecretError> for UsageError {
    fn from(e: SecretError) -> Self {
        UsageError(e.0)
    }
}

impl From<address::AddressError> for UsageError {
    fn from(e: address::AddressError) -> Self {
        UsageError(e.to_string())
    }
}

/// How to print the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// For people.
    Human,
    /// For CI, schema-versioned.
    Json,
    /// One Nagios plugin status line with performance data.
    Nagios,
}

/// What `--require` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// At least one secure incoming combination.
    Incoming,
    /// At least one secure outgoing combination.
    Outgoing,
    /// This combination.
    Combination(Combination),
}

impl std::fmt::Display for Requirement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Requirement::Incoming => f.write_str("incoming"),
            Requirement::Outgoing => f.write_str("outgoing"),
            Requirement::Combination(c) => c.fmt(f),
        }
    }
}

/// Everything a run needs, validated.
#[derive(Debug, Clone)]
#[allow(clippy::struct_excessive_bools)]
pub struct Config {
    /// The address, if given.
    pub address: Option<Address>,
    /// POP3 host.
    pub pop3_host: Option<String>,
    /// IMAP host.
    pub imap_host: Option<String>,
    /// SMTP host.
    pub smtp_host: Option<String>,
    /// Only these combinations (empty: the default matrix).
    pub only: Vec<Combination>,
    /// DNS server to use instead of the system's.
    pub dns_server: Option<SocketAddr>,
    /// Extra trust anchors.
    pub ca_file: Option<PathBuf>,
    /// The online ISPDB's base URL (discovery).
    pub ispdb_url: String,
    /// Per-phase timeout.
    pub timeout: Duration,
    /// Whole-run deadline.
    pub deadline: Option<Duration>,
    /// Address families.
    pub families: Families,
    /// Output format.
    pub format: Format,
    /// Whether to colour the output.
    pub color: bool,
    /// Whether to print transcripts.
    pub verbose: bool,
    /// The login test, when credentials were given.
    pub auth: Option<AuthConfig>,
    /// `--send-test` without credentials: test that SMTP refuses to relay.
    pub relay_test: bool,
    /// `--require`.
    pub require: Vec<Requirement>,
    /// Diagnosis thresholds and preferences.
    pub diagnose: crate::diagnose::Options,
    /// `--client`.
    pub client: Client,
    /// `--export`.
    pub export: Option<Export>,
    /// Show a progress line on stderr (human output; shown only on a terminal).
    pub progress: bool,
    /// The cap on connections per server address this run shares with the other
    /// runs of a batch or an exporter; `None` for a single run (no cap).
    pub per_server: Option<Arc<PerServer>>,
    /// The TLS setups this run shares with the other runs of a batch or an
    /// exporter; `None` for a single run (it builds its own).
    pub tls: Option<Arc<TlsSetups>>,
    /// What validation has to tell the report (a stored OAuth2 token that
    /// could not be read, so no login is tested).
    pub notes: Vec<String>,
}

impl Config {
    /// Whether every protocol has a host flag (discovery then has nothing to add).
    #[must_use]
    pub fn all_hosts_given(&self) -> bool {
        Protocol::ALL.iter().all(|p| self.host_for(*p).is_some())
    }

    /// Whether incoming mail must work for the run to pass: an address implies
    /// both directions; otherwise only the directions given hosts.
    #[must_use]
    pub fn expects_incoming(&self) -> bool {
        if !self.only.is_empty() {
            return self.only.iter().any(|c| c.protocol.is_incoming());
        }
        self.address.is_some() || self.pop3_host.is_some() || self.imap_host.is_some()
    }

    /// As [`Config::expects_incoming`], for sending.
    #[must_use]
    pub fn expects_outgoing(&self) -> bool {
        if !self.only.is_empty() {
            return self.only.iter().any(|c| !c.protocol.is_incoming());
        }
        self.address.is_some() || self.smtp_host.is_some()
    }

    /// The host configured for `protocol`, if that protocol is probed.
    #[must_use]
    pub fn host_for(&self, protocol: Protocol) -> Option<&str> {
        match protocol {
            Protocol::Pop3 => self.pop3_host.as_deref(),
            Protocol::Imap => self.imap_host.as_deref(),
            Protocol::Smtp => self.smtp_host.as_deref(),
        }
    }
}

impl TryFrom<ProbeArgs> for Config {
    type Error = UsageError;

    fn try_from(args: ProbeArgs) -> Result<Self, UsageError> {
        Config::from_args(&args, StoredTokens::WhenStored)
    }
}

impl Config {
    /// Validates `probe` arguments; `tokens` says when a stored OAuth2 token
    /// may be used.
    pub fn from_args(args: &ProbeArgs, tokens: StoredTokens) -> Result<Self, UsageError> {
        let [pop3_host, imap_host, smtp_host] = hosts(args)?;
        let address = args.address.as_deref().map(address::parse).transpose()?;
        if address.is_none()
            && [&pop3_host, &imap_host, &smtp_host]
                .iter()
                .all(|h| h.is_none())
        {
            return Err(UsageError(NOTHING_TO_PROBE.into()));
        }
        let config = Config {
            pop3_host,
            imap_host,
            smtp_host,
            only: all(&args.only, parse_spec)?,
            dns_server: args
                .dns_server
                .as_deref()
                .map(parse_dns_server)
                .transpose()?,
            ca_file: args.ca_file.clone().map(check_file).transpose()?,
            ispdb_url: ispdb_url(&args.ispdb_url)?,
            timeout: parse_secs(&args.timeout, "--timeout")?,
            deadline: args
                .deadline
                .as_deref()
                .map(|d| parse_secs(d, "--deadline"))
                .transpose()?,
            families: families(args.ipv4, args.ipv6),
            format: format(args.json, args.format),
            color: use_color(args.color),
            verbose: args.verbose,
            require: all(&args.require, parse_requirement)?,
            diagnose: crate::diagnose::Options {
                warn_days: args.warn_days,
                crit_days: args.crit_days,
                prefer_pop3: args.prefer == Prefer::Pop3,
            },
            client: client(args.client),
            export: args.export.map(export),
            progress: !args.json && args.format.is_none_or(|f| f == FormatChoice::Human),
            per_server: None,
            tls: None,
            relay_test: false,
            auth: None,
            notes: Vec::new(),
            address,
        };
        config.with_auth(args, tokens)
    }
}

impl Config {
    /// The login test's settings, read last: reading a secret may prompt for a
    /// password or a keyring's unlocking, which a typo in another flag should
    /// not cost. Then the checks across flags.
    fn with_auth(mut self, args: &ProbeArgs, tokens: StoredTokens) -> Result<Config, UsageError> {
        let (auth, note) = login::auth_config(args, self.address.as_ref(), tokens)?;
        self.relay_test = args.send_test && auth.is_none();
        self.auth = auth;
        self.notes.extend(note);
        self.check()?;
        Ok(self)
    }

    /// What no single flag can say is wrong: flags that need each other.
    fn check(&self) -> Result<(), UsageError> {
        if self.relay_test && self.address.is_none() {
            return Err(UsageError(
                "--send-test needs the address: it is the sender of the test envelope".into(),
            ));
        }
        for c in &self.only {
            if self.host_for(c.protocol).is_none() && self.address.is_none() {
                return Err(UsageError(format!(
                    "--only {c}: no {} host given; add --host or --{}-host",
                    c.protocol,
                    c.protocol.as_str()
                )));
            }
        }
        Ok(())
    }
}

/// The POP3, IMAP and SMTP hosts: each protocol's own flag, else `--host`.
fn hosts(args: &ProbeArgs) -> Result<[Option<String>; 3], UsageError> {
    let host = |specific: Option<&str>, flag: &str| match specific {
        Some(h) => validate_host(h, flag).map(Some),
        None => args
            .host
            .as_deref()
            .map(|h| validate_host(h, "--host"))
            .transpose(),
    };
    Ok([
        host(args.pop3_host.as_deref(), "--pop3-host")?,
        host(args.imap_host.as_deref(), "--imap-host")?,
        host(args.smtp_host.as_deref(), "--smtp-host")?,
    ])
}

/// Every item parsed, or the first item's error.
fn all<T>(
    items: &[String],
    parse: impl Fn(&str) -> Result<T, UsageError>,
) -> Result<Vec<T>, UsageError> {
    items.iter().map(|s| parse(s)).collect()
}

const NOTHING_TO_PROBE: &str = "nothing to probe: give an address (alice@example.com) to find its servers, \
     or name them with --host HOST (or --pop3-host, --imap-host, --smtp-host)";

/// `-4` or `-6`.
fn families(ipv4: bool, ipv6: bool) -> Families {
    match (ipv4, ipv6) {
        (true, _) => Families::V4,
        (_, true) => Families::V6,
        _ => Families::Any,
    }
}

fn export(choice: ExportChoice) -> Export {
    match choice {
        ExportChoice::Autoconfig => Export::Autoconfig,
        ExportChoice::Srv => Export::Srv,
    }
}

/// `--json` or `--format`.
fn format(json: bool, choice: Option<FormatChoice>) -> Format {
    match (json, choice) {
        (true, _) | (_, Some(FormatChoice::Json)) => Format::Json,
        (_, Some(FormatChoice::Nagios)) => Format::Nagios,
        _ => Format::Human,
    }
}

/// `--ispdb-url`: an http(s) URL the domain can be appended to.
fn ispdb_url(url: &str) -> Result<String, UsageError> {
    crate::discover::ispdb::base_url(url).map_err(|e| UsageError(format!("--ispdb-url: {e}")))
}

/// Colour on a terminal only, unless NO_COLOR says otherwise or `--color` insists.
fn client(choice: ClientChoice) -> Client {
    match choice {
        ClientChoice::Thunderbird => Client::Thunderbird,
        ClientChoice::Outlook => Client::Outlook,
        ClientChoice::AppleMail => Client::AppleMail,
        ClientChoice::AndroidGmail => Client::AndroidGmail,
        ClientChoice::Ios => Client::Ios,
        ClientChoice::Claws => Client::Claws,
        ClientChoice::Generic => Client::Generic,
    }
}

fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    }
}

/// A DNS name ([`crate::model::host::is_dns_name`]) or an IP address, IPv6
/// optionally in brackets.
pub fn validate_host(h: &str, flag: &str) -> Result<String, UsageError> {
    let bare = h.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<IpAddr>().is_ok() {
        return Ok(bare.to_owned());
    }
    if crate::model::host::is_dns_name(h) {
        Ok(h.trim_end_matches('.').to_ascii_lowercase())
    } else {
        Err(UsageError(format!(
            "{flag} {h:?} is not a host name or IP address; expected e.g. mail.example.com or 192.0.2.1"
        )))
    }
}

/// Parses a `--require` item: `incoming`, `outgoing` or a combination.
pub fn parse_requirement(s: &str) -> Result<Requirement, UsageError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "incoming" => Ok(Requirement::Incoming),
        "outgoing" => Ok(Requirement::Outgoing),
        _ => parse_spec(s).map(Requirement::Combination).map_err(|e| {
            UsageError(e.0.replace("--only", "--require") + " (or incoming, outgoing)")
        }),
    }
}

/// Parses `PROTOCOL:PORT:SECURITY`.
pub fn parse_spec(spec: &str) -> Result<Combination, UsageError> {
    let err = |what: String| {
        UsageError(format!(
            "--only {spec:?}: {what}; expected PROTOCOL:PORT:SECURITY, e.g. pop3:995:tls or smtp:587:starttls"
        ))
    };
    let parts: Vec<&str> = spec.trim().split(':').collect();
    let [p, port, s] = parts.as_slice() else {
        return Err(err("it needs three parts separated by ':'".into()));
    };
    let protocol = match p.to_ascii_lowercase().as_str() {
        "pop3" | "pop" => Protocol::Pop3,
        "imap" => Protocol::Imap,
        "smtp" | "submission" => Protocol::Smtp,
        other => {
            return Err(err(format!(
                "unknown protocol {other:?} (pop3, imap or smtp)"
            )));
        }
    };
    let port: u16 = match port.parse() {
        Ok(n) if n > 0 => n,
        _ => {
            return Err(err(format!(
                "port {port:?} is not a number from 1 to 65535"
            )));
        }
    };
    let security = match s.to_ascii_lowercase().as_str() {
        "tls" | "ssl" | "implicit" => Security::Tls,
        "starttls" | "stls" => Security::StartTls,
        "plain" | "none" => Security::Plain,
        other => {
            return Err(err(format!(
                "unknown security {other:?} (tls, starttls or plain)"
            )));
        }
    };
    Ok(Combination::new(protocol, port, security))
}

fn parse_dns_server(s: &str) -> Result<SocketAddr, UsageError> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let bare = s.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| {
            UsageError(format!(
                "--dns-server {s:?} is not an IP address; expected IP or IP:PORT, e.g. 192.0.2.53 or 127.0.0.2:5353 or [::1]:53"
            ))
        })
}

fn parse_secs(s: &str, flag: &str) -> Result<Duration, UsageError> {
    s.trim()
        .parse::<f64>()
        .ok()
        .and_then(secs_in_range)
        .ok_or_else(|| not_secs(&format!("{s:?}"), flag))
}

/// `v` seconds, when from 0.001 to 86400 (a day); the error names `flag`.
fn secs(v: f64, flag: &str) -> Result<Duration, UsageError> {
    secs_in_range(v).ok_or_else(|| not_secs(&v.to_string(), flag))
}

fn secs_in_range(v: f64) -> Option<Duration> {
    (0.001..=86_400.0)
        .contains(&v)
        .then(|| Duration::from_secs_f64(v))
}

fn not_secs(shown: &str, flag: &str) -> UsageError {
    UsageError(format!(
        "{flag} {shown} is not a number of seconds; expected a number from 0.001 to 86400, e.g. 10 or 2.5"
    ))
}

fn check_file(p: PathBuf) -> Result<PathBuf, UsageError> {
    if p.is_file() {
        Ok(p)
    } else {
        Err(UsageError(format!(
            "--ca-file {}: no such file; expected a PEM file of CA certificates",
            p.display()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_with_aliases() {
        assert_eq!(
            parse_spec("pop3:995:tls").unwrap(),
            Combination::new(Protocol::Pop3, 995, Security::Tls)
        );
        assert_eq!(
            parse_spec("SMTP:587:STARTTLS").unwrap(),
            Combination::new(Protocol::Smtp, 587, Security::StartTls)
        );
        assert_eq!(
            parse_spec("imap:10143:none").unwrap(),
            Combination::new(Protocol::Imap, 10143, Security::Plain)
        );
    }

    #[test]
    fn bad_specs_say_what_was_expected() {
        for (spec, needle) in [
            ("pop3:995", "three parts"),
            ("ftp:21:tls", "unknown protocol"),
            ("pop3:99x:tls", "not a number"),
            ("pop3:0:tls", "not a number"),
            ("pop3:70000:tls", "not a number"),
            ("pop3:995:ssl3", "unknown security"),
        ] {
            let e = parse_spec(spec).unwrap_err().0;
            assert!(
                e.contains(needle) && e.contains("expected PROTOCOL:PORT:SECURITY"),
                "{spec}: {e}"
            );
        }
    }

    #[test]
    fn hosts_are_checked() {
        assert_eq!(
            validate_host("Mail.Example.COM.", "--host").unwrap(),
            "mail.example.com"
        );
        assert_eq!(validate_host("[::1]", "--host").unwrap(), "::1");
        assert!(validate_host("mail example.com", "--host").is_err());
        assert!(validate_host("-bad.example", "--host").is_err());
        assert!(validate_host("", "--host").is_err());
    }

    #[test]
    fn dns_server_defaults_to_port_53() {
        assert_eq!(
            parse_dns_server("127.0.0.2").unwrap(),
            "127.0.0.2:53".parse().unwrap()
        );
        assert_eq!(
            parse_dns_server("127.0.0.2:5353").unwrap(),
            "127.0.0.2:5353".parse().unwrap()
        );
        assert_eq!(
            parse_dns_server("[::1]").unwrap(),
            "[::1]:53".parse().unwrap()
        );
        assert!(
            parse_dns_server("dns.example")
                .unwrap_err()
                .0
                .contains("expected IP or IP:PORT")
        );
    }

    /// Reading a secret may prompt (a password, a keyring to unlock) or run a
    /// command: a typo in another flag is said first.
    #[test]
    fn secrets_are_read_after_every_other_flag_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("ran");
        let cmd = format!("touch {} && echo pw", marker.display());
        let args = ProbeArgs::parse_from(&[
            "alice@example.com",
            "--password-cmd",
            &cmd,
            "--dns-server",
            "dns.example",
        ])
        .unwrap();
        let e = Config::try_from(args).unwrap_err().0;
        assert!(e.contains("--dns-server"), "{e}");
        assert!(!marker.exists(), "the password command ran first");
    }

    #[test]
    fn seconds_must_be_positive_numbers() {
        assert_eq!(
            parse_secs("2.5", "--timeout").unwrap(),
            Duration::from_millis(2500)
        );
        assert!(parse_secs("0", "--timeout").is_err());
        assert!(
            parse_secs("1e-12", "--timeout").is_err(),
            "would round to zero"
        );
        assert!(
            parse_secs("ten", "--timeout")
                .unwrap_err()
                .0
                .contains("--timeout")
        );
    }
}
