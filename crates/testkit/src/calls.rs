//! Counting the sandboxes' API calls: what a test asserts its sync cost.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::TestApp;

/// The sandboxes' request counters at one moment: GHL per route for one location,
/// Lofty per route for every caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calls {
    pub ghl: BTreeMap<String, u64>,
    pub lofty: BTreeMap<String, u64>,
}

impl Calls {
    /// The counters now (GHL: of `location`).
    pub async fn now(app: &TestApp, location: &str) -> Self {
        let get = async |base: String| -> Value {
            app.http
                .get(format!("{base}/_sandbox/counters"))
                .send()
                .await
                .expect("the sandbox answers")
                .json()
                .await
                .expect("counters are JSON")
        };
        let ghl = get(app.ghl_base()).await;
        let lofty = get(app.sandbox.info().lofty.base_url.clone()).await;
        let routes = |v: &Value| -> BTreeMap<String, u64> {
            v.as_object()
                .into_iter()
                .flatten()
                .map(|(k, n)| (k.clone(), n.as_u64().unwrap_or(0)))
                .collect()
        };
        Self {
            ghl: routes(&ghl["locations"][location]["by_route"]),
            lofty: routes(&lofty["callers"]["total"]["by_route"]),
        }
    }

    /// The requests made since `before`, per route (routes with none left out).
    pub fn since(&self, before: &Self) -> Self {
        let diff = |now: &BTreeMap<String, u64>, then: &BTreeMap<String, u64>| {
            now.iter()
                .map(|(k, n)| (k.clone(), n - then.get(k).copied().unwrap_or(0)))
                .filter(|(_, n)| *n > 0)
                .collect()
        };
        Self {
            ghl: diff(&self.ghl, &before.ghl),
            lofty: diff(&self.lofty, &before.lofty),
        }
    }

    /// Writes (`write`) or reads (GET) among `routes`.
    pub fn count(routes: &BTreeMap<String, u64>, write: bool) -> u64 {
        routes
            .iter()
            .filter(|(route, _)| route.starts_with("GET ") != write)
            .map(|(_, n)| n)
            .sum()
    }

    /// (GHL reads, GHL writes, Lofty reads, Lofty writes).
    pub fn split(&self) -> (u64, u64, u64, u64) {
        (
            Self::count(&self.ghl, false),
            Self::count(&self.ghl, true),
            Self::count(&self.lofty, false),
            Self::count(&self.lofty, true),
        )
    }

    pub fn total(&self) -> u64 {
        self.ghl.values().sum::<u64>() + self.lofty.values().sum::<u64>()
    }
}
