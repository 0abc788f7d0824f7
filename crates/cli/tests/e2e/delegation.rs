//! Delegation from the CLI: a narrower child for a worker, widening refused and audited,
//! the tree drawn, and revoking the parent ending the worker's access.

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_delegated_worker_is_bounded_by_and_dies_with_its_parent() {
    let gw = Gateway::start(Upstream::Stdio);
    gw.add_agent("orchestrator");
    gw.add_agent("worker-7");
    let (parent, _) = gw.grant(
        "orchestrator",
        "crm.lookup_*,crm.update_customer",
        "write",
        &["--budget", "10"],
    );

    // Widening in any dimension is refused, naming the part, and audited.
    let widen: [(&[&str], &str); 3] = [
        (&["--tools", "crm.*"], "tools: `crm.*`"),
        (
            &["--tools", "crm.lookup_*", "--max-class", "orchestrate"],
            "ceiling",
        ),
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
    call(
        &client,
        "crm.lookup_customer",
        serde_json::json!({"id": "cus_001"}),
    )
    .await
    .unwrap();
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
    let err = call(
        &client,
        "crm.lookup_customer",
        serde_json::json!({"id": "cus_001"}),
    )
    .await
    .unwrap_err();
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
