//! A tool call's path through Mandate, top to bottom, one step per line.
//!
//! Each step lives in its own module; this file only composes them in order.

use crate::Gateway;
use crate::approval::{ApprovedCall, Held, Patience};
use crate::principal::Principal;
use crate::record;
use crate::rescue::CallError;
use crate::telemetry::ToolSpan;
use mandate_core::{ApprovalStatus, CallTarget, Decision, DenyReason};
use mandate_policy::{Verdict, decide_call};
use mandate_store::{ApprovalRefusal, Spend};
use rmcp::model::{CallToolResult, JsonObject};
use std::time::Instant;

impl Gateway {
    /// Decides, records, forwards and records again one `tools/call`; the decision and its
    /// audit sequence number also go on the call's `span`. A call that needs a human's
    /// approval waits as `patience` allows.
    // INVARIANT (DESIGN.md 5): an allowed call is durably recorded before it is
    // forwarded: `forward` needs the `Authorized` that only `decide_call` makes,
    // and we only reach it after `write_ahead` returned `Recorded` (and, for an approved
    // call, spent its approval in the same transaction).
    pub async fn call_tool(
        &self,
        principal: &Principal,
        name: &str,
        arguments: Option<JsonObject>,
        patience: Patience,
        span: &mut ToolSpan,
    ) -> Result<CallToolResult, CallError> {
        let args_digest = digest_arguments(&self.digester, arguments.as_ref());
        // 0. The gateway's own tool: a hand-off to a worker, decided and recorded on its own path.
        if name == crate::delegate_tool::NAME {
            return self.delegate_in_session(principal, arguments).await;
        }
        // 1. Resolve the tool in the catalog (unknown and withheld tools are denied, and audited).
        let catalog = self.catalog.snapshot();
        let Some(tool) = catalog.get(name) else {
            let decision = Decision::Deny(vec![catalog.refusal(name)]);
            self.audit_denial(principal, name, None, &args_digest, &decision, span)
                .await?;
            return Err(CallError::Refused(decision));
        };
        let mut target = CallTarget {
            tool: tool.name.clone(),
            radius: tool.radius,
            arguments: Some(arguments.unwrap_or_default()),
        };
        // 2. Decide: the mandate chain's scope AND the organisation's Cedar policies.
        let mut approved = None;
        let mut verdict = decide_call(&self.policy, &principal.chain, &target, crate::now(), false);
        if let Verdict::Refused(Decision::NeedsApproval(rules)) = verdict {
            // 2b. A human must agree first: wait (bounded), then decide again as approved.
            let held = Held {
                principal,
                tool,
                arguments: target.arguments.as_ref(),
                args_digest: &args_digest,
            };
            approved = Some(self.await_approval(&held, rules, patience, span).await?);
            verdict = decide_call(&self.policy, &principal.chain, &target, crate::now(), true);
        }
        let authorized = match verdict {
            Verdict::Allowed(authorized) => authorized,
            Verdict::Refused(decision) => {
                self.audit_denial(principal, name, Some(tool), &args_digest, &decision, span)
                    .await?;
                return Err(CallError::Refused(decision));
            }
        };
        // 3. Write ahead: record the decision and spend the budget at every ancestor, durably.
        let inspected = self.inspect_arguments(target.arguments.as_ref());
        let mut allowed = record::decided(
            self,
            principal,
            name,
            Some(tool),
            &args_digest,
            &Decision::Allow,
        );
        allowed.labels = inspected.labels;
        allowed.detail = allowed_detail(inspected.kept, approved.as_ref());
        let decided_seq = match self
            .write_ahead(principal, approved.as_ref(), allowed)
            .await
        {
            Ok(Spend::Recorded { seq }) => seq,
            Ok(refused) => {
                // Since we looked, the approval was spent or expired, a budget ran out, or a
                // revocation landed: the denial names what really happened.
                let why = self
                    .why_not_spent(principal, approved.as_ref(), refused)
                    .await?;
                let decision = Decision::Deny(vec![why]);
                self.audit_denial(principal, name, Some(tool), &args_digest, &decision, span)
                    .await?;
                return Err(CallError::Refused(decision));
            }
            Err(e) => {
                tracing::error!(error = %e, tool = name, "cannot record a decision; not forwarding");
                return Err(CallError::NotRecorded);
            }
        };
        span.decided(&Decision::Allow, decided_seq);
        // 4. Forward with Mandate's own connection; the agent's token stays here.
        let started = Instant::now();
        let forwarded = self
            .upstreams
            .call(&authorized, target.arguments.take())
            .await;
        let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        // 5. Inspect the result (size, digest, labels; redact or withhold) and record the completion.
        let (outcome, reply) = self.inspect_result(
            tool.radius.class,
            tool.name.upstream(),
            forwarded,
            latency_us,
        );
        // The completion is queued, not awaited: only the decision guards forwarding, and a
        // completion lost to a crash shows as a decision without one. It rides along with the
        // next decision's commit when one follows soon; a failure is the store's to log.
        let completion = record::completed(self, principal, tool, decided_seq, outcome);
        drop(self.store.append_unhurried(completion));
        // 6. Reply to the agent.
        reply
    }

    /// Records an allowed call and spends its budget at every ancestor and, when a human
    /// approved it, the approval too, in one transaction: an approval allows one call only.
    async fn write_ahead(
        &self,
        principal: &Principal,
        approved: Option<&ApprovedCall>,
        allowed: mandate_audit::AuditEvent,
    ) -> Result<Spend, mandate_store::StoreError> {
        let chain: Vec<_> = principal
            .chain
            .mandates()
            .iter()
            .map(|m| m.id.clone())
            .collect();
        match approved {
            Some(a) => {
                let now = crate::now();
                (self.store)
                    .record_approved(&chain, &a.id, &a.binding, now, allowed)
                    .await
            }
            None => self.store.record_allowed(&chain, allowed).await,
        }
    }

    /// Why the write-ahead record was refused.
    async fn why_not_spent(
        &self,
        principal: &Principal,
        approved: Option<&ApprovedCall>,
        refused: Spend,
    ) -> Result<DenyReason, CallError> {
        match refused {
            Spend::ApprovalRefused(refusal) => Ok(approval_lost(approved, &refusal)),
            Spend::Refused { .. } | Spend::Recorded { .. } => {
                self.why_no_longer_in_force(principal).await
            }
        }
    }

    /// The chain as the store holds it now, and the first mandate in it that is dead.
    async fn why_no_longer_in_force(&self, principal: &Principal) -> Result<DenyReason, CallError> {
        let fresh = self.chain(&principal.chain.leaf().id).await.map_err(|e| {
            tracing::error!(error = %e, "cannot reload a chain whose spend was refused");
            CallError::NotRecorded
        })?;
        match fresh.check_in_force(crate::now()) {
            Err(inactive) => Ok(DenyReason::NotInForce(inactive)),
            // The store refused and the reloaded chain looks alive: never forward on a doubt.
            Ok(()) => {
                tracing::error!("the store refused a spend on a chain that is in force");
                Err(CallError::NotRecorded)
            }
        }
    }

    pub(crate) async fn audit_denial(
        &self,
        principal: &Principal,
        name: &str,
        tool: Option<&crate::catalog::CatalogTool>,
        args_digest: &str,
        decision: &Decision,
        span: &mut ToolSpan,
    ) -> Result<(), CallError> {
        let event = record::decided(self, principal, name, tool, args_digest, decision);
        let seq = self.store.append(event).await.map_err(|e| {
            tracing::error!(error = %e, "cannot record a denial");
            CallError::NotRecorded
        })?;
        span.decided(decision, seq);
        Ok(())
    }
}

/// What a decision to allow keeps besides the fixed fields: the (redacted) arguments when the
/// operator keeps them, and the approval it spent.
fn allowed_detail(
    arguments: Option<serde_json::Value>,
    approved: Option<&ApprovedCall>,
) -> Option<serde_json::Value> {
    let mut detail = serde_json::Map::new();
    if let Some(arguments) = arguments {
        detail.insert("arguments".to_owned(), arguments);
    }
    if let Some(approved) = approved {
        detail.insert("approval".to_owned(), approved.id.as_str().into());
    }
    (!detail.is_empty()).then_some(serde_json::Value::Object(detail))
}

/// Why an approval that was usable a moment ago could not be spent.
fn approval_lost(approved: Option<&ApprovedCall>, refusal: &ApprovalRefusal) -> DenyReason {
    let why = match refusal {
        ApprovalRefusal::Missing => "it is gone from the store",
        ApprovalRefusal::OtherCall => "it was given for another call",
        ApprovalRefusal::Not(ApprovalStatus::Spent { .. }) => "it was already spent on a call",
        ApprovalRefusal::Not(ApprovalStatus::Expired) => "it expired",
        ApprovalRefusal::Not(_) => "it is not approved",
    };
    DenyReason::ApprovalUnusable {
        approval: approved.map(|a| a.id.to_string()).unwrap_or_default(),
        why: why.to_owned(),
    }
}

/// The digest of the arguments' JSON (keys sorted), recorded instead of the arguments.
pub(crate) fn digest_arguments(
    digester: &crate::digest::Digester,
    arguments: Option<&JsonObject>,
) -> String {
    let bytes = match arguments {
        Some(args) => serde_json::to_vec(args).unwrap_or_default(),
        None => b"{}".to_vec(),
    };
    digester.digest(&bytes)
}
