//! 403 `insufficient_scope` (RFC 6750 §3.1, MCP authorization "scope challenge"): a token from
//! the OAuth flow that calls a tool outside its granted scope is told which scope to ask for.
//!
//! Only tokens that carry a `scope` claim are challenged: their client can run the flow again
//! and a human can approve the wider scope (a new mandate). Tokens an operator granted or a
//! parent delegated have no flow to step up with; their calls stay JSON-RPC denials (-32003).

use crate::Gateway;
use crate::principal::Principal;
use crate::record;
use axum::body::{Body, Bytes};
use axum::response::{IntoResponse as _, Response};
use http::{HeaderValue, StatusCode, header};
use mandate_core::{CallTarget, Decision, ToolPattern, check_scope};

/// The tool a single JSON-RPC `tools/call` body names, if that is what it is.
fn called_tool(body: &Bytes) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Call {
        method: String,
        params: Option<Params>,
    }
    #[derive(serde::Deserialize)]
    struct Params {
        name: String,
    }
    let call: Call = serde_json::from_slice(body).ok()?;
    (call.method == "tools/call").then_some(call.params?.name)
}

/// Does any pattern of a space-separated scope reach `tool`?
fn scope_reaches(scope: &str, tool: &mandate_core::ToolName) -> bool {
    scope
        .split_whitespace()
        .filter_map(|p| ToolPattern::new(p).ok())
        .any(|p| p.matches(tool))
}

/// The challenge for `body`, if it is a call outside the token's scope to a tool this gateway
/// offers and the mandate does not reach; the refusal is audited before it is returned.
pub(crate) async fn challenge(
    gw: &Gateway,
    principal: &Principal,
    body: &Bytes,
) -> Option<Response> {
    let scope = principal.token.claims().scope.as_deref()?;
    let name = called_tool(body)?;
    let catalog = gw.catalog.snapshot();
    let tool = catalog.get(&name)?;
    if scope_reaches(scope, &tool.name) {
        return None;
    }
    let target = CallTarget {
        tool: tool.name.clone(),
        radius: tool.radius,
        arguments: None,
    };
    // The mandate decides: a scope narrower than its mandate (never issued) changes nothing.
    let reasons = check_scope(&principal.chain, &target, crate::now()).err()?;
    let decision = Decision::Deny(reasons);
    let digest = crate::pipeline::digest_arguments(&gw.digester, None);
    let mut event = record::decided(gw, principal, &name, Some(tool), &digest, &decision);
    event.detail = Some(serde_json::json!({ "answered": "403 insufficient_scope" }));
    if let Err(e) = gw.store.append(event).await {
        tracing::error!(error = %e, "cannot audit a scope challenge");
        return Some(StatusCode::INTERNAL_SERVER_ERROR.into_response());
    }
    let wanted = format!("{scope} {name}");
    Some(response(gw, &wanted, &name))
}

fn response(gw: &Gateway, wanted: &str, tool: &str) -> Response {
    let description = format!("`{tool}` is outside the scope a human granted to this token");
    let challenge = format!(
        "Bearer realm=\"mandate\", error=\"insufficient_scope\", scope=\"{wanted}\", \
         resource_metadata=\"{}{}\", error_description=\"{description}\"",
        gw.config.public_url,
        crate::oauth::metadata::RESOURCE_METADATA_PATH,
    );
    let body = serde_json::json!({
        "error": "insufficient_scope",
        "scope": wanted,
        "detail": description,
    });
    let mut response = (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// Reads a request body within `limit`, to look at it and hand it on unchanged.
pub(crate) async fn buffered(body: Body, limit: usize) -> Result<Bytes, Response> {
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| StatusCode::PAYLOAD_TOO_LARGE.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_single_tools_call_names_a_tool() {
        let call = Bytes::from_static(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"crm.x","arguments":{}}}"#,
        );
        assert_eq!(called_tool(&call).as_deref(), Some("crm.x"));
        let list = Bytes::from_static(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#);
        assert_eq!(called_tool(&list), None);
        assert_eq!(called_tool(&Bytes::from_static(b"[1,2]")), None);
        assert_eq!(called_tool(&Bytes::from_static(b"not json")), None);
    }

    #[test]
    fn a_scope_reaches_the_tools_its_patterns_match() {
        let tool = mandate_core::ToolName::new("crm.lookup_customer").unwrap();
        assert!(scope_reaches("crm.lookup_customer", &tool));
        assert!(scope_reaches("billing.* crm.lookup_*", &tool));
        assert!(!scope_reaches("crm.update_customer", &tool));
        assert!(!scope_reaches("", &tool));
    }
}
