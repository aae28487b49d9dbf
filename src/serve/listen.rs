//! The exporter's HTTP/1.1 server: hyper's connection builder under our own
//! accept loop, so that a client is untrusted input like a server is.
//!
//! - **Header read timeout.** A client has `header_timeout` to send a
//!   request's header (RFC 9112 §2: the request line and header fields); one
//!   that sends nothing, or half a header (slowloris), is disconnected then.
//!   hyper starts this timer whenever it waits for a header, so an idle
//!   kept-alive connection is closed after the same time.
//! - **Connection cap.** At most `connections` are served at once. Beyond it
//!   the exporter stops accepting: new connections **wait** in the kernel's
//!   listen queue (and, once that is full, the client's SYNs go unanswered
//!   and it retries) until a served one ends, rather than being accepted and
//!   closed. A burst of scrapes is answered late rather than failed, a waiting
//!   client costs the exporter no file descriptor, and its wait is bounded by
//!   its own timeout (Prometheus' `scrape_timeout`). A slot held by a silent
//!   client is freed after `header_timeout`.
//! - **Graceful shutdown.** On Ctrl-C or SIGTERM the listener closes, idle
//!   connections are closed, and answers being computed are finished first.

use std::future::Future;
use std::io;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// What bounds a client.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long a client may take to send a request's header.
    pub header_timeout: Duration,
    /// Connections served at once.
    pub connections: NonZeroUsize,
}

/// Serves `router` on `listener` until `stop` completes, then finishes the
/// answers under way.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    stop: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.connections.get()));
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    tokio::pin!(stop);
    loop {
        // The slot first: beyond the cap, connections stay in the listen queue.
        let slot = tokio::select! {
            () = &mut stop => break,
            slot = slots.clone().acquire_owned() => slot,
        };
        let Ok(slot) = slot else { break };
        let stream = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
        };
        let service = TowerToHyperService::new(router.clone());
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // A client that timed out or went away is no error of ours.
            let _ = conn.await;
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// An error from `accept`: one client's failure (it reset before we accepted)
/// is skipped; running out of file descriptors or memory is waited out, as
/// hyper's and axum's own loops do, instead of spinning.
async fn accept_failed(e: &io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if !matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        eprintln!("mailcheck: cannot accept a connection: {e}; retrying in 1s");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
