//! Interop: the official MCP Python SDK client (`mcp` from PyPI, pinned in scripts/test)
//! does discovery, dynamic registration and the OAuth flow against a real `mandate serve`,
//! lists tools, calls the approved one and sees a denial as an error.
//!
//! The interpreter is `$MANDATE_INTEROP_PYTHON` (scripts/test builds a venv under target/
//! and installs `mcp` there), else `python3`. Only when `mcp` cannot be imported does the
//! test skip, loudly.

use crate::oauth_support::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn python() -> Option<String> {
    let python = std::env::var("MANDATE_INTEROP_PYTHON").unwrap_or_else(|_| "python3".into());
    let importable = Command::new(&python)
        .args(["-c", "import mcp.client.auth"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if importable {
        return Some(python);
    }
    eprintln!(
        "\n{bar}\nSKIPPED: the MCP Python SDK interop test: `{python}` cannot import `mcp`.\n\
         Run ./scripts/test (it installs `mcp` into target/interop-venv), or set\n\
         MANDATE_INTEROP_PYTHON to an interpreter that has `mcp>=2.3,<3`.\n{bar}\n",
        bar = "!".repeat(78)
    );
    None
}

#[test]
fn the_python_sdk_client_gets_a_token_through_consent_and_calls_tools() {
    let Some(python) = python() else { return };
    let gw = gateway_with_user("");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/python_oauth.py");
    let mut child = Command::new(&python)
        .arg(script)
        .args([
            &gw.url(),
            "alice@corp",
            PASSWORD,
            "bot",
            "crm.lookup_customer",
            "crm.update_customer",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("PASS"),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    eprintln!("{stdout}");
    assert!(
        stdout.contains("-> error -32003"),
        "the denial is a JSON-RPC error: {stdout}"
    );

    // What the gateway recorded: the client registered, alice granted, the token went to the
    // client, the approved call was allowed and the other denied.
    let audit = gw.audit();
    let registered = audit
        .iter()
        .find(|e| e["kind"] == "client_registered")
        .unwrap();
    assert_eq!(
        registered["detail"]["client_name"],
        "mcp python sdk interop"
    );
    let granted = audit
        .iter()
        .find(|e| e["kind"] == "mandate_granted")
        .unwrap();
    assert_eq!(granted["human"], "alice@corp");
    assert_eq!(granted["detail"]["purpose"], "python sdk interop");
    let issued = audit.iter().find(|e| e["kind"] == "token_issued").unwrap();
    assert_eq!(
        issued["detail"]["client_id"],
        registered["detail"]["client_id"]
    );
    let decided = |tool: &str| {
        audit
            .iter()
            .find(|e| e["kind"] == "decided" && e["tool"] == tool)
            .map(|e| e["decision"].clone())
    };
    assert_eq!(decided("crm.lookup_customer"), Some("allow".into()));
    assert_eq!(decided("crm.update_customer"), Some("deny".into()));
}
