//! Pinned tool definitions: every catalogued tool is checked against the definition
//! accepted in the store; a new (when configured), changed or suspicious one is withheld.
//!
//! First sight pins a definition like SSH's known hosts (`[catalog] new_tools`); a changed
//! definition always waits until an operator accepts it (`mandate tools accept`). Pins
//! live in the store, so an acceptance from the CLI reaches a running gateway.

use crate::Gateway;
use crate::catalog::{Catalog, CatalogTool};
use crate::config::NewTools;
use crate::tool_review::{self, Flag};
use mandate_audit::{AuditEvent, EventKind};
use mandate_core::ToolName;
use mandate_store::{FIRST_SIGHT, PinnedDefinition, StoreError, ToolPin};
use std::collections::HashMap;
use std::sync::Arc;

/// What the pins say about one tool's current definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PinVerdict {
    /// It is the accepted definition: callable.
    Accepted,
    /// Never seen, and first sight is trusted: pin it and let it be called.
    PinOnFirstSight,
    /// Withhold it until an operator accepts it, for this reason.
    Hold(String),
}

/// Decides one tool from its pin (if any), its definition's digest and its flags.
// INVARIANT (DESIGN.md 7): only the accepted digest, or a clean first sight under
// `trust`, makes a tool callable; every other case is a hold.
pub(crate) fn verdict(
    pin: Option<&ToolPin>,
    digest: &str,
    flags: &[Flag],
    new_tools: NewTools,
) -> PinVerdict {
    if pin.is_some_and(|p| p.accepts(digest)) {
        return PinVerdict::Accepted;
    }
    let base = match (pin.map(|p| p.accepted.is_some()), new_tools) {
        (Some(true), _) => "its definition changed since it was accepted",
        (_, NewTools::Hold) => "it is new, and `[catalog] new_tools` is `hold`",
        (Some(false), NewTools::Trust) => "it is new and nobody has accepted it yet",
        (None, NewTools::Trust) if flags.is_empty() => return PinVerdict::PinOnFirstSight,
        (None, NewTools::Trust) => "it is new",
    };
    if flags.is_empty() {
        return PinVerdict::Hold(base.to_owned());
    }
    let mut kinds: Vec<&str> = flags.iter().map(|f| f.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    PinVerdict::Hold(format!(
        "{base}, and its text looks aimed at the model ({})",
        kinds.join(", ")
    ))
}

/// Why an operator's acceptance was refused.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    /// The tool has never been catalogued.
    #[error("no definition of tool `{0}` has been seen (see `mandate tools`)")]
    Unknown(String),
    /// Nothing waits for review.
    #[error("tool `{0}` has no definition waiting for review")]
    NothingPending(String),
    /// The definition waiting is not the one the operator reviewed.
    #[error(
        "the definition of tool `{tool}` waiting now is `{found}`, not `{reviewed}`: review it again with `mandate tools diff {tool}`"
    )]
    NotReviewed {
        /// The tool.
        tool: String,
        /// The digest (or its start) the operator gave.
        reviewed: String,
        /// The digest waiting now.
        found: String,
    },
    /// Who accepts must be named.
    #[error("`--by` must name who accepts the definition")]
    NoOne,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Gateway {
    /// Checks every tool of `catalog` against its pin: pins first sights, records and
    /// audits definitions that must wait, and withholds those.
    pub(crate) async fn apply_pins(&self, mut catalog: Catalog) -> Catalog {
        let pins: HashMap<ToolName, ToolPin> = match self.store.tool_pins().await {
            Ok(pins) => pins.into_iter().map(|p| (p.tool.clone(), p)).collect(),
            Err(e) => {
                tracing::error!(error = %e, "cannot read the tool pins; withholding every tool");
                let all: Vec<ToolName> = catalog.tools().map(|t| t.name.clone()).collect();
                for name in all {
                    catalog.withhold(&name, "its pin could not be read".into(), Vec::new());
                }
                return catalog;
            }
        };
        let tools: Vec<Arc<CatalogTool>> = catalog.tools().cloned().collect();
        for tool in tools {
            let flags = tool_review::review(&tool.definition);
            let pin = pins.get(&tool.name);
            let held = match verdict(pin, &tool.digest, &flags, self.config.catalog.new_tools) {
                PinVerdict::Accepted => None,
                PinVerdict::PinOnFirstSight => self.pin_first_sight(&tool).await,
                PinVerdict::Hold(why) => Some(why),
            };
            if let Some(why) = held {
                self.record_hold(&tool, pin, &why, &flags).await;
                tracing::warn!(tool = %tool.name, %why, "tool withheld until an operator accepts it");
                catalog.withhold(&tool.name, why, flags);
            }
        }
        catalog
    }

    /// Pins a first sight; if another process pinned the tool first, checks against that.
    /// Returns why the tool must wait, if it must.
    async fn pin_first_sight(&self, tool: &CatalogTool) -> Option<String> {
        let mut event = self.pin_event(EventKind::ToolPinned, tool);
        event.detail = Some(serde_json::json!({ "digest": tool.digest, "by": FIRST_SIGHT }));
        let pinned = self
            .store
            .pin_first_sight(
                &tool.name,
                pinned_definition(tool),
                FIRST_SIGHT,
                crate::now(),
                event,
            )
            .await;
        match pinned {
            Ok(Some(_)) => None,
            Ok(None) => match self.store.tool_pin(&tool.name).await {
                Ok(Some(pin)) if pin.accepts(&tool.digest) => None,
                Ok(_) => Some("its definition changed since it was accepted".to_owned()),
                Err(e) => Some(format!("its pin could not be read: {e}")),
            },
            Err(e) => {
                tracing::error!(error = %e, tool = %tool.name, "cannot pin a tool");
                Some("its pin could not be recorded".to_owned())
            }
        }
    }

    /// Records the waiting definition (audited once per new definition).
    async fn record_hold(
        &self,
        tool: &CatalogTool,
        pin: Option<&ToolPin>,
        why: &str,
        flags: &[Flag],
    ) {
        if pin
            .and_then(|p| p.pending.as_ref())
            .is_some_and(|p| p.definition.digest == tool.digest)
        {
            return;
        }
        let mut event = self.pin_event(EventKind::ToolHeld, tool);
        event.reasons = vec![why.to_owned()];
        event.detail = Some(serde_json::json!({
            "digest": tool.digest,
            "accepted_digest": pin.and_then(|p| p.accepted.as_ref()).map(|a| &a.definition.digest),
            "flags": flags,
        }));
        let held = self
            .store
            .hold_definition(
                &tool.name,
                pinned_definition(tool),
                why,
                crate::now(),
                event,
            )
            .await;
        if let Err(e) = held {
            tracing::error!(error = %e, tool = %tool.name, "cannot record a withheld definition");
        }
    }

    /// Accepts the definition of `tool` waiting for review, `by` an operator. With
    /// `reviewed`, only if the waiting definition's digest starts with it.
    pub async fn accept_tool(
        &self,
        tool: &ToolName,
        reviewed: Option<&str>,
        by: &str,
    ) -> Result<(u64, PinnedDefinition), PinError> {
        if by.trim().is_empty() {
            return Err(PinError::NoOne);
        }
        let pin = self
            .store
            .tool_pin(tool)
            .await?
            .ok_or_else(|| PinError::Unknown(tool.to_string()))?;
        let pending = pin
            .pending
            .ok_or_else(|| PinError::NothingPending(tool.to_string()))?;
        let digest = pending.definition.digest.clone();
        if let Some(reviewed) = reviewed
            && (reviewed.is_empty() || !digest.starts_with(reviewed))
        {
            return Err(PinError::NotReviewed {
                tool: tool.to_string(),
                reviewed: reviewed.to_owned(),
                found: digest,
            });
        }
        let flags =
            serde_json::from_value::<rmcp::model::Tool>(pending.definition.definition.clone())
                .map(|t| tool_review::review(&t))
                .unwrap_or_default();
        let mut event = AuditEvent::new(
            EventKind::ToolAccepted,
            crate::now(),
            self.config.node.clone(),
        );
        event.tool = Some(tool.to_string());
        event.detail = Some(serde_json::json!({
            "digest": digest,
            "previous_digest": pin.accepted.as_ref().map(|a| &a.definition.digest),
            "by": by,
            "flags": flags,
        }));
        let seq = self
            .store
            .accept_definition(tool, &digest, by, crate::now(), event)
            .await
            .map_err(|e| match e {
                StoreError::PendingChanged { found, .. } => PinError::NotReviewed {
                    tool: tool.to_string(),
                    reviewed: digest.clone(),
                    found,
                },
                StoreError::NotFound { .. } => PinError::NothingPending(tool.to_string()),
                other => PinError::Store(other),
            })?;
        Ok((seq, pending.definition))
    }

    /// Checks the current catalog against the pins again (after an acceptance elsewhere).
    pub async fn recheck_pins(&self) {
        let reopened = self.catalog.snapshot().reopened();
        let catalog = self.apply_pins(reopened).await;
        self.catalog.replace(catalog);
    }

    fn pin_event(&self, kind: EventKind, tool: &CatalogTool) -> AuditEvent {
        let mut event = AuditEvent::new(kind, crate::now(), self.config.node.clone());
        event.tool = Some(tool.name.to_string());
        event.class = Some(tool.radius.class);
        event
    }
}

/// The definition as the store keeps it: as agents see it, with the catalog's digest.
fn pinned_definition(tool: &CatalogTool) -> PinnedDefinition {
    PinnedDefinition {
        digest: tool.digest.clone(),
        definition: serde_json::to_value(&tool.definition).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tool_review::FlagKind;
    use mandate_core::Timestamp;
    use mandate_store::{Acceptance, PendingDefinition};

    fn pin(accepted: Option<&str>, pending: Option<&str>) -> ToolPin {
        let definition = |digest: &str| PinnedDefinition {
            digest: digest.to_owned(),
            definition: serde_json::json!({}),
        };
        ToolPin {
            tool: ToolName::new("crm.lookup").unwrap(),
            accepted: accepted.map(|d| Acceptance {
                definition: definition(d),
                by: "sec@corp".into(),
                at: Timestamp::from_millis(1),
            }),
            pending: pending.map(|d| PendingDefinition {
                definition: definition(d),
                why: "changed".into(),
                seen_at: Timestamp::from_millis(2),
            }),
        }
    }

    fn flag() -> Flag {
        Flag {
            kind: FlagKind::Injection,
            at: "description".into(),
            what: "the tag `<important>`".into(),
        }
    }

    #[test]
    fn only_the_accepted_digest_or_a_clean_first_sight_is_callable() {
        use NewTools::{Hold, Trust};
        let accepted = pin(Some("a"), None);
        assert_eq!(
            verdict(Some(&accepted), "a", &[], Trust),
            PinVerdict::Accepted
        );
        // Accepted explicitly even though flagged: the operator looked.
        assert_eq!(
            verdict(Some(&accepted), "a", &[flag()], Hold),
            PinVerdict::Accepted
        );
        assert_eq!(verdict(None, "a", &[], Trust), PinVerdict::PinOnFirstSight);
        let changed = verdict(Some(&accepted), "b", &[], Trust);
        assert_eq!(
            changed,
            PinVerdict::Hold("its definition changed since it was accepted".into())
        );
        let PinVerdict::Hold(why) = verdict(None, "a", &[], Hold) else {
            panic!("a new tool under `hold` must wait");
        };
        assert!(why.contains("new_tools"), "{why}");
        let PinVerdict::Hold(why) = verdict(None, "a", &[flag()], Trust) else {
            panic!("a flagged first sight must wait");
        };
        assert!(why.contains("aimed at the model (injection)"), "{why}");
        // Held since first sight, still unaccepted: still new.
        let waiting = pin(None, Some("a"));
        let PinVerdict::Hold(why) = verdict(Some(&waiting), "a", &[], Hold) else {
            panic!("still waiting");
        };
        assert!(why.starts_with("it is new"), "{why}");
        assert!(
            matches!(
                verdict(Some(&waiting), "a", &[], Trust),
                PinVerdict::Hold(_)
            ),
            "switching back to `trust` does not let a waiting tool in unreviewed"
        );
    }
}
