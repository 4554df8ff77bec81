//! Client-side rate limiting per provider: configured limits and the server's own
//! view from its `x-ratelimit-*` headers, so bursts wait instead of collecting 429s.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;

use crate::later::Later;

use super::headers::RateLimitHeaders;

/// A client-side rate limit for one provider: at most `requests` requests and
/// `tokens` tokens in any window of the given length, plus whatever the
/// provider's `x-ratelimit-*` headers say is left (the stricter wins).
///
/// A request's token cost is its prompt estimate
/// ([`estimate_tokens`](crate::estimate_tokens), the JSON instruction included)
/// plus its `max_tokens` when set, which is how OpenAI counts a request against
/// its tokens-per-minute limit before it runs. A request larger than the token
/// limit waits for a whole empty window.
///
/// ```
/// use std::time::Duration;
/// use elelem_core::gate::RateLimit;
/// let groq = RateLimit::per_minute().requests(30).tokens(6_000);
/// assert_eq!(groq.window(), Duration::from_secs(60));
/// assert_eq!((groq.request_limit(), groq.token_limit()), (Some(30), Some(6_000)));
/// let headers_only = RateLimit::from_headers();
/// assert_eq!(headers_only.request_limit(), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    window: Duration,
    requests: Option<u64>,
    tokens: Option<u64>,
}

impl RateLimit {
    /// Limits per minute (add them with [`RateLimit::requests`] and
    /// [`RateLimit::tokens`]).
    pub fn per_minute() -> RateLimit {
        RateLimit::per(Duration::from_secs(60))
    }

    /// Limits per window of this length (at least 1 ms).
    pub fn per(window: Duration) -> RateLimit {
        RateLimit {
            window: window.max(Duration::from_millis(1)),
            requests: None,
            tokens: None,
        }
    }

    /// No limit of its own: only what the provider's `x-ratelimit-*` headers say.
    pub fn from_headers() -> RateLimit {
        RateLimit::per_minute()
    }

    /// At most this many requests per window (at least 1).
    #[must_use]
    pub fn requests(mut self, requests: u64) -> RateLimit {
        self.requests = Some(requests.max(1));
        self
    }

    /// At most this many tokens per window (at least 1).
    #[must_use]
    pub fn tokens(mut self, tokens: u64) -> RateLimit {
        self.tokens = Some(tokens.max(1));
        self
    }

    /// The window length.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The requests allowed per window, if limited.
    pub fn request_limit(&self) -> Option<u64> {
        self.requests
    }

    /// The tokens allowed per window, if limited.
    pub fn token_limit(&self) -> Option<u64> {
        self.tokens
    }
}

/// One admitted request.
#[derive(Debug, Clone, Copy)]
struct Admission {
    /// Its number, in admission order.
    seq: u64,
    at: Instant,
    tokens: u64,
}

/// Which allowance a server view is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Requests,
    Tokens,
}

impl Unit {
    fn cost(self, admission: &Admission) -> u64 {
        match self {
            Unit::Requests => 1,
            Unit::Tokens => admission.tokens,
        }
    }
}

/// What the server said was left of one allowance.
#[derive(Debug, Clone, Copy)]
struct ServerView {
    /// The number of the request that brought it (newer requests win).
    admitted: u64,
    /// The number the next admission had when its response was read: admissions
    /// from this one on came later and are counted as used.
    observed_seq: u64,
    /// What was left.
    remaining: u64,
    /// Other requests in flight when it was read (they may not have been counted).
    pending: u64,
    /// When the allowance is whole again.
    reset_at: Instant,
    /// The whole allowance, when sent.
    limit: Option<u64>,
}

#[derive(Debug, Default)]
struct LimiterState {
    /// Admissions, oldest first, kept while a limit or a view still needs them.
    log: VecDeque<Admission>,
    next_seq: u64,
    in_flight_requests: u64,
    in_flight_tokens: u64,
    requests_view: Option<ServerView>,
    tokens_view: Option<ServerView>,
}

impl LimiterState {
    /// The cost of admissions numbered `seq` or later.
    fn used_from_seq(&self, seq: u64, unit: Unit) -> u64 {
        self.log
            .iter()
            .rev()
            .take_while(|a| a.seq >= seq)
            .map(|a| unit.cost(a))
            .sum()
    }

    /// The cost of admissions made at `since` or later.
    fn used_from(&self, since: Instant, unit: Unit) -> u64 {
        self.log
            .iter()
            .rev()
            .take_while(|a| a.at >= since)
            .map(|a| unit.cost(a))
            .sum()
    }

    /// The earliest time a configured sliding window of `capacity` lets `cost` in.
    fn window_slot(
        &self,
        now: Instant,
        window: Duration,
        capacity: u64,
        cost: u64,
        unit: Unit,
    ) -> Instant {
        let cost = cost.min(capacity);
        let mut sum = 0u64;
        for admission in self.log.iter().rev() {
            sum = sum.saturating_add(unit.cost(admission));
            if sum.saturating_add(cost) > capacity {
                return admission.at.later(window).max(now);
            }
        }
        now
    }

    /// The earliest time the server's view lets `cost` in.
    fn view_slot(
        &self,
        now: Instant,
        view: &ServerView,
        window: Duration,
        cost: u64,
        unit: Unit,
    ) -> Instant {
        if now < view.reset_at {
            let used = view
                .pending
                .saturating_add(self.used_from_seq(view.observed_seq, unit));
            if used.saturating_add(cost) <= view.remaining {
                return now;
            }
        }
        // From the reset on, the whole allowance (when known) per window.
        let Some(limit) = view.limit.filter(|l| *l > 0) else {
            return view.reset_at.max(now);
        };
        let cost = cost.clamp(1, limit);
        let used = self.used_from(view.reset_at, unit);
        let windows = (used.saturating_add(cost) - 1) / limit;
        let windows = u32::try_from(windows).unwrap_or(u32::MAX);
        view.reset_at.later(window.saturating_mul(windows)).max(now)
    }

    /// Forgets admissions and views nothing needs any more.
    fn prune(&mut self, now: Instant, window: Duration) {
        for view in [&mut self.requests_view, &mut self.tokens_view] {
            if view.is_some_and(|v| now >= v.reset_at.later(window)) {
                *view = None;
            }
        }
        let keep_after = now.checked_sub(window).unwrap_or(now);
        let keep_from_seq = [self.requests_view, self.tokens_view]
            .into_iter()
            .flatten()
            .map(|v| v.observed_seq)
            .min()
            .unwrap_or(u64::MAX);
        while self
            .log
            .front()
            .is_some_and(|a| a.at < keep_after && a.seq < keep_from_seq)
        {
            self.log.pop_front();
        }
    }
}

/// A rate limit with no room within the time a call may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooLong {
    /// When it has room again, from now.
    pub resets_in: Duration,
}

/// One provider's limiter.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    provider: String,
    limit: RateLimit,
    state: Mutex<LimiterState>,
    /// Waiters line up here (fair, first come first served), so only the head of
    /// the line sleeps on the clock and wakes: no burst of woken callers.
    line: Semaphore,
    /// Signalled when a response brings a newer server view.
    fresh: Notify,
}

impl RateLimiter {
    pub fn new(provider: &str, limit: RateLimit) -> RateLimiter {
        RateLimiter {
            provider: provider.to_owned(),
            limit,
            state: Mutex::new(LimiterState::default()),
            line: Semaphore::new(1),
            fresh: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, LimiterState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// When a request costing `tokens` may start, given the limits and views.
    fn slot(&self, state: &LimiterState, now: Instant, tokens: u64) -> Instant {
        let window = self.limit.window;
        let mut at = now;
        if let Some(capacity) = self.limit.requests {
            at = at.max(state.window_slot(now, window, capacity, 1, Unit::Requests));
        }
        if let Some(capacity) = self.limit.tokens {
            at = at.max(state.window_slot(now, window, capacity, tokens, Unit::Tokens));
        }
        if let Some(view) = &state.requests_view {
            at = at.max(state.view_slot(now, view, window, 1, Unit::Requests));
        }
        if let Some(view) = &state.tokens_view {
            at = at.max(state.view_slot(now, view, window, tokens, Unit::Tokens));
        }
        at
    }

    /// Waits until a request costing `tokens` fits, then counts it as started and
    /// in flight (until [`RateLimiter::finish`]); returns its number. The state
    /// lock is never held across an await.
    ///
    /// Never waits longer than `bound` in all: when the limit has no room within
    /// it, returns at once with when it will have room ([`TooLong`]).
    pub async fn admit(&self, tokens: u64, bound: Duration) -> Result<u64, TooLong> {
        let started = Instant::now();
        let deadline = started.later(bound);
        // Closed only on drop of the limiter, which outlives every caller. The
        // head of the line waits at most its own bound, so the line moves.
        let _turn = match tokio::time::timeout_at(deadline, self.line.acquire()).await {
            Ok(turn) => turn,
            Err(_) => {
                let now = Instant::now();
                let at = self.slot(&self.lock(), now, tokens);
                return Err(TooLong {
                    resets_in: at.saturating_duration_since(now).max(bound),
                });
            }
        };
        loop {
            let mut fresh = std::pin::pin!(self.fresh.notified());
            fresh.as_mut().enable();
            let wait = {
                let mut state = self.lock();
                let now = Instant::now();
                state.prune(now, self.limit.window);
                let at = self.slot(&state, now, tokens);
                if at <= now {
                    let seq = state.next_seq;
                    state.next_seq += 1;
                    state.log.push_back(Admission {
                        seq,
                        at: now,
                        tokens,
                    });
                    state.in_flight_requests += 1;
                    state.in_flight_tokens = state.in_flight_tokens.saturating_add(tokens);
                    let waited = now - started;
                    if !waited.is_zero() {
                        tracing::debug!(provider = %self.provider, ?waited, tokens, "rate limit wait over; sending");
                    }
                    return Ok(seq);
                }
                if at > deadline {
                    tracing::debug!(provider = %self.provider, resets_in = ?(at - now), ?bound, tokens, "rate limit: no room within the bound; refused");
                    return Err(TooLong {
                        resets_in: at - now,
                    });
                }
                at - now
            };
            tracing::debug!(provider = %self.provider, ?wait, tokens, "rate limit: waiting before sending");
            // Wake early when a response brings a newer view of the allowance.
            let _ = tokio::time::timeout(wait, fresh).await;
        }
    }

    /// Ends an admitted request: no longer in flight; its response headers (when
    /// any) replace the server's view if they are the newest.
    pub fn finish(
        &self,
        admitted: u64,
        tokens: u64,
        headers: Option<&BTreeMap<String, String>>,
        retry_after: Option<Duration>,
    ) {
        let mut fresh = false;
        {
            let mut state = self.lock();
            state.in_flight_requests = state.in_flight_requests.saturating_sub(1);
            state.in_flight_tokens = state.in_flight_tokens.saturating_sub(tokens);
            let parsed = headers.map(RateLimitHeaders::parse).unwrap_or_default();
            let now = Instant::now();
            let newer = |view: &Option<ServerView>| match view {
                Some(view) => admitted >= view.admitted,
                None => true,
            };
            if let (Some(remaining), true) =
                (parsed.remaining_requests, newer(&state.requests_view))
            {
                state.requests_view = Some(ServerView {
                    admitted,
                    observed_seq: state.next_seq,
                    remaining,
                    pending: state.in_flight_requests,
                    reset_at: now.later(
                        parsed
                            .reset_requests
                            .or(retry_after)
                            .unwrap_or(self.limit.window),
                    ),
                    limit: parsed.limit_requests,
                });
                fresh = true;
            } else if let (Some(wait), true) = (retry_after, newer(&state.requests_view)) {
                // A 429 without the headers: nothing is left until its retry-after.
                state.requests_view = Some(ServerView {
                    admitted,
                    observed_seq: state.next_seq,
                    remaining: 0,
                    pending: state.in_flight_requests,
                    reset_at: now.later(wait),
                    limit: None,
                });
                fresh = true;
            }
            if let (Some(remaining), true) = (parsed.remaining_tokens, newer(&state.tokens_view)) {
                state.tokens_view = Some(ServerView {
                    admitted,
                    observed_seq: state.next_seq,
                    remaining,
                    pending: state.in_flight_tokens,
                    reset_at: now.later(parsed.reset_tokens.unwrap_or(self.limit.window)),
                    limit: parsed.limit_tokens,
                });
                fresh = true;
            }
        }
        if fresh {
            self.fresh.notify_waiters();
        }
    }

    /// Ends an admitted request that brought nothing back (cancelled).
    pub fn release(&self, tokens: u64) {
        let mut state = self.lock();
        state.in_flight_requests = state.in_flight_requests.saturating_sub(1);
        state.in_flight_tokens = state.in_flight_tokens.saturating_sub(tokens);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No bound on the wait (clamped at a year).
    const NO_BOUND: Duration = Duration::MAX;

    fn headers(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// Admits a request and returns when, relative to `start`.
    async fn admitted_after(limiter: &RateLimiter, tokens: u64, start: Instant) -> Duration {
        limiter.admit(tokens, NO_BOUND).await.unwrap();
        Instant::now() - start
    }

    #[tokio::test(start_paused = true)]
    async fn huge_server_resets_and_windows_never_overflow() {
        for window in [Duration::from_secs(60), Duration::MAX] {
            let limiter = RateLimiter::new("p", RateLimit::per(window).requests(1));
            let seq = limiter.admit(0, NO_BOUND).await.unwrap();
            let huge = headers(&[
                ("x-ratelimit-remaining-requests", "0"),
                ("x-ratelimit-limit-requests", "1"),
                ("x-ratelimit-reset-requests", "99999999999999h"),
                ("x-ratelimit-remaining-tokens", "0"),
                ("x-ratelimit-reset-tokens", "1e300s"),
            ]);
            limiter.finish(seq, 0, Some(&huge), Some(Duration::MAX));
            // The next admission waits (at most a year), it does not panic.
            let next =
                tokio::time::timeout(Duration::from_secs(3600), limiter.admit(0, NO_BOUND)).await;
            assert!(next.is_err(), "admitted before the server's reset");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_reset_past_the_bound_is_refused_at_once_saying_when() {
        let limiter = RateLimiter::new("p", RateLimit::from_headers());
        let seq = limiter.admit(0, NO_BOUND).await.unwrap();
        let spent = headers(&[
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", "1h"),
        ]);
        limiter.finish(seq, 0, Some(&spent), None);
        let start = Instant::now();
        let refused = limiter.admit(0, Duration::from_secs(120)).await;
        assert_eq!(Instant::now(), start, "the refusal waited");
        assert_eq!(
            refused,
            Err(TooLong {
                resets_in: Duration::from_secs(3600)
            })
        );
        // Within the bound it waits, then goes.
        let admitted = tokio::time::timeout(
            Duration::from_secs(3601),
            limiter.admit(0, Duration::from_secs(3600)),
        )
        .await;
        assert!(matches!(admitted, Ok(Ok(_))));
        assert_eq!(Instant::now() - start, Duration::from_secs(3600));
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_behind_a_long_wait_in_line_is_refused_at_its_own_bound() {
        let limiter = std::sync::Arc::new(RateLimiter::new(
            "p",
            RateLimit::per(Duration::from_secs(600)).requests(1),
        ));
        let seq = limiter.admit(0, NO_BOUND).await.unwrap();
        limiter.finish(seq, 0, None, None);
        // The head of the line waits ten minutes for the window.
        let head = tokio::spawn({
            let limiter = limiter.clone();
            async move { limiter.admit(0, NO_BOUND).await }
        });
        tokio::task::yield_now().await;
        let start = Instant::now();
        let behind = limiter.admit(0, Duration::from_secs(5)).await;
        assert!(behind.is_err());
        assert_eq!(Instant::now() - start, Duration::from_secs(5));
        assert!(head.await.unwrap().is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_configured_window_paces_requests() {
        let limiter = RateLimiter::new("p", RateLimit::per(Duration::from_secs(1)).requests(2));
        let start = Instant::now();
        let mut starts = Vec::new();
        for _ in 0..5 {
            let seq = limiter.admit(0, NO_BOUND).await.unwrap();
            limiter.finish(seq, 0, None, None);
            starts.push(Instant::now() - start);
        }
        let secs: Vec<u64> = starts.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [0, 0, 1, 1, 2]);
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_are_limited_and_a_huge_request_waits_for_an_empty_window() {
        let limiter = RateLimiter::new("p", RateLimit::per_minute().tokens(1_000));
        let start = Instant::now();
        let first = admitted_after(&limiter, 600, start).await;
        let second = admitted_after(&limiter, 600, start).await;
        let third = admitted_after(&limiter, 5_000, start).await;
        assert_eq!(first, Duration::ZERO);
        assert_eq!(second, Duration::from_secs(60));
        assert_eq!(third, Duration::from_secs(120));
    }

    #[tokio::test(start_paused = true)]
    async fn the_server_view_wins_when_stricter_and_counts_later_requests() {
        let limiter = RateLimiter::new("p", RateLimit::from_headers());
        let start = Instant::now();
        let seq = limiter.admit(10, NO_BOUND).await.unwrap();
        limiter.finish(
            seq,
            10,
            Some(&headers(&[
                ("x-ratelimit-limit-requests", "3"),
                ("x-ratelimit-remaining-requests", "2"),
                ("x-ratelimit-reset-requests", "2s"),
                ("x-ratelimit-remaining-tokens", "99"),
                ("x-ratelimit-reset-tokens", "6m0s"),
            ])),
            None,
        );
        // Two left: both go now; the third waits for the reset.
        assert_eq!(admitted_after(&limiter, 1, start).await, Duration::ZERO);
        assert_eq!(admitted_after(&limiter, 1, start).await, Duration::ZERO);
        assert_eq!(
            admitted_after(&limiter, 1, start).await,
            Duration::from_secs(2)
        );
        // From the reset, the whole allowance (3) per window (60 s here).
        assert_eq!(
            admitted_after(&limiter, 1, start).await,
            Duration::from_secs(2)
        );
        assert_eq!(
            admitted_after(&limiter, 1, start).await,
            Duration::from_secs(2)
        );
        assert_eq!(
            admitted_after(&limiter, 1, start).await,
            Duration::from_secs(62)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_older_response_does_not_replace_a_newer_view_and_a_429_blocks_until_retry_after() {
        let limiter = RateLimiter::new("p", RateLimit::from_headers());
        let start = Instant::now();
        let old = limiter.admit(0, NO_BOUND).await.unwrap();
        let new = limiter.admit(0, NO_BOUND).await.unwrap();
        limiter.finish(
            new,
            0,
            Some(&headers(&[
                ("x-ratelimit-remaining-requests", "0"),
                ("x-ratelimit-reset-requests", "3s"),
            ])),
            None,
        );
        limiter.finish(
            old,
            0,
            Some(&headers(&[
                ("x-ratelimit-remaining-requests", "100"),
                ("x-ratelimit-reset-requests", "1s"),
            ])),
            None,
        );
        assert_eq!(
            admitted_after(&limiter, 0, start).await,
            Duration::from_secs(3)
        );
        let blocked = limiter.admit(0, NO_BOUND).await.unwrap();
        let blocked_at = Instant::now();
        limiter.finish(blocked, 0, None, Some(Duration::from_secs(5)));
        assert_eq!(
            admitted_after(&limiter, 0, blocked_at).await,
            Duration::from_secs(5)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn requests_in_flight_when_a_view_arrives_count_as_used() {
        let limiter = RateLimiter::new("p", RateLimit::from_headers());
        let start = Instant::now();
        let a = limiter.admit(0, NO_BOUND).await.unwrap();
        let _b = limiter.admit(0, NO_BOUND).await.unwrap(); // still in flight
        limiter.finish(
            a,
            0,
            Some(&headers(&[
                ("x-ratelimit-remaining-requests", "1"),
                ("x-ratelimit-reset-requests", "4s"),
            ])),
            None,
        );
        assert_eq!(
            admitted_after(&limiter, 0, start).await,
            Duration::from_secs(4)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_waiters_are_admitted_one_at_a_time_in_order() {
        let limiter = std::sync::Arc::new(RateLimiter::new(
            "p",
            RateLimit::per(Duration::from_secs(1)).requests(1),
        ));
        let start = Instant::now();
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let limiter = limiter.clone();
                tokio::spawn(async move { admitted_after(&limiter, 0, start).await })
            })
            .collect();
        let mut starts = Vec::new();
        for task in tasks {
            starts.push(task.await.unwrap().as_secs());
        }
        starts.sort_unstable();
        assert_eq!(starts, [0, 1, 2, 3]);
    }
}
