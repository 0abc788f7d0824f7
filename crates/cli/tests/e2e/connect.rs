//! `mandate connect` with a token file: real MCP clients launch it as a local stdio server
//! and reach a real `mandate serve` through it; what they get is what the gateway said.
//!
//! The Python SDK client comes from `$MANDATE_INTEROP_PYTHON` (scripts/test installs it);
//! that test skips, loudly, when the SDK cannot be loaded.

use crate::support::*;
use rmcp::ServiceExt as _;
use rmcp::transport::TokioChildProcess;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncBufReadExt as _;

const SCRIPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop");
pub const APPROVED: &str = "crm.lookup_customer";
pub const DENIED: &str = "crm.update_customer";

/// A running `mandate connect`: its MCP side (stdin/stdout) and what it says on stderr.
pub struct Connect {
    transport: Option<TokioChildProcess>,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
    log: Arc<Mutex<String>>,
}

impl Connect {
    pub fn spawn(args: &[&str]) -> Self {
        let mut command = tokio::process::Command::new(BIN);
        command.arg("connect").args(args);
        let (transport, stderr) = TokioChildProcess::builder(command)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = tokio::sync::mpsc::unbounded_channel();
        let log = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&log);
        let mut stderr = tokio::io::BufReader::new(stderr.unwrap()).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stderr.next_line().await {
                sink.lock().unwrap().push_str(&format!("{line}\n"));
                let _ = tx.send(line);
            }
        });
        Self {
            transport: Some(transport),
            lines,
            log,
        }
    }

    /// The next stderr line that contains `text` (bounded: connect must say it).
    pub async fn line_containing(&mut self, text: &str) -> String {
        let wait = async {
            while let Some(line) = self.lines.recv().await {
                if line.contains(text) {
                    return line;
                }
            }
            panic!("connect exited without saying {text:?}");
        };
        match tokio::time::timeout(Duration::from_secs(60), wait).await {
            Ok(line) => line,
            Err(_) => panic!("connect did not say {text:?}; stderr:\n{}", self.stderr()),
        }
    }

    /// Everything connect has written to stderr so far.
    pub fn stderr(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// An MCP client on connect's stdin/stdout (initialize done).
    pub async fn client(&mut self) -> Client {
        let transport = self.transport.take().unwrap();
        match ().serve(transport).await {
            Ok(client) => client,
            Err(e) => panic!("initialize through connect failed: {e}\n{}", self.stderr()),
        }
    }

    /// Initializes, expecting it to fail; returns what connect said on stderr.
    pub async fn initialize_fails(&mut self) -> String {
        let transport = self.transport.take().unwrap();
        let result = ().serve(transport).await;
        assert!(result.is_err(), "initialize should have failed");
        // Connect writes its reason before its answer; read to its exit.
        while self.lines.recv().await.is_some() {}
        self.stderr()
    }
}

pub fn write_token(gw: &Gateway, name: &str, token: &str) -> String {
    let path = gw.dir.path().join(name);
    // Surrounding whitespace, as an editor or `echo` leaves it: connect trims.
    std::fs::write(&path, format!("  {token}\n")).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Runs `mandate connect` to its end with no client; returns (success, stderr).
fn connect_exits(args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN)
        .arg("connect")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.stdout.is_empty(), "stdout is the MCP channel");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_python_sdk_stdio_client_launches_connect_and_calls_through_mandate() {
    let python = std::env::var("MANDATE_INTEROP_PYTHON").unwrap_or_else(|_| "python3".into());
    let loads = Command::new(&python)
        .args(["-c", "import mcp.client.stdio"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !loads {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "\n{bar}\nSKIPPED: the connect interop test: `{python}` cannot import `mcp`.\n\
             Run ./scripts/test (it installs mcp==2.3.0 into target/interop-venv), or set\n\
             MANDATE_INTEROP_PYTHON to an interpreter that has it.\n{bar}\n",
            bar = "!".repeat(78)
        );
        return;
    }
    let gw = Gateway::start(Upstream::Stdio);
    gw.add_agent("bot");
    let (_, token) = gw.grant("bot", APPROVED, "read", &[]);
    let token_file = write_token(&gw, "bot.token", &token);
    let out = Command::new(&python)
        .arg(format!("{SCRIPTS}/python_connect.py"))
        .args([BIN, &gw.url(), &token_file, APPROVED, DENIED])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("PASS"),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("initialized with mandate"), "{stdout}");
    assert!(
        stdout.contains(&format!("{DENIED} -> error -32003: "))
            && stdout.contains(&format!("has no grant for tool `{DENIED}`")),
        "the gateway's denial and its reason reach the client: {stdout}"
    );
    assert!(stdout.contains("'decision': 'deny'"), "{stdout}");

    // The gateway decided both calls, and only the allowed one reached the upstream.
    let audit = gw.audit();
    let decided = |tool: &str| {
        audit
            .iter()
            .find(|e| e["kind"] == "decided" && e["tool"] == tool)
            .map(|e| e["decision"].clone())
    };
    assert_eq!(decided(APPROVED), Some("allow".into()));
    assert_eq!(decided(DENIED), Some("deny".into()));
    assert_eq!(gw.upstream_calls().len(), 1, "{:?}", gw.upstream_calls());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_denial_through_connect_is_the_gateways_error_unchanged() {
    let gw = Gateway::start(Upstream::Stdio);
    gw.add_agent("bot");
    let (_, token) = gw.grant("bot", APPROVED, "read", &[]);
    let token_file = write_token(&gw, "bot.token", &token);
    let args = serde_json::json!({"id": "cus_001", "email": "x@example.com"});

    let direct = client_legacy(&gw.url(), &token).await.unwrap();
    let direct_denial = error_of(call(&direct, DENIED, args.clone()).await);
    let direct_result = lookup(&direct, "cus_001").await.unwrap();

    let mut connect = Connect::spawn(&[&gw.url(), "--token-file", &token_file]);
    let bridged = connect.client().await;
    let info = bridged.peer_info().unwrap();
    assert_eq!(info.server_info.as_ref().unwrap().name, "mandate");
    let bridged_denial = error_of(call(&bridged, DENIED, args).await);
    assert_eq!(
        bridged_denial, direct_denial,
        "code, message and data as sent"
    );
    assert_eq!(bridged_denial.code.0, -32003);
    assert_eq!(
        lookup(&bridged, "cus_001").await.unwrap(),
        direct_result,
        "results pass through unchanged"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_token_file_is_read_again_when_the_gateway_refuses_the_old_token() {
    let gw = Gateway::start(Upstream::Stdio);
    gw.add_agent("bot");
    let (first, token) = gw.grant("bot", APPROVED, "read", &[]);
    let token_file = write_token(&gw, "bot.token", &token);
    let mut connect = Connect::spawn(&[&gw.url(), "--token-file", &token_file]);
    let client = connect.client().await;
    assert_eq!(
        lookup(&client, "cus_001").await.unwrap().is_error,
        Some(false)
    );

    // The operator revokes the mandate and puts a new one's token in the file: the next
    // call is refused with the old token, connect reads the file again and retries.
    gw.ok(&["revoke", &first, "--by", "sec@corp", "--reason", "rotation"]);
    let (second, token) = gw.grant("bot", APPROVED, "read", &[]);
    write_token(&gw, "bot.token", &token);
    assert_eq!(
        lookup(&client, "cus_001").await.unwrap().is_error,
        Some(false)
    );
    connect.line_containing("using the new one in").await;

    // Revoked again and nothing new in the file: the client hears why, and so does stderr.
    gw.ok(&["revoke", &second, "--by", "sec@corp", "--reason", "done"]);
    let refused = error_of(lookup(&client, "cus_001").await);
    assert!(
        refused.message.contains("the gateway refused the token in")
            && refused.message.contains(&second)
            && refused.message.contains("put a fresh token in the file"),
        "{refused:?}"
    );
    let said = connect.line_containing("refused the token in").await;
    assert!(said.contains(&token_file), "{said}");
    // The gateway audited the refused attempt (what a dead mandate tried) and forwarded nothing.
    let audit = gw.audit();
    let under_second = |decision: &str| {
        audit
            .iter()
            .filter(|e| {
                e["kind"] == "decided"
                    && e["mandate"] == second.as_str()
                    && e["decision"] == decision
            })
            .count()
    };
    assert_eq!(under_second("allow"), 1);
    assert_eq!(under_second("deny"), 1, "one attempt, no blind retry");
    assert_eq!(gw.upstream_calls().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_explains_a_bad_url_a_missing_token_file_and_an_unreachable_gateway() {
    let (ok, stderr) = connect_exits(&["not a url", "--token-file", "/nonexistent"]);
    assert!(!ok);
    assert!(stderr.contains("`not a url` is not a URL"), "{stderr}");

    let (ok, stderr) = connect_exits(&["ftp://gw.example/mcp", "--token-file", "/x"]);
    assert!(!ok);
    assert!(stderr.contains("is not an http(s) URL"), "{stderr}");

    let (ok, stderr) = connect_exits(&["http://127.0.0.1:9/mcp", "--token-file", "/nonexistent/t"]);
    assert!(!ok);
    assert!(
        stderr.contains("cannot read the token file `/nonexistent/t`"),
        "{stderr}"
    );

    // Nobody listens: the client's initialize gets an error, stderr says why.
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("t");
    std::fs::write(&token_file, "some-token").unwrap();
    let dead = format!("http://127.0.0.1:{}/mcp", free_port());
    let mut connect = Connect::spawn(&[&dead, "--token-file", token_file.to_str().unwrap()]);
    let stderr = connect.initialize_fails().await;
    assert!(
        stderr.contains(&format!("cannot reach the gateway at {dead}")),
        "{stderr}"
    );

    // OAuth mode finds out at discovery, before any browser is involved.
    let creds = dir.path().join("creds.json");
    let (ok, stderr) = connect_exits(&[&dead, "--login", "--credentials", creds.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        stderr.contains(&format!("cannot reach the gateway at {dead}")),
        "{stderr}"
    );
    assert!(!stderr.contains("/oauth/authorize"), "{stderr}");
}
