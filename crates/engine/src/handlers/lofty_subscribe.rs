//! `lofty.subscribe`: subscribes a Lofty connection's deliveries (leads, notes, tasks,
//! appointments, stage changes) to `<public_url>/webhooks/lofty/<key>`, skipping subscriptions that
//! exist and removing ours at an older `public_url`.

use secrecy::{ExposeSecret, SecretString};
use store::Store;

use super::{Context, Failed, Outcome, Verdict};
use crate::connectors::failure_of;
use crate::jobs::LoftySubscribe;

/// The Lofty event lists the recipes and the catalog's triggers use: leads, notes,
/// tasks, appointments, and stage changes (`lofty.trigger.pipeline_change`; a stage
/// change also comes as a lead update on list 2).
pub const LOFTY_WEBHOOK_LISTS: [lofty::models::EventList; 5] = [
    lofty::models::EventList::LeadInfo,
    lofty::models::EventList::Note,
    lofty::models::EventList::Task,
    lofty::models::EventList::Appointment,
    lofty::models::EventList::PipelineChange,
];

/// The callback URL of a Lofty connection's deliveries:
/// `<public_url>/webhooks/lofty/<key>`. It carries the connection's secret key.
pub async fn lofty_callback_url(
    store: &Store,
    public_url: &url::Url,
    connection_id: &str,
) -> Result<SecretString, store::StoreError> {
    let key = store.webhook_key(connection_id).await?;
    let base = public_url.as_str().trim_end_matches('/');
    Ok(SecretString::from(format!(
        "{base}/webhooks/lofty/{}",
        key.expose_secret()
    )))
}

pub async fn run(ctx: &Context, job: &LoftySubscribe) -> Result<Outcome, Failed> {
    let Some(public_url) = &ctx.public_url else {
        return Err(Failed::give_up(
            "cannot subscribe to Lofty webhooks: no public_url is configured (set public_url or GHLSYNC_PUBLIC_URL to the HTTPS address Lofty can reach, then replay this job)",
        ));
    };
    let lofty = ctx.connectors.open(&job.connection).await?.into_lofty()?;
    let conn_id = lofty.connection.id.as_str();
    let record = format!("lofty:subscriptions:{conn_id}");
    let client = &lofty.client;
    let callback = lofty_callback_url(ctx.store(), public_url, conn_id).await?;
    let callback = callback.expose_secret();
    let lofty_failure = |e: lofty::LoftyError| {
        let hint = if public_url.scheme() == "https" {
            String::new()
        } else {
            format!(
                " (public_url is {}: Lofty delivers only to HTTPS callback URLs; set public_url / GHLSYNC_PUBLIC_URL to your HTTPS address)",
                public_url.as_str().trim_end_matches('/')
            )
        };
        Failed::new(
            failure_of(e.retry_class()),
            format!("Lofty webhook subscription: {e}{hint}"),
        )
    };
    let existing = client.list_webhooks().await.map_err(lofty_failure)?;
    let mut made = Vec::new();
    for list in LOFTY_WEBHOOK_LISTS {
        let exists = existing
            .iter()
            .any(|w| w.list_id == i64::from(list.id()) && w.callback_url == callback);
        if !exists {
            client
                .create_webhook(&lofty::models::CreateWebhook::new(list, callback))
                .await
                .map_err(lofty_failure)?;
            made.push(list.id().to_string());
        }
    }
    // Ours at an older public_url (same key path, another host): delivered nowhere.
    let path = callback
        .rfind("/webhooks/lofty/")
        .map_or(callback, |i| &callback[i..]);
    let mut removed = 0;
    for stale in existing
        .iter()
        .filter(|w| w.callback_url.ends_with(path) && w.callback_url != callback)
    {
        client
            .delete_webhook(stale.subscribe_id)
            .await
            .map_err(lofty_failure)?;
        removed += 1;
    }
    let lists: Vec<String> = LOFTY_WEBHOOK_LISTS
        .iter()
        .map(|l| l.id().to_string())
        .collect();
    Ok(Outcome::new(
        record,
        Verdict::Subscribed,
        format!(
            "lists {} deliver to {}/webhooks/lofty/<key>; {removed} stale removed; {} new",
            lists.join(", "),
            public_url.as_str().trim_end_matches('/'),
            if made.is_empty() {
                "none".to_owned()
            } else {
                made.join(", ")
            }
        ),
    ))
}
