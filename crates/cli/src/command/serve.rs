//! `mandate serve`: run the gateway until interrupted.
//!
//! Binds first, so a taken port fails fast; then builds the catalog and serves.

use crate::context::GlobalArgs;
use anyhow::Context as _;
use mandate_gateway::Gateway;
use mandate_gateway::telemetry::Telemetry;
use std::process::ExitCode;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Arguments of `mandate serve`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_args: Args, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let config = global.load_config()?;
    let (mut gateway, changes) = Gateway::open(config, &global.data_dir)?;
    // Tool-call spans over OTLP when `[otel]` is set; `serve` flushes them when it stops.
    gateway.telemetry = Telemetry::start(gateway.config.otel.as_ref())?;
    let listen = gateway.config.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on `{listen}`"))?;
    let shutdown = CancellationToken::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        on_signal.cancel();
    });
    let gateway = Arc::new(gateway);
    tracing::info!(address = %listen, audience = %gateway.config.audience(), data_dir = %global.data_dir.display(), "mandate gateway listening");
    mandate_gateway::server::serve(gateway, listener, changes, shutdown).await?;
    Ok(ExitCode::SUCCESS)
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
