//! Streams over Lofty's paged endpoints.
//!
//! Lofty pages five different ways; each stream hides one of them and yields records
//! one by one, fetching the next page only when the consumer needs it (so a backfill can
//! stop, persist its cursor, and resume):
//!
//! - [`leads_stream`]: `GET /v1.0/leads`, by `offset` + `limit` or by the `scrollId`
//!   cursor of `_metadata` ([`LeadPaging`]);
//! - [`members_stream`]: `offset` + `limit`;
//! - [`pipelines_stream`]: `currPage` (0-based) + `pageSize`;
//! - [`my_tasks_stream`]: `currentId` (the last id returned) + `limit`;
//! - [`calendar_stream`]: `page` (0-based) + `pageSize` (at most 500).
//!
//! A stream ends after a short page, an empty page, a reached `total`, or a cursor that
//! does not move. An error is yielded once and ends the stream. The streams are not
//! `Unpin`; use `std::pin::pin!` or `Box::pin` before calling `next()`.

use futures_util::Stream;

use crate::client::LoftyClient;
use crate::error::LoftyError;
use crate::models::{
    CalendarItem, CalendarQuery, Lead, LeadQuery, Member, MemberQuery, MyTasksQuery, Pipeline,
    PipelineQuery, Task,
};

/// Largest lead page Lofty accepts.
pub const MAX_LEAD_LIMIT: u32 = 100;
/// Largest calendar page Lofty accepts.
pub const MAX_CALENDAR_PAGE: u32 = 500;

/// How to page through leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeadPaging {
    /// `offset` += page size.
    Offset,
    /// Follow `_metadata.scrollId` (stable while leads are added).
    Scroll,
}

/// The generic pager, shared with the GHL and Lytho clients.
pub use wire::paged;

/// Whether an offset-paged list has more after a page of `got` at `offset`.
fn more(offset: u64, limit: u32, got: usize, total: Option<i64>) -> bool {
    let reached = offset + got as u64;
    got > 0
        && got >= limit as usize
        && total.is_none_or(|t| u64::try_from(t).is_ok_and(|t| reached < t))
}

/// Streams every lead matching `query` (its `limit` is the page size, 100 by default).
pub fn leads_stream(
    client: &LoftyClient,
    query: LeadQuery,
    paging: LeadPaging,
) -> impl Stream<Item = Result<Lead, LoftyError>> + Send + 'static {
    let client = client.clone();
    let limit = query
        .limit
        .unwrap_or(MAX_LEAD_LIMIT)
        .clamp(1, MAX_LEAD_LIMIT);
    let first = match paging {
        LeadPaging::Offset => LeadCursor::Offset(query.offset.unwrap_or(0)),
        LeadPaging::Scroll => LeadCursor::Scroll(query.scroll_id.clone()),
    };
    paged(first, move |cursor| {
        let client = client.clone();
        let mut q = query.clone();
        async move {
            q.limit = Some(limit);
            match cursor {
                LeadCursor::Offset(offset) => {
                    q.offset = Some(offset);
                    q.scroll_id = None;
                    let page = client.list_leads(&q).await?;
                    let n = page.leads.len();
                    let next = more(u64::from(offset), limit, n, page.meta.total).then(|| {
                        LeadCursor::Offset(offset.saturating_add(u32::try_from(n).unwrap_or(0)))
                    });
                    Ok((page.leads, next))
                }
                LeadCursor::Scroll(scroll) => {
                    q.offset = None;
                    q.scroll_id.clone_from(&scroll);
                    let page = client.list_leads(&q).await?;
                    let n = page.leads.len();
                    let next = page.meta.scroll_id.clone();
                    let go = n > 0 && n >= limit as usize && next.is_some() && next != scroll;
                    Ok((page.leads, go.then_some(LeadCursor::Scroll(next))))
                }
            }
        }
    })
}

enum LeadCursor {
    Offset(u32),
    Scroll(Option<String>),
}

/// Streams every team member (page size `query.limit`, 100 by default).
pub fn members_stream(
    client: &LoftyClient,
    query: MemberQuery,
) -> impl Stream<Item = Result<Member, LoftyError>> + Send + 'static {
    let client = client.clone();
    let limit = query.limit.unwrap_or(100).max(1);
    paged(query.offset.unwrap_or(0), move |offset: u32| {
        let client = client.clone();
        let mut q = query.clone();
        async move {
            q.limit = Some(limit);
            q.offset = Some(offset);
            let page = client.list_members(&q).await?;
            let n = page.members.len();
            let next = more(u64::from(offset), limit, n, page.meta.total)
                .then(|| offset.saturating_add(u32::try_from(n).unwrap_or(0)));
            Ok((page.members, next))
        }
    })
}

/// Streams every lead pipeline stage.
pub fn pipelines_stream(
    client: &LoftyClient,
    query: PipelineQuery,
) -> impl Stream<Item = Result<Pipeline, LoftyError>> + Send + 'static {
    let client = client.clone();
    let size = query.page_size.unwrap_or(100).max(1);
    paged(query.curr_page.unwrap_or(0), move |page: u32| {
        let client = client.clone();
        let mut q = query.clone();
        async move {
            q.curr_page = Some(page);
            q.page_size = Some(size);
            let resp = client.list_lead_pipelines(&q).await?;
            let n = resp.pipelines.len();
            let offset = u64::from(page) * u64::from(size);
            let next = more(offset, size, n, resp.meta.total).then_some(page + 1);
            Ok((resp.pipelines, next))
        }
    })
}

/// Streams every task of `my-tasks`, following the `currentId` cursor.
pub fn my_tasks_stream(
    client: &LoftyClient,
    query: MyTasksQuery,
) -> impl Stream<Item = Result<Task, LoftyError>> + Send + 'static {
    let client = client.clone();
    let limit = query.limit.unwrap_or(100).clamp(1, 100);
    paged(query.current_id.unwrap_or(0), move |current: i64| {
        let client = client.clone();
        let mut q = query.clone();
        async move {
            q.limit = Some(limit);
            q.current_id = Some(current);
            let tasks = client.my_tasks(&q).await?;
            let last = tasks.last().map(|t| t.id);
            let next = last.filter(|id| tasks.len() >= limit as usize && *id != current);
            Ok((tasks, next))
        }
    })
}

/// Streams every calendar entry of a query (page size `page_size`, 500 by default).
pub fn calendar_stream(
    client: &LoftyClient,
    query: CalendarQuery,
) -> impl Stream<Item = Result<CalendarItem, LoftyError>> + Send + 'static {
    let client = client.clone();
    let size = query
        .page_size
        .unwrap_or(MAX_CALENDAR_PAGE)
        .clamp(1, MAX_CALENDAR_PAGE);
    paged(query.page.unwrap_or(0), move |page: u32| {
        let client = client.clone();
        let mut q = query.clone();
        async move {
            q.page = Some(page);
            q.page_size = Some(size);
            let resp = client.list_calendar(&q).await?;
            let n = resp.items.len();
            let offset = u64::from(page) * u64::from(size);
            let next = more(offset, size, n, resp.total).then_some(page + 1);
            Ok((resp.items, next))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets() {
        assert!(more(0, 2, 2, None));
        assert!(!more(0, 2, 1, None));
        assert!(!more(2, 2, 2, Some(4)));
        assert!(!more(0, 2, 0, None));
        assert!(more(0, 2, 2, Some(5)));
    }
}
