//! nginx as a plain reverse proxy in front of the upstream: the floor of any HTTP hop.
//! A generated `nginx.conf` in a temporary prefix, run in the foreground as
//! `nginx -p DIR -c nginx.conf -g 'daemon off;'`.

use crate::{BenchError, ProcStats};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use tempfile::TempDir;

/// A running nginx proxying every path to one upstream. Stopped when dropped.
#[derive(Debug)]
pub struct Nginx {
    program: PathBuf,
    dir: TempDir,
    child: std::process::Child,
    addr: SocketAddr,
    version: String,
}

impl Nginx {
    /// The nginx executable: `nginx` on `PATH`, else `/usr/sbin/nginx` (Debian puts it
    /// there, outside an ordinary user's `PATH`).
    pub fn find() -> Option<PathBuf> {
        let on_path = std::env::var_os("PATH").into_iter().flat_map(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("nginx"))
                .collect::<Vec<_>>()
        });
        on_path
            .chain(["/usr/sbin/nginx", "/usr/local/sbin/nginx"].map(PathBuf::from))
            .find(|candidate| candidate.is_file())
    }

    /// Starts `program` proxying to `upstream` on a free loopback port, and waits until it
    /// accepts connections.
    pub async fn start(program: &Path, upstream: SocketAddr) -> Result<Self, BenchError> {
        let dir = tempfile::Builder::new()
            .prefix("mandate-bench-nginx")
            .tempdir()
            .map_err(|source| dir_error(Path::new("/tmp"), source))?;
        let build = version_info(program);
        let addr = free_port()?;
        let conf = config(dir.path(), addr, upstream, &build);
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).map_err(|source| dir_error(&conf_path, source))?;
        let child = Command::new(program)
            .arg("-p")
            .arg(dir.path())
            .args(["-c", "nginx.conf", "-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| BenchError::NginxSpawn {
                program: program.to_owned(),
                source,
            })?;
        let mut nginx = Self {
            program: program.to_owned(),
            dir,
            child,
            addr,
            version: build.lines().next().unwrap_or("nginx").trim().to_owned(),
        };
        nginx.wait_ready().await?;
        Ok(nginx)
    }

    /// The proxied MCP endpoint.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// What `nginx -v` said, e.g. `nginx version: nginx/1.22.1`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The processes doing the proxying: the master and its workers.
    pub fn pids(&self) -> Vec<u32> {
        let master = self.child.id();
        let mut pids = vec![master];
        pids.extend(ProcStats::children(master));
        pids
    }

    async fn wait_ready(&mut self) -> Result<(), BenchError> {
        for _ in 0..200 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(BenchError::NginxDown {
                    log: format!("it exited ({status}): {}", self.error_log()),
                });
            }
            // The master listens before it forks its workers: wait for a worker, and a
            // moment more for the others (forked in one loop), so that `pids` names them all.
            if !ProcStats::children(self.child.id()).is_empty()
                && tokio::net::TcpStream::connect(self.addr).await.is_ok()
            {
                tokio::time::sleep(Duration::from_millis(200)).await;
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(BenchError::NginxDown {
            log: format!(
                "nothing listens on {} after 10 s: {}",
                self.addr,
                self.error_log()
            ),
        })
    }

    fn error_log(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(5).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
    }
}

impl Drop for Nginx {
    /// `nginx -s stop` tells the master to stop its workers (killing only the master
    /// would orphan them, still listening); then the master is reaped or killed.
    fn drop(&mut self) {
        let _ = Command::new(&self.program)
            .arg("-p")
            .arg(self.dir.path())
            .args(["-c", "nginx.conf", "-s", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The config: one server proxying everything to `upstream` over HTTP/1.1 keep-alive.
///
/// `worker_processes auto` (one worker per core) because the gateway it is compared
/// with runs a Tokio runtime with one thread per core: both proxies may use every core.
/// Access logging is off (Mandate's record of a call is its audit event, which the
/// comparison is meant to include; nginx's is not) and answers are streamed, not
/// buffered, as Mandate streams them. Client and upstream
/// keep-alive allow far more requests than a run makes, so no connection is re-opened.
/// Temp paths point into the prefix so a non-root user can run it.
fn config(dir: &Path, listen: SocketAddr, upstream: SocketAddr, build: &str) -> String {
    let d = dir.display();
    let mut temp_paths =
        format!("    client_body_temp_path {d}/body;\n    proxy_temp_path {d}/proxy;\n");
    for module in ["fastcgi", "uwsgi", "scgi"] {
        if !build.contains(&format!("--without-http_{module}_module")) {
            temp_paths.push_str(&format!("    {module}_temp_path {d}/{module};\n"));
        }
    }
    format!(
        "# Generated by `mandate bench`: a plain reverse proxy, the floor of any HTTP hop.
worker_processes auto;
worker_rlimit_nofile 8192;
pid {d}/nginx.pid;
error_log {d}/error.log warn;

events {{
    worker_connections 4096;
}}

http {{
    access_log off;
{temp_paths}
    upstream mcp_upstream {{
        server {upstream};
        keepalive 512;
        keepalive_requests 100000000;
        keepalive_timeout 600s;
    }}

    server {{
        listen {listen};
        keepalive_requests 100000000;
        keepalive_timeout 600s;

        location / {{
            proxy_pass http://mcp_upstream;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_set_header Host $http_host;
            proxy_buffering off;
            proxy_request_buffering off;
        }}
    }}
}}
"
    )
}

/// `nginx -V`: the version line and build options (which modules were left out).
fn version_info(program: &Path) -> String {
    Command::new(program)
        .arg("-V")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stderr).into_owned())
        .unwrap_or_default()
}

/// A loopback port free right now (bound and released; nginx binds it next).
fn free_port() -> Result<SocketAddr, BenchError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(BenchError::Port)
}

fn dir_error(path: &Path, source: std::io::Error) -> BenchError {
    BenchError::NginxDir {
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_is_a_plain_keepalive_proxy() {
        let listen: SocketAddr = ([127, 0, 0, 1], 8080).into();
        let upstream: SocketAddr = ([127, 0, 0, 1], 9090).into();
        let conf = config(
            Path::new("/tmp/x"),
            listen,
            upstream,
            "--without-http_scgi_module",
        );
        for line in [
            "listen 127.0.0.1:8080;",
            "server 127.0.0.1:9090;",
            "proxy_http_version 1.1;",
            "proxy_set_header Connection \"\";",
            "proxy_buffering off;",
            "access_log off;",
            "keepalive 512;",
            "fastcgi_temp_path /tmp/x/fastcgi;",
        ] {
            assert!(conf.contains(line), "missing `{line}` in\n{conf}");
        }
        assert!(!conf.contains("scgi_temp_path /tmp/x/scgi"), "{conf}");
    }
}
