//! TLS client setup and handshakes.
//!
//! The verifier records the chain the server presented and the verdict of rustls'
//! own WebPKI verification, then lets the handshake go on: mailcheck must analyse
//! certificates that fail verification (that is when people need the analysis),
//! and it reports the verdict instead of hiding the rest of the dialogue. Nothing
//! secret is ever sent over a session whose verdict was not `Ok`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::TlsConnector;

use super::BoxStream;
use crate::model::Code;

/// Trust anchors could not be loaded.
#[derive(Debug, Error)]
pub enum TlsSetupError {
    /// The `--ca-file` could not be read or holds no certificate.
    #[error("cannot use CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// Why not.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("cannot set up TLS: {0}")]
    Rustls(String),
}

/// Shared TLS settings: trust anchors and the WebPKI verifier built from them.
pub struct TlsSetup {
    provider: Arc<CryptoProvider>,
    webpki: Arc<WebPkiServerVerifier>,
    /// The trust anchors, for other TLS clients of the same run (autoconfig).
    pub roots: Arc<RootCertStore>,
    /// Where the trust anchors came from, for the report.
    pub roots_source: String,
}

impl TlsSetup {
    /// Trust the system's roots (or Mozilla's, bundled, when the system has none)
    /// plus those in `ca_file`.
    pub fn new(ca_file: Option<&Path>) -> Result<Self, TlsSetupError> {
        let (roots, roots_source) = root_store(ca_file)?;
        let roots = Arc::new(roots);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let webpki = WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
            .build()
            .map_err(|e| TlsSetupError::Rustls(e.to_string()))?;
        Ok(TlsSetup {
            provider,
            webpki,
            roots,
            roots_source,
        })
    }

    /// Performs a handshake over `stream` for `host`, bounded by `timeout`.
    pub async fn handshake(
        &self,
        stream: BoxStream,
        host: &str,
        timeout: Duration,
    ) -> Result<(BoxStream, Handshake), HandshakeError> {
        let recorder = Arc::new(Recorder {
            inner: self.webpki.clone(),
            captured: Mutex::new(None),
        });
        let config = ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| HandshakeError::new(Code::TlsHandshakeFailed, e.to_string(), None))?
            .dangerous()
            .with_custom_certificate_verifier(recorder.clone())
            .with_no_client_auth();
        let (server_name, sni) = server_name(host)?;
        let first_bytes = Arc::new(Mutex::new(Vec::new()));
        let peek = Peek {
            inner: stream,
            first: first_bytes.clone(),
        };
        let connect = TlsConnector::from(Arc::new(config)).connect(server_name, peek);
        let result = tokio::time::timeout(timeout, connect).await;
        let captured = recorder.take();
        match result {
            Err(_) => Err(HandshakeError::new(
                Code::TlsTimeout,
                format!(
                    "no answer to the TLS handshake within {}s",
                    timeout.as_secs_f32()
                ),
                captured,
            )
            .with_first_bytes(&first_bytes)),
            Ok(Err(e)) => Err(classify(&e, captured).with_first_bytes(&first_bytes)),
            Ok(Ok(tls)) => {
                let conn = tls.get_ref().1;
                let handshake = Handshake {
                    version: conn.protocol_version().map(version_name),
                    cipher_suite: conn
                        .negotiated_cipher_suite()
                        .map(|s| format!("{:?}", s.suite())),
                    sni,
                    captured,
                };
                Ok((Box::new(tls), handshake))
            }
        }
    }
}

/// The TLS setups of the runs of one batch or one exporter, one per CA file,
/// each built once: the system's root store is read and the verifier built
/// once per process, not once per target or scrape. A CA file is read when
/// first named; to pick up a changed one, restart the process.
#[derive(Default)]
pub struct TlsSetups(Mutex<HashMap<Option<PathBuf>, Arc<TlsSetup>>>);

impl TlsSetups {
    /// The setup for `ca_file`, built now if no run has asked for it yet (a
    /// failure is not kept: the next run tries again and says why).
    pub fn get(&self, ca_file: Option<&Path>) -> Result<Arc<TlsSetup>, TlsSetupError> {
        let key = ca_file.map(Path::to_path_buf);
        if let Some(setup) = self.lock().get(&key) {
            return Ok(setup.clone());
        }
        // Built outside the lock: other runs need not wait for the disk.
        let setup = Arc::new(TlsSetup::new(ca_file)?);
        Ok(self.lock().entry(key).or_insert(setup).clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Option<PathBuf>, Arc<TlsSetup>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for TlsSetups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSetups")
            .field("ca_files", &self.lock().len())
            .finish()
    }
}

/// The trust anchors mailcheck uses everywhere: the system's roots (or Mozilla's,
/// bundled, when the system has none) plus those in `ca_file`, and where they came
/// from, in words, for the report.
pub fn root_store(ca_file: Option<&Path>) -> Result<(RootCertStore, String), TlsSetupError> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(native.certs);
    let mut roots_source = if added > 0 {
        format!("system ({added} roots)")
    } else {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        "bundled Mozilla roots (the system has none)".to_owned()
    };
    if let Some(path) = ca_file {
        let n = add_ca_file(&mut roots, path)?;
        let _ = write!(roots_source, " + {n} from {}", path.display());
    }
    Ok((roots, roots_source))
}

fn add_ca_file(roots: &mut RootCertStore, path: &Path) -> Result<usize, TlsSetupError> {
    let err = |reason: String| TlsSetupError::CaFile {
        path: path.display().to_string(),
        reason,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err(
            "no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    let n = certs.len();
    for cert in certs {
        roots.add(cert).map_err(|e| err(e.to_string()))?;
    }
    Ok(n)
}

fn server_name(host: &str) -> Result<(ServerName<'static>, Option<String>), HandshakeError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let name = ServerName::try_from(bare.to_owned()).map_err(|e| {
        HandshakeError::new(
            Code::TlsHandshakeFailed,
            format!("{host} cannot be used as a TLS server name: {e}"),
            None,
        )
    })?;
    let sni = matches!(name, ServerName::DnsName(_)).then(|| bare.to_owned());
    Ok((name, sni))
}

fn version_name(v: rustls::ProtocolVersion) -> String {
    match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".into(),
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".into(),
        other => format!("{other:?}"),
    }
}

/// What the server presented and what rustls thought of it.
#[derive(Debug, Clone)]
pub struct Captured {
    /// Leaf first, as sent.
    pub chain: Vec<CertificateDer<'static>>,
    /// WebPKI verification verdict for the host name.
    pub verdict: Result<(), rustls::Error>,
}

/// A completed handshake.
#[derive(Debug)]
pub struct Handshake {
    /// "TLSv1.3", "TLSv1.2".
    pub version: Option<String>,
    /// IANA-style suite name.
    pub cipher_suite: Option<String>,
    /// The SNI sent.
    pub sni: Option<String>,
    /// The chain and its verdict.
    pub captured: Option<Captured>,
}

/// A handshake that did not complete.
#[derive(Debug, Error)]
#[error("{message}")]
pub struct HandshakeError {
    /// The failure class.
    pub code: Code,
    /// What happened.
    pub message: String,
    /// The chain, when the server got as far as sending one.
    pub captured: Option<Box<Captured>>,
    /// The first line, when the server answered in plaintext instead of TLS.
    pub plaintext_line: Option<String>,
}

impl HandshakeError {
    fn new(code: Code, message: String, captured: Option<Captured>) -> Self {
        HandshakeError {
            code,
            message,
            captured: captured.map(Box::new),
            plaintext_line: None,
        }
    }

    /// When the server spoke plaintext instead of TLS, say so: it is the single most
    /// common wrong setting (implicit TLS chosen for a STARTTLS or plaintext port).
    fn with_first_bytes(mut self, first: &Mutex<Vec<u8>>) -> Self {
        let bytes = first.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(line) = plaintext_line(&bytes) {
            self.code = Code::TlsGotPlaintext;
            self.message = format!(
                "the server spoke plaintext instead of TLS: {line:?} (this port wants STARTTLS or no encryption, not SSL/TLS)"
            );
            self.plaintext_line = Some(line);
        }
        self
    }
}

/// The first line of `bytes` when they look like a plaintext protocol greeting
/// rather than a TLS record (whose first byte is a content type 0x14..=0x18).
#[must_use]
pub fn plaintext_line(bytes: &[u8]) -> Option<String> {
    let first = *bytes.first()?;
    if (0x14..=0x18).contains(&first) {
        return None;
    }
    let end = bytes
        .iter()
        .position(|b| *b == b'\r' || *b == b'\n')
        .unwrap_or(bytes.len())
        .min(120);
    let line = &bytes[..end];
    let printable = line.iter().all(|b| b.is_ascii_graphic() || *b == b' ');
    (printable && !line.is_empty()).then(|| String::from_utf8_lossy(line).into_owned())
}

fn classify(e: &io::Error, captured: Option<Captured>) -> HandshakeError {
    let rustls_error = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    let (code, message) = match rustls_error {
        Some(
            rustls::Error::AlertReceived(AlertDescription::ProtocolVersion)
            | rustls::Error::PeerIncompatible(
                rustls::PeerIncompatible::ServerDoesNotSupportTls12Or13,
            ),
        ) => (
            Code::TlsVersionTooOld,
            "the server only offers TLS older than 1.2 (TLS 1.0/1.1 are obsolete, RFC 8996)"
                .to_owned(),
        ),
        Some(rustls::Error::AlertReceived(alert)) => (
            Code::TlsAlert,
            format!("the server aborted the TLS handshake with alert {alert:?}"),
        ),
        Some(other) => (
            Code::TlsHandshakeFailed,
            format!("TLS handshake failed: {other}"),
        ),
        None if e.kind() == io::ErrorKind::UnexpectedEof => (
            Code::TlsHandshakeFailed,
            "the server closed the connection during the TLS handshake".to_owned(),
        ),
        None if e.kind() == io::ErrorKind::ConnectionReset => (
            Code::ConnectionReset,
            "the server reset the connection during the TLS handshake".to_owned(),
        ),
        None => (
            Code::TlsHandshakeFailed,
            format!("TLS handshake failed: {e}"),
        ),
    };
    HandshakeError::new(code, message, captured)
}

/// Records the chain and the WebPKI verdict, then accepts, so the handshake
/// completes and the rest of the dialogue can be observed. Handshake signatures are
/// still verified against the presented key.
#[derive(Debug)]
struct Recorder {
    inner: Arc<WebPkiServerVerifier>,
    captured: Mutex<Option<Captured>>,
}

impl Recorder {
    fn take(&self) -> Option<Captured> {
        self.captured
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map(|_| ());
        let chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.clone().into_owned())
            .collect();
        *self.captured.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(Captured { chain, verdict });
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Keeps a copy of the first bytes the server sent, to recognise a plaintext
/// greeting when a TLS handshake fails.
struct Peek {
    inner: BoxStream,
    first: Arc<Mutex<Vec<u8>>>,
}

const PEEK_BYTES: usize = 256;

impl AsyncRead for Peek {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &poll {
            let mut first = self.first.lock().unwrap_or_else(PoisonError::into_inner);
            let room = PEEK_BYTES.saturating_sub(first.len());
            let new = &buf.filled()[before..];
            first.extend_from_slice(&new[..new.len().min(room)]);
        }
        poll
    }
}

impl AsyncWrite for Peek {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_greetings_are_recognised() {
        assert_eq!(
            plaintext_line(b"+OK Dovecot ready.\r\n").as_deref(),
            Some("+OK Dovecot ready.")
        );
        assert_eq!(
            plaintext_line(b"220 mx ESMTP\r\n").as_deref(),
            Some("220 mx ESMTP")
        );
        assert_eq!(
            plaintext_line(b"* OK IMAP\r\n").as_deref(),
            Some("* OK IMAP")
        );
    }

    #[test]
    fn tls_records_are_not_plaintext() {
        assert_eq!(plaintext_line(&[0x16, 0x03, 0x03, 0x00, 0x10]), None);
        assert_eq!(
            plaintext_line(&[0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46]),
            None
        );
        assert_eq!(plaintext_line(b""), None);
        assert_eq!(plaintext_line(&[0x00, 0xff, 0x10]), None);
    }

    #[test]
    fn ip_literals_send_no_sni() {
        assert_eq!(server_name("127.0.0.2").unwrap().1, None);
        assert_eq!(server_name("[::1]").unwrap().1, None);
        assert_eq!(
            server_name("mail.example.com").unwrap().1.as_deref(),
            Some("mail.example.com")
        );
    }

    #[test]
    fn one_setup_per_ca_file() {
        let setups = TlsSetups::default();
        let a = setups.get(None).unwrap();
        let b = setups.get(None).unwrap();
        assert!(Arc::ptr_eq(&a, &b), "built once");
        assert!(setups.get(Some(Path::new("/nonexistent/ca.pem"))).is_err());
        assert_eq!(setups.lock().len(), 1, "a failure is not kept");
    }

    #[test]
    fn missing_ca_file_is_a_clear_error() {
        let err = TlsSetup::new(Some(Path::new("/nonexistent/ca.pem")))
            .err()
            .unwrap();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    }
}
