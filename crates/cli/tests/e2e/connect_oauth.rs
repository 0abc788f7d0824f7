//! `mandate connect` as an OAuth client: it prints the authorize URL on stderr, the test
//! plays the human (sign-in and consent over HTTP, then the browser's redirect to connect's
//! loopback listener), and MCP then runs over connect's stdin/stdout.

use crate::connect::{APPROVED, Connect, DENIED};
use crate::oauth_support::*;
use crate::support::*;
use std::os::unix::fs::PermissionsExt as _;

/// The URL connect asks the person to open.
async fn authorize_url(connect: &mut Connect) -> String {
    connect
        .line_containing("/oauth/authorize?")
        .await
        .trim()
        .to_owned()
}

/// Plays the human at `authorize_url`: signs in as alice, then approves `tools` for `bot`
/// (or denies, when `tools` is empty). Returns where the browser is sent next.
async fn consent(authorize_url: &str, tools: &[&str]) -> String {
    let base = authorize_url.split("/oauth/authorize").next().unwrap();
    let post = |pairs: &[(&str, &str)], cookie: Option<&str>| {
        let mut req = http()
            .post(format!("{base}/oauth/authorize"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(pairs));
        if let Some(cookie) = cookie {
            req = req.header("cookie", cookie);
        }
        answer(req)
    };
    let page = answer(http().get(authorize_url)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let request = page.hidden("request");
    let sign_in = [
        ("request", request.as_str()),
        ("step", "sign_in"),
        ("username", "alice@corp"),
        ("password", PASSWORD),
    ];
    let consent = post(&sign_in, None).await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    assert!(
        consent.body.contains("mandate connect"),
        "the client's name"
    );
    let cookie = consent.header("set-cookie").unwrap();
    let cookie = cookie.split(';').next().unwrap();
    let csrf = consent.hidden("csrf");
    let mut pairs = vec![("request", request.as_str()), ("csrf", csrf.as_str())];
    if tools.is_empty() {
        pairs.push(("step", "deny"));
    } else {
        pairs.extend([
            ("step", "approve"),
            ("agent", "bot"),
            ("expires", "3600"),
            ("purpose", "connect test"),
        ]);
        pairs.extend(tools.iter().map(|t| ("tool", *t)));
    }
    let decided = post(&pairs, Some(cookie)).await;
    assert_eq!(decided.status, 303, "{}", decided.body);
    decided.header("location").unwrap()
}

/// The browser following a redirect to connect's listener.
async fn browser_lands(location: &str) -> Answer {
    answer(http().get(location)).await
}

/// Signs in with `connect --login` (as in a terminal, ahead of any client) and waits for it.
async fn login(gw: &Gateway, creds: &str) {
    let mut login = Connect::spawn(&[&gw.url(), "--login", "--credentials", creds]);
    let location = consent(&authorize_url(&mut login).await, &[APPROVED]).await;
    assert_eq!(browser_lands(&location).await.status, 200);
    login
        .line_containing("signed in; credentials stored in")
        .await;
}

fn stored(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn count(gw: &Gateway, kind: &str) -> usize {
    gw.audit().iter().filter(|e| e["kind"] == kind).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_signs_in_through_the_browser_then_reuses_and_refreshes_stored_credentials() {
    let gw = gateway_with_user("");
    let creds = gw.dir.path().join("config").join("connect.json");
    let creds_arg = creds.to_str().unwrap();
    let mut connect = Connect::spawn(&[&gw.url(), "--credentials", creds_arg]);
    let url = authorize_url(&mut connect).await;
    assert!(connect.stderr().contains("open this URL in a browser"));
    let query: std::collections::HashMap<String, String> = ::reqwest::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["resource"], gw.url(), "RFC 8707: the /mcp URL");
    assert!(query["redirect_uri"].starts_with("http://127.0.0.1:"));

    let location = consent(&url, &[APPROVED]).await;
    assert!(location.starts_with(&query["redirect_uri"]), "{location}");
    let landed = browser_lands(&location).await;
    assert_eq!(landed.status, 200, "{}", landed.body);
    assert!(landed.body.contains("Signed in"));

    let client = connect.client().await;
    let tools = client.peer().list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, [APPROVED]);
    assert_eq!(
        lookup(&client, "cus_001").await.unwrap().is_error,
        Some(false)
    );
    drop(client);

    // The credentials file is the owner's alone, in a directory that is too.
    let mode = std::fs::metadata(&creds).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let dir_mode = std::fs::metadata(creds.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700);
    let first = stored(&creds);
    let audit = gw.audit();
    let registered = audit
        .iter()
        .find(|e| e["kind"] == "client_registered")
        .unwrap();
    assert_eq!(registered["detail"]["client_name"], "mandate connect");
    assert_eq!(
        registered["detail"]["client_id"],
        first["client"]["client_id"]
    );

    // A second run signs in with nothing: the stored token works.
    let mut again = Connect::spawn(&[&gw.url(), "--credentials", creds_arg]);
    let client = again.client().await;
    assert_eq!(
        lookup(&client, "cus_001").await.unwrap().is_error,
        Some(false)
    );
    drop(client);
    assert!(
        !again.stderr().contains("/oauth/authorize"),
        "{}",
        again.stderr()
    );
    assert_eq!(count(&gw, "mandate_granted"), 1);
    assert_eq!(count(&gw, "token_issued"), 1);

    // A refused access token is refreshed; the rotated refresh token is what is kept.
    let mut broken = first.clone();
    broken["access_token"] = "not-a-token".into();
    std::fs::write(&creds, broken.to_string()).unwrap();
    let mut third = Connect::spawn(&[&gw.url(), "--credentials", creds_arg]);
    let client = third.client().await;
    assert_eq!(
        lookup(&client, "cus_001").await.unwrap().is_error,
        Some(false)
    );
    drop(client);
    third.line_containing("refreshing it").await;
    assert!(
        !third.stderr().contains("/oauth/authorize"),
        "{}",
        third.stderr()
    );
    let refreshed = stored(&creds);
    assert_ne!(
        refreshed["refresh_token"], first["refresh_token"],
        "rotated"
    );
    assert_ne!(refreshed["access_token"], "not-a-token");
    let by_refresh = gw
        .audit()
        .iter()
        .filter(|e| e["kind"] == "token_issued" && e["detail"]["grant_type"] == "refresh_token")
        .count();
    assert_eq!(by_refresh, 1);
    assert_eq!(
        count(&gw, "mandate_granted"),
        1,
        "no new consent was needed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_outside_the_scope_asks_the_human_for_more_then_goes_through() {
    let gw = gateway_with_user("");
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("credentials.json");
    let creds_arg = creds.to_str().unwrap();
    login(&gw, creds_arg).await;
    let narrow = stored(&creds);
    let mut connect = Connect::spawn(&[&gw.url(), "--credentials", creds_arg]);
    let client = connect.client().await;
    // The gateway answers 403 insufficient_scope; connect sends the human back for the wider
    // scope while the call waits, and retries it with the new token.
    let human = async {
        let url = authorize_url(&mut connect).await;
        let scope: std::collections::HashMap<String, String> = ::reqwest::Url::parse(&url)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
        assert_eq!(scope["scope"], format!("{APPROVED} {DENIED}"));
        let location = consent(&url, &[APPROVED, DENIED]).await;
        browser_lands(&location).await
    };
    let (result, landed) = tokio::join!(
        call(
            &client,
            DENIED,
            serde_json::json!({"id": "cus_001", "email": "a@b.example"})
        ),
        human
    );
    assert_eq!(landed.status, 200, "{}", landed.body);
    let result = result.unwrap();
    assert_ne!(result.is_error, Some(true), "{result:?}");
    drop(client);
    assert!(
        connect.stderr().contains("asking for"),
        "{}",
        connect.stderr()
    );

    // Recorded: the challenge (a denial), the second consent (a new mandate), the allowed call.
    let audit = gw.audit();
    let decided: Vec<_> = audit
        .iter()
        .filter(|e| e["kind"] == "decided" && e["tool"] == DENIED)
        .map(|e| e["decision"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(decided, ["deny", "allow"]);
    let grants: Vec<_> = audit
        .iter()
        .filter(|e| e["kind"] == "mandate_granted")
        .collect();
    assert_eq!(grants.len(), 2);
    assert_eq!(
        grants[1]["detail"]["tools"],
        serde_json::json!([APPROVED, DENIED])
    );
    // The stored credentials are the wider ones now: a new access and refresh token.
    let wide = stored(&creds);
    assert_ne!(wide["access_token"], narrow["access_token"]);
    assert_ne!(wide["refresh_token"], narrow["refresh_token"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_with_a_wrong_state_is_refused_and_its_code_not_exchanged() {
    let gw = gateway_with_user("");
    let creds = gw.dir.path().join("connect.json");
    let mut connect = Connect::spawn(&[&gw.url(), "--credentials", creds.to_str().unwrap()]);
    let url = authorize_url(&mut connect).await;
    let location = consent(&url, &[APPROVED]).await;

    // The genuine code, delivered with someone else's state (or none): refused.
    let mut forged = ::reqwest::Url::parse(&location).unwrap();
    let pairs: Vec<(String, String)> = forged
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == "state" {
                (k, "forged".to_owned())
            } else {
                (k, v)
            }
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(&pairs);
    let refused = browser_lands(forged.as_str()).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    connect.line_containing("does not match this sign-in").await;
    let mut stateless = forged.clone();
    let without: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| k != "state").collect();
    stateless.query_pairs_mut().clear().extend_pairs(&without);
    assert_eq!(browser_lands(stateless.as_str()).await.status, 400);
    assert_eq!(count(&gw, "token_issued"), 0, "the code was not exchanged");
    assert!(!creds.exists());

    // The real redirect still works: the code was never spent (codes are single-use).
    assert_eq!(browser_lands(&location).await.status, 200);
    let client = connect.client().await;
    assert_eq!(
        lookup(&client, "cus_001").await.unwrap().is_error,
        Some(false)
    );
    assert_eq!(count(&gw, "token_issued"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_mandate_is_reported_and_the_human_is_asked_again() {
    let gw = gateway_with_user("");
    let creds = gw.dir.path().join("connect.json");
    let creds_arg = creds.to_str().unwrap();
    // Sign in ahead, in a terminal, as one would before a desktop client launches connect.
    let mut login = Connect::spawn(&[&gw.url(), "--login", "--credentials", creds_arg]);
    let location = consent(&authorize_url(&mut login).await, &[APPROVED]).await;
    assert_eq!(browser_lands(&location).await.status, 200);
    login
        .line_containing("signed in; credentials stored in")
        .await;

    let mut connect = Connect::spawn(&[&gw.url(), "--credentials", creds_arg]);
    let client = connect.client().await;
    assert_eq!(
        lookup(&client, "cus_001").await.unwrap().is_error,
        Some(false)
    );
    let mandate = gw
        .audit()
        .iter()
        .find(|e| e["kind"] == "mandate_granted")
        .and_then(|e| e["mandate"].as_str().map(str::to_owned))
        .unwrap();
    gw.ok(&[
        "revoke",
        &mandate,
        "--by",
        "sec@corp",
        "--reason",
        "left the team",
    ]);

    // The next call is refused; refreshing dies with the mandate; connect asks again.
    let held = tokio::spawn(async move { lookup(&client, "cus_001").await });
    let said = connect.line_containing("refused the access token").await;
    assert!(
        said.contains(&mandate) && said.contains("revoked"),
        "{said}"
    );
    connect.line_containing("signing in again").await;
    let url = authorize_url(&mut connect).await;
    // This time the human says no.
    let location = consent(&url, &[]).await;
    let landed = browser_lands(&location).await;
    assert_eq!(landed.status, 200);
    assert!(landed.body.contains("not approved"));
    let refused = error_of(held.await.unwrap());
    assert!(
        refused.message.contains("revoked") && refused.message.contains("denied consent"),
        "{refused:?}"
    );
    assert_eq!(count(&gw, "consent_refused"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_access_token_past_its_stated_expiry_is_refreshed_before_it_is_sent() {
    let gw = gateway_with_user("");
    let creds = gw.dir.path().join("connect.json");
    login(&gw, creds.to_str().unwrap()).await;
    let mut expired = stored(&creds);
    expired["expires_at"] = 0.into();
    std::fs::write(&creds, expired.to_string()).unwrap();

    let mut connect = Connect::spawn(&[&gw.url(), "--credentials", creds.to_str().unwrap()]);
    let client = connect.client().await;
    assert_eq!(
        lookup(&client, "cus_001").await.unwrap().is_error,
        Some(false)
    );
    drop(client);
    let refreshed = stored(&creds);
    assert_ne!(refreshed["access_token"], expired["access_token"]);
    assert_ne!(
        refreshed["refresh_token"], expired["refresh_token"],
        "rotated and kept"
    );
    assert!(refreshed["expires_at"].as_u64().unwrap() > 0);
    // Refreshed ahead: the gateway never had to refuse the old token.
    assert!(
        !connect.stderr().contains("refused"),
        "{}",
        connect.stderr()
    );
    let refusals = gw
        .audit()
        .iter()
        .filter(|e| e["kind"] == "decided" && e["decision"] == "deny")
        .count();
    assert_eq!(refusals, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sign_in_gives_up_when_the_browser_never_comes_back() {
    let gw = gateway_with_user("");
    let creds = gw.dir.path().join("connect.json");
    let out = std::process::Command::new(BIN)
        .args(["connect", &gw.url(), "--login", "--login-timeout", "1s"])
        .arg("--credentials")
        .arg(&creds)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("/oauth/authorize?"), "{stderr}");
    assert!(
        stderr.contains("timed out after 1s waiting for the browser"),
        "{stderr}"
    );
    assert!(!creds.exists());
}
