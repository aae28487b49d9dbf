//! A small HTTP/1.1 responder on 127.0.0.1, over TLS or not, for the fetcher's
//! tests (autoconfig, the ISPDB, Autodiscover): one request per connection (GET
//! or POST, whose body is read and logged), answered by a route function, with
//! the misbehaviours a fetcher must survive (huge bodies, endless redirects, silence),
//! and gated answers that show whether two requests were made at once.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// How to answer one request.
#[derive(Clone)]
pub enum Reply {
    /// A status and a body, with Content-Length.
    Body(u16, Vec<u8>),
    /// A redirect (301, 302, 307…) to this Location.
    Redirect(u16, String),
    /// A status, a Content-Type and a body (JSON answers).
    Typed(u16, &'static str, Vec<u8>),
    /// 200 with a chunked body of this many bytes, sent 16 KiB at a time (no
    /// Content-Length, so the client only learns the size by reading).
    Chunked(usize),
    /// 200 with a Content-Length of this many bytes, then the bytes.
    Declared(usize),
    /// Wait this long, then answer 200 with an empty body.
    Slow(Duration),
    /// Wait until the gate is opened (by another request's route calling
    /// `notify_one`), then answer with this status and body: the answer
    /// comes only if the other request is made while this one waits.
    Gated(Arc<Notify>, u16, Vec<u8>),
}

/// What the server saw and did, for assertions.
#[derive(Default)]
pub struct Log {
    /// Request targets (path and query), in order.
    pub targets: Mutex<Vec<String>>,
    /// Every request: method, target and body, in order.
    pub requests: Mutex<Vec<(String, String, String)>>,
    /// Body bytes written by `Chunked` and `Declared` replies.
    pub body_bytes: AtomicUsize,
    /// Set when a `Chunked` or `Declared` reply was written to the end.
    pub completed: AtomicBool,
}

/// A running server.
pub struct HttpServer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// What it saw.
    pub log: Arc<Log>,
}

type Route = Arc<dyn Fn(&str) -> Reply + Send + Sync>;

impl HttpServer {
    /// Starts a server answering each request target with `route`, over TLS when
    /// `tls` is given.
    pub async fn start(
        tls: Option<Arc<rustls::ServerConfig>>,
        route: impl Fn(&str) -> Reply + Send + Sync + 'static,
    ) -> HttpServer {
        Self::start_on("127.0.0.1:0", tls, route).await
    }

    /// As [`HttpServer::start`], on a given loopback address and port.
    pub async fn start_on(
        addr: &str,
        tls: Option<Arc<rustls::ServerConfig>>,
        route: impl Fn(&str) -> Reply + Send + Sync + 'static,
    ) -> HttpServer {
        let listener = TcpListener::bind(addr).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Log::default());
        let route: Route = Arc::new(route);
        let server_log = log.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (tls, route, log) = (tls.clone(), route.clone(), server_log.clone());
                tokio::spawn(async move {
                    let _ = serve(tcp, tls, route, log).await;
                });
            }
        });
        HttpServer { port, log }
    }

    /// The request targets seen so far.
    pub fn targets(&self) -> Vec<String> {
        self.log.targets.lock().unwrap().clone()
    }

    /// The requests seen so far: (method, target, body).
    pub fn requests(&self) -> Vec<(String, String, String)> {
        self.log.requests.lock().unwrap().clone()
    }
}

async fn serve(
    tcp: TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
    route: Route,
    log: Arc<Log>,
) -> std::io::Result<()> {
    match tls {
        Some(config) => {
            let stream = tokio_rustls::TlsAcceptor::from(config).accept(tcp).await?;
            answer(stream, &route, &log).await
        }
        None => answer(tcp, &route, &log).await,
    }
}

async fn answer(
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    route: &Route,
    log: &Log,
) -> std::io::Result<()> {
    let (method, target, body) = read_request(&mut stream).await?;
    log.targets.lock().unwrap().push(target.clone());
    log.requests
        .lock()
        .unwrap()
        .push((method, target.clone(), body));
    match route(&target) {
        Reply::Body(status, body) => {
            head(
                &mut stream,
                status,
                &format!("Content-Length: {}", body.len()),
            )
            .await?;
            stream.write_all(&body).await?;
        }
        Reply::Typed(status, content_type, body) => {
            let extra = format!(
                "Content-Type: {content_type}\r\nContent-Length: {}",
                body.len()
            );
            head(&mut stream, status, &extra).await?;
            stream.write_all(&body).await?;
        }
        Reply::Redirect(status, location) => {
            let extra = format!("Location: {location}\r\nContent-Length: 0");
            head(&mut stream, status, &extra).await?;
        }
        Reply::Chunked(total) => {
            head(&mut stream, 200, "Transfer-Encoding: chunked").await?;
            stream_body(&mut stream, total, true, log).await?;
        }
        Reply::Declared(total) => {
            head(&mut stream, 200, &format!("Content-Length: {total}")).await?;
            stream_body(&mut stream, total, false, log).await?;
        }
        Reply::Slow(delay) => {
            tokio::time::sleep(delay).await;
            head(&mut stream, 200, "Content-Length: 0").await?;
        }
        Reply::Gated(gate, status, body) => {
            gate.notified().await;
            let length = format!("Content-Length: {}", body.len());
            head(&mut stream, status, &length).await?;
            stream.write_all(&body).await?;
        }
    }
    stream.flush().await?;
    stream.shutdown().await
}

async fn head(
    stream: &mut (impl AsyncWrite + Unpin),
    status: u16,
    extra: &str,
) -> std::io::Result<()> {
    let content_type = if extra.starts_with("Content-Type") {
        ""
    } else {
        "Content-Type: text/xml\r\n"
    };
    let text =
        format!("HTTP/1.1 {status} Test\r\n{content_type}Connection: close\r\n{extra}\r\n\r\n");
    stream.write_all(text.as_bytes()).await
}

async fn stream_body(
    stream: &mut (impl AsyncWrite + Unpin),
    total: usize,
    chunked: bool,
    log: &Log,
) -> std::io::Result<()> {
    const PIECE: usize = 16 * 1024;
    let piece = vec![b'x'; PIECE];
    let mut sent = 0;
    while sent < total {
        let n = PIECE.min(total - sent);
        if chunked {
            stream.write_all(format!("{n:x}\r\n").as_bytes()).await?;
        }
        stream.write_all(&piece[..n]).await?;
        if chunked {
            stream.write_all(b"\r\n").await?;
        }
        sent += n;
        log.body_bytes.fetch_add(n, Ordering::SeqCst);
    }
    if chunked {
        stream.write_all(b"0\r\n\r\n").await?;
    }
    stream.flush().await?;
    log.completed.store(true, Ordering::SeqCst);
    Ok(())
}

/// Reads the request head (bounded) and its body (by Content-Length, at most
/// 64 KiB): method, target, body.
async fn read_request(
    stream: &mut (impl AsyncRead + Unpin),
) -> std::io::Result<(String, String, String)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        if stream.read(&mut byte).await? == 0 {
            break;
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut words = text.split_whitespace();
    let method = words.next().unwrap_or_default().to_owned();
    let target = words.next().unwrap_or_default().to_owned();
    let length = text
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0)
        .min(64 * 1024);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await?;
    Ok((method, target, String::from_utf8_lossy(&body).into_owned()))
}
