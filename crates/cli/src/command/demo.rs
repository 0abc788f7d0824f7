//! `mandate demo`: the whole product in under a minute, on the embedded default.
//!
//! Starts a gateway (SQLite, the demo upstream shipped in this binary), grants
//! a mandate from a demo human, plays an agent session through a real MCP
//! client, revokes, and ends with the audit trail and its verification.

use anyhow::Context as _;
use mandate_core::{Agent, AgentId, HumanId, Owner, OwnerRole, ToolClass, ToolPattern};
use mandate_gateway::Gateway;
use mandate_gateway::config::GatewayConfig;
use mandate_gateway::governance::GrantRequest;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Arguments of `mandate demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the demo keeps its store (wiped at start, kept afterwards to explore).
    #[arg(long, default_value = "./mandate-demo-data")]
    dir: PathBuf,
}

fn step(text: &str) {
    println!("\n▶ {text}");
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    prepare_dir(&args.dir)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let exe = std::env::current_exe()
        .context("cannot find the mandate binary to start the demo upstream")?;
    let config_text = format!(
        "listen = \"{addr}\"\nnode = \"demo\"\n\n[[upstream]]\nname = \"crm\"\ncommand = [{exe:?}, \"demo-upstream\"]\n\n[tools.\"crm.spawn_worker\"]\nclass = \"orchestrate\"\n\n[approvals]\napprovers = [\"sec@corp\"]\n",
        exe = exe.display().to_string()
    );
    std::fs::write(args.dir.join("mandate.toml"), &config_text)?;
    let config = GatewayConfig::parse(&config_text, &args.dir)?;

    step(&format!(
        "Starting the gateway on http://{addr}/mcp (data in {})",
        args.dir.display()
    ));
    let (gateway, changes) = Gateway::open(config, &args.dir)?;
    let gateway = Arc::new(gateway);
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(mandate_gateway::server::serve(
        Arc::clone(&gateway),
        listener,
        changes,
        shutdown.clone(),
    ));
    wait_for_catalog(&gateway).await?;
    let catalog = gateway.catalog.snapshot();
    for class in ToolClass::ALL {
        let names: Vec<&str> = catalog
            .tools()
            .filter(|t| t.radius.class == class)
            .map(|t| t.name.as_str())
            .collect();
        println!("  {:<12} {}", class.as_str(), names.join(", "));
    }

    step("Registering agent support-bot, owned by ana (business), sec (security), ops (platform)");
    let agent = Agent {
        id: AgentId::new("support-bot")?,
        name: "Support bot".to_owned(),
        owners: vec![
            Owner {
                role: OwnerRole::Business,
                human: HumanId::new("ana@corp")?,
            },
            Owner {
                role: OwnerRole::Security,
                human: HumanId::new("sec@corp")?,
            },
            Owner {
                role: OwnerRole::Platform,
                human: HumanId::new("ops@corp")?,
            },
        ],
        registered_at: mandate_gateway::now(),
    };
    gateway.register_agent(agent, "demo").await?;

    step(
        "alice@corp grants support-bot a mandate: crm.lookup_*, crm.update_customer, crm.purge_customers; ceiling write; 8h; ticket 4521",
    );
    let (mandate, token) = gateway
        .grant(GrantRequest {
            human: HumanId::new("alice@corp")?,
            agent: AgentId::new("support-bot")?,
            tools: ToolPattern::parse_list("crm.lookup_*,crm.update_customer,crm.purge_customers")?,
            ceiling: ToolClass::Write,
            constraints: Vec::new(),
            approvals: Vec::new(),
            lasts: Duration::from_secs(8 * 3600),
            purpose: "ticket 4521".to_owned(),
            budget: Some(200),
        })
        .await?;
    println!(
        "  mandate {} · token {}…",
        mandate.id,
        token.token.get(..24).unwrap_or_default()
    );

    step("The agent connects with its token (a real MCP client over streamable HTTP)");
    let client = connect(&format!("http://{addr}/mcp"), &token.token).await?;
    let tools = client.peer().list_all_tools().await?;
    println!(
        "  tools/list shows {} tools: {}",
        tools.len(),
        tools
            .iter()
            .map(|t| t.name.as_ref())
            .collect::<Vec<_>>()
            .join(", ")
    );

    call(
        &client,
        "crm.lookup_customer",
        serde_json::json!({ "id": "cus_002" }),
        "an allowed read",
    )
    .await;
    call(
        &client,
        "crm.update_customer",
        serde_json::json!({ "id": "cus_002", "plan": "enterprise" }),
        "an allowed write",
    )
    .await;
    call(
        &client,
        "crm.send_email",
        serde_json::json!({ "to": "x@example.com", "subject": "hi", "body": "…" }),
        "a tool outside the mandate",
    )
    .await;
    // The destructive call is held for a human's approval; sec@corp, an approver, denies it.
    let decider = Arc::clone(&gateway);
    let denial = tokio::spawn(async move { deny_when_asked(&decider).await });
    call(
        &client,
        "crm.purge_customers",
        serde_json::json!({ "confirm": true }),
        "a destructive tool (organisation policy)",
    )
    .await;
    denial.await??;

    step("sec@corp revokes the mandate");
    gateway
        .revoke(&mandate.id, "sec@corp", "ticket closed")
        .await?;
    call(
        &client,
        "crm.lookup_customer",
        serde_json::json!({ "id": "cus_001" }),
        "a read after revocation",
    )
    .await;
    let _ = client.cancel().await;

    step("The audit trail");
    let events = gateway.store.events(0, 1000).await?;
    for stored in &events {
        println!(
            "  {}",
            super::audit::line(stored.seq, &stored.event()?).replace('\n', "\n  ")
        );
    }
    let head = gateway.store.audit_head().await?;
    let report = mandate_audit::verify(events, head)?;
    println!(
        "\n✔ audit log verified: {} events, hash chain unbroken",
        report.events
    );
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    println!(
        "\nDone in {secs:.1}s. Explore: mandate audit tail --data-dir {dir} · mandate mandates tree --data-dir {dir}",
        secs = started.elapsed().as_secs_f64(),
        dir = args.dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Wipes a previous demo's directory, refusing to touch one that is not a demo's.
fn prepare_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        let ours = dir.join("mandate.db").exists() || std::fs::read_dir(dir)?.next().is_none();
        anyhow::ensure!(
            ours,
            "`{}` exists and is not a demo directory; pass --dir",
            dir.display()
        );
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    Ok(())
}

/// Waits for the held call's approval request and denies it as sec@corp.
async fn deny_when_asked(gateway: &Gateway) -> anyhow::Result<()> {
    for _ in 0..200 {
        if let Some(pending) = gateway.approvals().await?.into_iter().next() {
            println!(
                "  ⏸ {} held for approval {}; sec@corp denies it",
                pending.tool, pending.id
            );
            let by = HumanId::new("sec@corp")?;
            gateway
                .decide_approval(
                    &pending.id,
                    mandate_store::ApprovalVerdict::Deny,
                    &by,
                    "no purges during the demo",
                )
                .await?;
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("the destructive call was not held for approval within 10 s")
}

async fn wait_for_catalog(gateway: &Gateway) -> anyhow::Result<()> {
    for _ in 0..200 {
        if !gateway.catalog.snapshot().is_empty() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("the demo upstream did not list its tools within 10 s")
}

type Client = rmcp::service::RunningService<rmcp::RoleClient, ()>;

async fn connect(url: &str, token: &str) -> anyhow::Result<Client> {
    let config = StreamableHttpClientTransportConfig::with_uri(url).auth_header(token);
    let transport = StreamableHttpClientTransport::with_client(reqwest::Client::new(), config);
    Ok(().serve(transport).await?)
}

async fn call(client: &Client, tool: &str, args: serde_json::Value, what: &str) {
    let mut params = CallToolRequestParams::new(tool.to_owned());
    params.arguments = args.as_object().cloned();
    match client.peer().call_tool(params).await {
        Ok(result) => {
            let text = serde_json::to_string(&result.content).unwrap_or_default();
            let short: String = text.chars().take(90).collect();
            println!("  ✔ {tool} ({what}): ALLOWED → {short}…");
        }
        Err(e) => {
            // A revoked mandate is refused at the door (HTTP 401): show the challenge's reason.
            let why = e
                .auth_challenge()
                .map_or_else(|| e.to_string(), str::to_owned);
            let why = why.split(" ({").next().unwrap_or(&why).to_owned();
            println!("  ✘ {tool} ({what}): DENIED → {why}");
        }
    }
}
