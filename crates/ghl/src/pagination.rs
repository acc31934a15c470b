//! Streams over GHL's paged endpoints.
//!
//! GHL pages four different ways; each stream hides one of them and yields records one by
//! one, fetching the next page only when the consumer needs it (so a backfill can stop,
//! persist its cursor, and resume):
//!
//! - [`search_contacts_stream`]: `POST /contacts/search`, either `page` numbers (at most
//!   10,000 records deep) or the `searchAfter` cursor (unbounded; the cursor is the last
//!   contact's `searchAfter`);
//! - [`list_contacts_stream`]: deprecated `GET /contacts/`, cursor `meta.startAfter` +
//!   `meta.startAfterId`, at most 100 per page;
//! - [`contacts_by_business_stream`]: `skip`/`limit` offsets;
//! - [`installed_locations_stream`]: `skip`/`limit` offsets.
//!
//! A stream ends after a short page, an empty page, or a cursor that does not move. An
//! error is yielded once and ends the stream. The streams are not `Unpin`; use
//! `std::pin::pin!` or `Box::pin` before calling `next()`. Each is a page fetcher
//! handed to [`wire::paged`], the pager the Lofty and Lytho clients use too.

use futures_util::Stream;
use serde_json::Value;
use wire::paged;

use crate::client::GhlClient;
use crate::error::GhlError;
use crate::models::{
    BusinessContactsQuery, Contact, InstalledLocation, InstalledLocationsQuery, ListContactsQuery,
    MAX_PAGED_RECORDS, SearchRequest,
};

/// How to page a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageMode {
    /// `page` = 1, 2, 3... (stops at 10,000 records).
    Page,
    /// `searchAfter` cursor, no `page` (no depth limit).
    SearchAfter,
}

/// Default page size for offset endpoints when the query does not say.
const DEFAULT_OFFSET_LIMIT: u32 = 100;

/// Largest page of `GET /contacts/`.
const MAX_LIST_LIMIT: u32 = 100;

/// Streams every contact matching a search.
///
/// In [`PageMode::Page`] the request's `page` (default 1) is the first page; in
/// [`PageMode::SearchAfter`] its `searchAfter` (default none) is the first cursor.
pub fn search_contacts_stream(
    client: &GhlClient,
    request: SearchRequest,
    mode: PageMode,
) -> impl Stream<Item = Result<Contact, GhlError>> + Send + 'static {
    let client = client.clone();
    let limit = request.page_limit.max(1);
    let first = match mode {
        PageMode::Page => SearchCursor::Page(request.page.unwrap_or(1).max(1)),
        PageMode::SearchAfter => SearchCursor::After(request.search_after.clone()),
    };
    paged(first, move |cursor| {
        let client = client.clone();
        let mut req = request.clone();
        async move {
            match cursor {
                SearchCursor::Page(page) => {
                    req.page = Some(page);
                    req.search_after = None;
                    let resp = client.search_contacts(&req).await?;
                    let n = resp.contacts.len();
                    let reached = u64::from(page) * u64::from(limit);
                    let more = n > 0
                        && n >= limit as usize
                        && reached + u64::from(limit) <= MAX_PAGED_RECORDS
                        && resp.total.is_none_or(|total| reached < total);
                    Ok((resp.contacts, more.then_some(SearchCursor::Page(page + 1))))
                }
                SearchCursor::After(after) => {
                    req.page = None;
                    req.search_after.clone_from(&after);
                    let resp = client.search_contacts(&req).await?;
                    let n = resp.contacts.len();
                    let next = resp.next_search_after();
                    let more = n > 0 && n >= limit as usize && next.is_some() && next != after;
                    let next = more.then_some(SearchCursor::After(next));
                    Ok((resp.contacts, next))
                }
            }
        }
    })
}

enum SearchCursor {
    Page(u32),
    After(Option<Vec<Value>>),
}

/// Streams every contact of the deprecated `GET /contacts/` list.
pub fn list_contacts_stream(
    client: &GhlClient,
    query: ListContactsQuery,
) -> impl Stream<Item = Result<Contact, GhlError>> + Send + 'static {
    let client = client.clone();
    let limit = query
        .limit
        .unwrap_or(MAX_LIST_LIMIT)
        .clamp(1, MAX_LIST_LIMIT);
    let first = (query.start_after, query.start_after_id.clone());
    paged(first, move |(start_after, start_after_id)| {
        let client = client.clone();
        let mut q = query.clone();
        async move {
            q.limit = Some(limit);
            q.start_after = start_after;
            q.start_after_id.clone_from(&start_after_id);
            let resp = client.list_contacts(&q).await?;
            let n = resp.contacts.len();
            let next = resp
                .meta
                .as_ref()
                .and_then(|m| Some((Some(m.start_after?), Some(m.start_after_id.clone()?))));
            let more = n > 0
                && n >= limit as usize
                && next
                    .as_ref()
                    .is_some_and(|cursor| *cursor != (start_after, start_after_id.clone()));
            Ok((resp.contacts, if more { next } else { None }))
        }
    })
}

/// Streams every contact of a business.
pub fn contacts_by_business_stream(
    client: &GhlClient,
    business_id: String,
    query: BusinessContactsQuery,
) -> impl Stream<Item = Result<Contact, GhlError>> + Send + 'static {
    let client = client.clone();
    let limit = query.limit.unwrap_or(DEFAULT_OFFSET_LIMIT).max(1);
    let first = query.skip.unwrap_or(0);
    paged(first, move |skip| {
        let client = client.clone();
        let business_id = business_id.clone();
        let mut q = query.clone();
        async move {
            q.limit = Some(limit);
            q.skip = Some(skip);
            let resp = client.contacts_by_business(&business_id, &q).await?;
            let next = next_offset(skip, limit, resp.contacts.len(), resp.count);
            Ok((resp.contacts, next))
        }
    })
}

/// Streams every location of an installed-locations query (agency token client).
pub fn installed_locations_stream(
    client: &GhlClient,
    query: InstalledLocationsQuery,
) -> impl Stream<Item = Result<InstalledLocation, GhlError>> + Send + 'static {
    let client = client.clone();
    let limit = query.limit.unwrap_or(DEFAULT_OFFSET_LIMIT).max(1);
    let first = query.skip.unwrap_or(0);
    paged(first, move |skip| {
        let client = client.clone();
        let mut q = query.clone();
        async move {
            q.limit = Some(limit);
            q.skip = Some(skip);
            let resp = client.installed_locations(&q).await?;
            let next = next_offset(skip, limit, resp.locations.len(), resp.count);
            Ok((resp.locations, next))
        }
    })
}

/// The next `skip`, or `None` when the page was the last one.
fn next_offset(skip: u32, limit: u32, got: usize, total: Option<u64>) -> Option<u32> {
    let got32 = u32::try_from(got).unwrap_or(u32::MAX);
    let next = skip.saturating_add(got32);
    let more = got > 0 && got32 >= limit && total.is_none_or(|t| u64::from(next) < t);
    more.then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::GhlConfig;
    use crate::test_support::{response, serve};
    use futures_util::StreamExt;
    use serde_json::json;

    fn contacts(ids: &[&str]) -> Value {
        Value::Array(
            ids.iter()
                .map(|id| json!({"id": id, "searchAfter": [1, id]}))
                .collect(),
        )
    }

    #[test]
    fn offsets() {
        assert_eq!(next_offset(0, 2, 2, None), Some(2));
        assert_eq!(next_offset(0, 2, 1, None), None);
        assert_eq!(next_offset(2, 2, 2, Some(4)), None);
        assert_eq!(next_offset(0, 2, 0, None), None);
    }

    #[tokio::test]
    async fn search_after_mode_follows_the_last_contact() {
        let page = |ids: &[&str]| {
            response(
                "200 OK",
                &[],
                &json!({"contacts": contacts(ids), "total": 5}).to_string(),
            )
        };
        let (url, seen) = serve(vec![page(&["a", "b"]), page(&["c", "d"]), page(&["e"])]).await;
        let client = GhlClient::new(GhlConfig::new("t").with_base_url(url)).unwrap();
        let stream =
            search_contacts_stream(&client, SearchRequest::new("L1", 2), PageMode::SearchAfter);
        let ids: Vec<String> = stream.map(|c| c.unwrap().id).collect().await;
        assert_eq!(ids, ["a", "b", "c", "d", "e"]);
        let bodies: Vec<Value> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|r| serde_json::from_str(&r[r.find("\r\n\r\n").unwrap() + 4..]).unwrap())
            .collect();
        assert_eq!(bodies[0], json!({"locationId": "L1", "pageLimit": 2}));
        assert_eq!(bodies[1]["searchAfter"], json!([1, "b"]));
        assert_eq!(bodies[2]["searchAfter"], json!([1, "d"]));
        assert!(bodies.iter().all(|b| b.get("page").is_none()));
    }

    #[tokio::test]
    async fn page_mode_increments_page_until_short_page() {
        let page = |ids: &[&str]| {
            response(
                "200 OK",
                &[],
                &json!({"contacts": contacts(ids)}).to_string(),
            )
        };
        let (url, seen) = serve(vec![page(&["a", "b"]), page(&["c"])]).await;
        let client = GhlClient::new(GhlConfig::new("t").with_base_url(url)).unwrap();
        let stream = search_contacts_stream(&client, SearchRequest::new("L1", 2), PageMode::Page);
        let ids: Vec<String> = stream.map(|c| c.unwrap().id).collect().await;
        assert_eq!(ids, ["a", "b", "c"]);
        let requests = seen.lock().unwrap().clone();
        assert!(requests[0].ends_with(r#"{"locationId":"L1","page":1,"pageLimit":2}"#));
        assert!(requests[1].ends_with(r#"{"locationId":"L1","page":2,"pageLimit":2}"#));
    }

    #[tokio::test]
    async fn list_stream_follows_meta_cursor() {
        let (url, seen) = serve(vec![
            response(
                "200 OK",
                &[],
                r#"{"contacts":[{"id":"a"},{"id":"b"}],"meta":{"startAfter":111,"startAfterId":"b"}}"#,
            ),
            response("200 OK", &[], r#"{"contacts":[{"id":"c"}],"meta":{"startAfter":222,"startAfterId":"c"}}"#),
        ])
        .await;
        let client = GhlClient::new(GhlConfig::new("t").with_base_url(url)).unwrap();
        let query = ListContactsQuery {
            location_id: "L1".to_owned(),
            limit: Some(2),
            ..Default::default()
        };
        let ids: Vec<String> = list_contacts_stream(&client, query)
            .map(|c| c.unwrap().id)
            .collect()
            .await;
        assert_eq!(ids, ["a", "b", "c"]);
        let requests = seen.lock().unwrap().clone();
        assert!(
            requests[0].starts_with("GET /contacts/?locationId=L1&limit=2 "),
            "{}",
            requests[0]
        );
        assert!(
            requests[1]
                .starts_with("GET /contacts/?locationId=L1&startAfterId=b&startAfter=111&limit=2 "),
            "{}",
            requests[1]
        );
    }
}
