//! The governed tool call end to end: list filtering, allowed calls, each denial cause,
//! both protocol revisions, stdio and HTTP upstreams, revocation from another process.

use crate::support::*;
use std::collections::BTreeSet;

const DENIED: i32 = -32003;

fn names(tools: &[rmcp::model::Tool]) -> BTreeSet<String> {
    tools.iter().map(|t| t.name.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_are_filtered_decided_forwarded_and_audited() {
    let gw = Gateway::start(Upstream::Stdio);
    gw.add_agent("support-bot");
    let (mandate, token) = gw.grant(
        "support-bot",
        "crm.lookup_*,crm.update_customer,crm.purge_customers",
        "write",
        &[],
    );
    let client = client_legacy(&gw.url(), &token).await.unwrap();

    let listed = names(&client.peer().list_all_tools().await.unwrap());
    assert!(
        listed.contains("crm.lookup_customer") && listed.contains("crm.update_customer"),
        "{listed:?}"
    );
    for hidden in [
        "crm.list_customers",
        "crm.send_email",
        "crm.spawn_worker",
        "crm.get_report",
        "crm.read_config",
    ] {
        assert!(
            !listed.contains(hidden),
            "{hidden} must not be listed: {listed:?}"
        );
    }

    let read = lookup(&client, "cus_002").await.unwrap();
    assert!(
        serde_json::to_string(&read.content)
            .unwrap()
            .contains("Grace")
    );
    call(
        &client,
        "crm.update_customer",
        serde_json::json!({"id": "cus_002", "plan": "enterprise"}),
    )
    .await
    .unwrap();

    let no_grant = error_of(
        call(
            &client,
            "crm.send_email",
            serde_json::json!({"to": "a@b.c", "subject": "s", "body": "b"}),
        )
        .await,
    );
    assert_eq!(no_grant.code.0, DENIED);
    assert!(
        no_grant.message.contains(&format!(
            "mandate `{mandate}` has no grant for tool `crm.send_email`"
        )),
        "{}",
        no_grant.message
    );

    let policy = error_of(
        call(
            &client,
            "crm.purge_customers",
            serde_json::json!({"confirm": true}),
        )
        .await,
    );
    assert_eq!(policy.code.0, DENIED);
    assert!(
        policy
            .message
            .contains("mandate.forbid-destructive-without-approval"),
        "{}",
        policy.message
    );
    // Nobody can approve it here (no `[approvals] approvers`), so it is refused at once.
    assert!(
        policy.message.contains("no approvers are configured"),
        "{}",
        policy.message
    );

    // A name nobody offers is answered as the SDK servers answer it: a tool result with
    // `isError`, whose text a model can read (and still a recorded denial, below).
    let unknown = call(&client, "crm.no_such_tool", serde_json::json!({}))
        .await
        .unwrap();
    assert_eq!(unknown.is_error, Some(true));
    let text = format!("{:?}", unknown.content);
    assert!(
        text.contains("no upstream offers a tool named `crm.no_such_tool`"),
        "{text}"
    );

    // Only the allowed calls reached the upstream.
    assert_eq!(
        gw.upstream_calls(),
        vec!["lookup_customer", "update_customer"]
    );

    // Every decision is in the log, naming human, agent, mandate and tool; allowed calls completed.
    let events = gw.audit();
    let decided: Vec<_> = events.iter().filter(|e| e["kind"] == "decided").collect();
    let outcomes: Vec<(&str, &str)> = decided
        .iter()
        .map(|e| (e["tool"].as_str().unwrap(), e["decision"].as_str().unwrap()))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("crm.lookup_customer", "allow"),
            ("crm.update_customer", "allow"),
            ("crm.send_email", "deny"),
            ("crm.purge_customers", "deny"),
            ("crm.no_such_tool", "deny"),
        ]
    );
    for e in &decided {
        assert_eq!(e["human"], "alice@corp");
        assert_eq!(e["agent"], "support-bot");
        assert_eq!(e["mandate"], mandate.as_str());
    }
    let completed: Vec<_> = events.iter().filter(|e| e["kind"] == "completed").collect();
    assert_eq!(completed.len(), 2);
    assert!(completed.iter().all(
        |e| e["result_digest"].as_str().is_some_and(|d| d.len() == 64)
            && e["result_size"].as_u64().unwrap() > 0
    ));
    // The decision precedes its completion in the log.
    let first_allow = events
        .iter()
        .position(|e| e["kind"] == "decided" && e["decision"] == "allow")
        .unwrap();
    let first_done = events
        .iter()
        .position(|e| e["kind"] == "completed")
        .unwrap();
    assert!(first_allow < first_done);
    assert!(gw.ok(&["audit", "verify"]).contains("verified"));

    // The same facts through the questions security teams ask.
    let denials = gw.ok(&[
        "audit",
        "query",
        "--agent",
        "support-bot",
        "--decision",
        "deny",
        "--tool",
        "crm.*",
        "--json",
    ]);
    assert_eq!(denials.lines().count(), 3, "{denials}");
    let access: serde_json::Value = serde_json::from_str(&gw.ok(&[
        "audit",
        "access",
        "--agent",
        "support-bot",
        "--since",
        "1h",
        "--json",
    ]))
    .unwrap();
    let crm = &access["upstreams"]["crm"];
    assert_eq!(crm["crm.lookup_customer"]["allowed"], 1);
    assert_eq!(crm["crm.send_email"]["denied"], 1);
    assert!(crm["crm.lookup_customer"]["bytes"].as_u64().unwrap() > 0);
    assert_eq!(access["on_behalf_of"][0], "alice@corp");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_mandate_cannot_write() {
    let gw = Gateway::start(Upstream::Stdio);
    gw.add_agent("reader");
    let (mandate, token) = gw.grant("reader", "crm.*", "read", &[]);
    let client = client_legacy(&gw.url(), &token).await.unwrap();
    let listed = names(&client.peer().list_all_tools().await.unwrap());
    assert!(
        listed.contains("crm.lookup_customer") && !listed.contains("crm.update_customer"),
        "{listed:?}"
    );
    let e = error_of(
        call(
            &client,
            "crm.update_customer",
            serde_json::json!({"id": "cus_001", "plan": "free"}),
        )
        .await,
    );
    assert!(
        e.message.contains(&format!(
            "is class `write`, above mandate `{mandate}`'s ceiling `read`"
        )),
        "{}",
        e.message
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn budget_is_spent_and_then_denied() {
    let gw = Gateway::start(Upstream::Stdio);
    gw.add_agent("bot");
    let (_, token) = gw.grant("bot", "crm.lookup_customer", "read", &["--budget", "2"]);
    let client = client_legacy(&gw.url(), &token).await.unwrap();
    for _ in 0..2 {
        lookup(&client, "cus_001").await.unwrap();
    }
    // The third call is refused: at authentication (chain no longer in force).
    assert!(lookup(&client, "cus_001").await.is_err());
    assert_eq!(gw.upstream_calls().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn revocation_from_another_process_denies_the_very_next_call() {
    let gw = Gateway::start(Upstream::Stdio);
    gw.add_agent("bot");
    let (mandate, token) = gw.grant("bot", "crm.lookup_customer", "read", &[]);
    let client = client_legacy(&gw.url(), &token).await.unwrap();
    lookup(&client, "cus_001").await.unwrap();
    gw.ok(&[
        "revoke",
        &mandate,
        "--by",
        "sec@corp",
        "--reason",
        "incident 7",
    ]);
    let err = lookup(&client, "cus_001").await.unwrap_err();
    let challenge = err.auth_challenge().unwrap_or_default().to_owned();
    assert!(
        challenge.contains("revoked by sec@corp") && challenge.contains("incident 7"),
        "{err} / {challenge}"
    );
    assert_eq!(gw.upstream_calls().len(), 1);
    let events = gw.audit();
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "mandate_revoked" && e["mandate"] == mandate.as_str())
    );
    // The refusal at the door still names what the dead mandate attempted.
    assert!(events.iter().any(|e| {
        e["kind"] == "decided"
            && e["decision"] == "deny"
            && e["tool"] == "crm.lookup_customer"
            && e["reasons"][0]
                .as_str()
                .unwrap()
                .contains("revoked by sec@corp")
    }));
}

#[tokio::test(flavor = "multi_thread")]
async fn http_upstream_and_both_protocol_revisions() {
    let gw = Gateway::start(Upstream::Http);
    gw.add_agent("bot");
    let (_, token) = gw.grant("bot", "crm.lookup_customer,crm.list_customers", "read", &[]);

    let legacy = client_legacy(&gw.url(), &token).await.unwrap();
    assert_eq!(
        names(&legacy.peer().list_all_tools().await.unwrap()),
        BTreeSet::from([
            "crm.list_customers".to_owned(),
            "crm.lookup_customer".to_owned()
        ])
    );
    lookup(&legacy, "cus_003").await.unwrap();

    let modern = client_stateless(&gw.url(), &token).await.unwrap();
    assert_eq!(
        names(&modern.peer().list_all_tools().await.unwrap()).len(),
        2
    );
    let r = lookup(&modern, "cus_003").await.unwrap();
    assert!(
        serde_json::to_string(&r.content)
            .unwrap()
            .contains("Turing")
    );
    let e = error_of(
        call(
            &modern,
            "crm.update_customer",
            serde_json::json!({"id": "cus_003"}),
        )
        .await,
    );
    assert_eq!(e.code.0, DENIED);
}

#[tokio::test(flavor = "multi_thread")]
async fn grants_without_owners_human_or_matching_tools_are_refused() {
    let gw = Gateway::start(Upstream::Stdio);
    gw.ok(&["agents", "add", "orphan"]);
    gw.add_agent("bot");
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "grant",
                "--human",
                "alice@corp",
                "--agent",
                "orphan",
                "--tools",
                "crm.*",
                "--expires",
                "1h",
                "--purpose",
                "p",
            ],
            "has no owners",
        ),
        (
            &[
                "grant",
                "--human",
                "alice@corp",
                "--agent",
                "bot",
                "--tools",
                "crm.lookup_custmer",
                "--expires",
                "1h",
                "--purpose",
                "p",
            ],
            "matches no tool",
        ),
        (
            &[
                "grant",
                "--human",
                "alice@corp",
                "--agent",
                "ghost",
                "--tools",
                "crm.*",
                "--expires",
                "1h",
                "--purpose",
                "p",
            ],
            "is not registered",
        ),
        (
            &[
                "grant",
                "--human",
                "alice@corp",
                "--agent",
                "bot",
                "--tools",
                "crm.*",
                "--expires",
                "0s",
                "--purpose",
                "p",
            ],
            "longer than zero",
        ),
    ];
    for (args, expected) in cases {
        let out = gw.mandate(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains(expected),
            "{args:?}: {stderr}"
        );
    }
    let out = gw.mandate(&[
        "grant",
        "--agent",
        "bot",
        "--tools",
        "crm.*",
        "--expires",
        "1h",
        "--purpose",
        "p",
    ]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--human"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_upstream_tool_list_refreshes_the_catalog() {
    // Late enough that the CLI steps below finish first even on a loaded machine.
    let gw = Gateway::start(Upstream::StdioWith(&["--add-tool-after-ms", "5000"]));
    gw.add_agent("bot");
    let (_, token) = gw.grant("bot", "crm.*", "read", &[]);
    let client = client_legacy(&gw.url(), &token).await.unwrap();
    assert!(!names(&client.peer().list_all_tools().await.unwrap()).contains("crm.late_report"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !names(&client.peer().list_all_tools().await.unwrap()).contains("crm.late_report") {
        assert!(
            std::time::Instant::now() < deadline,
            "the new tool never appeared"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let r = call(&client, "crm.late_report", serde_json::json!({}))
        .await
        .unwrap();
    assert!(
        serde_json::to_string(&r.content)
            .unwrap()
            .contains("nominal")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_calls_never_exceed_the_budget() {
    let gw = Gateway::start(Upstream::Stdio);
    gw.add_agent("bot");
    let (_, token) = gw.grant("bot", "crm.lookup_customer", "read", &["--budget", "3"]);
    let mut calls = Vec::new();
    for _ in 0..12 {
        let (url, token) = (gw.url(), token.clone());
        calls.push(tokio::spawn(async move {
            let client = client_stateless(&url, &token).await.ok()?;
            lookup(&client, "cus_001").await.ok()
        }));
    }
    let mut allowed = 0;
    for c in calls {
        allowed += usize::from(c.await.unwrap().is_some());
    }
    assert_eq!(allowed, 3);
    assert_eq!(gw.upstream_calls().len(), 3);
    // Whichever way a late call was refused, the log says why, truthfully.
    let denials: Vec<String> = gw
        .audit()
        .into_iter()
        .filter(|e| e["kind"] == "decided" && e["decision"] == "deny")
        .map(|e| e["reasons"][0].as_str().unwrap().to_owned())
        .collect();
    assert!(!denials.is_empty());
    assert!(
        denials
            .iter()
            .all(|r| r.contains("has spent its budget of 3 calls")),
        "{denials:?}"
    );
}
