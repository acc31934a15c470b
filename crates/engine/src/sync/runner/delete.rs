//! A deleted record: its side's delete policy.

use serde_json::{Value, json};

use super::{Entry, Runner, subject_of};
use crate::handlers::{Failed, Verdict};
use crate::sync::{reference, systems};
use domain::sync::{self, Side};

impl Runner<'_> {
    pub(super) async fn delete(&self) -> Result<(Verdict, String), Failed> {
        let (flow, side, job) = (self.flow, self.side, self.job);
        let policy = flow.spec.on_delete(side);
        let source = reference(&flow.spec, side, &job.record);
        let mut entry = Entry {
            flow,
            source: source.clone(),
            subject: String::new(),
            at: self.store().now(),
        };
        let Some(pair) = self
            .store()
            .pair(&flow.row.id, side.as_str(), &job.record)
            .await?
        else {
            let h = entry.make(
                "",
                "skip",
                "deleted, and never linked",
                json!([]),
                (None, None),
            );
            self.note(vec![h]).await?;
            return Ok((Verdict::Skipped, "deleted, not linked".to_owned()));
        };
        let other_id = match side {
            Side::Left => pair.right_id.clone(),
            Side::Right => pair.left_id.clone(),
        };
        // Who it was: from the last state the pair knew.
        let last: Value = serde_json::from_str(match side {
            Side::Left => &pair.left_state,
            Side::Right => &pair.right_state,
        })
        .unwrap_or(Value::Null);
        entry.subject = subject_of(&sync::key_values(&flow.spec, side, &last));
        let target = reference(&flow.spec, side.other(), &other_id);
        match policy {
            domain::sync::DeletePolicy::Review => {
                let detail = json!({"deleted": source, "partner": target});
                let id = self
                    .review(&flow.row.id, "delete", "", &detail.to_string())
                    .await?;
                let h = entry.make(
                    &target,
                    "review",
                    format!("deleted; its partner waits for review #{id} (deletes = review)"),
                    json!([]),
                    (None, None),
                );
                self.note(vec![h]).await?;
                Ok((Verdict::Skipped, format!("delete waits for review #{id}")))
            }
            policy => {
                let partner_side = side.other();
                let object = flow.spec.object(partner_side).name;
                let state: Value = serde_json::from_str(match partner_side {
                    Side::Left => &pair.left_state,
                    Side::Right => &pair.right_state,
                })
                .unwrap_or(Value::Null);
                let acted = match policy {
                    domain::sync::DeletePolicy::Tag(tag) => {
                        // The field the flow maps tags through, on the partner's side.
                        let Some(rule) = flow
                            .spec
                            .fields
                            .iter()
                            .find(|f| f.path(partner_side).root() == "tags")
                        else {
                            return Err(Failed::give_up(format!(
                                "deletes = tag:{tag} but the flow maps no tags field on the {partner_side} side"
                            )));
                        };
                        let path = rule.path(partner_side);
                        let mut tags = domain::sync::value::set_items(&path.get(&state));
                        if !tags.iter().any(|t| t.as_str() == Some(tag.as_str())) {
                            tags.push(Value::String(tag.clone()));
                        }
                        let mut patch = serde_json::Map::new();
                        path.set_in_patch(&mut patch, &state, Value::Array(tags));
                        if self.dry.is_none() {
                            let conn = self.open(partner_side).await?;
                            if let Err(e) =
                                systems::update(&conn, object, &other_id, &state, patch).await
                            {
                                return Err(self.failed(&entry, &e).await?);
                            }
                        }
                        format!("partner tagged `{tag}`")
                    }
                    domain::sync::DeletePolicy::Delete => {
                        if self.dry.is_none() {
                            let conn = self.open(partner_side).await?;
                            if let Err(e) = systems::delete(&conn, object, &other_id, &state).await
                            {
                                return Err(self.failed(&entry, &e.into()).await?);
                            }
                        }
                        "partner deleted (deletes = delete)".to_owned()
                    }
                    _ => format!("partner kept (deletes = {policy})"),
                };
                if self.dry.is_none() {
                    self.store()
                        .remove_pair(&flow.row.id, side.as_str(), &job.record)
                        .await?;
                    // Its children (tasks, notes, appointments) go with it, each
                    // by its own flow's delete policy.
                    self.release_children(side, &job.record).await?;
                }
                let h = entry.make(
                    &target,
                    "delete",
                    format!("deleted; link removed, {acted}"),
                    json!([]),
                    (None, None),
                );
                self.note(vec![h]).await?;
                Ok((Verdict::Ok, "unlinked".to_owned()))
            }
        }
    }
}
