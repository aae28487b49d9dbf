//! The real test servers (Dovecot, Postfix, dnsmasq) started by
//! `scripts/test-servers.sh start`: where they are and how to reach them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Output;

/// What `scripts/test-servers.sh` wrote into its `env` file.
pub struct Servers {
    vars: HashMap<String, String>,
}

impl Servers {
    /// Reads the env file, or fails the test with instructions.
    pub fn get() -> Servers {
        let dir = std::env::var("MAILCHECK_TEST_SERVERS")
            .unwrap_or_else(|_| "/tmp/mailcheck-test-servers".into());
        let dir = PathBuf::from(dir);
        let ready = dir.join("ready").exists();
        let text = std::fs::read_to_string(dir.join("env"))
            .ok()
            .filter(|_| ready)
            .unwrap_or_else(|| {
                panic!(
                    "the real test servers are not running (no {}/ready): run `scripts/test.sh`, \
                 or `scripts/test-servers.sh start` before `cargo test`",
                    dir.display()
                )
            });
        let vars = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
            .collect();
        Servers { vars }
    }

    /// A variable from the env file.
    pub fn var(&self, key: &str) -> &str {
        self.vars
            .get(key)
            .unwrap_or_else(|| panic!("{key} missing from the test servers' env file"))
    }

    /// The DNS server's address.
    pub fn dns(&self) -> &str {
        self.var("MAILCHECK_TEST_DNS")
    }

    /// The test CA file.
    pub fn ca(&self) -> &str {
        self.var("MAILCHECK_TEST_CA")
    }

    /// The servers' DNS name.
    pub fn name(&self) -> &str {
        self.var("MAILCHECK_TEST_NAME")
    }
}

/// Runs the mailcheck binary: `mailcheck probe ARGS…`.
pub fn mailcheck(args: &[&str]) -> Output {
    let mut all = vec!["probe"];
    all.extend_from_slice(args);
    super::output::binary(&all)
}
