//! Client-side rate governor, keyed by location.
//!
//! GHL allows each app 100 requests per 10 s and 200,000 per day **per location**, and
//! reports its view in five `X-RateLimit-*` headers. Going over costs a 429, so we pace
//! ourselves instead of finding the limit by hitting it.
//!
//! [`Governor::acquire`] keeps, per key, the send times of recent requests and waits
//! until sending one more keeps every sliding window of `interval + margin` at or under
//! `max` requests (margin = max(25 ms, 2% of the interval), to absorb clock and network
//! skew). [`Governor::observe`] learns from every response:
//!
//! - `X-RateLimit-Max` / `X-RateLimit-Interval-Milliseconds` replace the defaults
//!   (100 per 10,000 ms until something is learned);
//! - `X-RateLimit-Remaining: 0` blocks the key for one full interval from that response;
//!   a remaining count lower than ours (another process spends the same budget) is
//!   accounted as extra recent sends;
//! - `X-RateLimit-Daily-Remaining: 0` makes `acquire` refuse at once with a
//!   [`GhlError::RateLimited`] whose retry class is `RetryAfter` (GHL does not say when
//!   its day ends, so we wait an hour and look again).
//!
//! [`Governor::penalize`] blocks a key after a 429 for the server-given wait.
//!
//! The state sits behind a `std::sync::Mutex` that is never held across an `.await`:
//! `acquire` computes how long to wait, drops the lock, sleeps, and checks again. Time is
//! `tokio::time`, so tests drive it with `tokio::time::pause()`. The governor is
//! in-process: several worker processes must split the budget or coordinate elsewhere.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use reqwest::header::HeaderMap;
use tokio::time::Instant;

use crate::error::GhlError;

/// Requests per interval before GHL tells us otherwise.
pub const DEFAULT_MAX: u32 = 100;
/// Burst interval before GHL tells us otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(10_000);
/// How long to refuse after the daily budget reads zero.
pub const DAILY_PAUSE: Duration = Duration::from_secs(3600);

/// Header names, lower case.
const H_LIMIT_DAILY: &str = "x-ratelimit-limit-daily";
const H_DAILY_REMAINING: &str = "x-ratelimit-daily-remaining";
const H_INTERVAL: &str = "x-ratelimit-interval-milliseconds";
const H_MAX: &str = "x-ratelimit-max";
const H_REMAINING: &str = "x-ratelimit-remaining";

/// The `X-RateLimit-*` headers of one response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimitHeaders {
    /// `X-RateLimit-Limit-Daily`: the daily budget.
    pub limit_daily: Option<u64>,
    /// `X-RateLimit-Daily-Remaining`: what is left of it.
    pub daily_remaining: Option<u64>,
    /// `X-RateLimit-Interval-Milliseconds`: the burst window.
    pub interval_ms: Option<u64>,
    /// `X-RateLimit-Max`: requests allowed per burst window.
    pub max: Option<u64>,
    /// `X-RateLimit-Remaining`: requests left in the current burst window.
    pub remaining: Option<u64>,
}

impl RateLimitHeaders {
    /// Reads the headers (header names are case-insensitive in a `HeaderMap`).
    pub fn from_headers(headers: &HeaderMap) -> Self {
        Self::from_lookup(|name| headers.get(name).and_then(|v| v.to_str().ok()))
    }

    /// Reads the headers through a lookup function, called with lower-case names.
    pub fn from_lookup<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Self {
        let num = |name: &str| get(name).and_then(|v| v.trim().parse::<u64>().ok());
        Self {
            limit_daily: num(H_LIMIT_DAILY),
            daily_remaining: num(H_DAILY_REMAINING),
            interval_ms: num(H_INTERVAL),
            max: num(H_MAX),
            remaining: num(H_REMAINING),
        }
    }

    /// Whether no rate-limit header was present.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    fn merge(&mut self, newer: &Self) {
        self.limit_daily = newer.limit_daily.or(self.limit_daily);
        self.daily_remaining = newer.daily_remaining.or(self.daily_remaining);
        self.interval_ms = newer.interval_ms.or(self.interval_ms);
        self.max = newer.max.or(self.max);
        self.remaining = newer.remaining.or(self.remaining);
    }
}

/// What the governor currently believes about one key (for the rate-budget view).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetSnapshot {
    /// Requests allowed per interval.
    pub max: u32,
    /// The burst interval.
    pub interval: Duration,
    /// Requests counted in the current sliding window.
    pub in_window: u32,
    /// Time until the key is unblocked (remaining 0 or 429), if blocked.
    pub blocked_for: Option<Duration>,
    /// Time until the daily refusal ends, if the daily budget is spent.
    pub daily_blocked_for: Option<Duration>,
    /// Last values GHL reported.
    pub last_headers: RateLimitHeaders,
}

#[derive(Debug)]
struct KeyState {
    max: u32,
    interval: Duration,
    /// Send times inside the current window, oldest first.
    grants: VecDeque<Instant>,
    blocked_until: Option<Instant>,
    daily_blocked_until: Option<Instant>,
    last: RateLimitHeaders,
}

impl KeyState {
    fn window(&self) -> Duration {
        self.interval + margin(self.interval)
    }

    fn prune(&mut self, now: Instant) {
        let window = self.window();
        while self.grants.front().is_some_and(|&t| t + window <= now) {
            self.grants.pop_front();
        }
    }

    /// Earliest instant at which one more request may be sent.
    fn next_slot(&self, now: Instant) -> Instant {
        let mut at = now;
        if let Some(blocked) = self.blocked_until {
            at = at.max(blocked);
        }
        let max = self.max as usize;
        if self.grants.len() >= max {
            let oldest_that_counts = self.grants[self.grants.len() - max];
            at = at.max(oldest_that_counts + self.window());
        }
        at
    }
}

/// Safety margin added to the window.
fn margin(interval: Duration) -> Duration {
    (interval / 50).max(Duration::from_millis(25))
}

/// Per-key request pacing; share one per process via `Arc`.
#[derive(Debug)]
pub struct Governor {
    default_max: u32,
    default_interval: Duration,
    daily_pause: Duration,
    keys: Mutex<HashMap<String, KeyState>>,
}

impl Default for Governor {
    fn default() -> Self {
        Self::new()
    }
}

impl Governor {
    /// A governor with GHL's documented defaults (100 per 10 s).
    pub fn new() -> Self {
        Self::with_limits(DEFAULT_MAX, DEFAULT_INTERVAL)
    }

    /// A governor with other starting limits (tests, sandboxes with tighter limits).
    pub fn with_limits(max: u32, interval: Duration) -> Self {
        Self {
            default_max: max.max(1),
            default_interval: interval.max(Duration::from_millis(1)),
            daily_pause: DAILY_PAUSE,
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// Changes how long `acquire` refuses after the daily budget reads zero.
    #[must_use]
    pub fn with_daily_pause(mut self, pause: Duration) -> Self {
        self.daily_pause = pause;
        self
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, KeyState>> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn state<'m>(&self, map: &'m mut HashMap<String, KeyState>, key: &str) -> &'m mut KeyState {
        map.entry(key.to_owned()).or_insert_with(|| KeyState {
            max: self.default_max,
            interval: self.default_interval,
            grants: VecDeque::new(),
            blocked_until: None,
            daily_blocked_until: None,
            last: RateLimitHeaders::default(),
        })
    }

    /// Waits until one more request may be sent for `key`, and counts it as sent.
    ///
    /// Fails at once (without waiting) when the daily budget of the key is spent.
    pub async fn acquire(&self, key: &str) -> Result<(), GhlError> {
        loop {
            let wake_at = {
                let mut map = self.lock();
                let st = self.state(&mut map, key);
                let now = Instant::now();
                if let Some(until) = st.daily_blocked_until {
                    if until > now {
                        return Err(GhlError::RateLimited {
                            key: key.to_owned(),
                            reason: "daily request budget spent (X-RateLimit-Daily-Remaining: 0)"
                                .to_owned(),
                            retry_after: until - now,
                        });
                    }
                    st.daily_blocked_until = None;
                }
                st.prune(now);
                let at = st.next_slot(now);
                if at <= now {
                    st.grants.push_back(now);
                    return Ok(());
                }
                at
            };
            tokio::time::sleep_until(wake_at).await;
        }
    }

    /// Learns from the rate-limit headers of a response for `key`.
    pub fn observe(&self, key: &str, headers: &RateLimitHeaders) {
        self.learn(key, headers, true);
    }

    /// Like [`observe`](Self::observe), when a shared budget in front of this governor
    /// already spaces what every process sends: a remaining count lower than ours is
    /// then our other processes' sends, which that budget accounts for, so they are not
    /// counted again here (a `remaining` of 0 still blocks).
    pub fn observe_shared(&self, key: &str, headers: &RateLimitHeaders) {
        self.learn(key, headers, false);
    }

    fn learn(&self, key: &str, headers: &RateLimitHeaders, count_others: bool) {
        if headers.is_empty() {
            return;
        }
        let mut map = self.lock();
        let st = self.state(&mut map, key);
        let now = Instant::now();
        st.last.merge(headers);
        if let Some(max) = headers.max.filter(|&m| m > 0) {
            st.max = u32::try_from(max).unwrap_or(u32::MAX);
        }
        if let Some(ms) = headers.interval_ms.filter(|&ms| ms > 0) {
            st.interval = Duration::from_millis(ms);
        }
        st.prune(now);
        match headers.remaining {
            Some(0) => {
                let until = now + st.interval;
                st.blocked_until = Some(st.blocked_until.map_or(until, |b| b.max(until)));
            }
            Some(remaining) if count_others => {
                // Someone else spends this budget too: count their sends as ours.
                let ours_left = (st.max as usize).saturating_sub(st.grants.len());
                let theirs = ours_left.saturating_sub(usize::try_from(remaining).unwrap_or(0));
                st.grants.extend(std::iter::repeat_n(now, theirs));
            }
            Some(_) | None => {}
        }
        match headers.daily_remaining {
            Some(0) => st.daily_blocked_until = Some(now + self.daily_pause),
            Some(_) => st.daily_blocked_until = None,
            None => {}
        }
    }

    /// Blocks `key` for `wait` (after a 429).
    pub fn penalize(&self, key: &str, wait: Duration) {
        let mut map = self.lock();
        let st = self.state(&mut map, key);
        let until = Instant::now() + wait;
        st.blocked_until = Some(st.blocked_until.map_or(until, |b| b.max(until)));
    }

    /// The limit `key` is paced to, and whether it was learned from GHL's headers
    /// (`false`: the defaults, until the first response says otherwise).
    pub fn limits(&self, key: &str) -> (u32, Duration, bool) {
        let map = self.lock();
        map.get(key)
            .map_or((self.default_max, self.default_interval, false), |st| {
                (st.max, st.interval, !st.last.is_empty())
            })
    }

    /// What the governor knows about `key`, if it has seen it.
    pub fn snapshot(&self, key: &str) -> Option<BudgetSnapshot> {
        let mut map = self.lock();
        let st = map.get_mut(key)?;
        let now = Instant::now();
        st.prune(now);
        let left = |until: Option<Instant>| until.filter(|&u| u > now).map(|u| u - now);
        Some(BudgetSnapshot {
            max: st.max,
            interval: st.interval,
            in_window: u32::try_from(st.grants.len()).unwrap_or(u32::MAX),
            blocked_for: left(st.blocked_until),
            daily_blocked_for: left(st.daily_blocked_until),
            last_headers: st.last,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::RetryClass;
    use reqwest::header::HeaderValue;
    use std::sync::Arc;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[tokio::test(start_paused = true)]
    async fn paces_250_requests_at_100_per_second() {
        let gov = Arc::new(Governor::with_limits(100, ms(1000)));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..250 {
            let gov = Arc::clone(&gov);
            tasks.push(tokio::spawn(async move {
                gov.acquire("L1").await.unwrap();
                Instant::now()
            }));
        }
        let mut times = Vec::new();
        for t in tasks {
            times.push(t.await.unwrap() - start);
        }
        times.sort();
        assert_eq!(times[0], Duration::ZERO);
        assert!(
            times[100] >= times[0] + ms(1000),
            "101st at {:?}",
            times[100]
        );
        for i in 0..times.len() - 100 {
            assert!(
                times[i + 100] - times[i] >= ms(1000),
                "window starting at grant {i} holds more than 100"
            );
        }
        // Not slower than needed: three batches, each one window (+ margin) apart.
        assert!(times[249] <= ms(2100), "last at {:?}", times[249]);
        // Other keys are independent.
        let before = Instant::now();
        gov.acquire("L2").await.unwrap();
        assert_eq!(Instant::now(), before);
    }

    #[tokio::test(start_paused = true)]
    async fn learns_limits_and_remaining_zero_blocks_a_full_interval() {
        let gov = Governor::new();
        gov.acquire("L1").await.unwrap();
        gov.observe(
            "L1",
            &RateLimitHeaders {
                max: Some(2),
                interval_ms: Some(500),
                remaining: Some(0),
                ..Default::default()
            },
        );
        let snap = gov.snapshot("L1").unwrap();
        assert_eq!(snap.max, 2);
        assert_eq!(snap.interval, ms(500));
        let t0 = Instant::now();
        gov.acquire("L1").await.unwrap();
        assert!(Instant::now() - t0 >= ms(500));
    }

    #[tokio::test(start_paused = true)]
    async fn lower_remaining_than_ours_counts_foreign_sends() {
        let gov = Governor::with_limits(10, ms(1000));
        gov.acquire("L1").await.unwrap();
        // Server says only 2 left: 7 were sent by someone else.
        gov.observe(
            "L1",
            &RateLimitHeaders {
                remaining: Some(2),
                ..Default::default()
            },
        );
        let t0 = Instant::now();
        gov.acquire("L1").await.unwrap();
        gov.acquire("L1").await.unwrap();
        assert_eq!(Instant::now(), t0);
        gov.acquire("L1").await.unwrap();
        assert!(Instant::now() - t0 >= ms(1000));
    }

    #[tokio::test(start_paused = true)]
    async fn penalize_blocks_the_key() {
        let gov = Governor::new();
        gov.penalize("L1", Duration::from_secs(7));
        let t0 = Instant::now();
        gov.acquire("L1").await.unwrap();
        assert!(Instant::now() - t0 >= Duration::from_secs(7));
    }

    #[tokio::test(start_paused = true)]
    async fn daily_budget_spent_refuses_immediately() {
        let gov = Governor::new();
        gov.observe(
            "L1",
            &RateLimitHeaders {
                daily_remaining: Some(0),
                limit_daily: Some(200_000),
                ..Default::default()
            },
        );
        let t0 = Instant::now();
        let err = gov.acquire("L1").await.unwrap_err();
        assert_eq!(Instant::now(), t0);
        assert_eq!(err.retry_class(), RetryClass::RetryAfter(DAILY_PAUSE));
        tokio::time::advance(DAILY_PAUSE).await;
        gov.acquire("L1").await.unwrap();
    }

    #[test]
    fn parses_headers_case_insensitively() {
        let mut map = HeaderMap::new();
        map.insert("X-RateLimit-Max", HeaderValue::from_static("100"));
        map.insert("x-ratelimit-remaining", HeaderValue::from_static("97"));
        map.insert(
            "X-RATELIMIT-INTERVAL-MILLISECONDS",
            HeaderValue::from_static("10000"),
        );
        map.insert(
            "X-RateLimit-Limit-Daily",
            HeaderValue::from_static("200000"),
        );
        map.insert(
            "X-RateLimit-Daily-Remaining",
            HeaderValue::from_static("199990"),
        );
        let h = RateLimitHeaders::from_headers(&map);
        assert_eq!(
            h,
            RateLimitHeaders {
                limit_daily: Some(200_000),
                daily_remaining: Some(199_990),
                interval_ms: Some(10_000),
                max: Some(100),
                remaining: Some(97),
            }
        );
        assert!(RateLimitHeaders::from_headers(&HeaderMap::new()).is_empty());
    }
}
