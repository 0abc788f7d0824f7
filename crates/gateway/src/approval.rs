//! Calls held for a human: recording the approval request, the bounded wait, and resuming
//! with an approval id. The human's side (list, show, approve, deny) is in [`decide`].
//!
//! Clients on MCP 2026-07-28 get an `input_required` result at once whose `requestState` is
//! the approval id, and retry with it; older clients are held open (polling the store, so a
//! decision taken by `mandate approvals approve` in another process is seen) with progress
//! notifications. Either way the call waits at most `[approvals] timeout`.

mod binding;
pub mod decide;

use crate::Gateway;
use crate::catalog::CatalogTool;
use crate::principal::Principal;
use crate::record;
use crate::rescue::CallError;
use crate::telemetry::ToolSpan;
use mandate_audit::{EventKind, detect};
use mandate_core::{Approval, ApprovalId, ApprovalStatus, Decision, DenyReason, Timestamp};
use rmcp::RoleServer;
use rmcp::model::{InputRequiredResult, JsonObject, MetaObject, ProgressNotificationParam};
use rmcp::model::{ProgressToken, ProtocolVersion};
use rmcp::service::{Peer, RequestContext};
use std::time::{Duration, Instant};

/// How often a held call looks for a decision in the store (a point read).
const POLL: Duration = Duration::from_millis(200);

/// How often a held call tells its client it is still waiting.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// How a caller can wait for a human.
pub enum Patience {
    /// MCP 2026-07-28: answer at once with `input_required`; the client retries with the
    /// approval id it was given as `requestState` (`resume`).
    Retry {
        /// The `requestState` the client echoed back, if this is a retry.
        resume: Option<String>,
    },
    /// Earlier revisions: hold the request open, notifying progress when the client asked.
    Hold {
        /// Where progress notifications go.
        progress: Option<Progress>,
    },
}

/// Where a held call's progress notifications go.
pub struct Progress {
    peer: Peer<RoleServer>,
    token: ProgressToken,
}

impl Patience {
    /// The patience a request's protocol revision allows.
    pub fn of(request_state: Option<String>, context: &RequestContext<RoleServer>) -> Self {
        let stateless = context
            .protocol_version()
            .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
        if stateless {
            return Patience::Retry {
                resume: request_state,
            };
        }
        let progress = context.meta.get_progress_token().map(|token| Progress {
            peer: context.peer.clone(),
            token,
        });
        Patience::Hold { progress }
    }
}

/// A call a human approved, to be spent with its record.
pub(crate) struct ApprovedCall {
    pub(crate) id: ApprovalId,
    pub(crate) binding: String,
}

/// A call waiting for a human, for a client that will retry with the approval id.
#[derive(Debug)]
pub struct AwaitingApproval {
    /// The approval request.
    pub id: ApprovalId,
    /// When it lapses.
    pub expires_at: Timestamp,
    /// Which rules asked for it.
    pub rules: Vec<String>,
}

impl AwaitingApproval {
    /// The MCP 2026-07-28 answer: retry with `requestState` once a human decided.
    pub fn input_required(&self) -> InputRequiredResult {
        let mut meta = MetaObject::new();
        meta.0.insert(
            "io.mandate/approval".to_owned(),
            serde_json::json!({
                "id": self.id,
                "status": "pending",
                "expires_at": self.expires_at,
                "rules": self.rules,
                "message": "this call waits for a human's approval; retry with this requestState",
            }),
        );
        InputRequiredResult::from_request_state(self.id.as_str()).with_meta(meta)
    }
}

/// The call being held, as the pipeline resolved it.
pub(crate) struct Held<'a> {
    pub(crate) principal: &'a Principal,
    pub(crate) tool: &'a CatalogTool,
    pub(crate) arguments: Option<&'a JsonObject>,
    pub(crate) args_digest: &'a str,
}

impl Gateway {
    /// Gets a human's approval for a call the rules hold, as the caller's patience allows;
    /// every refusal is audited.
    pub(crate) async fn await_approval(
        &self,
        held: &Held<'_>,
        rules: Vec<String>,
        patience: Patience,
        span: &mut ToolSpan,
    ) -> Result<ApprovedCall, CallError> {
        if self.config.approvals.approvers.is_empty() {
            return Err(self
                .refuse(held, DenyReason::NoApprovers { rules }, span)
                .await);
        }
        match patience {
            Patience::Retry { resume: Some(text) } => {
                let Ok(id) = ApprovalId::new(text.as_str()) else {
                    let shown: String = text.chars().take(80).collect();
                    let reason = unusable(&shown, "it is not an approval id");
                    return Err(self.refuse(held, reason, span).await);
                };
                let Some(approval) = self.stored_approval(&id).await? else {
                    let reason = unusable(id.as_str(), "no such approval");
                    return Err(self.refuse(held, reason, span).await);
                };
                match self.settle(held, &approval, span).await? {
                    Some(approved) => Ok(approved),
                    None => Err(awaiting(&approval)),
                }
            }
            Patience::Retry { resume: None } => {
                let approval = self.request_approval(held, rules, span).await?;
                Err(awaiting(&approval))
            }
            Patience::Hold { progress } => {
                let approval = self.request_approval(held, rules, span).await?;
                self.hold(held, approval, progress, span).await
            }
        }
    }

    /// Records the request, pending, with the `needs_approval` decision that asked for it.
    async fn request_approval(
        &self,
        held: &Held<'_>,
        rules: Vec<String>,
        span: &mut ToolSpan,
    ) -> Result<Approval, CallError> {
        let now = crate::now();
        let lasts = i64::try_from(self.config.approvals.timeout.as_millis()).unwrap_or(i64::MAX);
        let expires_at = now.plus_millis(lasts);
        let chain = &held.principal.chain;
        let mut arguments = serde_json::Value::Object(held.arguments.cloned().unwrap_or_default());
        let labels = detect::redact_json(&mut arguments);
        let approval = Approval {
            id: ApprovalId::from_u128(uuid::Uuid::now_v7().as_u128()),
            binding: binding::of(chain, &held.tool.name, held.args_digest, expires_at),
            human: chain.root_human().clone(),
            agent: chain.leaf().agent.clone(),
            mandate: chain.leaf().id.clone(),
            chain: chain.links(),
            session: held.principal.session().to_owned(),
            tool: held.tool.name.clone(),
            radius: held.tool.radius,
            arguments,
            args_digest: held.args_digest.to_owned(),
            rules: rules.clone(),
            requested_at: now,
            expires_at,
            status: ApprovalStatus::Pending,
        };
        let decision = Decision::NeedsApproval(rules);
        let mut event = self.decided_event(held, &decision);
        event.labels = labels.iter().map(|l| detect::qualified(l)).collect();
        event.detail = Some(serde_json::json!({
            "approval": approval.id,
            "expires_at": expires_at,
        }));
        let seq = self
            .store
            .insert_approval(&approval, event)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "cannot record an approval request; not holding the call");
                CallError::NotRecorded
            })?;
        span.decided(&decision, seq);
        tracing::info!(approval = %approval.id, tool = %held.tool.name, "call held for approval");
        Ok(approval)
    }

    /// Holds the call until a human decides or the request expires.
    async fn hold(
        &self,
        held: &Held<'_>,
        approval: Approval,
        progress: Option<Progress>,
        span: &mut ToolSpan,
    ) -> Result<ApprovedCall, CallError> {
        let message = format!(
            "waiting for a human to approve {} (`mandate approvals approve {}`)",
            approval.tool, approval.id
        );
        let mut beats = 0_u32;
        let mut last_beat: Option<Instant> = None;
        loop {
            if let Some(progress) = &progress
                && last_beat.is_none_or(|at| at.elapsed() >= PROGRESS_EVERY)
            {
                let param =
                    ProgressNotificationParam::new(progress.token.clone(), f64::from(beats))
                        .with_message(message.clone());
                if let Err(e) = progress.peer.notify_progress(param).await {
                    tracing::debug!(error = %e, "cannot send a progress notification");
                }
                beats = beats.saturating_add(1);
                last_beat = Some(Instant::now());
            }
            tokio::time::sleep(POLL).await;
            let Some(current) = self.stored_approval(&approval.id).await? else {
                let reason = unusable(approval.id.as_str(), "it is gone from the store");
                return Err(self.refuse(held, reason, span).await);
            };
            if let Some(approved) = self.settle(held, &current, span).await? {
                return Ok(approved);
            }
        }
    }

    /// What an approval's state means for this call: go ahead, keep waiting (`None`), or a
    /// refusal (audited).
    async fn settle(
        &self,
        held: &Held<'_>,
        approval: &Approval,
        span: &mut ToolSpan,
    ) -> Result<Option<ApprovedCall>, CallError> {
        let binding = binding::of(
            &held.principal.chain,
            &held.tool.name,
            held.args_digest,
            approval.expires_at,
        );
        // INVARIANT: an approval allows only the call it was asked for: same chain, tool,
        // arguments and expiry; the store spends it once, at the record step.
        if binding != approval.binding {
            let why = "it was given for another call (mandate chain, tool or arguments differ)";
            return Err(self
                .refuse(held, unusable(approval.id.as_str(), why), span)
                .await);
        }
        let reason = match approval.status_at(crate::now()) {
            ApprovalStatus::Pending => return Ok(None),
            ApprovalStatus::Approved(_) => {
                return Ok(Some(ApprovedCall {
                    id: approval.id.clone(),
                    binding,
                }));
            }
            ApprovalStatus::Denied(d) => DenyReason::ApprovalDenied {
                approval: approval.id.clone(),
                by: d.by,
                comment: d.reason,
            },
            ApprovalStatus::Spent { .. } => {
                unusable(approval.id.as_str(), "it was already spent on a call")
            }
            ApprovalStatus::Expired => {
                self.expire(approval).await;
                DenyReason::ApprovalExpired {
                    approval: approval.id.clone(),
                }
            }
        };
        Err(self.refuse(held, reason, span).await)
    }

    /// Records that nobody decided in time (once: a second caller finds it expired already).
    async fn expire(&self, approval: &Approval) {
        let mut event = mandate_audit::AuditEvent::new(
            EventKind::ApprovalExpired,
            crate::now(),
            self.config.node.clone(),
        );
        event.human = Some(approval.human.clone());
        event.agent = Some(approval.agent.clone());
        event.mandate = Some(approval.mandate.clone());
        event.chain = approval.chain.clone();
        event.tool = Some(approval.tool.to_string());
        event.class = Some(approval.radius.class);
        event.args_digest = Some(approval.args_digest.clone());
        event.decision = Some("deny".to_owned());
        event.detail = Some(serde_json::json!({ "approval": approval.id }));
        match self
            .store
            .expire_approval(&approval.id, crate::now(), event)
            .await
        {
            Ok(Ok(_)) => tracing::info!(approval = %approval.id, "approval request expired"),
            Ok(Err(_)) => {}
            Err(e) => tracing::error!(error = %e, "cannot record an expired approval"),
        }
    }

    async fn stored_approval(&self, id: &ApprovalId) -> Result<Option<Approval>, CallError> {
        self.store.approval(id).await.map_err(|e| {
            tracing::error!(error = %e, "cannot read an approval; not forwarding");
            CallError::NotRecorded
        })
    }

    fn decided_event(&self, held: &Held<'_>, decision: &Decision) -> mandate_audit::AuditEvent {
        record::decided(
            self,
            held.principal,
            held.tool.name.as_str(),
            Some(held.tool),
            held.args_digest,
            decision,
        )
    }

    /// Audits a denial of the held call and returns the error the agent gets.
    async fn refuse(&self, held: &Held<'_>, reason: DenyReason, span: &mut ToolSpan) -> CallError {
        let decision = Decision::Deny(vec![reason]);
        let event = self.decided_event(held, &decision);
        match self.store.append(event).await {
            Ok(seq) => {
                span.decided(&decision, seq);
                CallError::Refused(decision)
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot record a denial");
                CallError::NotRecorded
            }
        }
    }
}

fn unusable(approval: &str, why: &str) -> DenyReason {
    DenyReason::ApprovalUnusable {
        approval: approval.to_owned(),
        why: why.to_owned(),
    }
}

fn awaiting(approval: &Approval) -> CallError {
    CallError::AwaitingApproval(Box::new(AwaitingApproval {
        id: approval.id.clone(),
        expires_at: approval.expires_at,
        rules: approval.rules.clone(),
    }))
}
