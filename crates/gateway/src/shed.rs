//! Load shedding: at most `max_in_flight` MCP requests are served at once; the next is
//! refused at once with 503 and `Retry-After`, before any token is checked or byte parsed.
//!
//! Refusing early keeps memory bounded and latency honest under overload: a queue would
//! only turn overload into timeouts. A request holds its place until its answer's last
//! byte is sent, since MCP answers stream after the handler returns. Refused requests
//! were never decided, so the audit log has nothing to lose for them.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use http::{HeaderValue, StatusCode, header};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// The places for requests in flight.
#[derive(Debug, Clone)]
pub struct InFlight {
    places: Arc<Semaphore>,
    limit: usize,
}

impl InFlight {
    /// Room for `limit` requests at once.
    pub fn new(limit: usize) -> InFlight {
        InFlight {
            places: Arc::new(Semaphore::new(limit)),
            limit,
        }
    }
}

/// The layer: serve within the limit, refuse beyond it.
pub async fn shed(State(in_flight): State<InFlight>, request: Request, next: Next) -> Response {
    let Ok(place) = Arc::clone(&in_flight.places).try_acquire_owned() else {
        tracing::warn!(limit = in_flight.limit, "overloaded: refusing a request");
        let body = serde_json::json!({
            "error": "overloaded",
            "detail": format!(
                "the gateway is serving its limit of {} requests; retry shortly",
                in_flight.limit
            ),
        });
        let mut response = (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    };
    let (parts, body) = next.run(request).await.into_parts();
    // The place is given back when the answer's stream ends (or is dropped).
    let body = Body::from_stream(body.into_data_stream().map(move |chunk| {
        let _held = &place;
        chunk
    }));
    Response::from_parts(parts, body)
}
