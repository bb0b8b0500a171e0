//! Emulated network latency, kept to within a fraction of a millisecond.
//!
//! Tokio's timer counts whole milliseconds, and a `sleep` ends on the first
//! tick after its deadline, with the poller's own rounding on top. A 5 ms
//! `sleep` takes 6 to 7 ms in practice, a third more than the latency asked
//! for, and that error adds up along every chain of dependent requests. The
//! sandbox therefore waits on [`Clock`] instead. One thread, started on first
//! use, parks on a condition variable until the earliest deadline (the
//! kernel's high-resolution timers) and wakes each due request through a
//! oneshot channel.
//!
//! Waking is not instant either: the kernel ends a timed wait 0.15 to 0.5 ms
//! late on a virtual machine, and the tokio worker that resumes the request
//! takes its own time to be scheduled. The clock therefore learns how late
//! its wake-ups arrive (a moving average, capped at half a millisecond),
//! wakes each request that much ahead of its deadline, and the request
//! covers what is left by yielding to the other tasks of its worker until
//! the deadline has passed. A wait still never ends before its deadline.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// Waits until an instant. Dropping the clock stops its thread and releases
/// every request still waiting.
#[derive(Default)]
pub struct Clock {
    inner: OnceLock<Arc<Inner>>,
}

#[derive(Default)]
struct Inner {
    queue: Mutex<Queue>,
    changed: Condvar,
    /// How far ahead of its deadline a request is woken, in nanoseconds: a
    /// moving average of how late wake-ups have arrived.
    lead_nanos: AtomicU64,
}

/// The lead never grows past this, whatever the machine does: a request
/// woken early yields on its worker until its deadline, and a busy moment
/// must not turn into every later request doing so for long.
const MAX_LEAD: Duration = Duration::from_micros(500);

impl Inner {
    fn lead(&self) -> Duration {
        Duration::from_nanos(self.lead_nanos.load(AtomicOrdering::Relaxed))
    }

    /// Folds one wake-up that arrived `late` after it was due into the lead,
    /// with weight 1/8.
    fn learn(&self, late: Duration) {
        let late = late.min(MAX_LEAD).as_nanos() as u64;
        let lead = self.lead_nanos.load(AtomicOrdering::Relaxed);
        let next = lead - lead / 8 + late / 8;
        self.lead_nanos.store(next, AtomicOrdering::Relaxed);
    }
}

#[derive(Default)]
struct Queue {
    waiting: BinaryHeap<Waiting>,
    /// Breaks ties between equal deadlines, oldest first.
    next_seq: u64,
    closed: bool,
}

struct Waiting {
    /// When to wake the request: its deadline less the lead.
    wake_at: Instant,
    seq: u64,
    done: oneshot::Sender<()>,
}

impl Clock {
    /// Returns at `deadline` (or at once when it has passed). Cancel-safe:
    /// dropping the future forgets the wait.
    pub async fn sleep_until(&self, deadline: Instant) {
        if deadline <= Instant::now() {
            return;
        }
        let inner = self.inner.get_or_init(start);
        let wake_at = deadline.checked_sub(inner.lead()).unwrap_or(deadline);
        let (done, wait) = oneshot::channel();
        {
            let mut queue = lock(&inner.queue);
            if queue.closed {
                return;
            }
            let earliest = queue
                .waiting
                .peek()
                .is_none_or(|first| wake_at < first.wake_at);
            let seq = queue.next_seq;
            queue.next_seq += 1;
            queue.waiting.push(Waiting { wake_at, seq, done });
            if earliest {
                inner.changed.notify_one();
            }
        }
        if wait.await.is_err() {
            // The clock was dropped: stop waiting.
            return;
        }
        let woke = Instant::now();
        inner.learn(woke.saturating_duration_since(wake_at));
        // The last stretch, usually tens of microseconds: other tasks of
        // this worker run in between.
        while Instant::now() < deadline {
            tokio::task::yield_now().await;
        }
    }
}

impl Clock {
    /// Stops the thread and releases every waiting request.
    fn close(&self) {
        if let Some(inner) = self.inner.get() {
            lock(&inner.queue).closed = true;
            inner.changed.notify_one();
        }
    }
}

impl Drop for Clock {
    fn drop(&mut self) {
        self.close();
    }
}

fn start() -> Arc<Inner> {
    let inner = Arc::new(Inner::default());
    let shared = Arc::clone(&inner);
    let spawned = std::thread::Builder::new()
        .name("sandbox-clock".to_string())
        .spawn(move || run(&shared));
    if spawned.is_err() {
        // Without its thread the clock cannot wake anyone: close it so that
        // requests go on without the delay rather than wait forever.
        lock(&inner.queue).closed = true;
    }
    inner
}

fn run(inner: &Inner) {
    let mut queue = lock(&inner.queue);
    loop {
        let now = Instant::now();
        while queue
            .waiting
            .peek()
            .is_some_and(|first| first.wake_at <= now)
        {
            if let Some(due) = queue.waiting.pop() {
                // The request may have gone away; nothing to do then.
                let _ = due.done.send(());
            }
        }
        if queue.closed {
            // Dropping the senders releases whoever still waits.
            queue.waiting.clear();
            return;
        }
        queue = match queue.waiting.peek().map(|first| first.wake_at - now) {
            Some(timeout) => {
                inner
                    .changed
                    .wait_timeout(queue, timeout)
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .0
            }
            None => inner
                .changed
                .wait(queue)
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        };
    }
}

fn lock(mutex: &Mutex<Queue>) -> MutexGuard<'_, Queue> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

// `BinaryHeap` is a max-heap: the earliest wake-up must compare greatest.
impl Ord for Waiting {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.wake_at, other.seq).cmp(&(self.wake_at, self.seq))
    }
}

impl PartialOrd for Waiting {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Waiting {
    fn eq(&self, other: &Self) -> bool {
        (self.wake_at, self.seq) == (other.wake_at, other.seq)
    }
}

impl Eq for Waiting {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lead_follows_how_late_wake_ups_arrive_up_to_a_cap() {
        let inner = Inner::default();
        for _ in 0..200 {
            inner.learn(Duration::from_micros(200));
        }
        let lead = inner.lead();
        assert!(
            lead > Duration::from_micros(190) && lead <= Duration::from_micros(200),
            "{lead:?}"
        );
        for _ in 0..200 {
            inner.learn(Duration::from_secs(1));
        }
        assert!(inner.lead() <= MAX_LEAD);
        assert!(inner.lead() > MAX_LEAD / 2);
    }

    #[tokio::test]
    async fn a_wait_never_ends_before_its_deadline() {
        let clock = Clock::default();
        for millis in [1, 3, 5] {
            let deadline = Instant::now() + Duration::from_millis(millis);
            clock.sleep_until(deadline).await;
            assert!(Instant::now() >= deadline);
        }
    }

    #[tokio::test]
    async fn waits_end_in_deadline_order_whatever_the_order_they_began_in() {
        let clock = Arc::new(Clock::default());
        let start = Instant::now();
        let (order, mut ended) = tokio::sync::mpsc::unbounded_channel();
        let mut tasks = Vec::new();
        for (label, millis) in [("c", 9u64), ("a", 3), ("b", 6)] {
            let (clock, order) = (Arc::clone(&clock), order.clone());
            tasks.push(tokio::spawn(async move {
                clock
                    .sleep_until(start + Duration::from_millis(millis))
                    .await;
                order.send(label).expect("receiver alive");
            }));
        }
        for task in tasks {
            task.await.expect("no panic");
        }
        drop(order);
        let mut seen = Vec::new();
        while let Some(label) = ended.recv().await {
            seen.push(label);
        }
        assert_eq!(seen, ["a", "b", "c"]);
    }

    #[tokio::test]
    async fn a_past_deadline_returns_at_once_without_starting_the_thread() {
        let clock = Clock::default();
        clock.sleep_until(Instant::now()).await;
        assert!(clock.inner.get().is_none());
    }

    #[tokio::test]
    async fn closing_the_clock_releases_waiting_requests() {
        let clock = Clock::default();
        let mut waiting =
            std::pin::pin!(clock.sleep_until(Instant::now() + Duration::from_secs(3600)));
        assert!(futures::poll!(waiting.as_mut()).is_pending());
        clock.close();
        tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("released well before the hour");
    }
}
