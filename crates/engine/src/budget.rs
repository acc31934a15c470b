//! One rate budget per GHL location, shared by every worker process.
//!
//! GHL's limit (100 requests per 10 s per app per location by default; the
//! `X-RateLimit-*` headers say the real figures) is one budget however many
//! `ghlsync worker` processes spend it. Each process's [`ghl::Governor`] paces what
//! *it* sends; this budget, in the database, spaces what *all of them* send: it hands
//! out send times ("slots") one interval/max apart, a block at a time, so a process
//! makes one database round trip per block, not per call.
//!
//! Why slots and not a counter per window: our windows would not line up with the
//! server's, and two half-windows of ours could put twice the limit into one of
//! GHL's. Evenly spaced slots put at most `max` requests into *any* window of
//! `interval`, aligned or not: the spacing is `(interval + margin) / max` (the margin,
//! as in the governor, absorbs clock and network skew), and a slot not used within
//! half a spacing of its time is dropped rather than used late.
//!
//! The GHL client calls [`SharedBudget`] through its [`ghl::RequestGate`] hook before
//! its governor, with the limits the governor has learned from the headers.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ghl::{GateLimit, GhlError};
use store::Store;

/// Slots taken per database round trip, at most.
const MAX_BLOCK: u32 = 10;
/// How often a caller looks again while a key's limit is being probed.
const PROBE_POLL: Duration = Duration::from_millis(10);
/// A probe that taught nothing within this long (an error, no headers) lets another go.
const PROBE_TIMEOUT: Duration = Duration::from_millis(250);

/// The shared budget of every location this process calls. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SharedBudget {
    store: Store,
    /// Slots this process holds, by budget key, earliest first (epoch ms).
    held: Arc<Mutex<HashMap<String, VecDeque<i64>>>>,
    /// One refill at a time per process (concurrent callers wait for it).
    refill: Arc<tokio::sync::Mutex<()>>,
    /// Round trips made (for the figures in tests and benchmarks).
    round_trips: Arc<AtomicU64>,
    /// Callers waiting for a slot now (the demand a block is sized to).
    waiting: Arc<AtomicUsize>,
    /// When the probe of a key whose limit is not known yet started.
    probes: Arc<Mutex<HashMap<String, std::time::Instant>>>,
}

/// Counts a caller as waiting until it leaves (however it leaves).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn enter(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(counter)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How slots are spaced for a limit of `max` per `interval`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    /// Milliseconds between two slots (fractional: a block of slots spans
    /// `n * step`, rounded up once).
    pub step: f64,
    /// How late a slot may still be used (ms). At most half the margin, so that any
    /// window of `interval` holds fewer than `max + 1` sends:
    /// `(interval + late) / step < max`.
    pub late_ms: i64,
}

impl Pace {
    pub fn new(max: u32, interval: Duration) -> Self {
        let interval_ms = interval.as_secs_f64() * 1000.0;
        let margin = (interval_ms / 50.0).max(25.0);
        let step = ((interval_ms + margin) / f64::from(max.max(1))).max(0.1);
        Self {
            step,
            late_ms: (step / 2.0).min(margin / 2.0).floor() as i64,
        }
    }

    /// At most how many sends this pace puts into any window of `window_ms`.
    pub fn worst_window(&self, window_ms: f64) -> f64 {
        ((window_ms + self.late_ms as f64) / self.step).ceil()
    }
}

impl SharedBudget {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            held: Arc::default(),
            refill: Arc::default(),
            round_trips: Arc::default(),
            waiting: Arc::default(),
            probes: Arc::default(),
        }
    }

    /// Database round trips made so far.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// Waits for this process's next slot of `key` (taking a block from the store
    /// when it holds none), for a limit of `limit.max` per `limit.interval`.
    ///
    /// A block is as large as the demand: the callers waiting here when it is taken
    /// (at most [`MAX_BLOCK`]), so slots are not reserved for requests that will never
    /// come (a slot nobody uses in time is lost to every process).
    pub async fn admit(
        &self,
        key: &str,
        limits: &(dyn Fn() -> GateLimit + Send + Sync),
    ) -> Result<(), store::StoreError> {
        let _waiting = Waiting::enter(&self.waiting);
        let mut probing = false;
        loop {
            let limit = limits();
            // Until GHL's headers have told the real limit, one request at a time per
            // key (a probe): slots reserved at the (slow) documented default would
            // hold every process back long after the first answer told the truth.
            if !limit.learned && !probing {
                if !self.try_probe(key) {
                    tokio::time::sleep(PROBE_POLL).await;
                    continue;
                }
                probing = true;
            }
            let pace = Pace::new(limit.max, limit.interval);
            if let Some(at) = self.take_held(key, pace.late_ms) {
                let wait = at - self.store.now();
                if wait > 0 {
                    tokio::time::sleep(Duration::from_millis(u64::try_from(wait).unwrap_or(0)))
                        .await;
                }
                return Ok(());
            }
            let _one = self.refill.lock().await;
            if self.has_held(key, pace.late_ms) {
                continue;
            }
            let most = if limit.learned {
                (limit.max / 10).clamp(1, MAX_BLOCK)
            } else {
                1
            };
            let demand = u32::try_from(self.waiting.load(Ordering::Relaxed)).unwrap_or(u32::MAX);
            let block = demand.clamp(1, most);
            let span_ms = (pace.step * f64::from(block)).ceil() as i64;
            let first = self.store.reserve_slots(key, span_ms).await?;
            self.round_trips.fetch_add(1, Ordering::Relaxed);
            let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
            let slots = held.entry(key.to_owned()).or_default();
            slots.extend((0..block).map(|i| first + (f64::from(i) * pace.step).floor() as i64));
        }
    }

    /// Whether this caller may send the probe of `key` (none in flight, or the last
    /// one started more than [`PROBE_TIMEOUT`] ago and never taught anything).
    fn try_probe(&self, key: &str) -> bool {
        let mut probes = self.probes.lock().unwrap_or_else(PoisonError::into_inner);
        let now = std::time::Instant::now();
        match probes.get(key) {
            Some(started) if now.duration_since(*started) < PROBE_TIMEOUT => false,
            _ => {
                probes.insert(key.to_owned(), now);
                true
            }
        }
    }

    /// The earliest held slot still usable (not more than half a spacing late).
    fn take_held(&self, key: &str, late_ms: i64) -> Option<i64> {
        let now = self.store.now();
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let slots = held.get_mut(key)?;
        while let Some(at) = slots.pop_front() {
            if at >= now - late_ms {
                return Some(at);
            }
        }
        None
    }

    fn has_held(&self, key: &str, late_ms: i64) -> bool {
        let now = self.store.now();
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.get(key)
            .is_some_and(|s| s.iter().any(|at| *at >= now - late_ms))
    }
}

impl ghl::RequestGate for SharedBudget {
    fn admit<'a>(
        &'a self,
        key: &'a str,
        limits: &'a (dyn Fn() -> GateLimit + Send + Sync),
    ) -> Pin<Box<dyn Future<Output = Result<(), GhlError>> + Send + 'a>> {
        Box::pin(async move {
            let budget_key = format!("ghl:{key}");
            self.admit(&budget_key, limits)
                .await
                .map_err(|e| GhlError::RateLimited {
                    key: key.to_owned(),
                    reason: format!("the shared rate budget cannot be read: {e}"),
                    retry_after: Duration::from_secs(1),
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_window_holds_at_most_the_limit() {
        // 100 per 10 s: (10 s + 200 ms margin) / 100 = 102 ms apart; 100 per 1 s:
        // (1 s + 25 ms) / 100 = 10.25 ms apart.
        assert!((Pace::new(100, Duration::from_secs(10)).step - 102.0).abs() < 1e-9);
        let fast = Pace::new(100, Duration::from_secs(1));
        assert!((fast.step - 10.25).abs() < 1e-9);
        assert_eq!(fast.late_ms, 5);
        for (max, ms) in [
            (100u32, 10_000f64),
            (100, 1000.0),
            (7, 3000.0),
            (1000, 1000.0),
            (1, 1000.0),
            (3, 100.0),
        ] {
            let pace = Pace::new(max, Duration::from_secs_f64(ms / 1000.0));
            assert!(
                pace.worst_window(ms) <= f64::from(max),
                "{max}/{ms}ms: {pace:?}"
            );
        }
        // 1200 calls at 100 per second take 12.3 s, within 3 % of the 12 s the limit allows.
        assert!(1200.0 * fast.step / 1000.0 < 12.0 * 1.03);
    }
}
