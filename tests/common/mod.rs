//! Shared test helpers: scripted loopback servers that misbehave on purpose, test
//! certificates, and a way to run mailcheck's whole stack in-process.

#![allow(dead_code)]

pub mod dns;
pub mod exporter;
pub mod http;
pub mod oauth;
pub mod output;
pub mod servers;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mailcheck::cli::ProbeArgs;
use mailcheck::config::Config;
use mailcheck::engine;
use mailcheck::report::{ProbeReport, Report};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

/// One step of a scripted server.
#[derive(Clone)]
pub enum Act {
    /// Write these bytes.
    Send(Vec<u8>),
    /// Read one line from the client (up to LF).
    Read,
    /// Wait.
    Sleep(Duration),
    /// Switch to TLS with this configuration (server side).
    Tls(Arc<rustls::ServerConfig>),
    /// Read until the client's TLS ClientHello arrived, then send these raw bytes.
    AfterHello(Vec<u8>),
    /// Stay connected and silent for a long time.
    Hang,
    /// Answer commands by rule until QUIT/LOGOUT: for each line read, the first
    /// rule whose prefix (case-insensitive) starts the line answers it.
    Serve(Vec<Rule>),
}

/// One rule of [`Act::Serve`].
#[derive(Clone)]
pub struct Rule {
    /// What the client's line starts with ("" matches anything).
    pub prefix: &'static str,
    /// What to do.
    pub reply: Reply,
}

/// The answer of a [`Rule`].
#[derive(Clone)]
pub enum Reply {
    /// Send this text.
    Text(String),
    /// Send this text, then switch to TLS (a STARTTLS answer).
    StartTls(String, Arc<rustls::ServerConfig>),
    /// Never answer.
    Hang,
    /// Close the connection without a word.
    Close,
    /// IMAP: the untagged lines, then "TAG text" with the command's own tag.
    Tagged(String, String),
    /// IMAP: "TAG text" with the command's own tag, then switch to TLS.
    StartTlsTagged(String, Arc<rustls::ServerConfig>),
}

/// A rule that answers `prefix` with `text`.
pub fn rule(prefix: &'static str, text: &str) -> Rule {
    Rule {
        prefix,
        reply: Reply::Text(text.to_owned()),
    }
}

/// `Act::Send` of a text.
pub fn send(s: &str) -> Act {
    Act::Send(s.as_bytes().to_vec())
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A scripted server on 127.0.0.1, an ephemeral port; every connection runs the script.
pub struct Scripted {
    /// The port it listens on.
    pub port: u16,
    /// How many connections it accepted.
    pub connections: Arc<AtomicUsize>,
    /// Every line clients sent to [`Act::Serve`] rules, over all connections.
    pub received: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Scripted {
    /// Starts the server in the current runtime.
    pub async fn start(script: Vec<Act>) -> Scripted {
        Scripted::start_each(vec![script]).await
    }

    /// As [`Scripted::start`], with one script per connection: the n-th
    /// connection runs the n-th script (the last one from then on), as a
    /// server whose second connection differs from its first.
    pub async fn start_each(scripts: Vec<Vec<Act>>) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let received = Arc::new(std::sync::Mutex::new(Vec::new()));
        let count = connections.clone();
        let log = received.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let n = count.fetch_add(1, Ordering::SeqCst);
                let script = scripts[n.min(scripts.len() - 1)].clone();
                let log = log.clone();
                tokio::spawn(async move {
                    let _ = run_script(tcp, script, log).await;
                });
            }
        });
        Scripted {
            port,
            connections,
            received,
        }
    }
}

type Log = Arc<std::sync::Mutex<Vec<String>>>;

async fn run_script(tcp: tokio::net::TcpStream, script: Vec<Act>, log: Log) -> std::io::Result<()> {
    let mut stream: Box<dyn Io> = Box::new(tcp);
    for act in script {
        match act {
            Act::Send(bytes) => {
                stream.write_all(&bytes).await?;
                stream.flush().await?;
            }
            Act::Read => {
                if let Some(line) = read_line(&mut stream).await? {
                    log.lock().unwrap().push(line);
                }
            }
            Act::Serve(rules) => stream = serve(stream, &rules, &log).await?,
            Act::Sleep(d) => tokio::time::sleep(d).await,
            Act::Tls(config) => {
                let acceptor = tokio_rustls::TlsAcceptor::from(config);
                stream = Box::new(acceptor.accept(stream).await?);
            }
            Act::AfterHello(bytes) => {
                let mut buf = [0u8; 5];
                stream.read_exact(&mut buf).await?;
                stream.write_all(&bytes).await?;
                stream.flush().await?;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Act::Hang => tokio::time::sleep(Duration::from_mins(1)).await,
        }
    }
    Ok(())
}

/// A server that accepts, optionally sends `first`, then resets the connection.
pub async fn start_reset(first: &'static [u8]) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let _ = tcp.write_all(first).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            // SO_LINGER 0 makes the close a reset (RST) instead of a FIN.
            #[allow(deprecated)]
            let _ = tcp.set_linger(Some(Duration::ZERO));
            drop(tcp);
        }
    });
    port
}

async fn read_line(stream: &mut Box<dyn Io>) -> std::io::Result<Option<String>> {
    let mut byte = [0u8; 1];
    let mut line = Vec::new();
    for _ in 0..8192 {
        if stream.read(&mut byte).await? == 0 {
            return Ok(None);
        }
        if byte[0] == b'\n' {
            break;
        }
        line.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&line)
        .trim_end_matches('\r')
        .to_owned();
    Ok(Some(text))
}

async fn serve(mut stream: Box<dyn Io>, rules: &[Rule], log: &Log) -> std::io::Result<Box<dyn Io>> {
    while let Some(line) = read_line(&mut stream).await? {
        log.lock().unwrap().push(line.clone());
        let upper = line.to_ascii_uppercase();
        // IMAP commands carry a tag: match on what follows it too.
        let untagged = upper
            .split_once(' ')
            .map_or("", |(_, rest)| rest)
            .to_owned();
        let hit = rules.iter().find(|r| {
            let p = r.prefix.to_ascii_uppercase();
            upper.starts_with(&p) || untagged.starts_with(&p)
        });
        match hit.map(|r| &r.reply) {
            Some(Reply::Text(text)) => {
                stream.write_all(text.as_bytes()).await?;
                stream.flush().await?;
            }
            Some(Reply::StartTls(text, config)) => {
                stream.write_all(text.as_bytes()).await?;
                stream.flush().await?;
                let acceptor = tokio_rustls::TlsAcceptor::from(config.clone());
                stream = Box::new(acceptor.accept(stream).await?);
            }
            Some(Reply::Hang) => tokio::time::sleep(Duration::from_mins(1)).await,
            Some(Reply::Close) => return Err(std::io::ErrorKind::ConnectionAborted.into()),
            Some(Reply::Tagged(untagged, text)) => {
                let tag = line.split(' ').next().unwrap_or("*");
                stream
                    .write_all(format!("{untagged}{tag} {text}").as_bytes())
                    .await?;
                stream.flush().await?;
            }
            Some(Reply::StartTlsTagged(text, config)) => {
                let tag = line.split(' ').next().unwrap_or("*");
                stream.write_all(format!("{tag} {text}").as_bytes()).await?;
                stream.flush().await?;
                let acceptor = tokio_rustls::TlsAcceptor::from(config.clone());
                stream = Box::new(acceptor.accept(stream).await?);
            }
            None => stream.write_all(b"500 unknown command\r\n").await?,
        }
        if upper.starts_with("QUIT") || untagged.starts_with("LOGOUT") {
            break;
        }
    }
    Ok(stream)
}

/// A port on 127.0.0.1 that nothing listens on.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A test PKI: a CA and certificates it signs.
pub struct Pki {
    /// The CA certificate, PEM, written to a temporary file for `--ca-file`.
    pub ca_file: tempfile::NamedTempFile,
    ca_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

/// How to make a server certificate.
pub struct Leaf<'a> {
    /// Subject alternative names.
    pub names: &'a [&'a str],
    /// Validity start, in days from now (negative: in the past).
    pub from_days: i64,
    /// Validity end, in days from now.
    pub to_days: i64,
}

impl Default for Leaf<'_> {
    fn default() -> Self {
        Leaf {
            names: &["localhost", "127.0.0.1"],
            from_days: -1,
            to_days: 90,
        }
    }
}

impl Pki {
    /// A fresh CA.
    pub fn new(name: &str) -> Pki {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        let mut ca_file = tempfile::NamedTempFile::new().unwrap();
        ca_file.write_all(cert.pem().as_bytes()).unwrap();
        Pki {
            ca_file,
            ca_der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// Path of the CA file.
    pub fn ca_path(&self) -> String {
        self.ca_file.path().display().to_string()
    }

    /// A server TLS configuration presenting a leaf signed by this CA, with the
    /// CA itself sent along when `send_ca` (a full chain) or not.
    pub fn server(&self, leaf: &Leaf<'_>) -> Arc<rustls::ServerConfig> {
        let (cert, key) = self.leaf(leaf);
        server_config(vec![cert], key)
    }

    /// A leaf certificate and its key.
    pub fn leaf(&self, leaf: &Leaf<'_>) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(
            leaf.names
                .iter()
                .map(|s| (*s).to_owned())
                .collect::<Vec<_>>(),
        )
        .unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, leaf.names[0]);
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now + time::Duration::days(leaf.from_days);
        params.not_after = now + time::Duration::days(leaf.to_days);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (
            cert.der().clone(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
    }

    /// A chain leaf ← intermediate (← this CA); `send_intermediate` decides whether
    /// the server sends the intermediate.
    pub fn server_via_intermediate(&self, send_intermediate: bool) -> Arc<rustls::ServerConfig> {
        let ikey = KeyPair::generate().unwrap();
        let mut iparams = CertificateParams::new(Vec::<String>::new()).unwrap();
        iparams.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        iparams
            .distinguished_name
            .push(DnType::CommonName, "Test Intermediate");
        let icert = iparams.signed_by(&ikey, &self.issuer).unwrap();
        let inter = Issuer::new(iparams, ikey);
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let leaf = params.signed_by(&key, &inter).unwrap();
        let mut chain = vec![leaf.der().clone()];
        if send_intermediate {
            chain.push(icert.der().clone());
        }
        server_config(
            chain,
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
    }

    /// A leaf under `depth` intermediates (each signing the next), all sent:
    /// a chain longer than any verifier follows.
    pub fn server_deep_chain(&self, depth: usize) -> Arc<rustls::ServerConfig> {
        let mut chain = Vec::new();
        let mut issuer: Option<Issuer<'static, KeyPair>> = None;
        for i in 0..depth {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params
                .distinguished_name
                .push(DnType::CommonName, format!("Intermediate {i}"));
            let cert = match &issuer {
                Some(up) => params.signed_by(&key, up).unwrap(),
                None => params.signed_by(&key, &self.issuer).unwrap(),
            };
            chain.insert(0, cert.der().clone());
            issuer = Some(Issuer::new(params, key));
        }
        let key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        let leaf = params
            .signed_by(&key, issuer.as_ref().unwrap_or(&self.issuer))
            .unwrap();
        chain.insert(0, leaf.der().clone());
        server_config(
            chain,
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
    }

    /// The CA certificate, for chains that send it.
    pub fn ca_der(&self) -> CertificateDer<'static> {
        self.ca_der.clone()
    }
}

/// A self-signed server certificate for `names`.
pub fn self_signed_server(names: &[&str]) -> Arc<rustls::ServerConfig> {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, names[0]);
    let cert = params.self_signed(&key).unwrap();
    server_config(
        vec![cert.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
}

/// A rustls server configuration for a chain and key.
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap(),
    )
}

/// Parses `mailcheck probe ARGS…` into a validated configuration.
pub fn config(args: &[&str]) -> Config {
    let p = ProbeArgs::parse_from(args).expect("arguments parse");
    Config::try_from(p).expect("arguments validate")
}

/// Runs the whole check in-process.
pub async fn run(args: &[&str]) -> Report {
    let report = engine::run(&config(args), &())
        .await
        .expect("mailcheck runs");
    output::dump(&serde_json::to_vec(&report).unwrap());
    report
}

/// Runs one combination against 127.0.0.1 and returns its row.
pub async fn probe_one(spec: &str, extra: &[&str]) -> ProbeReport {
    let mut args = vec!["--host", "127.0.0.1", "--only", spec, "--timeout", "3"];
    args.extend_from_slice(extra);
    let report = run(&args).await;
    assert_eq!(report.run.probes.len(), 1, "one combination asked for");
    report.run.probes.into_iter().next().unwrap()
}

/// The failure code of a row, as its JSON string, or "none".
pub fn code(p: &ProbeReport) -> String {
    p.failure
        .as_ref()
        .map_or_else(|| "none".to_owned(), |f| f.code.as_str().to_owned())
}
