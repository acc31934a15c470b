//! Streams over the paged endpoints yield every record exactly once, with the expected
//! number of page requests.

use std::collections::{BTreeSet, HashSet};

use futures_util::StreamExt;
use ghl::RetryClass;
use ghl::models::{BulkBusinessRequest, BusinessContactsQuery, ListContactsQuery, SearchRequest};
use ghl::pagination::{
    PageMode, contacts_by_business_stream, list_contacts_stream, search_contacts_stream,
};
use serde_json::json;

use crate::helpers::{Ctx, assert_api_error, config, spawn_with};

const SEEDED: usize = 1_200;

async fn seeded() -> Ctx {
    let mut cfg = config();
    cfg.contacts_per_location = SEEDED;
    cfg.locations = 2;
    spawn_with(cfg).await
}

/// Requests counted on one route of location A since the last counter reset.
async fn route_count(ctx: &Ctx, route: &str) -> u64 {
    ctx.counter(&ctx.a.id).await["by_route"][route]
        .as_u64()
        .unwrap_or(0)
}

/// Collects a stream of contact results into ids, failing on the first error.
async fn ids<S>(stream: S) -> Vec<String>
where
    S: futures_util::Stream<Item = Result<ghl::models::Contact, ghl::GhlError>>,
{
    let mut stream = std::pin::pin!(stream);
    let mut out = Vec::new();
    while let Some(item) = stream.next().await {
        out.push(item.expect("page").id);
    }
    out
}

fn assert_exactly_once(got: &[String], want: &BTreeSet<String>) {
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), got.len(), "duplicates in the stream");
    assert_eq!(got.len(), want.len());
    assert!(got.iter().all(|id| want.contains(id)));
}

/// Search in page mode and in searchAfter mode, 500 per page: 1,200 contacts in 3 pages.
#[tokio::test]
async fn search_streams_yield_every_contact_once() {
    let ctx = seeded().await;
    let want: BTreeSet<String> = ctx.contact_ids(&ctx.a.id).into_iter().collect();
    assert_eq!(want.len(), SEEDED);

    ctx.delete("/_sandbox/counters").await;
    let by_page = ids(search_contacts_stream(
        &ctx.client,
        SearchRequest::new(&ctx.a.id, 500),
        PageMode::Page,
    ))
    .await;
    assert_exactly_once(&by_page, &want);
    assert_eq!(route_count(&ctx, "POST /contacts/search").await, 3);

    ctx.delete("/_sandbox/counters").await;
    let by_cursor = ids(search_contacts_stream(
        &ctx.client,
        SearchRequest::new(&ctx.a.id, 500),
        PageMode::SearchAfter,
    ))
    .await;
    assert_exactly_once(&by_cursor, &want);
    assert_eq!(route_count(&ctx, "POST /contacts/search").await, 3);
    // Same default order (dateAdded desc) both ways.
    assert_eq!(by_page, by_cursor);
    ctx.shutdown().await;
}

/// Page mode cannot go past 10,000 records: page 21 of 500 is refused with 400.
#[tokio::test]
async fn page_mode_is_refused_beyond_10000_records() {
    let ctx = seeded().await;
    let last_allowed = ctx
        .client
        .search_contacts(&SearchRequest {
            page: Some(20),
            ..SearchRequest::new(&ctx.a.id, 500)
        })
        .await
        .unwrap();
    assert!(last_allowed.contacts.is_empty());
    assert_eq!(last_allowed.total, Some(SEEDED as u64));
    let err = ctx
        .client
        .search_contacts(&SearchRequest {
            page: Some(21),
            ..SearchRequest::new(&ctx.a.id, 500)
        })
        .await
        .unwrap_err();
    assert_api_error(&err, 400, RetryClass::GiveUp, "10000");
    // pageLimit above 500 is a 422.
    let err = ctx
        .client
        .search_contacts(&SearchRequest::new(&ctx.a.id, 501))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");
    ctx.shutdown().await;
}

/// Deprecated `GET /contacts/` with limit 100: 12 pages, every contact once, in
/// creation order.
#[tokio::test]
async fn deprecated_list_stream_yields_every_contact_once() {
    let ctx = seeded().await;
    let in_order = ctx.contact_ids(&ctx.a.id);
    let want: BTreeSet<String> = in_order.iter().cloned().collect();
    ctx.delete("/_sandbox/counters").await;
    let got = ids(list_contacts_stream(
        &ctx.client,
        ListContactsQuery {
            location_id: ctx.a.id.clone(),
            limit: Some(100),
            ..Default::default()
        },
    ))
    .await;
    assert_exactly_once(&got, &want);
    assert_eq!(got, in_order, "seeded contacts are listed by dateAdded");
    assert_eq!(route_count(&ctx, "GET /contacts/").await, 12);
    ctx.shutdown().await;
}

/// `GET /contacts/business/{id}` by offset: 25 contacts, 10 per page, 3 pages.
#[tokio::test]
async fn business_contacts_stream_pages_by_offset() {
    let ctx = seeded().await;
    let members: Vec<String> = ctx.contact_ids(&ctx.a.id).into_iter().take(25).collect();
    let biz = ctx.a.business_ids[1].clone();
    ctx.client
        .bulk_update_business(&BulkBusinessRequest {
            location_id: ctx.a.id.clone(),
            ids: members.clone(),
            business_id: Some(biz.clone()),
        })
        .await
        .unwrap();
    ctx.delete("/_sandbox/counters").await;
    let got = ids(contacts_by_business_stream(
        &ctx.client,
        biz,
        BusinessContactsQuery {
            location_id: ctx.a.id.clone(),
            limit: Some(10),
            ..Default::default()
        },
    ))
    .await;
    assert_exactly_once(&got, &members.iter().cloned().collect());
    assert_eq!(
        route_count(&ctx, "GET /contacts/business/{businessId}").await,
        3
    );
    // Counters are per location: location B saw nothing of this.
    assert_eq!(ctx.counter(&ctx.b.id).await, json!(null));
    ctx.shutdown().await;
}

/// Page mode must stop inside the 10,000-record window even when `pageLimit` does not
/// divide 10,000: with 300 per page, page 33 ends at record 9,900 and page 34 would
/// need records up to 10,200, which GHL (and the sandbox) refuse.
#[tokio::test]
async fn page_mode_stream_stops_inside_the_10000_window() {
    let ctx = spawn_with(config()).await;
    let seeded = ctx
        .post(
            "/_sandbox/seed",
            json!({"contacts": 9_996, "location_id": ctx.a.id}),
        )
        .await;
    assert_eq!(seeded["added"][&ctx.a.id], json!(9_996));
    assert_eq!(ctx.contact_ids(&ctx.a.id).len(), 10_001);
    ctx.delete("/_sandbox/counters").await;
    let request = SearchRequest {
        page: Some(33),
        ..SearchRequest::new(&ctx.a.id, 300)
    };
    let mut stream = std::pin::pin!(search_contacts_stream(&ctx.client, request, PageMode::Page));
    let mut got = 0;
    while let Some(item) = stream.next().await {
        if let Err(err) = item {
            panic!("the stream failed after {got} contacts of page 33: {err}");
        }
        got += 1;
    }
    assert_eq!(got, 300, "page 33 only");
    ctx.shutdown().await;
}
