//! Emulators of the four upstream contact APIs: the *sandbox*.
//!
//! The real upstreams cannot be reached from development machines, so the demo,
//! the integration tests and the benchmarks run against these emulators. They
//! follow the seed documents first, the real APIs where the seeds are silent,
//! and our own documented choices where neither settles a question; each
//! emulator's module says which is which.
//!
//! Layout:
//! - [`people`]: the seeded population every emulator draws its records from;
//! - [`store`]: the per-source in-memory store with reset;
//! - [`control`]: request counting, latency and fault injection, `/_sandbox/*`;
//! - [`latency`]: the clock that keeps injected latency precise;
//! - [`timestamps`]: the timestamp forms the emulators render most;
//! - [`openapi`]: an OpenAPI 3 document per emulator, at `<prefix>/openapi.json`;
//! - [`opentoclose`], [`djangocrm`], [`winnerr`], [`spark`]: one emulator each,
//!   served under `/opentoclose`, `/djangocrm`, `/winnerr` and `/spark`.
//!
//! **Architecture Invariant:** the sandbox shares no types or code with the
//! gateway's source adapters. An emulator that reused an adapter's wire types
//! would agree with the adapter's mistakes; the two speak only HTTP and JSON.

pub mod control;
pub mod credentials;
pub mod djangocrm;
pub mod latency;
pub mod openapi;
pub mod opentoclose;
pub mod people;
pub mod rng;
pub mod spark;
pub mod store;
pub mod timestamps;
pub mod winnerr;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

use self::control::{Instrumented, Shared};
pub use self::credentials::Credentials;
use self::people::{SourceName, World};

/// Everything that decides what the sandbox serves.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Seed for all generated data; the same seed always yields the same data.
    pub seed: u64,
    /// Latency every source starts with, in milliseconds.
    pub latency_ms: u64,
    pub credentials: Credentials,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        Self {
            seed: 1,
            latency_ms: 0,
            credentials: Credentials::default(),
        }
    }
}

/// A sandbox bound to a listener, ready to run.
pub struct SandboxServer {
    listener: TcpListener,
    router: Router,
    shutdown_sender: tokio::sync::watch::Sender<bool>,
}

impl SandboxServer {
    /// Seeds the data and binds `address` (port 0 picks a free port).
    pub async fn bind(address: SocketAddr, options: SandboxOptions) -> std::io::Result<Self> {
        let listener = TcpListener::bind(address).await?;
        Ok(Self::from_listener(listener, options))
    }

    /// Seeds the data and serves on an already bound listener.
    pub fn from_listener(listener: TcpListener, options: SandboxOptions) -> Self {
        let (shutdown_sender, shutdown_receiver) = tokio::sync::watch::channel(false);
        let router = build_router(&options, shutdown_receiver);
        Self {
            listener,
            router,
            shutdown_sender,
        }
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let sender = self.shutdown_sender;
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(async move {
                shutdown.await;
                // Releases requests held by the `hang` fault.
                let _ = sender.send(true);
            })
            .await
    }
}

/// The whole sandbox as one router: the four emulators under their prefixes
/// plus `/_sandbox/*`.
fn build_router(options: &SandboxOptions, shutdown: tokio::sync::watch::Receiver<bool>) -> Router {
    let world = World::generate(options.seed);
    let credentials = &options.credentials;
    let (opentoclose_router, opentoclose_store) = opentoclose::build(&world, credentials);
    let (djangocrm_router, djangocrm_store) = djangocrm::build(&world, credentials);
    let (winnerr_router, winnerr_store) = winnerr::build(&world, credentials);
    let (spark_router, spark_store) = spark::build(&world, credentials);
    let shared = Arc::new(Shared::new(
        credentials.clone(),
        options.latency_ms,
        options.seed,
        vec![
            opentoclose_store,
            djangocrm_store,
            winnerr_store,
            spark_store,
        ],
        shutdown,
    ));
    let emulators = [
        (
            SourceName::OpenToClose,
            opentoclose_router,
            opentoclose::ROUTES,
        ),
        (SourceName::DjangoCrm, djangocrm_router, djangocrm::ROUTES),
        (SourceName::Winnerr, winnerr_router, winnerr::ROUTES),
        (SourceName::Spark, spark_router, spark::ROUTES),
    ];
    // The documents are merged before the emulators are nested: their static
    // paths win over the nested prefixes, so they are served without
    // credentials and without passing the request counters.
    let mut router = control::router(shared.clone()).merge(openapi::router());
    for (source, emulator, routes) in emulators {
        let instrumented = emulator.layer(axum::middleware::from_fn_with_state(
            Instrumented {
                shared: shared.clone(),
                source,
                routes,
            },
            control::instrument,
        ));
        router = router.nest(&format!("/{}", source.as_str()), instrumented);
    }
    router
}
