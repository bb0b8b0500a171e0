//! An adaptive limit on the concurrent requests to one upstream, in place of
//! a fixed number: additive increase while answers come back as fast as the
//! fastest seen, multiplicative decrease on overload (the AIMD scheme of
//! Netflix's concurrency-limits library, with its latency check).
//!
//! - Each answer no slower than twice the smallest latency seen plus
//!   [`LATENCY_SLACK`] (the noise of a busy machine, where the gateway's own
//!   work delays when an answer is read) adds `1 / limit`: about one more
//!   permit per round of `limit` answers.
//! - A slower answer holds the limit where it is: rising latency is the
//!   first sign of an upstream's queue. (Taking a share off for each slow
//!   answer, as a first version did, let the noise of a busy machine, where
//!   single answers are often several times the fastest, drive the limit
//!   to one: the property board at 5 ms fell to 4 queries a second.)
//! - Overload (429, 503, a timeout) halves the limit.
//! - The limit stays between 1 and `[sources.<source>] max_concurrent_requests`
//!   and starts at [`INITIAL_LIMIT`] (or the maximum, when lower).
//!
//! Permits live in a tokio `Semaphore`. Growing adds permits; shrinking
//! records a debt that permits pay as they are released, by being forgotten
//! instead of returned, so a request in flight is never cut off.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore};

/// The limit an upstream starts at.
pub const INITIAL_LIMIT: usize = 16;

/// What an answer may take beyond twice the fastest and still count as fast.
pub const LATENCY_SLACK: Duration = Duration::from_millis(10);

/// What an exchange tells the limit.
#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    /// An answer, in this time.
    Answered(Duration),
    /// A sign of overload: 429, 503, or no answer in time.
    Overloaded,
    /// Nothing to learn (a connection refused, a request abandoned).
    Ignored,
}

/// The adaptive limit of one upstream.
#[derive(Debug)]
pub struct AdaptiveLimit {
    semaphore: Arc<Semaphore>,
    state: Mutex<LimitState>,
    maximum: usize,
}

#[derive(Debug)]
struct LimitState {
    /// The limit, fractional so that increases can be smaller than one.
    limit: f64,
    /// Permits that exist: in the semaphore or held.
    granted: usize,
    /// Permits to forget as they are released.
    debt: usize,
    /// The smallest latency seen.
    fastest: Option<Duration>,
}

/// A permit of an [`AdaptiveLimit`]; report the exchange with
/// [`LimitPermit::record`] before dropping it.
#[derive(Debug)]
pub struct LimitPermit {
    permit: Option<OwnedSemaphorePermit>,
    limit: Arc<AdaptiveLimit>,
}

impl AdaptiveLimit {
    /// A limit between 1 and `maximum`.
    pub fn new(maximum: usize) -> Arc<Self> {
        let maximum = maximum.max(1);
        let initial = INITIAL_LIMIT.min(maximum);
        Arc::new(Self {
            semaphore: Arc::new(Semaphore::new(initial)),
            state: Mutex::new(LimitState {
                limit: initial as f64,
                granted: initial,
                debt: 0,
                fastest: None,
            }),
            maximum,
        })
    }

    /// Waits for a permit.
    pub async fn acquire(self: &Arc<Self>) -> Result<LimitPermit, AcquireError> {
        let permit = Arc::clone(&self.semaphore).acquire_owned().await?;
        Ok(LimitPermit {
            permit: Some(permit),
            limit: Arc::clone(self),
        })
    }

    /// The current limit (whole permits).
    pub fn current(&self) -> usize {
        self.lock().granted
    }

    fn record(&self, outcome: Outcome) {
        let mut state = self.lock();
        match outcome {
            Outcome::Ignored => return,
            Outcome::Overloaded => state.limit = (state.limit / 2.0).max(1.0),
            Outcome::Answered(latency) => {
                let fastest = *state.fastest.get_or_insert(latency);
                if latency < fastest {
                    state.fastest = Some(latency);
                }
                if latency <= fastest * 2 + LATENCY_SLACK {
                    state.limit = (state.limit + 1.0 / state.limit).min(self.maximum as f64);
                }
            }
        }
        let target = state.limit.floor() as usize;
        if target > state.granted {
            // New permits first pay off any debt.
            let mut added = target - state.granted;
            let paid = added.min(state.debt);
            state.debt -= paid;
            added -= paid;
            state.granted = target;
            if added > 0 {
                self.semaphore.add_permits(added);
            }
        } else if target < state.granted {
            state.debt += state.granted - target;
            state.granted = target;
        }
    }

    /// Whether a released permit should be forgotten, paying the debt.
    fn take_debt(&self) -> bool {
        let mut state = self.lock();
        if state.debt > 0 {
            state.debt -= 1;
            true
        } else {
            false
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LimitState> {
        // Each change is a few assignments; a panic while the state is held
        // cannot leave it worse than a limit slightly off.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl LimitPermit {
    /// Tells the limit how the exchange went.
    pub fn record(&self, outcome: Outcome) {
        self.limit.record(outcome);
    }
}

impl Drop for LimitPermit {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            if self.limit.take_debt() {
                permit.forget();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: Duration = Duration::from_millis(5);

    #[tokio::test]
    async fn the_limit_grows_while_answers_stay_fast_up_to_the_maximum() {
        let limit = AdaptiveLimit::new(40);
        assert_eq!(limit.current(), INITIAL_LIMIT);
        for _ in 0..2_000 {
            limit
                .acquire()
                .await
                .unwrap()
                .record(Outcome::Answered(FAST));
        }
        assert_eq!(limit.current(), 40);
    }

    #[tokio::test]
    async fn overload_halves_the_limit_and_slow_answers_stop_its_growth() {
        let limit = AdaptiveLimit::new(64);
        limit
            .acquire()
            .await
            .unwrap()
            .record(Outcome::Answered(FAST));
        limit.acquire().await.unwrap().record(Outcome::Overloaded);
        assert_eq!(limit.current(), 8);
        for _ in 0..20 {
            limit.acquire().await.unwrap().record(Outcome::Overloaded);
        }
        assert_eq!(limit.current(), 1, "never below one");
        let limit = AdaptiveLimit::new(64);
        limit
            .acquire()
            .await
            .unwrap()
            .record(Outcome::Answered(FAST));
        for _ in 0..2_000 {
            limit
                .acquire()
                .await
                .unwrap()
                .record(Outcome::Answered(FAST * 10 + LATENCY_SLACK));
        }
        assert_eq!(limit.current(), INITIAL_LIMIT);
    }

    #[tokio::test]
    async fn a_smaller_limit_holds_back_requests_once_permits_in_flight_return() {
        let limit = AdaptiveLimit::new(16);
        let held: Vec<LimitPermit> = futures::future::join_all((0..16).map(|_| limit.acquire()))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        held[0].record(Outcome::Overloaded);
        assert_eq!(limit.current(), 8);
        drop(held);
        // Eight permits remain: an eighth can be taken, a ninth cannot.
        let again: Vec<_> = (0..8)
            .map(|_| Arc::clone(&limit.semaphore).try_acquire_owned().unwrap())
            .collect();
        assert!(Arc::clone(&limit.semaphore).try_acquire_owned().is_err());
        drop(again);
    }
}
