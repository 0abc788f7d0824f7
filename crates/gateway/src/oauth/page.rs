//! The authorization server's pages: server-rendered HTML, no scripts, every value
//! escaped, never cached, never framed.

use crate::catalog::CatalogTool;
use axum::response::{Html, IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use mandate_core::{Agent, ToolClass};
use std::fmt::Write as _;
use std::sync::Arc;

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#222}\
h1{font-size:1.4rem}fieldset{border:1px solid #ccc;border-radius:6px;margin:1rem 0}\
.destructive{color:#b00;font-weight:bold}.error{background:#fee;border:1px solid #c00;padding:.5rem}\
.muted{color:#666;font-size:.9rem}label{display:block;margin:.3rem 0}button{margin-right:1rem;padding:.4rem 1rem}";

/// Escapes text for HTML content and attribute values.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// Pages and redirects of the flow are never cached.
pub(super) fn no_cache(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let text = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <meta name=\"viewport\" content=\"width=device-width\"><style>{STYLE}</style></head>\
         <body>{body}</body></html>",
        escape(title)
    );
    let mut response = (status, Html(text)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    no_cache(response)
}

/// A dead end: shown instead of redirecting anywhere.
pub(super) fn error(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<h1>Mandate cannot continue</h1><p class=\"error\">{}</p>\
         <p class=\"muted\">Nothing was granted. Close this page and start again from your application.</p>",
        escape(message)
    );
    html(status, "Mandate: error", &body)
}

/// What the sign-in page shows.
pub(super) struct SignInView<'a> {
    /// The pending request's id.
    pub(super) request: &'a str,
    /// The client's name.
    pub(super) client: &'a str,
    /// The external OpenID Connect provider's name, when one is configured.
    pub(super) provider: Option<&'a str>,
}

/// The sign-in form, and the external provider's button when there is one.
pub(super) fn sign_in(
    view: &SignInView<'_>,
    problem: Option<&str>,
    status: StatusCode,
) -> Response {
    let problem = problem
        .map(|p| format!("<p class=\"error\">{}</p>", escape(p)))
        .unwrap_or_default();
    let provider = view
        .provider
        .map(|name| {
            format!(
                "<form method=\"post\" action=\"/oauth/oidc/start\">\
                 <input type=\"hidden\" name=\"request\" value=\"{request}\">\
                 <button type=\"submit\">Sign in with {name}</button></form><p class=\"muted\">or with a Mandate account:</p>",
                request = escape(view.request),
                name = escape(name),
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<h1>Sign in to Mandate</h1><p><b>{client}</b> asks to act for you through this gateway.</p>{problem}{provider}\
         <form method=\"post\" action=\"/oauth/authorize\">\
         <input type=\"hidden\" name=\"request\" value=\"{request}\">\
         <input type=\"hidden\" name=\"step\" value=\"sign_in\">\
         <label>User <input name=\"username\" autocomplete=\"username\" required></label>\
         <label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>\
         <button type=\"submit\">Sign in</button></form>",
        client = escape(view.client),
        request = escape(view.request),
    );
    html(status, "Mandate: sign in", &body)
}

/// What the consent page shows.
pub(super) struct ConsentView<'a> {
    pub(super) request: &'a str,
    pub(super) csrf: &'a str,
    pub(super) human: &'a str,
    pub(super) client: &'a str,
    pub(super) agents: &'a [Agent],
    pub(super) tools: &'a [Arc<CatalogTool>],
    /// (seconds, label), longest last: the default.
    pub(super) lifetimes: &'a [(u64, String)],
    pub(super) purpose: &'a str,
    pub(super) problem: Option<&'a str>,
}

/// The consent page: the agent and its owners, the tools grouped by blast radius, the
/// expiry and the purpose. The human may untick tools and shorten the expiry.
pub(super) fn consent(view: &ConsentView<'_>, status: StatusCode) -> Response {
    let mut body = format!(
        "<h1>Approve an agent</h1><p>Signed in as <b>{}</b>. <b>{}</b> asks for a mandate: \
         what it may do on your behalf, recorded in your name.</p>",
        escape(view.human),
        escape(view.client)
    );
    if let Some(problem) = view.problem {
        let _ = write!(body, "<p class=\"error\">{}</p>", escape(problem));
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/oauth/authorize\">\
         <input type=\"hidden\" name=\"request\" value=\"{}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        escape(view.request),
        escape(view.csrf)
    );
    agents(&mut body, view.agents);
    tools(&mut body, view.tools);
    body.push_str("<fieldset><legend>Until</legend><label>Expires after <select name=\"expires\">");
    let last = view.lifetimes.len().saturating_sub(1);
    for (i, (secs, label)) in view.lifetimes.iter().enumerate() {
        let selected = if i == last { " selected" } else { "" };
        let _ = write!(
            body,
            "<option value=\"{secs}\"{selected}>{}</option>",
            escape(label)
        );
    }
    let _ = write!(
        body,
        "</select></label></fieldset><fieldset><legend>Why</legend>\
         <label>Purpose <input name=\"purpose\" size=\"50\" maxlength=\"200\" required value=\"{}\"></label></fieldset>\
         <button type=\"submit\" name=\"step\" value=\"approve\">Approve</button>\
         <button type=\"submit\" name=\"step\" value=\"deny\">Deny</button></form>",
        escape(view.purpose)
    );
    html(status, "Mandate: approve an agent", &body)
}

fn agents(body: &mut String, agents: &[Agent]) {
    body.push_str("<fieldset><legend>Agent</legend>");
    if agents.is_empty() {
        body.push_str("<p class=\"error\">No agent is registered: an operator must add one (<code>mandate agents add</code>).</p>");
    }
    let first = agents.iter().position(|a| !a.owners.is_empty());
    for (i, agent) in agents.iter().enumerate() {
        let owners: Vec<String> = agent
            .owners
            .iter()
            .map(|o| format!("{}: {}", o.role, escape(o.human.as_str())))
            .collect();
        let (disabled, owners) = if owners.is_empty() {
            (
                " disabled",
                "no owners: cannot be granted anything".to_owned(),
            )
        } else {
            ("", format!("owners: {}", owners.join(", ")))
        };
        let checked = if Some(i) == first { " checked" } else { "" };
        let _ = write!(
            body,
            "<label><input type=\"radio\" name=\"agent\" value=\"{id}\"{checked}{disabled}> <b>{name}</b> ({id}) \
             <span class=\"muted\">{owners}</span></label>",
            id = escape(agent.id.as_str()),
            name = escape(&agent.name),
        );
    }
    body.push_str("</fieldset>");
}

fn tools(body: &mut String, tools: &[Arc<CatalogTool>]) {
    for class in ToolClass::ALL {
        let group: Vec<&Arc<CatalogTool>> =
            tools.iter().filter(|t| t.radius.class == class).collect();
        if group.is_empty() {
            continue;
        }
        let legend = match class {
            ToolClass::Read => "Read: looks, changes nothing",
            ToolClass::Write => "Write: changes things",
            ToolClass::Orchestrate => {
                "Orchestrate: starts or instructs other agents, and may hand on parts of this mandate"
            }
        };
        let _ = write!(body, "<fieldset><legend>{legend}</legend>");
        for tool in group {
            let mut flags = String::new();
            if tool.radius.destructive {
                flags.push_str(" <span class=\"destructive\">destructive</span>");
            }
            if tool.radius.open_world {
                flags.push_str(" <span class=\"muted\">reaches outside the organisation</span>");
            }
            let description = tool.definition.description.as_deref().unwrap_or("");
            let _ = write!(
                body,
                "<label><input type=\"checkbox\" name=\"tool\" value=\"{name}\" checked> <code>{name}</code>{flags} \
                 <span class=\"muted\">{description}</span></label>",
                name = escape(tool.name.as_str()),
                description = escape(description),
            );
        }
        body.push_str("</fieldset>");
    }
}
