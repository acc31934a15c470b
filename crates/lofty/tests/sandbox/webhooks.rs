//! Webhook subscriptions and Lofty's thin, batched deliveries.

use std::time::Duration;

use lofty::RetryClass;
use lofty::models::{CreateLead, CreateWebhook, EventList, NoteInput, UpdateLead};
use lofty::webhook::{ChangeKind, parse};
use serde_json::json;

use crate::helpers::{Receiver, assert_api_error, poll, spawn};

#[tokio::test]
async fn subscriptions_create_list_update_delete() {
    let ctx = spawn().await;
    let created = ctx
        .client
        .create_webhook(&CreateWebhook {
            limit: Some(50),
            ..CreateWebhook::new(EventList::LeadInfo, "https://sync.example.com/lofty/s3cret")
        })
        .await
        .unwrap();
    assert_eq!(created.event_list(), Some(EventList::LeadInfo));
    assert_eq!(created.limit, Some(50));
    assert_eq!(created.permission_mode, Some(0));
    assert_eq!(created.team_id, Some(ctx.info.team_id));
    assert_eq!(created.vendor_id, Some(0), "a personal key has no vendor");
    let via_oauth = ctx
        .oauth
        .create_webhook(&CreateWebhook::new(
            EventList::Note,
            "https://sync.example.com/lofty/notes",
        ))
        .await
        .unwrap();
    assert_ne!(via_oauth.vendor_id, Some(0));
    let all = ctx.client.list_webhooks().await.unwrap();
    assert_eq!(all.len(), 2);

    // Lofty has no update endpoint: update = subscribe anew, then delete the old one.
    let changed = ctx
        .client
        .update_webhook(
            created.subscribe_id,
            &CreateWebhook {
                permission_mode: Some(1),
                ..CreateWebhook::new(EventList::LeadInfo, "https://sync.example.com/v2")
            },
        )
        .await
        .unwrap();
    let all = ctx.client.list_webhooks().await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|w| w.subscribe_id != created.subscribe_id));
    let now = all
        .iter()
        .find(|w| w.subscribe_id == changed.subscribe_id)
        .unwrap();
    assert_eq!(now.callback_url, "https://sync.example.com/v2");
    assert_eq!(now.permission_mode, Some(1));

    ctx.client
        .delete_webhook(changed.subscribe_id)
        .await
        .unwrap();
    let err = ctx
        .client
        .delete_webhook(changed.subscribe_id)
        .await
        .unwrap_err();
    assert_api_error(&err, 400, "WEBHOOK_DELETE_NOT_EXIST", RetryClass::GiveUp);
    // An agent cannot delete the owner's subscription.
    let err = ctx
        .agent
        .delete_webhook(via_oauth.subscribe_id)
        .await
        .unwrap_err();
    assert_api_error(&err, 400, "WEBHOOK_DELETE_NO_AUTHORITY", RetryClass::GiveUp);
    ctx.shutdown().await;
}

#[tokio::test]
async fn subscription_errors() {
    let ctx = spawn().await;
    let cases = [
        (
            json!({"listId": 13, "callbackUrl": "https://x.example.com"}),
            "WEBHOOK_TYPE_ERROR",
        ),
        (
            json!({"listId": 2, "callbackUrl": "http://x.example.com/hook"}),
            "WEBHOOK_CALLBACK_URL_INVALID",
        ),
        (
            json!({"listId": 2, "callbackUrl": "not a url"}),
            "WEBHOOK_CALLBACK_URL_INVALID",
        ),
        (
            json!({"listId": 2, "url": "https://x.example.com"}),
            "20049",
        ),
        (
            json!({"listId": 2, "callbackUrl": "https://x.example.com", "limit": 5001}),
            "20012",
        ),
        (
            json!({"listId": 2, "callbackUrl": "https://x.example.com", "permissionMode": 2}),
            "20012",
        ),
    ];
    for (body, code) in cases {
        let err = ctx
            .client
            .call("lofty-create-webhook", json!({ "body": body }))
            .await
            .unwrap_err();
        assert_api_error(&err, 400, code, RetryClass::GiveUp);
    }
    ctx.shutdown().await;
}

#[tokio::test]
async fn several_changes_within_the_window_arrive_as_one_batch() {
    let ctx = spawn().await;
    ctx.config(json!({"webhook_batch_ms": 1000})).await;
    let receiver = Receiver::start().await;
    let sub = ctx
        .client
        .create_webhook(&CreateWebhook::new(EventList::LeadInfo, &receiver.url))
        .await
        .unwrap();
    let notes_receiver = Receiver::start().await;
    ctx.client
        .create_webhook(&CreateWebhook::new(EventList::Note, &notes_receiver.url))
        .await
        .unwrap();

    let a = ctx
        .client
        .create_lead(&CreateLead::new("Batch A"))
        .await
        .unwrap();
    let b = ctx
        .client
        .create_lead(&CreateLead::new("Batch B"))
        .await
        .unwrap();
    let seeded = ctx.lead_ids()[0];
    let rename = UpdateLead {
        last_name: Some("Renamed".to_owned()),
        ..UpdateLead::default()
    };
    ctx.client.update_lead(seeded, &rename).await.unwrap();
    ctx.client.update_lead(a, &rename).await.unwrap();
    ctx.client
        .create_note(&NoteInput::new(b, "not a lead change"))
        .await
        .unwrap();

    let deliveries = poll("the lead batch", Duration::from_secs(5), || async {
        let got = receiver.received();
        (!got.is_empty()).then_some(got)
    })
    .await;
    assert_eq!(deliveries.len(), 1, "one delivery: {deliveries:?}");
    let body = &deliveries[0];
    assert_eq!(body["listId"], 2);
    assert_eq!(body["teamId"], ctx.info.team_id);
    assert!(body.get("type").is_none() && body.get("signature").is_none());
    let batch = parse(body.to_string().as_bytes()).unwrap();
    assert_eq!(batch.event_list(), Some(EventList::LeadInfo));
    let mut ids = batch.ids();
    ids.sort_unstable();
    let mut want = vec![a, b, seeded];
    want.sort_unstable();
    assert_eq!(ids, want, "every changed lead, once per id");
    let created: Vec<i64> = batch
        .changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Created)
        .filter_map(|c| c.id)
        .collect();
    assert_eq!(created, [a, b]);
    assert_eq!(body["createdLead"].as_array().unwrap().len(), 2);
    assert_eq!(body["updatedLead"].as_array().unwrap().len(), 2);
    assert!(batch.changes.iter().all(|c| c.update_time.is_some()));

    let notes = poll("the note batch", Duration::from_secs(5), || async {
        let got = notes_receiver.received();
        (!got.is_empty()).then_some(got)
    })
    .await;
    assert_eq!(notes[0]["listId"], 9);
    assert_eq!(notes[0]["createdNote"][0]["leadId"], b);

    // The deliveries log of the sandbox agrees; nothing more is pending. The sandbox
    // logs a delivery once its POST has returned, which may be just after our
    // receiver saw the body: wait for the entry.
    let lead_log = poll("the delivery log entry", Duration::from_secs(5), || async {
        let log: Vec<_> = ctx
            .sandbox
            .lofty()
            .deliveries()
            .into_iter()
            .filter(|d| d.subscribe_id == sub.subscribe_id)
            .collect();
        (!log.is_empty()).then_some(log)
    })
    .await;
    assert_eq!(lead_log.len(), 1);
    assert_eq!(lead_log[0].events, 4);
    assert_eq!(lead_log[0].status, 200);
    assert_eq!(ctx.sandbox.lofty().flush_webhooks().await, 0);
    ctx.shutdown().await;
}

#[tokio::test]
async fn batches_respect_the_subscription_limit_and_recipients() {
    let ctx = spawn().await;
    // A long window: only the limit or a flush sends.
    ctx.config(json!({"webhook_batch_ms": 60_000})).await;
    let receiver = Receiver::start().await;
    ctx.client
        .create_webhook(&CreateWebhook {
            limit: Some(2),
            ..CreateWebhook::new(EventList::LeadInfo, &receiver.url)
        })
        .await
        .unwrap();
    // The agent only hears about leads assigned to them (permissionMode 0).
    let agent_receiver = Receiver::start().await;
    ctx.agent
        .create_webhook(&CreateWebhook::new(
            EventList::LeadInfo,
            &agent_receiver.url,
        ))
        .await
        .unwrap();
    let agent = ctx.info.member_user_ids[1];
    let mut ids = Vec::new();
    for n in 0..5 {
        let lead = CreateLead {
            assigned_user_id: (n == 0).then_some(agent),
            ..CreateLead::new(format!("Limit {n}"))
        };
        ids.push(ctx.client.create_lead(&lead).await.unwrap());
    }
    // Two full batches went at once; the fifth change waits for the window.
    let full = poll("two full batches", Duration::from_secs(5), || async {
        let got = receiver.received();
        (got.len() >= 2).then_some(got)
    })
    .await;
    assert!(
        full.iter()
            .all(|b| b["createdLead"].as_array().unwrap().len() == 2)
    );
    let flushed = ctx.post("/_sandbox/webhooks/flush", json!({})).await;
    assert_eq!(
        flushed["delivered"], 2,
        "the owner's rest and the agent's one"
    );
    let all = receiver.received();
    assert_eq!(all.len(), 3);
    let mut got: Vec<i64> = all
        .iter()
        .flat_map(|b| b["createdLead"].as_array().unwrap().clone())
        .map(|e| e["leadId"].as_i64().unwrap())
        .collect();
    got.sort_unstable();
    let mut want = ids.clone();
    want.sort_unstable();
    assert_eq!(got, want);
    let agent_got = agent_receiver.received();
    assert_eq!(agent_got.len(), 1);
    assert_eq!(
        agent_got[0]["createdLead"],
        json!([{"leadId": ids[0], "updateTime": agent_got[0]["createdLead"][0]["updateTime"]}])
    );
    ctx.shutdown().await;
}
