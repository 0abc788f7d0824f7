//! Attacks on the authorization server, each tried: open redirects, missing `state`, PKCE
//! downgrade and wrong verifiers, code replay and theft, CSRF on the consent form, widened
//! consent, foreign audiences, password guessing, hostile registrations and metadata documents.

use crate::oauth_support::*;
use crate::support::*;

/// An error page: no redirect anywhere, whatever the request asked.
fn dead_end(answer: &Answer) {
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.header("location").is_none(), "must not redirect");
    assert!(
        answer.body.contains("Mandate cannot continue"),
        "{}",
        answer.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_clients_and_unregistered_redirect_uris_get_a_page_never_a_redirect() {
    let gw = gateway_with_user("");
    let flow = Flow::new(&gw).await;
    dead_end(&flow.authorize(&[("client_id", "mcl_madeup")]).await);
    dead_end(&flow.authorize(&[("client_id", "")]).await);
    for evil in [
        "http://evil.example/callback",
        "http://127.0.0.1:9/callback/",
        "http://127.0.0.1:9/callback?x=1",
        "http://127.0.0.1:9/callback/../evil",
        "http://127.0.0.1:99/callback",
        "HTTP://127.0.0.1:9/callback",
    ] {
        let answer = flow.authorize(&[("redirect_uri", evil)]).await;
        dead_end(&answer);
    }
    // A parameter sent twice is refused on a page too.
    let url = format!(
        "{}/oauth/authorize?client_id={}&client_id=other&redirect_uri={REDIRECT}",
        gw.base(),
        flow.client_id
    );
    dead_end(&answer(http().get(url)).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_requests_go_back_to_the_registered_uri_with_an_error() {
    let gw = gateway_with_user("");
    let flow = Flow::new(&gw).await;
    let cases: [(&[(&str, &str)], &str); 7] = [
        (&[("state", "")], "invalid_request"),
        (&[("code_challenge_method", "plain")], "invalid_request"),
        (&[("code_challenge_method", "")], "invalid_request"),
        (&[("code_challenge", "")], "invalid_request"),
        (&[("response_type", "token")], "unsupported_response_type"),
        (
            &[("resource", "https://other.example/mcp")],
            "invalid_target",
        ),
        (&[("scope", "nothing.*")], "invalid_scope"),
    ];
    for (extra, error) in cases {
        let (to, query) = flow.authorize(extra).await.redirect();
        assert_eq!(to, REDIRECT, "{extra:?}");
        assert_eq!(query["error"], error, "{extra:?}: {query:?}");
        assert_eq!(query["iss"], gw.base());
    }
    assert!(!gw.audit().iter().any(|e| e["kind"] == "mandate_granted"));
}

#[tokio::test(flavor = "multi_thread")]
async fn codes_are_single_use_bound_to_client_redirect_and_verifier() {
    let gw = gateway_with_user("");
    let flow = Flow::new(&gw).await;

    // A wrong verifier fails, and spends the code.
    let code = flow.code(&["crm.lookup_customer"]).await;
    let (other_verifier, _) = pkce();
    let (status, body) = flow.redeem(&code, &other_verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (status, _) = flow.redeem(&code, &flow.verifier).await;
    assert_eq!(status, 400, "spent by the failed attempt");

    // Another client, another redirect URI, a foreign resource: refused.
    let code = flow.code(&["crm.lookup_customer"]).await;
    let (status, body) = token(
        &gw,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", "mcl_thief"),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &flow.verifier),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let code = flow.code(&["crm.lookup_customer"]).await;
    let (status, body) = token(
        &gw,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &flow.client_id),
            ("redirect_uri", "http://127.0.0.1:9/other"),
            ("code_verifier", &flow.verifier),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (status, body) = token(
        &gw,
        &[
            ("grant_type", "authorization_code"),
            ("code", "whatever"),
            ("client_id", &flow.client_id),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &flow.verifier),
            ("resource", "https://other.example/mcp"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target")),
        "{body}"
    );

    // Replay after success: refused, and the mandate it granted is revoked at once.
    let code = flow.code(&["crm.lookup_customer"]).await;
    let (status, tokens) = flow.redeem(&code, &flow.verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    let (status, body) = flow.redeem(&code, &flow.verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (status, _, _) = post_raw(&gw.url(), Some(access), "{}", &[]).await;
    assert_eq!(status, 401, "the replayed code's mandate is dead");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_consent_form_needs_its_session_and_csrf_token() {
    let gw = gateway_with_user("");
    add_user(&gw, "mallory@corp", "mallory's own password");
    let flow = Flow::new(&gw).await;
    let (request, consent, cookie) = flow.to_consent().await;
    let csrf = consent.hidden("csrf");
    let approve = |csrf: &str| {
        vec![
            ("request".to_owned(), request.clone()),
            ("csrf".to_owned(), csrf.to_owned()),
            ("step".to_owned(), "approve".to_owned()),
            ("agent".to_owned(), "bot".to_owned()),
            ("tool".to_owned(), "crm.lookup_customer".to_owned()),
            ("expires".to_owned(), "3600".to_owned()),
            ("purpose".to_owned(), "x".to_owned()),
        ]
    };
    let post = |cookie: Option<String>, pairs: Vec<(String, String)>| {
        let flow = &flow;
        async move {
            let pairs: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            flow.post(cookie.as_deref(), &pairs).await
        }
    };
    // No cookie (a cross-site form post: SameSite=Strict keeps it away), no or wrong token.
    assert_eq!(post(None, approve(&csrf)).await.status, 403);
    let mut without = approve(&csrf);
    without.retain(|(k, _)| k != "csrf");
    assert_eq!(post(Some(cookie.clone()), without).await.status, 403);
    assert_eq!(
        post(Some(cookie.clone()), approve("forged")).await.status,
        403
    );
    // Mallory's own session and token, on alice's pending request.
    let other = flow.authorize(&[]).await.hidden("request");
    let (mallory_consent, mallory_cookie) = flow
        .sign_in(&other, "mallory@corp", "mallory's own password")
        .await;
    let mallory_csrf = mallory_consent.hidden("csrf");
    assert_eq!(
        post(mallory_cookie, approve(&mallory_csrf)).await.status,
        403
    );
    assert!(!gw.audit().iter().any(|e| e["kind"] == "mandate_granted"));
    // The right session and token: granted.
    assert_eq!(post(Some(cookie), approve(&csrf)).await.status, 303);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_human_cannot_be_tricked_into_more_than_was_offered() {
    let gw = gateway_with_user("max_delegation_depth = 2\n[oauth]\nmax_lifetime = \"8h\"");
    let flow = Flow::new(&gw).await;
    let page = flow.authorize(&[("scope", "crm.lookup_*")]).await;
    let request = page.hidden("request");
    let (consent, cookie) = flow.sign_in(&request, "alice@corp", PASSWORD).await;
    assert!(!consent.body.contains("crm.purge_customers"));
    let cookie = cookie.unwrap();
    let csrf = consent.hidden("csrf");
    let base = [
        ("request", request.as_str()),
        ("csrf", csrf.as_str()),
        ("step", "approve"),
        ("agent", "bot"),
        ("purpose", "p"),
    ];
    let cases: [&[(&str, &str)]; 4] = [
        &[("tool", "crm.purge_customers"), ("expires", "3600")],
        &[("tool", "crm.lookup_customer"), ("expires", "31536000")],
        &[("expires", "3600")],
        &[
            ("tool", "crm.lookup_customer"),
            ("expires", "3600"),
            ("agent", "ghost"),
        ],
    ];
    for extra in cases {
        let mut pairs: Vec<(&str, &str)> = base
            .iter()
            .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
            .copied()
            .collect();
        pairs.extend_from_slice(extra);
        let answer = flow.post(Some(&cookie), &pairs).await;
        assert_eq!(answer.status, 400, "{extra:?}: {}", answer.body);
        assert!(answer.body.contains("class=\"error\""), "{}", answer.body);
    }
    assert!(!gw.audit().iter().any(|e| e["kind"] == "mandate_granted"));
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_is_rate_limited_per_user_and_per_address() {
    let gw = gateway_with_user("");
    add_user(&gw, "bob@corp", "bob's long password");
    let flow = Flow::new(&gw).await;
    let request = flow.authorize(&[]).await.hidden("request");
    for _ in 0..5 {
        let (page, cookie) = flow.sign_in(&request, "alice@corp", "guess").await;
        assert_eq!(page.status, 401);
        assert!(cookie.is_none());
    }
    // Locked: even the right password is not checked now.
    let (page, cookie) = flow.sign_in(&request, "alice@corp", PASSWORD).await;
    assert_eq!(page.status, 429, "{}", page.body);
    assert!(cookie.is_none());
    // Bob is not alice, until this address has failed 20 times in all.
    let (page, _) = flow
        .sign_in(&request, "bob@corp", "bob's long password")
        .await;
    assert_eq!(page.status, 200);
    for i in 0..15 {
        let (page, _) = flow
            .sign_in(&request, &format!("user{i}@corp"), "guess")
            .await;
        assert_eq!(page.status, 401);
    }
    let (page, _) = flow
        .sign_in(&request, "bob@corp", "bob's long password")
        .await;
    assert_eq!(page.status, 429, "{}", page.body);
    let refused = gw
        .audit()
        .into_iter()
        .filter(|e| e["kind"] == "sign_in" && e["decision"] == "deny")
        .count();
    assert_eq!(refused, 20, "every wrong password is audited");
}

#[tokio::test(flavor = "multi_thread")]
async fn registrations_with_dangerous_redirect_uris_are_refused() {
    let gw = gateway_with_user("");
    for uris in [
        serde_json::json!([]),
        serde_json::json!(["http://evil.example/cb"]),
        serde_json::json!(["javascript:alert(1)"]),
        serde_json::json!(["https://good.example/cb#frag"]),
        serde_json::json!(["not a url"]),
    ] {
        let a = answer(
            http()
                .post(format!("{}/oauth/register", gw.base()))
                .json(&serde_json::json!({ "redirect_uris": uris })),
        )
        .await;
        assert_eq!(a.status, 400, "{uris}");
        assert!(a.body.contains("invalid_redirect_uri"), "{}", a.body);
    }
    let a = answer(
        http()
            .post(format!("{}/oauth/register", gw.base()))
            .json(&serde_json::json!({ "redirect_uris": ["https://good.example/cb"], "grant_types": ["client_credentials"] })),
    )
    .await;
    assert_eq!(a.status, 400, "{}", a.body);
    // Closed registration.
    let closed = Gateway::start_with(Upstream::Stdio, "[oauth]\ndynamic_registration = false");
    let a = answer(
        http()
            .post(format!("{}/oauth/register", closed.base()))
            .json(&serde_json::json!({ "redirect_uris": ["https://good.example/cb"] })),
    )
    .await;
    assert_eq!(a.status, 400);
}

/// Serves one JSON document at `/client.json` on a loopback port; returns its URL.
async fn serve_document(doc: impl Fn(&str) -> serde_json::Value + Send + Sync + 'static) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/client.json", listener.local_addr().unwrap());
    let body = doc(&url);
    let app = axum::Router::new().route(
        "/client.json",
        axum::routing::get(move || {
            let body = body.clone();
            async move { axum::Json(body) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test(flavor = "multi_thread")]
async fn client_id_metadata_documents_are_fetched_and_checked() {
    let gw = gateway_with_user("[oauth]\ndanger_http_client_ids = true");
    let good = serve_document(|url| {
        serde_json::json!({ "client_id": url, "client_name": "Doc Client <b>", "redirect_uris": [REDIRECT] })
    })
    .await;
    let liar = serve_document(|_| {
        serde_json::json!({ "client_id": "https://someone.else/client.json", "redirect_uris": [REDIRECT] })
    })
    .await;
    let mut flow = Flow::new(&gw).await;
    flow.client_id = good.clone();
    let page = flow.authorize(&[]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("Doc Client &lt;b&gt;"),
        "escaped: {}",
        page.body
    );
    let code = flow.code(&["crm.lookup_customer"]).await;
    let (status, body) = flow.redeem(&code, &flow.verifier).await;
    assert_eq!(status, 200, "{body}");
    // A document naming another client id, or a redirect URI it does not list: refused.
    flow.client_id = liar;
    dead_end(&flow.authorize(&[]).await);
    flow.client_id = good.clone();
    dead_end(
        &flow
            .authorize(&[("redirect_uri", "http://127.0.0.1:9/elsewhere")])
            .await,
    );
    // Without the test-only flag, http:// client ids are refused.
    let strict = gateway_with_user("");
    let mut flow = Flow::new(&strict).await;
    flow.client_id = good;
    dead_end(&flow.authorize(&[]).await);
}
