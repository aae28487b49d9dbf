//! Reading the target list: one target per line, on a thread of its own so that
//! a slow standard input, a credential file or a credential command never
//! blocks the probes. Lines become validated configurations (or the reason they
//! cannot be) and are handed over through a bounded channel, so a list of any
//! length is read only as fast as targets are probed.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::sync::Arc;

use tokio::sync::mpsc;

use super::Stop;
use crate::config::Config;
use crate::config::unattended::{BatchConfig, Input, account, from_words};

/// The longest line read; the rest of a longer one is skipped and reported.
pub const MAX_LINE: usize = 16 * 1024;

/// One line that holds a target.
#[derive(Debug)]
pub struct Target {
    /// The line number (1-based).
    pub line: usize,
    /// The target, in short (empty when the line could not be read).
    pub label: String,
    /// The validated configuration, or what is wrong with the line.
    pub config: Result<Config, String>,
}

/// Starts reading on its own thread; each target goes into `tx` in list order.
/// Stops early, before building another configuration, when `stop` is set or
/// when the receiving side is gone. The
/// thread's result is an I/O error reading the list, if one happened.
pub fn spawn(
    config: &BatchConfig,
    tx: mpsc::Sender<Target>,
    stop: Arc<Stop>,
) -> io::Result<std::thread::JoinHandle<io::Result<()>>> {
    let reader: Box<dyn BufRead + Send> = match &config.input {
        Input::Stdin => Box::new(BufReader::new(io::stdin())),
        Input::File(path) => Box::new(BufReader::new(File::open(path)?)),
    };
    let mut parser = Parser {
        defaults: config.defaults.clone(),
        stdin: config.input == Input::Stdin,
        accounts: HashMap::new(),
    };
    std::thread::Builder::new()
        .name("batch-input".into())
        .spawn(move || {
            let mut lines = Lines::new(reader);
            while let Some((line, text)) = lines.next_line()? {
                if stop.is_set() {
                    break;
                }
                let Some(target) = parser.target(line, text) else {
                    continue;
                };
                if tx.blocking_send(target).is_err() {
                    break;
                }
            }
            Ok(())
        })
}

/// How many targets a list file holds (lines that are not blank or comments),
/// for the progress bar; `None` for standard input (read once, as it comes: it
/// is never held whole) or an unreadable file. Reads the file line by line.
#[must_use]
pub fn count(input: &Input) -> Option<u64> {
    let Input::File(path) = input else {
        return None;
    };
    let mut lines = Lines::new(BufReader::new(File::open(path).ok()?));
    let mut n = 0;
    while let Some((_, text)) = lines.next_line().ok()? {
        let t = text.as_deref().unwrap_or("x").trim_start();
        if !t.is_empty() && !t.starts_with('#') {
            n += 1;
        }
    }
    Some(n)
}

/// Lines of at most [`MAX_LINE`] bytes, numbered; `Err(why)` for a line that is
/// too long or not UTF-8.
struct Lines<R> {
    reader: R,
    number: usize,
}

impl<R: BufRead> Lines<R> {
    fn new(reader: R) -> Self {
        Lines { reader, number: 0 }
    }

    fn next_line(&mut self) -> io::Result<Option<(usize, Result<String, String>)>> {
        let mut bytes = Vec::new();
        let mut too_long = false;
        let mut any = false;
        loop {
            let buf = self.reader.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            any = true;
            let (chunk, done) = match buf.iter().position(|b| *b == b'\n') {
                Some(at) => (&buf[..=at], true),
                None => (buf, false),
            };
            let used = chunk.len();
            if bytes.len() + used > MAX_LINE + 1 {
                too_long = true;
            } else {
                bytes.extend_from_slice(chunk);
            }
            self.reader.consume(used);
            if done {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        self.number += 1;
        let text = if too_long {
            Err(format!(
                "the line is longer than {MAX_LINE} bytes; expected one target per line"
            ))
        } else {
            String::from_utf8(bytes)
                .map(|s| s.trim_end_matches(['\n', '\r']).to_owned())
                .map_err(|_| "the line is not UTF-8 text".to_owned())
        };
        Ok(Some((self.number, text)))
    }
}

/// Turns lines into targets.
struct Parser {
    defaults: Vec<String>,
    stdin: bool,
    /// Accounts with credentials, and the line that first named each.
    accounts: HashMap<String, usize>,
}

impl Parser {
    /// The target on `line`, or `None` for a blank line or a comment.
    fn target(&mut self, line: usize, text: Result<String, String>) -> Option<Target> {
        let bad = |why: String| {
            Some(Target {
                line,
                label: String::new(),
                config: Err(why),
            })
        };
        let text = match text {
            Ok(t) => t,
            Err(why) => return bad(why),
        };
        let Some(words) = shlex::split(&text) else {
            return bad("unbalanced quotes or a trailing backslash; quote as in a shell".into());
        };
        if words.is_empty() {
            return None;
        }
        let all: Vec<String> = self.defaults.iter().cloned().chain(words).collect();
        let config = match from_words(&all, self.stdin) {
            Ok(c) => c,
            Err(e) => return bad(e.0),
        };
        if let Some(account) = account(&config) {
            if let Some(first) = self.accounts.get(&account) {
                return bad(format!(
                    "logs in to the same account as line {first} ({account}); mailcheck tries \
                     one login per account, so give each account one line"
                ));
            }
            self.accounts.insert(account, line);
        }
        Some(Target {
            line,
            label: label(&config),
            config: Ok(config),
        })
    }
}

/// The target in short: the address, else the host, else the hosts per protocol.
#[must_use]
pub fn label(config: &Config) -> String {
    if let Some(a) = &config.address {
        return a.input.clone();
    }
    let hosts = [
        ("pop3", &config.pop3_host),
        ("imap", &config.imap_host),
        ("smtp", &config.smtp_host),
    ];
    let given: Vec<(&str, &str)> = hosts
        .iter()
        .filter_map(|(p, h)| h.as_deref().map(|h| (*p, h)))
        .collect();
    match given.as_slice() {
        [(_, first), rest @ ..] if rest.iter().all(|(_, h)| h == first) => (*first).to_owned(),
        _ => given
            .iter()
            .map(|(p, h)| format!("{p}={h}"))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8]) -> Vec<(usize, Result<String, String>)> {
        let mut l = Lines::new(io::Cursor::new(input.to_vec()));
        std::iter::from_fn(|| l.next_line().unwrap()).collect()
    }

    #[test]
    fn lines_are_numbered_and_bounded() {
        let mut input = b"a\r\n\nb".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_LINE + 10));
        input.extend(b"\n\xff\nc\n");
        let got = lines(&input);
        assert_eq!(got[0], (1, Ok("a".into())));
        assert_eq!(got[1], (2, Ok(String::new())));
        assert!(got[2].1.as_ref().unwrap_err().contains("longer than"));
        assert!(got[3].1.as_ref().unwrap_err().contains("UTF-8"));
        assert_eq!(got[4], (5, Ok("c".into())));
        assert_eq!(got.len(), 5);
    }

    fn parser() -> Parser {
        Parser {
            defaults: vec!["--timeout".into(), "3".into()],
            stdin: false,
            accounts: HashMap::new(),
        }
    }

    #[test]
    fn comments_blanks_and_bad_lines() {
        let mut p = parser();
        assert!(p.target(1, Ok("   # a comment".into())).is_none());
        assert!(p.target(2, Ok(String::new())).is_none());
        let t = p
            .target(
                3,
                Ok("--host Mail.Example.com --only 'imap:993:tls' # note".into()),
            )
            .unwrap();
        assert_eq!(t.label, "mail.example.com");
        let c = t.config.unwrap();
        assert_eq!(c.timeout.as_secs(), 3, "defaults apply");
        let t = p.target(4, Ok("--host 'unclosed".into())).unwrap();
        assert!(t.config.unwrap_err().contains("quotes"));
        let t = p
            .target(5, Ok("--host a.example --timeout 1 --only x".into()))
            .unwrap();
        assert_eq!((t.line, t.label.as_str()), (5, ""));
        assert!(t.config.unwrap_err().contains("--only"));
    }

    #[test]
    fn one_line_per_account() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("pw");
        std::fs::write(&secret, "x\n").unwrap();
        let line = format!("alice@example.com --password-file {}", secret.display());
        let mut p = parser();
        assert!(p.target(1, Ok(line.clone())).unwrap().config.is_ok());
        let again = p.target(2, Ok(line)).unwrap().config.unwrap_err();
        assert!(again.contains("same account as line 1"), "{again}");
        let other = format!("bob@example.com --password-file {}", secret.display());
        assert!(p.target(3, Ok(other)).unwrap().config.is_ok());
        // The same address on its server named by hand: the same account.
        let by_host = format!(
            "--host mail.example.com --user Alice@Example.com --password-file {}",
            secret.display()
        );
        let again = p.target(4, Ok(by_host)).unwrap().config.unwrap_err();
        assert!(again.contains("same account as line 1"), "{again}");
        // A short name is an account only on its own hosts.
        for (line, host) in [(5, "mail.example.com"), (6, "mail.example.net")] {
            let short = format!(
                "--host {host} --user carol --password-file {}",
                secret.display()
            );
            assert!(p.target(line, Ok(short)).unwrap().config.is_ok(), "{host}");
        }
    }

    #[test]
    fn labels_name_the_target() {
        let c = from_words(
            &["--imap-host", "i.example", "--smtp-host", "s.example"].map(str::to_owned),
            false,
        )
        .unwrap();
        assert_eq!(label(&c), "imap=i.example smtp=s.example");
    }
}
