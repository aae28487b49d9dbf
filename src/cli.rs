//! Command-line arguments, exactly as typed. Only [`crate::config`] reads them.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Which mail settings work for an address, from this network, and why not.
#[derive(Debug, Parser)]
#[command(name = "mailcheck", version, about, long_about = None, args_override_self = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Find the servers of an address (or take the given hosts), probe every
    /// POP3/IMAP/SMTP combination and explain each result.
    Probe(Box<ProbeArgs>),
    /// Show the settings published for an address (provider table, SRV, MX,
    /// autoconfig), without probing.
    Settings(SettingsArgs),
    /// Probe many targets, one per line of a file: JSON Lines or a summary table.
    Batch(BatchArgs),
    /// Run a Prometheus exporter: GET /probe?target=...&module=... probes one target.
    Serve(ServeArgs),
    /// Sign in to the address's provider with OAuth2 and store the token, so that
    /// `probe` can test the login where passwords are refused (Outlook.com,
    /// Microsoft 365, Gmail).
    Login(Box<LoginArgs>),
    /// Delete the stored OAuth2 token of an address (and revoke it where the
    /// provider allows).
    Logout(LogoutArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `mailcheck man > mailcheck.1`.
    Man,
}

/// Arguments of `mailcheck settings`.
#[derive(Debug, clap::Args)]
pub struct SettingsArgs {
    /// The email address.
    pub address: String,

    /// Use the built-in provider data only (the ISPDB snapshot and mailcheck's
    /// overrides); never touch the network.
    #[arg(long)]
    pub offline: bool,

    /// Where Thunderbird's ISPDB is asked online (the domain is appended).
    #[arg(long, value_name = "URL", default_value = crate::discover::ispdb::DEFAULT_URL)]
    pub ispdb_url: String,

    /// How to reach DNS and HTTPS servers.
    #[command(flatten)]
    pub net: NetArgs,

    /// Print the settings as JSON (schema in docs/schema/).
    #[arg(long)]
    pub json: bool,

    /// When to use colour.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

/// Arguments of `mailcheck batch`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Each line is a target: an address, or the options `probe` takes \
(e.g. `--host mail.example.com --only imap:993:tls`), quoted as in a shell; `#` starts a \
comment. Options after `--` apply to every line, before the line's own.\n\n\
Example: mailcheck batch domains.txt --parallel 16 --json -- --timeout 5 -4"
)]
pub struct BatchArgs {
    /// The target list, one target per line ("-" for standard input).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// How many targets to probe at once.
    #[arg(long, value_name = "N", default_value = "8")]
    pub parallel: String,

    /// At most this many connections to one server IP address at once, over all
    /// targets (servers limit connections per client).
    #[arg(long, value_name = "N", default_value = "4")]
    pub per_server: String,

    /// Deadline for the whole batch, in seconds: targets still running are cut
    /// short and reported, targets not started are reported as not probed.
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    pub deadline: Option<String>,

    /// Print JSON Lines, one report per target as each finishes; same as --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,

    /// Output format: human (a summary table) or json (JSON Lines).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<BatchFormat>,

    /// When to use colour.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// Probe options for every line, given before each line's own.
    #[arg(last = true, value_name = "PROBE OPTIONS")]
    pub defaults: Vec<String>,
}

/// `mailcheck batch --format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BatchFormat {
    /// A summary table, one row per target.
    Human,
    /// JSON Lines: one object per target, each with its full report.
    Json,
}

/// Arguments of `mailcheck serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The exporter's configuration: modules, the targets allowed, limits
    /// (TOML; see examples/prometheus/mailcheck-serve.toml).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,

    /// Listen on this address (default: the configuration's, else 127.0.0.1:9925).
    #[arg(long, value_name = "IP:PORT")]
    pub listen: Option<String>,
}

/// `--token-store` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokenStoreChoice {
    /// The operating system's keyring when it answers, else a file.
    Auto,
    /// The keyring only.
    Keyring,
    /// A file only the user can read (mode 0600).
    File,
}

/// `--flow` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FlowChoice {
    /// Device code (RFC 8628): type a code in any browser.
    Device,
    /// Browser sign-in with PKCE and a loopback redirect (RFC 8252).
    Browser,
}

/// Where OAuth2 tokens are kept (shared by probe, login and logout).
#[derive(Debug, Clone, clap::Args)]
pub struct TokenStoreArgs {
    /// Where OAuth2 tokens are kept.
    #[arg(long, value_enum, value_name = "WHERE", env = "MAILCHECK_TOKEN_STORE", default_value_t = TokenStoreChoice::Auto, help_heading = "OAuth2 tokens")]
    pub token_store: TokenStoreChoice,

    /// Directory of the token files (default: the user's data directory,
    /// e.g. ~/.local/share/mailcheck/oauth2).
    #[arg(
        long,
        value_name = "DIR",
        env = "MAILCHECK_TOKEN_DIR",
        help_heading = "OAuth2 tokens"
    )]
    pub token_dir: Option<PathBuf>,
}

/// How `settings`, `login` and `logout` reach DNS and HTTPS servers.
#[derive(Debug, Clone, clap::Args)]
pub struct NetArgs {
    /// Resolve through this DNS server (IP or IP:PORT) instead of the system's.
    #[arg(long, value_name = "IP[:PORT]")]
    pub dns_server: Option<String>,

    /// Also trust the CA certificates in this PEM file (for HTTPS: autoconfig,
    /// the ISPDB, Autodiscover, the authorization server).
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,

    /// Timeout for each DNS lookup and HTTPS request, in seconds.
    #[arg(
        long,
        value_name = "SECS",
        default_value = "10",
        allow_negative_numbers = true
    )]
    pub timeout: String,
}

/// Arguments of `mailcheck login`.
#[derive(Debug, clap::Args)]
#[allow(clippy::struct_excessive_bools)]
pub struct LoginArgs {
    /// The email address to sign in as.
    pub address: String,

    /// The OAuth2 client ID you registered (docs/login.md); else the client
    /// configuration file's.
    #[arg(long, value_name = "ID", env = "MAILCHECK_OAUTH2_CLIENT_ID")]
    pub client_id: Option<String>,

    /// Read the client secret (Google's desktop-app clients have one) from the
    /// first line of FILE (or set MAILCHECK_OAUTH2_CLIENT_SECRET).
    #[arg(long, value_name = "FILE")]
    pub client_secret_file: Option<PathBuf>,

    /// Take the client secret from the first line this command prints.
    #[arg(long, value_name = "CMD")]
    pub client_secret_cmd: Option<String>,

    /// The client configuration file (default: ~/.config/mailcheck/oauth2.toml).
    #[arg(long, value_name = "FILE")]
    pub oauth2_config: Option<PathBuf>,

    /// Sign in with this issuer's OpenID Connect discovery document instead of
    /// the provider table (any standard authorization server).
    #[arg(long, value_name = "URL", help_heading = "Authorization server")]
    pub issuer: Option<String>,

    /// Authorization endpoint (browser flow).
    #[arg(long, value_name = "URL", help_heading = "Authorization server")]
    pub authorization_url: Option<String>,

    /// Token endpoint.
    #[arg(long, value_name = "URL", help_heading = "Authorization server")]
    pub token_url: Option<String>,

    /// Device authorization endpoint (device flow).
    #[arg(long, value_name = "URL", help_heading = "Authorization server")]
    pub device_url: Option<String>,

    /// Token revocation endpoint (used by logout).
    #[arg(long, value_name = "URL", help_heading = "Authorization server")]
    pub revocation_url: Option<String>,

    /// Scopes to ask for, comma-separated (default: the provider table's).
    #[arg(
        long,
        value_name = "SCOPE,...",
        value_delimiter = ',',
        help_heading = "Authorization server"
    )]
    pub scope: Vec<String>,

    /// How to sign in (default: the provider's: device for Microsoft, browser for Google).
    #[arg(long, value_enum, value_name = "FLOW")]
    pub flow: Option<FlowChoice>,

    /// Do not open a browser; print the sign-in page's URL only.
    #[arg(long)]
    pub no_browser: bool,

    /// How long to wait for the sign-in to be completed, in seconds.
    #[arg(
        long,
        value_name = "SECS",
        default_value = "300",
        allow_negative_numbers = true
    )]
    pub wait: String,

    /// How to reach the authorization server.
    #[command(flatten)]
    pub net: NetArgs,

    /// Where to keep the token.
    #[command(flatten)]
    pub store: TokenStoreArgs,
}

/// Arguments of `mailcheck logout`.
#[derive(Debug, clap::Args)]
pub struct LogoutArgs {
    /// The email address whose token to delete.
    pub address: String,

    /// Only delete the stored token; do not ask the provider to revoke it.
    #[arg(long)]
    pub no_revoke: bool,

    /// How to reach the authorization server.
    #[command(flatten)]
    pub net: NetArgs,

    /// Where the token is kept.
    #[command(flatten)]
    pub store: TokenStoreArgs,
}

/// `--format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatChoice {
    /// For people.
    Human,
    /// Versioned JSON.
    Json,
    /// A Nagios plugin status line with performance data.
    Nagios,
}

/// `--prefer` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Prefer {
    /// IMAP (keeps mail on the server, in sync across devices).
    Imap,
    /// POP3.
    Pop3,
}

/// `--client` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClientChoice {
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

/// `--export` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportChoice {
    /// Mozilla config-v1.1.xml.
    Autoconfig,
    /// RFC 6186 / RFC 8314 SRV zone lines.
    Srv,
}

/// `--color` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal and NO_COLOR is not set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

impl ProbeArgs {
    /// Parses the arguments of `mailcheck probe ARGS…` (`args` without the
    /// program and subcommand names), as the command line would.
    pub fn parse_from(args: &[&str]) -> Result<ProbeArgs, String> {
        let argv = ["mailcheck", "probe"].iter().chain(args);
        match Cli::try_parse_from(argv)
            .map_err(|e| e.to_string())?
            .command
        {
            Command::Probe(p) => Ok(*p),
            _ => Err("not a probe command".into()),
        }
    }
}

/// Arguments of `mailcheck probe`.
#[derive(Debug, clap::Args)]
#[allow(clippy::struct_excessive_bools)]
pub struct ProbeArgs {
    /// The email address: its servers are discovered unless host options name them.
    pub address: Option<String>,

    /// Host for all three protocols (skips discovery).
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,

    /// POP3 host (overrides --host).
    #[arg(long, value_name = "HOST")]
    pub pop3_host: Option<String>,

    /// IMAP host (overrides --host).
    #[arg(long, value_name = "HOST")]
    pub imap_host: Option<String>,

    /// SMTP host (overrides --host).
    #[arg(long, value_name = "HOST")]
    pub smtp_host: Option<String>,

    /// Only these combinations, PROTOCOL:PORT:SECURITY, comma-separated
    /// (e.g. pop3:995:tls,smtp:587:starttls; SECURITY is tls, starttls or plain).
    #[arg(long, value_name = "SPEC,...", value_delimiter = ',')]
    pub only: Vec<String>,

    /// Resolve through this DNS server (IP or IP:PORT) instead of the system's.
    #[arg(long, value_name = "IP[:PORT]")]
    pub dns_server: Option<String>,

    /// Also trust the CA certificates in this PEM file.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,

    /// Where Thunderbird's ISPDB is asked online (the domain is appended).
    #[arg(long, value_name = "URL", default_value = crate::discover::ispdb::DEFAULT_URL)]
    pub ispdb_url: String,

    /// Timeout for each phase, in seconds.
    #[arg(
        long,
        value_name = "SECS",
        default_value = "10",
        allow_negative_numbers = true
    )]
    pub timeout: String,

    /// Deadline for the whole run, in seconds; what was learned by then is reported.
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    pub deadline: Option<String>,

    /// IPv4 only.
    #[arg(short = '4', conflicts_with = "ipv6")]
    pub ipv4: bool,

    /// IPv6 only.
    #[arg(short = '6')]
    pub ipv6: bool,

    /// Print the report as JSON (schema in docs/schema/); same as --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,

    /// Output format: human, json, or nagios (one status line with perfdata, for
    /// Nagios, Icinga and Checkmk).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<FormatChoice>,

    /// Combinations that must work, else the run is CRITICAL: PROTOCOL:PORT:SECURITY
    /// specs, or `incoming` / `outgoing` (e.g. --require imap:993:tls,outgoing).
    #[arg(
        long,
        value_name = "SPEC,...",
        value_delimiter = ',',
        help_heading = "Checks"
    )]
    pub require: Vec<String>,

    /// Certificate expiry warning threshold, in days.
    #[arg(
        long,
        value_name = "DAYS",
        default_value_t = 21,
        help_heading = "Checks"
    )]
    pub warn_days: i64,

    /// Certificate expiry critical threshold, in days.
    #[arg(
        long,
        value_name = "DAYS",
        default_value_t = 7,
        help_heading = "Checks"
    )]
    pub crit_days: i64,

    /// Recommend POP3 instead of IMAP for incoming mail.
    #[arg(long, value_enum, value_name = "PROTOCOL", default_value_t = Prefer::Imap, help_heading = "Recommendation")]
    pub prefer: Prefer,

    /// Word the "use these settings" block in this mail client's own terms.
    #[arg(long, value_enum, value_name = "CLIENT", default_value_t = ClientChoice::Generic, help_heading = "Recommendation")]
    pub client: ClientChoice,

    /// Instead of the report, print the working settings as a Mozilla autoconfig
    /// file (config-v1.1.xml) or as RFC 6186 SRV zone lines.
    #[arg(long, value_enum, value_name = "WHAT", help_heading = "Recommendation", conflicts_with_all = ["json", "format"])]
    pub export: Option<ExportChoice>,

    /// When to use colour.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// Show the protocol transcript of every combination.
    #[arg(short, long)]
    pub verbose: bool,

    /// Username for the login test (default: the address, or its local part where
    /// the provider says so; the other form is tried once if the first fails).
    #[arg(long, value_name = "NAME", help_heading = "Login test")]
    pub user: Option<String>,

    /// Read the password from the first line of FILE (or set MAILCHECK_PASSWORD).
    #[arg(long, value_name = "FILE", help_heading = "Login test")]
    pub password_file: Option<PathBuf>,

    /// Take the password from the first line this command prints (like msmtp's
    /// passwordeval), e.g. "pass show mail/alice".
    #[arg(long, value_name = "CMD", help_heading = "Login test")]
    pub password_cmd: Option<String>,

    /// Ask for the password with a hidden prompt (needs a terminal).
    #[arg(long, help_heading = "Login test")]
    pub ask_password: bool,

    /// Read an OAuth2 bearer token from FILE (or set MAILCHECK_OAUTH2_TOKEN).
    #[arg(long, value_name = "FILE", help_heading = "Login test")]
    pub oauth2_token_file: Option<PathBuf>,

    /// Take an OAuth2 bearer token from this command's output (a token helper).
    #[arg(long, value_name = "CMD", help_heading = "Login test")]
    pub oauth2_token_cmd: Option<String>,

    /// Log in with the OAuth2 token stored by `mailcheck login` (used by default
    /// when one is stored for the address and no other secret is given).
    #[arg(long, help_heading = "Login test")]
    pub oauth2: bool,

    /// Where stored OAuth2 tokens are kept.
    #[command(flatten)]
    pub token_store: TokenStoreArgs,

    /// Use this SASL mechanism instead of the strongest one offered
    /// (PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER).
    #[arg(long, value_name = "MECH", help_heading = "Login test")]
    pub auth_mech: Option<String>,

    /// Allow sending credentials over plaintext or unverified TLS (the report then
    /// marks the password as exposed).
    #[arg(long, help_heading = "Login test")]
    pub allow_insecure_auth: bool,

    /// After an SMTP login, try MAIL FROM and RCPT TO with the address, then RSET:
    /// nothing is sent.
    #[arg(long, help_heading = "Login test")]
    pub send_test: bool,

    /// With --send-test: really send one small, clearly labelled test message to
    /// the address itself.
    #[arg(long, requires = "send_test", help_heading = "Login test")]
    pub deliver: bool,
}
