//! The exporter's configuration file (`mailcheck serve --config FILE`, TOML):
//! where to listen, which targets may be probed, and the modules — named sets of
//! `probe` options a scrape picks with `module=NAME`, as blackbox_exporter's
//! modules are. Credentials are only ever named by file (read at each probe, so
//! a rotated password is picked up), never put in a URL.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::unattended::{count, from_words, refuse_shared_secrets};
use super::{Config, UsageError};

mod target;
use crate::cli::ServeArgs;
pub use target::{Allow, Target};

/// Where the exporter listens unless told otherwise: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9925";
/// The most recent probes the status page may keep.
pub const MAX_HISTORY: usize = 1000;
/// How long a probe may take when neither Prometheus nor the module says.
pub const DEFAULT_DEADLINE: Duration = Duration::from_mins(1);

/// The file, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    listen: Option<String>,
    allow: Option<Vec<String>>,
    history: Option<usize>,
    parallel: Option<usize>,
    per_server: Option<usize>,
    #[serde(default)]
    modules: BTreeMap<String, ModuleFile>,
}

/// One module, as written: each key is the `probe` option of the same name.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModuleFile {
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

/// A named set of `probe` options.
#[derive(Debug, Clone)]
pub struct Module {
    words: Vec<String>,
}

impl Module {
    /// The validated configuration for probing `target` with this module; reads
    /// the module's credential file now.
    pub fn config_for(&self, target: &Target) -> Result<Config, UsageError> {
        let mut words = self.words.clone();
        match target {
            Target::Host(h) => words.push(format!("--host={h}")),
            Target::Address(a) => words.extend(["--".to_owned(), a.input.clone()]),
        }
        from_words(&words, false)
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
            // Each entry keeps a human report of a few KiB.
            history: file.history.unwrap_or(100).min(MAX_HISTORY),
            parallel: count(&file.parallel.unwrap_or(8).to_string(), "parallel", 1024)?,
            per_server: count(&file.per_server.unwrap_or(4).to_string(), "per_server", 256)?,
        })
    }
}

/// Every module, each checked now with a stand-in target (and its credential
/// file read), so a typo stops the exporter at start rather than at a scrape.
fn modules(file: BTreeMap<String, ModuleFile>) -> Result<BTreeMap<String, Module>, UsageError> {
    if file.is_empty() {
        return Err(UsageError(
            "no modules: add at least one [modules.NAME] section".into(),
        ));
    }
    let example = Target::parse("postmaster@example.com")?;
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
            let module = Module {
                words: m.words(&name)?,
            };
            module
                .config_for(&example)
                .map_err(|e| UsageError(format!("module {name}: {e}")))?;
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
        ] {
            let e = load(text).unwrap_err().0;
            assert!(e.contains(needle), "{text:?}: {e}");
        }
    }

    #[test]
    fn a_host_target_names_every_protocol() {
        let m = Module {
            words: vec!["--only=imap:993:tls".into()],
        };
        let c = m
            .config_for(&Target::parse("mail.example.com").unwrap())
            .unwrap();
        assert_eq!(c.imap_host.as_deref(), Some("mail.example.com"));
    }
}
