//! Where relayed resources live (which upstream listed a URI, or a template covering it), and
//! who subscribed to which resource.

use crate::upstream::ResourceUpdate;
use rmcp::model::ResourceTemplate;
use rmcp::{Peer, RoleServer};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// An agent's session, and the connection its resource updates go to.
type Subscriber = (String, Peer<RoleServer>);

/// Which upstream listed which resource URI (and template prefix), to route reads; and who
/// subscribed to which resource, to relay its updates.
#[derive(Default)]
pub struct ResourceRoutes {
    exact: Mutex<BTreeMap<String, String>>,
    prefixes: Mutex<BTreeMap<String, String>>,
    /// (upstream, uri) → the subscribed agents' sessions and connections.
    subscribers: Mutex<BTreeMap<(String, String), Vec<Subscriber>>>,
    /// Upstream → (offers resources, offers prompts), as its last handshake declared.
    offered: Mutex<BTreeMap<String, (bool, bool)>>,
    /// When the upstreams were last listed to route an unknown URI.
    relisted_at: Mutex<Option<Instant>>,
}

/// How often an unknown URI may make the gateway list every upstream's resources again.
const RELIST_EVERY: Duration = Duration::from_secs(5);

impl ResourceRoutes {
    pub(super) fn set_offered(&self, upstream: &str, resources: bool, prompts: bool) {
        if let Ok(mut offered) = self.offered.lock() {
            offered.insert(upstream.to_owned(), (resources, prompts));
        }
    }

    /// The upstreams that offer resources, and those that offer prompts.
    pub(super) fn offered(&self) -> Vec<(String, bool, bool)> {
        self.offered
            .lock()
            .map(|o| o.iter().map(|(u, (r, p))| (u.clone(), *r, *p)).collect())
            .unwrap_or_default()
    }

    pub(super) fn subscribe(
        &self,
        upstream: &str,
        uri: &str,
        session: &str,
        peer: Peer<RoleServer>,
    ) {
        if let Ok(mut subs) = self.subscribers.lock() {
            let entry = subs
                .entry((upstream.to_owned(), uri.to_owned()))
                .or_default();
            entry.retain(|(s, _)| s != session);
            entry.push((session.to_owned(), peer));
        }
    }

    /// Forgets a session's subscription; true when nobody else still wants the resource.
    pub(super) fn unsubscribe(&self, upstream: &str, uri: &str, session: &str) -> bool {
        let Ok(mut subs) = self.subscribers.lock() else {
            return false;
        };
        let key = (upstream.to_owned(), uri.to_owned());
        let left = subs.get_mut(&key).map_or(0, |entry| {
            entry.retain(|(s, _)| s != session);
            entry.len()
        });
        if left == 0 {
            subs.remove(&key);
        }
        left == 0
    }

    /// The live connections subscribed to the updated resource; closed ones are forgotten
    /// here, so a client that went away without unsubscribing leaves nothing behind.
    pub(super) fn subscribed(&self, update: &ResourceUpdate) -> Vec<Peer<RoleServer>> {
        let key = (update.upstream.clone(), update.uri.clone());
        let Ok(mut subs) = self.subscribers.lock() else {
            return Vec::new();
        };
        let Some(entry) = subs.get_mut(&key) else {
            return Vec::new();
        };
        entry.retain(|(_, peer)| !peer.is_transport_closed());
        let live = entry.iter().map(|(_, p)| p.clone()).collect();
        if entry.is_empty() {
            subs.remove(&key);
        }
        live
    }

    /// Should the upstreams be listed again to route an unknown URI? At most once per
    /// [`RELIST_EVERY`]: a stream of made-up URIs must not turn into a stream of listings.
    pub(super) fn may_relist(&self, now: Instant) -> bool {
        let Ok(mut last) = self.relisted_at.lock() else {
            return false;
        };
        if last.is_some_and(|at| now.duration_since(at) < RELIST_EVERY) {
            return false;
        }
        *last = Some(now);
        true
    }

    pub(super) fn learn(&self, upstream: &str, uris: impl Iterator<Item = String>) {
        if let Ok(mut exact) = self.exact.lock() {
            exact.extend(uris.map(|uri| (uri, upstream.to_owned())));
        }
    }

    pub(super) fn learn_templates(&self, upstream: &str, templates: &[ResourceTemplate]) {
        if let Ok(mut prefixes) = self.prefixes.lock() {
            for t in templates {
                // `test://dynamic/{id}` routes every URI that starts `test://dynamic/`.
                let prefix = t.uri_template.split('{').next().unwrap_or_default();
                if !prefix.is_empty() {
                    prefixes.insert(prefix.to_owned(), upstream.to_owned());
                }
            }
        }
    }

    pub(super) fn route(&self, uri: &str) -> Option<String> {
        if let Some(up) = self.exact.lock().ok()?.get(uri) {
            return Some(up.clone());
        }
        let prefixes = self.prefixes.lock().ok()?;
        // The longest matching prefix wins.
        prefixes
            .iter()
            .filter(|(prefix, _)| uri.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, up)| up.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listed_uri_routes_to_its_upstream_and_a_template_by_its_longest_prefix() {
        let routes = ResourceRoutes::default();
        routes.learn("a", ["test://static/1".to_owned()].into_iter());
        let template = |uri: &str| ResourceTemplate::new(uri, "t");
        routes.learn_templates("b", &[template("test://dyn/{id}")]);
        routes.learn_templates("c", &[template("test://dyn/deep/{id}")]);
        assert_eq!(routes.route("test://static/1").as_deref(), Some("a"));
        assert_eq!(routes.route("test://dyn/7").as_deref(), Some("b"));
        assert_eq!(routes.route("test://dyn/deep/7").as_deref(), Some("c"));
        assert_eq!(routes.route("test://static/2"), None);
    }

    #[test]
    fn unknown_uris_relist_the_upstreams_at_most_once_per_interval() {
        let routes = ResourceRoutes::default();
        let start = Instant::now();
        assert!(routes.may_relist(start));
        assert!(!routes.may_relist(start + Duration::from_secs(1)));
        assert!(routes.may_relist(start + RELIST_EVERY));
    }
}
