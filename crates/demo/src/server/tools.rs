//! The demo server's eight tools, with their input schemas and annotations.
//! Failures a caller can fix come back as tool results with `isError: true`.

use std::sync::atomic::Ordering;

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DemoServer;
use crate::customers::{CustomerChange, Plan};
use crate::fixtures;

/// Arguments of `lookup_customer`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct LookupCustomerArgs {
    /// The customer's id, such as `cus_001`.
    id: String,
}

/// Arguments of `update_customer`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct UpdateCustomerArgs {
    /// The id of the customer to change.
    id: String,
    /// The new plan; left unchanged when absent.
    plan: Option<Plan>,
    /// The new e-mail address; left unchanged when absent.
    email: Option<String>,
}

/// Arguments of `purge_customers`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct PurgeCustomersArgs {
    /// Must be `true` for anything to be deleted.
    confirm: bool,
}

/// Arguments of `spawn_worker`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct SpawnWorkerArgs {
    /// What the worker agent should do, in plain language.
    task: String,
}

/// Arguments of `send_email`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct SendEmailArgs {
    /// The recipient's e-mail address.
    to: String,
    /// The subject line.
    subject: String,
    /// The message body, as plain text.
    body: String,
}

#[tool_router(vis = "pub(super)")]
impl DemoServer {
    /// Looks up one customer.
    #[tool(
        description = "Look up one customer by id and return the record as JSON.",
        annotations(
            title = "Look up customer",
            read_only_hint = true,
            open_world_hint = false
        )
    )]
    async fn lookup_customer(
        &self,
        Parameters(args): Parameters<LookupCustomerArgs>,
    ) -> CallToolResult {
        match self.state.customers.find(&args.id) {
            Some(customer) => json_result(&customer),
            None => unknown_customer(&args.id),
        }
    }

    /// Lists every customer.
    #[tool(
        description = "List every customer as a JSON array.",
        annotations(
            title = "List customers",
            read_only_hint = true,
            open_world_hint = false
        )
    )]
    async fn list_customers(&self) -> CallToolResult {
        json_result(&self.state.customers.all())
    }

    /// Changes a customer's plan or e-mail address.
    #[tool(
        description = "Change a customer's plan or e-mail address and return the updated record as JSON.",
        annotations(
            title = "Update customer",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn update_customer(
        &self,
        Parameters(args): Parameters<UpdateCustomerArgs>,
    ) -> CallToolResult {
        if let Some(email) = &args.email
            && !looks_like_email(email)
        {
            return error_result(format!("`{email}` is not an e-mail address"));
        }
        let change = CustomerChange {
            plan: args.plan,
            email: args.email,
        };
        match self.state.customers.update(&args.id, change) {
            Some(customer) => json_result(&customer),
            None => unknown_customer(&args.id),
        }
    }

    /// Deletes every customer.
    #[tool(
        description = "Delete every customer record. Nothing is deleted unless `confirm` is true.",
        annotations(
            title = "Purge customers",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn purge_customers(
        &self,
        Parameters(args): Parameters<PurgeCustomersArgs>,
    ) -> CallToolResult {
        if !args.confirm {
            return text_result("nothing deleted: set `confirm` to true to delete every customer");
        }
        let count = self.state.customers.purge();
        text_result(format!("deleted {count} customers"))
    }

    /// Starts a worker agent.
    #[tool(
        description = "Start a worker agent and hand it a task. Returns the new worker's id.",
        annotations(title = "Spawn worker", read_only_hint = false)
    )]
    async fn spawn_worker(&self, Parameters(args): Parameters<SpawnWorkerArgs>) -> CallToolResult {
        let number = self
            .state
            .workers
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        tracing::debug!(task = %args.task, number, "worker spawned");
        text_result(format!("worker-{number}"))
    }

    /// Pretends to send an e-mail.
    #[tool(
        description = "Queue an e-mail for delivery. (The demo sends nothing.)",
        annotations(
            title = "Send e-mail",
            read_only_hint = false,
            destructive_hint = false,
            open_world_hint = true
        )
    )]
    async fn send_email(&self, Parameters(args): Parameters<SendEmailArgs>) -> CallToolResult {
        if !looks_like_email(&args.to) {
            return error_result(format!("`{}` is not an e-mail address", args.to));
        }
        tracing::debug!(to = %args.to, subject = %args.subject, bytes = args.body.len(), "e-mail queued");
        text_result("queued")
    }

    /// Returns the yearly report.
    #[tool(
        description = "Return the yearly sales report as a plain-text table.",
        annotations(title = "Get report", read_only_hint = true, open_world_hint = false)
    )]
    async fn get_report(&self) -> CallToolResult {
        text_result(fixtures::report())
    }

    /// Returns the service configuration file.
    #[tool(
        description = "Return the service's configuration file, which includes its cloud credentials.",
        annotations(title = "Read config", read_only_hint = true, open_world_hint = false)
    )]
    async fn read_config(&self) -> CallToolResult {
        text_result(fixtures::CONFIG)
    }
}

/// A successful result holding one text block.
fn text_result(text: impl Into<String>) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(text)])
}

/// A failed result (`isError: true`) holding one text block.
fn error_result(text: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(text)])
}

/// A successful result holding `value` as JSON text.
fn json_result(value: &impl Serialize) -> CallToolResult {
    match serde_json::to_string(value) {
        Ok(json) => text_result(json),
        Err(error) => {
            tracing::error!(%error, "cannot serialize a tool result");
            error_result("the result could not be encoded")
        }
    }
}

fn unknown_customer(id: &str) -> CallToolResult {
    error_result(format!("no customer has the id `{id}`"))
}

/// A deliberately loose check: one `@` with text on both sides.
fn looks_like_email(text: &str) -> bool {
    matches!(text.split_once('@'), Some((local, domain))
        if !local.is_empty() && !domain.is_empty() && !domain.contains('@'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_check_accepts_plain_addresses_only() {
        assert!(looks_like_email("ada@example.com"));
        assert!(!looks_like_email("ada.example.com"));
        assert!(!looks_like_email("@example.com"));
        assert!(!looks_like_email("ada@"));
        assert!(!looks_like_email("a@b@c"));
    }
}
