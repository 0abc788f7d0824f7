//! Human approval end to end: a real client's call is held, `mandate approvals` in another
//! process decides it, and the gateway sees the decision. Approve, deny, time out, an
//! approval replayed for other arguments or twice, deciders without the role, and an
//! approval that cannot revive a revoked mandate.

use crate::support::*;
use rmcp::ClientHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, NumberOrString, ProgressNotificationParam,
    ProgressToken, RequestMetaObject,
};
use rmcp::service::NotificationContext;
use rmcp::{RoleClient, ServiceExt};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const DENIED: i32 = -32003;
const TOOLS: &str = "crm.lookup_*,crm.update_customer,crm.purge_customers";
const FAKE_KEY: &str = "AKIAIOSFODNN7EXAMPLE";

/// A gateway whose approvers are sec@corp and alice@corp (who grants, so may not approve
/// her own agent's calls), with `extra` lines in `[approvals]`; and a mandate from alice.
fn start(extra: &str) -> (Gateway, String, String) {
    let gw = Gateway::start_with(
        Upstream::Stdio,
        &format!("[approvals]\napprovers = [\"sec@corp\", \"alice@corp\"]\n{extra}"),
    );
    gw.add_agent("support-bot");
    let (mandate, token) = gw.grant("support-bot", TOOLS, "write", &[]);
    (gw, mandate, token)
}

/// The pending requests, once there is one (bounded wait).
fn pending(gw: &Gateway) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let list: Vec<serde_json::Value> =
            serde_json::from_str(&gw.ok(&["approvals", "list", "--json"])).unwrap();
        if !list.is_empty() {
            return list;
        }
        assert!(Instant::now() < deadline, "no approval request appeared");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn refused(gw: &Gateway, args: &[&str]) -> String {
    let out = gw.mandate(args);
    assert!(!out.status.success(), "mandate {args:?} should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn purge(
    client: Client,
) -> tokio::task::JoinHandle<Result<rmcp::model::CallToolResult, rmcp::ServiceError>> {
    tokio::spawn(async move {
        call(
            &client,
            "crm.purge_customers",
            serde_json::json!({ "confirm": true, "note": FAKE_KEY }),
        )
        .await
    })
}

fn kinds(events: &[serde_json::Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

/// Records the progress notifications a held call sends.
#[derive(Clone, Default)]
struct Progress(Arc<Mutex<Vec<String>>>);

impl ClientHandler for Progress {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.0
            .lock()
            .unwrap()
            .push(params.message.unwrap_or_default());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_call_goes_ahead_once_an_approver_approves_it_and_only_an_approver_can() {
    let (gw, mandate, token) = start("");
    let config =
        rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(
            gw.url(),
        )
        .auth_header(token);
    let transport = rmcp::transport::StreamableHttpClientTransport::with_client(
        ::reqwest::Client::new(),
        config,
    );
    let progress = Progress::default();
    let client = progress.clone().serve(transport).await.unwrap();
    let mut params = CallToolRequestParams::new("crm.purge_customers");
    params.arguments = serde_json::json!({ "confirm": true, "note": FAKE_KEY })
        .as_object()
        .cloned();
    let mut meta = RequestMetaObject::default();
    meta.set_progress_token(ProgressToken(NumberOrString::String("held-1".into())));
    params.meta = Some(meta);
    let held = tokio::spawn(async move { client.peer().call_tool(params).await });

    // The request shows the agent, the chain up to the human, the tool, its class, and
    // the arguments with the secret redacted.
    let list = pending(&gw);
    assert_eq!(list.len(), 1);
    let request = &list[0];
    let id = request["id"].as_str().unwrap().to_owned();
    assert_eq!(request["agent"], "support-bot");
    assert_eq!(request["human"], "alice@corp");
    assert_eq!(request["chain"][0]["mandate"], mandate.as_str());
    assert_eq!(request["tool"], "crm.purge_customers");
    assert_eq!(request["radius"]["class"], "write");
    assert_eq!(request["radius"]["destructive"], true);
    assert_eq!(request["arguments"]["confirm"], true);
    let shown = gw.ok(&["approvals", "show", &id]);
    assert!(!shown.contains(FAKE_KEY), "{shown}");
    assert!(shown.contains("[REDACTED:"), "{shown}");
    assert!(shown.contains("alice@corp → support-bot"), "{shown}");
    assert!(
        shown.contains("mandate.forbid-destructive-without-approval"),
        "{shown}"
    );

    // Someone without the role, and the agent's own human, may not decide.
    let stranger = refused(&gw, &["approvals", "approve", &id, "--by", "bob@corp"]);
    assert!(
        stranger.contains("`bob@corp` is not an approver"),
        "{stranger}"
    );
    let own = refused(&gw, &["approvals", "approve", &id, "--by", "alice@corp"]);
    assert!(own.contains("is the human this agent acts for"), "{own}");
    assert!(!held.is_finished(), "the call must still be waiting");
    assert!(gw.upstream_calls().is_empty());

    gw.ok(&[
        "approvals",
        "approve",
        &id,
        "--by",
        "sec@corp",
        "--reason",
        "ticket 4521",
    ]);
    let result = held.await.unwrap().unwrap();
    assert!(
        serde_json::to_string(&result.content)
            .unwrap()
            .contains("deleted"),
        "{result:?}"
    );
    assert_eq!(gw.upstream_calls(), vec!["purge_customers"]);
    assert!(
        progress.0.lock().unwrap().iter().any(|m| m.contains(&id)),
        "the held call told its client what it waits for"
    );
    // Spent: it can be decided no more.
    let again = refused(&gw, &["approvals", "approve", &id, "--by", "sec@corp"]);
    assert!(again.contains("is spent, not pending"), "{again}");

    let events = gw.audit();
    let approval_kinds: Vec<String> = kinds(&events)
        .into_iter()
        .filter(|k| k.starts_with("approval_"))
        .collect();
    assert_eq!(
        approval_kinds,
        [
            "approval_refused",
            "approval_refused",
            "approval_granted",
            "approval_refused"
        ]
    );
    let decided: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["kind"] == "decided" && e["tool"] == "crm.purge_customers")
        .collect();
    assert_eq!(decided.len(), 2);
    assert_eq!(decided[0]["decision"], "needs_approval");
    assert_eq!(decided[0]["detail"]["approval"], id.as_str());
    assert!(decided[0]["labels"].to_string().contains("aws_access_key"));
    assert_eq!(decided[1]["decision"], "allow");
    assert_eq!(decided[1]["detail"]["approval"], id.as_str());
    let granted = events
        .iter()
        .find(|e| e["kind"] == "approval_granted")
        .unwrap();
    assert_eq!(granted["detail"]["by"], "sec@corp");
    assert_eq!(granted["reasons"][0], "ticket 4521");
    assert!(!serde_json::to_string(&events).unwrap().contains(FAKE_KEY));
    gw.ok(&["audit", "verify"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_denied_call_is_refused_with_the_approvers_reason() {
    let (gw, _mandate, token) = start("");
    let held = purge(client_legacy(&gw.url(), &token).await.unwrap());
    let id = pending(&gw)[0]["id"].as_str().unwrap().to_owned();
    gw.ok(&[
        "approvals",
        "deny",
        &id,
        "--by",
        "sec@corp",
        "--reason",
        "change freeze",
    ]);
    let error = error_of(held.await.unwrap());
    assert_eq!(error.code.0, DENIED);
    assert!(
        error.message.contains(&format!(
            "approval `{id}` was denied by sec@corp: change freeze"
        )),
        "{}",
        error.message
    );
    assert!(gw.upstream_calls().is_empty());
    let kinds = kinds(&gw.audit());
    assert!(kinds.contains(&"approval_denied".to_owned()), "{kinds:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_nobody_approves_times_out_and_cannot_be_approved_later() {
    let (gw, _mandate, token) = start("timeout = \"1s\"\n");
    let client = client_legacy(&gw.url(), &token).await.unwrap();
    let error = error_of(
        call(
            &client,
            "crm.purge_customers",
            serde_json::json!({ "confirm": true }),
        )
        .await,
    );
    assert_eq!(error.code.0, DENIED);
    assert!(
        error.message.contains("expired before a human approved it"),
        "{}",
        error.message
    );
    let all: Vec<serde_json::Value> =
        serde_json::from_str(&gw.ok(&["approvals", "list", "--all", "--json"])).unwrap();
    assert_eq!(all[0]["status"]["status"], "expired");
    let id = all[0]["id"].as_str().unwrap();
    let late = refused(&gw, &["approvals", "approve", id, "--by", "sec@corp"]);
    assert!(late.contains("is expired, not pending"), "{late}");
    assert!(gw.upstream_calls().is_empty());
    let kinds = kinds(&gw.audit());
    assert!(kinds.contains(&"approval_expired".to_owned()), "{kinds:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn stateless_clients_retry_with_the_approval_id_which_fits_only_its_own_call_once() {
    let gw = Gateway::start_with(Upstream::Stdio, "[approvals]\napprovers = [\"sec@corp\"]\n");
    gw.add_agent("support-bot");
    let bad = refused(
        &gw,
        &[
            "grant",
            "--human",
            "alice@corp",
            "--agent",
            "support-bot",
            "--tools",
            TOOLS,
            "--expires",
            "1h",
            "--purpose",
            "t",
            "--approve",
            "refund",
        ],
    );
    assert!(
        bad.contains("--approve: `refund` is not an approval rule"),
        "{bad}"
    );
    // A mandate-level rule: this mandate's updates need a human.
    let (_mandate, token) = gw.grant(
        "support-bot",
        TOOLS,
        "write",
        &["--approve", "crm.update_customer"],
    );
    let client = client_stateless(&gw.url(), &token).await.unwrap();
    let update = |plan: &str, state: Option<&str>| {
        let mut params = CallToolRequestParams::new("crm.update_customer");
        params.arguments = serde_json::json!({ "id": "cus_002", "plan": plan })
            .as_object()
            .cloned();
        params.request_state = state.map(str::to_owned);
        params
    };
    // Reads need no one.
    lookup(&client, "cus_002").await.unwrap();
    let first = client
        .peer()
        .call_tool_once(update("enterprise", None))
        .await
        .unwrap();
    let CallToolResponse::InputRequired(first) = first else {
        panic!("expected input_required, got {first:?}");
    };
    let id = first.request_state.clone().unwrap();
    assert!(id.starts_with("apr_"), "{id}");
    let meta = &first.meta.as_ref().unwrap().0["io.mandate/approval"];
    assert_eq!(meta["status"], "pending");
    assert!(
        meta["rules"][0]
            .as_str()
            .unwrap()
            .contains("requires approval for `crm.update_customer`")
    );
    // Retrying before anyone decided: still waiting, and no second request.
    let early = client
        .peer()
        .call_tool_once(update("enterprise", Some(&id)))
        .await
        .unwrap();
    assert!(
        matches!(early, CallToolResponse::InputRequired(_)),
        "{early:?}"
    );
    assert_eq!(pending(&gw).len(), 1);

    gw.ok(&["approvals", "approve", &id, "--by", "sec@corp"]);
    // The approval is bound to the arguments: other ones may not use it.
    let changed = error_of_once(
        client
            .peer()
            .call_tool_once(update("free", Some(&id)))
            .await,
    );
    assert_eq!(changed.code.0, DENIED);
    assert!(
        changed.message.contains("it was given for another call"),
        "{}",
        changed.message
    );
    let done = client
        .peer()
        .call_tool_once(update("enterprise", Some(&id)))
        .await
        .unwrap();
    assert!(
        matches!(done, CallToolResponse::Complete(ref r) if r.is_error != Some(true)),
        "{done:?}"
    );
    // Spent: replaying the very same call is refused.
    let replay = error_of_once(
        client
            .peer()
            .call_tool_once(update("enterprise", Some(&id)))
            .await,
    );
    assert!(
        replay.message.contains("it was already spent on a call"),
        "{}",
        replay.message
    );
    // A forged state is refused too.
    let forged = error_of_once(
        client
            .peer()
            .call_tool_once(update("enterprise", Some("apr_x")))
            .await,
    );
    assert!(
        forged.message.contains("it is not an approval id"),
        "{}",
        forged.message
    );
    assert_eq!(
        gw.upstream_calls(),
        vec!["lookup_customer", "update_customer"]
    );
}

fn error_of_once(result: Result<CallToolResponse, rmcp::ServiceError>) -> rmcp::ErrorData {
    match result {
        Err(rmcp::ServiceError::McpError(e)) => e,
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approval_does_not_revive_a_revoked_mandate() {
    let (gw, mandate, token) = start("");
    let held = purge(client_legacy(&gw.url(), &token).await.unwrap());
    let id = pending(&gw)[0]["id"].as_str().unwrap().to_owned();
    gw.ok(&[
        "revoke",
        &mandate,
        "--by",
        "sec@corp",
        "--reason",
        "incident 7",
    ]);
    // The human's decision is recorded, but the record step refuses the dead mandate.
    gw.ok(&["approvals", "approve", &id, "--by", "sec@corp"]);
    let error = error_of(held.await.unwrap());
    assert_eq!(error.code.0, DENIED);
    assert!(error.message.contains("revoked"), "{}", error.message);
    assert!(gw.upstream_calls().is_empty());
    let events = gw.audit();
    let last = events
        .iter()
        .rev()
        .find(|e| e["kind"] == "decided")
        .unwrap();
    assert_eq!(last["decision"], "deny");
    gw.ok(&["audit", "verify"]);
}
