//! What data crossed: results are labelled, credentials redacted before the agent sees
//! them, blocked labels withhold the reply, and kept arguments are redacted too.

use crate::support::*;

const FAKE_KEY: &str = "AKIAIOSFODNN7EXAMPLE";

#[tokio::test(flavor = "multi_thread")]
async fn a_leaked_credential_is_redacted_for_the_agent_and_labelled_in_the_log() {
    let gw = Gateway::start_with(
        Upstream::Stdio,
        "[audit]\nrecord_arguments = true\nkeyed_digests = true\n",
    );
    gw.add_agent("bot");
    let (_, token) = gw.grant("bot", "crm.read_config,crm.lookup_customer", "read", &[]);
    let client = client_legacy(&gw.url(), &token).await.unwrap();
    let result = call(&client, "crm.read_config", serde_json::json!({}))
        .await
        .unwrap();
    let seen = serde_json::to_string(&result.content).unwrap();
    assert!(!seen.contains(FAKE_KEY), "the agent saw the key: {seen}");
    assert!(seen.contains("[REDACTED:aws_access_key]"), "{seen}");
    assert!(
        seen.contains("ops@example.com"),
        "personal data is recorded, not redacted, by default: {seen}"
    );

    // Arguments are labelled, and kept only redacted.
    lookup(&client, FAKE_KEY).await.unwrap();

    let events = gw.audit();
    let completed = events
        .iter()
        .find(|e| e["kind"] == "completed" && e["tool"] == "crm.read_config")
        .unwrap();
    let labels: Vec<&str> = completed["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(
        labels.contains(&"credential/aws_access_key") && labels.contains(&"personal_data/email"),
        "{labels:?}"
    );
    let decided = events
        .iter()
        .find(|e| e["kind"] == "decided" && e["tool"] == "crm.lookup_customer")
        .unwrap();
    assert_eq!(decided["labels"][0], "credential/aws_access_key");
    // Keyed digests: nobody can confirm a guessed secret by hashing it.
    for e in [completed, decided] {
        let digest = e["result_digest"]
            .as_str()
            .or(e["args_digest"].as_str())
            .unwrap();
        assert!(
            digest.starts_with("hmac-sha256:") && digest.len() == 12 + 64,
            "{digest}"
        );
    }
    assert_eq!(
        decided["detail"]["arguments"]["id"],
        "[REDACTED:aws_access_key]"
    );
    let whole_log = serde_json::to_string(&events).unwrap();
    assert!(
        !whole_log.contains(FAKE_KEY),
        "the log itself never holds the key"
    );
    let found = gw.ok(&["audit", "query", "--label", "credential", "--json"]);
    // The read_config result, the lookup's arguments, and its error result echoing them.
    assert_eq!(found.lines().count(), 3, "{found}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_blocked_label_withholds_the_whole_reply() {
    let gw = Gateway::start_with(
        Upstream::Stdio,
        "[sensitivity.classes.read]\nemail = \"block\"\n",
    );
    gw.add_agent("bot");
    let (_, token) = gw.grant("bot", "crm.read_config", "read", &[]);
    let client = client_legacy(&gw.url(), &token).await.unwrap();
    let e = error_of(call(&client, "crm.read_config", serde_json::json!({})).await);
    assert_eq!(e.code.0, -32006, "{}", e.message);
    assert!(
        e.message.contains("email") && !e.message.contains("ops@example.com"),
        "{}",
        e.message
    );
    let events = gw.audit();
    let completed = events.iter().find(|e| e["kind"] == "completed").unwrap();
    assert_eq!(completed["error"], "result withheld");
}

#[test]
fn a_sensitivity_table_naming_no_label_is_refused_at_start() {
    let stderr = serve_refuses("[sensitivity.labels]\nemial = \"redact\"\n", &[]);
    assert!(stderr.contains("sensitivity.labels.emial"), "{stderr}");
}
