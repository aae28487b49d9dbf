//! The authorization code grant for a native app (RFC 8252): PKCE (RFC 7636)
//! against code interception, a random `state` against forged callbacks
//! (RFC 6749 §10.12), the `iss` check against mix-up (RFC 9207), and a loopback
//! redirect URI (RFC 8252 §7.3) served by a one-shot HTTP listener that is
//! bounded in request size, time and the number of connections it serves.

use std::convert::Infallible;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use ring::rand::SecureRandom;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use url::Url;

use super::{OAuthError, ServerError};
use crate::proto::sasl::Secret;

/// The largest request head the listener reads (a callback URL is short).
const MAX_REQUEST: usize = 16 * 1024;

/// How many connections the listener serves before giving up (a browser's
/// favicon and preconnects, not a flood).
const MAX_CONNECTIONS: usize = 32;

/// `len` random bytes as base64url without padding (RFC 7636 §4.1's alphabet).
pub fn random(len: usize) -> Result<String, OAuthError> {
    let mut bytes = vec![0u8; len];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| OAuthError::Setup("the system's random number generator failed".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// A PKCE pair (RFC 7636 §4.1, §4.2): the verifier stays here, the S256
/// challenge goes to the authorization endpoint.
#[derive(Debug)]
pub struct Pkce {
    /// 43 characters from 32 random bytes.
    pub verifier: Secret,
    /// BASE64URL(SHA256(verifier)).
    pub challenge: String,
}

impl Pkce {
    /// A fresh pair.
    pub fn new() -> Result<Pkce, OAuthError> {
        let verifier = random(32)?;
        Ok(Pkce {
            challenge: challenge(&verifier),
            verifier: Secret::new(verifier),
        })
    }
}

/// The S256 challenge of a verifier (RFC 7636 §4.2).
fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ))
}

/// What goes into the authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3).
#[derive(Debug)]
pub struct AuthRequest<'a> {
    /// The client ID.
    pub client_id: &'a str,
    /// The loopback redirect URI.
    pub redirect_uri: &'a str,
    /// The scopes.
    pub scopes: &'a [String],
    /// The random state.
    pub state: &'a str,
    /// The PKCE challenge.
    pub challenge: &'a str,
    /// The address, so the provider offers the right account (`login_hint`).
    pub login_hint: &'a str,
}

/// The URL to open in the browser.
#[must_use]
pub fn authorization_url(endpoint: &Url, r: &AuthRequest<'_>) -> Url {
    let mut url = endpoint.clone();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", r.client_id)
        .append_pair("redirect_uri", r.redirect_uri)
        .append_pair("scope", &r.scopes.join(" "))
        .append_pair("state", r.state)
        .append_pair("code_challenge", r.challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("login_hint", r.login_hint);
    url
}

/// The issuer an authorization response must come from (RFC 9207 §2.4).
#[derive(Debug, Clone, Copy)]
pub struct Issuer<'a> {
    /// The confirmed issuer identifier.
    pub id: &'a str,
    /// The server says it always sends `iss`: a response without it is refused.
    pub sends_iss: bool,
}

/// Reads the redirect's query: the code when `state` matches (and `iss`, when
/// present and `issuer` is known, names the issuer; it must be present when
/// the issuer says it sends it); the server's error otherwise.
pub fn read_callback(
    query: &str,
    state: &str,
    issuer: Option<Issuer<'_>>,
) -> Result<Secret, OAuthError> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let forged = |why: &str| OAuthError::Malformed {
        url: "the loopback redirect".into(),
        reason: why.to_owned(),
    };
    if get("state").as_deref() != Some(state) {
        return Err(forged(
            "the state does not match the request's: not the answer to mailcheck's sign-in (RFC 6749 §10.12)",
        ));
    }
    if let Some(expected) = issuer {
        match get("iss") {
            Some(iss) if iss.trim_end_matches('/') != expected.id.trim_end_matches('/') => {
                return Err(forged(&format!(
                    "the answer comes from the issuer {iss:?}, not {:?} (RFC 9207)",
                    expected.id
                )));
            }
            None if expected.sends_iss => {
                return Err(forged(&format!(
                    "the answer carries no iss, though {:?} says it always sends one: \
                     possibly another server's answer (RFC 9207 §2.4)",
                    expected.id
                )));
            }
            _ => {}
        }
    }
    if let Some(error) = get("error") {
        return Err(OAuthError::Refused(ServerError {
            error,
            description: get("error_description"),
        }));
    }
    get("code")
        .filter(|c| !c.is_empty())
        .map(Secret::new)
        .ok_or_else(|| forged("the redirect carries neither a code nor an error"))
}

/// The loopback listener for the redirect.
pub struct Loopback {
    listeners: Vec<TcpListener>,
    /// `http://HOST:PORT/`, to register nowhere (RFC 8252 §7.3: any port).
    pub redirect_uri: String,
}

impl Loopback {
    /// Listens on an ephemeral port of 127.0.0.1 (and of ::1 too when the
    /// redirect host is `localhost`, which a browser may resolve either way).
    pub async fn bind(host: &str) -> Result<Loopback, OAuthError> {
        let fail = |e: std::io::Error| {
            OAuthError::Setup(format!("cannot listen on loopback for the redirect: {e}"))
        };
        let v4 = TcpListener::bind("127.0.0.1:0").await.map_err(fail)?;
        let port = v4.local_addr().map_err(fail)?.port();
        let mut listeners = vec![v4];
        if host == "localhost"
            && let Ok(v6) = TcpListener::bind(("::1", port)).await
        {
            listeners.push(v6);
        }
        Ok(Loopback {
            listeners,
            redirect_uri: format!("http://{host}:{port}/"),
        })
    }

    /// Serves the redirect until it comes, at most `limit`, and reads it.
    pub async fn wait(
        self,
        state: &str,
        issuer: Option<Issuer<'_>>,
        limit: Duration,
    ) -> Result<Secret, OAuthError> {
        let (tx, mut rx) = mpsc::channel::<String>(1);
        let serve = async {
            for _ in 0..MAX_CONNECTIONS {
                if let Ok(stream) = accept_any(&self.listeners).await {
                    tokio::spawn(serve_one(stream, tx.clone()));
                }
            }
            // Enough connections: accept no more, and let those served answer.
            std::future::pending::<Infallible>().await
        };
        // `tx` lives as long as this function, so `recv` never ends with None;
        // only the answer or the time limit ends the wait.
        let query = tokio::select! {
            Some(q) = rx.recv() => q,
            never = serve => match never {},
            () = tokio::time::sleep(limit) => return Err(OAuthError::TimedOut(limit.as_secs())),
        };
        read_callback(&query, state, issuer)
    }
}

/// The next connection on any of the listeners.
async fn accept_any(listeners: &[TcpListener]) -> std::io::Result<tokio::net::TcpStream> {
    let accepts = listeners.iter().map(|l| Box::pin(l.accept()));
    let (result, _, _) = futures_util::future::select_all(accepts).await;
    result.map(|(stream, _)| stream)
}

/// One HTTP/1.1 connection: the callback's query goes to `tx`; anything else
/// (a favicon) gets 404. Bounded in head size and read time.
async fn serve_one(stream: tokio::net::TcpStream, tx: mpsc::Sender<String>) {
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let tx = tx.clone();
        async move { Ok::<_, Infallible>(answer(&req, &tx)) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .max_buf_size(MAX_REQUEST)
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .keep_alive(false)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

fn answer(req: &Request<Incoming>, tx: &mpsc::Sender<String>) -> Response<Full<Bytes>> {
    let query = req.uri().query().unwrap_or("");
    let is_callback = req.uri().path() == "/"
        && url::form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k == "code" || k == "error");
    let (status, text) = if is_callback && tx.try_send(query.to_owned()).is_ok() {
        (
            StatusCode::OK,
            "mailcheck received the answer of the sign-in. You can close this page and go back to the terminal.",
        )
    } else if is_callback {
        (
            StatusCode::OK,
            "mailcheck already has an answer; you can close this page.",
        )
    } else {
        (StatusCode::NOT_FOUND, "Not found.")
    };
    let page = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>mailcheck</title></head><body><p>{text}</p></body></html>"
    );
    Response::builder()
        .status(status)
        .header("content-type", "text/html; charset=utf-8")
        .header("cache-control", "no-store")
        .body(Full::new(Bytes::from(page)))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_matches_rfc_7636_appendix_b() {
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let p = Pkce::new().unwrap();
        assert_eq!(p.verifier.expose().len(), 43);
        assert_ne!(p.verifier.expose(), Pkce::new().unwrap().verifier.expose());
    }

    #[test]
    fn the_authorization_url_carries_pkce_and_state() {
        let endpoint = Url::parse("https://auth.example.com/authorize?tenant=x").unwrap();
        let scopes = vec!["mail".to_owned(), "offline_access".to_owned()];
        let url = authorization_url(
            &endpoint,
            &AuthRequest {
                client_id: "cid",
                redirect_uri: "http://127.0.0.1:5000/",
                scopes: &scopes,
                state: "st",
                challenge: "ch",
                login_hint: "alice@example.com",
            },
        );
        let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        for (k, v) in [
            ("tenant", "x"),
            ("scope", "mail offline_access"),
            ("code_challenge_method", "S256"),
            ("redirect_uri", "http://127.0.0.1:5000/"),
        ] {
            assert!(q.contains(&(k.into(), v.into())), "{k}: {url}");
        }
    }

    #[test]
    fn callbacks_are_checked() {
        assert_eq!(
            read_callback("code=abc&state=s1", "s1", None)
                .unwrap()
                .expose(),
            "abc"
        );
        assert!(
            read_callback("code=abc&state=s2", "s1", None)
                .unwrap_err()
                .to_string()
                .contains("state")
        );
        assert!(read_callback("code=abc", "s1", None).is_err());
        let issuer = |sends_iss| {
            Some(Issuer {
                id: "https://auth.example.com",
                sends_iss,
            })
        };
        let e = read_callback(
            "code=a&state=s&iss=https%3A%2F%2Fevil.example",
            "s",
            issuer(false),
        )
        .unwrap_err();
        assert!(e.to_string().contains("RFC 9207"), "{e}");
        for sends_iss in [false, true] {
            assert!(
                read_callback(
                    "code=a&state=s&iss=https%3A%2F%2Fauth.example.com",
                    "s",
                    issuer(sends_iss)
                )
                .is_ok()
            );
        }
        // Without iss: accepted only from a server that does not say it sends one.
        assert!(read_callback("code=a&state=s", "s", issuer(false)).is_ok());
        let e = read_callback("code=a&state=s", "s", issuer(true)).unwrap_err();
        assert!(e.to_string().contains("carries no iss"), "{e}");
        let e = read_callback(
            "error=access_denied&error_description=no&state=s",
            "s",
            None,
        )
        .unwrap_err();
        assert_eq!(e.server_error().unwrap().error, "access_denied");
    }

    #[tokio::test]
    async fn the_listener_takes_the_callback_and_ignores_the_rest() {
        let lb = Loopback::bind("127.0.0.1").await.unwrap();
        let base = lb.redirect_uri.clone();
        let wait = tokio::spawn(lb.wait("st8", None, Duration::from_secs(10)));
        let get = |path: String| async move {
            let url = Url::parse(&path).unwrap();
            let mut s =
                tokio::net::TcpStream::connect((url.host_str().unwrap(), url.port().unwrap()))
                    .await
                    .unwrap();
            let line = format!(
                "GET {}?{} HTTP/1.1\r\nHost: x\r\n\r\n",
                url.path(),
                url.query().unwrap_or("")
            );
            tokio::io::AsyncWriteExt::write_all(&mut s, line.as_bytes())
                .await
                .unwrap();
            let mut out = String::new();
            let _ = tokio::io::AsyncReadExt::read_to_string(&mut s, &mut out).await;
            out
        };
        assert!(get(format!("{base}favicon.ico")).await.contains("404"));
        assert!(
            get(format!("{base}?code=c0de&state=st8"))
                .await
                .contains("200 OK")
        );
        assert_eq!(wait.await.unwrap().unwrap().expose(), "c0de");
    }

    #[tokio::test]
    async fn the_listener_gives_up_after_its_limit() {
        let lb = Loopback::bind("127.0.0.1").await.unwrap();
        let e = lb
            .wait("s", None, Duration::from_millis(50))
            .await
            .unwrap_err();
        assert!(matches!(e, OAuthError::TimedOut(_)));
    }
}
