//! contact-gateway: one GraphQL schema over four real-estate and CRM contact APIs.
//!
//! A tour of the components:
//! - [`sandbox`]: faithful emulators of the four upstreams (Open To Close,
//!   Django-CRM, Winnerr, Spark Platform), served by `contact-gateway sandbox`
//!   and used by the demo, the integration tests and the benchmarks.
//! - [`app`]: the gateway's HTTP application, and [`edge`], its front door:
//!   GraphQL over HTTP, CSRF prevention, CORS and the request limits;
//!   [`graphiql`], the GraphiQL page and its assets, embedded in the binary.
//! - [`auth`]: callers: API keys, principals with their own upstream
//!   credentials, allowed sources and rate limits, and credentials a front
//!   end forwards for its signed-in user.
//! - [`readiness`]: `/readyz`, which waits for each source to answer a
//!   cheap probe once.
//! - [`cli`]: the command line of the `contact-gateway` binary.

/// mimalloc instead of the system allocator: the gateway and the emulators
/// build and drop many small JSON values per request, and glibc's allocator
/// spent a large share of their time in contention and consolidation.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod app;
pub mod auth;
pub mod cache;
pub mod cli;
pub mod concurrency;
pub mod config;
pub mod demo;
pub mod domain;
pub mod edge;
pub mod federation;
pub mod graphiql;
pub mod graphql;
pub mod loaders;
pub mod readiness;
pub mod sandbox;
pub mod sources;
pub mod telemetry;
pub mod upstream;
