//! Adversarial tokens at the gateway's door: each is refused with 401 and `WWW-Authenticate: Bearer`.

use crate::support::*;
use base64::Engine as _;

const LIST: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"}}}}"#;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

async fn refused(gw: &Gateway, token: Option<&str>) -> String {
    let (status, headers, body) = post_raw(
        &gw.url(),
        token,
        LIST,
        &[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/list"),
        ],
    )
    .await;
    assert_eq!(status, 401, "{body}");
    let challenge = headers
        .get("www-authenticate")
        .expect("WWW-Authenticate")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    challenge
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_tokens_are_refused() {
    let gw = Gateway::start(Upstream::Stdio);
    gw.add_agent("bot");
    let (mandate, token) = gw.grant("bot", "crm.lookup_customer", "read", &[]);

    // No token: a bare challenge (RFC 6750 §3).
    let bare = refused(&gw, None).await;
    assert!(!bare.contains("error="), "{bare}");
    // Garbage.
    assert!(
        refused(&gw, Some("not-a-jwt"))
            .await
            .contains("invalid_token")
    );

    let parts: Vec<&str> = token.split('.').collect();
    let payload: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .unwrap(),
    )
    .unwrap();
    // alg none, otherwise valid claims.
    let none = format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), parts[1]);
    refused(&gw, Some(&none)).await;
    // HS256 signed with a guessable secret (the public key material is public).
    let hs = format!(
        "{}.{}.{}",
        b64(br#"{"alg":"HS256","typ":"JWT"}"#),
        parts[1],
        parts[2]
    );
    refused(&gw, Some(&hs)).await;
    // A widened payload under the original signature.
    let mut widened = payload.clone();
    widened["sub"] = "admin-bot".into();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(widened.to_string().as_bytes()),
        parts[2]
    );
    refused(&gw, Some(&tampered)).await;

    // Signed by another gateway's key (another data dir).
    let other = Gateway::start(Upstream::Stdio);
    other.add_agent("bot");
    let (_, foreign) = other.grant("bot", "crm.lookup_customer", "read", &[]);
    refused(&gw, Some(&foreign)).await;

    // Our key, but minted for another audience and issuer.
    let elsewhere = gw.dir.path().join("elsewhere.toml");
    std::fs::write(
        &elsewhere,
        std::fs::read_to_string(&gw.config).unwrap().replacen(
            "listen",
            "public_url = \"https://other.example\"\nlisten",
            1,
        ),
    )
    .unwrap();
    let out = std::process::Command::new(BIN)
        .args(["token", "--mandate", &mandate, "--config"])
        .arg(&elsewhere)
        .arg("--data-dir")
        .arg(gw.data_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wrong_aud = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    refused(&gw, Some(&wrong_aud)).await;

    // The real token still works.
    let (status, _, body) = post_raw(
        &gw.url(),
        Some(&token),
        LIST,
        &[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/list"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("crm.lookup_customer"));
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_tokens_and_expired_mandates_are_refused() {
    let gw = Gateway::start_with(Upstream::Stdio, "token_ttl = \"1s\"");
    gw.add_agent("bot");
    let (_, short_token) = gw.grant("bot", "crm.lookup_customer", "read", &[]);
    let out = gw.ok(&[
        "grant",
        "--human",
        "alice@corp",
        "--agent",
        "bot",
        "--tools",
        "crm.lookup_customer",
        "--expires",
        "1s",
        "--purpose",
        "p",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let (short_mandate, short_mandate_token) = (
        v["mandate"]["id"].as_str().unwrap().to_owned(),
        v["token"].as_str().unwrap().to_owned(),
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    refused(&gw, Some(&short_token)).await;
    refused(&gw, Some(&short_mandate_token)).await;
    // A fresh token for an expired mandate is not issued at all.
    let out = gw.mandate(&["token", "--mandate", &short_mandate]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("expired"));
}
