//! A stream's idle timer: it fires when neither a chunk nor any sign of life
//! (keep-alive comments, pings: see [`Liveness`]) came for the idle timeout.

use std::future::Future;
use std::pin::Pin;
use std::task::Context;
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use crate::provider::Liveness;

/// Fires after `idle` without a chunk or a beat of the stream's [`Liveness`].
pub(crate) struct IdleTimer {
    idle: Duration,
    sleep: Pin<Box<Sleep>>,
    alive: Liveness,
}

impl IdleTimer {
    /// A timer started now.
    pub(crate) fn new(idle: Duration, alive: Liveness) -> IdleTimer {
        IdleTimer {
            idle,
            sleep: Box::pin(tokio::time::sleep_until(later(Instant::now(), idle))),
            alive,
        }
    }

    /// The idle timeout.
    pub(crate) fn idle(&self) -> Duration {
        self.idle
    }

    /// A chunk came: the timeout starts again.
    pub(crate) fn reset(&mut self) {
        let deadline = later(Instant::now(), self.idle);
        self.sleep.as_mut().reset(deadline);
    }

    /// Whether the stream has been silent for the idle timeout; when not, the
    /// task is woken when it may have.
    pub(crate) fn poll_expired(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            if self.sleep.as_mut().poll(cx).is_pending() {
                return false;
            }
            match self.alive.last().map(|last| later(last, self.idle)) {
                Some(deadline) if deadline > Instant::now() => self.sleep.as_mut().reset(deadline),
                _ => return true,
            }
        }
    }
}

/// `idle` after `from`; a timeout too large to add (as `Duration::MAX`) means
/// about a century, never an overflow.
pub(crate) fn later(from: Instant, idle: Duration) -> Instant {
    from.checked_add(idle)
        .unwrap_or_else(|| from + Duration::from_secs(100 * 365 * 86_400))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn expired(timer: &mut IdleTimer) -> bool {
        let waker = futures_util::task::noop_waker();
        timer.poll_expired(&mut Context::from_waker(&waker))
    }

    #[tokio::test(start_paused = true)]
    async fn beats_keep_the_timer_from_firing() {
        let alive = Liveness::default();
        let mut timer = IdleTimer::new(Duration::from_millis(200), alive.clone());
        for _ in 0..10 {
            tokio::time::advance(Duration::from_millis(50)).await;
            alive.beat();
            assert!(!expired(&mut timer));
        }
        tokio::time::advance(Duration::from_millis(199)).await;
        assert!(!expired(&mut timer));
        tokio::time::advance(Duration::from_millis(2)).await;
        assert!(expired(&mut timer));
    }

    #[tokio::test(start_paused = true)]
    async fn silence_fires_after_the_timeout_and_a_chunk_resets_it() {
        let mut timer = IdleTimer::new(Duration::from_millis(200), Liveness::default());
        tokio::time::advance(Duration::from_millis(150)).await;
        assert!(!expired(&mut timer));
        timer.reset();
        tokio::time::advance(Duration::from_millis(150)).await;
        assert!(!expired(&mut timer));
        tokio::time::advance(Duration::from_millis(60)).await;
        assert!(expired(&mut timer));
    }

    #[test]
    fn a_huge_idle_timeout_does_not_overflow() {
        let now = Instant::now();
        assert!(later(now, Duration::MAX) > now + Duration::from_secs(365 * 86_400));
    }
}
