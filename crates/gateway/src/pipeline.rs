//! A tool call's path through Mandate, top to bottom, one step per line.
//!
//! Each step lives in its own module; this file only composes them in order.

use crate::Gateway;
use crate::principal::Principal;
use crate::record;
use crate::rescue::CallError;
use crate::telemetry::ToolSpan;
use mandate_core::{CallTarget, Decision, DenyReason};
use mandate_policy::{Verdict, decide_call};
use mandate_store::Spend;
use rmcp::model::{CallToolResult, JsonObject};
use std::time::Instant;

impl Gateway {
    /// Decides, records, forwards and records again one `tools/call`; the decision and its
    /// audit sequence number also go on the call's `span`.
    // INVARIANT (DESIGN.md 5): an allowed call is durably recorded before it is
    // forwarded: `forward` needs the `Authorized` that only `decide_call` makes,
    // and we only reach it after `record_allowed` returned `Recorded`.
    pub async fn call_tool(
        &self,
        principal: &Principal,
        name: &str,
        arguments: Option<JsonObject>,
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
        let authorized =
            match decide_call(&self.policy, &principal.chain, &target, crate::now(), false) {
                Verdict::Allowed(authorized) => authorized,
                Verdict::Refused(decision) => {
                    self.audit_denial(principal, name, Some(tool), &args_digest, &decision, span)
                        .await?;
                    return Err(CallError::Refused(decision));
                }
            };
        // 3. Write ahead: record the decision and spend the budget at every ancestor, durably.
        let chain_ids: Vec<_> = principal
            .chain
            .mandates()
            .iter()
            .map(|m| m.id.clone())
            .collect();
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
        if let Some(arguments) = inspected.kept {
            allowed.detail = Some(serde_json::json!({ "arguments": arguments }));
        }
        let decided_seq = match self.store.record_allowed(&chain_ids, allowed).await {
            Ok(Spend::Recorded { seq }) => seq,
            Ok(Spend::Refused { .. }) => {
                // Another call spent the last of a budget, or a revocation landed, since we
                // looked: reload the chain so the denial names what really happened.
                let decision = Decision::Deny(vec![self.why_no_longer_in_force(principal).await?]);
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
        // The completion is recorded without holding the reply for its fsync: only the decision
        // guards forwarding, and a completion lost to a crash shows as a decision without one.
        let completion = record::completed(self, principal, tool, decided_seq, outcome);
        let store = std::sync::Arc::clone(&self.store);
        let tool_name = name.to_owned();
        tokio::spawn(async move {
            if let Err(e) = store.append(completion).await {
                tracing::error!(error = %e, tool = tool_name, "cannot record a completion");
            }
        });
        // 6. Reply to the agent.
        reply
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

    async fn audit_denial(
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

/// The digest of the arguments' JSON (keys sorted), recorded instead of the arguments.
fn digest_arguments(digester: &crate::digest::Digester, arguments: Option<&JsonObject>) -> String {
    let bytes = match arguments {
        Some(args) => serde_json::to_vec(args).unwrap_or_default(),
        None => b"{}".to_vec(),
    };
    digester.digest(&bytes)
}
