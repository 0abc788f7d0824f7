//! rmcp's reqwest transport, with the session id it holds made visible: the direct sender
//! ([`super::direct_http`]) posts tool calls in the session rmcp opened and keeps.
//!
//! Every method delegates to reqwest's; the POSTs also note the session id they carry or get.

use futures::stream::BoxStream;
use http::{HeaderName, HeaderValue};
use rmcp::model::ClientJsonRpcMessage;
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};
use sse_stream::Sse;
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

pub(super) type Posted = Result<StreamableHttpPostResponse, StreamableHttpError<reqwest::Error>>;
type Stream =
    Result<BoxStream<'static, Result<Sse, SseError>>, StreamableHttpError<reqwest::Error>>;

/// The session id rmcp's transport last used or was given, shared with the direct sender.
#[derive(Clone, Default)]
pub(super) struct Session(Arc<RwLock<Option<Arc<str>>>>);

impl Session {
    /// The session to post in, if the upstream gave one.
    pub(super) fn current(&self) -> Option<Arc<str>> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(super) fn note(&self, sent: Option<&Arc<str>>, posted: &Posted) {
        let given = match posted {
            Ok(StreamableHttpPostResponse::Json(_, Some(id)))
            | Ok(StreamableHttpPostResponse::Sse(_, Some(id))) => Some(Arc::from(id.as_str())),
            _ => sent.cloned(),
        };
        if let Some(id) = given {
            let mut slot = self.0.write().unwrap_or_else(PoisonError::into_inner);
            if slot.as_deref() != Some(&*id) {
                *slot = Some(id);
            }
        }
    }

    fn end(&self, ended: &str) {
        let mut slot = self.0.write().unwrap_or_else(PoisonError::into_inner);
        if slot.as_deref() == Some(ended) {
            *slot = None;
        }
    }
}

/// A reqwest client that tells [`Session`] which session rmcp's transport is in.
#[derive(Clone)]
pub(super) struct SessionTap {
    pub(super) http: reqwest::Client,
    pub(super) session: Session,
}

impl StreamableHttpClient for SessionTap {
    type Error = reqwest::Error;

    // The two shorter POSTs are the long one with rmcp's default limits, as reqwest's own
    // implementation makes them, so the session is noted in one place.
    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Posted {
        let default = StreamableHttpResponseLimits::default().max_sse_event_size;
        self.post_message_with_max_sse_event_size(
            uri,
            message,
            session_id,
            auth_header,
            custom_headers,
            default,
        )
        .await
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Posted {
        let mut limits = StreamableHttpResponseLimits::default();
        limits.max_sse_event_size = max_sse_event_size;
        self.post_message_with_response_limits(
            uri,
            message,
            session_id,
            auth_header,
            custom_headers,
            limits,
        )
        .await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Posted {
        let sent = session_id.clone();
        let posted = (self.http)
            .post_message_with_response_limits(
                uri,
                message,
                session_id,
                auth_header,
                custom_headers,
                limits,
            )
            .await;
        self.session.note(sent.as_ref(), &posted);
        posted
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), StreamableHttpError<Self::Error>> {
        self.session.end(&session_id);
        (self.http)
            .delete_session(uri, session_id, auth_header, custom_headers)
            .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Stream {
        (self.http)
            .get_stream(uri, session_id, last_event_id, auth_header, custom_headers)
            .await
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Stream {
        (self.http)
            .get_stream_with_max_sse_event_size(
                uri,
                session_id,
                last_event_id,
                auth_header,
                custom_headers,
                max_sse_event_size,
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::{ServerJsonRpcMessage, ServerResult};

    fn answered(session: Option<&str>) -> Posted {
        let message = ServerJsonRpcMessage::response(
            ServerResult::empty(()),
            rmcp::model::RequestId::Number(1),
        );
        Ok(StreamableHttpPostResponse::Json(
            message,
            session.map(str::to_owned),
        ))
    }

    #[test]
    fn the_session_given_or_sent_is_kept_until_deleted() {
        let session = Session::default();
        assert_eq!(session.current(), None);
        session.note(None, &answered(Some("s1")));
        assert_eq!(session.current().as_deref(), Some("s1"));
        // A later POST that carries it, or answers without one, keeps it.
        session.note(Some(&Arc::from("s1")), &answered(None));
        session.note(None, &Ok(StreamableHttpPostResponse::Accepted));
        assert_eq!(session.current().as_deref(), Some("s1"));
        // A new session (rmcp re-initialised after expiry) replaces it.
        session.note(None, &answered(Some("s2")));
        assert_eq!(session.current().as_deref(), Some("s2"));
        session.end("s1");
        assert_eq!(
            session.current().as_deref(),
            Some("s2"),
            "an old id ends nothing"
        );
        session.end("s2");
        assert_eq!(session.current(), None);
    }
}
