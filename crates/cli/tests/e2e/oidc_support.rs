//! The OpenID Connect tests' peers: a real provider (panva's certified `oidc-provider` from
//! npm, tests/interop/oidc_provider.mjs) and a cookie-keeping HTTP "browser" that submits
//! the provider's own sign-in and consent forms to play the person.
//!
//! [`Idp::start`] skips, loudly, when `$MANDATE_INTEROP_NODE_MODULES` holds no oidc-provider
//! (scripts/test installs it under target/interop-node).

use crate::oauth_support::*;
use crate::support::*;
use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/interop/oidc_provider.mjs"
);
const CLIENT_ID: &str = "mandate-gw";
const CLIENT_SECRET: &str = "idp-client-secret-3f9a";
pub const PROVIDER_NAME: &str = "Test IdP";

/// The provider process; killed on drop.
pub struct Idp {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    pub issuer: String,
    _secret_dir: tempfile::TempDir,
    secret_file: std::path::PathBuf,
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Says so on the real stderr: the test harness captures `eprintln!` of passing tests.
fn skip(modules: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "\n{bar}\nSKIPPED: the OpenID Connect sign-in test: oidc-provider cannot be loaded from\n\
         MANDATE_INTEROP_NODE_MODULES=`{modules}`. Run ./scripts/test (it installs oidc-provider@9.13.3\n\
         under target/interop-node), or point MANDATE_INTEROP_NODE_MODULES at a node_modules holding it.\n{bar}\n",
        bar = "!".repeat(78)
    );
}

impl Idp {
    /// Starts the provider with these accounts (login → claims); `None` when it cannot load.
    pub fn start(accounts: serde_json::Value, options: serde_json::Value) -> Option<Idp> {
        let modules = std::env::var("MANDATE_INTEROP_NODE_MODULES").unwrap_or_default();
        let installed = std::path::Path::new(&modules).join("oidc-provider/lib/index.js");
        if modules.is_empty() || !installed.exists() {
            skip(&modules);
            return None;
        }
        let mut config = serde_json::json!({
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "accounts": accounts,
        });
        for (k, v) in options.as_object().unwrap() {
            config[k] = v.clone();
        }
        let mut child = Command::new("node")
            .arg(SCRIPT)
            .arg(config.to_string())
            .env("MANDATE_INTEROP_NODE_MODULES", &modules)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let secret_dir = tempfile::tempdir().unwrap();
        let secret_file = secret_dir.path().join("idp.secret");
        std::fs::write(&secret_file, format!("{CLIENT_SECRET}\n")).unwrap();
        let mut idp = Idp {
            stdin: child.stdin.take(),
            child,
            lines,
            issuer: String::new(),
            _secret_dir: secret_dir,
            secret_file,
        };
        idp.issuer = idp
            .expect_line("ISSUER ")
            .trim_start_matches("ISSUER ")
            .to_owned();
        Some(idp)
    }

    fn expect_line(&self, prefix: &str) -> String {
        // A bound on a hang, not a timing assertion.
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the provider prints its lines");
        assert!(line.starts_with(prefix), "expected `{prefix}…`, got {line}");
        line
    }

    /// The gateway's `[oauth.oidc]` table for this provider.
    pub fn config(&self) -> String {
        format!(
            "[oauth.oidc]\nissuer = {issuer:?}\nclient_id = {CLIENT_ID:?}\nclient_secret_file = {file:?}\n\
             name = {PROVIDER_NAME:?}\ndanger_http_loopback_issuer = true\n",
            issuer = self.issuer,
            file = self.secret_file,
        )
    }

    /// Registers the gateway's callback as the client's redirect URI; then it serves.
    pub fn ready_for(&mut self, gw: &Gateway) {
        let mut stdin = self.stdin.take().unwrap();
        writeln!(stdin, "{}/oauth/oidc/callback", gw.base()).unwrap();
        self.expect_line("READY");
    }
}

/// A provider and a gateway that knows it, with the agent `bot`.
pub fn start(accounts: serde_json::Value, options: serde_json::Value) -> Option<(Idp, Gateway)> {
    let mut idp = Idp::start(accounts, options)?;
    let gw = gateway_with_user(&idp.config());
    idp.ready_for(&gw);
    Some((idp, gw))
}

pub fn alice(verified: bool) -> serde_json::Value {
    serde_json::json!({ "alice": { "email": "alice@idp.example", "email_verified": verified } })
}

/// An HTTP client that keeps cookies per host and port, follows nothing by itself.
#[derive(Default)]
pub struct Browser {
    pub jars: HashMap<String, HashMap<String, String>>,
}

fn authority(url: &str) -> String {
    ::reqwest::Url::parse(url).unwrap().authority().to_owned()
}

impl Browser {
    async fn send(&mut self, url: &str, form: Option<&[(&str, &str)]>) -> Answer {
        let jar = self.jars.entry(authority(url)).or_default();
        let mut request = match form {
            None => http().get(url),
            Some(pairs) => http()
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(crate::oauth_support::form(pairs)),
        };
        if !jar.is_empty() {
            let cookies: Vec<String> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            request = request.header("cookie", cookies.join("; "));
        }
        let answer = answer(request).await;
        for set in answer.headers.get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let (name, value) = set.split(';').next().unwrap().split_once('=').unwrap();
            if value.is_empty()
                || set.contains("Max-Age=0")
                || set.contains("expires=Thu, 01 Jan 1970")
            {
                jar.remove(name);
            } else {
                jar.insert(name.to_owned(), value.to_owned());
            }
        }
        answer
    }

    pub async fn get(&mut self, url: &str) -> Answer {
        self.send(url, None).await
    }

    pub async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Answer {
        self.send(url, Some(form)).await
    }

    pub fn cookie(&self, url: &str, name: &str) -> Option<String> {
        let jar = self.jars.get(&authority(url))?;
        jar.get(name).map(|v| format!("{name}={v}"))
    }
}

/// The `action` of the page's form.
fn form_action(page: &Answer) -> String {
    let start = page.body.find("action=\"").expect("a form") + "action=\"".len();
    let len = page.body[start..].find('"').unwrap();
    page.body[start..start + len]
        .replace("&#x2F;", "/")
        .replace("&amp;", "&")
}

fn resolve(base: &str, location: &str) -> String {
    ::reqwest::Url::parse(base)
        .unwrap()
        .join(location)
        .unwrap()
        .to_string()
}

/// From the client's authorization request, through the provider's sign-in and consent
/// forms as `login`, to the URL the provider sends the browser back to (not yet visited).
/// Returns (the pending request id, that callback URL).
pub async fn through_provider(
    browser: &mut Browser,
    flow: &Flow<'_>,
    login: &str,
) -> (String, String) {
    let params = flow.params(&[]);
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let page = browser
        .get(&format!(
            "{}/oauth/authorize?{}",
            flow.gw.base(),
            form(&pairs)
        ))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(&format!("Sign in with {PROVIDER_NAME}")),
        "{}",
        page.body
    );
    let request = page.hidden("request");
    let start = format!("{}/oauth/oidc/start", flow.gw.base());
    let mut answer = browser.post(&start, &[("request", &request)]).await;
    let mut here = start;
    let callback = format!("{}/oauth/oidc/callback", flow.gw.base());
    for _ in 0..20 {
        if (300..400).contains(&answer.status) {
            let next = resolve(&here, &answer.header("location").expect("a Location"));
            if next.starts_with(&callback) {
                return (request, next);
            }
            answer = browser.get(&next).await;
            here = next;
            continue;
        }
        assert_eq!(answer.status, 200, "{}", answer.body);
        let action = resolve(&here, &form_action(&answer));
        answer = if answer.body.contains("name=\"prompt\" value=\"login\"") {
            let form = [("prompt", "login"), ("login", login), ("password", "any")];
            browser.post(&action, &form).await
        } else {
            assert!(answer.body.contains("value=\"consent\""), "{}", answer.body);
            browser.post(&action, &[("prompt", "consent")]).await
        };
        here = action;
    }
    panic!("the provider never sent the browser back");
}
