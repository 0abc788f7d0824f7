//! Mandate as the OAuth 2.1 authorization server of its own MCP endpoint, as the MCP
//! authorization specification describes it, so off-the-shelf MCP clients can connect.
//!
//! Read in order: [`metadata`] (what clients discover after the first 401) → `authorize`
//! (the request checked, sign-in, then `consent`: a root mandate granted by the human and
//! a single-use code) → `token` (code with PKCE, rotating `refresh`, RFC 8693 `exchange`).
//! Clients are registered (`register`, RFC 7591) or are Client ID Metadata Documents
//! (`clients`). Codes, sessions and pending requests live in this node's `memory`.
//! People sign in with a local password or, when configured, an external OpenID Connect
//! provider (`oidc`).

mod authorize;
mod clients;
mod consent;
mod exchange;
mod limiter;
mod memory;
pub mod metadata;
mod oidc;
mod page;
mod refresh;
mod register;
mod token;
mod token_error;

pub use exchange::{ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE};
pub use token_error::TokenEndpointError;

use crate::Gateway;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use std::sync::Arc;

/// The largest form or JSON body accepted: two tokens (at most 8 KiB each) and some parameters.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// What the endpoints share: the gateway, and what this node remembers briefly.
#[derive(Clone)]
struct OAuth {
    gw: Arc<Gateway>,
    memory: Arc<memory::Memory>,
    limiter: Arc<limiter::Limiter>,
    /// The external OpenID Connect provider, when `[oauth.oidc]` is set.
    oidc: Option<Arc<oidc::Oidc>>,
}

/// The authorization server's endpoints and the metadata documents, outside the `/mcp`
/// authentication layer.
pub fn router(gw: Arc<Gateway>) -> Router {
    let oidc = gw
        .config
        .oauth
        .oidc
        .clone()
        .map(|config| Arc::new(oidc::Oidc::new(config, &gw.config.public_url)));
    let state = OAuth {
        gw,
        memory: Arc::default(),
        limiter: Arc::default(),
        oidc,
    };
    let resource_at_mcp = format!("{}/mcp", metadata::RESOURCE_METADATA_PATH);
    Router::new()
        .route("/oauth/token", post(token::token))
        .route(
            "/oauth/authorize",
            get(authorize::show).post(authorize::submit),
        )
        .route("/oauth/register", post(register::register))
        .route("/oauth/oidc/start", post(oidc::start))
        .route("/oauth/oidc/callback", get(oidc::callback))
        .route(metadata::RESOURCE_METADATA_PATH, get(metadata::resource))
        .route(&resource_at_mcp, get(metadata::resource))
        .route(metadata::SERVER_METADATA_PATH, get(metadata::server))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
