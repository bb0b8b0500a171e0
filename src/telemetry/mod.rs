//! What the gateway tells its operator: Prometheus metrics ([`metrics`]).
//!
//! Nothing here reads a credential: the upstream layer hands over the source,
//! the method, the route template and the outcome of each exchange, never
//! its URL or headers.

pub mod metrics;
