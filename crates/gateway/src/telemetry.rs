//! OpenTelemetry tracing of tool calls: one `execute_tool {tool}` span per `tools/call`,
//! exported over OTLP/HTTP (protobuf) when `[otel]` is configured, and nothing at all when not.
//!
//! The OpenTelemetry API is used directly, not through `tracing-opentelemetry`: the span's
//! name, kind, remote parent and attributes come from the semantic conventions, and the
//! gateway's logs and exported traces stay independent (see `docs/architecture.md`).

mod span;

use crate::config::OtelConfig;
use opentelemetry::InstrumentationScope;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracer, SdkTracerProvider, SpanData, SpanExporter,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub use span::ToolSpan;

/// How long a graceful shutdown waits for the last spans to reach the collector.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Why tracing could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter could not be built from the configuration.
    #[error("cannot set up the OTLP exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
}

/// The gateway's tracing handle: off (no exporter, every span a no-op) unless `[otel]` is set.
#[derive(Debug, Clone, Default)]
pub struct Telemetry {
    on: Option<On>,
}

#[derive(Debug, Clone)]
struct On {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
}

impl Telemetry {
    /// A handle that records nothing.
    pub fn off() -> Self {
        Self::default()
    }

    /// Starts exporting when `config` is given: a batch processor thread and an OTLP/HTTP exporter.
    /// Contacts no collector yet.
    pub fn start(config: Option<&OtelConfig>) -> Result<Self, TelemetryError> {
        let Some(config) = config else {
            return Ok(Self::off());
        };
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(config.traces_url.clone())
            .build()?;
        let mut batch = BatchConfigBuilder::default();
        if let Some(interval) = config.export_interval {
            batch = batch.with_scheduled_delay(interval);
        }
        let processor = BatchSpanProcessor::builder(WarnOnFailure::new(exporter))
            .with_batch_config(batch.build())
            .build();
        let resource = Resource::builder()
            .with_service_name(config.service_name.clone())
            .with_attribute(opentelemetry::KeyValue::new(
                "service.version",
                env!("CARGO_PKG_VERSION"),
            ))
            .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_resource(resource)
            .build();
        let scope = InstrumentationScope::builder("mandate-gateway")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        let tracer = provider.tracer_with_scope(scope);
        tracing::info!(endpoint = %config.traces_url, "exporting tool-call spans over OTLP");
        Ok(Self {
            on: Some(On { provider, tracer }),
        })
    }

    /// Whether spans are recorded at all.
    pub fn is_on(&self) -> bool {
        self.on.is_some()
    }

    /// Sends the spans still queued and stops the exporter, waiting a bounded time.
    pub async fn shutdown(&self) {
        let Some(on) = self.on.clone() else {
            return;
        };
        // The SDK's shutdown blocks until the processor thread has exported; keep it off the runtime.
        let done =
            tokio::task::spawn_blocking(move || on.provider.shutdown_with_timeout(SHUTDOWN_GRACE))
                .await;
        match done {
            Ok(Ok(())) => tracing::debug!("tool-call spans flushed"),
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot flush the last tool-call spans"),
            Err(e) => tracing::warn!(error = %e, "cannot flush the last tool-call spans"),
        }
    }
}

/// The OTLP exporter, saying once (at warn) when the collector stops answering and once
/// (at info) when it answers again, instead of the SDK's silence or an error per batch.
#[derive(Debug)]
struct WarnOnFailure {
    inner: opentelemetry_otlp::SpanExporter,
    failing: AtomicBool,
}

impl WarnOnFailure {
    fn new(inner: opentelemetry_otlp::SpanExporter) -> Self {
        Self {
            inner,
            failing: AtomicBool::new(false),
        }
    }
}

impl SpanExporter for WarnOnFailure {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len();
        let result = self.inner.export(batch).await;
        match &result {
            Err(e) => {
                if !self.failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %e, spans, "cannot export tool-call spans; dropping them until the collector answers");
                }
            }
            Ok(()) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!("exporting tool-call spans again");
                }
            }
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
