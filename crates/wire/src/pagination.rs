//! [`paged`]: the one pager under every client's streams.
//!
//! The APIs page in many ways (page numbers, offsets, cursors, scroll ids); each client
//! writes only "fetch one page from this cursor, and say where the next one starts", and
//! this turns that into a stream of records that fetches the next page only when the
//! consumer needs it (so a backfill can stop, persist its cursor, and resume).

use std::collections::VecDeque;
use std::future::Future;

use futures_util::Stream;
use futures_util::stream;

struct State<T, C, F> {
    buffer: VecDeque<T>,
    next: Option<C>,
    fetch: F,
}

/// Turns a page fetcher into a record stream. `fetch(cursor)` returns a page and the
/// cursor of the following page, if any. An error is yielded once and ends the
/// stream (its cursor is gone). The GHL, Lofty and Lytho clients all page through this.
pub fn paged<T, E, C, F, Fut>(first: C, fetch: F) -> impl Stream<Item = Result<T, E>>
where
    F: FnMut(C) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, Option<C>), E>>,
{
    let state = State {
        buffer: VecDeque::new(),
        next: Some(first),
        fetch,
    };
    stream::unfold(state, |mut st| async move {
        loop {
            if let Some(item) = st.buffer.pop_front() {
                return Some((Ok(item), st));
            }
            let cursor = st.next.take()?;
            match (st.fetch)(cursor).await {
                Ok((items, next)) => {
                    st.buffer.extend(items);
                    st.next = next;
                }
                Err(err) => return Some((Err(err), st)),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[tokio::test]
    async fn paged_stops_on_error() {
        let mut calls = 0;
        let s = paged(0_u32, |page| {
            calls += 1;
            async move {
                if page < 2 {
                    Ok((vec![page * 10, page * 10 + 1], Some(page + 1)))
                } else {
                    Err("boom".to_owned())
                }
            }
        });
        let items: Vec<_> = s.collect().await;
        assert_eq!(items.len(), 5);
        assert!(items[4].is_err());
        assert_eq!(calls, 3);
    }
}
