//! The demo's in-memory customer records.
//! A fixed set is seeded per process; changes are visible to later calls in that process.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A customer's subscription plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Plan {
    /// The free tier.
    Free,
    /// The paid tier for small teams.
    Pro,
    /// The contract tier.
    Enterprise,
}

/// One customer record, serialized as the tools' JSON output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Customer {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) plan: Plan,
}

/// The fields `update_customer` may change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub(crate) struct CustomerChange {
    pub(crate) plan: Option<Plan>,
    pub(crate) email: Option<String>,
}

/// The seed records, in id order.
const SEED: [(&str, &str, &str, Plan); 5] = [
    (
        "cus_001",
        "Ada Lovelace",
        "ada@example.com",
        Plan::Enterprise,
    ),
    ("cus_002", "Grace Hopper", "grace@example.com", Plan::Pro),
    ("cus_003", "Alan Turing", "alan@example.com", Plan::Free),
    (
        "cus_004",
        "Katherine Johnson",
        "katherine@example.com",
        Plan::Pro,
    ),
    (
        "cus_005",
        "Edsger Dijkstra",
        "edsger@example.com",
        Plan::Free,
    ),
];

/// The customer table shared by every session of one server process.
#[derive(Debug)]
pub(crate) struct Customers {
    records: Mutex<BTreeMap<String, Customer>>,
}

impl Customers {
    /// A table holding the five seed customers.
    pub(crate) fn seeded() -> Self {
        let records = SEED
            .iter()
            .map(|&(id, name, email, plan)| {
                let customer = Customer {
                    id: id.to_owned(),
                    name: name.to_owned(),
                    email: email.to_owned(),
                    plan,
                };
                (customer.id.clone(), customer)
            })
            .collect();
        Self {
            records: Mutex::new(records),
        }
    }

    /// The customer with this id, if any.
    pub(crate) fn find(&self, id: &str) -> Option<Customer> {
        self.lock().get(id).cloned()
    }

    /// Every customer, in id order.
    pub(crate) fn all(&self) -> Vec<Customer> {
        self.lock().values().cloned().collect()
    }

    /// Applies `change` to the customer with this id and returns the new
    /// record, or `None` if there is no such customer.
    pub(crate) fn update(&self, id: &str, change: CustomerChange) -> Option<Customer> {
        let mut records = self.lock();
        let customer = records.get_mut(id)?;
        if let Some(plan) = change.plan {
            customer.plan = plan;
        }
        if let Some(email) = change.email {
            customer.email = email;
        }
        Some(customer.clone())
    }

    /// Removes every customer and returns how many there were.
    pub(crate) fn purge(&self) -> usize {
        let mut records = self.lock();
        let count = records.len();
        records.clear();
        count
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Customer>> {
        // A panic while holding the lock cannot leave a record half-written:
        // every mutation above is a single field assignment or a clear.
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_table_lists_five_customers_in_id_order() {
        let ids: Vec<_> = Customers::seeded()
            .all()
            .into_iter()
            .map(|customer| customer.id)
            .collect();
        assert_eq!(ids, ["cus_001", "cus_002", "cus_003", "cus_004", "cus_005"]);
    }

    #[test]
    fn update_changes_only_the_given_fields() {
        let customers = Customers::seeded();
        let change = CustomerChange {
            plan: Some(Plan::Enterprise),
            email: None,
        };
        let updated = customers.update("cus_003", change);
        let expected = Customer {
            id: "cus_003".to_owned(),
            name: "Alan Turing".to_owned(),
            email: "alan@example.com".to_owned(),
            plan: Plan::Enterprise,
        };
        assert_eq!(updated.as_ref(), Some(&expected));
        assert_eq!(customers.find("cus_003"), Some(expected));
    }

    #[test]
    fn update_of_unknown_id_changes_nothing() {
        let customers = Customers::seeded();
        assert_eq!(customers.update("nope", CustomerChange::default()), None);
        assert_eq!(customers.all().len(), 5);
    }

    #[test]
    fn purge_empties_the_table() {
        let customers = Customers::seeded();
        assert_eq!(customers.purge(), 5);
        assert!(customers.all().is_empty());
        assert_eq!(customers.purge(), 0);
    }
}
