//! The tools over HTTP: listing and annotations, reads, writes and their errors.
//! Most tests run under both the legacy session lifecycle and the 2026-07-28 stateless one.

use anyhow::{Result, bail};
use mandate_demo::DemoOptions;
use rmcp::service::ServiceError;
use serde_json::{Value, json};

use crate::support::{LIFECYCLES, Lifecycle, call, connect, find, hints, is_error, start, text};

#[tokio::test]
async fn tools_are_listed_with_their_annotations() -> Result<()> {
    let server = start(DemoOptions::default()).await?;
    for lifecycle in LIFECYCLES {
        let client = connect(&server, lifecycle).await?;
        let tools = client.list_all_tools().await?;
        let mut names: Vec<_> = tools.iter().map(|tool| tool.name.to_string()).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "get_report",
                "list_customers",
                "lookup_customer",
                "purge_customers",
                "read_config",
                "send_email",
                "spawn_worker",
                "update_customer",
            ],
            "{lifecycle:?}"
        );
        for read in [
            "lookup_customer",
            "list_customers",
            "get_report",
            "read_config",
        ] {
            assert_eq!(hints(find(&tools, read)?).0, Some(true), "{read}");
        }
        let update = hints(find(&tools, "update_customer")?);
        assert_eq!((update.0, update.1), (Some(false), Some(false)));
        let purge = hints(find(&tools, "purge_customers")?);
        assert_eq!((purge.0, purge.1), (Some(false), Some(true)));
        assert_eq!(hints(find(&tools, "spawn_worker")?).0, Some(false));
        let email = hints(find(&tools, "send_email")?);
        assert_eq!((email.0, email.2), (Some(false), Some(true)));

        let lookup = find(&tools, "lookup_customer")?;
        let schema = Value::Object(lookup.input_schema.as_ref().clone());
        assert_eq!(schema["properties"]["id"]["type"], "string");
        assert_eq!(schema["required"], json!(["id"]));
        client.cancel().await?;
    }
    Ok(())
}

#[tokio::test]
async fn lookup_customer_returns_the_record_as_json() -> Result<()> {
    let server = start(DemoOptions::default()).await?;
    for lifecycle in LIFECYCLES {
        let client = connect(&server, lifecycle).await?;
        let result = call(&client, "lookup_customer", json!({ "id": "cus_001" })).await?;
        assert!(!is_error(&result));
        let record: Value = serde_json::from_str(text(&result)?)?;
        assert_eq!(
            record,
            json!({
                "id": "cus_001",
                "name": "Ada Lovelace",
                "email": "ada@example.com",
                "plan": "enterprise",
            })
        );
        client.cancel().await?;
    }
    Ok(())
}

#[tokio::test]
async fn update_is_visible_to_later_lookups_in_other_sessions() -> Result<()> {
    let server = start(DemoOptions::default()).await?;
    let writer = connect(&server, Lifecycle::Legacy).await?;
    let args = json!({ "id": "cus_003", "plan": "pro", "email": "alan@example.org" });
    let updated = call(&writer, "update_customer", args).await?;
    assert!(!is_error(&updated), "{}", text(&updated)?);

    let reader = connect(&server, Lifecycle::Stateless).await?;
    let result = call(&reader, "lookup_customer", json!({ "id": "cus_003" })).await?;
    let record: Value = serde_json::from_str(text(&result)?)?;
    assert_eq!(record["plan"], "pro");
    assert_eq!(record["email"], "alan@example.org");
    assert_eq!(record["name"], "Alan Turing");
    writer.cancel().await?;
    reader.cancel().await?;
    Ok(())
}

#[tokio::test]
async fn unknown_customer_is_a_tool_error() -> Result<()> {
    let server = start(DemoOptions::default()).await?;
    for lifecycle in LIFECYCLES {
        let client = connect(&server, lifecycle).await?;
        let lookup = call(&client, "lookup_customer", json!({ "id": "cus_999" })).await?;
        assert!(is_error(&lookup), "{lifecycle:?}");
        assert!(text(&lookup)?.contains("`cus_999`"), "{}", text(&lookup)?);
        let update = call(
            &client,
            "update_customer",
            json!({ "id": "cus_999", "plan": "pro" }),
        )
        .await?;
        assert!(is_error(&update), "{lifecycle:?}");
        client.cancel().await?;
    }
    Ok(())
}

#[tokio::test]
async fn bad_arguments_are_tool_errors_and_unknown_tools_are_protocol_errors() -> Result<()> {
    let server = start(DemoOptions::default()).await?;
    let client = connect(&server, Lifecycle::Stateless).await?;
    let missing = call(&client, "lookup_customer", json!({})).await?;
    assert!(is_error(&missing));
    let bad_plan = call(
        &client,
        "update_customer",
        json!({ "id": "cus_001", "plan": "gold" }),
    )
    .await?;
    assert!(is_error(&bad_plan));
    let bad_email = call(
        &client,
        "send_email",
        json!({ "to": "nobody", "subject": "s", "body": "b" }),
    )
    .await?;
    assert!(is_error(&bad_email));
    match call(&client, "no_such_tool", json!({})).await {
        Err(error) => assert!(error.downcast_ref::<ServiceError>().is_some(), "{error}"),
        Ok(result) => bail!("unknown tool answered: {result:?}"),
    }
    client.cancel().await?;
    Ok(())
}

#[tokio::test]
async fn write_tools_change_state_and_report_what_they_did() -> Result<()> {
    let server = start(DemoOptions::default()).await?;
    let client = connect(&server, Lifecycle::Legacy).await?;
    let unconfirmed = call(&client, "purge_customers", json!({ "confirm": false })).await?;
    assert!(text(&unconfirmed)?.starts_with("nothing deleted"));
    let listed = call(&client, "list_customers", json!({})).await?;
    assert_eq!(serde_json::from_str::<Vec<Value>>(text(&listed)?)?.len(), 5);

    let purged = call(&client, "purge_customers", json!({ "confirm": true })).await?;
    assert_eq!(text(&purged)?, "deleted 5 customers");
    let listed = call(&client, "list_customers", json!({})).await?;
    assert_eq!(text(&listed)?, "[]");

    let first = call(&client, "spawn_worker", json!({ "task": "triage" })).await?;
    let second = call(&client, "spawn_worker", json!({ "task": "triage" })).await?;
    assert_eq!((text(&first)?, text(&second)?), ("worker-1", "worker-2"));
    let email = json!({ "to": "ada@example.com", "subject": "Hi", "body": "Hello" });
    assert_eq!(text(&call(&client, "send_email", email).await?)?, "queued");
    client.cancel().await?;
    Ok(())
}

#[tokio::test]
async fn fixed_texts_are_served_unchanged() -> Result<()> {
    let server = start(DemoOptions::default()).await?;
    let client = connect(&server, Lifecycle::Stateless).await?;
    let config = call(&client, "read_config", json!({})).await?;
    assert!(text(&config)?.contains("AKIAIOSFODNN7EXAMPLE"));
    assert!(text(&config)?.contains("ops@example.com"));
    let first = call(&client, "get_report", json!({})).await?;
    let second = call(&client, "get_report", json!({})).await?;
    assert_eq!(text(&first)?, text(&second)?);
    assert!((900..=1200).contains(&text(&first)?.len()));
    client.cancel().await?;
    Ok(())
}
