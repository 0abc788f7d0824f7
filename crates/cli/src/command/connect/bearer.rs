//! The HTTP client under rmcp's streamable-HTTP transport: reqwest with connect's current
//! bearer token, renewed and retried once when the gateway answers 401 (or, after a 403
//! `insufficient_scope`, once a human approved the wider scope).

// rmcp keeps one fixed `auth_header` per transport; a token that rotates mid-session
// (a rewritten token file, a refreshed OAuth token) needs the client to pick it per request.

use super::credentials::Credentials;
use futures::stream::BoxStream;
use http::{HeaderName, HeaderValue};
use rmcp::model::ClientJsonRpcMessage;
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};
use sse_stream::Sse;
use std::collections::HashMap;
use std::sync::Arc;

type HttpError = StreamableHttpError<reqwest::Error>;
type Headers = HashMap<HeaderName, HeaderValue>;

/// reqwest, authorised by [`Credentials`].
#[derive(Clone)]
pub(crate) struct BearerClient {
    http: reqwest::Client,
    credentials: Arc<Credentials>,
}

impl BearerClient {
    pub(crate) fn new(http: reqwest::Client, credentials: Arc<Credentials>) -> Self {
        Self { http, credentials }
    }

    /// Runs `attempt` with the current token; on a 401, once more with a renewed one.
    async fn authorized<T, F, Fut>(&self, attempt: F) -> Result<T, HttpError>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Result<T, HttpError>>,
    {
        let ticket = self.credentials.token().await;
        match attempt(ticket.token.clone()).await {
            // A call outside the scope (MCP's scope challenge): ask the human for more.
            Err(StreamableHttpError::InsufficientScope(refusal)) => {
                let scope = refusal.required_scope.as_deref();
                match self.credentials.step_up(&ticket, scope).await {
                    Some(wider) => attempt(wider).await,
                    None => Err(StreamableHttpError::InsufficientScope(refusal)),
                }
            }
            Err(StreamableHttpError::AuthRequired(refusal)) => {
                match self
                    .credentials
                    .renew(&ticket, &refusal.www_authenticate_header)
                    .await
                {
                    Some(fresh) => attempt(fresh).await,
                    None => Err(StreamableHttpError::AuthRequired(refusal)),
                }
            }
            other => other,
        }
    }
}

impl StreamableHttpClient for BearerClient {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: Headers,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        let limits = StreamableHttpResponseLimits::default();
        self.post_message_with_response_limits(
            uri,
            message,
            session_id,
            None,
            custom_headers,
            limits,
        )
        .await
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: Headers,
        max_sse_event_size: usize,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        let mut limits = StreamableHttpResponseLimits::default();
        limits.max_sse_event_size = max_sse_event_size;
        self.post_message_with_response_limits(
            uri,
            message,
            session_id,
            None,
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
        _auth_header: Option<String>,
        custom_headers: Headers,
        limits: StreamableHttpResponseLimits,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        self.authorized(|token| {
            self.http.post_message_with_response_limits(
                Arc::clone(&uri),
                message.clone(),
                session_id.clone(),
                Some(token),
                custom_headers.clone(),
                limits,
            )
        })
        .await
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        _auth_header: Option<String>,
        custom_headers: Headers,
    ) -> Result<(), HttpError> {
        // A goodbye never starts a sign-in: send what we hold, once.
        let token = self.credentials.token().await.token;
        self.http
            .delete_session(uri, session_id, Some(token), custom_headers)
            .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: Headers,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, HttpError> {
        self.get_stream_with_max_sse_event_size(
            uri,
            session_id,
            last_event_id,
            None,
            custom_headers,
            StreamableHttpResponseLimits::default().max_sse_event_size,
        )
        .await
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: Headers,
        max_sse_event_size: usize,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, HttpError> {
        self.authorized(|token| {
            self.http.get_stream_with_max_sse_event_size(
                Arc::clone(&uri),
                session_id.clone(),
                last_event_id.clone(),
                Some(token),
                custom_headers.clone(),
                max_sse_event_size,
            )
        })
        .await
    }
}
