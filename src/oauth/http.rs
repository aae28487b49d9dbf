//! HTTP for the OAuth2 endpoints: JSON documents and form posts, each bounded in
//! time (the whole exchange), size ([`MAX_BODY`]) and redirects (none: an
//! authorization server answers its endpoints itself, and a redirected POST
//! could carry a refresh token elsewhere).

use std::sync::Arc;
use std::time::Duration;

use rustls::RootCertStore;
use serde_json::Value;
use url::Url;

use super::OAuthError;
use crate::net::http::{self, request_error};
use crate::net::resolve::{Families, Resolver};

/// The most a discovery document or token answer may be: they are a few KiB.
pub const MAX_BODY: usize = 64 * 1024;

/// An answer: the status and the JSON body (`Value::Null` when the body is not
/// JSON, which the caller then reports with the status).
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The parsed body.
    pub json: Value,
}

/// The bounded client.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    timeout: Duration,
}

impl Http {
    /// A client resolving through `resolver`, trusting `roots`, giving each
    /// exchange at most `timeout`.
    pub fn new(
        resolver: Arc<Resolver>,
        families: Families,
        roots: RootCertStore,
        timeout: Duration,
    ) -> Result<Http, OAuthError> {
        let client = http::client(resolver, families, roots).map_err(OAuthError::Setup)?;
        Ok(Http { client, timeout })
    }

    /// GET a JSON document.
    pub async fn get_json(&self, url: &Url) -> Result<Answer, OAuthError> {
        let request = self
            .client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        self.exchange(url, request).await
    }

    /// POST a form (`application/x-www-form-urlencoded`, RFC 6749 §4.1.3) and
    /// read the JSON answer.
    pub async fn post_form(
        &self,
        url: &Url,
        params: &[(&str, String)],
    ) -> Result<Answer, OAuthError> {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        let request = self
            .client
            .post(url.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body);
        self.exchange(url, request).await
    }

    async fn exchange(
        &self,
        url: &Url,
        request: reqwest::RequestBuilder,
    ) -> Result<Answer, OAuthError> {
        let fail = |message: String| OAuthError::Http {
            url: url.to_string(),
            message,
        };
        let work = async {
            let response = request.send().await.map_err(|e| fail(request_error(&e)))?;
            let status = response.status().as_u16();
            if response.status().is_redirection() {
                return Err(fail(format!(
                    "HTTP {status}: a redirect, which an OAuth2 endpoint must not answer"
                )));
            }
            let body = http::read_limited(response, MAX_BODY)
                .await
                .map_err(|e| fail(e.to_string()))?;
            let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
            Ok(Answer { status, json })
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .unwrap_or_else(|_| {
                Err(fail(format!(
                    "no complete answer within {} s",
                    self.timeout.as_secs_f32()
                )))
            })
    }
}
