//! Interop: the official MCP SDK clients (Python `mcp` from PyPI, TypeScript
//! `@modelcontextprotocol/sdk` from npm; versions pinned in scripts/test) do discovery,
//! dynamic registration and the OAuth flow against a real `mandate serve`, list tools, call
//! the approved one, see a policy denial as an error, and meet a 403 `insufficient_scope`
//! for a tool outside the granted scope: the Python SDK steps up (a second consent, then the
//! call succeeds); the TypeScript SDK (1.32.2) refreshes instead and reports the 403 as an
//! error. The scripts play only the human.
//!
//! Where the SDKs come from: `$MANDATE_INTEROP_PYTHON` (an interpreter with `mcp`; scripts/test
//! builds a venv under target/), else `python3`; `$MANDATE_INTEROP_NODE_MODULES` (a
//! node_modules with the SDK; scripts/test installs one under target/). A test skips, loudly,
//! only when its SDK cannot be loaded.

use crate::oauth_support::*;
use crate::support::Gateway;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SCRIPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop");
const APPROVED: &str = "crm.lookup_customer";
/// Outside the first consent's scope: answered 403 `insufficient_scope`.
const STEP_UP: &str = "crm.update_customer";
/// Approved on the consent page, but the shipped policy wants a human per destructive call.
const DESTRUCTIVE: &str = "crm.purge_customers";

/// What a client SDK does with a scope challenge.
#[derive(Clone, Copy, PartialEq)]
enum StepUp {
    /// Runs the flow again for the wider scope; the retried call succeeds.
    Reauthorizes,
    /// Refreshes its token (same scope) and reports the 403 as an error.
    GivesUp,
}

/// Says so on the real stderr: the test harness captures `eprintln!` of passing tests.
fn skip(what: &str, how: &str) {
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "\n{bar}\nSKIPPED: the {what} interop test: the SDK cannot be loaded.\n{how}\n{bar}\n",
        bar = "!".repeat(78)
    );
}

fn loads(program: &str, args: &[&str], env: &[(&str, String)]) -> bool {
    Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs a client script against a fresh gateway (bounded), then checks what it printed and
/// what the gateway recorded.
fn run(gw: &Gateway, mut command: Command, client_name: &str, step_up: StepUp) {
    let mut child = command
        .args([
            &gw.url(),
            "alice@corp",
            PASSWORD,
            "bot",
            APPROVED,
            STEP_UP,
            DESTRUCTIVE,
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
        stdout.contains(&format!("{DESTRUCTIVE} -> error -32003")),
        "the policy denial is a JSON-RPC error: {stdout}"
    );
    match step_up {
        StepUp::Reauthorizes => assert!(
            stdout.contains(&format!("{STEP_UP} -> ok after step-up")),
            "{stdout}"
        ),
        StepUp::GivesUp => assert!(
            stdout.contains(&format!("{STEP_UP} -> error")) && stdout.contains("403"),
            "{stdout}"
        ),
    }

    // What the gateway recorded: the client registered, alice granted, the token went to
    // the client, the approved call was allowed and the other denied.
    let audit = gw.audit();
    let registered = audit
        .iter()
        .find(|e| e["kind"] == "client_registered")
        .unwrap();
    assert_eq!(registered["detail"]["client_name"], client_name);
    let granted = audit
        .iter()
        .find(|e| e["kind"] == "mandate_granted")
        .unwrap();
    assert_eq!(granted["human"], "alice@corp");
    assert_eq!(
        granted["detail"]["tools"],
        serde_json::json!([APPROVED, DESTRUCTIVE])
    );
    let issued = audit.iter().find(|e| e["kind"] == "token_issued").unwrap();
    assert_eq!(
        issued["detail"]["client_id"],
        registered["detail"]["client_id"]
    );
    let decided = |tool: &str| -> Vec<serde_json::Value> {
        audit
            .iter()
            .filter(|e| e["kind"] == "decided" && e["tool"] == tool)
            .map(|e| e["decision"].clone())
            .collect()
    };
    assert_eq!(decided(APPROVED), ["allow"]);
    assert_eq!(decided(DESTRUCTIVE), ["deny"]);
    // The scope challenge is a recorded denial too, saying how it was answered.
    let challenged = audit
        .iter()
        .find(|e| e["kind"] == "decided" && e["tool"] == STEP_UP)
        .unwrap();
    assert_eq!(challenged["decision"], "deny");
    assert_eq!(challenged["detail"]["answered"], "403 insufficient_scope");
    let grants = audit.iter().filter(|e| e["kind"] == "mandate_granted");
    match step_up {
        StepUp::Reauthorizes => {
            // The second consent is a new mandate, granting the wider scope.
            let last = grants.clone().next_back().unwrap();
            assert_eq!(
                last["detail"]["tools"],
                serde_json::json!([APPROVED, DESTRUCTIVE, STEP_UP])
            );
            assert_eq!(decided(STEP_UP), ["deny", "allow"]);
        }
        StepUp::GivesUp => {
            assert_eq!(grants.count(), 1);
            assert!(decided(STEP_UP).iter().all(|d| d == "deny"));
        }
    }
}

#[test]
fn the_python_sdk_client_gets_a_token_through_consent_and_calls_tools() {
    let python = std::env::var("MANDATE_INTEROP_PYTHON").unwrap_or_else(|_| "python3".into());
    if !loads(&python, &["-c", "import mcp.client.auth"], &[]) {
        let how = format!(
            "`{python}` cannot import `mcp`. Run ./scripts/test (it installs mcp==2.3.0 into\n\
             target/interop-venv), or set MANDATE_INTEROP_PYTHON to an interpreter that has it."
        );
        return skip("MCP Python SDK", &how);
    }
    let gw = gateway_with_user("");
    let mut command = Command::new(&python);
    command.arg(format!("{SCRIPTS}/python_oauth.py"));
    run(&gw, command, "mcp python sdk interop", StepUp::Reauthorizes);
}

#[test]
fn the_typescript_sdk_client_gets_a_token_through_consent_and_calls_tools() {
    let modules = std::env::var("MANDATE_INTEROP_NODE_MODULES").unwrap_or_default();
    let env = [("NODE_PATH", modules.clone())];
    let probe = [
        "-e",
        "require('@modelcontextprotocol/sdk/client/streamableHttp.js')",
    ];
    if modules.is_empty() || !loads("node", &probe, &env) {
        let how = format!(
            "node cannot load @modelcontextprotocol/sdk from MANDATE_INTEROP_NODE_MODULES=`{modules}`.\n\
             Run ./scripts/test (it installs @modelcontextprotocol/sdk@1.32.2 under target/interop-node)."
        );
        return skip("MCP TypeScript SDK", &how);
    }
    let gw = gateway_with_user("");
    let mut command = Command::new("node");
    command
        .arg(format!("{SCRIPTS}/typescript_oauth.cjs"))
        .env("NODE_PATH", &modules);
    run(&gw, command, "mcp typescript sdk interop", StepUp::GivesUp);
}
