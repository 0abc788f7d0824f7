//! A third-party upstream: `@modelcontextprotocol/server-everything` (npm, pinned in
//! scripts/test) behind a real `mandate serve`, over stdio and over streamable HTTP: its tools
//! classified from their annotations and filtered to the mandate, its resources and prompts
//! relayed under `everything.resources` / `everything.prompts`, resource updates relayed.
//!
//! It comes from `$MANDATE_INTEROP_NODE_MODULES` (scripts/test installs it under target/);
//! without it the tests skip, loudly.

use crate::support::*;
use rmcp::model::{
    GetPromptRequestParams, ReadResourceRequestParams, ResourceUpdatedNotificationParam,
    SubscribeRequestParams,
};
use rmcp::service::NotificationContext;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Says so on the real stderr: the test harness captures `eprintln!` of passing tests.
pub fn skip(what: &str) {
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "\n{bar}\nSKIPPED: {what}: the npm peers are not installed.\nRun ./scripts/test \
         (it installs them under target/interop-node) or set MANDATE_INTEROP_NODE_MODULES.\n{bar}\n",
        bar = "!".repeat(78)
    );
}

/// The installed node_modules, if server-everything is in it.
pub fn node_modules() -> Option<String> {
    let modules = std::env::var("MANDATE_INTEROP_NODE_MODULES").ok()?;
    std::path::Path::new(&everything_js(&modules))
        .exists()
        .then_some(modules)
}

pub fn everything_js(modules: &str) -> String {
    format!("{modules}/@modelcontextprotocol/server-everything/dist/index.js")
}

fn stdio_gateway(modules: &str) -> Gateway {
    let js = everything_js(modules);
    let gw = Gateway::start_raw(&format!(
        "[[upstream]]\nname = \"everything\"\ncommand = [\"node\", {js:?}, \"stdio\"]\n"
    ));
    gw.add_agent("bot");
    gw
}

fn names(tools: &[rmcp::model::Tool]) -> Vec<String> {
    tools.iter().map(|t| t.name.to_string()).collect()
}

fn decisions(gw: &Gateway) -> Vec<(String, String)> {
    gw.audit()
        .iter()
        .filter(|e| e["kind"] == "decided")
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            (s("tool"), s("decision"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn server_everything_over_stdio_is_classified_filtered_and_governed() {
    let Some(modules) = node_modules() else {
        return skip("server-everything over stdio");
    };
    let gw = stdio_gateway(&modules);

    // Classified from its own annotations: readOnlyHint tools are reads, the rest writes.
    let catalog = gw.ok(&["tools", "--json"]);
    let catalog: serde_json::Value = serde_json::from_str(&catalog).unwrap();
    let class_of = |name: &str| {
        catalog
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .map(|t| t["class"].as_str().unwrap().to_owned())
    };
    assert_eq!(class_of("everything.echo").as_deref(), Some("read"));
    assert_eq!(class_of("everything.get-sum").as_deref(), Some("read"));
    assert_eq!(
        class_of("everything.toggle-simulated-logging").as_deref(),
        Some("write")
    );

    // The operator's listing names what can be granted besides tools.
    let listing = gw.ok(&["tools"]);
    assert!(listing.contains("RESOURCES AND PROMPTS (2)"), "{listing}");
    assert!(listing.contains("everything.resources") && listing.contains("everything.prompts"));

    // Filtered to the mandate: two reads granted, nothing else visible or callable.
    let (_, token) = gw.grant("bot", "everything.echo,everything.get-sum", "read", &[]);
    let client = client_legacy(&gw.url(), &token).await.unwrap();
    let mut listed = names(&client.list_all_tools().await.unwrap());
    listed.sort();
    assert_eq!(listed, ["everything.echo", "everything.get-sum"]);
    let echoed = call(
        &client,
        "everything.echo",
        serde_json::json!({"message": "hi"}),
    )
    .await
    .unwrap();
    assert_ne!(echoed.is_error, Some(true), "{echoed:?}");
    assert!(format!("{:?}", echoed.content).contains("hi"));
    let sum = call(
        &client,
        "everything.get-sum",
        serde_json::json!({"a": 2, "b": 3}),
    )
    .await
    .unwrap();
    assert!(format!("{:?}", sum.content).contains('5'), "{sum:?}");
    let toggle = call(
        &client,
        "everything.toggle-simulated-logging",
        serde_json::json!({}),
    )
    .await;
    assert_eq!(error_of(toggle).code.0, -32003);

    // Its resources and prompts are not reached by a grant of two tools.
    assert!(client.list_all_resources().await.unwrap().is_empty());
    assert!(client.list_all_prompts().await.unwrap().is_empty());
    let read = client
        .read_resource(ReadResourceRequestParams::new(
            "demo://resource/static/document/architecture.md",
        ))
        .await;
    assert!(read.is_err(), "{read:?}");
    client.cancel().await.unwrap();

    assert_eq!(
        decisions(&gw),
        [
            ("everything.echo".into(), "allow".into()),
            ("everything.get-sum".into(), "allow".into()),
            ("everything.toggle-simulated-logging".into(), "deny".into()),
            ("everything.resources".into(), "deny".into()),
        ]
    );
}

/// Records the resource updates a client receives.
#[derive(Clone)]
struct Watcher(tokio::sync::mpsc::UnboundedSender<String>);

impl ClientHandler for Watcher {
    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let _ = self.0.send(params.uri);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn its_resources_and_prompts_are_relayed_and_audited_where_the_mandate_reaches() {
    let Some(modules) = node_modules() else {
        return skip("server-everything resources and prompts");
    };
    let gw = stdio_gateway(&modules);
    let (mandate, token) = gw.grant(
        "bot",
        "everything.resources,everything.prompts,everything.toggle-subscriber-updates",
        "write",
        &[],
    );
    let config = StreamableHttpClientTransportConfig::with_uri(gw.url()).auth_header(token);
    let transport = StreamableHttpClientTransport::with_client(::reqwest::Client::new(), config);
    let (tx, mut updates) = tokio::sync::mpsc::unbounded_channel();
    let client = Watcher(tx).serve(transport).await.unwrap();

    let resources = client.list_all_resources().await.unwrap();
    let document = resources
        .iter()
        .find(|r| r.uri.starts_with("demo://resource/static/document/"))
        .unwrap_or_else(|| panic!("no static document among {resources:?}"));
    let read = client
        .read_resource(ReadResourceRequestParams::new(document.uri.clone()))
        .await
        .unwrap();
    assert!(!read.contents.is_empty());
    let templates = client.list_all_resource_templates().await.unwrap();
    assert!(!templates.is_empty(), "templates are relayed");
    // A templated URI nobody listed routes by its template.
    let dynamic = client
        .read_resource(ReadResourceRequestParams::new(
            "demo://resource/dynamic/text/7",
        ))
        .await
        .unwrap();
    assert!(format!("{dynamic:?}").contains('7'));

    // Prompts carry the upstream's name, like tools.
    let prompts = names_of_prompts(&client.list_all_prompts().await.unwrap());
    assert!(
        prompts.contains(&"everything.simple-prompt".to_owned()),
        "{prompts:?}"
    );
    let prompt = client
        .get_prompt(GetPromptRequestParams::new("everything.simple-prompt"))
        .await
        .unwrap();
    assert!(!prompt.messages.is_empty());
    let unknown = client
        .get_prompt(GetPromptRequestParams::new("nowhere.simple-prompt"))
        .await;
    assert!(unknown.is_err());

    // A subscription: the upstream's updates reach the subscribed agent through Mandate.
    #[allow(deprecated)]
    client
        .subscribe(SubscribeRequestParams::new(document.uri.clone()))
        .await
        .unwrap();
    let toggled = client
        .call_tool(rmcp::model::CallToolRequestParams::new(
            "everything.toggle-subscriber-updates",
        ))
        .await
        .unwrap();
    assert_ne!(toggled.is_error, Some(true), "{toggled:?}");
    // server-everything sends an update every 5 s per subscribed URI.
    let update = tokio::time::timeout(Duration::from_secs(20), updates.recv())
        .await
        .expect("no resource update was relayed");
    assert_eq!(update.as_deref(), Some(document.uri.as_str()));
    client.cancel().await.unwrap();

    // Each read, fetch and subscription was decided and completed, under the mandate.
    let audit = gw.audit();
    let relayed: Vec<_> = audit
        .iter()
        .filter(|e| e["kind"] == "decided" && e["detail"]["method"].is_string())
        .collect();
    let methods: Vec<&str> = relayed
        .iter()
        .map(|e| e["detail"]["method"].as_str().unwrap())
        .collect();
    assert_eq!(
        methods,
        [
            "resources/read",
            "resources/read",
            "prompts/get",
            "resources/subscribe"
        ]
    );
    for e in &relayed {
        assert_eq!(e["decision"], "allow");
        assert_eq!(e["mandate"], mandate.as_str());
        let seq = e["seq"].as_u64().unwrap();
        assert!(
            audit
                .iter()
                .any(|c| c["kind"] == "completed" && c["detail"]["decided_seq"] == seq),
            "no completion for {e}"
        );
    }
    assert_eq!(relayed[0]["tool"], "everything.resources");
    assert_eq!(relayed[2]["tool"], "everything.prompts");
}

fn names_of_prompts(prompts: &[rmcp::model::Prompt]) -> Vec<String> {
    prompts.iter().map(|p| p.name.clone()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn server_everything_over_streamable_http_is_governed_the_same() {
    let Some(modules) = node_modules() else {
        return skip("server-everything over streamable HTTP");
    };
    let port = free_port();
    let mut upstream = Command::new("node")
        .args([everything_js(&modules).as_str(), "streamableHttp"])
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_port(port);
    let gw = Gateway::start_raw(&format!(
        "[[upstream]]\nname = \"everything\"\nurl = \"http://127.0.0.1:{port}/mcp\"\n"
    ));
    gw.add_agent("bot");
    let (_, token) = gw.grant("bot", "everything.echo", "read", &[]);
    let client = client_legacy(&gw.url(), &token).await.unwrap();
    assert_eq!(
        names(&client.list_all_tools().await.unwrap()),
        ["everything.echo"]
    );
    let echoed = call(
        &client,
        "everything.echo",
        serde_json::json!({"message": "over http"}),
    )
    .await
    .unwrap();
    assert!(format!("{:?}", echoed.content).contains("over http"));
    let denied = call(&client, "everything.get-env", serde_json::json!({})).await;
    assert_eq!(error_of(denied).code.0, -32003);
    client.cancel().await.unwrap();
    let _ = upstream.kill();
    let _ = upstream.wait();
    // The echo went by the direct sender, in the session server-everything gave rmcp.
    let log = std::fs::read_to_string(gw.dir.path().join("serve.log")).unwrap();
    assert!(log.contains(crate::upstream_direct::SENT_DIRECTLY), "{log}");
    assert_eq!(
        decisions(&gw),
        [
            ("everything.echo".into(), "allow".into()),
            ("everything.get-env".into(), "deny".into()),
        ]
    );
}

/// Waits (bounded) until something listens on the port.
pub fn wait_port(port: u16) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing listens on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_human_can_grant_an_upstreams_resources_on_the_consent_page() {
    use crate::oauth_support::{Flow, PASSWORD, add_user};
    let Some(modules) = node_modules() else {
        return skip("server-everything resources through consent");
    };
    let gw = stdio_gateway(&modules);
    add_user(&gw, "alice@corp", PASSWORD);
    let mut flow = Flow::new(&gw).await;
    flow.scope = "everything.*".to_owned();
    let (request, consent, cookie) = flow.to_consent().await;
    // Offered beside the tools, in the read group, under their governed names.
    for offered in [
        "everything.resources",
        "everything.prompts",
        "everything.echo",
    ] {
        assert!(
            consent.body.contains(offered),
            "{offered} not offered:\n{}",
            consent.body
        );
    }
    let (_, query) = flow
        .approve(&request, &consent, &cookie, &["everything.resources"])
        .await
        .redirect();
    let (status, tokens) = flow.redeem(&query["code"], &flow.verifier).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["scope"], "everything.resources");
    let client = client_legacy(&gw.url(), tokens["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert!(!client.list_all_resources().await.unwrap().is_empty());
    assert!(client.list_all_prompts().await.unwrap().is_empty());
    assert!(client.list_all_tools().await.unwrap().is_empty());
    client.cancel().await.unwrap();
}
