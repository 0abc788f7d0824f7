//! `POST /oauth/token`: one form, three grants: `authorization_code` (PKCE proven in
//! constant time, the code single-use and short-lived), `refresh_token` (rotating), and
//! RFC 8693 token exchange.

use super::OAuth;
use super::exchange::{TOKEN_EXCHANGE, exchange};
use super::memory::Redemption;
use super::token_error::{TokenEndpointError, no_store};
use crate::Gateway;
use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use mandate_audit::{AuditEvent, EventKind};
use mandate_auth::IssuedToken;
use mandate_auth::pkce::PkceCheck;
use mandate_auth::secret::Secret;
use mandate_core::MandateId;
use mandate_store::oauth::RefreshGrant;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// The form as sent (RFC 6749 §4.1.3, §6, RFC 8693 §2.1, plus Mandate's own limits for
/// exchanges). A parameter sent twice is refused by the form decoder; unknown ones are ignored.
#[derive(Debug, Default, Deserialize)]
pub(super) struct TokenForm {
    pub(super) grant_type: Option<String>,
    pub(super) code: Option<String>,
    pub(super) redirect_uri: Option<String>,
    pub(super) code_verifier: Option<String>,
    pub(super) client_id: Option<String>,
    pub(super) refresh_token: Option<String>,
    pub(super) subject_token: Option<String>,
    pub(super) subject_token_type: Option<String>,
    pub(super) actor_token: Option<String>,
    pub(super) actor_token_type: Option<String>,
    pub(super) requested_token_type: Option<String>,
    pub(super) resource: Option<String>,
    pub(super) audience: Option<String>,
    pub(super) scope: Option<String>,
    pub(super) max_class: Option<String>,
    pub(super) expires_in: Option<String>,
    pub(super) budget: Option<String>,
    pub(super) purpose: Option<String>,
}

/// A successful authorization code or refresh grant (RFC 6749 §5.1).
#[derive(Debug, Serialize)]
pub(super) struct Granted {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    refresh_token: String,
    scope: String,
}

impl Granted {
    pub(super) fn new(token: IssuedToken, refresh: &Secret, scope: String) -> Self {
        Self {
            expires_in: token.claims.exp.saturating_sub(token.claims.iat).max(0),
            access_token: token.token,
            token_type: "Bearer",
            refresh_token: refresh.as_str().to_owned(),
            scope,
        }
    }
}

impl IntoResponse for Granted {
    fn into_response(self) -> Response {
        no_store((StatusCode::OK, Json(self)).into_response())
    }
}

/// `POST /oauth/token`.
pub(super) async fn token(
    State(oauth): State<OAuth>,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => {
            return TokenEndpointError::MalformedForm(rejection.body_text()).into_response();
        }
    };
    let outcome = match form.grant_type.as_deref() {
        Some(TOKEN_EXCHANGE) => exchange(&oauth.gw, form)
            .await
            .map(IntoResponse::into_response),
        Some("authorization_code") => redeem(&oauth, form).await.map(IntoResponse::into_response),
        Some("refresh_token") => super::refresh::refresh(&oauth.gw, form)
            .await
            .map(IntoResponse::into_response),
        None | Some("") => Err(TokenEndpointError::Missing("grant_type")),
        Some(_) => Err(TokenEndpointError::UnsupportedGrantType),
    };
    outcome.unwrap_or_else(|error| {
        tracing::info!(%error, code = error.code().1, "token request refused");
        error.into_response()
    })
}

pub(super) fn required(
    value: Option<String>,
    name: &'static str,
) -> Result<String, TokenEndpointError> {
    value
        .filter(|v| !v.is_empty())
        .ok_or(TokenEndpointError::Missing(name))
}

/// RFC 8707: a `resource`, when sent, must be this gateway's MCP endpoint.
pub(super) fn check_resource(
    gw: &Gateway,
    resource: Option<&str>,
) -> Result<(), TokenEndpointError> {
    match resource.filter(|r| !r.is_empty()) {
        Some(r) if r != gw.config.audience() => {
            Err(TokenEndpointError::InvalidTarget(gw.config.audience()))
        }
        _ => Ok(()),
    }
}

/// The authorization code grant, top to bottom.
async fn redeem(oauth: &OAuth, form: TokenForm) -> Result<Granted, TokenEndpointError> {
    let gw = &oauth.gw;
    let code = required(form.code, "code")?;
    let client_id = required(form.client_id, "client_id")?;
    let redirect_uri = required(form.redirect_uri, "redirect_uri")?;
    let verifier = required(form.code_verifier, "code_verifier")?;
    check_resource(gw, form.resource.as_deref())?;
    // Spent here, whatever follows: a code is good for one attempt.
    let issued = match oauth.memory.redeem(&code, Instant::now()) {
        Redemption::Live(issued) => issued,
        Redemption::Replayed(mandate) => {
            // RFC 9700 §4.5: a code presented twice may have been stolen; what it granted dies.
            revoke(gw, &mandate, "an authorization code was presented twice").await;
            return Err(TokenEndpointError::InvalidGrant(
                "the authorization code was already used; the mandate it granted is revoked",
            ));
        }
        Redemption::Unknown => {
            return Err(TokenEndpointError::InvalidGrant(
                "the authorization code is unknown or has expired",
            ));
        }
    };
    if issued.client_id != client_id {
        return Err(TokenEndpointError::InvalidGrant(
            "the authorization code was issued to another client",
        ));
    }
    if issued.redirect_uri != redirect_uri {
        return Err(TokenEndpointError::InvalidGrant(
            "`redirect_uri` is not the authorization request's",
        ));
    }
    if issued.challenge.verify(&verifier) != PkceCheck::Proven {
        return Err(TokenEndpointError::InvalidGrant(
            "the `code_verifier` does not match the `code_challenge`",
        ));
    }
    let token = access_token(gw, &issued.mandate, &issued.scope).await?;
    let refresh = Secret::generate();
    let digest = refresh.digest().as_str().to_owned();
    let grant = RefreshGrant {
        family: digest.clone(),
        digest,
        client_id: client_id.clone(),
        mandate: issued.mandate.clone(),
        scope: issued.scope.clone(),
        issued_at: crate::now(),
    };
    gw.store.add_refresh(&grant).await.map_err(|e| {
        tracing::error!(error = %e, "cannot store a refresh token");
        TokenEndpointError::Internal
    })?;
    audit_issued(gw, &issued.mandate, &client_id, "authorization_code").await;
    Ok(Granted::new(token, &refresh, issued.scope))
}

/// A fresh access token for a mandate whose chain is in force.
pub(super) async fn access_token(
    gw: &Gateway,
    mandate: &MandateId,
    scope: &str,
) -> Result<IssuedToken, TokenEndpointError> {
    use crate::governance::GovernanceError as G;
    let scope = Some(scope.to_owned()).filter(|s| !s.is_empty());
    gw.issue_scoped_token(mandate, scope)
        .await
        .map_err(|e| match e {
            G::NotInForce(_) | G::UnknownMandate(_) => TokenEndpointError::InvalidGrant(
                "the mandate behind this grant is no longer in force",
            ),
            other => {
                tracing::error!(error = %other, "cannot issue a token");
                TokenEndpointError::Internal
            }
        })
}

/// Records that a token was handed to an OAuth client.
pub(super) async fn audit_issued(gw: &Gateway, mandate: &MandateId, client_id: &str, grant: &str) {
    let mut event = AuditEvent::new(EventKind::TokenIssued, crate::now(), gw.config.node.clone());
    if let Ok(chain) = gw.chain(mandate).await {
        event = event.with_chain(&chain);
    }
    event.mandate = Some(mandate.clone());
    event.detail = Some(serde_json::json!({ "client_id": client_id, "grant_type": grant }));
    if let Err(e) = gw.store.append(event).await {
        tracing::error!(error = %e, "cannot audit an issued token");
    }
}

/// Revokes a mandate whose code or refresh token was replayed (already revoked: fine).
pub(super) async fn revoke(gw: &Gateway, mandate: &MandateId, reason: &str) {
    match gw.revoke(mandate, "oauth", reason).await {
        Ok(_) => tracing::warn!(%mandate, reason, "mandate revoked"),
        Err(crate::governance::GovernanceError::Store(
            mandate_store::StoreError::AlreadyRevoked(_),
        )) => {}
        Err(e) => tracing::error!(error = %e, %mandate, "cannot revoke a mandate after a replay"),
    }
}
