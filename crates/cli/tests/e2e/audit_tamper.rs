//! Tampering with the audit log in SQL is caught by `mandate audit verify`, which names the entry.

use crate::support::*;

/// A gateway with a handful of audited calls, stopped so SQL edits land on a quiet file.
async fn gateway_with_history() -> Gateway {
    let mut gw = Gateway::start(Upstream::Stdio);
    gw.add_agent("bot");
    let (_, token) = gw.grant("bot", "crm.lookup_customer", "read", &[]);
    let client = client_legacy(&gw.url(), &token).await.unwrap();
    for id in ["cus_001", "cus_002", "cus_003"] {
        lookup(&client, id).await.unwrap();
    }
    gw.kill();
    assert!(gw.ok(&["audit", "verify"]).contains("verified"));
    gw
}

fn tamper(gw: &Gateway, sql: &str) {
    let db = rusqlite::Connection::open(gw.data_dir().join("mandate.db")).unwrap();
    db.execute_batch(sql).unwrap();
}

fn verify_fails(gw: &Gateway, needle: &str) {
    let out = gw.mandate(&["audit", "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "verify must fail: {stdout}");
    assert!(
        stdout.contains("TAMPERED") && stdout.contains(needle),
        "expected `{needle}` in: {stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_row_is_caught() {
    let gw = gateway_with_history().await;
    let seq = gw.first_seq_mentioning("alice@corp");
    tamper(
        &gw,
        &format!(
            "UPDATE audit_events SET canonical = replace(canonical, 'alice@corp', 'mallory@corp') WHERE seq = {seq};"
        ),
    );
    verify_fails(&gw, &seq.to_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_row_is_caught() {
    let gw = gateway_with_history().await;
    tamper(&gw, "DELETE FROM audit_events WHERE seq = 3;");
    verify_fails(&gw, "3");
}

#[tokio::test(flavor = "multi_thread")]
async fn reordered_rows_are_caught() {
    let gw = gateway_with_history().await;
    tamper(
        &gw,
        "UPDATE audit_events SET seq = 1000000 WHERE seq = 3; UPDATE audit_events SET seq = 3 WHERE seq = 4; UPDATE audit_events SET seq = 4 WHERE seq = 1000000;",
    );
    verify_fails(&gw, "3");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_tail_is_caught() {
    let gw = gateway_with_history().await;
    tamper(
        &gw,
        "DELETE FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events);",
    );
    verify_fails(&gw, "");
}
