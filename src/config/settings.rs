//! `mailcheck settings`, and how it, `login` and `logout` reach DNS and HTTPS
//! servers: the flags checked and turned into plain values.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::{Format, UsageError, check_file, ispdb_url, parse_dns_server, parse_secs, use_color};
use crate::cli::{NetArgs, SettingsArgs};
use crate::model::address::{self, Address};

/// Everything `mailcheck settings` needs, validated.
#[derive(Debug, Clone)]
pub struct SettingsConfig {
    /// The address.
    pub address: Address,
    /// Provider table only, no network.
    pub offline: bool,
    /// DNS server to use instead of the system's.
    pub dns_server: Option<SocketAddr>,
    /// Extra trust anchors (autoconfig over HTTPS).
    pub ca_file: Option<PathBuf>,
    /// The online ISPDB's base URL.
    pub ispdb_url: String,
    /// Per-lookup timeout.
    pub timeout: Duration,
    /// Output format.
    pub format: Format,
    /// Whether to colour the output.
    pub color: bool,
}

/// How `settings`, `login` and `logout` reach DNS and HTTPS servers, validated.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// DNS server to use instead of the system's.
    pub dns_server: Option<std::net::SocketAddr>,
    /// Extra trust anchors.
    pub ca_file: Option<PathBuf>,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl TryFrom<&NetArgs> for NetConfig {
    type Error = UsageError;

    fn try_from(args: &NetArgs) -> Result<Self, UsageError> {
        Ok(NetConfig {
            dns_server: args
                .dns_server
                .as_deref()
                .map(parse_dns_server)
                .transpose()?,
            ca_file: args.ca_file.clone().map(check_file).transpose()?,
            timeout: parse_secs(&args.timeout, "--timeout")?,
        })
    }
}

impl TryFrom<SettingsArgs> for SettingsConfig {
    type Error = UsageError;

    fn try_from(args: SettingsArgs) -> Result<Self, UsageError> {
        let net = NetConfig::try_from(&args.net)?;
        if args.offline && net.dns_server.is_some() {
            return Err(UsageError(
                "--offline and --dns-server contradict each other: --offline uses no network at all".into(),
            ));
        }
        Ok(SettingsConfig {
            address: address::parse(&args.address)?,
            offline: args.offline,
            dns_server: net.dns_server,
            ca_file: net.ca_file,
            ispdb_url: ispdb_url(&args.ispdb_url)?,
            timeout: net.timeout,
            format: if args.json {
                Format::Json
            } else {
                Format::Human
            },
            color: use_color(args.color),
        })
    }
}
