//! The login test's configuration: which secret, from which one source, and
//! when a token `mailcheck login` stored may stand in for it.

use std::sync::Arc;

use super::secrets::{self, Found, SecretSources};
use super::{UsageError, oauth};
use crate::cli::ProbeArgs;
use crate::model::address::Address;
use crate::proto::sasl::Mechanism;

/// The login test, as asked for.
#[derive(Debug, Clone)]
#[allow(clippy::struct_excessive_bools)]
pub struct AuthConfig {
    /// `--user`, when given (then no other username form is tried).
    pub user: Option<String>,
    /// The secret and its kind; the username is decided once discovery has said
    /// which form the provider wants.
    pub secret: AuthSecret,
    /// `--auth-mech`.
    pub forced: Option<Mechanism>,
    /// `--allow-insecure-auth`.
    pub allow_insecure: bool,
    /// `--send-test`.
    pub send_test: bool,
    /// `--deliver`.
    pub deliver: bool,
}

/// What the login test logs in with.
#[derive(Debug, Clone)]
pub enum AuthSecret {
    /// A password or token the user gave.
    Given(Arc<Found>),
    /// The OAuth2 token `mailcheck login` stored (refreshed before use when it
    /// has expired).
    Stored(Arc<oauth::StoredLogin>),
}

/// When a run may log in with the OAuth2 token `mailcheck login` stored for
/// its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredTokens {
    /// Whenever one is stored, or with `--oauth2` (`probe`: a person checking
    /// their own account).
    WhenStored,
    /// Only with `--oauth2` (`batch`, `serve`): these probe many addresses, and
    /// a token stored for one of them must not turn its check into a login,
    /// nor a keyring prompt or a damaged record stop the run.
    OnlyAsked,
}

/// The login test's settings, reading the secret from the one source given;
/// and the report's note when a stored token could not be read.
pub(super) fn auth_config(
    args: &ProbeArgs,
    address: Option<&Address>,
    tokens: StoredTokens,
) -> Result<(Option<AuthConfig>, Option<String>), UsageError> {
    let sources = SecretSources {
        password_file: args.password_file.clone(),
        password_cmd: args.password_cmd.clone(),
        ask_password: args.ask_password,
        token_file: args.oauth2_token_file.clone(),
        token_cmd: args.oauth2_token_cmd.clone(),
    };
    let uses_login = args.user.is_some() || args.auth_mech.is_some() || args.deliver;
    let (secret, note) = secret(args, address, &sources, tokens)?;
    let Some(secret) = secret else {
        if uses_login || args.allow_insecure_auth {
            return Err(UsageError(format!(
                "the login test needs a password or token: set {} or {}, or use --password-file, \
                 --password-cmd, --ask-password, --oauth2-token-file or --oauth2-token-cmd, \
                 or sign in first with `mailcheck login ADDRESS`{}",
                secrets::PASSWORD_ENV,
                secrets::TOKEN_ENV,
                note.map(|n| format!(" ({n})")).unwrap_or_default()
            )));
        }
        return Ok((None, note));
    };
    if args.user.is_none() && args.address.is_none() {
        return Err(UsageError(
            "credentials given but no username: give the address (alice@example.com) or --user"
                .into(),
        ));
    }
    if args.send_test && args.address.is_none() {
        return Err(UsageError(
            "--send-test needs the address: it is both the sender and the recipient".into(),
        ));
    }
    let auth = AuthConfig {
        user: args.user.clone(),
        secret,
        forced: args.auth_mech.as_deref().map(mechanism).transpose()?,
        allow_insecure: args.allow_insecure_auth,
        send_test: args.send_test,
        deliver: args.deliver,
    };
    Ok((Some(auth), note))
}

/// The secret the user gave; else, for an address, the OAuth2 token stored for
/// it (required with `--oauth2`, which no other source may accompany), or why
/// a stored one could not be read when none was required.
fn secret(
    args: &ProbeArgs,
    address: Option<&Address>,
    sources: &SecretSources,
    tokens: StoredTokens,
) -> Result<(Option<AuthSecret>, Option<String>), UsageError> {
    let found = secrets::obtain(sources)?;
    if args.oauth2 && found.is_some() {
        return Err(UsageError(
            "--oauth2 logs in with the token stored by `mailcheck login`; it cannot be combined with another password or token source".into(),
        ));
    }
    if let Some(found) = found {
        return Ok((Some(AuthSecret::Given(Arc::new(found))), None));
    }
    let Some(address) = address else {
        return if args.oauth2 {
            Err(UsageError(
                "--oauth2 needs the address whose stored token to use".into(),
            ))
        } else {
            Ok((None, None))
        };
    };
    if tokens == StoredTokens::OnlyAsked && !args.oauth2 {
        return Ok((None, None));
    }
    Ok(
        match oauth::stored_login(address, &args.token_store, args.oauth2)? {
            oauth::Lookup::Found(stored) => (Some(AuthSecret::Stored(stored)), None),
            oauth::Lookup::Nothing => (None, None),
            oauth::Lookup::Unreadable(note) => (None, Some(note)),
        },
    )
}

/// `--auth-mech`'s value.
fn mechanism(m: &str) -> Result<Mechanism, UsageError> {
    m.parse().map_err(|_| {
        UsageError(format!(
            "--auth-mech {m:?} is not a mechanism mailcheck speaks; expected PLAIN, LOGIN, CRAM-MD5, XOAUTH2 or OAUTHBEARER"
        ))
    })
}
