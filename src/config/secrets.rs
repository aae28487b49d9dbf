//! Where credentials come from: an environment variable, a file, a command's
//! output (like msmtp's passwordeval) or a hidden prompt, never a plain
//! command-line value (it would show in `ps` and in shell history).

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::proto::sasl::{Credentials, Secret};

/// A secret could not be read: which source, what went wrong, what was expected.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("{0}")]
pub struct SecretError(pub String);

/// Environment variable holding the password.
pub const PASSWORD_ENV: &str = "MAILCHECK_PASSWORD";
/// Environment variable holding an OAuth2 bearer token.
pub const TOKEN_ENV: &str = "MAILCHECK_OAUTH2_TOKEN";
/// How long a `--password-cmd` / `--oauth2-token-cmd` may take.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Where to read a secret from, as the user asked.
#[derive(Debug, Clone, Default)]
pub struct SecretSources {
    /// `--password-file`.
    pub password_file: Option<PathBuf>,
    /// `--password-cmd`.
    pub password_cmd: Option<String>,
    /// `--ask-password`.
    pub ask_password: bool,
    /// `--oauth2-token-file`.
    pub token_file: Option<PathBuf>,
    /// `--oauth2-token-cmd`.
    pub token_cmd: Option<String>,
}

/// What kind of secret was found, and the secret.
#[derive(Debug, Clone)]
pub enum Found {
    /// A password.
    Password(Secret),
    /// An OAuth2 bearer token.
    Token(Secret),
}

/// Reads one secret when called.
type Reader<'a> = Box<dyn Fn() -> Result<Found, SecretError> + 'a>;

/// Reads the secret from the one source the user chose; `Ok(None)` when none was
/// given. Two sources at once are a usage error: which one wins would be a guess.
pub fn obtain(sources: &SecretSources) -> Result<Option<Found>, SecretError> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut chosen: Vec<(&str, Reader<'_>)> = Vec::new();
    if let Some(v) = env(PASSWORD_ENV) {
        chosen.push((
            PASSWORD_ENV,
            Box::new(move || Ok(Found::Password(Secret::new(v.clone())))),
        ));
    }
    if let Some(v) = env(TOKEN_ENV) {
        chosen.push((
            TOKEN_ENV,
            Box::new(move || Ok(Found::Token(Secret::new(v.clone())))),
        ));
    }
    if let Some(p) = &sources.password_file {
        chosen.push((
            "--password-file",
            Box::new(move || read_file(p, "--password-file").map(Found::Password)),
        ));
    }
    if let Some(c) = &sources.password_cmd {
        chosen.push((
            "--password-cmd",
            Box::new(move || run_command(c, "--password-cmd").map(Found::Password)),
        ));
    }
    if sources.ask_password {
        chosen.push(("--ask-password", Box::new(|| prompt().map(Found::Password))));
    }
    if let Some(p) = &sources.token_file {
        chosen.push((
            "--oauth2-token-file",
            Box::new(move || read_file(p, "--oauth2-token-file").map(Found::Token)),
        ));
    }
    if let Some(c) = &sources.token_cmd {
        chosen.push((
            "--oauth2-token-cmd",
            Box::new(move || run_command(c, "--oauth2-token-cmd").map(Found::Token)),
        ));
    }
    match chosen.as_slice() {
        [] => Ok(None),
        [(_, read)] => read().map(Some),
        many => {
            let names: Vec<&str> = many.iter().map(|(n, _)| *n).collect();
            Err(SecretError(format!(
                "credentials from more than one source ({}); give exactly one",
                names.join(", ")
            )))
        }
    }
}

/// Builds the credentials for `username` from what was found.
#[must_use]
pub fn credentials(username: String, found: Found) -> Credentials {
    match found {
        Found::Password(password) => Credentials::Password { username, password },
        Found::Token(token) => Credentials::OAuth2 { username, token },
    }
}

/// The first line of a file (a trailing newline is not part of the secret).
pub(super) fn read_file(path: &PathBuf, flag: &str) -> Result<Secret, SecretError> {
    use std::io::Read as _;
    let unreadable = |e: std::io::Error| {
        SecretError(format!(
            "{flag} {}: {e}; expected a readable file holding the secret on its first line",
            path.display()
        ))
    };
    // A secret is a line: read no more than MAX_SECRET_FILE of whatever the
    // path holds (a log file given by mistake, a device).
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_SECRET_FILE).read_to_string(&mut text))
        .map_err(unreadable)?;
    first_line(&text, flag)
}

/// The most of a secret file that is read (its first line is the secret).
const MAX_SECRET_FILE: u64 = 64 * 1024;

fn first_line(text: &str, what: &str) -> Result<Secret, SecretError> {
    let line = text.lines().next().unwrap_or("");
    if line.is_empty() {
        Err(SecretError(format!(
            "{what} gave an empty secret; expected it on the first line"
        )))
    } else {
        Ok(Secret::new(line))
    }
}

/// Runs `cmd` with `sh -c`, waits at most [`COMMAND_TIMEOUT`], and takes the first
/// line of its output. Its stderr goes to ours (a helper may ask for a PIN there).
pub(super) fn run_command(cmd: &str, flag: &str) -> Result<Secret, SecretError> {
    // The command itself may hold a client secret: name only the flag.
    let fail = |why: String| SecretError(format!("{flag}: {why}"));
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| fail(format!("cannot run it ({e})")))?;
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| fail("no output pipe".into()))?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = String::new();
        // A secret is short: read at most 64 KiB.
        let _ = stdout.by_ref().take(64 * 1024).read_to_string(&mut out);
        let _ = tx.send(out);
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < COMMAND_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!(
                    "no answer within {}s",
                    COMMAND_TIMEOUT.as_secs()
                )));
            }
            Err(e) => return Err(fail(e.to_string())),
        }
    };
    // A background process may keep the pipe open after the command exited:
    // wait for the output only as long as the time left.
    let left = COMMAND_TIMEOUT.saturating_sub(started.elapsed());
    let Ok(out) = rx.recv_timeout(left.max(Duration::from_millis(100))) else {
        return Err(fail(format!(
            "its output did not end within {}s (a background process holding it open?)",
            COMMAND_TIMEOUT.as_secs()
        )));
    };
    if !status.success() {
        return Err(fail(format!("it failed ({status})")));
    }
    first_line(&out, flag)
}

/// A hidden prompt, only when a person is there to answer it.
fn prompt() -> Result<Secret, SecretError> {
    if !std::io::stdin().is_terminal() {
        return Err(SecretError(
            "--ask-password needs a terminal; in scripts and CI use MAILCHECK_PASSWORD, --password-file or --password-cmd".into(),
        ));
    }
    let password = rpassword::prompt_password("Password: ")
        .map_err(|e| SecretError(format!("cannot read the password: {e}")))?;
    first_line(&password, "the prompt")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_give_their_first_line() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, b"s3cret pass\nsecond line\n").unwrap();
        let s = read_file(&f.path().to_path_buf(), "--password-file").unwrap();
        assert_eq!(s.expose(), "s3cret pass");
    }

    #[test]
    fn missing_and_empty_files_are_usage_errors() {
        let e = read_file(&PathBuf::from("/nonexistent/pw"), "--password-file").unwrap_err();
        assert!(
            e.0.contains("/nonexistent/pw") && e.0.contains("expected"),
            "{}",
            e.0
        );
        let f = tempfile::NamedTempFile::new().unwrap();
        let e = read_file(&f.path().to_path_buf(), "--password-file").unwrap_err();
        assert!(e.0.contains("empty"), "{}", e.0);
    }

    #[test]
    fn commands_give_their_first_line() {
        let s = run_command("printf 'tok3n\\nmore'", "--oauth2-token-cmd").unwrap();
        assert_eq!(s.expose(), "tok3n");
    }

    #[test]
    fn failing_commands_are_usage_errors_without_the_output() {
        let e = run_command("printf 'leaked-%s' secret; exit 3", "--password-cmd").unwrap_err();
        assert!(e.0.contains("failed"), "{}", e.0);
        assert!(!e.0.contains("leaked-secret"), "the output is never shown");
    }

    #[test]
    fn two_sources_at_once_are_refused() {
        let sources = SecretSources {
            password_cmd: Some("echo a".into()),
            token_cmd: Some("echo b".into()),
            ..SecretSources::default()
        };
        let e = obtain(&sources).unwrap_err();
        assert!(
            e.0.contains("--password-cmd") && e.0.contains("--oauth2-token-cmd"),
            "{}",
            e.0
        );
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let found = Found::Password(Secret::new("hunter2"));
        assert!(!format!("{found:?}").contains("hunter2"));
        let creds = credentials("alice".into(), found);
        assert!(!format!("{creds:?}").contains("hunter2"));
    }
}
