//! An upstream that hangs or dies: its callers get a clear error (once its timeout passes,
//! or at once while its breaker is open), and calls to other upstreams go on meanwhile.

use crate::support::*;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn a_hung_upstream_fails_fast_and_others_are_unaffected() {
    let slow = format!(
        "[[upstream]]\nname = \"slow\"\ncommand = [{BIN:?}, \"demo-upstream\", \"--delay-ms\", \"30000\"]\ntimeout = \"1s\"\n"
    );
    let gw = Gateway::start_with(Upstream::Stdio, &slow);
    gw.add_agent("bot");
    let (_, token) = gw.grant(
        "bot",
        "crm.lookup_customer,slow.lookup_customer",
        "read",
        &[],
    );
    let client = std::sync::Arc::new(client_legacy(&gw.url(), &token).await.unwrap());

    let started = Instant::now();
    let hung = {
        let client = std::sync::Arc::clone(&client);
        tokio::spawn(async move {
            let result = call(
                &client,
                "slow.lookup_customer",
                serde_json::json!({"id": "cus_001"}),
            )
            .await;
            (result, started.elapsed())
        })
    };
    // While the slow call waits, the other upstream answers.
    for id in ["cus_001", "cus_002", "cus_003"] {
        let result = lookup(&client, id).await.unwrap();
        assert_ne!(result.is_error, Some(true));
    }
    let (result, took) = hung.await.unwrap();
    let error = error_of(result);
    assert_eq!(error.code.0, -32004, "{error:?}");
    assert!(error.message.contains("slow"), "{}", error.message);
    // Bounded by the 1 s timeout, far below the upstream's 30 s delay.
    assert!(took < Duration::from_secs(15), "took {took:?}");

    // The decision was recorded before forwarding, and the failure after.
    let audit = gw.audit();
    let completed: Vec<_> = audit
        .iter()
        .filter(|e| e["kind"] == "completed" && e["tool"] == "slow.lookup_customer")
        .collect();
    assert_eq!(completed.len(), 1, "{audit:?}");
    assert!(
        completed[0]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("in time"),
        "{:?}",
        completed[0]
    );
}

#[test]
fn an_upstream_timeout_must_be_a_duration() {
    let err = serve_refuses(
        "[[upstream]]\nname = \"x\"\ncommand = [\"true\"]\ntimeout = \"soon\"\n",
        &[],
    );
    assert!(err.contains("upstream[0].timeout"), "{err}");
}

/// One stateless MCP 2026-07-28 `tools/call`, as raw HTTP.
async fn raw_lookup(gw: &Gateway, token: &str) -> (u16, Option<String>, String) {
    let body = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {
            "name": "crm.lookup_customer",
            "arguments": {"id": "cus_001"},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": {"name": "overload-test", "version": "1"}
            }
        }
    });
    let (status, headers, text) = post_raw(
        &gw.url(),
        Some(token),
        body.to_string(),
        &[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "crm.lookup_customer"),
        ],
    )
    .await;
    let retry = headers
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry, text)
}

#[tokio::test(flavor = "multi_thread")]
async fn overload_is_refused_at_once_and_the_gateway_recovers() {
    let gw = Gateway::start_with(
        Upstream::StdioWith(&["--delay-ms", "1500"]),
        "max_in_flight = 2\n",
    );
    gw.add_agent("bot");
    let (_, token) = gw.grant("bot", "crm.lookup_customer", "read", &[]);
    let gw = std::sync::Arc::new(gw);
    let before = gw.audit().len();
    // Five times the limit, at once.
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let (gw, token) = (std::sync::Arc::clone(&gw), token.clone());
            tokio::spawn(async move { raw_lookup(&gw, &token).await })
        })
        .collect();
    let mut served = 0;
    let mut refused = 0;
    for call in calls {
        let (status, retry, text) = call.await.unwrap();
        match status {
            200 => {
                assert!(text.contains("\"result\""), "{text}");
                served += 1;
            }
            503 => {
                assert_eq!(retry.as_deref(), Some("1"));
                assert!(text.contains("overloaded"), "{text}");
                refused += 1;
            }
            other => panic!("unexpected {other}: {text}"),
        }
    }
    assert!(
        served >= 1 && refused >= 1,
        "served {served}, refused {refused}"
    );
    // Every served call was decided and recorded; refused ones never reached a decision.
    let audit = gw.audit();
    let allowed = audit[before..]
        .iter()
        .filter(|e| e["kind"] == "decided" && e["decision"] == "allow")
        .count();
    assert_eq!(allowed, served);
    // Load gone, service back.
    let (status, _, text) = raw_lookup(&gw, &token).await;
    assert_eq!(status, 200, "{text}");
}

/// A `mandate demo-upstream` over HTTP on `port`, up and answering.
pub fn demo_over_http(port: u16) -> std::process::Child {
    let child = std::process::Command::new(BIN)
        .args(["demo-upstream", "--http", &format!("127.0.0.1:{port}")])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the demo upstream did not come up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_upstream_is_refused_at_once_while_others_serve_and_is_used_again_once_back() {
    let port = free_port();
    let mut flaky = KillOnDrop(demo_over_http(port));
    let extra = format!(
        "[[upstream]]\nname = \"flaky\"\nurl = \"http://127.0.0.1:{port}/mcp\"\nbreaker_failures = 2\nbreaker_retry = \"1s\"\nbreaker_retry_max = \"1s\"\n"
    );
    let gw = Gateway::start_with(Upstream::Stdio, &extra);
    gw.add_agent("bot");
    let (_, token) = gw.grant(
        "bot",
        "crm.lookup_customer,flaky.lookup_customer",
        "read",
        &[],
    );
    let client = client_legacy(&gw.url(), &token).await.unwrap();
    let flaky_lookup = || {
        call(
            &client,
            "flaky.lookup_customer",
            serde_json::json!({"id": "cus_001"}),
        )
    };
    assert_ne!(flaky_lookup().await.unwrap().is_error, Some(true));

    flaky.0.kill().unwrap();
    flaky.0.wait().unwrap();
    // The first calls find the port refused; after two failures in a row the breaker opens
    // and calls are refused without contacting the upstream.
    let mut tried = 0;
    let refusal = loop {
        let error = error_of(flaky_lookup().await);
        assert_eq!(error.code.0, -32004, "{error:?}");
        assert!(error.message.contains("`flaky`"), "{}", error.message);
        if error.message.contains("not trying it") {
            break error;
        }
        tried += 1;
        assert!(
            tried <= 2,
            "still tried after {tried} failures: {}",
            error.message
        );
    };
    assert!(
        refusal.message.contains("tried again in") || refusal.message.contains("tried again now"),
        "says when it is retried: {}",
        refusal.message
    );
    let data = refusal.data.unwrap();
    assert_eq!(data["upstream"], "flaky");
    assert!(data["retry_after_ms"].as_u64().unwrap() <= 1000, "{data}");
    // Meanwhile the other upstream serves as ever.
    for id in ["cus_001", "cus_002", "cus_003"] {
        assert_ne!(lookup(&client, id).await.unwrap().is_error, Some(true));
        let error = error_of(flaky_lookup().await);
        assert_eq!(error.code.0, -32004, "{error:?}");
    }

    // Back on the same port: within a few retry intervals a probe gets through, and then
    // every call does.
    drop(flaky);
    let _flaky = KillOnDrop(demo_over_http(port));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match flaky_lookup().await {
            Ok(result) => {
                assert_ne!(result.is_error, Some(true));
                break;
            }
            Err(e) => {
                assert_eq!(error_of(Err(e)).code.0, -32004);
                assert!(Instant::now() < deadline, "the upstream was never retried");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    for _ in 0..3 {
        assert_ne!(flaky_lookup().await.unwrap().is_error, Some(true));
    }

    // Every call let through was decided and completed, the refused ones as not tried.
    let audit = gw.audit();
    let of_flaky = |kind: &str| {
        audit
            .iter()
            .filter(|e| e["kind"] == kind && e["tool"] == "flaky.lookup_customer")
            .collect::<Vec<_>>()
    };
    let (decided, completed) = (of_flaky("decided"), of_flaky("completed"));
    assert_eq!(decided.len(), completed.len(), "{audit:?}");
    assert!(decided.iter().all(|e| e["decision"] == "allow"));
    let not_tried = completed
        .iter()
        .filter(|e| {
            e["error"]
                .as_str()
                .unwrap_or_default()
                .contains("breaker open")
        })
        .count();
    assert!(
        not_tried >= 4,
        "{not_tried} refusals recorded: {completed:?}"
    );
}

/// Kills a child process when the test ends, however it ends.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
