//! Dynamic client registration (RFC 7591) at `POST /oauth/register`, for MCP clients that
//! do not publish a Client ID Metadata Document. Public clients only: no secrets.

use super::OAuth;
use super::clients::{check_redirect_uris, clean_name};
use crate::config::Registration;
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use mandate_audit::{AuditEvent, EventKind};
use mandate_auth::secret::Secret;
use mandate_store::oauth::ClientRecord;
use serde::Deserialize;
use serde_json::json;

/// The metadata read from a registration request; the rest is ignored (RFC 7591 §2).
#[derive(Debug, Deserialize)]
pub(super) struct RegistrationRequest {
    redirect_uris: Option<Vec<String>>,
    client_name: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
}

fn refused(code: &'static str, description: &str) -> Response {
    let body = json!({ "error": code, "error_description": description });
    super::token_error::no_store((StatusCode::BAD_REQUEST, Json(body)).into_response())
}

/// `POST /oauth/register`.
pub(super) async fn register(
    State(oauth): State<OAuth>,
    body: Result<Json<RegistrationRequest>, JsonRejection>,
) -> Response {
    let gw = &oauth.gw;
    if gw.config.oauth.registration == Registration::Closed {
        return refused(
            "invalid_client_metadata",
            "dynamic client registration is closed on this gateway",
        );
    }
    let Ok(Json(request)) = body else {
        return refused("invalid_client_metadata", "the body must be a JSON object");
    };
    let uris = request.redirect_uris.unwrap_or_default();
    if let Err(why) = check_redirect_uris(&uris) {
        return refused("invalid_redirect_uri", &why);
    }
    let grants_ok = request.grant_types.as_ref().is_none_or(|g| {
        g.iter().any(|t| t == "authorization_code")
            && g.iter()
                .all(|t| t == "authorization_code" || t == "refresh_token")
    });
    let responses_ok = request
        .response_types
        .as_ref()
        .is_none_or(|r| r.iter().all(|t| t == "code"));
    if !grants_ok || !responses_ok {
        return refused(
            "invalid_client_metadata",
            "clients register for `authorization_code` (and `refresh_token`) with response type `code`",
        );
    }
    let id = format!("mcl_{}", Secret::generate().as_str());
    let now = crate::now();
    let record = ClientRecord {
        name: clean_name(request.client_name.as_deref(), &id),
        id,
        redirect_uris: uris,
        registered_at: now,
    };
    let mut event = AuditEvent::new(EventKind::ClientRegistered, now, gw.config.node.clone());
    event.detail = Some(json!({
        "client_id": record.id,
        "client_name": record.name,
        "redirect_uris": record.redirect_uris,
    }));
    if let Err(e) = gw.store.add_client(&record, event).await {
        tracing::error!(error = %e, "cannot register an oauth client");
        let body = json!({ "error": "server_error", "error_description": "the gateway could not register the client; see its log" });
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response();
    }
    tracing::info!(client_id = %record.id, name = %record.name, "oauth client registered");
    let body = json!({
        "client_id": record.id,
        "client_id_issued_at": now.as_secs(),
        "client_name": record.name,
        "redirect_uris": record.redirect_uris,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    });
    super::token_error::no_store((StatusCode::CREATED, Json(body)).into_response())
}
