//! Change polling: Lytho has no webhooks, so changes are found by asking.
//!
//! A poll lists the type's item ids (`GET /{type}/search` without filters), reads
//! the items in batches (`GET /{type}?ids=..&page=..&pageSize=..`, across pages)
//! and reports the items whose `modifiedDate` is newer than the [`Cursor`] knows.
//! When the stream has ended without error, [`ChangeStream::next_cursor`] is the
//! cursor to store for the next poll.
//!
//! # The cursor
//!
//! A scan takes time, and an item read on page 1 can change while page 3 is read.
//! So the cursor does not jump to the newest `modifiedDate` seen (that would skip
//! such a change forever). It moves to a **watermark**: the time the poll started,
//! taken as the earlier of the server's `Date` header on the search answer and the
//! local clock less [`PollOptions::clock_margin`]. Every change up to the watermark
//! was visible to the scan. Items reported with a `modifiedDate` after the
//! watermark are remembered in [`Cursor::seen`] (id and version), so the next poll
//! neither loses nor repeats them.
//!
//! Items without a `modifiedDate` (Lytho's published schema does not list one, see
//! `docs/LYTHO.md`) are reported on every poll; the engine's no-op skip (hash of the
//! mapped fields) makes them free.
//!
//! Delivery is at least once across failures: a poll that fails or is dropped gives
//! no new cursor, and the next poll from the old cursor reports the same items
//! again. Items come in id order, not time order, so only the end-of-poll cursor is
//! safe to store.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};

use crate::client::LythoClient;
use crate::error::LythoError;
use crate::models::{ItemId, PageSize, SearchQuery, WorkItem};
use crate::operations::ItemType;
use crate::pagination::{BatchCursor, DEFAULT_IDS_PER_REQUEST, batch_page, chunk_ids, paged};

/// Where a poller is. `Cursor::default()` means "from the beginning" (everything is
/// a change: the backfill). Store it as JSON between polls.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Every change at or before this time has been reported.
    pub since: Option<DateTime<Utc>>,
    /// Items reported with a `modifiedDate` after `since`: id and that version.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub seen: BTreeMap<ItemId, DateTime<Utc>>,
}

impl Cursor {
    /// A cursor reporting changes after `since`.
    pub fn after(since: DateTime<Utc>) -> Self {
        Self {
            since: Some(since),
            seen: BTreeMap::new(),
        }
    }

    /// Whether an item is a change relative to this cursor.
    pub fn is_change(&self, item: &WorkItem) -> bool {
        let Some(at) = item.modified_at() else {
            return true;
        };
        self.since.is_none_or(|since| at > since) && self.seen.get(&item.id) != Some(&at)
    }

    /// The cursor after a complete poll that started at `watermark` and reported
    /// `reported`.
    fn next(&self, watermark: DateTime<Utc>, reported: &BTreeMap<ItemId, DateTime<Utc>>) -> Self {
        let since = match self.since {
            Some(old) if old >= watermark => old,
            _ => watermark,
        };
        let mut seen = self.seen.clone();
        seen.extend(reported.iter().map(|(id, at)| (*id, *at)));
        seen.retain(|_, at| *at > since);
        Self {
            since: Some(since),
            seen,
        }
    }
}

/// How a poll reads.
#[derive(Debug, Clone)]
pub struct PollOptions {
    /// Items per batch request.
    pub page_size: PageSize,
    /// Ids per batch request (walked page by page).
    pub ids_per_request: usize,
    /// Narrows the scan (for example `is_archived: Some(false)`); no filter scans
    /// every item of the type.
    pub search: SearchQuery,
    /// How far the local clock may run ahead of Lytho's; the watermark is taken this
    /// much before the local start of the poll (a larger margin only makes
    /// [`Cursor::seen`] longer).
    pub clock_margin: Duration,
}

impl Default for PollOptions {
    fn default() -> Self {
        Self {
            page_size: PageSize::Thirty,
            ids_per_request: DEFAULT_IDS_PER_REQUEST,
            search: SearchQuery::default(),
            clock_margin: Duration::from_secs(2),
        }
    }
}

#[derive(Debug)]
struct Progress {
    /// Set once the search answered.
    watermark: Option<DateTime<Utc>>,
    reported: BTreeMap<ItemId, DateTime<Utc>>,
    scanned: usize,
    finished: bool,
    failed: bool,
}

enum Step {
    Search,
    Batch(Arc<Vec<Vec<ItemId>>>, BatchCursor),
}

/// The items changed since a cursor, as a stream; see the module docs.
pub struct ChangeStream {
    inner: Pin<Box<dyn Stream<Item = Result<WorkItem, LythoError>> + Send>>,
    progress: Arc<Mutex<Progress>>,
    cursor: Cursor,
}

impl std::fmt::Debug for ChangeStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeStream")
            .field("cursor", &self.cursor)
            .field("progress", &self.progress)
            .finish_non_exhaustive()
    }
}

fn lock(progress: &Mutex<Progress>) -> std::sync::MutexGuard<'_, Progress> {
    progress.lock().unwrap_or_else(|p| p.into_inner())
}

impl ChangeStream {
    pub(crate) fn new(
        client: &LythoClient,
        kind: ItemType,
        cursor: Cursor,
        options: PollOptions,
    ) -> Self {
        let progress = Arc::new(Mutex::new(Progress {
            watermark: None,
            reported: BTreeMap::new(),
            scanned: 0,
            finished: false,
            failed: false,
        }));
        let client = client.clone();
        let shared = Arc::clone(&progress);
        let filter = cursor.clone();
        let stream = paged(Step::Search, move |step| {
            let client = client.clone();
            let cursor = filter.clone();
            let options = options.clone();
            let shared = Arc::clone(&shared);
            async move {
                match step {
                    Step::Search => {
                        let margin = chrono::Duration::from_std(options.clock_margin)
                            .unwrap_or(chrono::Duration::zero());
                        let local = Utc::now() - margin;
                        let (found, server) =
                            client.search_items_dated(kind, &options.search).await?;
                        let watermark = server.map_or(local, |s| s.min(local));
                        lock(&shared).watermark = Some(watermark);
                        let mut ids = found.ids;
                        ids.sort_unstable();
                        ids.dedup();
                        let chunks = Arc::new(chunk_ids(&ids, options.ids_per_request));
                        let first = BatchCursor { chunk: 0, page: 1 };
                        let next = if chunks.is_empty() {
                            None
                        } else {
                            Some(Step::Batch(chunks, first))
                        };
                        Ok((Vec::new(), next))
                    }
                    Step::Batch(chunks, at) => {
                        let (items, next) =
                            batch_page(&client, kind, &chunks, at, options.page_size).await?;
                        let mut p = lock(&shared);
                        p.scanned += items.len();
                        let changed: Vec<WorkItem> =
                            items.into_iter().filter(|i| cursor.is_change(i)).collect();
                        for item in &changed {
                            if let Some(at) = item.modified_at() {
                                p.reported.insert(item.id, at);
                            }
                        }
                        Ok((changed, next.map(|n| Step::Batch(chunks, n))))
                    }
                }
            }
        });
        Self {
            inner: Box::pin(stream),
            progress,
            cursor,
        }
    }

    /// The cursor for the next poll, once this stream has ended without an error;
    /// `None` before that or after an error (poll again from the old cursor).
    pub fn next_cursor(&self) -> Option<Cursor> {
        let p = lock(&self.progress);
        if !p.finished || p.failed {
            return None;
        }
        let watermark = p.watermark?;
        Some(self.cursor.next(watermark, &p.reported))
    }

    /// Items read so far (changed or not).
    pub fn scanned(&self) -> usize {
        lock(&self.progress).scanned
    }

    /// Drains the stream: every changed item and the next cursor.
    pub async fn collect_changes(mut self) -> Result<(Vec<WorkItem>, Cursor), LythoError> {
        let mut items = Vec::new();
        while let Some(item) = self.next().await {
            items.push(item?);
        }
        let cursor = self
            .next_cursor()
            .ok_or_else(|| LythoError::decode("lytho-poll", "the poll ended without a cursor"))?;
        Ok((items, cursor))
    }
}

impl Stream for ChangeStream {
    type Item = Result<WorkItem, LythoError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.inner.as_mut().poll_next(cx);
        match &polled {
            Poll::Ready(None) => lock(&self.progress).finished = true,
            Poll::Ready(Some(Err(_))) => lock(&self.progress).failed = true,
            _ => {}
        }
        polled
    }
}

impl LythoClient {
    /// The items of `kind` changed since `cursor`, as a stream; when it ends,
    /// [`ChangeStream::next_cursor`] is the cursor for the next poll.
    pub fn changes_since(
        &self,
        kind: ItemType,
        cursor: Cursor,
        options: PollOptions,
    ) -> ChangeStream {
        ChangeStream::new(self, kind, cursor, options)
    }

    /// One whole poll: the changed items and the next cursor.
    pub async fn poll_changes(
        &self,
        kind: ItemType,
        cursor: Cursor,
        options: PollOptions,
    ) -> Result<(Vec<WorkItem>, Cursor), LythoError> {
        self.changes_since(kind, cursor, options)
            .collect_changes()
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(id: i32, at: &str) -> WorkItem {
        serde_json::from_value(json!({"id": id, "modifiedDate": at})).unwrap()
    }

    fn t(s: &str) -> DateTime<Utc> {
        crate::models::parse_date(s).unwrap()
    }

    #[test]
    fn cursor_rules() {
        let start = Cursor::default();
        let old = item(1, "2026-01-05T09:00:00.000Z");
        let recent = item(2, "2026-01-05T10:00:00.500Z");
        let undated: WorkItem = serde_json::from_value(json!({"id": 4})).unwrap();
        assert!(start.is_change(&old) && start.is_change(&undated));

        // The poll started at 10:00:00; item 2 changed during the scan.
        let reported = BTreeMap::from([
            (1, old.modified_at().unwrap()),
            (2, recent.modified_at().unwrap()),
        ]);
        let next = start.next(t("2026-01-05T10:00:00Z"), &reported);
        assert_eq!(next.since, Some(t("2026-01-05T10:00:00Z")));
        assert_eq!(next.seen.keys().copied().collect::<Vec<_>>(), vec![2]);
        assert!(!next.is_change(&old) && !next.is_change(&recent));
        assert!(next.is_change(&undated));
        // A change missed by the scan (after the watermark, new version) is found.
        assert!(next.is_change(&item(1, "2026-01-05T10:00:00.200Z")));
        assert!(next.is_change(&item(2, "2026-01-05T10:00:01.000Z")));

        // The next poll moves the watermark past item 2: it leaves `seen`.
        let later = next.next(t("2026-01-05T10:05:00Z"), &BTreeMap::new());
        assert!(later.seen.is_empty());
        assert!(!later.is_change(&recent));
        // A watermark never moves back.
        let back = later.next(t("2026-01-05T09:00:00Z"), &BTreeMap::new());
        assert_eq!(back.since, later.since);

        let text = serde_json::to_string(&next).unwrap();
        assert_eq!(
            text,
            r#"{"since":"2026-01-05T10:00:00Z","seen":{"2":"2026-01-05T10:00:00.500Z"}}"#
        );
        assert_eq!(serde_json::from_str::<Cursor>(&text).unwrap(), next);
        assert_eq!(
            serde_json::from_str::<Cursor>("{}").unwrap(),
            Cursor::default()
        );
        assert_eq!(Cursor::after(t("2026-01-05T10:00:00Z")).since, next.since);
    }
}
