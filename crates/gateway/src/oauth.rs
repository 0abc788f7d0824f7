//! RFC 8693 token exchange at `POST /oauth/token`: an orchestrator trades its access token and
//! a worker's for a narrower child mandate, recorded, and the worker's token under it.

use crate::Gateway;
use crate::principal::{Principal, TokenRefusal, resolve};
use axum::extract::rejection::FormRejection;
use axum::extract::{DefaultBodyLimit, Form, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use http::{HeaderValue, StatusCode, header};
use mandate_auth::IssuedToken;
use mandate_core::{AgentId, ChildRequest, MandateChain, Timestamp, ToolClass, ToolPattern};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The `grant_type` of an RFC 8693 token exchange.
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The only token type exchanged and issued: a Mandate access token.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// How long a child lasts when `expires_in` is absent (never past its chain).
const DEFAULT_LIFETIME_SECS: i64 = 30 * 60;
/// The child's purpose when `purpose` is absent.
const DEFAULT_PURPOSE: &str = "delegated by token exchange";
/// The largest form accepted: two tokens (at most 8 KiB each) and some parameters.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// The token endpoint, outside the `/mcp` authentication layer: it authenticates by the
/// tokens in the body.
pub fn router(gw: Arc<Gateway>) -> Router {
    Router::new()
        .route("/oauth/token", post(token_exchange))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .with_state(gw)
}

/// The form as sent (RFC 6749 §4, RFC 8693 §2.1, plus Mandate's own limits).
/// A parameter sent twice is refused by the form decoder; unknown ones are ignored.
#[derive(Debug, Default, Deserialize)]
pub struct ExchangeForm {
    grant_type: Option<String>,
    subject_token: Option<String>,
    subject_token_type: Option<String>,
    actor_token: Option<String>,
    actor_token_type: Option<String>,
    requested_token_type: Option<String>,
    resource: Option<String>,
    audience: Option<String>,
    scope: Option<String>,
    max_class: Option<String>,
    expires_in: Option<String>,
    budget: Option<String>,
    purpose: Option<String>,
}

/// Why an exchange was refused. The `Display` text is the `error_description` an agent
/// sees, so no variant carries internal error text: those are logged where they occur.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// The body is not a form, or repeats a parameter.
    #[error(
        "the body must be application/x-www-form-urlencoded, each parameter at most once ({0})"
    )]
    MalformedForm(String),
    /// A required parameter is absent or empty.
    #[error("`{0}` is required")]
    Missing(&'static str),
    /// The grant type is not token exchange.
    #[error("only the token exchange grant (`{TOKEN_EXCHANGE}`) is supported here")]
    UnsupportedGrantType,
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
    #[error("the gateway could not complete the exchange; see its log")]
    Internal,
}

impl ExchangeError {
    /// The RFC 6749 §5.2 / RFC 8693 §2.2.2 error code and HTTP status.
    // The one mapping from refusal to response: exhaustive, no `_` arm.
    fn code(&self) -> (StatusCode, &'static str) {
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
            Self::InvalidTarget(_) => (bad, "invalid_target"),
            Self::InvalidScope(_) | Self::Widening(_) => (bad, "invalid_scope"),
            Self::NoOrchestrateCeiling(_) | Self::Forbidden(_) => (bad, "access_denied"),
            Self::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
        }
    }
}

impl IntoResponse for ExchangeError {
    fn into_response(self) -> Response {
        let (status, code) = self.code();
        let body = serde_json::json!({ "error": code, "error_description": self.to_string() });
        no_store((status, Json(body)).into_response())
    }
}

/// A successful exchange (RFC 8693 §2.2.1).
#[derive(Debug, Serialize)]
struct Exchanged {
    access_token: String,
    issued_token_type: &'static str,
    token_type: &'static str,
    expires_in: i64,
    scope: String,
}

impl IntoResponse for Exchanged {
    fn into_response(self) -> Response {
        no_store((StatusCode::OK, Json(self)).into_response())
    }
}

/// RFC 6749 §5.1: token responses, and errors, are never cached.
fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// `POST /oauth/token`.
pub async fn token_exchange(
    State(gw): State<Arc<Gateway>>,
    form: Result<Form<ExchangeForm>, FormRejection>,
) -> Response {
    let outcome = match form {
        Ok(Form(form)) => exchange(&gw, form).await,
        Err(rejection) => Err(ExchangeError::MalformedForm(rejection.body_text())),
    };
    match outcome {
        Ok(exchanged) => exchanged.into_response(),
        Err(error) => {
            tracing::info!(%error, code = error.code().1, "token exchange refused");
            error.into_response()
        }
    }
}

/// The exchange, top to bottom.
async fn exchange(gw: &Gateway, form: ExchangeForm) -> Result<Exchanged, ExchangeError> {
    // What is asked: grant type, token types, target, scope and limits; no token read yet.
    let request = ExchangeRequest::parse(form, &gw.config.audience())?;
    let now = crate::now();
    // Who asks: the orchestrator, holding a mandate chain in force.
    let subject = holder(gw, "subject_token", &request.subject_token, now).await?;
    // For whom: the worker, proven by a token of its own on a chain in force.
    let actor = holder(gw, "actor_token", &request.actor_token, now).await?;
    let worker = actor.chain.leaf().agent.clone();
    // The hand-off's own checks (ceiling `orchestrate`, Cedar's `delegate`, attenuation),
    // the recorded child or the audited refusal, and the worker's token.
    let scope = request.scope();
    let orchestrator = subject.chain.leaf().agent.clone();
    let child = request.into_child(worker, &subject.chain, now);
    let (mandate, token) = gw
        .delegate(&subject.chain.leaf().id, child)
        .await
        .map_err(refused)?;
    tracing::info!(%orchestrator, worker = %mandate.agent, mandate = %mandate.id, "token exchanged");
    Ok(exchanged(token, scope))
}

fn exchanged(token: IssuedToken, scope: String) -> Exchanged {
    Exchanged {
        expires_in: token.claims.exp.saturating_sub(token.claims.iat).max(0),
        access_token: token.token,
        issued_token_type: ACCESS_TOKEN_TYPE,
        token_type: "Bearer",
        scope,
    }
}

/// The form, validated: everything an exchange needs except the tokens' verification.
#[derive(Debug)]
struct ExchangeRequest {
    subject_token: String,
    actor_token: String,
    tools: Vec<ToolPattern>,
    ceiling: ToolClass,
    lifetime_secs: Option<i64>,
    budget: Option<u64>,
    purpose: String,
}

impl ExchangeRequest {
    fn parse(form: ExchangeForm, audience: &str) -> Result<Self, ExchangeError> {
        let grant_type = required(form.grant_type, "grant_type")?;
        if grant_type != TOKEN_EXCHANGE {
            return Err(ExchangeError::UnsupportedGrantType);
        }
        let subject_token = required(form.subject_token, "subject_token")?;
        token_type(form.subject_token_type, "subject_token_type")?;
        let actor_token = required(form.actor_token, "actor_token")?;
        token_type(form.actor_token_type, "actor_token_type")?;
        if let Some(requested) = present(form.requested_token_type) {
            token_type(Some(requested), "requested_token_type")?;
        }
        for target in [form.resource, form.audience]
            .into_iter()
            .filter_map(present)
        {
            if target != audience {
                return Err(ExchangeError::InvalidTarget(audience.to_owned()));
            }
        }
        Ok(Self {
            subject_token,
            actor_token,
            tools: tools(form.scope)?,
            ceiling: parsed_or(form.max_class, "max_class", ToolClass::Read)?,
            lifetime_secs: lifetime(form.expires_in)?,
            budget: present(form.budget)
                .map(|b| parsed(&b, "budget"))
                .transpose()?,
            purpose: present(form.purpose).unwrap_or_else(|| DEFAULT_PURPOSE.to_owned()),
        })
    }

    /// The granted tools, space-separated as `scope` is (RFC 6749 §3.3).
    fn scope(&self) -> String {
        let tools: Vec<&str> = self.tools.iter().map(ToolPattern::as_str).collect();
        tools.join(" ")
    }

    /// The child asked for; attenuation checks it against `chain`.
    fn into_child(self, worker: AgentId, chain: &MandateChain, now: Timestamp) -> ChildRequest {
        // Without `expires_in`, the default stops at the chain's own expiry rather than widen.
        let expires_at = match self.lifetime_secs {
            Some(secs) => now.plus_millis(secs.saturating_mul(1000)),
            None => now
                .plus_millis(DEFAULT_LIFETIME_SECS.saturating_mul(1000))
                .min(chain.expires_at()),
        };
        ChildRequest {
            agent: worker,
            tools: self.tools,
            ceiling: self.ceiling,
            // Token exchange hands on tool scope; argument limits come from the chain.
            constraints: Vec::new(),
            approvals: Vec::new(),
            expires_at,
            budget: self.budget,
            depth_remaining: None,
            purpose: self.purpose,
            by: format!("token-exchange:{}", chain.leaf().agent),
        }
    }
}

/// RFC 6749 §3.1: a parameter sent without a value is treated as omitted.
fn present(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

fn required(value: Option<String>, name: &'static str) -> Result<String, ExchangeError> {
    present(value).ok_or(ExchangeError::Missing(name))
}

/// A token type parameter: required, and it must name a Mandate access token.
fn token_type(value: Option<String>, name: &'static str) -> Result<(), ExchangeError> {
    if required(value, name)? == ACCESS_TOKEN_TYPE {
        Ok(())
    } else {
        Err(ExchangeError::UnsupportedTokenType(name))
    }
}

fn tools(scope: Option<String>) -> Result<Vec<ToolPattern>, ExchangeError> {
    let scope = present(scope).ok_or_else(|| {
        ExchangeError::InvalidScope("name the tool patterns to hand on, space-separated".to_owned())
    })?;
    let tools = scope
        .split_ascii_whitespace()
        .map(ToolPattern::new)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ExchangeError::InvalidScope(e.to_string()))?;
    if tools.is_empty() {
        return Err(ExchangeError::InvalidScope(
            "name at least one tool pattern".to_owned(),
        ));
    }
    Ok(tools)
}

fn lifetime(expires_in: Option<String>) -> Result<Option<i64>, ExchangeError> {
    let Some(text) = present(expires_in) else {
        return Ok(None);
    };
    let secs: i64 = parsed(&text, "expires_in")?;
    if secs < 1 {
        return Err(ExchangeError::InvalidParameter {
            parameter: "expires_in",
            reason: "must be at least 1 second".to_owned(),
        });
    }
    Ok(Some(secs))
}

fn parsed_or<T: std::str::FromStr>(
    value: Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ExchangeError>
where
    T::Err: std::fmt::Display,
{
    present(value).map_or(Ok(default), |v| parsed(&v, name))
}

fn parsed<T: std::str::FromStr>(text: &str, name: &'static str) -> Result<T, ExchangeError>
where
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|e: T::Err| ExchangeError::InvalidParameter {
            parameter: name,
            reason: e.to_string(),
        })
}

/// The holder of a presented token, resolved as at the `/mcp` door (and audited the same way).
async fn holder(
    gw: &Gateway,
    which: &'static str,
    token: &str,
    now: Timestamp,
) -> Result<Principal, ExchangeError> {
    let refusal = match resolve(gw, token, now).await {
        Ok(principal) => return Ok(principal),
        Err(refusal) => refusal,
    };
    Err(match refusal {
        TokenRefusal::Invalid(reason) => ExchangeError::BadToken { which, reason },
        TokenRefusal::UnknownMandate => ExchangeError::BadToken {
            which,
            reason: "its mandate is unknown",
        },
        TokenRefusal::NotInForce { why, principal } => {
            let event = crate::record::refused_token(gw, &principal, &why, Some("token-exchange"));
            if let Err(e) = gw.store.append(event).await {
                tracing::error!(error = %e, "cannot audit a refused token exchange");
            }
            ExchangeError::NotInForce { which, why }
        }
        TokenRefusal::Unavailable => ExchangeError::Internal,
    })
}

/// What `Gateway::delegate`'s refusal means to the client. Internal failures are logged
/// here and reach the client only as `server_error`.
fn refused(error: crate::governance::GovernanceError) -> ExchangeError {
    use crate::governance::GovernanceError as G;
    match error {
        G::Widening(_) => ExchangeError::Widening(error.to_string()),
        G::CannotOrchestrate { ceiling, .. } => ExchangeError::NoOrchestrateCeiling(ceiling),
        G::Forbidden(_) => ExchangeError::Forbidden(error.to_string()),
        G::UnknownAgent(_) => ExchangeError::UnknownWorker,
        G::NoOwners(_) => ExchangeError::WorkerWithoutOwners,
        G::UnknownMandate(_) => ExchangeError::BadToken {
            which: "subject_token",
            reason: "its mandate is unknown",
        },
        G::NotInForce(inactive) => ExchangeError::NotInForce {
            which: "subject_token",
            why: inactive.to_string(),
        },
        G::NoTools | G::MatchesNothing(_) => ExchangeError::InvalidScope(error.to_string()),
        G::ExpiryPassed => ExchangeError::InvalidParameter {
            parameter: "expires_in",
            reason: error.to_string(),
        },
        G::Store(_) | G::Token(_) | G::BrokenChain(_) => {
            internal("cannot record a delegation", &error)
        }
    }
}

fn internal(what: &str, error: &dyn std::fmt::Display) -> ExchangeError {
    tracing::error!(error = %error, "token exchange: {what}");
    ExchangeError::Internal
}
