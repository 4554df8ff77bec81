//! Instant arithmetic that never panics: server-given delays (`retry-after`,
//! `x-ratelimit-reset-*`) and user settings (idle timeouts, candidate timeouts) can be
//! any size, and `Instant + Duration` panics when the sum does not fit.

use std::time::Duration;

/// The longest wait or timeout Elelem takes literally: one year. Longer ones (a
/// `retry-after` of 1e20 seconds, `Duration::MAX`) mean "practically never" and are
/// clamped to it, which every `Instant` can hold.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(elelem_core::LONGEST_WAIT, Duration::from_secs(365 * 24 * 3600));
/// ```
pub const LONGEST_WAIT: Duration = Duration::from_secs(365 * 24 * 3600);

/// `duration`, at most [`LONGEST_WAIT`].
pub(crate) fn clamped(duration: Duration) -> Duration {
    duration.min(LONGEST_WAIT)
}

/// An instant that a (clamped) duration can be added to without panicking.
pub(crate) trait Later: Copy {
    /// `self + duration`, or `None` when it does not fit.
    fn checked_later(self, duration: Duration) -> Option<Self>;

    /// `self + duration`, with the duration clamped to [`LONGEST_WAIT`] (and, should
    /// even that not fit, halved until it does).
    fn later(self, duration: Duration) -> Self {
        let mut step = clamped(duration);
        loop {
            if let Some(at) = self.checked_later(step) {
                return at;
            }
            if step.is_zero() {
                return self;
            }
            step /= 2;
        }
    }
}

impl Later for std::time::Instant {
    fn checked_later(self, duration: Duration) -> Option<Self> {
        self.checked_add(duration)
    }
}

impl Later for tokio::time::Instant {
    fn checked_later(self, duration: Duration) -> Option<Self> {
        self.checked_add(duration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_durations_are_clamped_not_panics() {
        let now = std::time::Instant::now();
        assert_eq!(now.later(Duration::MAX), now + LONGEST_WAIT);
        assert_eq!(
            now.later(Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
        let now = tokio::time::Instant::now();
        assert_eq!(now.later(Duration::MAX), now + LONGEST_WAIT);
        assert_eq!(clamped(Duration::MAX), LONGEST_WAIT);
    }
}
