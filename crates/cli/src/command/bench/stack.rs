//! The processes `mandate bench` measures, each started from this very executable: the
//! demo upstream over HTTP, and a real gateway on a fresh data dir with a granted token.

use anyhow::{Context as _, bail};
use mandate_bench::AuditCheck;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

/// The upstream's name in the gateway's config: its tools are `demo.*` there.
pub const UPSTREAM: &str = "demo";

/// `mandate demo-upstream --http 127.0.0.1:0`, killed when dropped.
pub struct Upstream {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Upstream {
    /// Starts it and reads the address it bound from its `listening on http://…/mcp` line.
    pub async fn start(exe: &Path) -> anyhow::Result<Self> {
        Self::start_with(exe, &[]).await
    }

    /// Like [`Self::start`], with more `demo-upstream` arguments (e.g. `--delay-ms 2`).
    pub async fn start_with(exe: &Path, extra: &[&str]) -> anyhow::Result<Self> {
        let mut child = Command::new(exe)
            .args(["demo-upstream", "--http", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start `{} demo-upstream`", exe.display()))?;
        let stderr = child
            .stderr
            .take()
            .context("no stderr from the demo upstream")?;
        let mut lines = BufReader::new(stderr).lines();
        let addr = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(addr) = listening_on(&line) {
                    return Ok(addr);
                }
            }
            bail!("the demo upstream exited without saying where it listens")
        })
        .await
        .context("the demo upstream did not start within 30 s")??;
        // Keep reading its stderr, so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self { child, addr })
    }

    /// Its MCP endpoint.
    pub fn url(&self) -> String {
        format!("http://{}{}", self.addr, mandate_demo::MCP_PATH)
    }

    /// Its process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Sends it a signal by name (`STOP` to make it hang, `KILL` to make it die).
    pub async fn signal(&self, signal: &str) -> anyhow::Result<()> {
        let pid = self.pid().context("the demo upstream has exited")?;
        let status = Command::new("kill")
            .args([format!("-{signal}"), pid.to_string()])
            .status()
            .await
            .context("cannot run `kill`")?;
        if !status.success() {
            bail!("`kill -{signal} {pid}` failed");
        }
        Ok(())
    }
}

/// `listening on http://127.0.0.1:PORT/mcp` → the address.
fn listening_on(line: &str) -> Option<SocketAddr> {
    let rest = line.split_once("listening on http://")?.1;
    rest.split('/').next()?.parse().ok()
}

/// `mandate serve` on a temporary data dir with the upstream as `demo`.
pub struct Gateway {
    exe: PathBuf,
    dir: tempfile::TempDir,
    config: PathBuf,
    child: Option<Child>,
    port: u16,
}

impl Gateway {
    /// Writes its config, starts it and waits until `/healthz` answers (its catalog is
    /// then built). Logs go to `serve.log` in its directory.
    pub async fn start(exe: &Path, upstream_url: &str) -> anyhow::Result<Self> {
        let mut gateway = Self::prepare(exe, upstream_url)?;
        gateway.launch().await?;
        Ok(gateway)
    }

    /// Writes its config in a fresh directory without starting it, so that its data dir
    /// can be filled first ([`Self::config_path`], [`Self::data_dir`]).
    pub fn prepare(exe: &Path, upstream_url: &str) -> anyhow::Result<Self> {
        let upstream = format!("[[upstream]]\nname = \"{UPSTREAM}\"\nurl = \"{upstream_url}\"\n");
        Self::prepare_with(exe, "", &upstream)
    }

    /// Like [`Self::prepare`] with the config's top-level keys and its upstream tables
    /// given whole (the listen address and token lifetime are added).
    pub fn prepare_with(exe: &Path, top: &str, upstreams: &str) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("mandate-bench")
            .tempdir()
            .context("cannot create a temporary directory")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("cannot find a free port")?
            .port();
        let config = dir.path().join("mandate.toml");
        std::fs::write(
            &config,
            format!(
                "# Written by `mandate bench`. Audit is durable by default.\n\
                 listen = \"127.0.0.1:{port}\"\n\
                 token_ttl = \"2h\"\n{top}\n{upstreams}"
            ),
        )
        .with_context(|| format!("cannot write `{}`", config.display()))?;
        Ok(Self {
            exe: exe.to_owned(),
            dir,
            config,
            child: None,
            port,
        })
    }

    /// Starts `mandate serve` and waits until `/healthz` answers.
    pub async fn launch(&mut self) -> anyhow::Result<()> {
        let log_path = self.dir.path().join("serve.log");
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("cannot create `{}`", log_path.display()))?;
        let child = self
            .command(&["serve"])
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("cannot start `mandate serve`")?;
        self.child = Some(child);
        self.wait_healthy().await
    }

    /// Its config file.
    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// Its data dir (store, keys).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Its MCP endpoint.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/mcp", self.port)
    }

    /// Its process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// Registers the agent `bench` and grants it `tool` for two hours; returns the token.
    pub async fn grant(&self, tool: &str) -> anyhow::Result<String> {
        self.run(&[
            "agents",
            "add",
            "bench",
            "--owner",
            "business=bench@localhost",
            "--owner",
            "security=bench@localhost",
        ])
        .await?;
        let out = self
            .run(&[
                "grant",
                "--human",
                "bench@localhost",
                "--agent",
                "bench",
                "--tools",
                tool,
                "--max-class",
                "read",
                "--expires",
                "2h",
                "--purpose",
                "mandate bench",
                "--json",
            ])
            .await?;
        let granted: serde_json::Value =
            serde_json::from_str(&out).context("`mandate grant --json` printed no JSON")?;
        granted
            .get("token")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .context("`mandate grant --json` printed no token")
    }

    /// Stops it as an operator would (SIGTERM, so it signs its last checkpoint), killing
    /// it after 30 s.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if let Some(pid) = child.id() {
            Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await
                .context("cannot run `kill`")?;
        }
        if tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .is_err()
        {
            child.kill().await.context("cannot kill `mandate serve`")?;
        }
        Ok(())
    }

    /// Counts the `decided` allow events in its log and runs `mandate audit verify`.
    pub async fn audit_check(&self, successful_calls: u64) -> anyhow::Result<AuditCheck> {
        let decided_allow = self
            .count_events(&["--kind", "decided", "--decision", "allow"])
            .await?;
        let (verified, verify_output) = self.verify().await?;
        Ok(AuditCheck {
            decided_allow,
            successful_mandate_calls: successful_calls,
            matches: decided_allow == successful_calls,
            verified,
            verify_output,
        })
    }

    /// How many events of its log `mandate audit query` finds with these filters.
    pub async fn count_events(&self, filters: &[&str]) -> anyhow::Result<u64> {
        let mut args = vec!["audit", "query", "--json"];
        args.extend_from_slice(filters);
        let found = self.run(&args).await?;
        Ok(found.lines().filter(|l| !l.trim().is_empty()).count() as u64)
    }

    /// Runs `mandate audit verify`: whether it passed, and its first line of output.
    pub async fn verify(&self) -> anyhow::Result<(bool, String)> {
        let verify = self.command(&["audit", "verify"]).output().await?;
        let verify_output = String::from_utf8_lossy(&verify.stdout)
            .lines()
            .chain(String::from_utf8_lossy(&verify.stderr).lines())
            .next()
            .unwrap_or("(no output)")
            .to_owned();
        Ok((verify.status.success(), verify_output))
    }

    /// The last lines of its log, for an error message.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default();
        let mut tail: Vec<&str> = log.lines().rev().take(10).collect();
        tail.reverse();
        tail.join("\n")
    }

    async fn wait_healthy(&mut self) -> anyhow::Result<()> {
        let client = reqwest::Client::builder().no_proxy().build()?;
        let health = format!("http://127.0.0.1:{}/healthz", self.port);
        for _ in 0..600 {
            if let Some(child) = &mut self.child
                && let Some(status) = child.try_wait()?
            {
                bail!("`mandate serve` exited ({status}):\n{}", self.log_tail());
            }
            if let Ok(response) = client.get(&health).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!(
            "`mandate serve` did not answer on {health} within 60 s:\n{}",
            self.log_tail()
        )
    }

    /// A `mandate` subcommand against this gateway's config and data dir.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.exe);
        command
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .arg("--data-dir")
            .arg(self.data_dir())
            .stdin(Stdio::null());
        command
    }

    /// Runs a subcommand that must succeed; returns its stdout.
    async fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = self.command(args).output().await?;
        if !out.status.success() {
            bail!(
                "`mandate {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upstream_line_gives_its_address() {
        let line = "listening on http://127.0.0.1:41234/mcp";
        assert_eq!(listening_on(line), Some(([127, 0, 0, 1], 41234).into()));
        assert_eq!(listening_on("warning: something"), None);
    }
}
