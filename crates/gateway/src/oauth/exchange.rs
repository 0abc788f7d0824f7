//! RFC 8693 token exchange at `POST /oauth/token`: an orchestrator trades its access token and
//! a worker's for a narrower child mandate, recorded, and the worker's token under it.

use super::token::TokenForm;
use super::token_error::{TokenEndpointError as ExchangeError, no_store};
use crate::Gateway;
use crate::principal::{Principal, TokenRefusal, resolve};
use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use mandate_auth::IssuedToken;
use mandate_core::{AgentId, ChildRequest, MandateChain, Timestamp, ToolClass, ToolPattern};
use serde::Serialize;

/// The `grant_type` of an RFC 8693 token exchange.
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The only token type exchanged and issued: a Mandate access token.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// How long a child lasts when `expires_in` is absent (never past its chain).
const DEFAULT_LIFETIME_SECS: i64 = 30 * 60;
/// The child's purpose when `purpose` is absent.
const DEFAULT_PURPOSE: &str = "delegated by token exchange";

/// A successful exchange (RFC 8693 §2.2.1).
#[derive(Debug, Serialize)]
pub(super) struct Exchanged {
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

/// The exchange, top to bottom.
pub(super) async fn exchange(gw: &Gateway, form: TokenForm) -> Result<Exchanged, ExchangeError> {
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
    fn parse(form: TokenForm, audience: &str) -> Result<Self, ExchangeError> {
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
            // Approval rules come from the chain: a child keeps every ancestor's.
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
