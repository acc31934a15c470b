//! Polling for changes (Lytho has no webhooks): changes since a cursor, across
//! pages, each once; the cursor advances; a second poll sees nothing new.

use std::collections::BTreeMap;

use futures_util::StreamExt;
use lytho::{Cursor, ItemType, PageSize, PatchOp, PollOptions, SearchQuery};
use serde_json::json;

use crate::helpers::spawn;

fn ten() -> PollOptions {
    PollOptions {
        page_size: PageSize::Ten,
        ..PollOptions::default()
    }
}

/// The backfill: from the default cursor every item is a change.
#[tokio::test]
async fn first_poll_is_the_backfill() {
    let ctx = spawn().await;
    let (items, cursor) = ctx
        .client
        .poll_changes(ItemType::Task, Cursor::default(), ten())
        .await
        .unwrap();
    let ids: Vec<i32> = items.iter().map(|i| i.id).collect();
    assert_eq!(ids, ctx.ids("task"));
    assert!(cursor.since.is_some());
    // 1 search + 3 pages of 10.
    let routes = &ctx.counters().await["by_route"];
    assert_eq!(routes["GET /v1/task/search"], 1);
    assert_eq!(routes["GET /v1/task"], 3);
    let (again, same) = ctx
        .client
        .poll_changes(ItemType::Task, cursor.clone(), ten())
        .await
        .unwrap();
    assert!(again.is_empty(), "{again:?}");
    assert!(same.since >= cursor.since);
    ctx.shutdown().await;
}

/// 25 tasks change (15 in Lytho's app, 10 through our PATCH): a poll with pageSize
/// 10 reports each exactly once, in three pages, and moves the cursor to the last
/// change; a second poll reports nothing.
#[tokio::test]
async fn changes_since_a_cursor_across_pages() {
    let ctx = spawn().await;
    let (_, start) = ctx
        .client
        .poll_changes(ItemType::Task, Cursor::default(), ten())
        .await
        .unwrap();
    let ids = ctx.ids("task");
    let in_app: Vec<i32> = ids.iter().copied().step_by(2).take(15).collect();
    let ours: Vec<i32> = ids
        .iter()
        .copied()
        .filter(|id| !in_app.contains(id))
        .take(10)
        .collect();
    ctx.post(
        "/_sandbox/touch",
        json!({"type": "task", "ids": in_app, "fields": {"completed": true}}),
    )
    .await;
    for id in &ours {
        ctx.client
            .patch_task(*id, &[PatchOp::replace("/name", format!("renamed {id}"))])
            .await
            .unwrap();
    }
    // Another type's change is not a task change.
    ctx.post("/_sandbox/touch", json!({"type": "project", "count": 2}))
        .await;
    ctx.delete("/_sandbox/counters").await;

    let mut stream = ctx
        .client
        .changes_since(ItemType::Task, start.clone(), ten());
    let mut seen: BTreeMap<i32, usize> = BTreeMap::new();
    while let Some(item) = stream.next().await {
        let item = item.unwrap();
        assert!(stream.next_cursor().is_none(), "no cursor before the end");
        *seen.entry(item.id).or_default() += 1;
        if ours.contains(&item.id) {
            assert_eq!(item.name, format!("renamed {}", item.id));
        } else {
            assert!(item.is_completed());
        }
    }
    let next = stream.next_cursor().expect("a cursor after a full poll");
    assert_eq!(stream.scanned(), 30);
    let mut expected: Vec<i32> = in_app.iter().chain(&ours).copied().collect();
    expected.sort_unstable();
    assert_eq!(seen.keys().copied().collect::<Vec<_>>(), expected);
    assert!(
        seen.values().all(|n| *n == 1),
        "each change exactly once: {seen:?}"
    );
    assert!(next.since > start.since, "the cursor advanced");
    // Each reported version is behind the cursor or remembered by it.
    for id in &expected {
        let at = ctx
            .client
            .get_task(*id)
            .await
            .unwrap()
            .modified_at()
            .unwrap();
        assert!(
            Some(at) <= next.since || next.seen.get(id) == Some(&at),
            "{id} at {at} is covered by {next:?}"
        );
    }
    let routes = &ctx.counters().await["by_route"];
    assert_eq!(routes["GET /v1/task"], 3, "three pages of 10");

    let (again, after) = ctx
        .client
        .poll_changes(ItemType::Task, next.clone(), ten())
        .await
        .unwrap();
    assert!(again.is_empty(), "nothing new: {again:?}");
    assert!(after.since >= next.since);

    // The cursor survives storage as JSON.
    let stored = serde_json::to_string(&next).unwrap();
    let restored: Cursor = serde_json::from_str(&stored).unwrap();
    ctx.post("/_sandbox/touch", json!({"type": "task", "ids": [ids[29]]}))
        .await;
    let (one, _) = ctx
        .client
        .poll_changes(ItemType::Task, restored, ten())
        .await
        .unwrap();
    assert_eq!(one.iter().map(|i| i.id).collect::<Vec<_>>(), vec![ids[29]]);
    ctx.shutdown().await;
}

/// An item on an early page changes while later pages are read: the scan cannot
/// see that change, and the next poll must (exactly once), while a change it did
/// see on a later page is not reported twice.
#[tokio::test]
async fn change_during_a_scan_is_not_lost() {
    let ctx = spawn().await;
    let ids = ctx.ids("task");
    let mut stream = ctx
        .client
        .changes_since(ItemType::Task, Cursor::default(), ten());
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first.id, ids[0], "page 1 is read");
    ctx.post(
        "/_sandbox/touch",
        json!({"type": "task", "ids": [ids[0], ids[29]], "fields": {"archived": true}}),
    )
    .await;
    let mut rest = Vec::new();
    while let Some(item) = stream.next().await {
        rest.push(item.unwrap());
    }
    assert_eq!(rest.len(), 29);
    assert!(!first.archived, "read before the change");
    assert!(
        rest.iter().find(|i| i.id == ids[29]).unwrap().archived,
        "read after"
    );
    let cursor = stream.next_cursor().unwrap();

    let (items, _) = ctx
        .client
        .poll_changes(ItemType::Task, cursor, ten())
        .await
        .unwrap();
    let changed: Vec<(i32, bool)> = items.iter().map(|i| (i.id, i.archived)).collect();
    assert_eq!(changed, vec![(ids[0], true)], "the missed change, once");
    ctx.shutdown().await;
}

/// What else counts as a change: a new comment, new items; an interrupted or
/// failed poll gives no cursor, so nothing is skipped.
#[tokio::test]
async fn comments_new_items_and_failed_polls() {
    let ctx = spawn().await;
    let (_, start) = ctx
        .client
        .poll_changes(ItemType::WorkRequest, Cursor::default(), ten())
        .await
        .unwrap();
    let wr = ctx.ids("workrequest")[3];
    ctx.post(
        "/_sandbox/comments",
        json!({"type": "workrequest", "id": wr, "text": "Please add the logo"}),
    )
    .await;
    let added = ctx
        .post("/_sandbox/seed", json!({"type": "workrequest", "count": 2}))
        .await;
    let new_ids: Vec<i64> = added["added"]["workrequest"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();

    // A poll that fails half-way (500 on a batch page) yields an error and no cursor.
    ctx.post("/_sandbox/faults", json!({"error_rate": 1.0}))
        .await;
    let mut failing = ctx
        .client
        .changes_since(ItemType::WorkRequest, start.clone(), ten());
    let first = failing.next().await.expect("an error item");
    assert_eq!(first.unwrap_err().status(), Some(500));
    assert!(failing.next().await.is_none());
    assert!(failing.next_cursor().is_none(), "retry from the old cursor");
    ctx.delete("/_sandbox/faults").await;

    let (items, next) = ctx
        .client
        .poll_changes(ItemType::WorkRequest, start, ten())
        .await
        .unwrap();
    let ids: Vec<i64> = items.iter().map(|i| i64::from(i.id)).collect();
    let mut expected = vec![i64::from(wr)];
    expected.extend(&new_ids);
    assert_eq!(ids, expected);
    let comments = ctx
        .client
        .work_request_comments(wr, &Default::default())
        .await
        .unwrap();
    assert!(
        comments
            .items
            .iter()
            .any(|c| c.comment.contains("Please add the logo"))
    );

    // A narrowed scan (not archived) still reports only changes.
    let opts = PollOptions {
        search: SearchQuery {
            is_archived: Some(false),
            ..Default::default()
        },
        page_size: PageSize::Thirty,
        ids_per_request: 5,
        ..PollOptions::default()
    };
    let (none, _) = ctx
        .client
        .poll_changes(ItemType::WorkRequest, next, opts)
        .await
        .unwrap();
    assert!(none.is_empty());
    ctx.shutdown().await;
}
