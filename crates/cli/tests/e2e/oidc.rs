//! Signing in with an external OpenID Connect provider: a real provider in front of a real
//! `mandate serve`; the test plays the person in the provider's forms, then Mandate's.
//!
//! Each test skips, loudly, when oidc-provider is not installed (see `oidc_support`).

use crate::oauth_support::*;
use crate::oidc_support::*;
use crate::support::*;

fn granted(gw: &Gateway) -> Vec<serde_json::Value> {
    gw.audit()
        .into_iter()
        .filter(|e| e["kind"] == "mandate_granted")
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_signed_in_at_the_provider_grants_a_mandate_in_their_own_name() {
    let Some((_idp, gw)) = start(alice(true), serde_json::json!({})) else {
        return;
    };
    let flow = Flow::new(&gw).await;
    let mut browser = Browser::default();
    let (request, callback) = through_provider(&mut browser, &flow, "alice").await;
    let consent = browser.get(&callback).await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    assert!(
        consent
            .body
            .contains("Signed in as <b>alice@idp.example</b>"),
        "{}",
        consent.body
    );
    let session = browser
        .cookie(&gw.base(), "mandate_session")
        .expect("a session");
    assert!(
        browser.cookie(&gw.base(), "mandate_oidc").is_none(),
        "the round trip's cookie is spent"
    );

    let (_, query) = flow
        .approve(&request, &consent, &session, &["crm.lookup_customer"])
        .await
        .redirect();
    assert_eq!(query["state"], flow.state);
    let (status, tokens) = flow.redeem(&query["code"], &flow.verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let client = client_legacy(&gw.url(), tokens["access_token"].as_str().unwrap())
        .await
        .unwrap();
    let result = lookup(&client, "cus_001").await.unwrap();
    assert_ne!(result.is_error, Some(true), "{result:?}");

    // The grantor is the provider's person, and the sign-in names the provider and subject.
    let audit = gw.audit();
    let sign_in = audit.iter().find(|e| e["kind"] == "sign_in").unwrap();
    assert_eq!(sign_in["human"], "alice@idp.example");
    assert_eq!(sign_in["decision"], "allow");
    assert_eq!(sign_in["detail"]["provider"], PROVIDER_NAME);
    assert_eq!(sign_in["detail"]["issuer"], _idp.issuer);
    assert_eq!(sign_in["detail"]["subject"], "alice");
    let granted = granted(&gw);
    assert_eq!(granted.len(), 1);
    assert_eq!(granted[0]["human"], "alice@idp.example");
    let decided = audit
        .iter()
        .find(|e| e["kind"] == "decided" && e["tool"] == "crm.lookup_customer")
        .unwrap();
    assert_eq!(decided["decision"], "allow");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_or_stolen_provider_callback_signs_nobody_in() {
    let Some((_idp, gw)) = start(alice(true), serde_json::json!({})) else {
        return;
    };
    let flow = Flow::new(&gw).await;

    // Another browser (an attacker who got hold of the callback URL) is refused, and
    // spends the state: the rightful browser cannot use it afterwards either.
    let mut browser = Browser::default();
    let (_, callback) = through_provider(&mut browser, &flow, "alice").await;
    let stolen = Browser::default().get(&callback).await;
    assert_eq!(stolen.status, 403, "{}", stolen.body);
    assert!(stolen.body.contains("another browser"), "{}", stolen.body);
    let late = browser.get(&callback).await;
    assert_eq!(late.status, 400, "{}", late.body);

    // The same callback twice from the same browser: the second is refused.
    let mut browser = Browser::default();
    let (_, callback) = through_provider(&mut browser, &flow, "alice").await;
    let first = browser.get(&callback).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let replay = browser.get(&callback).await;
    assert_eq!(replay.status, 400, "{}", replay.body);
    assert!(replay.body.contains("already used"), "{}", replay.body);
    assert!(
        !replay.headers.contains_key("set-cookie"),
        "no session from a replay"
    );

    // An answer naming another issuer (RFC 9207 mix-up) is refused, from the right browser.
    let mut browser = Browser::default();
    let (_, callback) = through_provider(&mut browser, &flow, "alice").await;
    let mut url = ::reqwest::Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| match k.as_ref() {
            "iss" => (k.into_owned(), "https://evil.example".to_owned()),
            _ => (k.into_owned(), v.into_owned()),
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let mixed_up = browser.get(url.as_str()).await;
    assert_eq!(mixed_up.status, 401, "{}", mixed_up.body);
    assert!(
        mixed_up.body.contains("another issuer"),
        "{}",
        mixed_up.body
    );

    let sign_ins: Vec<_> = gw
        .audit()
        .into_iter()
        .filter(|e| e["kind"] == "sign_in")
        .map(|e| e["decision"].clone())
        .collect();
    assert_eq!(
        sign_ins,
        ["allow", "deny"],
        "only the first callback signed anyone in"
    );
    assert!(granted(&gw).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_address_the_provider_has_not_verified_signs_nobody_in() {
    let Some((_idp, gw)) = start(alice(false), serde_json::json!({})) else {
        return;
    };
    let flow = Flow::new(&gw).await;
    let mut browser = Browser::default();
    let (request, callback) = through_provider(&mut browser, &flow, "alice").await;
    let refused = browser.get(&callback).await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert!(
        refused.body.contains("has not verified the email address"),
        "{}",
        refused.body
    );
    assert!(browser.cookie(&gw.base(), "mandate_session").is_none());
    // The sign-in page again, for the same request: nothing to approve without a session.
    assert_eq!(refused.hidden("request"), request);
    let csrf_less = flow
        .post(
            None,
            &[("request", &request), ("step", "approve"), ("agent", "bot")],
        )
        .await;
    assert_eq!(csrf_less.status, 403, "{}", csrf_less.body);

    let audit = gw.audit();
    let sign_in = audit.iter().find(|e| e["kind"] == "sign_in").unwrap();
    assert_eq!(sign_in["decision"], "deny");
    assert_eq!(sign_in["detail"]["subject"], "alice");
    assert!(sign_in["human"].is_null(), "{sign_in}");
    assert!(granted(&gw).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_prefixed_subject_can_be_the_human_with_es256_and_client_secret_post() {
    // oidc-provider's subject is the account id: the login.
    let accounts = serde_json::json!({ "00u1bob": {} });
    let options =
        serde_json::json!({ "id_token_alg": "ES256", "auth_method": "client_secret_post" });
    let Some(mut idp) = Idp::start(accounts, options) else {
        return;
    };
    let table = format!(
        "{}human_claim = \"sub\"\nsubject_prefix = \"idp:\"\n",
        idp.config()
    );
    let gw = gateway_with_user(&table);
    idp.ready_for(&gw);
    let flow = Flow::new(&gw).await;
    let mut browser = Browser::default();
    let (_, callback) = through_provider(&mut browser, &flow, "00u1bob").await;
    let consent = browser.get(&callback).await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    assert!(
        consent.body.contains("Signed in as <b>idp:00u1bob</b>"),
        "{}",
        consent.body
    );
}
