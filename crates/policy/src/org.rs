//! The organisation's policies, loaded once and evaluated on every call.
//!
//! Evaluation fails closed: an error in any policy, or no policy permitting,
//! is a [`PolicyVerdict::Forbid`] naming the policies responsible.

use crate::PolicyError;
use crate::compile::compile;
use crate::facts::{CallFacts, Query};
use crate::groups::Groups;
use crate::memo::{DEFAULT_CAPACITY, VerdictMemo};
use crate::schema::Vocabulary;
use crate::source::{self, Source};
use cedar_policy::{AuthorizationError, Authorizer, PolicySet, Response};
use mandate_core::{AgentId, MandateChain};
use std::fmt;
use std::path::Path;

/// The id a refusal names when no policy permitted the request.
pub const NO_PERMIT: &str = "mandate.no-permit";

/// The id a refusal names when the request could not be put to Cedar at all.
pub const UNDESCRIBABLE: &str = "mandate.request-error";

/// What the organisation's policies say about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyVerdict {
    /// At least one policy permits and none forbids or fails.
    Permit {
        /// The ids of the policies that permitted it.
        policies: Vec<String>,
    },
    /// Refused (never with an empty list).
    Forbid {
        /// The ids of the policies that forbade it or failed to evaluate, or
        /// [`NO_PERMIT`] when nothing permitted it.
        policies: Vec<String>,
    },
}

/// The shipped default policies plus the operator's, validated against the
/// schema, with the authorizer that evaluates them.
pub struct OrgPolicy {
    vocabulary: Vocabulary,
    groups: Groups,
    policies: PolicySet,
    ids: Vec<String>,
    authorizer: Authorizer,
    memo: VerdictMemo,
}

impl OrgPolicy {
    /// Loads the default policies plus, when a folder is named, every
    /// `*.cedar` file in it (in file-name order) and its `groups.json`.
    pub fn load(operator_dir: Option<&Path>) -> Result<Self, PolicyError> {
        let files = match operator_dir {
            Some(dir) => source::read_dir(dir)?,
            None => source::OperatorFiles::default(),
        };
        Self::build(files)
    }

    /// Loads the default policies plus these `(file name, text)` sources, in order.
    pub fn from_sources(sources: &[(&str, &str)]) -> Result<Self, PolicyError> {
        Self::build(source::OperatorFiles {
            policies: sources
                .iter()
                .map(|(name, text)| Source::named(name, text))
                .collect(),
            groups: None,
        })
    }

    fn build(files: source::OperatorFiles) -> Result<Self, PolicyError> {
        let vocabulary = Vocabulary::load()?;
        let mut sources = Vec::with_capacity(files.policies.len() + 1);
        sources.push(Source::defaults());
        sources.extend(files.policies);
        let compiled = compile(&sources, &vocabulary.schema)?;
        let groups = match &files.groups {
            Some(source) => Groups::parse(source, &vocabulary)?,
            None => Groups::default(),
        };
        tracing::info!(
            policies = compiled.ids.len(),
            files = sources.len(),
            "organisation policies loaded"
        );
        Ok(Self {
            vocabulary,
            groups,
            policies: compiled.policies,
            ids: compiled.ids,
            authorizer: Authorizer::new(),
            memo: VerdictMemo::new(DEFAULT_CAPACITY),
        })
    }

    /// Every policy id, defaults first, then the operator's in load order.
    pub fn policy_ids(&self) -> Vec<String> {
        self.ids.clone()
    }

    /// Does the operator's `groups.json` put `human` in `group`? (Used to name approvers.)
    pub fn is_member(&self, human: &mandate_core::HumanId, group: &str) -> bool {
        self.groups.contains(human, group)
    }

    /// How many policies are loaded.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Is no policy loaded? (Never true: the defaults are always there.)
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The organisation layer of a tool call's decision. The answer for the same
    /// facts is remembered: Cedar is deterministic and sees neither time nor arguments.
    pub fn evaluate_call(&self, facts: &CallFacts<'_>) -> PolicyVerdict {
        if let Some(verdict) = self.memo.get(facts.chain, facts.target, facts.approved) {
            return verdict;
        }
        self.evaluate_call_afresh(facts)
    }

    /// The organisation layer of a tool call's decision, always put to Cedar (and remembered).
    pub fn evaluate_call_afresh(&self, facts: &CallFacts<'_>) -> PolicyVerdict {
        let query = self.vocabulary.call_query(&self.groups, facts, None);
        let verdict = self.evaluate(query, "call_tool");
        self.memo
            .put(facts.chain, facts.target, facts.approved, verdict.clone());
        verdict
    }

    /// The organisation layer of a hand-off from the chain's leaf agent to `worker`.
    pub fn evaluate_delegation(&self, chain: &MandateChain, worker: &AgentId) -> PolicyVerdict {
        let query = self
            .vocabulary
            .delegation_query(&self.groups, chain, worker, None);
        self.evaluate(query, "delegate")
    }

    fn evaluate(
        &self,
        query: Result<Query, crate::facts::QueryError>,
        action: &'static str,
    ) -> PolicyVerdict {
        let query = match query {
            Ok(query) => query,
            Err(error) => {
                tracing::error!(%error, action, "request refused before evaluation");
                return PolicyVerdict::Forbid {
                    policies: vec![UNDESCRIBABLE.to_owned()],
                };
            }
        };
        let response =
            self.authorizer
                .is_authorized(&query.request, &self.policies, &query.entities);
        let verdict = verdict(&response);
        tracing::debug!(action, ?verdict, "organisation policy");
        verdict
    }

    #[cfg(test)]
    pub(crate) fn vocabulary(&self) -> (&Vocabulary, &Groups) {
        (&self.vocabulary, &self.groups)
    }
}

impl fmt::Debug for OrgPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrgPolicy")
            .field("policies", &self.ids)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

/// Reads Cedar's response, failing closed.
// INVARIANT: `Permit` only when Cedar allowed AND no policy erred. Cedar
// skips a policy that errs, so an erring `forbid` would otherwise let the
// call through.
fn verdict(response: &Response) -> PolicyVerdict {
    let diagnostics = response.diagnostics();
    let mut errored: Vec<String> = diagnostics
        .errors()
        .map(|error| match error {
            AuthorizationError::PolicyEvaluationError(e) => {
                tracing::warn!(policy = %e.policy_id(), error = %e.inner(), "policy failed to evaluate");
                e.policy_id().to_string()
            }
        })
        .collect();
    let mut determining: Vec<String> = diagnostics.reason().map(ToString::to_string).collect();
    determining.sort_unstable();
    errored.sort_unstable();
    match response.decision() {
        cedar_policy::Decision::Allow if errored.is_empty() => PolicyVerdict::Permit {
            policies: determining,
        },
        cedar_policy::Decision::Allow => PolicyVerdict::Forbid { policies: errored },
        cedar_policy::Decision::Deny => {
            // On a deny, the determining policies are the forbids that fired.
            determining.append(&mut errored);
            if determining.is_empty() {
                determining.push(NO_PERMIT.to_owned());
            }
            PolicyVerdict::Forbid {
                policies: determining,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_permitting_forbids_with_the_no_permit_id() {
        let mut policy = OrgPolicy::load(None).unwrap();
        policy.policies = PolicySet::new();
        let chain = MandateChain::new(vec![mandate_core::Mandate {
            constraints: Vec::new(),
            approvals: Vec::new(),
            id: "m_root".parse().unwrap(),
            grantor: mandate_core::Grantor::Human {
                human: "alice@corp".parse().unwrap(),
            },
            root_human: "alice@corp".parse().unwrap(),
            agent: "planner".parse().unwrap(),
            tools: vec![],
            ceiling: mandate_core::ToolClass::Read,
            issued_at: mandate_core::Timestamp::from_secs(0),
            expires_at: mandate_core::Timestamp::from_secs(1),
            purpose: String::new(),
            budget: None,
            uses: 0,
            depth: 0,
            depth_remaining: 1,
            status: mandate_core::MandateStatus::Active,
        }])
        .unwrap();
        let worker: AgentId = "helper".parse().unwrap();
        assert_eq!(
            policy.evaluate_delegation(&chain, &worker),
            PolicyVerdict::Forbid {
                policies: vec![NO_PERMIT.to_owned()]
            }
        );
    }
}
