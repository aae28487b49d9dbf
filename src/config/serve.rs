//! The exporter's configuration file (`mailcheck serve --config FILE`, TOML):
//! where to listen, which targets may be probed, and the modules — named sets of
//! `probe` options a scrape picks with `module=NAME`, as blackbox_exporter's
//! modules are. Credentials are only ever named by file (read at each probe, so
//! a rotated password is picked up), never put in a URL.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::secrets::{self, SecretSources};
use super::unattended::{count_in, from_words, refuse_shared_secrets};
use super::{AuthSecret, Config, UsageError, secs};

mod target;
use crate::cli::ServeArgs;
pub use target::{Allow, Target};

/// Where the exporter listens unless told otherwise: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9925";
/// The most recent probes the status page may keep.
pub const MAX_HISTORY: usize = 1000;
/// How long a probe may take when neither Prometheus nor the module says.
pub const DEFAULT_DEADLINE: Duration = Duration::from_mins(1);
/// How long a client may take to send a request's header (and how long an idle
/// kept-alive connection stays open) unless configured otherwise.
pub const DEFAULT_HEADER_TIMEOUT: f64 = 10.0;
/// HTTP connections served at once unless configured otherwise: well above
/// `parallel`, since a scrape waiting for its probe's turn holds one.
pub const DEFAULT_CONNECTIONS: usize = 128;

/// The file, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    listen: Option<String>,
    allow: Option<Vec<String>>,
    history: Option<usize>,
    parallel: Option<usize>,
    per_server: Option<usize>,
    header_timeout: Option<f64>,
    connections: Option<usize>,
    #[serde(default)]
    modules: BTreeMap<String, ModuleFile>,
}

/// One module, as written: each key is the `probe` option of the same name,
/// except `targets`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModuleFile {
    targets: Option<Vec<String>>,
    only: Option<Vec<String>>,
    require: Option<Vec<String>>,
    timeout: Option<f64>,
    deadline: Option<f64>,
    family: Option<String>,
    dns_server: Option<String>,
    ca_file: Option<PathBuf>,
    warn_days: Option<i64>,
    crit_days: Option<i64>,
    prefer: Option<String>,
    user: Option<String>,
    password_file: Option<PathBuf>,
    oauth2_token_file: Option<PathBuf>,
    auth_mech: Option<String>,
    allow_insecure_auth: Option<bool>,
    send_test: Option<bool>,
}

impl ModuleFile {
    /// The module as `probe` words.
    fn words(&self, name: &str) -> Result<Vec<String>, UsageError> {
        let mut w: Vec<String> = Vec::new();
        let mut opt = |flag: &str, value: Option<String>| {
            if let Some(v) = value {
                w.push(format!("--{flag}={v}"));
            }
        };
        opt("only", self.only.as_ref().map(|v| v.join(",")));
        opt("require", self.require.as_ref().map(|v| v.join(",")));
        opt("timeout", self.timeout.map(|t| t.to_string()));
        opt("deadline", self.deadline.map(|t| t.to_string()));
        opt("dns-server", self.dns_server.clone());
        opt("ca-file", path(self.ca_file.as_ref()));
        opt("warn-days", self.warn_days.map(|d| d.to_string()));
        opt("crit-days", self.crit_days.map(|d| d.to_string()));
        opt("prefer", self.prefer.clone());
        opt("user", self.user.clone());
        opt("password-file", path(self.password_file.as_ref()));
        opt("oauth2-token-file", path(self.oauth2_token_file.as_ref()));
        opt("auth-mech", self.auth_mech.clone());
        match self.family.as_deref() {
            None | Some("any") => {}
            Some("ipv4") => w.push("-4".into()),
            Some("ipv6") => w.push("-6".into()),
            Some(other) => {
                return Err(UsageError(format!(
                    "module {name}: family {other:?}; expected \"any\", \"ipv4\" or \"ipv6\""
                )));
            }
        }
        if self.allow_insecure_auth == Some(true) {
            w.push("--allow-insecure-auth".into());
        }
        if self.send_test == Some(true) {
            w.push("--send-test".into());
        }
        Ok(w)
    }
}

fn path(p: Option<&PathBuf>) -> Option<String> {
    p.map(|p| p.display().to_string())
}

/// A named set of `probe` options: its configuration is built and validated
/// once, when the exporter starts; a scrape clones it, sets the target and reads
/// the secret afresh.
#[derive(Debug, Clone)]
pub struct Module {
    /// The module's configuration, without a target.
    base: Config,
    /// Where its secret is read, at every probe.
    secret: SecretSources,
    /// The only targets it may probe (`targets`); required with credentials,
    /// which then reach no other server.
    targets: Option<Allow>,
}

impl Module {
    /// Checks `file` through `probe`'s own validation (with a stand-in address,
    /// reading the credential file once) and keeps the result.
    fn new(name: &str, file: &ModuleFile) -> Result<Module, UsageError> {
        let mut words = file.words(name)?;
        words.extend(["--".to_owned(), "postmaster@example.com".to_owned()]);
        let mut base = from_words(&words, false)?;
        base.address = None;
        let targets = file
            .targets
            .as_deref()
            .map(|t| Allow::parse(t, "targets"))
            .transpose()?;
        if base.auth.is_some() && targets.as_ref().is_none_or(Allow::any) {
            return Err(UsageError(
                "it has credentials, so it needs a `targets` list naming the only targets \
                 they may be sent to (not \"*\"), e.g. targets = [\"alice@example.com\"]"
                    .into(),
            ));
        }
        Ok(Module {
            base,
            targets,
            secret: SecretSources {
                password_file: file.password_file.clone(),
                token_file: file.oauth2_token_file.clone(),
                ..SecretSources::default()
            },
        })
    }

    /// Whether this module may probe `target`: any target on the allow list,
    /// unless the module names its own `targets`.
    #[must_use]
    pub fn permits(&self, target: &Target) -> bool {
        self.targets.as_ref().is_none_or(|t| t.permits(target))
    }

    /// Why this module cannot probe `target`, if it cannot: a login without
    /// `user` logs in as the target address, and a test message or relay test
    /// needs an address to send from.
    #[must_use]
    pub fn refuses(&self, target: &Target) -> Option<&'static str> {
        if matches!(target, Target::Address(_)) {
            return None;
        }
        match &self.base.auth {
            Some(auth) if auth.user.is_none() => Some(
                "logs in as the target address (it has no `user`); give an address as the target",
            ),
            Some(auth) if auth.send_test => Some(
                "sends its test message from the target address; give an address as the target",
            ),
            None if self.base.relay_test => {
                Some("tests relaying from the target address; give an address as the target")
            }
            _ => None,
        }
    }

    /// The module's `deadline`, if it sets one.
    #[must_use]
    pub fn deadline(&self) -> Option<std::time::Duration> {
        self.base.deadline
    }

    /// The configuration for probing `target` with this module; reads the
    /// module's credential file now (a rotated password is picked up).
    pub fn config_for(&self, target: &Target) -> Result<Config, UsageError> {
        if let Some(why) = self.refuses(target) {
            return Err(UsageError(why.to_owned()));
        }
        let mut config = self.base.clone();
        match target {
            Target::Host(h) => {
                for host in [
                    &mut config.pop3_host,
                    &mut config.imap_host,
                    &mut config.smtp_host,
                ] {
                    *host = Some(h.clone());
                }
            }
            Target::Address(a) => config.address = Some(a.clone()),
        }
        if let (Some(auth), Some(found)) = (&mut config.auth, secrets::obtain(&self.secret)?) {
            auth.secret = AuthSecret::Given(Arc::new(found));
        }
        config.check()?;
        Ok(config)
    }
}

/// Everything `mailcheck serve` needs, validated.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The targets that may be probed.
    pub allow: Allow,
    /// The modules by name.
    pub modules: BTreeMap<String, Module>,
    /// How many recent probes the status page keeps.
    pub history: usize,
    /// Probes run at once; more wait.
    pub parallel: NonZeroUsize,
    /// Connections to one server address at once, over all probes.
    pub per_server: NonZeroUsize,
    /// How long a client may take to send a request's header.
    pub header_timeout: Duration,
    /// HTTP connections served at once; more wait to be accepted.
    pub connections: NonZeroUsize,
}

impl ServeConfig {
    /// The modules' names, in order: for the start-up line, the status page
    /// and the answer to an unknown `module=`.
    #[must_use]
    pub fn module_names(&self) -> Vec<&str> {
        self.modules.keys().map(String::as_str).collect()
    }
}

impl TryFrom<ServeArgs> for ServeConfig {
    type Error = UsageError;

    fn try_from(args: ServeArgs) -> Result<Self, UsageError> {
        refuse_shared_secrets("serve")?;
        let at = args.config.display().to_string();
        let text = std::fs::read_to_string(&args.config).map_err(|e| {
            UsageError(format!(
                "--config {at}: {e}; expected the exporter's TOML configuration"
            ))
        })?;
        let file: File = toml::from_str(&text)
            .map_err(|e| UsageError(format!("--config {at}: {}", e.to_string().trim())))?;
        let listen = args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen = listen.parse::<SocketAddr>().map_err(|_| {
            UsageError(format!(
                "listen address {listen:?} is not IP:PORT; expected e.g. {DEFAULT_LISTEN}"
            ))
        })?;
        let allow = file.allow.ok_or_else(|| {
            UsageError(format!(
                "--config {at}: no `allow` list: name the targets this exporter may probe \
                 (e.g. allow = [\"*.example.com\", \"*@example.com\"]), or [\"*\"] for any"
            ))
        })?;
        Ok(ServeConfig {
            listen,
            allow: Allow::parse(&allow, "allow")?,
            modules: modules(file.modules)?,
            history: history(file.history)?,
            parallel: count_in(file.parallel.unwrap_or(8), "parallel", 1024)?,
            per_server: count_in(file.per_server.unwrap_or(4), "per_server", 256)?,
            header_timeout: secs(
                file.header_timeout.unwrap_or(DEFAULT_HEADER_TIMEOUT),
                "header_timeout",
            )?,
            connections: count_in(
                file.connections.unwrap_or(DEFAULT_CONNECTIONS),
                "connections",
                65_536,
            )?,
        })
    }
}

/// Recent probes kept for the status page: 0 (none) to [`MAX_HISTORY`], as
/// the other limits, a value beyond it is refused rather than quietly cut.
fn history(n: Option<usize>) -> Result<usize, UsageError> {
    match n.unwrap_or(100) {
        // Each entry keeps a human report of a few KiB.
        n if n <= MAX_HISTORY => Ok(n),
        n => Err(UsageError(format!(
            "history {n} is not a whole number from 0 to {MAX_HISTORY}"
        ))),
    }
}

/// Every module, each checked now (and its credential file read), so a typo
/// stops the exporter at start rather than at a scrape.
fn modules(file: BTreeMap<String, ModuleFile>) -> Result<BTreeMap<String, Module>, UsageError> {
    if file.is_empty() {
        return Err(UsageError(
            "no modules: add at least one [modules.NAME] section".into(),
        ));
    }
    file.into_iter()
        .map(|(name, m)| {
            if !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(UsageError(format!(
                    "module name {name:?}: expected letters, digits, '_' and '-' only"
                )));
            }
            let module =
                Module::new(&name, &m).map_err(|e| UsageError(format!("module {name}: {e}")))?;
            Ok((name, module))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<ServeConfig, UsageError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("serve.toml");
        std::fs::write(&path, text).unwrap();
        ServeConfig::try_from(ServeArgs {
            config: path,
            listen: None,
        })
    }

    const MINIMAL: &str = "allow = [\"*.example.com\"]\n[modules.default]\n";

    #[test]
    fn loopback_by_default() {
        let c = load(MINIMAL).unwrap();
        assert_eq!(c.listen, DEFAULT_LISTEN.parse().unwrap());
        assert!(c.listen.ip().is_loopback());
        assert!(c.modules.contains_key("default"));
    }

    #[test]
    fn the_shipped_example_loads() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("alice.password");
        std::fs::write(&secret, "x\n").unwrap();
        let text = include_str!("../../examples/prometheus/mailcheck-serve.toml")
            .replace("/etc/mailcheck/alice.password", secret.to_str().unwrap());
        let c = load(&text).unwrap();
        assert!(c.listen.ip().is_loopback());
        let names: Vec<&str> = c.modules.keys().map(String::as_str).collect();
        assert_eq!(names, ["alice_login", "default", "submission"]);
        let login = c.modules["alice_login"]
            .config_for(&Target::parse("alice@example.com").unwrap())
            .unwrap();
        assert!(login.auth.is_some(), "credentials by file reference");
        let login = &c.modules["alice_login"];
        let to = |t: &str| login.permits(&Target::parse(t).unwrap());
        assert!(to("alice@example.com") && to("mail.example.com"));
        assert!(c.allow.permits(&Target::parse("mail.example.net").unwrap()));
        assert!(!to("mail.example.net") && !to("bob@example.com"));
        assert!(c.modules["default"].permits(&Target::parse("mail.example.net").unwrap()));
    }

    #[test]
    fn credentials_are_bound_to_their_targets() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "x\n").unwrap();
        let module = |targets: &str| {
            format!(
                "allow = [\"*\"]\n[modules.a]\nuser = \"alice@example.com\"\n\
                 password_file = \"{}\"\n{targets}",
                file.display()
            )
        };
        for targets in [
            "",
            "targets = [\"*\"]\n",
            "targets = [\"*\", \"a.example\"]\n",
        ] {
            let e = load(&module(targets)).unwrap_err().0;
            assert!(
                e.contains("module a: it has credentials") && e.contains("targets"),
                "{e}"
            );
        }
        let e = load(&module("targets = [\"-x\"]\n")).unwrap_err().0;
        assert!(e.contains("targets: \"-x\" is not a target pattern"), "{e}");
        let c = load(&module("targets = [\"Alice@Example.COM\"]\n")).unwrap();
        let a = &c.modules["a"];
        assert!(a.permits(&Target::parse("alice@example.com").unwrap()));
        assert!(!a.permits(&Target::parse("mail.example.net").unwrap()));
        let c = load("allow = [\"*\"]\n[modules.b]\ntargets = [\"*.example.com\"]\n").unwrap();
        let b = &c.modules["b"];
        assert!(
            !b.permits(&Target::parse("mail.example.net").unwrap()),
            "a module may narrow"
        );
    }

    #[test]
    fn mistakes_are_named() {
        for (text, needle) in [
            ("[modules.default]\n", "no `allow` list"),
            ("allow = [\"*\"]\n", "no modules"),
            ("allow = [\"-x\"]\n[modules.a]\n", "not a target pattern"),
            (
                "allow = [\"*\"]\n[modules.a]\nonly = [\"ftp:21:tls\"]\n",
                "module a",
            ),
            ("allow = [\"*\"]\n[modules.a]\nfamily = \"ipv5\"\n", "ipv5"),
            (
                "allow = [\"*\"]\n[modules.a]\npassword = \"x\"\n",
                "unknown field",
            ),
            (
                "allow = [\"*\"]\n[modules.a]\npassword_file = \"/nonexistent\"\n",
                "/nonexistent",
            ),
            (
                "allow = [\"*\"]\nlisten = \"localhost\"\n[modules.a]\n",
                "IP:PORT",
            ),
            (
                "allow = [\"*\"]\nheader_timeout = 0\n[modules.a]\n",
                "header_timeout 0 is not a number of seconds",
            ),
            (
                "allow = [\"*\"]\nconnections = 0\n[modules.a]\n",
                "connections 0 is not a whole number from 1 to 65536",
            ),
            (
                "allow = [\"*\"]\nhistory = 1001\n[modules.a]\n",
                "history 1001 is not a whole number from 0 to 1000",
            ),
            (
                "allow = [\"*\"]\nparallel = 5000\n[modules.a]\n",
                "parallel 5000 is not a whole number from 1 to 1024",
            ),
        ] {
            let e = load(text).unwrap_err().0;
            assert!(e.contains(needle), "{text:?}: {e}");
        }
    }

    #[test]
    fn a_host_target_names_every_protocol() {
        let c = load("allow = [\"*\"]\n[modules.a]\nonly = [\"imap:993:tls\"]\n").unwrap();
        let m = &c.modules["a"];
        let c = m
            .config_for(&Target::parse("Mail.Example.COM.").unwrap())
            .unwrap();
        for host in [&c.pop3_host, &c.imap_host, &c.smtp_host] {
            assert_eq!(host.as_deref(), Some("mail.example.com"));
        }
        assert!(c.address.is_none(), "no stand-in address left over");
        let c = m
            .config_for(&Target::parse("bob@example.com").unwrap())
            .unwrap();
        assert_eq!(c.address.unwrap().input, "bob@example.com");
        assert!(c.imap_host.is_none());
    }

    fn secret(c: &Config) -> String {
        match &c.auth.as_ref().unwrap().secret {
            AuthSecret::Given(found) => match found.as_ref() {
                secrets::Found::Password(p) | secrets::Found::Token(p) => p.expose().to_owned(),
            },
            AuthSecret::Stored(_) => panic!("never a stored token"),
        }
    }

    #[test]
    fn the_secret_is_read_at_every_probe() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "first\n").unwrap();
        let text = format!(
            "allow = [\"*\"]\n[modules.a]\npassword_file = \"{}\"\n\
             targets = [\"alice@example.com\"]\n",
            file.display()
        );
        let c = load(&text).unwrap();
        let alice = Target::parse("alice@example.com").unwrap();
        assert_eq!(secret(&c.modules["a"].config_for(&alice).unwrap()), "first");
        std::fs::write(&file, "rotated\n").unwrap();
        assert_eq!(
            secret(&c.modules["a"].config_for(&alice).unwrap()),
            "rotated"
        );
        std::fs::remove_file(&file).unwrap();
        let e = c.modules["a"].config_for(&alice).unwrap_err().0;
        assert!(e.contains("--password-file"), "{e}");
    }

    #[test]
    fn a_login_as_the_target_needs_an_address() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "x\n").unwrap();
        let text = format!(
            "allow = [\"*\"]\n[modules.a]\npassword_file = \"{}\"\n\
             targets = [\"*.example.com\", \"*@example.com\"]\n",
            file.display()
        );
        let c = load(&text).unwrap();
        let host = Target::parse("mail.example.com").unwrap();
        let why = c.modules["a"].refuses(&host).unwrap();
        assert!(why.contains("no `user`"), "{why}");
        assert!(c.modules["a"].config_for(&host).is_err());
    }
}
