//! Streams over Lytho's paged lists.
//!
//! Lytho pages with `page` (from 1) and `pageSize` (10, 20 or 30). Each stream
//! yields records one by one and fetches the next page only when the consumer
//! needs it. A stream ends after a short or empty page, or when `totalCount` says
//! everything was seen; an error is yielded once and ends it.
//!
//! - [`items_stream`]: the items with given ids (batch get), in chunks of ids so
//!   the query string stays short, each chunk walked page by page;
//! - [`comments_stream`]: every comment of an item.
//!
//! The change poller ([`crate::poll`]) builds on [`paged`].

use std::sync::Arc;

use futures_util::Stream;

use crate::client::LythoClient;
use crate::error::LythoError;
use crate::models::{Comment, CommentsQuery, ItemId, PageSize, WorkItem};
use crate::operations::ItemType;

/// Ids sent in one batch request (then walked page by page). 100 ids keep the URL
/// near 1 KB.
pub const DEFAULT_IDS_PER_REQUEST: usize = 100;

/// The generic pager, shared with the GHL and Lofty clients.
pub use wire::paged;

/// Whether another page follows one of `got` records at `page`.
pub(crate) fn more_pages(page: u32, got: usize, size: PageSize, total: Option<u64>) -> bool {
    let size = size.get() as usize;
    match total {
        Some(total) => u64::from(page) * (size as u64) < total && got > 0,
        None => got >= size,
    }
}

/// Where a batch walk is: which chunk of ids, which page.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchCursor {
    pub(crate) chunk: usize,
    pub(crate) page: u32,
}

/// Fetches one page of a chunked batch walk and says where to go next.
pub(crate) async fn batch_page(
    client: &LythoClient,
    kind: ItemType,
    chunks: &[Vec<ItemId>],
    at: BatchCursor,
    size: PageSize,
) -> Result<(Vec<WorkItem>, Option<BatchCursor>), LythoError> {
    let Some(ids) = chunks.get(at.chunk) else {
        return Ok((Vec::new(), None));
    };
    let page = client.get_items(kind, ids, at.page, size).await?;
    let next = if more_pages(at.page, page.items.len(), size, page.total_count) {
        Some(BatchCursor {
            chunk: at.chunk,
            page: at.page + 1,
        })
    } else if at.chunk + 1 < chunks.len() {
        Some(BatchCursor {
            chunk: at.chunk + 1,
            page: 1,
        })
    } else {
        None
    };
    Ok((page.items, next))
}

/// Splits ids into request-sized chunks.
pub(crate) fn chunk_ids(ids: &[ItemId], per_request: usize) -> Vec<Vec<ItemId>> {
    ids.chunks(per_request.max(1)).map(<[_]>::to_vec).collect()
}

/// Streams the items with these ids (batch get), `page_size` per request.
pub fn items_stream(
    client: &LythoClient,
    kind: ItemType,
    ids: Vec<ItemId>,
    page_size: PageSize,
) -> impl Stream<Item = Result<WorkItem, LythoError>> + Send + 'static {
    let client = client.clone();
    let chunks = Arc::new(chunk_ids(&ids, DEFAULT_IDS_PER_REQUEST));
    let first = BatchCursor { chunk: 0, page: 1 };
    paged(first, move |at| {
        let client = client.clone();
        let chunks = Arc::clone(&chunks);
        async move { batch_page(&client, kind, &chunks, at, page_size).await }
    })
}

/// Streams every comment of an item, oldest first, `page_size` per request.
pub fn comments_stream(
    client: &LythoClient,
    kind: ItemType,
    id: ItemId,
    query: CommentsQuery,
) -> impl Stream<Item = Result<Comment, LythoError>> + Send + 'static {
    let client = client.clone();
    let size = query.page_size.unwrap_or_default();
    paged(query.page.unwrap_or(1).max(1), move |page| {
        let client = client.clone();
        async move {
            let q = CommentsQuery {
                page: Some(page),
                page_size: Some(size),
                ..query
            };
            let resp = client.item_comments(kind, id, &q).await?;
            let more = more_pages(page, resp.items.len(), size, resp.total_count);
            Ok((resp.items, more.then_some(page + 1)))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_arithmetic() {
        assert!(more_pages(1, 10, PageSize::Ten, Some(25)));
        assert!(more_pages(2, 10, PageSize::Ten, Some(25)));
        assert!(!more_pages(3, 5, PageSize::Ten, Some(25)));
        assert!(!more_pages(1, 10, PageSize::Ten, Some(10)));
        assert!(more_pages(1, 10, PageSize::Ten, None));
        assert!(!more_pages(1, 9, PageSize::Ten, None));
        assert!(!more_pages(1, 0, PageSize::Ten, Some(25)));
        assert_eq!(chunk_ids(&[1, 2, 3], 2), vec![vec![1, 2], vec![3]]);
        assert!(chunk_ids(&[], 2).is_empty());
    }
}
