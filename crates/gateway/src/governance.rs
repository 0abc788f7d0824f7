//! The operator's actions on agents and mandates: register, grant, delegate, revoke, issue tokens.
//!
//! Each action checks its rules, then records state and its audit event in one transaction.

use crate::Gateway;
use mandate_audit::{AuditEvent, EventKind};
use mandate_auth::{IssuedToken, TokenError, TokenRequest};
use mandate_core::{
    Agent, AgentId, ApprovalRule, ArgConstraint, ChildRequest, Grantor, HumanId, Inactive, Mandate,
    MandateChain, MandateId, MandateStatus, Revocation, ToolClass, ToolPattern, Widening,
    attenuate,
};
use mandate_policy::decide_delegation;
use mandate_store::{RevokeOutcome, StoreError};
use std::time::Duration;

/// Why an operator action was refused.
#[derive(Debug, thiserror::Error)]
pub enum GovernanceError {
    /// No agent has that id.
    #[error("agent `{0}` is not registered (add it with `mandate agents add`)")]
    UnknownAgent(AgentId),
    /// The agent has no owners, so nobody answers for it.
    #[error("agent `{0}` has no owners; an agent without owners cannot be granted anything")]
    NoOwners(AgentId),
    /// The expiry is not in the future.
    #[error("the expiry must be in the future")]
    ExpiryPassed,
    /// A grant names no tools.
    #[error("a mandate must name at least one tool pattern")]
    NoTools,
    /// A pattern matches no catalogued tool.
    #[error("tool pattern `{0}` matches no tool in the catalog (see `mandate tools`)")]
    MatchesNothing(ToolPattern),
    /// No mandate has that id.
    #[error("mandate `{0}` does not exist")]
    UnknownMandate(MandateId),
    /// The mandate chain is not in force.
    #[error("{0}")]
    NotInForce(Inactive),
    /// The parent mandate may not hand on: delegating is an `orchestrate` action.
    #[error(
        "mandate `{mandate}` has ceiling `{ceiling}`; handing on a mandate needs `orchestrate`"
    )]
    CannotOrchestrate {
        /// The parent mandate.
        mandate: MandateId,
        /// Its ceiling.
        ceiling: ToolClass,
    },
    /// The organisation's policies forbid this hand-off.
    #[error("forbidden by organisation policy {}", .0.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", "))]
    Forbidden(Vec<String>),
    /// The requested child would be wider than its parent.
    #[error("delegation refused: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Widening(Vec<Widening>),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A token could not be issued.
    #[error("cannot issue a token: {0}")]
    Token(#[from] TokenError),
    /// The stored chain is inconsistent.
    #[error("mandate `{0}` has an inconsistent chain in the store")]
    BrokenChain(MandateId),
}

/// What a human grants to an agent.
#[derive(Debug, Clone)]
pub struct GrantRequest {
    /// The human granting it.
    pub human: HumanId,
    /// The agent receiving it.
    pub agent: AgentId,
    /// The tools it reaches.
    pub tools: Vec<ToolPattern>,
    /// The highest class it may call.
    pub ceiling: ToolClass,
    /// Limits on the arguments of the tools it reaches.
    pub constraints: Vec<ArgConstraint>,
    /// Which calls need a human's approval first.
    pub approvals: Vec<ApprovalRule>,
    /// How long it lasts.
    pub lasts: Duration,
    /// Why.
    pub purpose: String,
    /// Its call budget.
    pub budget: Option<u64>,
}

fn new_mandate_id() -> MandateId {
    MandateId::from_u128(uuid::Uuid::now_v7().as_u128())
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Gateway {
    fn event(&self, kind: EventKind) -> AuditEvent {
        AuditEvent::new(kind, crate::now(), self.config.node.clone())
    }

    /// Registers an agent. Owners are required later, at grant time.
    pub async fn register_agent(&self, agent: Agent, by: &str) -> Result<u64, GovernanceError> {
        let mut event = self.event(EventKind::AgentRegistered);
        event.agent = Some(agent.id.clone());
        event.detail =
            Some(serde_json::json!({ "by": by, "owners": agent.owners, "name": agent.name }));
        Ok(self.store.add_agent(&agent, event).await?)
    }

    /// Records a root mandate from a human and issues its first token.
    pub async fn grant(
        &self,
        request: GrantRequest,
    ) -> Result<(Mandate, IssuedToken), GovernanceError> {
        let agent = self
            .store
            .agent(&request.agent)
            .await?
            .ok_or_else(|| GovernanceError::UnknownAgent(request.agent.clone()))?;
        if agent.owners.is_empty() {
            return Err(GovernanceError::NoOwners(agent.id));
        }
        if request.tools.is_empty() {
            return Err(GovernanceError::NoTools);
        }
        if request.lasts.is_zero() {
            return Err(GovernanceError::ExpiryPassed);
        }
        let catalog = self.catalog.snapshot();
        for pattern in &request.tools {
            // `U.resources` and `U.prompts` are governed names too (see `relay`).
            if catalog.matching(pattern).next().is_none() && !self.names_relayed(pattern) {
                return Err(GovernanceError::MatchesNothing(pattern.clone()));
            }
        }
        for constraint in &request.constraints {
            if catalog.matching(&constraint.tools).next().is_none() {
                return Err(GovernanceError::MatchesNothing(constraint.tools.clone()));
            }
        }
        let now = crate::now();
        let mandate = Mandate {
            id: new_mandate_id(),
            grantor: Grantor::Human {
                human: request.human.clone(),
            },
            root_human: request.human,
            agent: request.agent,
            tools: request.tools,
            ceiling: request.ceiling,
            constraints: request.constraints,
            approvals: request.approvals,
            issued_at: now,
            expires_at: now.plus_millis(millis(request.lasts)),
            purpose: request.purpose,
            budget: request.budget,
            uses: 0,
            depth: 0,
            depth_remaining: self.config.max_delegation_depth,
            status: MandateStatus::Active,
        };
        let mut event = self.event(EventKind::MandateGranted);
        event.human = Some(mandate.root_human.clone());
        event.agent = Some(mandate.agent.clone());
        event.mandate = Some(mandate.id.clone());
        event.detail = Some(serde_json::to_value(&mandate).unwrap_or_default());
        self.store.insert_mandate(&mandate, event).await?;
        let chain = MandateChain::new(vec![mandate.clone()])
            .map_err(|_| GovernanceError::BrokenChain(mandate.id.clone()))?;
        let token = self.issue_for(&chain, None)?;
        Ok((mandate, token))
    }

    /// Loads a mandate's chain, root first.
    pub async fn chain(&self, id: &MandateId) -> Result<MandateChain, GovernanceError> {
        let mandates = self
            .store
            .chain(id)
            .await?
            .ok_or_else(|| GovernanceError::UnknownMandate(id.clone()))?;
        MandateChain::new(mandates).map_err(|_| GovernanceError::BrokenChain(id.clone()))
    }

    /// Issues a fresh token for a mandate whose chain is in force.
    pub async fn issue_token(&self, id: &MandateId) -> Result<IssuedToken, GovernanceError> {
        self.issue_scoped_token(id, None).await
    }

    /// Issues a fresh token carrying the OAuth `scope` it was granted (see
    /// [`mandate_auth::Claims::scope`]), for the authorization server.
    pub async fn issue_scoped_token(
        &self,
        id: &MandateId,
        scope: Option<String>,
    ) -> Result<IssuedToken, GovernanceError> {
        let chain = self.chain(id).await?;
        chain
            .check_in_force(crate::now())
            .map_err(GovernanceError::NotInForce)?;
        self.issue_for(&chain, scope)
    }

    fn issue_for(
        &self,
        chain: &MandateChain,
        scope: Option<String>,
    ) -> Result<IssuedToken, GovernanceError> {
        let leaf = chain.leaf();
        let request = TokenRequest {
            agent: leaf.agent.to_string(),
            mandate: leaf.id.to_string(),
            mandate_expires_at: chain.expires_at().as_secs(),
            act: act_chain(chain),
            now: crate::now().as_secs(),
            scope,
        };
        Ok(self.tokens.issuer.issue(&request)?)
    }

    /// Carves a child mandate out of `parent` for another agent, records it, and issues its token.
    /// A refused widening is audited as a denial.
    pub async fn delegate(
        &self,
        parent: &MandateId,
        request: ChildRequest,
    ) -> Result<(Mandate, IssuedToken), GovernanceError> {
        let chain = self.chain(parent).await?;
        let worker = self
            .store
            .agent(&request.agent)
            .await?
            .ok_or_else(|| GovernanceError::UnknownAgent(request.agent.clone()))?;
        if worker.owners.is_empty() {
            return Err(GovernanceError::NoOwners(worker.id));
        }
        // Delegating is itself an `orchestrate` action, whoever performs it; then the
        // organisation's policies; then attenuation. Every refusal is audited.
        let refusal = if chain.leaf().ceiling < ToolClass::Orchestrate {
            Some(GovernanceError::CannotOrchestrate {
                mandate: chain.leaf().id.clone(),
                ceiling: chain.leaf().ceiling,
            })
        } else {
            decide_delegation(&self.policy, &chain, &worker.id)
                .err()
                .map(|decision| GovernanceError::Forbidden(policies_of(&decision)))
        };
        let by = request.by.clone();
        let refusal = match refusal {
            Some(refusal) => refusal,
            None => match attenuate(&chain, request, new_mandate_id(), crate::now()) {
                Ok(child) => return self.record_child(&chain, child).await,
                Err(widenings) => GovernanceError::Widening(widenings),
            },
        };
        let mut event = self.event(EventKind::DelegationRefused).with_chain(&chain);
        event.decision = Some("deny".to_owned());
        event.reasons = match &refusal {
            GovernanceError::Widening(w) => w.iter().map(ToString::to_string).collect(),
            other => vec![other.to_string()],
        };
        event.detail = Some(serde_json::json!({ "by": by, "worker": worker.id }));
        self.store.append(event).await?;
        Err(refusal)
    }

    async fn record_child(
        &self,
        chain: &MandateChain,
        child: Mandate,
    ) -> Result<(Mandate, IssuedToken), GovernanceError> {
        let mut links = chain.mandates().to_vec();
        links.push(child.clone());
        let child_chain =
            MandateChain::new(links).map_err(|_| GovernanceError::BrokenChain(child.id.clone()))?;
        let mut event = self.event(EventKind::MandateDelegated);
        event.human = Some(child.root_human.clone());
        event.agent = Some(child.agent.clone());
        event.mandate = Some(child.id.clone());
        event.chain = child_chain.links();
        event.detail = Some(serde_json::to_value(&child).unwrap_or_default());
        self.store.insert_mandate(&child, event).await?;
        let token = self.issue_for(&child_chain, None)?;
        Ok((child, token))
    }

    /// Revokes a mandate and, through chain validity, its whole subtree.
    pub async fn revoke(
        &self,
        id: &MandateId,
        by: &str,
        reason: &str,
    ) -> Result<RevokeOutcome, GovernanceError> {
        let chain = self.chain(id).await?;
        let revocation = Revocation {
            by: by.to_owned(),
            reason: reason.to_owned(),
            at: crate::now(),
        };
        let mut event = self.event(EventKind::MandateRevoked);
        event.human = Some(chain.root_human().clone());
        event.agent = Some(chain.leaf().agent.clone());
        event.mandate = Some(id.clone());
        event.chain = chain.links();
        event.reasons = vec![reason.to_owned()];
        event.detail = Some(serde_json::json!({ "by": by }));
        Ok(self.store.revoke(id, revocation, event).await?)
    }
}

/// The RFC 8693 `act` claim: the current actor outermost, earlier actors nested inside.
fn act_chain(chain: &MandateChain) -> Option<mandate_auth::Actor> {
    let mandates = chain.mandates();
    // The leaf agent is `sub`; its delegators (parents) are the actors, nearest first.
    let delegators = mandates.len().checked_sub(1)?;
    mandates.iter().take(delegators).fold(None, |inner, m| {
        Some(mandate_auth::Actor {
            sub: m.agent.to_string(),
            act: inner.map(Box::new),
        })
    })
}

/// The policy ids a refusal names.
fn policies_of(decision: &mandate_core::Decision) -> Vec<String> {
    match decision {
        mandate_core::Decision::Deny(reasons) => reasons
            .iter()
            .flat_map(|r| match r {
                mandate_core::DenyReason::ForbiddenByPolicy { policies } => policies.clone(),
                other => vec![other.to_string()],
            })
            .collect(),
        other => other.reason_texts(),
    }
}
