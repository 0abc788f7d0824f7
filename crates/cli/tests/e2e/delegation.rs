//! Delegation from the CLI: a narrower child for a worker, widening refused and audited,
//! the tree drawn, and revoking the parent ending the worker's access.

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_delegated_worker_is_bounded_by_and_dies_with_its_parent() {
    let gw = Gateway::start(Upstream::Stdio);
    gw.add_agent("orchestrator");
    gw.add_agent("worker-7");
    gw.add_agent("clerk");
    let (clerk, _) = gw.grant("clerk", "crm.lookup_*", "write", &[]);
    let (parent, _) = gw.grant(
        "orchestrator",
        "crm.lookup_*,crm.update_customer",
        "orchestrate",
        &["--budget", "10"],
    );

    // Widening in any dimension is refused, naming the part, and audited.
    // Handing on is an `orchestrate` action: a write-ceiling mandate cannot.
    let out = gw.mandate(&[
        "delegate",
        "--from",
        &clerk,
        "--agent",
        "worker-7",
        "--tools",
        "crm.lookup_*",
        "--expires",
        "5m",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("needs `orchestrate`"),
        "{stderr}"
    );
    let widen: [(&[&str], &str); 2] = [
        (&["--tools", "crm.*"], "tools: `crm.*`"),
        (&["--tools", "crm.lookup_*", "--budget", "11"], "budget"),
    ];
    for (extra, expected) in widen {
        let mut args = vec![
            "delegate",
            "--from",
            &parent,
            "--agent",
            "worker-7",
            "--expires",
            "30m",
        ];
        args.extend_from_slice(extra);
        let out = gw.mandate(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains(expected),
            "{extra:?}: {stderr}"
        );
    }
    let refused = gw
        .audit()
        .into_iter()
        .filter(|e| e["kind"] == "delegation_refused")
        .count();
    assert_eq!(refused, 3);

    let out: serde_json::Value = serde_json::from_str(&gw.ok(&[
        "delegate",
        "--from",
        &parent,
        "--agent",
        "worker-7",
        "--tools",
        "crm.lookup_*,crm.update_customer",
        "--expires",
        "30m",
        "--json",
    ]))
    .unwrap();
    let (child, token) = (
        out["mandate"]["id"].as_str().unwrap().to_owned(),
        out["token"].as_str().unwrap().to_owned(),
    );
    let client = client_legacy(&gw.url(), &token).await.unwrap();
    lookup(&client, "cus_001").await.unwrap();
    let e = error_of(
        call(
            &client,
            "crm.update_customer",
            serde_json::json!({"id": "cus_001"}),
        )
        .await,
    );
    assert!(e.message.contains("ceiling"), "{}", e.message);

    // Spending at the leaf counts at the parent too.
    let tree = gw.ok(&["mandates", "tree"]);
    assert!(
        tree.contains(&parent) && tree.contains(&child) && tree.contains("└── "),
        "{tree}"
    );
    assert!(tree.contains("1/10 uses"), "{tree}");

    // The decided event carries the whole chain.
    let events = gw.audit();
    let allowed = events
        .iter()
        .find(|e| e["kind"] == "decided" && e["decision"] == "allow")
        .unwrap();
    let chain: Vec<&str> = allowed["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["agent"].as_str().unwrap())
        .collect();
    assert_eq!(chain, vec!["orchestrator", "worker-7"]);
    assert_eq!(allowed["human"], "alice@corp");

    gw.ok(&[
        "revoke",
        &parent,
        "--by",
        "sec@corp",
        "--reason",
        "orchestrator compromised",
    ]);
    let err = lookup(&client, "cus_001").await.unwrap_err();
    let challenge = err.auth_challenge().unwrap_or_default().to_owned();
    assert!(
        challenge.contains(&format!(
            "ancestor mandate `{parent}` was revoked by sec@corp"
        )),
        "{challenge}"
    );
    assert!(
        gw.ok(&["mandates", "tree"])
            .contains("dead: an ancestor is revoked")
    );
}

async fn delegate(
    client: &Client,
    args: serde_json::Value,
) -> Result<serde_json::Value, rmcp::ServiceError> {
    let result = call(client, "mandate.delegate", args).await?;
    Ok(result.structured_content.expect("structured result"))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_orchestrator_delegates_in_session_and_revocation_cascades() {
    let gw = Gateway::start(Upstream::Stdio);
    gw.add_agent("orchestrator");
    gw.add_agent("worker-7");
    let (parent, token) = gw.grant("orchestrator", "crm.*", "orchestrate", &[]);
    let orchestrator = client_legacy(&gw.url(), &token).await.unwrap();
    let listed: Vec<String> = orchestrator
        .peer()
        .list_all_tools()
        .await
        .unwrap()
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    assert!(
        listed.contains(&"mandate.delegate".to_owned()),
        "{listed:?}"
    );

    let child = delegate(&orchestrator, serde_json::json!({
        "agent": "worker-7", "tools": ["crm.lookup_*"], "expires_in": 600, "purpose": "look up ticket 9"
    })).await.unwrap();
    let worker_token = child["token"].as_str().unwrap().to_owned();
    let child_id = child["mandate"].as_str().unwrap().to_owned();
    assert_eq!(child["depth"], 1);

    // The worker works within its child mandate, and cannot hand anything on (read ceiling).
    let worker = client_legacy(&gw.url(), &worker_token).await.unwrap();
    let worker_tools: Vec<String> = worker
        .peer()
        .list_all_tools()
        .await
        .unwrap()
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    assert_eq!(worker_tools, vec!["crm.lookup_customer"]);
    lookup(&worker, "cus_004").await.unwrap();
    let back = error_of(delegate(&worker, serde_json::json!({
        "agent": "orchestrator", "tools": ["crm.*"], "max_class": "orchestrate", "expires_in": 60, "purpose": "widen back"
    })).await.map(|_| rmcp::model::CallToolResult::success(vec![])));
    assert_eq!(back.code.0, -32003, "{}", back.message);

    // Widening from the orchestrator is refused, naming the part.
    let wide = error_of(delegate(&orchestrator, serde_json::json!({
        "agent": "worker-7", "tools": ["crm.lookup_*"], "expires_in": 999_999, "purpose": "too long"
    })).await.map(|_| rmcp::model::CallToolResult::success(vec![])));
    assert!(wide.message.contains("expiry"), "{}", wide.message);

    let events = gw.audit();
    let delegated = events
        .iter()
        .find(|e| e["kind"] == "mandate_delegated")
        .unwrap();
    let chain: Vec<&str> = delegated["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["agent"].as_str().unwrap())
        .collect();
    assert_eq!(chain, vec!["orchestrator", "worker-7"]);
    assert!(events.iter().any(|e| e["kind"] == "delegation_refused"));

    gw.ok(&["revoke", &parent, "--by", "sec@corp", "--reason", "done"]);
    let err = lookup(&worker, "cus_004").await.unwrap_err();
    assert!(
        err.auth_challenge()
            .unwrap_or_default()
            .contains("ancestor mandate"),
        "{err}"
    );
    // A fresh token for the dead child is refused too.
    let out = gw.mandate(&["token", "--mandate", &child_id]);
    assert!(!out.status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_depth_limit_stops_further_hand_offs() {
    let gw = Gateway::start_with(Upstream::Stdio, "max_delegation_depth = 1");
    gw.add_agent("orchestrator");
    gw.add_agent("sub-orchestrator");
    gw.add_agent("worker");
    let (_, token) = gw.grant("orchestrator", "crm.*", "orchestrate", &[]);
    let top = client_legacy(&gw.url(), &token).await.unwrap();
    let mid = delegate(&top, serde_json::json!({
        "agent": "sub-orchestrator", "tools": ["crm.*"], "max_class": "orchestrate", "expires_in": 600, "purpose": "split work"
    })).await.unwrap();
    let mid_client = client_legacy(&gw.url(), mid["token"].as_str().unwrap())
        .await
        .unwrap();
    let listed: Vec<String> = mid_client
        .peer()
        .list_all_tools()
        .await
        .unwrap()
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    assert!(
        !listed.contains(&"mandate.delegate".to_owned()),
        "no depth left, so not offered: {listed:?}"
    );
    let e = error_of(
        delegate(
            &mid_client,
            serde_json::json!({
                "agent": "worker", "tools": ["crm.lookup_*"], "expires_in": 60, "purpose": "deeper"
            }),
        )
        .await
        .map(|_| rmcp::model::CallToolResult::success(vec![])),
    );
    assert_eq!(e.code.0, -32003, "{}", e.message);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_ancestor_ends_its_descendants() {
    let gw = Gateway::start(Upstream::Stdio);
    gw.add_agent("orchestrator");
    gw.add_agent("worker-7");
    // Generous lifetimes: each CLI step starts a process, slow on a loaded machine.
    let granted = std::time::Instant::now();
    let out: serde_json::Value = serde_json::from_str(&gw.ok(&[
        "grant",
        "--human",
        "alice@corp",
        "--agent",
        "orchestrator",
        "--tools",
        "crm.*",
        "--max-class",
        "orchestrate",
        "--expires",
        "8s",
        "--purpose",
        "short",
        "--json",
    ]))
    .unwrap();
    let parent = out["mandate"]["id"].as_str().unwrap().to_owned();
    let child: serde_json::Value = serde_json::from_str(&gw.ok(&[
        "delegate",
        "--from",
        &parent,
        "--agent",
        "worker-7",
        "--tools",
        "crm.lookup_*",
        "--expires",
        "6s",
        "--json",
    ]))
    .unwrap();
    let worker = client_legacy(&gw.url(), child["token"].as_str().unwrap())
        .await
        .unwrap();
    lookup(&worker, "cus_001").await.unwrap();
    let past_expiry = std::time::Duration::from_millis(8300).saturating_sub(granted.elapsed());
    tokio::time::sleep(past_expiry).await;
    let err = lookup(&worker, "cus_001").await.unwrap_err();
    // Tokens never outlive their chain, so the worker's token has died with the parent.
    let challenge = err.auth_challenge().unwrap_or_default().to_owned();
    assert!(challenge.contains("expired"), "{challenge}");
    // And no fresh token is issued under the dead ancestor; the refusal names it.
    let out = gw.mandate(&[
        "token",
        "--mandate",
        child["mandate"]["id"].as_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains(&format!("ancestor mandate `{parent}` expired")),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn argument_constraints_bind_calls_and_children_cannot_loosen_them() {
    let gw = Gateway::start(Upstream::Stdio);
    gw.add_agent("orchestrator");
    gw.add_agent("worker-7");
    let (parent, token) = gw.grant(
        "orchestrator",
        "crm.lookup_customer",
        "orchestrate",
        &["--arg", "crm.lookup_customer:id in cus_001,cus_002"],
    );
    let client = client_legacy(&gw.url(), &token).await.unwrap();
    lookup(&client, "cus_002").await.unwrap();
    let e = error_of(lookup(&client, "cus_005").await);
    assert!(
        e.message
            .contains("argument `id` of tool `crm.lookup_customer` breaks mandate"),
        "{}",
        e.message
    );
    let e = error_of(call(&client, "crm.lookup_customer", serde_json::json!({})).await);
    assert!(
        e.message.contains("breaks mandate"),
        "a missing argument is refused too: {}",
        e.message
    );
    assert_eq!(gw.upstream_calls(), vec!["lookup_customer"]);

    // A child may narrow the constraint, never loosen it.
    let loose = gw.mandate(&[
        "delegate",
        "--from",
        &parent,
        "--agent",
        "worker-7",
        "--tools",
        "crm.lookup_customer",
        "--arg",
        "crm.lookup_customer:id prefix cus_",
        "--expires",
        "5m",
    ]);
    let stderr = String::from_utf8_lossy(&loose.stderr);
    assert!(
        !loose.status.success() && stderr.contains("constraints:"),
        "{stderr}"
    );
    let child: serde_json::Value = serde_json::from_str(&gw.ok(&[
        "delegate",
        "--from",
        &parent,
        "--agent",
        "worker-7",
        "--tools",
        "crm.lookup_customer",
        "--arg",
        "crm.lookup_customer:id in cus_001",
        "--expires",
        "5m",
        "--json",
    ]))
    .unwrap();
    let worker = client_legacy(&gw.url(), child["token"].as_str().unwrap())
        .await
        .unwrap();
    lookup(&worker, "cus_001").await.unwrap();
    // cus_002 passes the parent's constraint but not the child's own.
    let e = error_of(lookup(&worker, "cus_002").await);
    assert!(e.message.contains("breaks mandate"), "{}", e.message);
}
