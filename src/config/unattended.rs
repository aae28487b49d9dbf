//! Runs nobody watches: the lines of `mailcheck batch` and the modules of
//! `mailcheck serve`. Each target is a `probe` command line, validated exactly as
//! `probe` validates it, less what needs a person at a terminal (a password
//! prompt) or prints something other than the report (`--export`, `--format`).
//!
//! Secrets stay per target: a password in the environment would be tried on
//! every account of the list, so these runs refuse to start while one is set.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use super::{Config, Format, StoredTokens, UsageError, parse_secs, secrets, use_color};
use crate::cli::{BatchArgs, BatchFormat, ProbeArgs};

/// Refuses to start while a password or token is set in the environment: it
/// would reach every target's account, not one.
pub fn refuse_shared_secrets(command: &str) -> Result<(), UsageError> {
    for name in [secrets::PASSWORD_ENV, secrets::TOKEN_ENV] {
        if std::env::var_os(name).is_some_and(|v| !v.is_empty()) {
            return Err(UsageError(format!(
                "{name} is set, but `mailcheck {command}` probes many accounts and would try it on \
                 each; unset it and name a file per target (--password-file or \
                 --oauth2-token-file)"
            )));
        }
    }
    Ok(())
}

/// Parses and validates one target's `probe` words. `list_on_stdin`: the target
/// list is standard input, which a credential command must not read from. A
/// stored OAuth2 token is used only when the words ask for it (`--oauth2`).
pub fn from_words(words: &[String], list_on_stdin: bool) -> Result<Config, UsageError> {
    let args = parse_probe(words)?;
    check_unattended(&args, list_on_stdin)?;
    Config::from_args(&args, StoredTokens::OnlyAsked)
}

/// Clap's parse of `probe` words, its message cut to the first line.
fn parse_probe(words: &[String]) -> Result<ProbeArgs, UsageError> {
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    ProbeArgs::parse_from(&words).map_err(|e| {
        let first = e.lines().next().unwrap_or("").trim();
        UsageError(first.trim_start_matches("error: ").to_owned())
    })
}

/// The `probe` options that make no sense without a person or with a report
/// format of its own.
fn check_unattended(args: &ProbeArgs, list_on_stdin: bool) -> Result<(), UsageError> {
    let refuse = |what: &str, why: &str| Err(UsageError(format!("{what} {why}")));
    if args.ask_password {
        return refuse(
            "--ask-password",
            "needs a person at a terminal; give --password-file instead",
        );
    }
    if args.export.is_some() {
        return refuse(
            "--export",
            "prints settings, not a report; run `mailcheck probe --export` for one target",
        );
    }
    if args.json || args.format.is_some() {
        return refuse(
            "--json/--format",
            "cannot be chosen per target; the output format is the batch's (mailcheck batch --format)",
        );
    }
    if list_on_stdin && (args.password_cmd.is_some() || args.oauth2_token_cmd.is_some()) {
        return refuse(
            "--password-cmd/--oauth2-token-cmd",
            "cannot be used while the target list comes from standard input (the command would \
             read it); give the list as a file, or use --password-file",
        );
    }
    Ok(())
}

/// The account a target logs in to, when it has credentials: two lines with the
/// same account would log in twice, which the one-attempt rule forbids.
/// A login name that is an address names the account wherever it logs in (the
/// address `alice@example.com` and its server `mail.example.com` are one
/// account); a short name (`--user alice`) is an account only on its hosts.
#[must_use]
pub fn account(config: &Config) -> Option<String> {
    let auth = config.auth.as_ref()?;
    let who = auth
        .user
        .clone()
        .or_else(|| config.address.as_ref().map(crate::model::Address::ascii))?
        .to_lowercase();
    if who.contains('@') {
        return Some(who);
    }
    let hosts = [&config.pop3_host, &config.imap_host, &config.smtp_host]
        .map(|h| h.as_deref().unwrap_or("*"))
        .join(",");
    Some(format!("{who} on {hosts}"))
}

/// Where the target list comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Standard input (`-`).
    Stdin,
    /// A file.
    File(PathBuf),
}

/// Everything `mailcheck batch` needs, validated.
#[derive(Debug, Clone)]
pub struct BatchConfig {
    /// The target list.
    pub input: Input,
    /// Targets probed at once.
    pub parallel: NonZeroUsize,
    /// Connections to one server address at once, over all targets.
    pub per_server: NonZeroUsize,
    /// Deadline for the whole batch.
    pub deadline: Option<Duration>,
    /// Human (a table) or JSON (JSON Lines).
    pub format: Format,
    /// Whether to colour the table.
    pub color: bool,
    /// Probe words given before every line's own.
    pub defaults: Vec<String>,
}

/// Upper bound of `--parallel`: each target holds its report in memory while it runs.
pub const MAX_PARALLEL: usize = 1024;
/// Upper bound of `--per-server`.
pub const MAX_PER_SERVER: usize = 256;

impl TryFrom<BatchArgs> for BatchConfig {
    type Error = UsageError;

    fn try_from(args: BatchArgs) -> Result<Self, UsageError> {
        refuse_shared_secrets("batch")?;
        let input = if args.file.as_os_str() == "-" {
            Input::Stdin
        } else if args.file.is_file() {
            Input::File(args.file.clone())
        } else {
            return Err(UsageError(format!(
                "{}: no such file; expected a file with one target per line, or - for standard input",
                args.file.display()
            )));
        };
        let defaults = args.defaults;
        if !defaults.is_empty() {
            let args = parse_probe(&defaults)
                .map_err(|e| UsageError(format!("the options after -- (for every line): {e}")))?;
            check_unattended(&args, input == Input::Stdin)
                .map_err(|e| UsageError(format!("the options after --: {e}")))?;
        }
        Ok(BatchConfig {
            parallel: count(&args.parallel, "--parallel", MAX_PARALLEL)?,
            per_server: count(&args.per_server, "--per-server", MAX_PER_SERVER)?,
            deadline: args
                .deadline
                .as_deref()
                .map(|d| parse_secs(d, "--deadline"))
                .transpose()?,
            format: match (args.json, args.format) {
                (true, _) | (_, Some(BatchFormat::Json)) => Format::Json,
                _ => Format::Human,
            },
            color: use_color(args.color),
            input,
            defaults,
        })
    }
}

/// A whole number from 1 to `max`, as typed.
pub fn count(s: &str, flag: &str, max: usize) -> Result<NonZeroUsize, UsageError> {
    s.trim()
        .parse::<usize>()
        .ok()
        .and_then(|n| in_range(n, max))
        .ok_or_else(|| not_count(&format!("{s:?}"), flag, max))
}

/// A whole number from 1 to `max`, already parsed (from a configuration file).
pub fn count_in(n: usize, flag: &str, max: usize) -> Result<NonZeroUsize, UsageError> {
    in_range(n, max).ok_or_else(|| not_count(&n.to_string(), flag, max))
}

fn in_range(n: usize, max: usize) -> Option<NonZeroUsize> {
    NonZeroUsize::new(n).filter(|n| n.get() <= max)
}

fn not_count(shown: &str, flag: &str, max: usize) -> UsageError {
    UsageError(format!(
        "{flag} {shown} is not a whole number from 1 to {max}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn a_line_takes_the_options_probe_takes() {
        let c = from_words(
            &words("--host mail.example.com --only imap:993:tls -4"),
            false,
        )
        .unwrap();
        assert_eq!(c.imap_host.as_deref(), Some("mail.example.com"));
        assert_eq!(c.only.len(), 1);
        let c = from_words(&words("alice@example.com --timeout 3"), false).unwrap();
        assert_eq!(c.timeout, Duration::from_secs(3));
    }

    #[test]
    fn bad_lines_say_what_was_wrong_on_one_line() {
        for (line, needle) in [
            (
                "--host mail.example.com --only ftp:21:tls",
                "unknown protocol",
            ),
            ("--bogus", "--bogus"),
            ("", "nothing to probe"),
            ("--host mail.example.com --ask-password", "--ask-password"),
            ("--host mail.example.com --export srv", "--export"),
            ("--host mail.example.com --json", "batch --format"),
        ] {
            let e = from_words(&words(line), false).unwrap_err().0;
            assert!(e.contains(needle), "{line:?}: {e}");
            assert!(!e.contains('\n'), "{line:?}: one line: {e}");
        }
    }

    #[test]
    fn a_credential_command_may_not_read_the_list() {
        let line = words("alice@example.com --password-cmd true");
        let e = from_words(&line, true).unwrap_err().0;
        assert!(e.contains("standard input"), "{e}");
    }

    /// A token `mailcheck login` stored for the address, in a file store.
    fn stored_token(dir: &std::path::Path, account: &str) {
        use std::os::unix::fs::PermissionsExt;
        let record = serde_json::json!({
            "version": crate::oauth::store::VERSION,
            "account": account,
            "issuer": "https://auth.example.com",
            "client_id": "mailcheck",
            "token_url": "https://auth.example.com/token",
            "revocation_url": null,
            "scopes_requested": ["mail"],
            "scopes_granted": null,
            "access_token": "stored-access-token",
            "obtained_at": 0,
            "expires_at": null,
        });
        let path = dir.join(format!("{account}.json"));
        std::fs::write(&path, record.to_string()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    #[test]
    fn a_stored_token_is_used_only_when_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        stored_token(dir.path(), "alice@example.com");
        let store = format!("--token-store file --token-dir {}", dir.path().display());
        let plain = from_words(&words(&format!("alice@example.com {store}")), false).unwrap();
        assert!(plain.auth.is_none(), "no login unless the line asks");
        let asked = format!("alice@example.com --oauth2 {store}");
        let asked = from_words(&words(&asked), false).unwrap();
        assert!(matches!(
            asked.auth.map(|a| a.secret),
            Some(super::super::AuthSecret::Stored(_))
        ));
        // `probe` itself still uses the stored token unasked.
        let args = parse_probe(&words(&format!("alice@example.com {store}"))).unwrap();
        let probe = Config::try_from(args).unwrap();
        assert!(probe.auth.is_some());
    }

    #[test]
    fn counts_are_bounded() {
        assert_eq!(count("16", "--parallel", 1024).unwrap().get(), 16);
        for bad in ["0", "-1", "many", "5000"] {
            let e = count(bad, "--parallel", 1024).unwrap_err().0;
            assert!(e.contains("from 1 to 1024"), "{bad}: {e}");
        }
    }
}
