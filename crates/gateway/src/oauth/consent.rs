//! The consent page, shown once a human has signed in (a session starts), and what the
//! answer does: approval grants a root mandate in the human's name (`Gateway::grant`,
//! audited) and sends the client a single-use code; refusal is audited, `access_denied`.

use super::authorize::{self, AuthorizationRequest, BackToClient, field};
use super::memory::{IssuedCode, Pending, Session};
use super::{OAuth, page};
use crate::governance::GrantRequest;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use mandate_audit::{AuditEvent, EventKind};
use mandate_core::{AgentId, HumanId, ToolClass, ToolPattern};
use std::time::{Duration, Instant};

/// The expiries offered below the configured maximum.
const LIFETIMES: [(u64, &str); 6] = [
    (15 * 60, "15 minutes"),
    (3600, "1 hour"),
    (8 * 3600, "8 hours"),
    (24 * 3600, "1 day"),
    (7 * 86_400, "7 days"),
    (30 * 86_400, "30 days"),
];
/// The longest purpose kept.
const MAX_PURPOSE_CHARS: usize = 200;

/// The expiries the human may pick, shortest first; the longest is `oauth.max_lifetime`.
fn lifetimes(max: Duration) -> Vec<(u64, String)> {
    let max = max.as_secs();
    let mut choices: Vec<(u64, String)> = LIFETIMES
        .iter()
        .filter(|(secs, _)| *secs < max)
        .map(|(secs, label)| (*secs, (*label).to_owned()))
        .collect();
    let label = LIFETIMES
        .iter()
        .find(|(secs, _)| *secs == max)
        .map_or_else(|| format!("{max} seconds"), |(_, l)| (*l).to_owned());
    choices.push((max, label));
    choices
}

/// Renders the consent page for a pending request.
pub(super) async fn page(
    oauth: &OAuth,
    request: &AuthorizationRequest,
    id: &str,
    session: &Session,
    problem: Option<&str>,
) -> Response {
    let gw = &oauth.gw;
    let agents = match gw.store.agents().await {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "cannot list agents for the consent page");
            return page::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the gateway cannot list agents right now",
            );
        }
    };
    let tools: Vec<_> = request
        .tools
        .iter()
        .filter_map(|t| gw.offerable(t.as_str()))
        .collect();
    let purpose = format!("work for {}", request.client.name);
    let view = page::ConsentView {
        request: id,
        csrf: &session.csrf,
        human: session.human.as_str(),
        client: &request.client.name,
        agents: &agents,
        tools: &tools,
        lifetimes: &lifetimes(gw.config.oauth.max_lifetime),
        purpose: &purpose,
        problem,
    };
    let status = if problem.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    page::consent(&view, status)
}

/// A human proved who they are (password or external provider): a session starts, bound
/// to this request, and the consent page is shown with the session cookie.
pub(super) async fn start_session(
    oauth: &OAuth,
    id: &str,
    pending: &Pending,
    human: HumanId,
    now: Instant,
) -> Response {
    let gw = &oauth.gw;
    let Ok(cookie) = oauth.memory.sign_in(human, now) else {
        return page::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many sign-ins at once; try again soon",
        );
    };
    oauth.memory.bind(id, cookie.digest());
    let Some((_, session)) = oauth.memory.session(cookie.as_str(), now) else {
        return page::error(StatusCode::INTERNAL_SERVER_ERROR, "the session was lost");
    };
    let mut response = page(oauth, &pending.request, id, &session, None).await;
    let secure = if gw.config.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let max_age = super::memory::SESSION_TTL.as_secs();
    let cookie = format!(
        "{}={}; Path=/oauth; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}",
        authorize::COOKIE,
        cookie.as_str()
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// What the human approved, read from the form and checked against what was offered.
fn choice(
    oauth: &OAuth,
    request: &AuthorizationRequest,
    session: &Session,
    form: &[(String, String)],
) -> Result<GrantRequest, String> {
    let gw = &oauth.gw;
    let agent = field(form, "agent").ok_or("choose the agent this client acts as")?;
    let agent = AgentId::new(agent).map_err(|e| e.to_string())?;
    let mut tools = Vec::new();
    let mut ceiling = ToolClass::Read;
    for (_, name) in form.iter().filter(|(k, _)| k == "tool") {
        // INVARIANT: the human can approve only tools the request offered.
        let offered = request.tools.iter().find(|t| t.as_str() == name);
        let tool = offered
            .and_then(|t| gw.offerable(t.as_str()))
            .ok_or_else(|| format!("tool `{name}` was not offered"))?;
        ceiling = ceiling.max(tool.radius.class);
        tools.push(ToolPattern::new(tool.name.as_str()).map_err(|e| e.to_string())?);
    }
    if tools.is_empty() {
        return Err("tick at least one tool, or deny".into());
    }
    let allowed = lifetimes(gw.config.oauth.max_lifetime);
    let lasts = field(form, "expires")
        .and_then(|e| e.parse::<u64>().ok())
        .filter(|secs| allowed.iter().any(|(a, _)| a == secs))
        .ok_or("choose one of the offered expiries")?;
    let purpose: String = field(form, "purpose")
        .unwrap_or_default()
        .trim()
        .chars()
        .take(MAX_PURPOSE_CHARS)
        .collect();
    if purpose.is_empty() {
        return Err("say what the mandate is for".into());
    }
    Ok(GrantRequest {
        human: session.human.clone(),
        agent,
        tools,
        ceiling,
        constraints: Vec::new(),
        // The consent page grants no approval rules of its own; the organisation's
        // policies (destructive tools wait for a human by default) still apply.
        approvals: Vec::new(),
        lasts: Duration::from_secs(lasts),
        purpose,
        budget: None,
    })
}

/// Approve: the mandate is granted (and audited) now; the client gets a code for it.
pub(super) async fn approve(
    oauth: &OAuth,
    id: &str,
    request: &AuthorizationRequest,
    session: &Session,
    form: &[(String, String)],
) -> Response {
    let gw = &oauth.gw;
    let grant = match choice(oauth, request, session, form) {
        Ok(g) => g,
        Err(problem) => return page(oauth, request, id, session, Some(&problem)).await,
    };
    let scope: Vec<&str> = grant.tools.iter().map(ToolPattern::as_str).collect();
    let scope = scope.join(" ");
    let mandate = match gw.grant(grant).await {
        Ok((mandate, _token)) => mandate,
        Err(e) => {
            use crate::governance::GovernanceError as G;
            return match e {
                G::UnknownAgent(_)
                | G::NoOwners(_)
                | G::MatchesNothing(_)
                | G::NoTools
                | G::ExpiryPassed => page(oauth, request, id, session, Some(&e.to_string())).await,
                other => {
                    tracing::error!(error = %other, "cannot grant a consented mandate");
                    page::error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "the gateway could not record the mandate",
                    )
                }
            };
        }
    };
    tracing::info!(human = %mandate.root_human, agent = %mandate.agent, mandate = %mandate.id, client = %request.client.id, "consent approved");
    let code = IssuedCode {
        client_id: request.client.id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        challenge: request.challenge.clone(),
        mandate: mandate.id,
        scope,
    };
    let Ok(code) = oauth.memory.issue_code(code, Instant::now()) else {
        return page::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many sign-ins at once; try again soon",
        );
    };
    oauth.memory.finish(id);
    BackToClient {
        redirect_uri: request.redirect_uri.clone(),
        params: vec![
            ("code", code.as_str().to_owned()),
            ("state", request.state.clone()),
        ],
    }
    .into_response(gw)
}

/// Deny: audited, and the client hears `access_denied`.
pub(super) async fn deny(
    oauth: &OAuth,
    id: &str,
    request: &AuthorizationRequest,
    session: &Session,
) -> Response {
    let gw = &oauth.gw;
    oauth.memory.finish(id);
    let mut event = AuditEvent::new(
        EventKind::ConsentRefused,
        crate::now(),
        gw.config.node.clone(),
    );
    event.human = Some(session.human.clone());
    event.decision = Some("deny".to_owned());
    event.reasons = vec!["the human declined on the consent page".to_owned()];
    event.detail = Some(
        serde_json::json!({ "client_id": request.client.id, "client_name": request.client.name }),
    );
    if let Err(e) = gw.store.append(event).await {
        tracing::error!(error = %e, "cannot audit a declined consent");
    }
    BackToClient {
        redirect_uri: request.redirect_uri.clone(),
        params: vec![
            ("error", "access_denied".to_owned()),
            ("error_description", "the human declined".to_owned()),
            ("state", request.state.clone()),
        ],
    }
    .into_response(gw)
}
