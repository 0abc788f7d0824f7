//! Signed checkpoints: the gateway signs its Merkle root; proofs check offline with only
//! the public key; a cut end is caught even when the stored head was rewritten too.

use crate::support::*;

const AUDIT: &str = "[audit]\ncheckpoint_every = 1\ncheckpoint_interval = \"1s\"\ncheckpoint_file = \"published.note\"\n";

/// A gateway with a few audited calls, waited on until a checkpoint covers the whole log.
async fn checkpointed() -> (Gateway, u64) {
    let gw = Gateway::start_with(Upstream::Stdio, AUDIT);
    gw.add_agent("bot");
    let (_, token) = gw.grant("bot", "crm.lookup_customer", "read", &[]);
    let client = client_legacy(&gw.url(), &token).await.unwrap();
    for id in ["cus_001", "cus_002"] {
        lookup(&client, id).await.unwrap();
    }
    let head = gw.audit().last().unwrap()["seq"].as_u64().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !gw
        .mandate(&["audit", "prove", &head.to_string()])
        .status
        .success()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint covered #{head}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    (gw, head)
}

fn vkey(gw: &Gateway) -> String {
    let keys: serde_json::Value =
        serde_json::from_str(&gw.ok(&["keys", "show", "--json"])).unwrap();
    keys["audit_checkpoint"]["vkey"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn proofs_check_offline_and_forgeries_do_not() {
    let (gw, head) = checkpointed().await;
    let key = vkey(&gw);
    let proof_file = gw.dir.path().join("proof.json");
    let granted = gw.first_seq_mentioning("alice@corp").to_string();
    std::fs::write(&proof_file, gw.ok(&["audit", "prove", &granted])).unwrap();
    let check = |file: &std::path::Path, key: &str| {
        std::process::Command::new(BIN)
            .args(["audit", "check-proof"])
            .arg(file)
            .args(["--key", key])
            .output()
            .unwrap()
    };
    let out = check(&proof_file, &key);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("proof verified: event #{granted}"))
    );

    // An edited event no longer proves.
    let forged = gw.dir.path().join("forged.json");
    std::fs::write(
        &forged,
        std::fs::read_to_string(&proof_file)
            .unwrap()
            .replace("alice@corp", "mallory@corp"),
    )
    .unwrap();
    let out = check(&forged, &key);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // Another gateway's key does not vouch for this log.
    let other = Gateway::start(Upstream::Stdio);
    let out = check(&proof_file, &vkey(&other));
    assert_eq!(out.status.code(), Some(2));

    // The checkpoint published outside the store matches, and the log only grew.
    let verified = gw.ok(&[
        "audit",
        "verify",
        "--checkpoint",
        gw.dir.path().join("published.note").to_str().unwrap(),
    ]);
    assert!(
        verified.contains("signed checkpoint(s) match, and so does the published one"),
        "{verified}"
    );
    let consistency: serde_json::Value =
        serde_json::from_str(&gw.ok(&["audit", "consistency", "2", &head.to_string()])).unwrap();
    assert_eq!(consistency["new_size"], head);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cut_end_with_a_rewritten_head_is_caught_by_the_signed_checkpoint() {
    let (mut gw, head) = checkpointed().await;
    gw.kill();
    // Cut the last event AND make the stored head agree, as a careful intruder would:
    // the hash chain alone now looks whole.
    let db = rusqlite::Connection::open(gw.data_dir().join("mandate.db")).unwrap();
    db.execute_batch(&format!(
        "DELETE FROM audit_events WHERE seq = {head};
         UPDATE audit_head SET seq = {prev}, hash = (SELECT hash FROM audit_events WHERE seq = {prev});",
        prev = head - 1
    ))
    .unwrap();
    let out = gw.mandate(&["audit", "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("events were removed from the end") && !stdout.contains("hash chain:"),
        "{stdout}"
    );
}

/// A witness outside the gateway: an HTTP endpoint that keeps every note posted to it.
async fn witness() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::sync::{Arc, Mutex};
    let notes: Arc<Mutex<Vec<String>>> = Arc::default();
    let kept = Arc::clone(&notes);
    let app = axum::Router::new().route(
        "/witness",
        axum::routing::post(move |body: String| {
            let kept = Arc::clone(&kept);
            async move {
                kept.lock().unwrap().push(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/witness", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, notes)
}

#[tokio::test(flavor = "multi_thread")]
async fn checkpoints_are_posted_to_a_witness_that_can_check_them() {
    let (url, notes) = witness().await;
    let gw = Gateway::start_with(
        Upstream::Stdio,
        &format!(
            "[audit]\ncheckpoint_every = 1\ncheckpoint_interval = \"1s\"\ncheckpoint_url = \"{url}\"\n"
        ),
    );
    gw.add_agent("bot");
    let (_, token) = gw.grant("bot", "crm.lookup_customer", "read", &[]);
    let client = client_legacy(&gw.url(), &token).await.unwrap();
    lookup(&client, "cus_001").await.unwrap();
    let head = gw.audit().last().unwrap()["seq"].as_u64().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let note = loop {
        let latest = notes.lock().unwrap().last().cloned();
        if let Some(note) = latest.filter(|n| n.lines().nth(1) == Some(&head.to_string())) {
            break note;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no note for #{head} posted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    // What the witness holds checks against the log, as a published file would.
    let file = gw.dir.path().join("witnessed.note");
    std::fs::write(&file, &note).unwrap();
    let verified = gw.ok(&["audit", "verify", "--checkpoint", file.to_str().unwrap()]);
    assert!(verified.contains("checkpoint"), "{verified}");
    // And a note the witness holds with its root changed does not.
    let mut lines: Vec<String> = note.lines().map(str::to_owned).collect();
    lines[2] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_owned();
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let out = gw.mandate(&["audit", "verify", "--checkpoint", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_checkpoint_url_that_is_not_http_is_refused_at_start() {
    let err = serve_refuses("[audit]\ncheckpoint_url = \"file:///tmp/x\"\n", &[]);
    assert!(err.contains("audit.checkpoint_url"), "{err}");
}
