//! `/readyz`: ready once every configured source has answered a cheap probe
//! (`Source::probe`, a list of one record) with the gateway's own
//! credentials. A load balancer then sends no traffic to a gateway whose
//! upstreams it cannot reach, or that holds a credential they refuse, and
//! the operator reads in `/readyz` and in the log which source it waits for.
//!
//! At start one task per source probes it, and, while the source does not
//! answer, again after `[readiness] probe_interval_ms`. A source that has
//! answered once stays ready: later failures are each request's to report.
//! The tasks end with the gateway (they hold it weakly) or when every
//! source has answered.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::config::ReadinessSettings;
use crate::domain::SourceKind;
use crate::sources::Source;

/// What `/readyz` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadinessState {
    /// Every configured source answered its probe (or probes are off).
    Ready,
    /// No source is configured.
    NoSources,
    /// These sources have not answered yet, with the latest reason.
    Waiting(BTreeMap<SourceKind, String>),
}

/// The sources that have not answered their probe yet.
pub struct Readiness {
    sources: usize,
    waiting: Mutex<BTreeMap<SourceKind, String>>,
    changed: tokio::sync::watch::Sender<()>,
}

impl Readiness {
    /// Starts probing `sources` (when `settings.probe`); must be called
    /// inside a tokio runtime.
    pub fn start(sources: &[Arc<dyn Source>], settings: ReadinessSettings) -> Arc<Readiness> {
        let waiting = if settings.probe {
            sources
                .iter()
                .map(|source| (source.kind(), "no answer yet".to_string()))
                .collect()
        } else {
            BTreeMap::new()
        };
        let readiness = Arc::new(Readiness {
            sources: sources.len(),
            waiting: Mutex::new(waiting),
            changed: tokio::sync::watch::channel(()).0,
        });
        if settings.probe {
            let interval = Duration::from_millis(settings.probe_interval_ms.max(1));
            for source in sources {
                tokio::spawn(probe_until_answered(
                    Arc::clone(source),
                    Arc::downgrade(&readiness),
                    interval,
                ));
            }
        }
        readiness
    }

    /// What `/readyz` reports now.
    pub fn state(&self) -> ReadinessState {
        if self.sources == 0 {
            return ReadinessState::NoSources;
        }
        let waiting = self.lock();
        if waiting.is_empty() {
            ReadinessState::Ready
        } else {
            ReadinessState::Waiting(waiting.clone())
        }
    }

    /// Waits until the state is no longer `Waiting` (for tests and for
    /// callers that must not start before the upstreams answer).
    pub async fn ready(&self) -> ReadinessState {
        let mut state = self.state();
        while matches!(state, ReadinessState::Waiting(_)) {
            state = self.changed_from(&state).await;
        }
        state
    }

    /// Waits until the state differs from `seen`.
    pub async fn changed_from(&self, seen: &ReadinessState) -> ReadinessState {
        let mut changed = self.changed.subscribe();
        loop {
            let state = self.state();
            if &state != seen {
                return state;
            }
            let _ = changed.changed().await;
        }
    }

    fn record(&self, source: SourceKind, outcome: Result<(), String>) {
        {
            let mut waiting = self.lock();
            match outcome {
                Ok(()) => {
                    waiting.remove(&source);
                }
                Err(reason) => {
                    waiting.insert(source, reason);
                }
            }
        }
        self.changed.send_replace(());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<SourceKind, String>> {
        // Each change is one insert or remove; a panic while the map is
        // held cannot leave it half-written.
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl ReadinessState {
    /// The body of `/readyz`.
    pub fn describe(&self) -> String {
        match self {
            ReadinessState::Ready => "ready".to_string(),
            ReadinessState::NoSources => "not ready: no source is configured".to_string(),
            ReadinessState::Waiting(waiting) => {
                let sources: Vec<String> = waiting
                    .iter()
                    .map(|(source, reason)| format!("{source} ({reason})"))
                    .collect();
                format!(
                    "not ready: no answer to the start-up probe yet from {}",
                    sources.join(", ")
                )
            }
        }
    }
}

async fn probe_until_answered(
    source: Arc<dyn Source>,
    readiness: Weak<Readiness>,
    every: Duration,
) {
    let kind = source.kind();
    loop {
        let outcome = source.probe().await;
        let Some(readiness) = readiness.upgrade() else {
            return;
        };
        match outcome {
            Ok(()) => {
                tracing::info!(
                    source = kind.as_str(),
                    "source answered its readiness probe"
                );
                readiness.record(kind, Ok(()));
                return;
            }
            Err(error) => {
                // Source errors never hold a credential (see `sources`).
                tracing::warn!(
                    source = kind.as_str(),
                    error = %error,
                    "source did not answer its readiness probe; probing again"
                );
                readiness.record(kind, Err(error.to_string()));
            }
        }
        drop(readiness);
        tokio::time::sleep(every).await;
    }
}
