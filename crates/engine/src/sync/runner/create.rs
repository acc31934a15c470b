//! Creating the record on the other side, safely after a lost answer.

use serde_json::{Map, Value, json};

use super::{Entry, LOOK_AGAIN, Runner};
use crate::handlers::{Failed, Verdict};
use crate::sync::reference;
use crate::sync::systems::{self, WriteError};
use domain::sync::Side;

/// What a create came to.
pub(super) enum Made {
    /// The record, made or found: its id and state.
    Record(String, Value),
    /// Nothing to write: the decision (a review) is recorded.
    Settled((Verdict, String)),
}

impl Runner<'_> {
    /// Where a create remembers that it was tried (the time, epoch ms).
    pub(super) fn create_marker(&self) -> String {
        format!(
            "create:{}:{}:{}",
            self.flow.row.id,
            self.side.as_str(),
            self.job.record
        )
    }

    /// Creates the record `patch` describes on the other side. A create whose
    /// answer was lost (a crash, a timeout, a 5xx, even a 4xx after which the
    /// record exists) may have made it: before creating again, look for it, and
    /// look again after a delay (searches lag behind writes). A record that exists
    /// already (GHL says so, or the search finds it) is linked and updated, unless
    /// it is linked to another record: then a person decides.
    pub(super) async fn create_other(
        &self,
        entry: &mut Entry<'_>,
        patch: &Map<String, Value>,
    ) -> Result<Made, Failed> {
        let (spec, side) = (&self.flow.spec, self.side);
        let other_side = side.other();
        let object = spec.object(other_side).name;
        let conn = self.open(other_side).await?;
        let marker = self.create_marker();
        let now = self.store().now();
        let tried: Option<i64> = self
            .store()
            .cursor(&marker)
            .await?
            .and_then(|v| v.parse().ok());
        let mut existing = None;
        if let Some(at) = tried {
            let probe = Value::Object(patch.clone());
            let text = |name: &str| {
                spec.keys.iter().find(|k| k.name == name).and_then(|k| {
                    let path = match other_side {
                        Side::Left => &k.left,
                        Side::Right => &k.right,
                    };
                    let v = path.get(&probe);
                    let v = v.as_array().and_then(|a| a.first().cloned()).unwrap_or(v);
                    v.as_str().map(str::to_owned)
                })
            };
            let (email, phone) = (text("email"), text("phone"));
            let found =
                systems::find_existing(&conn, object, email.as_deref(), phone.as_deref()).await?;
            match found.first().and_then(|r| systems::id_of(object, r)) {
                Some(id) => existing = Some(id),
                None if now - at < LOOK_AGAIN.as_millis() as i64 => {
                    return Err(Failed::new(
                        store::Failure::RetryAfter(LOOK_AGAIN),
                        format!(
                            "{}: an earlier create may have made it, and a search does not find it yet; looking again in {} s before creating",
                            entry.source,
                            LOOK_AGAIN.as_secs()
                        ),
                    ));
                }
                None => {}
            }
        }
        if existing.is_none() {
            self.store().set_cursor(&marker, &now.to_string()).await?;
        }
        let attempt = match existing {
            Some(id) => Err(WriteError::Duplicate(id)),
            None => systems::create(&conn, object, patch.clone()).await,
        };
        let created = match attempt {
            Ok(c) => Ok(c),
            Err(WriteError::Duplicate(existing)) => {
                // The person exists already (GHL says so, or an earlier attempt
                // made it): link to it and update it, unless it is linked to
                // someone else, which contradicts the index: a person decides.
                if let Some(linked) = self
                    .store()
                    .pair(&self.flow.row.id, other_side.as_str(), &existing)
                    .await?
                {
                    let partner = match side {
                        Side::Left => &linked.left_id,
                        Side::Right => &linked.right_id,
                    };
                    if partner != &self.job.record {
                        let target = reference(spec, other_side, &existing);
                        let detail = json!({"record": entry.source, "candidates": [target], "why": "the system says this person exists, as a record already linked to another"});
                        let rid = self
                            .review(
                                &self.flow.row.id,
                                "match",
                                &entry.subject,
                                &detail.to_string(),
                            )
                            .await?;
                        let h = entry.make(&target, "review", format!("{target} exists already and is linked to another record: review #{rid}"), json!([]), (None, None));
                        self.note(vec![h]).await?;
                        return Ok(Made::Settled((
                            Verdict::Skipped,
                            format!("exists, linked to another: review #{rid}"),
                        )));
                    }
                }
                let current =
                    systems::read(&conn, object, &existing, &Value::Object(patch.clone()))
                        .await?
                        .unwrap_or(Value::Null);
                match systems::update(&conn, object, &existing, &current, patch.clone()).await {
                    Ok(state) => Ok((existing, state)),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        };
        match created {
            Ok((id, state)) => Ok(Made::Record(id, state)),
            Err(e) => Err(self.failed(entry, &e).await?),
        }
    }
}
