//! The OAuth2 side of the configuration: `mailcheck login` and `logout`, the
//! token store, the client configuration file, and the stored token a probe
//! logs in with.
//!
//! The client configuration file (default `~/.config/mailcheck/oauth2.toml`)
//! holds the client IDs a person registered, one table per authorization server
//! family of the provider table (`microsoft`, `google`) or per issuer:
//!
//! ```toml
//! [microsoft]
//! client_id = "00000000-0000-0000-0000-000000000000"
//!
//! [google]
//! client_id = "1234-abc.apps.googleusercontent.com"
//! client_secret = "GOCSPX-..."   # Google's desktop-app clients have one
//!
//! [work]
//! issuer = "https://login.example.com"
//! client_id = "mailcheck"
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::secrets::{self, SecretError};
use super::{NetConfig, UsageError, parse_secs};
use crate::cli::{FlowChoice, LoginArgs, LogoutArgs, TokenStoreArgs, TokenStoreChoice};
use crate::model::address::{self, Address};
use crate::oauth::discovery::Overrides;
use crate::oauth::store::{Kind, Location, Store, StoredToken};
use crate::proto::sasl::Secret;
use crate::report::OAuth2Flow;

/// Environment variable holding the client secret.
pub const CLIENT_SECRET_ENV: &str = "MAILCHECK_OAUTH2_CLIENT_SECRET";

/// The token store the user chose.
pub fn store(args: &TokenStoreArgs) -> Result<Store, UsageError> {
    let kind = match args.token_store {
        TokenStoreChoice::Auto => Kind::Auto,
        TokenStoreChoice::Keyring => Kind::Keyring,
        TokenStoreChoice::File => Kind::File,
    };
    Store::new(kind, args.token_dir.clone()).map_err(|e| UsageError(e.0))
}

/// The key tokens are stored under: the address's ASCII form, lower case.
#[must_use]
pub fn account(address: &Address) -> String {
    address.ascii().to_ascii_lowercase()
}

/// A stored token a probe logs in with, and where it came from.
#[derive(Debug, Clone)]
pub struct StoredLogin {
    /// The store (to save a refreshed token back).
    pub store: Store,
    /// The record.
    pub token: StoredToken,
    /// Where it was found.
    pub location: Location,
}

/// What the token store holds for an address.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// A token to log in with.
    Found(Arc<StoredLogin>),
    /// None.
    Nothing,
    /// One that cannot be read, and why, in a sentence for the report (only
    /// when the token was not required: with `--oauth2` that is an error).
    Unreadable(String),
}

/// The stored token for `address`, if there is one. With `required`
/// (`--oauth2`), its absence or a store that cannot be read is an error that
/// says what to do; without, a store that cannot be read only means no login
/// test, and the report says why.
pub fn stored_login(
    address: &Address,
    args: &TokenStoreArgs,
    required: bool,
) -> Result<Lookup, UsageError> {
    let account = account(address);
    let found = store(args).and_then(|store| {
        store
            .load(&account)
            .map(|found| (store, found))
            .map_err(|e| UsageError(e.0))
    });
    match found {
        Ok((store, Some((token, location)))) => Ok(Lookup::Found(Arc::new(StoredLogin {
            store,
            token,
            location,
        }))),
        Ok((_, None)) if required => Err(UsageError(format!(
            "--oauth2: no OAuth2 token is stored for {account}; run `mailcheck login {account}` first"
        ))),
        Ok((_, None)) => Ok(Lookup::Nothing),
        Err(e) if required => Err(UsageError(format!(
            "the stored OAuth2 token for {account}: {e}"
        ))),
        Err(e) => Ok(Lookup::Unreadable(
            crate::diagnose::oauth2::token_unreadable(&account, &e.0),
        )),
    }
}

/// One client registration of the configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientEntry {
    /// The issuer this entry is for (tables named after a provider family need none).
    pub issuer: Option<String>,
    /// The client ID.
    pub client_id: String,
    /// The client secret, where the registration has one (never shown).
    #[serde(with = "crate::oauth::store::secret_opt", default)]
    pub client_secret: Option<Secret>,
}

/// The client configuration file, parsed.
#[derive(Debug, Clone, Default)]
pub struct ClientFile {
    /// Table name → entry.
    pub entries: BTreeMap<String, ClientEntry>,
}

impl ClientFile {
    /// The entry for a provider family (`microsoft`), else for an issuer.
    #[must_use]
    pub fn find(&self, family: Option<&str>, issuer: Option<&str>) -> Option<&ClientEntry> {
        let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
        family.and_then(|f| self.entries.get(f)).or_else(|| {
            let issuer = issuer?;
            self.entries
                .values()
                .find(|e| e.issuer.as_deref().is_some_and(|i| same(i, issuer)))
        })
    }
}

/// Reads the client configuration file: the one given (which must exist), or
/// the default one when it exists.
fn client_file(path: Option<&PathBuf>) -> Result<ClientFile, UsageError> {
    let default = || dirs::config_dir().map(|d| d.join("mailcheck").join("oauth2.toml"));
    let (path, given) = match path {
        Some(p) => (p.clone(), true),
        None => match default() {
            Some(p) => (p, false),
            None => return Ok(ClientFile::default()),
        },
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if !given && e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(ClientFile::default());
        }
        Err(e) => {
            return Err(UsageError(format!(
                "--oauth2-config {}: {e}; expected a TOML file of client registrations (docs/login.md)",
                path.display()
            )));
        }
    };
    let entries = toml::from_str(&text).map_err(|e| {
        UsageError(format!(
            "{}: {}; expected tables like [microsoft] client_id = \"...\" (docs/login.md)",
            path.display(),
            toml_error(&e, &text)
        ))
    })?;
    Ok(ClientFile { entries })
}

/// toml's complaint and where, without the line it quotes: the file holds a
/// client secret, and the line at fault may be it (an unquoted value) or next
/// to it.
fn toml_error(e: &toml::de::Error, text: &str) -> String {
    let message = e
        .message()
        .lines()
        .map(|l| l.trim().trim_end_matches('.'))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    match e.span() {
        Some(span) => {
            let line = text
                .get(..span.start)
                .map_or(0, |before| before.matches('\n').count())
                + 1;
            format!("line {line}: {message}")
        }
        None => message,
    }
}

/// Everything `mailcheck login` needs, validated.
#[derive(Debug, Clone)]
pub struct LoginConfig {
    /// The address.
    pub address: Address,
    /// `--client-id` (or its environment variable).
    pub client_id: Option<String>,
    /// The client secret from the flags or the environment.
    pub client_secret: Option<Secret>,
    /// The client configuration file.
    pub clients: ClientFile,
    /// The user's endpoints.
    pub overrides: Overrides,
    /// `--scope` (empty: the provider's).
    pub scopes: Vec<String>,
    /// `--flow`.
    pub flow: Option<OAuth2Flow>,
    /// Whether to open a browser.
    pub open_browser: bool,
    /// How long to wait for the person.
    pub wait: Duration,
    /// How to reach the authorization server.
    pub net: NetConfig,
    /// Where to keep the token.
    pub store: Store,
}

impl TryFrom<LoginArgs> for LoginConfig {
    type Error = UsageError;

    fn try_from(args: LoginArgs) -> Result<Self, UsageError> {
        let address = address::parse(&args.address)?;
        let scopes: Vec<String> = args
            .scope
            .iter()
            .flat_map(|s| s.split_whitespace())
            .map(str::to_owned)
            .collect();
        Ok(LoginConfig {
            address,
            client_id: args.client_id.clone().filter(|c| !c.trim().is_empty()),
            client_secret: client_secret(&args)?,
            clients: client_file(args.oauth2_config.as_ref())?,
            overrides: Overrides {
                issuer: args.issuer.clone(),
                authorization: args.authorization_url.clone(),
                token: args.token_url.clone(),
                device: args.device_url.clone(),
                revocation: args.revocation_url.clone(),
            },
            scopes,
            flow: args.flow.map(|f| match f {
                FlowChoice::Device => OAuth2Flow::Device,
                FlowChoice::Browser => OAuth2Flow::Browser,
            }),
            open_browser: !args.no_browser,
            wait: parse_secs(&args.wait, "--wait")?,
            net: NetConfig::try_from(&args.net)?,
            store: store(&args.store)?,
        })
    }
}

/// The client secret from one of its sources, at most one given.
fn client_secret(args: &LoginArgs) -> Result<Option<Secret>, UsageError> {
    let env = std::env::var(CLIENT_SECRET_ENV)
        .ok()
        .filter(|v| !v.is_empty());
    let read = |r: Result<Secret, SecretError>| r.map(Some).map_err(UsageError::from);
    match (env, &args.client_secret_file, &args.client_secret_cmd) {
        (None, None, None) => Ok(None),
        (Some(v), None, None) => Ok(Some(Secret::new(v))),
        (None, Some(f), None) => read(secrets::read_file(f, "--client-secret-file")),
        (None, None, Some(c)) => read(secrets::run_command(c, "--client-secret-cmd")),
        _ => Err(UsageError(format!(
            "the client secret from more than one source ({CLIENT_SECRET_ENV}, --client-secret-file, --client-secret-cmd); give exactly one"
        ))),
    }
}

/// Everything `mailcheck logout` needs, validated.
#[derive(Debug, Clone)]
pub struct LogoutConfig {
    /// The address.
    pub address: Address,
    /// Whether to ask the provider to revoke the token.
    pub revoke: bool,
    /// How to reach the authorization server.
    pub net: NetConfig,
    /// Where the token is kept.
    pub store: Store,
}

impl TryFrom<LogoutArgs> for LogoutConfig {
    type Error = UsageError;

    fn try_from(args: LogoutArgs) -> Result<Self, UsageError> {
        Ok(LogoutConfig {
            address: address::parse(&args.address)?,
            revoke: !args.no_revoke,
            net: NetConfig::try_from(&args.net)?,
            store: store(&args.store)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_file_is_found_by_family_or_issuer() {
        let f = ClientFile {
            entries: toml::from_str(
                "[microsoft]\nclient_id = \"ms\"\n[work]\nissuer = \"https://login.example.com/\"\nclient_id = \"w\"\n",
            )
            .unwrap(),
        };
        assert_eq!(f.find(Some("microsoft"), None).unwrap().client_id, "ms");
        assert_eq!(
            f.find(Some("google"), Some("https://login.example.com"))
                .unwrap()
                .client_id,
            "w"
        );
        assert!(f.find(Some("google"), None).is_none());
    }

    #[test]
    fn a_bad_client_file_says_what_was_expected() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("oauth2.toml");
        std::fs::write(&p, "[microsoft]\nclientid = 1\n").unwrap();
        let e = client_file(Some(&p)).unwrap_err().0;
        assert!(e.contains("expected tables like"), "{e}");
        let e = client_file(Some(&dir.path().join("missing.toml")))
            .unwrap_err()
            .0;
        assert!(e.contains("--oauth2-config"), "{e}");
    }

    #[test]
    fn a_typo_in_the_client_file_never_shows_the_client_secret() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("oauth2.toml");
        for (text, line) in [
            // Unquoted.
            (
                "[google]\nclient_id = \"x\"\nclient_secret = GOCSPX-s3cr3t\n",
                3,
            ),
            // Not a string.
            (
                "[google]\nclient_id = \"x\"\nclient_secret = 4711s3cr3t\n",
                3,
            ),
            ("[google]\nclient_id = \"x\"\nclient_secret = 47110815\n", 3),
            // Unterminated.
            (
                "[google]\nclient_id = \"x\"\nclient_secret = \"GOCSPX-s3cr3t\n",
                3,
            ),
            // A misspelt key next to it, and on its line.
            (
                "[google]\nclient_id = \"x\"\nclient_secret = \"GOCSPX-s3cr3t\"\nclientid = 1\n",
                4,
            ),
            (
                "[google]\nclient_id = \"x\"\nclient_secrett = \"GOCSPX-s3cr3t\"\n",
                3,
            ),
        ] {
            std::fs::write(&p, text).unwrap();
            let e = client_file(Some(&p)).unwrap_err().0;
            for secret in ["s3cr3t", "47110815", "GOCSPX"] {
                assert!(!e.contains(secret), "{text:?}: {e}");
            }
            assert!(e.contains(&format!("line {line}: ")), "{text:?}: {e}");
        }
        std::fs::write(
            &p,
            "[google]\nclient_id = \"x\"\nclient_secret = \"GOCSPX-s3cr3t\"\n",
        )
        .unwrap();
        let file = client_file(Some(&p)).unwrap();
        assert!(!format!("{file:?}").contains("s3cr3t"), "Debug redacts");
        let entry = file.find(Some("google"), None).unwrap();
        assert_eq!(
            entry.client_secret.as_ref().map(Secret::expose),
            Some("GOCSPX-s3cr3t")
        );
    }
}
