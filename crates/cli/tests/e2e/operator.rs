//! The operator's surfaces: organisation policies from a folder, the catalog listing,
//! bad configs refused at start, and `mandate demo` itself.

use crate::support::*;
use std::process::Command;

#[tokio::test(flavor = "multi_thread")]
async fn an_operator_policy_forbids_a_tool_and_is_named_in_the_denial() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    std::fs::write(
        policies.join("crm.cedar"),
        r#"@id("acme.no-bulk-listing")
forbid (principal, action == Mandate::Action::"call_tool", resource == Mandate::Tool::"crm.list_customers");
@id("acme.workers-read-only")
forbid (principal, action == Mandate::Action::"call_tool", resource) when { context.depth >= 1 && resource.class_rank >= 1 };"#,
    )
    .unwrap();
    let gw = Gateway::start_with(
        Upstream::Stdio,
        &format!("policy_dir = {:?}", policies.display().to_string()),
    );
    gw.add_agent("bot");
    gw.add_agent("worker");
    let (parent, token) = gw.grant(
        "bot",
        "crm.lookup_customer,crm.list_customers,crm.update_customer",
        "orchestrate",
        &[],
    );
    let client = client_legacy(&gw.url(), &token).await.unwrap();
    let listed: Vec<String> = client
        .peer()
        .list_all_tools()
        .await
        .unwrap()
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    assert!(
        !listed.contains(&"crm.list_customers".to_owned()),
        "a tool the organisation forbids is not listed: {listed:?}"
    );
    let e = error_of(call(&client, "crm.list_customers", serde_json::json!({})).await);
    assert!(e.message.contains("acme.no-bulk-listing"), "{}", e.message);
    call(
        &client,
        "crm.update_customer",
        serde_json::json!({"id": "cus_001", "plan": "pro"}),
    )
    .await
    .unwrap();

    // The chain is visible to policy: a worker at depth 1 may not write.
    let child: serde_json::Value = serde_json::from_str(&gw.ok(&[
        "delegate",
        "--from",
        &parent,
        "--agent",
        "worker",
        "--tools",
        "crm.update_customer",
        "--max-class",
        "write",
        "--expires",
        "10m",
        "--json",
    ]))
    .unwrap();
    let worker = client_legacy(&gw.url(), child["token"].as_str().unwrap())
        .await
        .unwrap();
    let e = error_of(
        call(
            &worker,
            "crm.update_customer",
            serde_json::json!({"id": "cus_001", "plan": "free"}),
        )
        .await,
    );
    assert!(
        e.message.contains("acme.workers-read-only"),
        "{}",
        e.message
    );
}

#[test]
fn an_invalid_operator_policy_stops_the_gateway_at_start() {
    let stderr = serve_refuses(
        &format!(
            "listen = \"127.0.0.1:{}\"\npolicy_dir = \"policies\"\n",
            free_port()
        ),
        &[(
            "policies/bad.cedar",
            "forbid (principal, action, resource) when { resource.no_such_attribute };",
        )],
    );
    assert!(stderr.contains("bad.cedar"), "{stderr}");
}

#[test]
fn a_bad_config_is_refused_naming_the_key() {
    let stderr = serve_refuses("[[upstream]]\nname = \"crm\"\nurl = \"ftp://nope\"\n", &[]);
    assert!(stderr.contains("`upstream[0].url`"), "{stderr}");
}

#[test]
fn tools_prints_the_catalog_by_blast_radius_with_sources() {
    let gw = Gateway::start(Upstream::Stdio);
    let text = gw.ok(&["tools"]);
    let read = text.find("READ").unwrap();
    let write = text.find("WRITE").unwrap();
    let orchestrate = text.find("ORCHESTRATE").unwrap();
    assert!(read < write && write < orchestrate, "{text}");
    assert!(
        text.contains("crm.lookup_customer") && text.contains("upstream annotations"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("crm.purge_customers") && l.contains("destructive")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("crm.spawn_worker") && l.contains("operator override")),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&gw.ok(&["tools", "--json"])).unwrap();
    let spawn = json
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "crm.spawn_worker")
        .unwrap();
    assert_eq!(spawn["class"], "orchestrate");
    assert_eq!(spawn["source"], "operator");
}

#[test]
fn the_demo_runs_end_to_end_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["demo", "--dir"])
        .arg(dir.path().join("demo"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "crm.lookup_customer (an allowed read): ALLOWED",
        "crm.update_customer (an allowed write): ALLOWED",
        "crm.send_email (a tool outside the mandate): DENIED",
        "crm.purge_customers held for approval apr_",
        "crm.purge_customers (a destructive tool (organisation policy)): DENIED",
        "was denied by sec@corp: no purges during the demo",
        "(a read after revocation): DENIED",
        "audit log verified",
    ] {
        assert!(
            stdout.contains(expected),
            "missing `{expected}` in:\n{stdout}"
        );
    }
    // The demo's store is left behind to explore, and verifies on its own.
    let verify = Command::new(BIN)
        .args(["audit", "verify", "--data-dir"])
        .arg(dir.path().join("demo"))
        .output()
        .unwrap();
    assert!(verify.status.success());
}
