//! The facts of one decision, and their translation into a Cedar request.
//!
//! This runs on every tool call, so it builds only what policies can see: the
//! root human (with its groups), the tool with its blast radius, and a small
//! context record. Schema and policies were parsed once, at load.

use crate::groups::Groups;
use crate::schema::Vocabulary;
use cedar_policy::{
    Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, Request, RestrictedExpression,
    Schema,
};
use mandate_core::{AgentId, CallTarget, MandateChain};
use std::collections::{HashMap, HashSet};

/// What the policy layer needs to know about one tool call.
#[derive(Debug, Clone, Copy)]
pub struct CallFacts<'a> {
    /// The caller's mandate with all its ancestors.
    pub chain: &'a MandateChain,
    /// The tool called, with its blast radius from the catalog.
    pub target: &'a CallTarget,
    /// A human approved this very call.
    pub approved: bool,
}

/// A request and the entities it refers to, ready for the authorizer.
#[derive(Debug)]
pub(crate) struct Query {
    pub(crate) request: Request,
    pub(crate) entities: Entities,
}

/// Why the facts could not be put to Cedar (a bug, never the caller's input).
#[derive(Debug, thiserror::Error)]
#[error("cannot describe the {what} to cedar: {message}")]
pub(crate) struct QueryError {
    what: &'static str,
    message: String,
}

impl Vocabulary {
    /// The request for a tool call: the leaf agent calls the tool.
    ///
    /// With `schema`, Cedar also checks the request and entities against it;
    /// the hot path passes `None` because they are built to match it (a test
    /// holds them to it).
    pub(crate) fn call_query(
        &self,
        groups: &Groups,
        facts: &CallFacts<'_>,
        schema: Option<&Schema>,
    ) -> Result<Query, QueryError> {
        let fail = |message: String| QueryError {
            what: "call",
            message,
        };
        let radius = facts.target.radius;
        let tool = uid(&self.tool, facts.target.tool.as_str());
        let attrs = HashMap::from([
            (
                "upstream".to_owned(),
                RestrictedExpression::new_string(facts.target.tool.upstream().to_owned()),
            ),
            (
                "class".to_owned(),
                RestrictedExpression::new_string(radius.class.as_str().to_owned()),
            ),
            (
                "class_rank".to_owned(),
                RestrictedExpression::new_long(class_rank(radius.class)),
            ),
            (
                "destructive".to_owned(),
                RestrictedExpression::new_bool(radius.destructive),
            ),
            (
                "open_world".to_owned(),
                RestrictedExpression::new_bool(radius.open_world),
            ),
        ]);
        let tool_entity =
            Entity::new(tool.clone(), attrs, HashSet::new()).map_err(|e| fail(e.to_string()))?;
        let (human, human_entity) = self.root_human(groups, facts.chain);
        let context = self
            .context(facts.chain, human, facts.approved)
            .map_err(fail)?;
        let principal = uid(&self.agent, facts.chain.leaf().agent.as_str());
        let request = Request::new(principal, self.call_tool.clone(), tool, context, schema)
            .map_err(|e| fail(e.to_string()))?;
        let entities = Entities::from_entities([human_entity, tool_entity], schema)
            .map_err(|e| fail(e.to_string()))?;
        Ok(Query { request, entities })
    }

    /// The request for a hand-off: the leaf agent delegates to `worker`.
    pub(crate) fn delegation_query(
        &self,
        groups: &Groups,
        chain: &MandateChain,
        worker: &AgentId,
        schema: Option<&Schema>,
    ) -> Result<Query, QueryError> {
        let fail = |message: String| QueryError {
            what: "delegation",
            message,
        };
        let (human, human_entity) = self.root_human(groups, chain);
        let context = self.context(chain, human, false).map_err(fail)?;
        let principal = uid(&self.agent, chain.leaf().agent.as_str());
        let resource = uid(&self.agent, worker.as_str());
        let request = Request::new(principal, self.delegate.clone(), resource, context, schema)
            .map_err(|e| fail(e.to_string()))?;
        let entities =
            Entities::from_entities([human_entity], schema).map_err(|e| fail(e.to_string()))?;
        Ok(Query { request, entities })
    }

    /// The root human's reference, and its entity with its groups as parents.
    fn root_human(&self, groups: &Groups, chain: &MandateChain) -> (EntityUid, Entity) {
        let human = chain.root_human();
        let uid = uid(&self.human, human.as_str());
        let entity = Entity::new_no_attrs(uid.clone(), groups.of(human));
        (uid, entity)
    }

    /// The context record the schema calls `Facts`.
    fn context(
        &self,
        chain: &MandateChain,
        human: EntityUid,
        approved: bool,
    ) -> Result<Context, String> {
        let leaf = chain.leaf();
        let (depth, depth_remaining) = depth(chain);
        let agents = chain
            .mandates()
            .iter()
            .map(|m| RestrictedExpression::new_entity_uid(uid(&self.agent, m.agent.as_str())));
        Context::from_pairs([
            (
                "root_human".to_owned(),
                RestrictedExpression::new_entity_uid(human),
            ),
            ("chain".to_owned(), RestrictedExpression::new_set(agents)),
            ("depth".to_owned(), RestrictedExpression::new_long(depth)),
            (
                "depth_remaining".to_owned(),
                RestrictedExpression::new_long(depth_remaining),
            ),
            (
                "approved".to_owned(),
                RestrictedExpression::new_bool(approved),
            ),
            (
                "purpose".to_owned(),
                RestrictedExpression::new_string(leaf.purpose.clone()),
            ),
            (
                "mandate".to_owned(),
                RestrictedExpression::new_string(leaf.id.as_str().to_owned()),
            ),
        ])
        .map_err(|e| e.to_string())
    }
}

fn uid(ty: &EntityTypeName, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(ty.clone(), EntityId::new(id))
}

/// The class as the number the schema documents: read 0, write 1, orchestrate 2.
fn class_rank(class: mandate_core::ToolClass) -> i64 {
    match class {
        mandate_core::ToolClass::Read => 0,
        mandate_core::ToolClass::Write => 1,
        mandate_core::ToolClass::Orchestrate => 2,
    }
}

/// The leaf's depth and the delegation depth it has left.
// INVARIANT: both are derived so that a mis-recorded mandate can only make
// policies stricter: depth is the leaf's position in the checked chain (or
// its recorded depth, if deeper), and depth left is the least any mandate of
// the chain leaves for the leaf's position.
fn depth(chain: &MandateChain) -> (i64, i64) {
    let mandates = chain.mandates();
    let leaf_index = mandates.len().saturating_sub(1);
    let position = u32::try_from(leaf_index).unwrap_or(u32::MAX);
    let depth = position.max(chain.leaf().depth);
    let remaining = mandates
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let below = u32::try_from(leaf_index.saturating_sub(i)).unwrap_or(u32::MAX);
            m.depth_remaining.saturating_sub(below)
        })
        .min()
        .unwrap_or(0);
    (i64::from(depth), i64::from(remaining))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OrgPolicy;
    use mandate_core::{
        BlastRadius, Grantor, HumanId, Mandate, MandateId, MandateStatus, Timestamp, ToolClass,
        ToolName, ToolPattern,
    };

    fn mandate(id: &str, parent: Option<&str>, agent: &str, depth_remaining: u32) -> Mandate {
        Mandate {
            constraints: Vec::new(),
            approvals: Vec::new(),
            id: MandateId::new(id).unwrap(),
            grantor: match parent {
                None => Grantor::Human {
                    human: HumanId::new("alice@corp").unwrap(),
                },
                Some(p) => Grantor::Mandate {
                    parent: MandateId::new(p).unwrap(),
                    by: "test".to_owned(),
                },
            },
            root_human: HumanId::new("alice@corp").unwrap(),
            agent: AgentId::new(agent).unwrap(),
            tools: vec![ToolPattern::new("*").unwrap()],
            ceiling: ToolClass::Orchestrate,
            issued_at: Timestamp::from_secs(0),
            expires_at: Timestamp::from_secs(10),
            purpose: "tests".to_owned(),
            budget: None,
            uses: 0,
            depth: u32::from(parent.is_some()),
            depth_remaining,
            status: MandateStatus::Active,
        }
    }

    #[test]
    fn requests_and_entities_conform_to_the_schema() {
        let policy = OrgPolicy::load(None).unwrap();
        let (vocabulary, groups) = policy.vocabulary();
        let chain = MandateChain::new(vec![
            mandate("m_root", None, "planner", 2),
            mandate("m_leaf", Some("m_root"), "worker:1", 1),
        ])
        .unwrap();
        let target = CallTarget {
            arguments: Some(Default::default()),
            tool: ToolName::new("crm.purge_customers").unwrap(),
            radius: BlastRadius {
                class: ToolClass::Write,
                destructive: true,
                open_world: false,
            },
        };
        let facts = CallFacts {
            chain: &chain,
            target: &target,
            approved: false,
        };
        let schema = Some(&vocabulary.schema);
        vocabulary.call_query(groups, &facts, schema).unwrap();
        let worker = AgentId::new("helper").unwrap();
        vocabulary
            .delegation_query(groups, &chain, &worker, schema)
            .unwrap();
    }

    #[test]
    fn depth_left_is_the_least_the_chain_allows() {
        // The root leaves 1 level below it, so the child has 0 left whatever it records.
        let chain = MandateChain::new(vec![
            mandate("m_root", None, "planner", 1),
            mandate("m_leaf", Some("m_root"), "worker", 5),
        ])
        .unwrap();
        assert_eq!(depth(&chain), (1, 0));
        let root = MandateChain::new(vec![mandate("m_root", None, "planner", 3)]).unwrap();
        assert_eq!(depth(&root), (0, 3));
    }
}
