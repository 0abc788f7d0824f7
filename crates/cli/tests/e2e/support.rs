//! The harness: start `mandate serve` on a fresh data dir, run CLI commands against it,
//! connect real MCP clients with a token.

use rmcp::model::{CallToolRequestParams, CallToolResult, ProtocolVersion};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_mandate");

/// How the gateway reaches the demo upstream.
pub enum Upstream {
    Stdio,
    /// A stdio child with extra `demo-upstream` arguments.
    StdioWith(&'static [&'static str]),
    /// A separate `mandate demo-upstream --http` process.
    Http,
}

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

pub struct Gateway {
    pub dir: TempDir,
    pub port: u16,
    pub config: PathBuf,
    serve: Option<Child>,
    upstream: Option<Child>,
}

impl Gateway {
    pub fn start(upstream: Upstream) -> Self {
        Self::start_with(upstream, "")
    }

    /// Starts with extra top-level config lines (e.g. `max_body_bytes = 1000`).
    pub fn start_with(upstream: Upstream, extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let (upstream_lines, upstream_child) = match upstream {
            Upstream::Stdio | Upstream::StdioWith(_) => {
                let extra: &[&str] = match upstream {
                    Upstream::StdioWith(extra) => extra,
                    _ => &[],
                };
                let extra: String = extra.iter().map(|a| format!(", {a:?}")).collect();
                let log = dir.path().join("calls.log");
                (
                    format!(
                        "command = [{BIN:?}, \"demo-upstream\", \"--call-log\", {log:?}{extra}]"
                    ),
                    None,
                )
            }
            Upstream::Http => {
                let up_port = free_port();
                let child = Command::new(BIN)
                    .args(["demo-upstream", "--http", &format!("127.0.0.1:{up_port}")])
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap();
                wait_http(&format!("http://127.0.0.1:{up_port}/mcp"), false);
                (
                    format!("url = \"http://127.0.0.1:{up_port}/mcp\""),
                    Some(child),
                )
            }
        };
        let config = dir.path().join("mandate.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:{port}\"\n{extra}\n[[upstream]]\nname = \"crm\"\n{upstream_lines}\n\n[tools.\"crm.spawn_worker\"]\nclass = \"orchestrate\"\n"
            ),
        )
        .unwrap();
        let mut gw = Self {
            dir,
            port,
            config,
            serve: None,
            upstream: upstream_child,
        };
        gw.run_serve();
        gw
    }

    /// Starts on a config of the test's own: `body` holds its `[[upstream]]` tables and
    /// anything else; the listen address is added.
    pub fn start_raw(body: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = dir.path().join("mandate.toml");
        std::fs::write(&config, format!("listen = \"127.0.0.1:{port}\"\n{body}\n")).unwrap();
        let mut gw = Self {
            dir,
            port,
            config,
            serve: None,
            upstream: None,
        };
        gw.run_serve();
        gw
    }

    fn run_serve(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("serve.log")).unwrap();
        let child = Command::new(BIN)
            .args(["serve", "--config"])
            .arg(&self.config)
            .arg("--data-dir")
            .arg(self.data_dir())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.serve = Some(child);
        wait_http(&format!("{}/healthz", self.base()), true);
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn url(&self) -> String {
        format!("{}/mcp", self.base())
    }

    /// Kills the gateway process abruptly.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.serve.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops the gateway as an operator would (SIGTERM) and waits for it to exit.
    pub fn terminate(&mut self) {
        if let Some(mut c) = self.serve.take() {
            let status = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status()
                .unwrap();
            assert!(status.success());
            let deadline = Instant::now() + Duration::from_secs(30);
            while c.try_wait().unwrap().is_none() {
                assert!(Instant::now() < deadline, "the gateway did not stop");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// Stops the gateway (SIGTERM) and starts it again on the same config and data dir.
    pub fn restart(&mut self) {
        self.terminate();
        self.run_serve();
    }

    /// Kills the HTTP upstream process.
    pub fn kill_upstream(&mut self) {
        if let Some(mut c) = self.upstream.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Runs a `mandate` subcommand against this gateway's config and data dir.
    pub fn mandate(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .arg("--data-dir")
            .arg(self.data_dir())
            .output()
            .unwrap()
    }

    /// Runs a subcommand that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.mandate(args);
        assert!(
            out.status.success(),
            "mandate {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn add_agent(&self, id: &str) {
        self.ok(&[
            "agents",
            "add",
            id,
            "--owner",
            "business=ana@corp",
            "--owner",
            "security=sec@corp",
        ]);
    }

    /// Grants a mandate; returns (mandate id, token).
    pub fn grant(&self, agent: &str, tools: &str, class: &str, extra: &[&str]) -> (String, String) {
        let mut args = vec![
            "grant",
            "--human",
            "alice@corp",
            "--agent",
            agent,
            "--tools",
            tools,
            "--max-class",
            class,
            "--expires",
            "1h",
            "--purpose",
            "test",
            "--json",
        ];
        args.extend_from_slice(extra);
        let out: serde_json::Value = serde_json::from_str(&self.ok(&args)).unwrap();
        (
            out["mandate"]["id"].as_str().unwrap().to_owned(),
            out["token"].as_str().unwrap().to_owned(),
        )
    }

    /// Lines the demo upstream logged, one per call it received (stdio upstream only).
    pub fn upstream_calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Every audit event as JSON, oldest first.
    /// The whole log once it has settled: completions are recorded after the reply, so
    /// read until two reads a moment apart agree (bounded).
    pub fn audit(&self) -> Vec<serde_json::Value> {
        let read = || -> Vec<serde_json::Value> {
            self.ok(&["audit", "tail", "-n", "100000", "--json"])
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        };
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut last = read();
        loop {
            std::thread::sleep(Duration::from_millis(30));
            let now = read();
            if now.len() == last.len() || Instant::now() > deadline {
                return now;
            }
            last = now;
        }
    }
}

impl Gateway {
    /// The seq of the first audit event that mentions `text` (the tools pinned at start
    /// come first, so a test must not count on fixed positions).
    pub fn first_seq_mentioning(&self, text: &str) -> u64 {
        self.audit()
            .iter()
            .find(|e| e.to_string().contains(text))
            .and_then(|e| e["seq"].as_u64())
            .unwrap()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.kill();
        if let Some(mut c) = self.upstream.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_http(url: &str, want_ok: bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let client = reqwest::blocking_free_client();
    while Instant::now() < deadline {
        if let Ok(status) = client(url)
            && (!want_ok || status == 200)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{url} did not come up");
}

/// A tiny blocking GET without pulling in reqwest's blocking feature.
mod reqwest {
    pub fn blocking_free_client() -> impl Fn(&str) -> std::io::Result<u16> {
        |url: &str| {
            use std::io::{Read, Write};
            let rest = url.trim_start_matches("http://");
            let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
            let mut s = std::net::TcpStream::connect(host)?;
            s.set_read_timeout(Some(std::time::Duration::from_secs(2)))?;
            write!(
                s,
                "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
            )?;
            let mut buf = String::new();
            let _ = s.read_to_string(&mut buf);
            let code = buf
                .split_whitespace()
                .nth(1)
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            Ok(code)
        }
    }
}

pub type Client = RunningService<RoleClient, ()>;

/// An rmcp client on the stateful revision (initialize + Mcp-Session-Id).
pub async fn client_legacy(
    url: &str,
    token: &str,
) -> Result<Client, rmcp::service::ClientInitializeError> {
    let config = StreamableHttpClientTransportConfig::with_uri(url).auth_header(token);
    let transport = StreamableHttpClientTransport::with_client(::reqwest::Client::new(), config);
    ().serve(transport).await
}

/// An rmcp client on the stateless revision 2026-07-28 (server/discover, no session).
pub async fn client_stateless(
    url: &str,
    token: &str,
) -> Result<Client, rmcp::service::ClientInitializeError> {
    let config = StreamableHttpClientTransportConfig::with_uri(url).auth_header(token);
    let transport = StreamableHttpClientTransport::with_client(::reqwest::Client::new(), config);
    let mode = ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    };
    ().serve_with_lifecycle(transport, mode).await
}

pub async fn call(
    client: &Client,
    tool: &str,
    args: serde_json::Value,
) -> Result<CallToolResult, rmcp::ServiceError> {
    let mut params = CallToolRequestParams::new(tool.to_owned());
    params.arguments = args.as_object().cloned();
    client.peer().call_tool(params).await
}

/// Calls `crm.lookup_customer` with an `id` (any JSON value, or a `&str`).
pub async fn lookup(
    client: &Client,
    id: impl serde::Serialize,
) -> Result<CallToolResult, rmcp::ServiceError> {
    call(
        client,
        "crm.lookup_customer",
        serde_json::json!({ "id": id }),
    )
    .await
}

/// The JSON-RPC error of a refused call.
pub fn error_of(result: Result<CallToolResult, rmcp::ServiceError>) -> rmcp::ErrorData {
    match result {
        Err(rmcp::ServiceError::McpError(e)) => e,
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    }
}

/// Posts raw JSON-RPC (stateless revision headers) and returns (status, headers, body).
pub async fn post_raw(
    url: &str,
    token: Option<&str>,
    body: impl Into<::reqwest::Body>,
    headers: &[(&str, &str)],
) -> (u16, ::reqwest::header::HeaderMap, String) {
    let mut req = ::reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.body(body).send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.unwrap_or_default())
}

/// Runs `mandate serve` on a config (and extra files beside it) that must be refused at
/// start; returns what it printed on stderr.
pub fn serve_refuses(config: &str, files: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    std::fs::write(dir.path().join("mandate.toml"), config).unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(dir.path().join("mandate.toml"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "serve should have refused {config:?}"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}
