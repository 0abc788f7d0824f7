//! Write-ahead under fire: kill -9 the gateway under concurrent load; every call the
//! upstream saw has its decision in the log, and the log still verifies.

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_under_load_loses_no_decision_and_the_log_verifies() {
    let mut gw = Gateway::start(Upstream::Stdio);
    gw.add_agent("bot");
    let (_, token) = gw.grant("bot", "crm.lookup_customer", "read", &[]);
    let stop = tokio_util_stop();
    let mut workers = Vec::new();
    for worker in 0..16 {
        let (url, token, stop) = (gw.url(), token.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let Ok(client) = client_stateless(&url, &token).await else {
                return 0u32;
            };
            let mut done = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && done < 10_000 {
                let id = format!("cus_00{}", 1 + (worker + done) % 5);
                if lookup(&client, id).await.is_err() {
                    break;
                }
                done += 1;
            }
            done
        }));
    }
    // Let the load build, then kill the gateway without warning.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    gw.kill();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut completed = 0;
    for w in workers {
        completed += w.await.unwrap();
    }
    assert!(completed > 0, "the load never started");
    // The upstream logged each call before running it; each one must have an allow decision.
    let reached = gw.upstream_calls().len();
    let events = gw.audit();
    let allowed = events
        .iter()
        .filter(|e| {
            e["kind"] == "decided" && e["decision"] == "allow" && e["tool"] == "crm.lookup_customer"
        })
        .count();
    eprintln!(
        "{completed} calls answered, {reached} reached the upstream, {allowed} allowed decisions logged"
    );
    assert!(reached > 0);
    assert!(
        allowed >= reached,
        "{reached} calls reached the upstream but only {allowed} decisions are in the log"
    );
    assert!(gw.ok(&["audit", "verify"]).contains("verified"));
}

fn tokio_util_stop() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false))
}
