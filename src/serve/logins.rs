//! One login per account per minute. Prometheus may scrape a login module every
//! 15 s, or two Prometheus servers may scrape it at once; a provider that sees
//! the same account log in four times a minute from one address may lock it. So
//! the probes of one account take turns, and for [`INTERVAL`] after a probe
//! that logged in, a scrape of the same module and target is answered from that
//! probe (its age in `mailcheck_probe_result_age_seconds`), and any other
//! pairing with that account is refused (429, with `Retry-After`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::OwnedMutexGuard;

/// The shortest time between two logins to one account.
pub const INTERVAL: Duration = Duration::from_mins(1);

/// The last probe of an account that logged in.
#[derive(Debug, Clone)]
pub struct Last {
    /// When it finished.
    pub at: Instant,
    /// Its module.
    pub module: String,
    /// Its target, in normal form.
    pub target: String,
    /// Its answer (the metrics text); none when it did not finish (its scrape
    /// was abandoned), though it may have logged in.
    pub body: Option<Arc<Vec<u8>>>,
}

/// A turn at one account: held while its probe runs.
pub type Turn = OwnedMutexGuard<Option<Last>>;

type Slot = Arc<tokio::sync::Mutex<Option<Last>>>;

/// The accounts, each with its last login.
#[derive(Debug, Default)]
pub struct Logins {
    accounts: Mutex<HashMap<String, Slot>>,
}

impl Logins {
    /// Waits for `account`'s turn; the guard holds its last login, if any.
    pub async fn turn(&self, account: &str) -> Turn {
        let slot = {
            let mut accounts = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
            forget_idle(&mut accounts);
            accounts.entry(account.to_owned()).or_default().clone()
        };
        slot.lock_owned().await
    }
}

/// Forgets the accounts nobody waits for whose last login is older than
/// [`INTERVAL`], so that scrapes of many addresses do not grow the map.
fn forget_idle(accounts: &mut HashMap<String, Slot>) {
    accounts.retain(|_, slot| {
        Arc::strong_count(slot) > 1
            || slot
                .try_lock()
                .is_ok_and(|last| last.as_ref().is_some_and(|l| l.at.elapsed() < INTERVAL))
    });
}

/// What a turn with a recent login allows.
#[derive(Debug, PartialEq, Eq)]
pub enum Recent {
    /// No login within [`INTERVAL`]: probe.
    None,
    /// The same module and target: answer from the last probe, this old.
    Same(Duration),
    /// Another pairing: refuse until this much time has passed.
    Other(Duration),
}

/// Whether `last` was a login within [`INTERVAL`], and of the same pairing.
#[must_use]
pub fn recent(last: Option<&Last>, module: &str, target: &str) -> Recent {
    let Some(last) = last else {
        return Recent::None;
    };
    let age = last.at.elapsed();
    if age >= INTERVAL {
        Recent::None
    } else if last.module == module && last.target == target && last.body.is_some() {
        Recent::Same(age)
    } else {
        Recent::Other(INTERVAL.saturating_sub(age))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last(module: &str, ago: Duration) -> Last {
        Last {
            at: Instant::now().checked_sub(ago).unwrap(),
            module: module.into(),
            target: "alice@example.com".into(),
            body: Some(Arc::new(Vec::new())),
        }
    }

    #[test]
    fn within_the_interval_the_same_pairing_is_answered_and_others_wait() {
        let t = "alice@example.com";
        assert_eq!(recent(None, "a", t), Recent::None);
        let l = last("a", Duration::from_secs(10));
        assert!(
            matches!(recent(Some(&l), "a", t), Recent::Same(d) if d >= Duration::from_secs(10))
        );
        assert!(
            matches!(recent(Some(&l), "b", t), Recent::Other(d) if d <= Duration::from_secs(50))
        );
        assert!(matches!(
            recent(Some(&l), "a", "bob@example.com"),
            Recent::Other(_)
        ));
        let old = last("a", Duration::from_secs(61));
        assert_eq!(recent(Some(&old), "b", t), Recent::None);
    }

    #[tokio::test]
    async fn an_account_takes_turns_and_idle_ones_are_forgotten() {
        let logins = Logins::default();
        let mut turn = logins.turn("alice").await;
        assert!(turn.is_none());
        *turn = Some(last("a", Duration::from_secs(1)));
        let waiting = tokio::time::timeout(Duration::from_millis(50), logins.turn("alice")).await;
        assert!(
            waiting.is_err(),
            "a second probe waits while the first runs"
        );
        drop(turn);
        assert!(
            logins.turn("alice").await.is_some(),
            "and then sees its login"
        );
        *logins.turn("bob").await = Some(last("a", Duration::from_mins(2)));
        let _carol = logins.turn("carol").await;
        let accounts = logins.accounts.lock().unwrap();
        assert!(
            accounts.contains_key("alice"),
            "logged in within the minute"
        );
        assert!(
            !accounts.contains_key("bob"),
            "logged in long ago: forgotten"
        );
    }
}
