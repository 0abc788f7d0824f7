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
use http::{HeaderValue, StatusCode, header};
use http_body::{Frame, SizeHint};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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
    let body = Body::new(Holding {
        body,
        _place: place,
    });
    Response::from_parts(parts, body)
}

/// An answer's body holding its request's place until it is dropped. It passes on the
/// body's size, so an answer of known length keeps its `Content-Length`: a stream
/// adapter would lose it and turn every answer into chunked encoding.
struct Holding {
    body: Body,
    _place: OwnedSemaphorePermit,
}

impl http_body::Body for Holding {
    type Data = <Body as http_body::Body>::Data;
    type Error = <Body as http_body::Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use http_body::Body as _;
    use tower::ServiceExt as _;

    fn app(in_flight: InFlight) -> Router {
        Router::new()
            .route("/mcp", axum::routing::post(|| async { "{\"answer\":42}" }))
            .layer(axum::middleware::from_fn_with_state(in_flight, shed))
    }

    fn post() -> Request {
        Request::post("/mcp").body(Body::empty()).unwrap()
    }

    #[tokio::test]
    async fn an_answer_keeps_its_length_and_holds_its_place_until_dropped() {
        let in_flight = InFlight::new(1);
        let answer = app(in_flight.clone()).oneshot(post()).await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        // Known length: hyper sends `Content-Length`, not chunked encoding.
        assert_eq!(answer.body().size_hint().exact(), Some(13));
        assert_eq!(in_flight.places.available_permits(), 0, "held by the body");
        let refused = app(in_flight.clone()).oneshot(post()).await.unwrap();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.headers()[header::RETRY_AFTER], "1");
        let bytes = axum::body::to_bytes(answer.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&bytes[..], b"{\"answer\":42}");
        assert_eq!(in_flight.places.available_permits(), 1, "given back");
        let again = app(in_flight).oneshot(post()).await.unwrap();
        assert_eq!(again.status(), StatusCode::OK);
    }
}
