//! The five paging styles through the streams, and the raw page contracts.

use std::collections::BTreeSet;

use futures_util::StreamExt;
use lofty::RetryClass;
use lofty::models::{CalendarQuery, LeadQuery, MemberQuery, MyTasksQuery, PipelineQuery};
use lofty::pagination::{
    LeadPaging, calendar_stream, leads_stream, members_stream, my_tasks_stream, pipelines_stream,
};
use serde_json::json;

use crate::helpers::{assert_api_error, seed, spawn};

#[tokio::test]
async fn leads_by_offset_and_by_scroll_id() {
    let ctx = spawn().await;
    seed(&ctx, 27).await;
    let want: BTreeSet<i64> = ctx.lead_ids().into_iter().collect();
    assert_eq!(want.len(), 37);
    for paging in [LeadPaging::Offset, LeadPaging::Scroll] {
        let query = LeadQuery {
            limit: Some(10),
            ..LeadQuery::default()
        };
        let got: Vec<i64> = leads_stream(&ctx.client, query, paging)
            .map(|l| l.unwrap().lead_id)
            .collect()
            .await;
        assert_eq!(got.len(), 37, "{paging:?}");
        assert_eq!(got.iter().copied().collect::<BTreeSet<_>>(), want);
    }
    // Pages report `_metadata`; a scrollId carries the query with it.
    let first = ctx
        .client
        .list_leads(&LeadQuery {
            limit: Some(5),
            all_tags: vec!["lead".to_owned()],
            ..LeadQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(first.meta.collection.as_deref(), Some("leads"));
    assert_eq!(first.meta.limit, Some(5));
    assert_eq!(first.meta.offset, Some(0));
    let scroll = first.meta.scroll_id.clone().unwrap();
    let next = ctx
        .client
        .list_leads(&LeadQuery {
            scroll_id: Some(scroll),
            ..LeadQuery::default()
        })
        .await
        .unwrap();
    assert!(next.leads.iter().all(|l| l.tag_names().contains(&"lead")));
    assert!(
        first
            .leads
            .iter()
            .all(|a| next.leads.iter().all(|b| a.lead_id != b.lead_id))
    );
    // Default page size 25; limit outside 1..=100 is refused.
    let default = ctx.client.list_leads(&LeadQuery::default()).await.unwrap();
    assert_eq!(default.leads.len(), 25);
    for limit in [0, 101] {
        let err = ctx
            .client
            .list_leads(&LeadQuery {
                limit: Some(limit),
                ..LeadQuery::default()
            })
            .await
            .unwrap_err();
        assert_api_error(&err, 400, "LIMIT_NOT_VALID", RetryClass::GiveUp);
    }
    let err = ctx
        .client
        .call("lofty-list-leads", json!({"scrollId": "garbage!"}))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    ctx.shutdown().await;
}

#[tokio::test]
async fn members_pipelines_my_tasks_and_calendar_streams() {
    let ctx = spawn().await;
    let members: Vec<i64> = members_stream(
        &ctx.client,
        MemberQuery {
            limit: Some(2),
            ..MemberQuery::default()
        },
    )
    .map(|m| m.unwrap().member_user_id)
    .collect()
    .await;
    assert_eq!(members, ctx.info.member_user_ids);

    let stages: Vec<String> = pipelines_stream(
        &ctx.client,
        PipelineQuery {
            page_size: Some(4),
            ..PipelineQuery::default()
        },
    )
    .map(|p| p.unwrap().name)
    .collect()
    .await;
    assert_eq!(stages.len(), 9);
    assert_eq!(stages[8], "Archived");

    seed(&ctx, 20).await;
    let all = ctx
        .client
        .my_tasks(&MyTasksQuery {
            limit: Some(100),
            ..MyTasksQuery::default()
        })
        .await
        .unwrap();
    let streamed: Vec<i64> = my_tasks_stream(
        &ctx.client,
        MyTasksQuery {
            limit: Some(3),
            ..MyTasksQuery::default()
        },
    )
    .map(|t| t.unwrap().id)
    .collect()
    .await;
    assert!(all.len() > 3);
    assert_eq!(streamed, all.iter().map(|t| t.id).collect::<Vec<_>>());

    // Seeded appointments sit 10 days after 2026-01-05 + i minutes.
    let query = CalendarQuery {
        start_time: Some("2026-01-01T00:00:00+00:00".to_owned()),
        end_time: Some("2026-02-01T00:00:00+00:00".to_owned()),
        include_finished: Some(true),
        page_size: Some(4),
        ..CalendarQuery::default()
    };
    let total = ctx
        .client
        .list_calendar(&query)
        .await
        .unwrap()
        .total
        .unwrap();
    let items: Vec<_> = calendar_stream(&ctx.client, query)
        .map(|i| i.unwrap().id)
        .collect()
        .await;
    assert_eq!(items.len() as i64, total);
    assert!(total > 4);
    assert_eq!(items.iter().collect::<BTreeSet<_>>().len(), items.len());
    ctx.shutdown().await;
}
