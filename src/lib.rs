//! contact-gateway: one GraphQL schema over four real-estate and CRM contact APIs.
//!
//! A tour of the components:
//! - [`sandbox`]: faithful emulators of the four upstreams (Open To Close,
//!   Django-CRM, Winnerr, Spark Platform), served by `contact-gateway sandbox`
//!   and used by the demo, the integration tests and the benchmarks.
//! - [`cli`]: the command line of the `contact-gateway` binary.

pub mod app;
pub mod cli;
pub mod config;
pub mod demo;
pub mod domain;
pub mod federation;
pub mod graphql;
pub mod loaders;
pub mod sandbox;
pub mod sources;
pub mod upstream;
