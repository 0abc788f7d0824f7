//! The tool catalog: every upstream tool under its `upstream.tool` name, with its blast radius.
//!
//! Rebuilt whenever an upstream's tool list changes; readers hold an `Arc` snapshot.
//! Tools whose definition waits for an operator's review are kept apart, out of reach:
//! [`Catalog::get`] and [`Catalog::tools`] never return them.

use crate::tool_review::Flag;
use mandate_core::{
    BlastRadius, ClassSource, DenyReason, Override, ToolHints, ToolName, ToolPattern, classify,
};
use rmcp::model::Tool;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// One tool as the gateway knows it.
#[derive(Debug, Clone)]
pub struct CatalogTool {
    /// `upstream.tool`.
    pub name: ToolName,
    /// Its blast radius.
    pub radius: BlastRadius,
    /// Where its class came from.
    pub source: ClassSource,
    /// Its definition as agents see it (named `upstream.tool`).
    pub definition: Tool,
    /// SHA-256 of the upstream's definition (description, schema, annotations).
    pub digest: String,
}

/// A tool withheld until an operator accepts its definition.
#[derive(Debug, Clone)]
pub struct HeldTool {
    /// The tool as its upstream offers it now.
    pub tool: Arc<CatalogTool>,
    /// Why it waits, in words an operator can act on.
    pub why: String,
    /// What the suspicious-description check found in it.
    pub flags: Vec<Flag>,
}

/// A snapshot of all tools, ordered by name.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    // INVARIANT (DESIGN.md 7): a withheld tool is in `held` only, so nothing that looks a
    // tool up for listing or calling can reach it.
    tools: BTreeMap<ToolName, Arc<CatalogTool>>,
    held: BTreeMap<ToolName, Arc<HeldTool>>,
}

impl Catalog {
    /// Builds a catalog from each upstream's tool list and the operator's overrides.
    /// Tools whose names cannot be written `upstream.tool` are skipped with a warning.
    pub fn build<'a>(
        listings: impl IntoIterator<Item = (&'a str, &'a [Tool])>,
        overrides: &BTreeMap<ToolName, Override>,
    ) -> Self {
        let mut tools = BTreeMap::new();
        for (upstream, listed) in listings {
            for tool in listed {
                let Ok(name) = ToolName::from_parts(upstream, &tool.name) else {
                    tracing::warn!(upstream, tool = %tool.name, "skipping a tool whose name cannot be addressed as upstream.tool");
                    continue;
                };
                let hints = tool
                    .annotations
                    .as_ref()
                    .map(|a| ToolHints {
                        read_only: a.read_only_hint,
                        destructive: a.destructive_hint,
                        open_world: a.open_world_hint,
                    })
                    .unwrap_or_default();
                let (radius, source) = classify(overrides.get(&name), &hints);
                let mut definition = tool.clone();
                definition.name = name.as_str().to_owned().into();
                let entry = CatalogTool {
                    digest: definition_digest(tool),
                    name: name.clone(),
                    radius,
                    source,
                    definition,
                };
                tools.insert(name, Arc::new(entry));
            }
        }
        Self {
            tools,
            held: BTreeMap::new(),
        }
    }

    /// Moves a tool out of reach until its definition is accepted.
    pub fn withhold(&mut self, name: &ToolName, why: String, flags: Vec<Flag>) {
        if let Some(tool) = self.tools.remove(name) {
            let held = HeldTool { tool, why, flags };
            self.held.insert(name.clone(), Arc::new(held));
        }
    }

    /// The same tools, none withheld: the start of a fresh check against the pins.
    pub fn reopened(&self) -> Self {
        let mut tools = self.tools.clone();
        for (name, held) in &self.held {
            tools.insert(name.clone(), Arc::clone(&held.tool));
        }
        Self {
            tools,
            held: BTreeMap::new(),
        }
    }

    /// The withheld tools, by name.
    pub fn held(&self) -> impl Iterator<Item = &Arc<HeldTool>> {
        self.held.values()
    }

    /// Why a call to `name` finds no callable tool: it is withheld, or unknown.
    pub fn refusal(&self, name: &str) -> DenyReason {
        let held = ToolName::new(name)
            .ok()
            .and_then(|n| self.held.get(&n).cloned());
        match held {
            Some(held) => DenyReason::DefinitionPending {
                tool: held.tool.name.clone(),
                why: held.why.clone(),
            },
            None => DenyReason::UnknownTool {
                tool: name.to_owned(),
            },
        }
    }

    /// Adds a tool the gateway itself provides.
    pub fn with_own_tool(mut self, tool: CatalogTool) -> Self {
        self.tools.insert(tool.name.clone(), Arc::new(tool));
        self
    }

    /// The callable tool with this `upstream.tool` name.
    pub fn get(&self, name: &str) -> Option<&Arc<CatalogTool>> {
        let name = ToolName::new(name).ok()?;
        self.tools.get(&name)
    }

    /// All callable tools, by name.
    pub fn tools(&self) -> impl Iterator<Item = &Arc<CatalogTool>> {
        self.tools.values()
    }

    /// The tools a pattern matches today, withheld ones included (they exist; a mandate
    /// may name them before an operator accepts them).
    pub fn matching<'a>(
        &'a self,
        pattern: &'a ToolPattern,
    ) -> impl Iterator<Item = &'a Arc<CatalogTool>> {
        self.tools
            .values()
            .chain(self.held.values().map(|h| &h.tool))
            .filter(move |t| pattern.matches(&t.name))
    }

    /// How many callable tools it holds.
    pub fn len(&self) -> usize {
        self.tools.len()
    }

    /// Does it hold no tool at all, callable or withheld?
    pub fn is_empty(&self) -> bool {
        self.tools.is_empty() && self.held.is_empty()
    }
}

/// SHA-256 over the parts of a definition that steer a model or a call.
fn definition_digest(tool: &Tool) -> String {
    let pinned = serde_json::json!({
        "name": tool.name,
        "description": tool.description,
        "inputSchema": tool.input_schema,
        "annotations": tool.annotations,
    });
    let bytes = serde_json::to_vec(&pinned).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}

/// The live catalog, swapped whole when an upstream's tools change.
#[derive(Debug, Clone, Default)]
pub struct SharedCatalog(Arc<RwLock<Arc<Catalog>>>);

impl SharedCatalog {
    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Catalog> {
        match self.0.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Replaces the snapshot.
    pub fn replace(&self, catalog: Catalog) {
        let fresh = Arc::new(catalog);
        match self.0.write() {
            Ok(mut guard) => *guard = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mandate_core::ToolClass;
    use rmcp::model::ToolAnnotations;

    fn tool(name: &str, annotations: Option<ToolAnnotations>) -> Tool {
        let mut t = Tool::default();
        t.name = name.to_owned().into();
        t.description = Some("d".into());
        t.annotations = annotations;
        t
    }

    #[test]
    fn classifies_with_overrides_then_hints_then_write() {
        let mut ro = ToolAnnotations::default();
        ro.read_only_hint = Some(true);
        let mut destructive = ToolAnnotations::default();
        destructive.read_only_hint = Some(false);
        destructive.destructive_hint = Some(true);
        let tools = vec![
            tool("lookup", Some(ro.clone())),
            tool("purge", Some(destructive)),
            tool("plain", None),
            tool("spawn", Some(ro)),
        ];
        let mut overrides = BTreeMap::new();
        overrides.insert(
            ToolName::new("crm.spawn").unwrap(),
            Override {
                class: Some(ToolClass::Orchestrate),
                ..Override::default()
            },
        );
        let c = Catalog::build([("crm", tools.as_slice())], &overrides);
        assert_eq!(c.get("crm.lookup").unwrap().radius.class, ToolClass::Read);
        let purge = c.get("crm.purge").unwrap();
        assert_eq!(purge.radius.class, ToolClass::Write);
        assert!(purge.radius.destructive);
        assert_eq!(c.get("crm.plain").unwrap().source, ClassSource::Default);
        let spawn = c.get("crm.spawn").unwrap();
        assert_eq!(spawn.radius.class, ToolClass::Orchestrate);
        assert_eq!(spawn.source, ClassSource::Operator);
        assert_eq!(spawn.definition.name, "crm.spawn");
        assert!(c.get("crm.nope").is_none());
        assert!(c.get("not a name").is_none());
    }

    #[test]
    fn a_withheld_tool_is_out_of_reach_but_still_exists() {
        let tools = vec![tool("lookup", None), tool("other", None)];
        let mut c = Catalog::build([("crm", tools.as_slice())], &BTreeMap::new());
        let name = ToolName::new("crm.lookup").unwrap();
        c.withhold(&name, "its definition changed".into(), Vec::new());
        assert!(c.get("crm.lookup").is_none());
        assert!(c.tools().all(|t| t.name != name));
        assert_eq!(c.len(), 1);
        assert!(matches!(
            c.refusal("crm.lookup"),
            DenyReason::DefinitionPending { tool, .. } if tool == name
        ));
        assert!(matches!(
            c.refusal("crm.nope"),
            DenyReason::UnknownTool { .. }
        ));
        let pattern = ToolPattern::new("crm.*").unwrap();
        assert_eq!(c.matching(&pattern).count(), 2);
        let reopened = c.reopened();
        assert!(reopened.get("crm.lookup").is_some());
        assert_eq!(reopened.held().count(), 0);
    }

    #[test]
    fn digest_changes_with_description() {
        let a = tool("t", None);
        let mut b = a.clone();
        b.description = Some("other".into());
        assert_ne!(definition_digest(&a), definition_digest(&b));
    }
}
