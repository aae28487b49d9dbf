//! A cap on the connections open to one server address at once, shared by every
//! run of a batch or of the exporter, so that a thousand domains hosted by one
//! provider never open more than a few connections to one of its IP addresses.
//!
//! Mail servers count connections per client address and refuse the excess
//! (Postfix's anvil, `smtpd_client_connection_count_limit`; Dovecot's
//! `mail_max_userip_connections`; the large providers' per-IP limits), and a
//! client that opens dozens at once looks like an attack. A single `probe` opens
//! each combination once and needs no cap; many targets at once do.
//!
//! A slot is taken before the TCP connect and travels with the stream
//! ([`Held`]), so it is given back exactly when that connection closes, and at
//! once for an attempt that failed or was not chosen.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Above this many known addresses, the ones nobody uses are forgotten.
const PRUNE_ABOVE: usize = 256;

/// At most `cap` connections to each IP address at once.
#[derive(Debug)]
pub struct PerServer {
    cap: usize,
    slots: Mutex<HashMap<IpAddr, Arc<Semaphore>>>,
}

impl PerServer {
    /// A cap of `cap` connections per address.
    #[must_use]
    pub fn new(cap: NonZeroUsize) -> Self {
        PerServer {
            cap: cap.get(),
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The cap.
    #[must_use]
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Connections held (open or being opened) to `ip` now.
    #[must_use]
    pub fn in_use(&self, ip: IpAddr) -> usize {
        let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots
            .get(&ip)
            .map_or(0, |s| self.cap - s.available_permits())
    }

    /// Waits for one slot at each of `ips`. The slots are taken in address order,
    /// so two runs that need the same addresses can never each hold one the other
    /// waits for.
    pub async fn acquire(&self, ips: &[IpAddr]) -> Slots {
        let mut ips = ips.to_vec();
        ips.sort_unstable();
        ips.dedup();
        let mut held = Vec::with_capacity(ips.len());
        for ip in ips {
            // The semaphores are never closed, so acquiring cannot fail.
            if let Ok(permit) = self.semaphore(ip).acquire_owned().await {
                held.push((ip, permit));
            }
        }
        Slots(held)
    }

    fn semaphore(&self, ip: IpAddr) -> Arc<Semaphore> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if slots.len() > PRUNE_ABOVE {
            // Held permits and waiters keep a reference: one left means idle.
            slots.retain(|_, s| Arc::strong_count(s) > 1);
        }
        slots
            .entry(ip)
            .or_insert_with(|| Arc::new(Semaphore::new(self.cap)))
            .clone()
    }
}

/// The slots taken for one connection attempt per address (none without a cap).
#[derive(Debug, Default)]
pub struct Slots(Vec<(IpAddr, OwnedSemaphorePermit)>);

impl Slots {
    /// Slots from `cap` when there is one, else none.
    pub async fn take(cap: Option<&PerServer>, ips: &[IpAddr]) -> Slots {
        match cap {
            Some(cap) => cap.acquire(ips).await,
            None => Slots::default(),
        }
    }

    /// The slot taken for `ip`, if any, to travel with its connection.
    pub fn remove(&mut self, ip: IpAddr) -> Option<OwnedSemaphorePermit> {
        let at = self.0.iter().position(|(held, _)| *held == ip)?;
        Some(self.0.swap_remove(at).1)
    }
}

/// A TCP stream that keeps its slot until it is dropped.
#[derive(Debug)]
pub struct Held {
    stream: TcpStream,
    _slot: Option<OwnedSemaphorePermit>,
}

impl Held {
    /// `stream`, holding `slot` for as long as it lives.
    #[must_use]
    pub fn new(stream: TcpStream, slot: Option<OwnedSemaphorePermit>) -> Self {
        Held {
            stream,
            _slot: slot,
        }
    }

    /// Our own end of the connection.
    pub fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.stream.local_addr()
    }
}

impl AsyncRead for Held {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Held {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn cap(n: usize) -> PerServer {
        PerServer::new(NonZeroUsize::new(n).unwrap())
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn the_cap_holds_per_address_and_frees_on_drop() {
        let limit = cap(2);
        let a = ip("192.0.2.1");
        let b = ip("192.0.2.2");
        let first = limit.acquire(&[a]).await;
        let second = limit.acquire(&[a, b]).await;
        assert_eq!((limit.in_use(a), limit.in_use(b)), (2, 1));
        let third = tokio::time::timeout(Duration::from_millis(50), limit.acquire(&[a])).await;
        assert!(third.is_err(), "a third slot at the same address must wait");
        drop(first);
        let third = tokio::time::timeout(Duration::from_secs(5), limit.acquire(&[a]))
            .await
            .expect("a freed slot is handed on");
        assert_eq!(limit.in_use(a), 2);
        drop((second, third));
        assert_eq!((limit.in_use(a), limit.in_use(b)), (0, 0));
    }

    #[tokio::test]
    async fn runs_wanting_the_same_addresses_in_any_order_do_not_deadlock() {
        let limit = Arc::new(cap(1));
        let (a, b) = (ip("192.0.2.1"), ip("2001:db8::1"));
        let tasks = (0..50).map(|i| {
            let limit = limit.clone();
            let ips = if i % 2 == 0 { [a, b] } else { [b, a] };
            tokio::spawn(async move {
                let slots = limit.acquire(&ips).await;
                tokio::task::yield_now().await;
                drop(slots);
            })
        });
        let all = futures_util::future::join_all(tasks);
        tokio::time::timeout(Duration::from_secs(10), all)
            .await
            .expect("no deadlock");
    }

    #[tokio::test]
    async fn a_slot_travels_with_its_stream() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let limit = cap(1);
        let mut slots = limit.acquire(&[addr.ip()]).await;
        let stream = TcpStream::connect(addr).await.unwrap();
        let held = Held::new(stream, slots.remove(addr.ip()));
        drop(slots);
        assert_eq!(limit.in_use(addr.ip()), 1, "the stream keeps the slot");
        drop(held);
        assert_eq!(limit.in_use(addr.ip()), 0);
    }

    #[tokio::test]
    async fn idle_addresses_are_forgotten() {
        let limit = cap(1);
        for i in 0..=300u32 {
            drop(limit.acquire(&[IpAddr::from(i.to_be_bytes())]).await);
        }
        let known = limit.slots.lock().unwrap().len();
        assert!(known <= PRUNE_ABOVE + 1, "{known} addresses kept");
    }
}
