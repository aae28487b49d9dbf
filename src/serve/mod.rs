//! `mailcheck serve`: a Prometheus multi-target exporter, one per vantage point,
//! as blackbox_exporter is for HTTP.
//!
//! - `GET /probe?target=T&module=M` probes one target with one module's options
//!   and answers with its metrics ([`crate::output::prometheus`]);
//! - `GET /metrics` has the exporter's own metrics;
//! - `GET /` lists the recent probes, each with its human report at
//!   `/report?id=N`.
//!
//! It listens on 127.0.0.1 unless configured otherwise, probes only targets on
//! its allow list, runs a bounded number of probes at once under one shared
//! per-server cap, and never outlives the scrape: a probe's deadline is the
//! scrape timeout Prometheus announces, less a margin. A client has a bounded
//! time to send its request, and the connections served at once are capped
//! (`serve/listen.rs`).

mod listen;
mod logins;
mod metrics;
mod page;
mod probe;

use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use tokio::sync::Semaphore;

use crate::config::serve::ServeConfig;
use crate::net::limit::PerServer;
use crate::net::tls::TlsSetups;
use metrics::Metrics;
use page::Recent;

/// What every request shares.
struct App {
    config: ServeConfig,
    per_server: Arc<PerServer>,
    /// Trust anchors and verifiers, built once per CA file for all scrapes.
    tls: Arc<TlsSetups>,
    running: Semaphore,
    recent: Mutex<Recent>,
    metrics: Metrics,
    logins: logins::Logins,
}

/// Serves until Ctrl-C or SIGTERM.
pub async fn run(config: ServeConfig) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let app = Arc::new(App {
        per_server: Arc::new(PerServer::new(config.per_server)),
        tls: Arc::default(),
        running: Semaphore::new(config.parallel.get()),
        recent: Mutex::new(Recent::new(config.history)),
        metrics: Metrics::new()?,
        logins: logins::Logins::default(),
        config,
    });
    eprintln!(
        "mailcheck: exporter listening on http://{}/ (modules: {})",
        listener.local_addr()?,
        app.config.module_names().join(", ")
    );
    let limits = listen::Limits {
        header_timeout: app.config.header_timeout,
        connections: app.config.connections,
    };
    listen::serve(listener, router(app), limits, shutdown()).await;
    Ok(())
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/report", get(report))
        .route("/probe", get(probe::probe))
        .route("/metrics", get(own_metrics))
        .with_state(app)
}

/// Ctrl-C or SIGTERM (how service managers stop a daemon).
async fn shutdown() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

fn html(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

async fn index(State(app): State<Arc<App>>) -> Response {
    let recent = app.recent.lock().unwrap_or_else(PoisonError::into_inner);
    html(page::index(&recent, &app.config.module_names()))
}

#[derive(Deserialize)]
struct ReportQuery {
    id: Option<String>,
}

async fn report(State(app): State<Arc<App>>, Query(q): Query<ReportQuery>) -> Response {
    let Some(id) = q.id.as_deref().and_then(|i| i.parse::<u64>().ok()) else {
        return text(
            StatusCode::BAD_REQUEST,
            "expected /report?id=N with N a probe number from the status page\n".into(),
        );
    };
    let recent = app.recent.lock().unwrap_or_else(PoisonError::into_inner);
    match recent.get(id) {
        Some(entry) => html(page::report(entry)),
        None => text(
            StatusCode::NOT_FOUND,
            format!("probe {id} is not among the recent probes kept\n"),
        ),
    }
}

async fn own_metrics(State(app): State<Arc<App>>) -> Response {
    match app.metrics.text() {
        Ok(body) => (
            [(
                header::CONTENT_TYPE,
                crate::output::prometheus::CONTENT_TYPE,
            )],
            body,
        )
            .into_response(),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
    }
}
