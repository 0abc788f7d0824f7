//! `mandate audit export`: OCSF records for calls, grants and leaked secrets, and JSON
//! Lines that rebuild the log exactly, so an export verifies without the gateway.

use crate::support::*;
use mandate_audit::{StoredEvent, from_jsonl, verify};

fn lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_holds_calls_grants_and_findings_and_verifies_offline() {
    let gw = Gateway::start(Upstream::Stdio);
    gw.add_agent("bot");
    let (_, token) = gw.grant("bot", "crm.lookup_customer,crm.read_config", "read", &[]);
    let client = client_legacy(&gw.url(), &token).await.unwrap();
    lookup(&client, "cus_001").await.unwrap();
    error_of(
        call(
            &client,
            "crm.send_email",
            serde_json::json!({"to": "a@b.c", "subject": "s", "body": "b"}),
        )
        .await,
    );
    // The demo upstream's config holds a fake AWS key: a credential label.
    call(&client, "crm.read_config", serde_json::json!({}))
        .await
        .unwrap();
    let log_size = gw.audit().len();

    // OCSF: API Activity for each call, Authorize Session for the grant, a finding per label.
    let ocsf = lines(&gw.ok(&["audit", "export", "--format", "ocsf"]));
    let classes: std::collections::BTreeSet<u64> = ocsf
        .iter()
        .map(|r| r["class_uid"].as_u64().unwrap())
        .collect();
    for class in [6003, 3003, 2006] {
        assert!(classes.contains(&class), "no class {class} in {classes:?}");
    }
    for record in &ocsf {
        assert_eq!(record["metadata"]["version"], "1.8.0");
        let (class, activity) = (&record["class_uid"], &record["activity_id"]);
        assert_eq!(
            record["type_uid"].as_u64().unwrap(),
            class.as_u64().unwrap() * 100 + activity.as_u64().unwrap()
        );
        assert!(record["time"].as_i64().unwrap() > 1_000_000_000_000);
    }
    let denied = ocsf
        .iter()
        .find(|r| r["class_uid"] == 6003 && r["status_id"] == 2)
        .expect("the denied call");
    assert_eq!(denied["resources"][0]["uid"], "crm.send_email");
    assert!(
        denied["status_detail"]
            .as_str()
            .unwrap()
            .contains("no grant for tool `crm.send_email`")
    );
    let grant = ocsf.iter().find(|r| r["class_uid"] == 3003).unwrap();
    assert_eq!(grant["user"]["name"], "bot");
    assert_eq!(grant["actor"]["user"]["name"], "alice@corp");
    let leak = ocsf
        .iter()
        .find(|r| r["class_uid"] == 2006 && r["data_security"]["category_id"] == 6)
        .expect("a credential finding");
    assert_eq!(leak["resources"][0]["uid"], "crm.read_config");
    assert_eq!(leak["data_security"]["detection_pattern"], "aws_access_key");
    assert!(
        !serde_json::to_string(&ocsf)
            .unwrap()
            .contains("AKIAIOSFODNN7EXAMPLE"),
        "the export never holds the secret"
    );

    // JSON Lines: one line per entry, seq 1..n, and the chain recomputes from the lines alone.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.jsonl");
    gw.ok(&["audit", "export", "--output", file.to_str().unwrap()]);
    let jsonl = lines(&std::fs::read_to_string(&file).unwrap());
    assert!(jsonl.len() >= log_size, "{} < {log_size}", jsonl.len());
    let seqs: Vec<u64> = jsonl.iter().map(|l| l["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=jsonl.len() as u64).collect::<Vec<_>>());
    let entries: Vec<StoredEvent> = jsonl.iter().map(|l| from_jsonl(l).unwrap()).collect();
    let head = entries.last().map(|e| (e.seq, e.hash));
    let report = verify(entries, head).expect("the exported chain verifies");
    assert_eq!(report.events, jsonl.len() as u64);

    // `--after` continues where an earlier export stopped; stdout and the file agree.
    let rest = lines(&gw.ok(&["audit", "export", "--after", "2"]));
    assert_eq!(rest.first().unwrap()["seq"], 3);
    assert!(rest.iter().zip(&jsonl[2..]).all(|(a, b)| a == b));
    assert!(gw.ok(&["audit", "export", "--since", "1h"]).lines().count() >= log_size);
    let bad = gw.mandate(&["audit", "export", "--format", "csv"]);
    assert!(!bad.status.success());
    drop(client);
}
