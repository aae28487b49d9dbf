//! TCP connections, one per address family, so a broken IPv6 path shows even when
//! IPv4 works (and the other way round). Each connection carries its slot of the
//! per-server cap, when there is one ([`super::limit`]).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use super::limit::{Held, Slots};
use crate::model::Code;

/// The result of one connection attempt.
#[derive(Debug)]
pub struct Attempt {
    /// Where we tried to connect.
    pub addr: SocketAddr,
    /// How long it took to succeed or fail.
    pub duration: Duration,
    /// The stream, or the failure class and the system's words.
    pub result: Result<Held, (Code, String)>,
}

/// The first IPv4 and the first IPv6 address, in that order, among `addresses`.
#[must_use]
pub fn per_family(addresses: &[IpAddr]) -> Vec<IpAddr> {
    let v4 = addresses.iter().find(|a| a.is_ipv4());
    let v6 = addresses.iter().find(|a| a.is_ipv6());
    v4.into_iter().chain(v6).copied().collect()
}

/// Connects to every address at once, each bounded by `timeout`; a connection
/// keeps the slot taken for its address in `slots` (a failed attempt frees it).
pub async fn connect_all(
    addresses: &[IpAddr],
    port: u16,
    timeout: Duration,
    mut slots: Slots,
) -> Vec<Attempt> {
    let tries = addresses.iter().map(|ip| {
        let slot = slots.remove(*ip);
        async move {
            let addr = SocketAddr::new(*ip, port);
            let started = Instant::now();
            let result = connect_one(addr, timeout).await;
            Attempt {
                addr,
                duration: started.elapsed(),
                result: result.map(|stream| Held::new(stream, slot)),
            }
        }
    });
    futures_util::future::join_all(tries).await
}

async fn connect_one(addr: SocketAddr, timeout: Duration) -> Result<TcpStream, (Code, String)> {
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Err(_) => Err((
            Code::ConnectTimeout,
            format!(
                "no answer within {}s (the port is filtered, or the host is down)",
                timeout.as_secs_f32()
            ),
        )),
        Ok(Err(e)) => Err((classify(&e), e.to_string())),
        Ok(Ok(stream)) => {
            // Dialogues are small request/reply exchanges: do not let Nagle delay them.
            let _ = stream.set_nodelay(true);
            Ok(stream)
        }
    }
}

/// Maps a connect error to its class.
#[must_use]
pub fn classify(e: &io::Error) -> Code {
    match e.kind() {
        io::ErrorKind::TimedOut => Code::ConnectTimeout,
        // EADDRNOTAVAIL: e.g. IPv6 asked for on a host without IPv6.
        io::ErrorKind::NetworkUnreachable
        | io::ErrorKind::HostUnreachable
        | io::ErrorKind::AddrNotAvailable => Code::NetworkUnreachable,
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => Code::ConnectionReset,
        // ConnectionRefused, and anything unusual: the port cannot be reached.
        _ => Code::ConnectRefused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_family_keeps_first_of_each() {
        let a: Vec<IpAddr> = ["127.0.0.1", "::1", "127.0.0.2", "::2"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(per_family(&a), vec![a[0], a[1]]);
    }

    #[test]
    fn os_errors_map_to_classes() {
        // Linux errno values: ENETUNREACH 101, EHOSTUNREACH 113, ECONNREFUSED 111,
        // ETIMEDOUT 110, ECONNRESET 104.
        for (errno, code) in [
            (101, Code::NetworkUnreachable),
            (113, Code::NetworkUnreachable),
            (111, Code::ConnectRefused),
            (110, Code::ConnectTimeout),
            (104, Code::ConnectionReset),
        ] {
            assert_eq!(
                classify(&io::Error::from_raw_os_error(errno)),
                code,
                "errno {errno}"
            );
        }
    }

    #[tokio::test]
    async fn refused_port_is_classified() {
        // Bind then drop to find a port nothing listens on.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let attempts = connect_all(
            &["127.0.0.1".parse().unwrap()],
            port,
            Duration::from_secs(2),
            Slots::default(),
        )
        .await;
        assert_eq!(attempts.len(), 1);
        assert_eq!(
            attempts[0].result.as_ref().unwrap_err().0,
            Code::ConnectRefused
        );
    }
}
