//! Where tokens are kept between runs: the operating system's keyring (macOS
//! Keychain, Windows Credential Manager, the Secret Service on Linux desktops,
//! through the `keyring` crate) when one answers, otherwise one file per address
//! that only the user can read (mode 0600 in a 0700 directory, written to a
//! temporary file and renamed over the old one, so a reader never sees half a
//! file and a crash never leaves a readable one).
//!
//! The record holds the access and refresh tokens and the client secret, which
//! never leave this module but to the token endpoint and the mail server.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::proto::sasl::Secret;

/// The keyring's service name for mailcheck's entries.
pub const KEYRING_SERVICE: &str = "mailcheck-oauth2";

/// The record format; bumped when a field changes meaning.
pub const VERSION: u32 = 1;

/// How long a keyring call may take (a desktop keyring may be asking the user
/// to unlock it; a missing one must not hang mailcheck).
const KEYRING_TIMEOUT: Duration = Duration::from_secs(20);

/// What is stored for one address.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredToken {
    /// [`VERSION`].
    pub version: u32,
    /// The address (lower-case ASCII form).
    pub account: String,
    /// The issuer (or authority) that issued the tokens; the token endpoint's
    /// origin when only endpoint URLs were given.
    pub issuer: String,
    /// The client ID they were issued to.
    pub client_id: String,
    /// The client secret, when the registration has one.
    #[serde(with = "secret_opt", default)]
    pub client_secret: Option<Secret>,
    /// Where to refresh.
    pub token_url: String,
    /// Where to revoke, if anywhere.
    pub revocation_url: Option<String>,
    /// The scopes asked for.
    pub scopes_requested: Vec<String>,
    /// The scopes granted, when the server said.
    pub scopes_granted: Option<Vec<String>>,
    /// The access token.
    #[serde(with = "secret")]
    pub access_token: Secret,
    /// The refresh token.
    #[serde(with = "secret_opt", default)]
    pub refresh_token: Option<Secret>,
    /// When the person signed in (Unix seconds).
    pub obtained_at: i64,
    /// When the access token expires (Unix seconds), when the server said.
    pub expires_at: Option<i64>,
}

/// Which store to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The keyring when it answers, else the file.
    Auto,
    /// The keyring only.
    Keyring,
    /// The file only.
    File,
}

/// Where a record was found or put.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The operating system's keyring.
    Keyring,
    /// This file.
    File(PathBuf),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Keyring => f.write_str("keyring"),
            Location::File(p) => write!(f, "file {}", p.display()),
        }
    }
}

/// The store could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct StoreError(pub String);

/// The token store.
#[derive(Debug, Clone)]
pub struct Store {
    kind: Kind,
    dir: PathBuf,
}

impl Store {
    /// A store of `kind`, keeping files in `dir` (default: the user's data
    /// directory, e.g. `~/.local/share/mailcheck/oauth2`).
    pub fn new(kind: Kind, dir: Option<PathBuf>) -> Result<Store, StoreError> {
        let dir = match dir {
            Some(d) => d,
            None => dirs::data_local_dir()
                .map(|d| d.join("mailcheck").join("oauth2"))
                .ok_or_else(|| {
                    StoreError(
                        "no data directory for the token file (HOME unset?); give --token-dir"
                            .into(),
                    )
                })?,
        };
        Ok(Store { kind, dir })
    }

    /// The file a record for `account` lives in.
    #[must_use]
    pub fn file_for(&self, account: &str) -> PathBuf {
        self.dir.join(format!("{}.json", file_name(account)))
    }

    /// The record for `account`, and where it was, if there is one. A file
    /// others can read is refused: its tokens may have leaked.
    pub fn load(&self, account: &str) -> Result<Option<(StoredToken, Location)>, StoreError> {
        self.find(account, Access::Use)
    }

    /// The record for `account` to revoke it: also from a file others can
    /// read, whose tokens are the ones most in need of revoking.
    pub fn load_to_revoke(
        &self,
        account: &str,
    ) -> Result<Option<(StoredToken, Location)>, StoreError> {
        self.find(account, Access::Revoke)
    }

    fn find(
        &self,
        account: &str,
        access: Access,
    ) -> Result<Option<(StoredToken, Location)>, StoreError> {
        if self.kind != Kind::File {
            match keyring_get(account) {
                Ok(Some(json)) => {
                    return parse(&json, "the keyring").map(|t| Some((t, Location::Keyring)));
                }
                Err(e) if self.kind == Kind::Keyring => return Err(e),
                Ok(None) | Err(_) => {}
            }
        }
        if self.kind == Kind::Keyring {
            return Ok(None);
        }
        let path = self.file_for(account);
        let Some(json) = read_private(&path, access)? else {
            return Ok(None);
        };
        parse(&json, &path.display().to_string()).map(|t| Some((t, Location::File(path))))
    }

    /// Saves a record (replacing any for the same address). When neither the
    /// keyring nor the file would take it, the error says why for both.
    pub fn save(&self, token: &StoredToken) -> Result<Location, StoreError> {
        let json = serde_json::to_string_pretty(token)
            .map_err(|e| StoreError(format!("cannot encode the token record: {e}")))?;
        let mut keyring_failed = None;
        if self.kind != Kind::File {
            match keyring_set(&token.account, &json) {
                Ok(()) => return Ok(Location::Keyring),
                Err(e) if self.kind == Kind::Keyring => return Err(e),
                Err(e) => keyring_failed = Some(e),
            }
        }
        let path = self.file_for(&token.account);
        write_private(&self.dir, &path, json.as_bytes()).map_err(|e| match keyring_failed {
            Some(k) => StoreError(format!("{k}; and the file store: {e}")),
            None => e,
        })?;
        Ok(Location::File(path))
    }

    /// What to do when [`Store::save`] failed, for the store the user chose.
    #[must_use]
    pub fn remedy(&self) -> String {
        let file = format!(
            "make sure you can create and write files in {} (or name another directory with --token-dir DIR or MAILCHECK_TOKEN_DIR)",
            self.dir.display()
        );
        match self.kind {
            Kind::Keyring => format!(
                "--token-store keyring needs the operating system's keyring, available and unlocked (on Linux a Secret Service such as GNOME Keyring or KWallet); \
                 or use --token-store file, which keeps the token in a file only you can read, in {}",
                self.dir.display()
            ),
            Kind::File | Kind::Auto => file,
        }
    }

    /// [`Store::load`] off the async threads: a keyring call may block for up
    /// to its time limit (a desktop keyring asking to be unlocked).
    pub async fn load_async(
        &self,
        account: &str,
    ) -> Result<Option<(StoredToken, Location)>, StoreError> {
        let account = account.to_owned();
        self.off_thread(move |s| s.load(&account)).await
    }

    /// [`Store::load_to_revoke`] off the async threads.
    pub async fn load_to_revoke_async(
        &self,
        account: &str,
    ) -> Result<Option<(StoredToken, Location)>, StoreError> {
        let account = account.to_owned();
        self.off_thread(move |s| s.load_to_revoke(&account)).await
    }

    /// [`Store::save`] off the async threads.
    pub async fn save_async(&self, token: &StoredToken) -> Result<Location, StoreError> {
        let token = token.clone();
        self.off_thread(move |s| s.save(&token)).await
    }

    /// [`Store::delete`] off the async threads.
    pub async fn delete_async(&self, account: &str) -> Result<Vec<Location>, StoreError> {
        let account = account.to_owned();
        self.off_thread(move |s| s.delete(&account)).await
    }

    async fn off_thread<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .unwrap_or_else(|e| Err(StoreError(format!("the token store's task failed: {e}"))))
    }

    /// Deletes the records for `account` wherever they are; where they were.
    pub fn delete(&self, account: &str) -> Result<Vec<Location>, StoreError> {
        let mut gone = Vec::new();
        if self.kind != Kind::File && keyring_delete(account) {
            gone.push(Location::Keyring);
        }
        if self.kind != Kind::Keyring {
            let path = self.file_for(account);
            match std::fs::remove_file(&path) {
                Ok(()) => gone.push(Location::File(path)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError(format!("cannot delete {}: {e}", path.display()))),
            }
        }
        Ok(gone)
    }
}

fn parse(json: &str, from: &str) -> Result<StoredToken, StoreError> {
    let t: StoredToken = serde_json::from_str(json).map_err(|e| {
        StoreError(format!(
            "the token record in {from} is damaged ({}); run mailcheck logout, then mailcheck login",
            json_error(&e)
        ))
    })?;
    if t.version != VERSION {
        return Err(StoreError(format!(
            "the token record in {from} has format {}, this mailcheck reads {VERSION}; run mailcheck login again",
            t.version
        )));
    }
    Ok(t)
}

/// What is wrong with a record, and where, in words that never quote it:
/// serde_json's own message shows wrong-typed values (`invalid type: string
/// "ya29..."`), which may be a token.
fn json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Io => "cannot be read",
        Category::Syntax => "not valid JSON",
        Category::Data => "a field is missing or of the wrong type",
        Category::Eof => "cut short",
    };
    format!("{what} at line {}, column {}", e.line(), e.column())
}

/// The address as a file name: letters, digits and `@._+-` kept, the rest
/// percent-encoded (an address may hold `/`).
fn file_name(account: &str) -> String {
    account
        .to_ascii_lowercase()
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'0'..=b'9' | b'@' | b'.' | b'_' | b'+' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect::<String>()
        .trim_start_matches('.')
        .to_owned()
}

/// What a record is read for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// To log in with it.
    Use,
    /// To revoke it.
    Revoke,
}

/// Reads a token file. To use it, a file that others can read is refused (as
/// ssh refuses such a key): its tokens may already have leaked.
fn read_private(path: &Path, access: Access) -> Result<Option<String>, StoreError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError(format!("cannot read {}: {e}", path.display()))),
    };
    #[cfg(unix)]
    if access == Access::Use {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| StoreError(format!("cannot read {}: {e}", path.display())))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(StoreError(format!(
                "{} can be read by other users (mode {:o}): its tokens may have leaked; \
                 run mailcheck logout and sign in again (the new file is made 0600)",
                path.display(),
                mode & 0o777
            )));
        }
    }
    Ok(Some(text))
}

/// Writes `bytes` to `path` atomically, readable by the user only.
fn write_private(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        StoreError(format!("cannot {what} {}: {e}", dir.display()))
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| fail("create", &e))?;
    // tempfile creates the file with mode 0600, exclusively, in the same directory,
    // so the rename below is atomic.
    let mut tmp = tempfile::Builder::new()
        .prefix(".token-")
        .tempfile_in(dir)
        .map_err(|e| fail("write a token file in", &e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| fail("protect a token file in", &e))?;
    }
    std::io::Write::write_all(&mut tmp, bytes).map_err(|e| fail("write a token file in", &e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| fail("write a token file in", &e))?;
    tmp.persist(path)
        .map_err(|e| fail("write a token file in", &e.error))?;
    Ok(())
}

// ---------------------------------------------------------------------------
// The keyring, each call on its own thread with a time limit.

fn keyring_call<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, keyring::Error> + Send + 'static,
) -> Result<T, StoreError> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(KEYRING_TIMEOUT) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(StoreError(format!("the keyring: {e}"))),
        Err(_) => Err(StoreError(format!(
            "the keyring did not answer within {} s",
            KEYRING_TIMEOUT.as_secs()
        ))),
    }
}

fn keyring_get(account: &str) -> Result<Option<String>, StoreError> {
    let account = account.to_owned();
    keyring_call(
        move || match keyring::Entry::new(KEYRING_SERVICE, &account)?.get_password() {
            Ok(s) => Ok(Some(s)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(e),
        },
    )
}

fn keyring_set(account: &str, json: &str) -> Result<(), StoreError> {
    let (account, json) = (account.to_owned(), json.to_owned());
    keyring_call(move || keyring::Entry::new(KEYRING_SERVICE, &account)?.set_password(&json))
}

fn keyring_delete(account: &str) -> bool {
    let account = account.to_owned();
    let deleted = keyring_call(move || {
        match keyring::Entry::new(KEYRING_SERVICE, &account)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(e),
        }
    });
    // No keyring at all: nothing was there to delete.
    deleted.unwrap_or(false)
}

// ---------------------------------------------------------------------------
// Serde for secrets: only this record ever writes them out. A value of the
// wrong type is refused without quoting it: serde's own message would show it
// (`invalid type: integer `123...``).

/// A secret as read: text, or anything else (refused, unseen). Syntax errors
/// of the document still come from its parser.
#[derive(Deserialize)]
#[serde(untagged)]
enum Raw {
    Text(String),
    Other(serde::de::IgnoredAny),
}

impl Raw {
    fn secret<E: serde::de::Error>(self) -> Result<Secret, E> {
        match self {
            Raw::Text(s) => Ok(Secret::new(s)),
            Raw::Other(_) => Err(E::custom("a secret must be a quoted string")),
        }
    }
}

mod secret {
    use super::{Deserialize, Deserializer, Raw, Secret, Serializer};

    pub fn serialize<S: Serializer>(s: &Secret, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(s.expose())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Secret, D::Error> {
        Raw::deserialize(de)?.secret()
    }
}

/// `#[serde(with)]` for an optional [`Secret`] (also the client configuration
/// file's `client_secret`).
pub(crate) mod secret_opt {
    use super::{Deserialize, Deserializer, Raw, Secret, Serialize, Serializer};

    #[allow(clippy::ref_option)]
    pub fn serialize<S: Serializer>(s: &Option<Secret>, ser: S) -> Result<S::Ok, S::Error> {
        s.as_ref().map(Secret::expose).serialize(ser)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Option<Secret>, D::Error> {
        Option::<Raw>::deserialize(de)?.map(Raw::secret).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn record(account: &str) -> StoredToken {
        StoredToken {
            version: VERSION,
            account: account.into(),
            issuer: "https://auth.example.com".into(),
            client_id: "cid".into(),
            client_secret: Some(Secret::new("client-s3cret")),
            token_url: "https://auth.example.com/token".into(),
            revocation_url: None,
            scopes_requested: vec!["mail".into()],
            scopes_granted: None,
            access_token: Secret::new("access-t0ken"),
            refresh_token: Some(Secret::new("refresh-t0ken")),
            obtained_at: 1,
            expires_at: Some(2),
        }
    }

    /// The file store cannot be written (its directory would be under a
    /// file, which fails for root too): the error names the directory, and the
    /// remedy says how to choose another.
    #[test]
    fn a_failed_save_names_the_place_and_the_remedy() {
        let dir = tempfile::tempdir().unwrap();
        let blocked = dir.path().join("not-a-directory");
        std::fs::write(&blocked, "").unwrap();
        let store = Store::new(Kind::File, Some(blocked.join("oauth2"))).unwrap();
        let e = store.save(&record("alice@example.com")).unwrap_err().0;
        assert!(
            e.contains("cannot create") && e.contains("not-a-directory"),
            "{e}"
        );
        assert!(!e.contains("t0ken") && !e.contains("s3cret"), "{e}");
        let fix = store.remedy();
        assert!(
            fix.contains("not-a-directory") && fix.contains("--token-dir"),
            "{fix}"
        );
        let keyring = Store::new(Kind::Keyring, Some(blocked)).unwrap().remedy();
        assert!(keyring.contains("--token-store file"), "{keyring}");
    }

    #[test]
    fn file_names_keep_addresses_readable_and_safe() {
        assert_eq!(file_name("Alice@Example.com"), "alice@example.com");
        assert_eq!(file_name("a/b@x"), "a%2Fb@x");
        assert_eq!(file_name("../x@y"), "%2Fx@y");
        assert!(!file_name("../../etc/passwd").contains('/'));
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private_replaced_atomically_and_deleted() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(Kind::File, Some(dir.path().join("tokens"))).unwrap();
        let mut t = record("alice@example.com");
        let at = store.save(&t).unwrap();
        let Location::File(path) = &at else {
            panic!("{at}")
        };
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(path), 0o600);
        assert_eq!(mode(&dir.path().join("tokens")), 0o700);
        t.access_token = Secret::new("second");
        store.save(&t).unwrap();
        let (loaded, _) = store.load("alice@example.com").unwrap().unwrap();
        assert_eq!(loaded.access_token.expose(), "second");
        assert_eq!(
            std::fs::read_dir(dir.path().join("tokens"))
                .unwrap()
                .count(),
            1,
            "no temporary files left"
        );
        assert!(!format!("{loaded:?}").contains("second"), "Debug redacts");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(
            store
                .load("alice@example.com")
                .unwrap_err()
                .0
                .contains("other users")
        );
        let (leaked, _) = store.load_to_revoke("alice@example.com").unwrap().unwrap();
        assert_eq!(leaked.access_token.expose(), "second", "to revoke it");
        assert_eq!(store.delete("alice@example.com").unwrap(), vec![at]);
        assert!(store.load("alice@example.com").unwrap().is_none());
    }

    /// The async calls leave the runtime free while the store blocks: here a
    /// token "file" that is a FIFO nobody writes to yet, standing in for a
    /// keyring asking to be unlocked. On a one-thread runtime, a blocking load
    /// would stop the ticker until the write.
    #[cfg(unix)]
    #[test]
    fn async_loads_do_not_block_the_runtime() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(Kind::File, Some(dir.path().to_owned())).unwrap();
        let path = store.file_for("alice@example.com");
        let made = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(made.success());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let (ticked, ticks) = std::sync::mpsc::channel();
        let json = serde_json::to_string(&record("alice@example.com")).unwrap();
        let writer = std::thread::spawn(move || {
            // Waits for the ticker (at most 10 s, so a blocked runtime fails
            // the test instead of hanging it), then lets the load finish.
            let ran = ticks.recv_timeout(Duration::from_secs(10)).is_ok();
            std::fs::write(&path, json).unwrap();
            ran
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let loaded = runtime.block_on(async {
            let load = store.load_async("alice@example.com");
            let ticker = async {
                tokio::task::yield_now().await;
                let _ = ticked.send(());
                std::future::pending::<()>().await;
            };
            tokio::select! {
                r = load => r,
                () = ticker => unreachable!(),
            }
        });
        assert!(
            writer.join().unwrap(),
            "the runtime was blocked by the load"
        );
        let (t, _) = loaded.unwrap().unwrap();
        assert_eq!(t.account, "alice@example.com");
    }

    #[test]
    fn damaged_records_say_what_to_do() {
        let e = parse("{", "f").unwrap_err();
        assert!(e.0.contains("mailcheck login"), "{e}");
        assert!(e.0.contains("cut short at line 1"), "{e}");
        let mut t = record("a@b.example");
        t.version = 99;
        let e = parse(&serde_json::to_string(&t).unwrap(), "f").unwrap_err();
        assert!(e.0.contains("format 99"), "{e}");
    }

    #[test]
    fn damaged_records_never_quote_a_token() {
        let good = serde_json::to_string_pretty(&record("a@b.example")).unwrap();
        for damaged in [
            // A string where a number belongs: serde_json would quote it.
            good.replace("\"obtained_at\": 1", "\"obtained_at\": \"access-t0ken\""),
            good.replace("\"version\": 1", "\"version\": \"refresh-t0ken\""),
            // A token where a list belongs.
            good.replace(
                "\"scopes_granted\": null",
                "\"scopes_granted\": \"access-t0ken\"",
            ),
            // Tokens of the wrong type.
            good.replace("\"access-t0ken\"", "12345678"),
            good.replace("\"refresh-t0ken\"", "[\"refresh-t0ken\"]"),
            // Cut short in a token.
            good[..good.find("access-t0ken").unwrap() + 6].to_owned(),
        ] {
            assert_ne!(damaged, good);
            let e = parse(&damaged, "f").unwrap_err().0;
            for secret in ["t0ken", "12345678", "client-s3cret"] {
                assert!(!e.contains(secret), "{e}");
            }
            assert!(e.contains(" at line "), "{e}");
        }
    }
}
