//! Mandate's organisation policy layer, in Cedar.
//!
//! Every tool call is decided in two layers that must both allow: the agent's
//! mandate scope ([`mandate_core::check_scope`], exact and fast), then the
//! organisation's policies, written in [Cedar](https://www.cedarpolicy.com)
//! against the schema in `policies/mandate.cedarschema`.
//!
//! - [`OrgPolicy`] holds the default policies shipped in
//!   `policies/default.cedar` plus the operator's own `*.cedar` files, all
//!   validated strictly against the schema when loaded, so a typo is a
//!   startup error rather than a policy that silently never fires.
//! - [`decide_call`] runs both layers and returns a [`Verdict`]: either
//!   [`Verdict::Allowed`] with an [`Authorized`] proof, which only this crate
//!   can build and which the gateway's forwarder requires, or
//!   [`Verdict::Refused`] with a [`mandate_core::Decision`] naming the missing
//!   grant and the policy ids.
//! - [`decide_delegation`] is the policy layer of a hand-off to a worker agent.
//!
//! Evaluation fails closed: a policy that errs, or no policy permitting, refuses.
//!
//! ```
//! use mandate_policy::OrgPolicy;
//!
//! let policy = OrgPolicy::from_sources(&[(
//!     "crm.cedar",
//!     r#"@id("crm.no-purge")
//!        forbid (principal, action, resource == Mandate::Tool::"crm.purge_customers");"#,
//! )])?;
//! assert!(policy.policy_ids().contains(&"crm.no-purge".to_owned()));
//! # Ok::<(), mandate_policy::PolicyError>(())
//! ```

mod compile;
mod decide;
mod error;
mod facts;
mod groups;
mod memo;
mod org;
mod schema;
mod source;

pub use decide::{Authorized, Verdict, decide_call, decide_delegation};
pub use error::PolicyError;
pub use facts::CallFacts;
pub use org::{NO_PERMIT, OrgPolicy, PolicyVerdict, UNDESCRIBABLE};
