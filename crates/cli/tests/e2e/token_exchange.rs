//! RFC 8693 token exchange at `POST /oauth/token`: an orchestrator trades its token and a
//! worker's for a narrower child; widening, policy, bad tokens and wrong targets are refused.

use crate::oauth_support::form;
use crate::support::*;
use base64::Engine as _;

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";

/// The parameters of an exchange by `subject` for `actor`, to which `extra` is appended.
fn params<'a>(
    subject: &'a str,
    actor: &'a str,
    scope: &'a str,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut pairs = vec![
        ("grant_type", TOKEN_EXCHANGE),
        ("subject_token", subject),
        ("subject_token_type", ACCESS_TOKEN),
        ("actor_token", actor),
        ("actor_token_type", ACCESS_TOKEN),
        ("scope", scope),
    ];
    pairs.extend_from_slice(extra);
    pairs
}

/// Posts `body` to the token endpoint; returns (status, cache-control, JSON body).
async fn post_token(
    gw: &Gateway,
    content_type: &str,
    body: String,
) -> (u16, String, serde_json::Value) {
    let resp = ::reqwest::Client::new()
        .post(format!("{}/oauth/token", gw.base()))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let cache = resp
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = resp.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, cache, json)
}

async fn exchange(gw: &Gateway, pairs: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let (status, cache, json) =
        post_token(gw, "application/x-www-form-urlencoded", form(pairs)).await;
    assert_eq!(cache, "no-store", "{json}");
    (status, json)
}

/// Asserts an RFC 6749 §5.2 error; returns its description.
async fn refused(gw: &Gateway, pairs: &[(&str, &str)], code: &str) -> String {
    let (status, json) = exchange(gw, pairs).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (400, Some(code)),
        "{json}"
    );
    json["error_description"].as_str().unwrap().to_owned()
}

/// The JWT's claims, unverified.
fn claims(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn count(gw: &Gateway, kind: &str) -> usize {
    gw.audit().iter().filter(|e| e["kind"] == kind).count()
}

/// An orchestrator with `tools` and an `orchestrate` ceiling, and a worker holding an
/// unrelated read mandate; returns (orchestrator's mandate, its token, worker's token).
fn orchestrator_and_worker(gw: &Gateway, tools: &str) -> (String, String, String) {
    gw.add_agent("orchestrator");
    gw.add_agent("worker-7");
    let (mandate, subject) = gw.grant("orchestrator", tools, "orchestrate", &[]);
    let (_, actor) = gw.grant("worker-7", "crm.list_customers", "read", &[]);
    (mandate, subject, actor)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_exchanged_worker_token_is_narrower_and_dies_with_the_orchestrator() {
    let gw = Gateway::start(Upstream::Stdio);
    let (parent, subject, actor) = orchestrator_and_worker(&gw, "crm.*");
    let url = gw.url();
    let (status, json) = exchange(
        &gw,
        &params(
            &subject,
            &actor,
            "crm.lookup_*",
            &[("resource", &url), ("purpose", "triage")],
        ),
    )
    .await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["issued_token_type"], ACCESS_TOKEN);
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["scope"], "crm.lookup_*");
    let expires_in = json["expires_in"].as_i64().unwrap();
    assert!((1..=1800).contains(&expires_in), "{json}");
    let token = json["access_token"].as_str().unwrap().to_owned();

    // human → orchestrator → worker: the worker is `sub`, the orchestrator its actor.
    let worker_claims = claims(&token);
    assert_eq!(worker_claims["sub"], "worker-7");
    assert_eq!(worker_claims["act"]["sub"], "orchestrator");
    assert!(worker_claims["act"].get("act").is_none(), "{worker_claims}");
    assert_ne!(worker_claims["mid"], claims(&actor)["mid"]);

    let client = client_legacy(&url, &token).await.unwrap();
    lookup(&client, "cus_001").await.unwrap();
    // Read only, lookups only: what the orchestrator could do, the worker cannot.
    let e = error_of(call(&client, "crm.list_customers", serde_json::json!({})).await);
    assert!(e.message.contains("no grant"), "{}", e.message);

    let events = gw.audit();
    let delegated = events
        .iter()
        .find(|e| e["kind"] == "mandate_delegated")
        .expect("a mandate_delegated event");
    assert_eq!(delegated["agent"], "worker-7");
    assert_eq!(delegated["human"], "alice@corp");
    assert!(
        delegated["detail"]
            .to_string()
            .contains("token-exchange:orchestrator"),
        "{delegated}"
    );

    gw.ok(&["revoke", &parent, "--by", "sec@corp", "--reason", "r"]);
    let err = lookup(&client, "cus_001").await.unwrap_err();
    assert!(
        err.auth_challenge().unwrap_or_default().contains("revoked"),
        "{err:?}"
    );
    // Replaying the worker's token on a fresh connection is refused too.
    assert!(client_legacy(&url, &token).await.is_err());
    // And the revoked orchestrator cannot exchange again.
    let why = refused(
        &gw,
        &params(&subject, &actor, "crm.lookup_*", &[]),
        "invalid_request",
    )
    .await;
    assert!(
        why.contains("subject_token") && why.contains("revoked"),
        "{why}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn widening_and_a_missing_orchestrate_ceiling_are_refused_and_audited() {
    let gw = Gateway::start(Upstream::Stdio);
    let (_, subject, actor) = orchestrator_and_worker(&gw, "crm.lookup_*");

    let why = refused(
        &gw,
        &params(&subject, &actor, "crm.*", &[]),
        "invalid_scope",
    )
    .await;
    assert!(why.contains("tools: `crm.*`"), "{why}");
    assert_eq!(count(&gw, "delegation_refused"), 1);
    // The child may not outlive its chain (the grant lasts an hour).
    let why = refused(
        &gw,
        &params(&subject, &actor, "crm.lookup_*", &[("expires_in", "7200")]),
        "invalid_scope",
    )
    .await;
    assert!(why.contains("expiry"), "{why}");
    assert_eq!(count(&gw, "delegation_refused"), 2);

    // A mandate whose ceiling is below `orchestrate` may not hand on at all.
    gw.add_agent("reader");
    let (_, reader) = gw.grant("reader", "crm.lookup_*", "write", &[]);
    let why = refused(
        &gw,
        &params(&reader, &actor, "crm.lookup_*", &[]),
        "access_denied",
    )
    .await;
    assert!(
        why.contains("`write`") && why.contains("orchestrate"),
        "{why}"
    );
    // Swapping the tokens does not help: the worker's own mandate is `read`.
    refused(
        &gw,
        &params(&actor, &subject, "crm.list_customers", &[]),
        "access_denied",
    )
    .await;
    assert_eq!(count(&gw, "delegation_refused"), 4);
    assert_eq!(count(&gw, "mandate_delegated"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_orchestrator_without_depth_is_refused_by_policy() {
    let gw = Gateway::start_with(Upstream::Stdio, "max_delegation_depth = 0");
    let (_, subject, actor) = orchestrator_and_worker(&gw, "crm.*");
    let why = refused(
        &gw,
        &params(&subject, &actor, "crm.lookup_*", &[]),
        "access_denied",
    )
    .await;
    assert!(
        why.contains("mandate.forbid-orchestrate-without-depth"),
        "{why}"
    );
    assert_eq!(count(&gw, "delegation_refused"), 1);
    assert_eq!(count(&gw, "mandate_delegated"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_tokens_targets_and_requests_are_refused_per_rfc() {
    let gw = Gateway::start(Upstream::Stdio);
    let (_, subject, actor) = orchestrator_and_worker(&gw, "crm.*");
    let scope = "crm.lookup_*";

    // Garbage, tampered and foreign subject tokens are `invalid_request` (RFC 8693 §2.2.2).
    let why = refused(
        &gw,
        &params("not-a-jwt", &actor, scope, &[]),
        "invalid_request",
    )
    .await;
    assert!(why.contains("`subject_token` is invalid"), "{why}");
    let parts: Vec<&str> = actor.split('.').collect();
    let mut forged = claims(&actor);
    forged["sub"] = "orchestrator".into();
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(forged.to_string().as_bytes()),
        parts[2]
    );
    refused(
        &gw,
        &params(&tampered, &actor, scope, &[]),
        "invalid_request",
    )
    .await;
    let other = Gateway::start(Upstream::Stdio);
    other.add_agent("orchestrator");
    let (_, foreign) = other.grant("orchestrator", "crm.*", "orchestrate", &[]);
    refused(
        &gw,
        &params(&foreign, &actor, scope, &[]),
        "invalid_request",
    )
    .await;
    let why = refused(
        &gw,
        &params(&subject, "garbage", scope, &[]),
        "invalid_request",
    )
    .await;
    assert!(why.contains("`actor_token` is invalid"), "{why}");

    // Only this gateway is a valid target.
    for target in ["resource", "audience"] {
        let pairs = params(
            &subject,
            &actor,
            scope,
            &[(target, "https://other.example/mcp")],
        );
        refused(&gw, &pairs, "invalid_target").await;
    }

    // Malformed requests.
    let wrong_grant = [("grant_type", "client_credentials"), ("scope", scope)];
    refused(&gw, &wrong_grant, "unsupported_grant_type").await;
    refused(&gw, &[("scope", scope)], "invalid_request").await;
    let no_actor: Vec<_> = params(&subject, &actor, scope, &[])
        .into_iter()
        .filter(|(k, _)| !k.starts_with("actor_"))
        .collect();
    assert!(
        refused(&gw, &no_actor, "invalid_request")
            .await
            .contains("actor_token")
    );
    let id_token = [(
        "subject_token_type",
        "urn:ietf:params:oauth:token-type:id_token",
    )];
    let mut pairs = params(&subject, &actor, scope, &[]);
    pairs.retain(|(k, _)| *k != "subject_token_type");
    pairs.extend_from_slice(&id_token);
    refused(&gw, &pairs, "invalid_request").await;
    refused(
        &gw,
        &params(&subject, &actor, scope, &[("max_class", "root")]),
        "invalid_request",
    )
    .await;
    refused(
        &gw,
        &params(&subject, &actor, scope, &[("scope", "crm.*")]),
        "invalid_request",
    )
    .await;
    refused(
        &gw,
        &params(&subject, &actor, "crm.<all>", &[]),
        "invalid_scope",
    )
    .await;
    let (status, _, json) = post_token(
        &gw,
        "application/json",
        serde_json::json!({"grant_type": TOKEN_EXCHANGE}).to_string(),
    )
    .await;
    assert_eq!(
        (status, json["error"].as_str()),
        (400, Some("invalid_request")),
        "{json}"
    );

    // A worker whose own mandate was revoked identifies nobody.
    let (worker_mandate, revoked_actor) = gw.grant("worker-7", "crm.list_customers", "read", &[]);
    gw.ok(&[
        "revoke",
        &worker_mandate,
        "--by",
        "sec@corp",
        "--reason",
        "r",
    ]);
    let why = refused(
        &gw,
        &params(&subject, &revoked_actor, scope, &[]),
        "invalid_request",
    )
    .await;
    assert!(
        why.contains("`actor_token`'s mandate is not in force"),
        "{why}"
    );

    assert_eq!(count(&gw, "mandate_delegated"), 0);
}
