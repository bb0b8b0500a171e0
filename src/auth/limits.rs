//! A principal's rate limits, with `governor`'s GCRA limiters: requests per
//! second with a burst, checked before a request's body is read, and
//! upstream requests per minute, charged with the edge's estimate of each
//! operation before it runs (`edge/estimate.rs`).
//!
//! Each principal has limiters of its own, so one caller at its limit never
//! slows another.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::config::RateLimit;

/// One principal's limiters; either may be absent (unlimited).
pub struct PrincipalLimits {
    requests: Option<DefaultDirectRateLimiter>,
    upstream_requests: Option<(DefaultDirectRateLimiter, NonZeroU32)>,
}

/// Why an operation's upstream requests were not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetRefusal {
    /// The budget has room again after this long.
    Later(Duration),
    /// The operation alone is estimated above a whole minute's budget.
    Never { per_minute: u32 },
}

impl PrincipalLimits {
    pub fn new(limit: Option<RateLimit>) -> PrincipalLimits {
        let Some(limit) = limit else {
            return PrincipalLimits {
                requests: None,
                upstream_requests: None,
            };
        };
        let requests = NonZeroU32::new(limit.requests_per_second).map(|per_second| {
            let burst = NonZeroU32::new(limit.burst).unwrap_or(per_second);
            RateLimiter::direct(Quota::per_second(per_second).allow_burst(burst))
        });
        let upstream_requests = limit
            .upstream_requests_per_minute
            .and_then(NonZeroU32::new)
            .map(|per_minute| {
                (
                    RateLimiter::direct(Quota::per_minute(per_minute)),
                    per_minute,
                )
            });
        PrincipalLimits {
            requests,
            upstream_requests,
        }
    }

    /// Counts one request; when the principal is over its rate, how long
    /// until one more is allowed.
    pub fn admit_request(&self) -> Result<(), Duration> {
        let Some(limiter) = &self.requests else {
            return Ok(());
        };
        limiter
            .check()
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Charges `requests` estimated upstream requests to the per-minute
    /// budget; nothing is charged when they are refused.
    pub fn admit_upstream_requests(&self, requests: u64) -> Result<(), BudgetRefusal> {
        let Some((limiter, per_minute)) = &self.upstream_requests else {
            return Ok(());
        };
        let Some(cells) = u32::try_from(requests).ok().and_then(NonZeroU32::new) else {
            // An operation that reads nothing upstream costs nothing; one
            // estimated above u32::MAX is above any budget.
            return if requests == 0 {
                Ok(())
            } else {
                Err(BudgetRefusal::Never {
                    per_minute: per_minute.get(),
                })
            };
        };
        match limiter.check_n(cells) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(BudgetRefusal::Later(
                not_until.wait_time_from(DefaultClock::default().now()),
            )),
            Err(_) => Err(BudgetRefusal::Never {
                per_minute: per_minute.get(),
            }),
        }
    }
}

/// A `Retry-After` value in whole seconds, never 0: a client told to retry
/// after 0 seconds would come back at once and be refused again.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    let whole_seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    whole_seconds.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(per_second: u32, burst: u32, per_minute: Option<u32>) -> PrincipalLimits {
        PrincipalLimits::new(Some(RateLimit {
            requests_per_second: per_second,
            burst,
            upstream_requests_per_minute: per_minute,
        }))
    }

    #[test]
    fn requests_over_the_burst_wait_for_the_rate() {
        let limits = limit(1, 2, None);
        assert!(limits.admit_request().is_ok());
        assert!(limits.admit_request().is_ok());
        let wait = limits.admit_request().unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
    }

    #[test]
    fn the_upstream_budget_is_charged_the_estimate() {
        let limits = limit(100, 100, Some(10));
        assert_eq!(limits.admit_upstream_requests(0), Ok(()));
        assert_eq!(limits.admit_upstream_requests(6), Ok(()));
        assert!(matches!(
            limits.admit_upstream_requests(6),
            Err(BudgetRefusal::Later(_))
        ));
        // The refused charge took nothing: four are still left.
        assert_eq!(limits.admit_upstream_requests(4), Ok(()));
        assert_eq!(
            limits.admit_upstream_requests(11),
            Err(BudgetRefusal::Never { per_minute: 10 })
        );
    }

    #[test]
    fn no_limit_admits_everything() {
        let limits = PrincipalLimits::new(None);
        for _ in 0..1000 {
            assert!(limits.admit_request().is_ok());
        }
        assert_eq!(limits.admit_upstream_requests(u64::MAX), Ok(()));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_secs(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1001)), 2);
    }
}
