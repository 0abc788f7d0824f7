//! Signing in with an external OpenID Connect provider (`[oauth.oidc]`): the sign-in
//! page's button starts a round trip to the provider, whose callback ends it.
//!
//! `POST /oauth/oidc/start` sends the browser to the provider (authorization code, PKCE
//! S256, `state`, `nonce`) with a cookie that binds the round trip to that browser.
//! `GET /oauth/oidc/callback` takes the `state` (single use), checks the cookie, redeems
//! the code, verifies the ID token ([`provider`]), maps the configured claim to a human
//! ([`human`]), audits the sign-in, and continues exactly as a local sign-in does: a
//! session, then the consent page.

mod flights;
mod human;
mod provider;

use super::authorize::{self, cookie, field, single_params};
use super::memory::Pending;
use super::{OAuth, consent, page};
use crate::Gateway;
use crate::config::OidcConfig;
use axum::extract::{ConnectInfo, RawQuery, Request, State};
use axum::response::{IntoResponse, Response};
use flights::{Arrival, Flights};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use mandate_audit::{AuditEvent, EventKind};
use mandate_auth::pkce::s256_challenge;
use mandate_core::HumanId;
use provider::Provider;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// The cookie binding a round trip to the browser that began it.
const FLIGHT_COOKIE: &str = "mandate_oidc";
/// The largest form the start button posts.
const MAX_FORM_BYTES: usize = 16 * 1024;

/// The provider and the sign-ins in flight to it.
pub(super) struct Oidc {
    provider: Provider,
    flights: Flights,
}

impl Oidc {
    pub(super) fn new(config: OidcConfig, public_url: &str) -> Self {
        Self {
            provider: Provider::new(config, public_url),
            flights: Flights::default(),
        }
    }

    /// The provider's name, for its button.
    pub(super) fn name(&self) -> &str {
        &self.provider.config.name
    }
}

fn secure(gw: &Gateway) -> &'static str {
    if gw.config.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    }
}

/// `POST /oauth/oidc/start`: the button on the sign-in page.
pub(super) async fn start(State(oauth): State<OAuth>, request: Request) -> Response {
    let now = Instant::now();
    let Some(oidc) = oauth.oidc.as_ref() else {
        return page::error(StatusCode::NOT_FOUND, "no sign-in provider is configured");
    };
    let Ok(body) = axum::body::to_bytes(request.into_body(), MAX_FORM_BYTES).await else {
        return page::error(StatusCode::PAYLOAD_TOO_LARGE, "the form is too large");
    };
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let id = field(&form, "request").unwrap_or_default();
    if oauth.memory.pending(id, now).is_none() {
        return expired();
    }
    let metadata = match oidc.provider.metadata().await {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "cannot discover the sign-in provider");
            return page::error(StatusCode::BAD_GATEWAY, &e.to_string());
        }
    };
    let Ok(departure) = oidc.flights.depart(id, now) else {
        return page::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many sign-ins at once; try again soon",
        );
    };
    let flight = &departure.flight;
    let mut url = metadata.authorization_endpoint.clone();
    url.query_pairs_mut().extend_pairs([
        ("response_type", "code"),
        ("client_id", oidc.provider.config.client_id.as_str()),
        ("redirect_uri", oidc.provider.redirect_uri.as_str()),
        ("scope", oidc.provider.scope()),
        ("state", departure.state.as_str()),
        ("nonce", flight.nonce.as_str()),
        ("code_challenge", &s256_challenge(&flight.verifier)),
        ("code_challenge_method", "S256"),
    ]);
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(url.as_str()) {
        headers.insert(header::LOCATION, location);
    }
    // Lax, not Strict: the provider's redirect back is a cross-site navigation.
    let cookie = format!(
        "{FLIGHT_COOKIE}={}; Path=/oauth/oidc; HttpOnly; SameSite=Lax; Max-Age={}{}",
        departure.browser.as_str(),
        flights::FLIGHT_TTL.as_secs(),
        secure(&oauth.gw)
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        headers.insert(header::SET_COOKIE, value);
    }
    page::no_cache(response)
}

fn expired() -> Response {
    page::error(
        StatusCode::BAD_REQUEST,
        "this authorization request is unknown or has expired: start again from your application",
    )
}

/// `GET /oauth/oidc/callback`: the provider sends the browser back here.
pub(super) async fn callback(
    State(oauth): State<OAuth>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    request: Request,
) -> Response {
    let now = Instant::now();
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let Some(oidc) = oauth.oidc.as_ref() else {
        return page::error(StatusCode::NOT_FOUND, "no sign-in provider is configured");
    };
    let Ok(params) = single_params(query.as_deref().unwrap_or("")) else {
        return page::error(StatusCode::BAD_REQUEST, "a parameter is repeated");
    };
    let get = |name: &str| params.get(name).map(String::as_str);
    let Some(state) = get("state") else {
        return page::error(
            StatusCode::BAD_REQUEST,
            "the sign-in provider's answer carries no `state`",
        );
    };
    let flight = match oidc
        .flights
        .arrive(state, cookie(&headers, FLIGHT_COOKIE), now)
    {
        Ok(f) => f,
        Err(Arrival::Unknown) => {
            tracing::warn!(
                ?address,
                "sign-in callback with an unknown, expired or spent state"
            );
            return page::error(
                StatusCode::BAD_REQUEST,
                "this sign-in is unknown, has expired or was already used: start again from your application",
            );
        }
        Err(Arrival::OtherBrowser) => {
            tracing::warn!(
                ?address,
                "sign-in callback from another browser than began it"
            );
            return page::error(
                StatusCode::FORBIDDEN,
                "this sign-in was started in another browser: start again from your application",
            );
        }
    };
    let Some(pending) = oauth.memory.pending(&flight.request, now) else {
        return expired();
    };
    let id = flight.request.as_str();
    let refuse = |why: String, human: Option<HumanId>, subject: Option<String>| {
        let oauth = oauth.clone();
        let pending = pending.clone();
        async move {
            let attempt = Attempt {
                pending: &pending,
                address,
                subject: subject.as_deref(),
            };
            audit(&oauth, &attempt, human.as_ref(), Err(&why)).await;
            let view = authorize::sign_in_view(&oauth, id, &pending.request.client.name);
            page::sign_in(&view, Some(&why), StatusCode::UNAUTHORIZED)
        }
    };
    // RFC 9207: a provider that names itself in its answer must name the configured issuer.
    if get("iss").is_some_and(|iss| iss != oidc.provider.config.issuer) {
        let why = "the answer names another issuer than the configured provider".to_owned();
        return refuse(why, None, None).await;
    }
    if let Some(error) = get("error") {
        let why = format!("the sign-in provider refused: {error}");
        return refuse(why, None, None).await;
    }
    let Some(code) = get("code").filter(|c| !c.is_empty()) else {
        return refuse("the sign-in provider sent no code".into(), None, None).await;
    };
    let identity = match oidc
        .provider
        .sign_in(code, &flight.verifier, &flight.nonce)
        .await
    {
        Ok(identity) => identity,
        Err(e) => {
            tracing::warn!(error = %e, "sign-in at the provider refused");
            return refuse(e.to_string(), None, None).await;
        }
    };
    let subject = Some(identity.subject.clone());
    let human = match human::human_id(&identity, &oidc.provider.config.human) {
        Ok(h) => h,
        Err(why) => return refuse(why, None, subject).await,
    };
    let attempt = Attempt {
        pending: &pending,
        address,
        subject: subject.as_deref(),
    };
    audit(&oauth, &attempt, Some(&human), Ok(())).await;
    let mut response = consent::start_session(&oauth, id, &pending, human, now).await;
    let spent = format!("{FLIGHT_COOKIE}=; Path=/oauth/oidc; HttpOnly; SameSite=Lax; Max-Age=0");
    if let Ok(value) = HeaderValue::from_str(&spent) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// One sign-in at the provider, as the audit log records it.
struct Attempt<'a> {
    pending: &'a Pending,
    address: Option<IpAddr>,
    subject: Option<&'a str>,
}

/// A `sign_in` event like a local one, naming the provider and its subject.
async fn audit(
    oauth: &OAuth,
    attempt: &Attempt<'_>,
    human: Option<&HumanId>,
    outcome: Result<(), &str>,
) {
    let gw = &oauth.gw;
    let Some(oidc) = oauth.oidc.as_ref() else {
        return;
    };
    let mut event = AuditEvent::new(EventKind::SignIn, crate::now(), gw.config.node.clone());
    event.human = human.cloned();
    event.decision = Some(if outcome.is_ok() { "allow" } else { "deny" }.to_owned());
    if let Err(why) = outcome {
        event.reasons = vec![why.to_owned()];
    }
    let config = &oidc.provider.config;
    event.detail = Some(serde_json::json!({
        "client_id": attempt.pending.request.client.id,
        "address": attempt.address.map(|a| a.to_string()),
        "provider": config.name,
        "issuer": config.issuer,
        "subject": attempt.subject,
    }));
    if let Err(e) = gw.store.append(event).await {
        tracing::error!(error = %e, "cannot audit a sign-in");
    }
}
