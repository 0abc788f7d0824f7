//! What the token endpoint refuses, and the one mapping from refusal to RFC 6749 §5.2 error.
//!
//! The `Display` text is the `error_description` a client sees, so no variant carries
//! internal error text: those are logged where they occur.

use super::exchange::{ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE};
use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use mandate_core::ToolClass;

/// Why a token request was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenEndpointError {
    /// The body is not a form, or repeats a parameter.
    #[error(
        "the body must be application/x-www-form-urlencoded, each parameter at most once ({0})"
    )]
    MalformedForm(String),
    /// A required parameter is absent or empty.
    #[error("`{0}` is required")]
    Missing(&'static str),
    /// The grant type is not token exchange.
    #[error("supported grant types: `authorization_code`, `refresh_token` and `{TOKEN_EXCHANGE}`")]
    UnsupportedGrantType,
    /// The code or refresh token is unknown, spent, expired, another client's, bound to
    /// another redirect URI, or its PKCE verifier does not prove it; or its mandate died.
    #[error("{0}")]
    InvalidGrant(&'static str),
    /// A token type parameter names another type.
    #[error("`{0}` must be `{ACCESS_TOKEN_TYPE}`")]
    UnsupportedTokenType(&'static str),
    /// A Mandate-specific parameter could not be read.
    #[error("`{parameter}`: {reason}")]
    InvalidParameter {
        /// The parameter.
        parameter: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// `resource` or `audience` names another service.
    #[error("this gateway issues tokens only for `{0}`")]
    InvalidTarget(String),
    /// `scope` is absent or is not a list of tool patterns.
    #[error("`scope`: {0}")]
    InvalidScope(String),
    /// A presented token did not verify, or names no mandate its subject holds.
    #[error("`{which}` is invalid: {reason}")]
    BadToken {
        /// `subject_token` or `actor_token`.
        which: &'static str,
        /// A reason safe to show.
        reason: &'static str,
    },
    /// A presented token is genuine but its mandate chain is not in force.
    #[error("`{which}`'s mandate is not in force: {why}")]
    NotInForce {
        /// `subject_token` or `actor_token`.
        which: &'static str,
        /// Which mandate, and why.
        why: String,
    },
    /// The subject's mandate may not hand on at all: its ceiling is below `orchestrate`.
    #[error(
        "the `subject_token`'s mandate has ceiling `{0}`; handing on a mandate needs `orchestrate`"
    )]
    NoOrchestrateCeiling(ToolClass),
    /// The organisation's policies forbid this hand-off.
    #[error("delegation refused: {0}")]
    Forbidden(String),
    /// The requested child would be wider than the subject's mandate.
    #[error("{0}")]
    Widening(String),
    /// The actor token's agent is not (or no longer) registered.
    #[error("the `actor_token`'s agent is not registered")]
    UnknownWorker,
    /// The worker has no owners, so nobody answers for it.
    #[error("the `actor_token`'s agent has no owners and cannot hold a mandate")]
    WorkerWithoutOwners,
    /// The gateway failed; the details are in its log.
    #[error("the gateway could not complete the request; see its log")]
    Internal,
}

impl TokenEndpointError {
    /// The RFC 6749 §5.2 / RFC 8693 §2.2.2 error code and HTTP status.
    // The one mapping from refusal to response: exhaustive, no `_` arm.
    pub(super) fn code(&self) -> (StatusCode, &'static str) {
        let bad = StatusCode::BAD_REQUEST;
        match self {
            // RFC 8693 §2.2.2: an invalid or unacceptable subject/actor token is `invalid_request`.
            Self::MalformedForm(_)
            | Self::Missing(_)
            | Self::UnsupportedTokenType(_)
            | Self::InvalidParameter { .. }
            | Self::BadToken { .. }
            | Self::NotInForce { .. }
            | Self::UnknownWorker
            | Self::WorkerWithoutOwners => (bad, "invalid_request"),
            Self::UnsupportedGrantType => (bad, "unsupported_grant_type"),
            Self::InvalidGrant(_) => (bad, "invalid_grant"),
            Self::InvalidTarget(_) => (bad, "invalid_target"),
            Self::InvalidScope(_) | Self::Widening(_) => (bad, "invalid_scope"),
            Self::NoOrchestrateCeiling(_) | Self::Forbidden(_) => (bad, "access_denied"),
            Self::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
        }
    }
}

impl IntoResponse for TokenEndpointError {
    fn into_response(self) -> Response {
        let (status, code) = self.code();
        let body = serde_json::json!({ "error": code, "error_description": self.to_string() });
        no_store((status, Json(body)).into_response())
    }
}

/// RFC 6749 §5.1: token responses, and errors, are never cached.
pub(super) fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
