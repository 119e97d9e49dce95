//! The Prometheus listener (`BERTH_METRICS_LISTEN`): `GET /metrics` on a port of its own, so
//! metrics never share one with the API. What it serves is the runtime's
//! ([`berth_runtime::metrics`]).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use berth_runtime::Runtime;
use tokio_util::sync::CancellationToken;

async fn scrape(State(runtime): State<Arc<Runtime>>) -> Response {
    let gauges = runtime.gauges().await;
    let mut response = runtime.metrics.render(&gauges).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// Serves `GET /metrics` on `addr` until `shutdown`; returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    runtime: Arc<Runtime>,
    shutdown: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let tasks = runtime.tasks.clone();
    let app = Router::new()
        .route("/metrics", get(scrape))
        .with_state(runtime);
    tasks.spawn("metrics listener", async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
    });
    Ok(bound)
}
