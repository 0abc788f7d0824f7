//! Mandate as an OAuth 2.1 authorization server: discovery, a human's consent in the
//! browser, the code redeemed with PKCE, rotating refresh tokens that die with the mandate.

use crate::oauth_support::*;
use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn an_unauthenticated_client_discovers_how_to_get_a_token() {
    let gw = Gateway::start(Upstream::Stdio);
    let (status, headers, _) = post_raw(&gw.url(), None, "{}", &[]).await;
    assert_eq!(status, 401);
    let challenge = headers["www-authenticate"].to_str().unwrap();
    let metadata_url = format!("{}/.well-known/oauth-protected-resource", gw.base());
    assert!(
        challenge.contains(&format!("resource_metadata=\"{metadata_url}\"")),
        "{challenge}"
    );
    // RFC 9728, at the root and at the path-suffixed form.
    for url in [metadata_url.clone(), format!("{metadata_url}/mcp")] {
        let prm: serde_json::Value = http().get(url).send().await.unwrap().json().await.unwrap();
        assert_eq!(prm["resource"], gw.url());
        assert_eq!(prm["authorization_servers"], serde_json::json!([gw.base()]));
        assert_eq!(prm["scopes_supported"], serde_json::json!(["crm.*"]));
    }
    // RFC 8414.
    let asm: serde_json::Value = http()
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            gw.base()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(asm["issuer"], gw.base());
    assert_eq!(
        asm["authorization_endpoint"],
        format!("{}/oauth/authorize", gw.base())
    );
    assert_eq!(asm["token_endpoint"], format!("{}/oauth/token", gw.base()));
    assert_eq!(
        asm["registration_endpoint"],
        format!("{}/oauth/register", gw.base())
    );
    assert_eq!(
        asm["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(asm["client_id_metadata_document_supported"], true);
    assert_eq!(asm["authorization_response_iss_parameter_supported"], true);
    let grants = asm["grant_types_supported"].to_string();
    for grant in ["authorization_code", "refresh_token", "token-exchange"] {
        assert!(grants.contains(grant), "{grants}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_human_grants_on_the_consent_page_and_the_client_calls_within_it() {
    let gw = gateway_with_user("");
    let flow = Flow::new(&gw).await;
    let page = flow.authorize(&[]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Sign in"), "{}", page.body);
    let request = page.hidden("request");
    let (consent, cookie) = flow.sign_in(&request, "alice@corp", PASSWORD).await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    let set_cookie = consent.header("set-cookie").unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/oauth"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    // The agent and its owners, the tools by blast radius (destructive marked), expiry, purpose.
    let body = &consent.body;
    for shown in [
        "bot",
        "ana@corp",
        "sec@corp",
        "Read:",
        "Write:",
        "Orchestrate:",
        "crm.lookup_customer",
        "crm.purge_customers",
        "destructive",
        "crm.spawn_worker",
        "name=\"expires\"",
        "name=\"purpose\"",
    ] {
        assert!(body.contains(shown), "consent page lacks {shown}: {body}");
    }
    let read = body.find("Read:").unwrap();
    let write = body.find("Write:").unwrap();
    let lookup = body.find("value=\"crm.lookup_customer\"").unwrap();
    let purge = body.find("value=\"crm.purge_customers\"").unwrap();
    assert!(
        read < lookup && lookup < write && write < purge,
        "grouped by blast radius"
    );

    // The human unticks all but one tool and shortens the expiry.
    let redirect = flow
        .approve(
            &request,
            &consent,
            cookie.as_deref().unwrap(),
            &["crm.lookup_customer"],
        )
        .await;
    let (to, query) = redirect.redirect();
    assert_eq!(to, REDIRECT);
    assert_eq!(query["state"], flow.state);
    assert_eq!(query["iss"], gw.base(), "RFC 9207");
    let (status, tokens) = flow.redeem(&query["code"], &flow.verifier).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "crm.lookup_customer");
    assert!(tokens["refresh_token"].as_str().unwrap().len() >= 43);
    let access = tokens["access_token"].as_str().unwrap();

    let client = client_legacy(&gw.url(), access).await.unwrap();
    let tools = client.peer().list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, ["crm.lookup_customer"]);
    assert!(lookup_ok(&client).await);
    // Outside the granted scope: 403 insufficient_scope, naming the scope to ask for
    // (what was granted plus the tool), so the client can send the human back (step-up).
    let body = serde_json::json!({
        "jsonrpc": "2.0", "id": 9, "method": "tools/call",
        "params": {"name": "crm.update_customer", "arguments": {"id": "cus_001", "email": "x@y"}},
    });
    let (status, headers, _) = post_raw(
        &gw.url(),
        Some(access),
        body.to_string(),
        &[("mcp-protocol-version", "2026-07-28")],
    )
    .await;
    assert_eq!(status, 403);
    let challenge = headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(
        challenge.contains("scope=\"crm.lookup_customer crm.update_customer\""),
        "{challenge}"
    );
    assert!(challenge.contains("resource_metadata="), "{challenge}");
    // A tool the gateway does not offer is no scope matter: the call is answered as usual.
    let unknown = call(&client, "crm.no_such_tool", serde_json::json!({}))
        .await
        .unwrap();
    assert_eq!(unknown.is_error, Some(true));
    // An operator's token for the same agent is never challenged: no flow to step up with.
    let (_, operator_token) = gw.grant("bot", "crm.lookup_customer", "read", &[]);
    let operator = client_legacy(&gw.url(), &operator_token).await.unwrap();
    let denied = error_of(
        call(
            &operator,
            "crm.update_customer",
            serde_json::json!({"id": "cus_001", "email": "x@y"}),
        )
        .await,
    );
    assert_eq!(denied.code.0, -32003, "{denied:?}");

    // The log: who signed in, the mandate she granted (why, for how long), the token's client.
    let audit = gw.audit();
    let sign_in = audit.iter().find(|e| e["kind"] == "sign_in").unwrap();
    assert_eq!(sign_in["human"], "alice@corp");
    assert_eq!(sign_in["decision"], "allow");
    let granted = audit
        .iter()
        .find(|e| e["kind"] == "mandate_granted")
        .unwrap();
    assert_eq!(granted["human"], "alice@corp");
    assert_eq!(granted["detail"]["purpose"], "ticket 4521");
    assert_eq!(
        granted["detail"]["tools"],
        serde_json::json!(["crm.lookup_customer"])
    );
    assert_eq!(granted["detail"]["ceiling"], "read");
    let lasts = granted["detail"]["expires_at"].as_i64().unwrap()
        - granted["detail"]["issued_at"].as_i64().unwrap();
    assert_eq!(lasts, 3_600_000);
    let issued = audit.iter().find(|e| e["kind"] == "token_issued").unwrap();
    assert_eq!(issued["detail"]["client_id"], flow.client_id);
    assert_eq!(issued["detail"]["grant_type"], "authorization_code");
    gw.ok(&["audit", "verify"]);
}

async fn lookup_ok(client: &Client) -> bool {
    lookup(client, "cus_001")
        .await
        .is_ok_and(|r| r.is_error != Some(true))
}

async fn refresh(gw: &Gateway, flow: &Flow<'_>, token: &str) -> (u16, serde_json::Value) {
    crate::oauth_support::token(
        gw,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", &flow.client_id),
        ],
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_tokens_rotate_and_a_reused_one_kills_the_family_and_the_mandate() {
    let gw = gateway_with_user("");
    let flow = Flow::new(&gw).await;
    let code = flow.code(&["crm.lookup_customer"]).await;
    let (_, first) = flow.redeem(&code, &flow.verifier).await;
    let first_refresh = first["refresh_token"].as_str().unwrap();

    let (status, second) = refresh(&gw, &flow, first_refresh).await;
    assert_eq!(status, 200, "{second}");
    let second_refresh = second["refresh_token"].as_str().unwrap();
    assert_ne!(second_refresh, first_refresh, "rotated");
    assert_eq!(second["scope"], "crm.lookup_customer");
    let access = second["access_token"].as_str().unwrap();
    let client = client_legacy(&gw.url(), access).await.unwrap();
    assert!(lookup_ok(&client).await);
    // The refreshed token keeps the granted scope: outside it, still a scope challenge.
    let outside = serde_json::json!({
        "jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "crm.get_report", "arguments": {}},
    });
    let headers = [("mcp-protocol-version", "2026-07-28")];
    let (status, _, _) = post_raw(&gw.url(), Some(access), outside.to_string(), &headers).await;
    assert_eq!(status, 403);

    // Another client cannot use it.
    let (status, body) = crate::oauth_support::token(
        &gw,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", second_refresh),
            ("client_id", "someone-else"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // The spent token again: a thief or a victim; either way the family and the mandate die.
    let (status, body) = refresh(&gw, &flow, first_refresh).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (status, _) = refresh(&gw, &flow, second_refresh).await;
    assert_eq!(status, 400, "the current token of the family is dead too");
    let (status, _, _) = post_raw(&gw.url(), Some(access), "{}", &[]).await;
    assert_eq!(
        status, 401,
        "the mandate is revoked, so its access tokens die at once"
    );
    let revoked = gw
        .audit()
        .into_iter()
        .find(|e| e["kind"] == "mandate_revoked")
        .unwrap();
    assert_eq!(
        revoked["reasons"],
        serde_json::json!(["a refresh token was used twice"])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_token_dies_with_its_mandate() {
    let gw = gateway_with_user("");
    let flow = Flow::new(&gw).await;
    let code = flow.code(&["crm.lookup_customer"]).await;
    let (_, tokens) = flow.redeem(&code, &flow.verifier).await;
    let mandate = gw
        .audit()
        .into_iter()
        .find(|e| e["kind"] == "mandate_granted")
        .unwrap()["mandate"]
        .as_str()
        .unwrap()
        .to_owned();
    gw.ok(&["revoke", &mandate, "--by", "sec@corp", "--reason", "done"]);
    let (status, body) = refresh(&gw, &flow, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_human_may_deny_and_the_client_hears_access_denied() {
    let gw = gateway_with_user("");
    let flow = Flow::new(&gw).await;
    let (request, consent, cookie) = flow.to_consent().await;
    let csrf = consent.hidden("csrf");
    let denied = flow
        .post(
            Some(&cookie),
            &[("request", &request), ("csrf", &csrf), ("step", "deny")],
        )
        .await;
    let (_, query) = denied.redirect();
    assert_eq!(query["error"], "access_denied");
    assert_eq!(query["state"], flow.state);
    let audit = gw.audit();
    assert!(
        audit
            .iter()
            .any(|e| e["kind"] == "consent_refused" && e["human"] == "alice@corp")
    );
    assert!(!audit.iter().any(|e| e["kind"] == "mandate_granted"));
}

#[tokio::test(flavor = "multi_thread")]
async fn users_are_added_from_a_file_or_stdin_and_listed() {
    let gw = Gateway::start(Upstream::Stdio);
    add_user(&gw, "alice@corp", PASSWORD);
    let mut child = std::process::Command::new(BIN)
        .args(["users", "add", "bob@corp", "--config"])
        .arg(&gw.config)
        .arg("--data-dir")
        .arg(gw.data_dir())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"another long password\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(gw.ok(&["users", "list"]), "alice@corp\nbob@corp\n");
    // Too short, or taken: refused.
    let short = gw.dir.path().join("short");
    std::fs::write(&short, "abc\n").unwrap();
    let out = gw.mandate(&[
        "users",
        "add",
        "carol@corp",
        "--password-file",
        short.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 8"));
    let file = gw.dir.path().join("alice@corp.password");
    let out = gw.mandate(&[
        "users",
        "add",
        "alice@corp",
        "--password-file",
        file.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    // The store keeps an argon2id hash, never the password.
    let db = rusqlite::Connection::open(gw.data_dir().join("mandate.db")).unwrap();
    let hash: String = db
        .query_row(
            "SELECT password_hash FROM users WHERE id = 'alice@corp'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains(PASSWORD));
    assert!(
        gw.audit()
            .iter()
            .any(|e| e["kind"] == "user_added" && e["human"] == "bob@corp")
    );
}
