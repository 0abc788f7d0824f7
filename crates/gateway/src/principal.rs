//! Authentication of agents: a bearer token, checked and tied to a live mandate chain.
//!
//! Runs as an HTTP layer before MCP parsing, so a bad token never reaches the pipeline.

use crate::Gateway;
use crate::record;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use http::{HeaderValue, StatusCode, header};
use mandate_auth::VerifiedToken;
use mandate_core::{MandateChain, MandateId, Timestamp};
use std::sync::Arc;

/// An authenticated agent: a verified token and its mandate chain, in force when the request arrived.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The verified token.
    pub token: Arc<VerifiedToken>,
    /// The mandate chain, root first.
    pub chain: Arc<MandateChain>,
}

impl Principal {
    /// The governance session: Mandate assigns it (the token's id), never the transport.
    pub fn session(&self) -> &str {
        &self.token.claims().jti
    }
}

/// Why a presented token does not make a principal. Every text is safe to show an agent.
#[derive(Debug)]
pub enum TokenRefusal {
    /// The token failed verification (signature, algorithm, audience, expiry…).
    Invalid(&'static str),
    /// The token names a mandate the store does not hold, or one its subject does not hold.
    UnknownMandate,
    /// The token is genuine but its mandate chain is not in force: which mandate, and why.
    /// The caller audits it, naming what was attempted where it can tell.
    NotInForce {
        /// Which mandate, and why, in words.
        why: String,
        /// Who presented it.
        principal: Box<Principal>,
    },
    /// The store could not be read; details are in the log.
    Unavailable,
}

impl TokenRefusal {
    fn description(&self) -> String {
        match self {
            TokenRefusal::Invalid(reason) => (*reason).to_owned(),
            TokenRefusal::UnknownMandate => "the token's mandate is unknown".to_owned(),
            TokenRefusal::NotInForce { why, .. } => why.clone(),
            TokenRefusal::Unavailable => "the gateway cannot check this token right now".to_owned(),
        }
    }
}

/// Why a request was not authenticated: a 401 with a challenge.
#[derive(Debug)]
enum Refusal {
    NoToken,
    Token(TokenRefusal),
}

impl Refusal {
    /// The 401, whose challenge names the protected resource metadata (RFC 9728 §5.1) so
    /// that MCP clients can discover how to get a token.
    fn into_response(self, gw: &Gateway) -> Response {
        let metadata = format!(
            "resource_metadata=\"{}{}\"",
            gw.config.public_url,
            crate::oauth::metadata::RESOURCE_METADATA_PATH
        );
        // RFC 6750 §3: no `error` when the request carried no credentials.
        let (challenge, detail) = match &self {
            Refusal::NoToken => (
                format!("Bearer realm=\"mandate\", {metadata}"),
                "a bearer token is required".to_owned(),
            ),
            Refusal::Token(refusal) => {
                let detail = refusal.description();
                let challenge = format!(
                    "Bearer realm=\"mandate\", {metadata}, error=\"invalid_token\", error_description=\"{}\"",
                    detail.replace(['"', '\\'], "'")
                );
                (challenge, detail)
            }
        };
        let body = serde_json::json!({ "error": "unauthorized", "detail": detail });
        let mut response = (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// The layer: authenticates, attaches a [`Principal`], and audits what an
/// authenticated agent sent that the MCP layer then rejected.
pub async fn authenticate(
    State(gw): State<Arc<Gateway>>,
    mut request: Request,
    next: Next,
) -> Response {
    // Owned before any await: a borrowed request would make this future non-`Send`.
    let token = bearer(&request).map(str::to_owned);
    let principal = match token {
        None => return Refusal::NoToken.into_response(&gw),
        Some(token) => match resolve(&gw, &token, crate::now()).await {
            Ok(p) => p,
            Err(TokenRefusal::NotInForce { why, principal }) => {
                // Name what was attempted: security teams ask what a dead mandate tried to do.
                let limit = gw.config.max_body_bytes;
                let attempted = attempted_call(request.into_body(), limit).await;
                let event = record::refused_token(&gw, &principal, &why, attempted.as_deref());
                if let Err(e) = gw.store.append(event).await {
                    tracing::error!(error = %e, "cannot audit a refused token");
                }
                return Refusal::Token(TokenRefusal::NotInForce { why, principal })
                    .into_response(&gw);
            }
            Err(refusal) => return Refusal::Token(refusal).into_response(&gw),
        },
    };
    // A token from the OAuth flow may be asked to step up its scope (see `scope_challenge`);
    // only its requests pay for reading the body here.
    if principal.token.claims().scope.is_some() && request.method() == http::Method::POST {
        let (parts, body) = request.into_parts();
        let bytes = match crate::scope_challenge::buffered(body, gw.config.max_body_bytes).await {
            Ok(bytes) => bytes,
            Err(too_large) => return too_large,
        };
        if let Some(challenge) = crate::scope_challenge::challenge(&gw, &principal, &bytes).await {
            return challenge;
        }
        request = Request::from_parts(parts, axum::body::Body::from(bytes));
    }
    let method = request.method().clone();
    request.extensions_mut().insert(principal.clone());
    let response = next.run(request).await;
    let status = response.status();
    if status.is_client_error() {
        let event = record::rejected(&gw, &principal, &format!("{method} /mcp answered {status}"));
        if let Err(e) = gw.store.append(event).await {
            tracing::error!(error = %e, "cannot audit a rejected request");
        }
    }
    response
}

/// Resolves a presented token into a principal: verified, its mandate chain loaded, held
/// by its subject, and in force at `now`. A genuine token on a dead chain is audited.
///
/// The warm path (a token seen before, a chain no death has touched since) reads neither
/// a signature nor a mandate row: see [`mandate_auth::TokenVerifier::verify_remembered`]
/// and [`crate::live_chains`].
pub async fn resolve(gw: &Gateway, token: &str, now: Timestamp) -> Result<Principal, TokenRefusal> {
    let verified = gw
        .tokens
        .verifier
        .verify_remembered(token, now.as_secs())
        .map_err(|e| TokenRefusal::Invalid(e.public_reason()))?;
    let mandate = MandateId::new(verified.claims().mandate.clone())
        .map_err(|_| TokenRefusal::UnknownMandate)?;
    let chain = live_chain(gw, &mandate).await?;
    if chain.leaf().agent.as_str() != verified.claims().sub {
        return Err(TokenRefusal::Invalid(
            "the token's subject does not hold its mandate",
        ));
    }
    let principal = Principal {
        token: verified,
        chain,
    };
    if let Err(inactive) = principal.chain.check_in_force(now) {
        return Err(TokenRefusal::NotInForce {
            why: inactive.to_string(),
            principal: Box::new(principal),
        });
    }
    Ok(principal)
}

/// The chain ending at `leaf`: from memory while the liveness epoch stands still, else
/// from the store.
async fn live_chain(gw: &Gateway, leaf: &MandateId) -> Result<Arc<MandateChain>, TokenRefusal> {
    let unavailable = |e: mandate_store::StoreError| {
        tracing::error!(error = %e, "cannot load a mandate chain");
        TokenRefusal::Unavailable
    };
    // Read the epoch before the chain (see `LiveChains::put`).
    let epoch = gw.store.liveness_epoch().map_err(unavailable)?;
    if let Some(chain) = gw.live_chains.get(leaf, epoch) {
        return Ok(chain);
    }
    let mandates = match gw.store.chain(leaf).await {
        Ok(Some(m)) => m,
        Ok(None) => return Err(TokenRefusal::UnknownMandate),
        Err(e) => return Err(unavailable(e)),
    };
    let chain = Arc::new(MandateChain::new(mandates).map_err(|e| {
        tracing::error!(error = %e, "stored mandate chain is inconsistent");
        TokenRefusal::Unavailable
    })?);
    gw.live_chains.put(Arc::clone(&chain), epoch);
    Ok(chain)
}

/// The tool (or method) a request body asks for, read within the body limit; `None` when
/// the body is unreadable or not JSON-RPC.
async fn attempted_call(body: axum::body::Body, limit: usize) -> Option<String> {
    let bytes = axum::body::to_bytes(body, limit).await.ok()?;
    let message: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let method = message.get("method")?.as_str()?;
    let tool = message
        .pointer("/params/name")
        .and_then(serde_json::Value::as_str);
    Some(match (method, tool) {
        ("tools/call", Some(tool)) => tool.to_owned(),
        _ => method.to_owned(),
    })
}

fn bearer(request: &Request) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}
