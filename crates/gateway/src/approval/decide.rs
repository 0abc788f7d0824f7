//! The human's side of an approval: list and show held calls, approve or deny one.
//!
//! Only a holder of the approver role may decide (`[approvals] approvers`), and not the
//! human at the root of the calling agent's chain unless `allow_self_approval`. Every
//! decision, and every refused attempt, is audited. The CLI and the admin surface call this.

use crate::Gateway;
use crate::config::Approver;
use mandate_audit::{AuditEvent, EventKind};
use mandate_core::{Approval, ApprovalDecision, ApprovalId, HumanId};
use mandate_store::{ApprovalRefusal, ApprovalVerdict, StoreError};

/// Why a decision on an approval was refused.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    /// No approval has that id.
    #[error("approval `{0}` does not exist (see `mandate approvals list`)")]
    Unknown(ApprovalId),
    /// The decider does not hold the approver role.
    #[error("`{0}` is not an approver (`[approvals] approvers` in the config)")]
    NotApprover(HumanId),
    /// The decider is the human the calling agent acts for, and separation of duties holds.
    #[error(
        "`{0}` is the human this agent acts for and may not approve its calls (`[approvals] allow_self_approval`)"
    )]
    OwnAgent(HumanId),
    /// The approval is no longer waiting for a decision.
    #[error("approval `{id}` is {status}, not pending")]
    Closed {
        /// The approval.
        id: ApprovalId,
        /// Its state now.
        status: &'static str,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Gateway {
    /// Every approval request, oldest first, with its state as of now.
    pub async fn approvals(&self) -> Result<Vec<Approval>, ApprovalError> {
        let now = crate::now();
        let mut all = self.store.approvals().await?;
        for approval in &mut all {
            approval.status = approval.status_at(now);
        }
        Ok(all)
    }

    /// One approval request, with its state as of now.
    pub async fn approval(&self, id: &ApprovalId) -> Result<Approval, ApprovalError> {
        let mut approval = self
            .store
            .approval(id)
            .await?
            .ok_or_else(|| ApprovalError::Unknown(id.clone()))?;
        approval.status = approval.status_at(crate::now());
        Ok(approval)
    }

    /// Does `human` hold the approver role?
    pub fn is_approver(&self, human: &HumanId) -> bool {
        self.config
            .approvals
            .approvers
            .iter()
            .any(|approver| match approver {
                Approver::Human(h) => h == human,
                Approver::Group(group) => self.policy.is_member(human, group),
            })
    }

    /// Approves or denies a pending request as `by`; returns the decision's audit seq.
    pub async fn decide_approval(
        &self,
        id: &ApprovalId,
        verdict: ApprovalVerdict,
        by: &HumanId,
        reason: &str,
    ) -> Result<u64, ApprovalError> {
        let Some(approval) = self.store.approval(id).await? else {
            let error = ApprovalError::Unknown(id.clone());
            self.audit_refused(None, id, by, &error).await?;
            return Err(error);
        };
        let refusal = if !self.is_approver(by) {
            Some(ApprovalError::NotApprover(by.clone()))
        } else if *by == approval.human && !self.config.approvals.allow_self_approval {
            Some(ApprovalError::OwnAgent(by.clone()))
        } else {
            None
        };
        if let Some(error) = refusal {
            self.audit_refused(Some(&approval), id, by, &error).await?;
            return Err(error);
        }
        let decision = ApprovalDecision {
            by: by.clone(),
            reason: reason.to_owned(),
            at: crate::now(),
        };
        let (kind, word) = match verdict {
            ApprovalVerdict::Approve => (EventKind::ApprovalGranted, "allow"),
            ApprovalVerdict::Deny => (EventKind::ApprovalDenied, "deny"),
        };
        let mut event = about(self, kind, &approval, id, by);
        event.decision = Some(word.to_owned());
        if !reason.is_empty() {
            event.reasons = vec![reason.to_owned()];
        }
        match self
            .store
            .decide_approval(id, verdict, decision, event)
            .await?
        {
            Ok(seq) => Ok(seq),
            Err(refusal) => {
                let error = match refusal {
                    ApprovalRefusal::Missing => ApprovalError::Unknown(id.clone()),
                    ApprovalRefusal::Not(status) => ApprovalError::Closed {
                        id: id.clone(),
                        status: status.as_str(),
                    },
                    ApprovalRefusal::OtherCall => ApprovalError::Closed {
                        id: id.clone(),
                        status: "bound to another call",
                    },
                };
                self.audit_refused(Some(&approval), id, by, &error).await?;
                Err(error)
            }
        }
    }

    async fn audit_refused(
        &self,
        approval: Option<&Approval>,
        id: &ApprovalId,
        by: &HumanId,
        error: &ApprovalError,
    ) -> Result<(), ApprovalError> {
        let mut event = match approval {
            Some(approval) => about(self, EventKind::ApprovalRefused, approval, id, by),
            None => {
                let mut event = AuditEvent::new(
                    EventKind::ApprovalRefused,
                    crate::now(),
                    self.config.node.clone(),
                );
                event.detail = Some(serde_json::json!({ "approval": id, "by": by }));
                event
            }
        };
        event.error = Some(error.to_string());
        self.store.append(event).await?;
        Ok(())
    }
}

/// An event about a decision on `approval` by `by`, naming the call it is for.
fn about(
    gw: &Gateway,
    kind: EventKind,
    approval: &Approval,
    id: &ApprovalId,
    by: &HumanId,
) -> AuditEvent {
    let mut event = AuditEvent::new(kind, crate::now(), gw.config.node.clone());
    event.session = Some(approval.session.clone());
    event.human = Some(approval.human.clone());
    event.agent = Some(approval.agent.clone());
    event.mandate = Some(approval.mandate.clone());
    event.chain = approval.chain.clone();
    event.tool = Some(approval.tool.to_string());
    event.class = Some(approval.radius.class);
    event.args_digest = Some(approval.args_digest.clone());
    event.detail = Some(serde_json::json!({ "approval": id, "by": by }));
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GatewayConfig;

    #[tokio::test]
    async fn approvers_are_named_humans_or_members_of_a_group() {
        let dir = tempfile::tempdir().unwrap();
        let policies = dir.path().join("policies");
        std::fs::create_dir(&policies).unwrap();
        std::fs::write(
            policies.join("groups.json"),
            r#"{"carol@corp": ["security"], "dave@corp": ["sre"]}"#,
        )
        .unwrap();
        let config = GatewayConfig::parse(
            "policy_dir = \"policies\"\n[approvals]\napprovers = [\"sec@corp\", \"group:security\"]\n",
            dir.path(),
        )
        .unwrap();
        let (gw, _changes) = Gateway::open(config, &dir.path().join("data")).unwrap();
        let human = |h: &str| HumanId::new(h).unwrap();
        assert!(gw.is_approver(&human("sec@corp")));
        assert!(gw.is_approver(&human("carol@corp")));
        assert!(!gw.is_approver(&human("dave@corp")));
        assert!(!gw.is_approver(&human("alice@corp")));
        // Deciding an unknown request is refused, and the attempt is audited.
        let id = ApprovalId::from_u128(1);
        let err = gw
            .decide_approval(&id, ApprovalVerdict::Approve, &human("sec@corp"), "")
            .await
            .unwrap_err();
        assert!(matches!(err, ApprovalError::Unknown(_)), "{err}");
        let events = gw.store.events(0, 10).await.unwrap();
        let last = events.last().unwrap().event().unwrap();
        assert_eq!(last.kind, EventKind::ApprovalRefused);
    }
}
