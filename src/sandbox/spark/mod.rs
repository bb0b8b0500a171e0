//! Emulator of the Spark Platform contacts API (placeholder until its emulator lands).

pub mod filter;

use std::sync::Arc;

use axum::Router;

use super::credentials::Credentials;
use super::people::World;
use super::store::{Resettable, Store};

/// Route templates, relative to the source prefix.
pub const ROUTES: &[&str] = &[];

/// Seeds the data and builds the router.
pub fn build(_world: &World, _credentials: &Credentials) -> (Router, Arc<dyn Resettable>) {
    (
        Router::new().fallback(|| async { axum::http::StatusCode::NOT_FOUND }),
        Arc::new(Store::new(())),
    )
}
