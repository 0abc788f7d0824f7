//! `/oauth/authorize`: the authorization request is checked (client, exact redirect URI,
//! `state`, PKCE S256, `resource`, scope), then a human signs in and approves on the
//! consent page, and the client gets a single-use code back with `state` and `iss`.
//!
//! Before the client and its redirect URI are known good, every error is a page here,
//! never a redirect (no open redirector); after, errors go back to the client.

use super::clients::{self, Client};
use super::limiter::Attempt;
use super::memory::{Pending, Session};
use super::{OAuth, consent, page};
use crate::Gateway;
use axum::extract::{ConnectInfo, RawQuery, Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use mandate_audit::{AuditEvent, EventKind};
use mandate_auth::password::{PasswordCheck, PasswordHashText, check_password};
use mandate_auth::pkce::CodeChallenge;
use mandate_auth::secret::{SecretDigest, same_secret};
use mandate_core::{HumanId, ToolName, ToolPattern};
use reqwest::Url;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// The sign-in cookie's name.
pub(super) const COOKIE: &str = "mandate_session";
/// The largest form the pages post.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// An authorization request that passed every check, waiting for its human.
#[derive(Debug, Clone)]
pub(super) struct AuthorizationRequest {
    pub(super) client: Client,
    pub(super) redirect_uri: String,
    pub(super) state: String,
    pub(super) challenge: CodeChallenge,
    /// The catalogued tools the requested scope reaches: what the human may approve.
    pub(super) tools: Vec<ToolName>,
}

/// An error sent back to the client's (verified) redirect URI (RFC 6749 §4.1.2.1).
pub(super) struct BackToClient {
    pub(super) redirect_uri: String,
    pub(super) params: Vec<(&'static str, String)>,
}

impl BackToClient {
    fn error(redirect_uri: &str, state: Option<&str>, code: &'static str, why: &str) -> Self {
        let mut params = vec![
            ("error", code.to_owned()),
            ("error_description", why.to_owned()),
        ];
        if let Some(state) = state.filter(|s| !s.is_empty()) {
            params.push(("state", state.to_owned()));
        }
        Self {
            redirect_uri: redirect_uri.to_owned(),
            params,
        }
    }

    /// The redirect, with `iss` (RFC 9207) appended.
    pub(super) fn into_response(mut self, gw: &Gateway) -> Response {
        self.params.push(("iss", gw.config.issuer()));
        let Ok(mut url) = Url::parse(&self.redirect_uri) else {
            return page::error(StatusCode::BAD_REQUEST, "the redirect URI is not a URL");
        };
        url.query_pairs_mut()
            .extend_pairs(self.params.iter().map(|(k, v)| (*k, v.as_str())));
        let mut response = StatusCode::SEE_OTHER.into_response();
        if let Ok(location) = HeaderValue::from_str(url.as_str()) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        page::no_cache(response)
    }
}

/// Query parameters, each at most once (RFC 6749 §3.1); `Err` names a repeated one.
pub(super) fn single_params(query: &str) -> Result<HashMap<String, String>, String> {
    let mut params = HashMap::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()).into_owned() {
        if params.insert(k.clone(), v).is_some() {
            return Err(k);
        }
    }
    Ok(params)
}

fn param<'a>(params: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    params.get(name).map(String::as_str)
}

/// The first value of a form field.
pub(super) fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `GET /oauth/authorize`: checks the request, then shows the sign-in page (or the
/// consent page, to a human already signed in).
pub(super) async fn show(
    State(oauth): State<OAuth>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let now = Instant::now();
    let params = match single_params(query.as_deref().unwrap_or("")) {
        Ok(p) => p,
        Err(name) => {
            return page::error(
                StatusCode::BAD_REQUEST,
                &format!("parameter `{name}` is repeated"),
            );
        }
    };
    let client = match clients::resolve(&oauth.gw, param(&params, "client_id")).await {
        Ok(c) => c,
        Err(e) => return page::error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let Some(redirect_uri) = client.redirect_uri(param(&params, "redirect_uri")) else {
        return page::error(
            StatusCode::BAD_REQUEST,
            "`redirect_uri` is missing or is not one this client registered",
        );
    };
    let request = match check(&oauth.gw, &params, client, redirect_uri) {
        Ok(r) => r,
        Err(back) => return back.into_response(&oauth.gw),
    };
    let Ok(id) = oauth.memory.add_pending(request.clone(), now) else {
        return page::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many sign-ins at once; try again soon",
        );
    };
    match session(&oauth, &headers, now) {
        Some((digest, session)) => {
            oauth.memory.bind(id.as_str(), digest);
            consent::page(&oauth, &request, id.as_str(), &session, None).await
        }
        None => page::sign_in(
            &sign_in_view(&oauth, id.as_str(), &request.client.name),
            None,
            StatusCode::OK,
        ),
    }
}

/// The checks once the redirect URI is trusted; failures go back to the client.
fn check(
    gw: &Gateway,
    params: &HashMap<String, String>,
    client: Client,
    redirect_uri: String,
) -> Result<AuthorizationRequest, BackToClient> {
    let get = |name| param(params, name);
    let state = get("state").filter(|s| !s.is_empty());
    let back = |code, why: &str| BackToClient::error(&redirect_uri, state, code, why);
    if get("response_type") != Some("code") {
        return Err(back(
            "unsupported_response_type",
            "`response_type` must be `code`",
        ));
    }
    let Some(state) = state else {
        return Err(back("invalid_request", "`state` is required"));
    };
    let challenge = CodeChallenge::parse(get("code_challenge"), get("code_challenge_method"))
        .map_err(|e| back("invalid_request", &e.to_string()))?;
    if let Some(resource) = get("resource").filter(|r| *r != gw.config.audience()) {
        return Err(back(
            "invalid_target",
            &format!(
                "this gateway issues tokens only for `{}`, not `{resource}`",
                gw.config.audience()
            ),
        ));
    }
    let tools = offered_tools(gw, get("scope")).map_err(|why| back("invalid_scope", &why))?;
    Ok(AuthorizationRequest {
        client,
        redirect_uri: redirect_uri.clone(),
        state: state.to_owned(),
        challenge,
        tools,
    })
}

/// The catalogued tools a scope (space-separated tool patterns; absent: every tool)
/// reaches. `offline_access` is accepted and means nothing more: refresh tokens are
/// always issued, and die with the mandate.
fn offered_tools(gw: &Gateway, scope: Option<&str>) -> Result<Vec<ToolName>, String> {
    let patterns = match scope.filter(|s| !s.trim().is_empty()) {
        None => vec![ToolPattern::new("*").map_err(|e| e.to_string())?],
        Some(scope) => scope
            .split_ascii_whitespace()
            .filter(|s| *s != "offline_access")
            .map(|s| ToolPattern::new(s).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?,
    };
    let catalog = gw.catalog.snapshot();
    // The upstreams' resources and prompts too, under their governed names (see `relay`).
    let relayed = gw.relay_entries();
    let tools: Vec<ToolName> = catalog
        .tools()
        .map(|t| &t.name)
        .chain(relayed.iter().map(|t| &t.name))
        .filter(|name| patterns.iter().any(|p| p.matches(name)))
        .cloned()
        .collect();
    if tools.is_empty() {
        return Err("the requested scope reaches no tool this gateway offers".into());
    }
    Ok(tools)
}

/// What the sign-in page shows for a pending request.
pub(super) fn sign_in_view<'a>(
    oauth: &'a OAuth,
    id: &'a str,
    client: &'a str,
) -> page::SignInView<'a> {
    page::SignInView {
        request: id,
        client,
        provider: oauth.oidc.as_ref().map(|o| o.name()),
    }
}

/// The live session the request's cookie names.
fn session(oauth: &OAuth, headers: &HeaderMap, now: Instant) -> Option<(SecretDigest, Session)> {
    oauth.memory.session(cookie(headers, COOKIE)?, now)
}

/// The value of the cookie `name`.
pub(super) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    cookies
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
}

/// `POST /oauth/authorize`: the sign-in form, and the consent form's approve or deny.
pub(super) async fn submit(State(oauth): State<OAuth>, request: Request) -> Response {
    let now = Instant::now();
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let headers = request.headers().clone();
    let Ok(body) = axum::body::to_bytes(request.into_body(), MAX_FORM_BYTES).await else {
        return page::error(StatusCode::PAYLOAD_TOO_LARGE, "the form is too large");
    };
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let get = |name| field(&form, name);
    let id = get("request").unwrap_or_default();
    let Some(pending) = oauth.memory.pending(id, now) else {
        return page::error(
            StatusCode::BAD_REQUEST,
            "this authorization request is unknown or has expired: start again from your application",
        );
    };
    let step = get("step");
    if step == Some("sign_in") {
        let user = get("username").unwrap_or_default();
        let password = get("password").unwrap_or_default();
        return sign_in(&oauth, id, &pending, user, password, address, now).await;
    }
    let session = match guard(&oauth, &headers, &pending, get("csrf"), now) {
        Ok(session) => session,
        Err(why) => return page::error(StatusCode::FORBIDDEN, why),
    };
    match step {
        Some("approve") => consent::approve(&oauth, id, &pending.request, &session, &form).await,
        Some("deny") => consent::deny(&oauth, id, &pending.request, &session).await,
        _ => page::error(StatusCode::BAD_REQUEST, "unknown step"),
    }
}

/// A consent form counts only from the session that signed in for this very request, with
/// that session's CSRF token.
fn guard(
    oauth: &OAuth,
    headers: &HeaderMap,
    pending: &Pending,
    csrf: Option<&str>,
    now: Instant,
) -> Result<Session, &'static str> {
    let Some((digest, session)) = session(oauth, headers, now) else {
        return Err("sign in first: your session is missing or has expired");
    };
    if pending.session.as_ref() != Some(&digest) {
        return Err("this authorization request belongs to another sign-in");
    }
    if !csrf.is_some_and(|c| same_secret(c, &session.csrf)) {
        return Err("the form's CSRF token is missing or wrong");
    }
    Ok(session)
}

/// Checks a password (rate-limited per user and per address), audits the outcome, and on
/// success starts a session and shows the consent page.
async fn sign_in(
    oauth: &OAuth,
    id: &str,
    pending: &Pending,
    user: &str,
    password: &str,
    address: Option<IpAddr>,
    now: Instant,
) -> Response {
    let gw = &oauth.gw;
    let client = &pending.request.client;
    let view = sign_in_view(oauth, id, &client.name);
    let wrong = |status| page::sign_in(&view, Some("unknown user or wrong password"), status);
    let user = user.trim();
    if oauth.limiter.check(user, address, now) == Attempt::Limited {
        tracing::warn!(user, ?address, "sign-in refused: too many failures");
        let why = "too many failed sign-ins: wait 15 minutes and try again";
        return page::sign_in(&view, Some(why), StatusCode::TOO_MANY_REQUESTS);
    }
    let Ok(human) = HumanId::new(user) else {
        oauth.limiter.failed(user, address, now);
        return wrong(StatusCode::UNAUTHORIZED);
    };
    let stored = match gw.store.user(&human).await {
        Ok(u) => u.map(|u| PasswordHashText::from_stored(u.password_hash)),
        Err(e) => {
            tracing::error!(error = %e, "cannot read a user");
            return page::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the gateway cannot sign you in right now",
            );
        }
    };
    let password = password.to_owned();
    let check = tokio::task::spawn_blocking(move || check_password(&password, stored.as_ref()))
        .await
        .unwrap_or(PasswordCheck::Mismatch);
    let matched = check == PasswordCheck::Match;
    audit_sign_in(gw, &human, client, address, matched).await;
    if !matched {
        oauth.limiter.failed(user, address, now);
        return wrong(StatusCode::UNAUTHORIZED);
    }
    oauth.limiter.succeeded(user);
    consent::start_session(oauth, id, pending, human, now).await
}

async fn audit_sign_in(
    gw: &Gateway,
    human: &HumanId,
    client: &Client,
    address: Option<IpAddr>,
    matched: bool,
) {
    let mut event = AuditEvent::new(EventKind::SignIn, crate::now(), gw.config.node.clone());
    event.human = Some(human.clone());
    event.decision = Some(if matched { "allow" } else { "deny" }.to_owned());
    if !matched {
        event.reasons = vec!["unknown user or wrong password".to_owned()];
    }
    event.detail = Some(serde_json::json!({
        "client_id": client.id,
        "address": address.map(|a| a.to_string()),
    }));
    if let Err(e) = gw.store.append(event).await {
        tracing::error!(error = %e, "cannot audit a sign-in");
    }
}
