//! One load round: N workers, each looping the same `tools/call` on its own keep-alive
//! connection, untimed during the warm-up and timed in the measured window that follows.

use crate::mcp::{Failure, FailureClass, check_answer};
use crate::{BenchError, Sample, ToolCall};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::Barrier;
use tokio::time::Instant;

/// A call slower than this is counted as an error (and stops being waited for).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a round sends its calls, and with which credentials.
#[derive(Debug, Clone)]
pub struct Target {
    /// The MCP endpoint, e.g. `http://127.0.0.1:7070/mcp`.
    pub url: String,
    /// The access token sent as `Authorization: Bearer …`, if the path needs one.
    pub bearer: Option<String>,
    /// The call to make.
    pub call: ToolCall,
}

/// How hard and how long one round loads a target.
#[derive(Debug, Clone, Copy)]
pub struct LoadSpec {
    /// Workers, each with one call in flight at a time.
    pub concurrency: usize,
    /// Calls made before timing starts (connections opened, caches warm).
    pub warmup: Duration,
    /// The measured window after the warm-up.
    pub duration: Duration,
}

/// An HTTP/1.1 client for `connections` workers, with Nagle off and no proxy from the
/// environment (the benchmark only ever talks to loopback).
///
/// Its pool keeps twice as many idle keep-alive connections per host. hyper hands a
/// connection back to the pool from the connection's own task, a moment after the worker
/// has read the answer's last byte; a worker that calls again at once finds no idle
/// connection and opens one. With room for only `connections`, the spare was closed each
/// time: at one worker, a hundred new connections a second (counted with `strace -e
/// accept4` on the upstream), on every path. With room for twice as many, the spares stay
/// open and are reused.
pub fn client(connections: usize) -> Result<reqwest::Client, BenchError> {
    reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(connections.saturating_mul(2))
        .tcp_nodelay(true)
        .no_proxy()
        .timeout(CALL_TIMEOUT)
        .build()
        .map_err(BenchError::Client)
}

/// Runs one round: `spec.concurrency` workers call `target` until the warm-up and the
/// measured window have passed; every call in flight at the end is awaited.
///
/// A warm-up lasts `spec.warmup` and until every worker has finished at least one call
/// (its connection is open), so a slow first call on a loaded machine cannot eat the
/// measured window. The measured window counts calls *started* in it; its wall time runs
/// until the last of them finished.
pub async fn load(
    client: &reqwest::Client,
    target: &Target,
    spec: LoadSpec,
) -> Result<Sample, BenchError> {
    let bearers: Vec<String> = target.bearer.iter().cloned().collect();
    load_rotating(client, target, &bearers, spec).await
}

/// Like [`load`], but the calls rotate over `bearers` (one agent's token each), so that
/// many agents are active at once; `target.bearer` is not used. Worker `w` of `n` sends
/// token `w`, then `w + n`, `w + 2n`, … wrapping around; with no tokens, none is sent.
pub async fn load_rotating(
    client: &reqwest::Client,
    target: &Target,
    bearers: &[String],
    spec: LoadSpec,
) -> Result<Sample, BenchError> {
    let concurrency = spec.concurrency.max(1);
    let gate = Arc::new(WarmupGate {
        until: Instant::now() + spec.warmup,
        all_warm: Barrier::new(concurrency),
        measure_from: OnceLock::new(),
        duration: spec.duration,
        skip: spec.warmup.is_zero(),
    });
    let bearers = bearers
        .iter()
        .map(|token| {
            HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| BenchError::Token)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let request = Arc::new(Request {
        url: target.url.clone(),
        bearers,
        call: target.call.clone(),
    });
    // Every sample is made before any worker starts: a worker that failed, or was never
    // started, before the gate would leave the others waiting at it for ever.
    let samples = (0..concurrency)
        .map(|_| Sample::new())
        .collect::<Result<Vec<_>, _>>()?;
    let workers: Vec<_> = samples
        .into_iter()
        .enumerate()
        .map(|(w, sample)| {
            let rotation = Rotation {
                next: w,
                step: concurrency,
            };
            tokio::spawn(worker(
                client.clone(),
                Arc::clone(&request),
                Arc::clone(&gate),
                rotation,
                sample,
            ))
        })
        .collect();
    let mut total = Sample::new()?;
    for handle in workers {
        let sample = handle.await.map_err(BenchError::Worker)?;
        total.merge(&sample)?;
    }
    if let Some(&measure_from) = gate.measure_from.get() {
        total.elapsed = Instant::now().saturating_duration_since(measure_from);
    }
    Ok(total)
}

/// Which token a worker sends next, and how far it moves after each call.
#[derive(Debug, Clone, Copy)]
struct Rotation {
    next: usize,
    step: usize,
}

/// Where the warm-up ends: at `until`, once every worker has made a call (unless `skip`);
/// the measured window then starts for all workers at the same instant and lasts `duration`.
#[derive(Debug)]
struct WarmupGate {
    until: Instant,
    all_warm: Barrier,
    measure_from: OnceLock<Instant>,
    duration: Duration,
    /// No warm-up at all was asked for: the overload phases count every call.
    skip: bool,
}

/// What every call of a round sends.
struct Request {
    url: String,
    bearers: Vec<HeaderValue>,
    call: ToolCall,
}

/// One worker: calls back to back, one at a time, through the warm-up and then the
/// measured window, until the window closes.
async fn worker(
    client: reqwest::Client,
    request: Arc<Request>,
    gate: Arc<WarmupGate>,
    mut rotation: Rotation,
    mut sample: Sample,
) -> Sample {
    if !gate.skip {
        loop {
            let bearer = rotation.next_bearer(&request.bearers);
            match call_once(&client, &request, bearer).await {
                Ok(()) => sample.warmup_ok += 1,
                Err(reason) => sample.record_error(true, reason),
            }
            if Instant::now() >= gate.until {
                break;
            }
        }
    }
    gate.all_warm.wait().await;
    let until = *gate.measure_from.get_or_init(Instant::now) + gate.duration;
    loop {
        let started = Instant::now();
        if started >= until {
            return sample;
        }
        let bearer = rotation.next_bearer(&request.bearers);
        match call_once(&client, &request, bearer).await {
            Ok(()) => sample.record_ok(started.elapsed()),
            Err(reason) => sample.record_error(false, reason),
        }
    }
}

impl Rotation {
    /// The token for the next call (none when there are none), moving on by `step`.
    fn next_bearer<'a>(&mut self, bearers: &'a [HeaderValue]) -> Option<&'a HeaderValue> {
        match bearers.len() {
            0 => None,
            n => {
                self.next %= n;
                let bearer = bearers.get(self.next);
                self.next += self.step;
                bearer
            }
        }
    }
}

/// Sends the call and checks the whole answer; the answer's body is read in full.
async fn call_once(
    client: &reqwest::Client,
    request: &Request,
    bearer: Option<&HeaderValue>,
) -> Result<(), Failure> {
    let transport = |e: &reqwest::Error| Failure {
        class: FailureClass::Transport,
        detail: describe(e),
    };
    let mut builder = client
        .post(&request.url)
        .headers(request.call.headers().clone())
        .body(request.call.body());
    if let Some(bearer) = bearer {
        builder = builder.header(AUTHORIZATION, bearer.clone());
    }
    let response = builder.send().await.map_err(|e| transport(&e))?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = response.bytes().await.map_err(|e| transport(&e))?;
    check_answer(status, &content_type, &body)
}

/// A transport failure, with its causes (reqwest's own message is terse).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
