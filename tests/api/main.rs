//! The integration-test binary: every test drives real servers over real HTTP
//! on ephemeral loopback ports.

mod browser_graphiql;
mod config_check;
mod gateway_activities;
mod gateway_auth;
mod gateway_cache;
mod gateway_deadline;
mod gateway_djangocrm;
mod gateway_edge;
mod gateway_estimate;
mod gateway_federation;
mod gateway_graphiql;
mod gateway_hostile;
mod gateway_http;
mod gateway_nulls;
mod gateway_opentoclose;
mod gateway_operations;
mod gateway_properties;
mod gateway_retries;
mod gateway_secrets;
mod gateway_spark;
mod gateway_trusted;
mod gateway_winnerr;
mod helpers;
mod http_audit;
mod sandbox_control;
mod sandbox_djangocrm;
mod sandbox_openapi;
mod sandbox_opentoclose;
mod sandbox_spark;
mod sandbox_winnerr;
mod schema;
mod telemetry_metrics;
mod telemetry_traces;
mod tidy;
mod typescript_client;
