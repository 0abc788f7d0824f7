//! The authorization server's own entries as OCSF IAM records: sign-ins and declined
//! consents as Authentication (3002), users and OAuth clients added as Account Change (3001).

use super::{
    ACCOUNT_CHANGE, AUTHENTICATION, Activity, Entry, Outcome, Record, Severity, gateway_endpoint,
    human_user, named_user,
};
use crate::EventKind;
use serde_json::{Value, json};

/// A sign-in (allowed or refused) or a consent the human declined.
pub(super) fn authentication(entry: &Entry<'_>) -> Value {
    let e = &entry.event;
    let human = e.human.as_ref().map_or("unknown", |h| h.as_str());
    let allowed = e.decision.as_deref() == Some("allow");
    let (activity, outcome, severity, message) = match (e.kind, allowed) {
        (EventKind::SignIn, true) => (
            Activity(1, "Logon"),
            Outcome::Success,
            Severity::Informational,
            format!("{human} signed in"),
        ),
        (EventKind::SignIn, false) => (
            Activity(1, "Logon"),
            Outcome::Failure(Some(e.reasons.join("; "))),
            Severity::Low,
            format!("sign-in as {human} refused"),
        ),
        _ => (
            Activity(99, "Consent Declined"),
            Outcome::Other("Declined", Some(e.reasons.join("; "))),
            Severity::Informational,
            format!("{human} declined an OAuth client's request"),
        ),
    };
    let mut record = Record::new(
        entry,
        AUTHENTICATION,
        activity,
        severity,
        &entry.stored.hash.to_string(),
    );
    record
        .set("user", human_user(human))
        .set("dst_endpoint", gateway_endpoint(&e.node))
        .set("message", message)
        .outcome(outcome);
    record.into_value()
}

/// A local user or an OAuth client was added.
pub(super) fn account_change(entry: &Entry<'_>) -> Value {
    let e = &entry.event;
    let (user, message) = match e.kind {
        EventKind::UserAdded => {
            let human = e.human.as_ref().map_or("unknown", |h| h.as_str());
            (human_user(human), format!("user {human} added"))
        }
        _ => {
            let client = entry
                .detail("client_id")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            (
                named_user(client),
                format!("OAuth client {client} registered"),
            )
        }
    };
    let mut record = Record::new(
        entry,
        ACCOUNT_CHANGE,
        Activity(1, "Create"),
        Severity::Informational,
        &entry.stored.hash.to_string(),
    );
    record
        .set("user", user)
        .set("message", message)
        .outcome(Outcome::Success);
    if let Some(by) = entry.detail("by").and_then(Value::as_str) {
        record.set("actor", json!({ "user": named_user(by) }));
    }
    record.into_value()
}

#[cfg(test)]
mod tests {
    use crate::{AuditEvent, EventKind, StoredEvent, to_ocsf};
    use mandate_core::{HumanId, Timestamp};

    fn record(kind: EventKind, decision: Option<&str>) -> serde_json::Value {
        let mut event = AuditEvent::new(kind, Timestamp::from_millis(1_000), "gw-1".into());
        event.human = Some(HumanId::new("alice@corp").unwrap());
        event.decision = decision.map(str::to_owned);
        event.detail = Some(serde_json::json!({ "client_id": "mcl_1", "by": "operator" }));
        let stored = StoredEvent::after(None, &event).unwrap();
        to_ocsf(&stored).unwrap().remove(0)
    }

    #[test]
    fn sign_ins_are_authentication_and_additions_account_changes() {
        let allowed = record(EventKind::SignIn, Some("allow"));
        assert_eq!(allowed["class_uid"], 3002);
        assert_eq!(allowed["status_id"], 1, "{allowed}");
        assert_eq!(allowed["user"]["name"], "alice@corp");
        let refused = record(EventKind::SignIn, Some("deny"));
        assert_eq!(refused["status_id"], 2, "{refused}");
        assert_eq!(
            record(EventKind::ConsentRefused, Some("deny"))["class_uid"],
            3002
        );
        let user = record(EventKind::UserAdded, None);
        assert_eq!(user["class_uid"], 3001);
        assert_eq!(user["message"], "user alice@corp added");
        let client = record(EventKind::ClientRegistered, None);
        assert_eq!(client["message"], "OAuth client mcl_1 registered");
        assert_eq!(client["actor"]["user"]["name"], "operator");
    }
}
