//! Discovery: the protected resource's metadata (RFC 9728) and the authorization server's
//! (RFC 8414), which MCP clients read after the first 401.

use super::OAuth;
use super::exchange::TOKEN_EXCHANGE;
use crate::Gateway;
use crate::config::{ClientIdSchemes, Registration};
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use serde_json::{Value, json};

/// Where the protected resource's metadata lives (also under the `/mcp` suffix).
pub const RESOURCE_METADATA_PATH: &str = "/.well-known/oauth-protected-resource";
/// Where the authorization server's metadata lives.
pub const SERVER_METADATA_PATH: &str = "/.well-known/oauth-authorization-server";

/// The scopes offered: one tool pattern per upstream (`crm.*`). A scope is a tool pattern;
/// the human narrows it to single tools on the consent page.
pub(super) fn scopes(gw: &Gateway) -> Vec<String> {
    gw.config
        .upstreams
        .iter()
        .map(|u| format!("{}.*", u.name))
        .collect()
}

fn cached(value: Value) -> Response {
    let mut response = Json(value).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// `GET /.well-known/oauth-protected-resource[/mcp]`.
pub(super) async fn resource(State(oauth): State<OAuth>) -> Response {
    let gw = &oauth.gw;
    cached(json!({
        "resource": gw.config.audience(),
        "authorization_servers": [gw.config.issuer()],
        "scopes_supported": scopes(gw),
        "bearer_methods_supported": ["header"],
        "resource_name": "Mandate",
    }))
}

/// `GET /.well-known/oauth-authorization-server`.
pub(super) async fn server(State(oauth): State<OAuth>) -> Response {
    let gw = &oauth.gw;
    let base = gw.config.issuer();
    let mut metadata = json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/oauth/authorize"),
        "token_endpoint": format!("{base}/oauth/token"),
        "scopes_supported": scopes(gw),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", TOKEN_EXCHANGE],
        "token_endpoint_auth_methods_supported": ["none"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "client_id_metadata_document_supported": gw.config.oauth.client_ids != ClientIdSchemes::Refused,
    });
    if gw.config.oauth.registration == Registration::Open
        && let Some(fields) = metadata.as_object_mut()
    {
        fields.insert(
            "registration_endpoint".into(),
            format!("{base}/oauth/register").into(),
        );
    }
    cached(metadata)
}
