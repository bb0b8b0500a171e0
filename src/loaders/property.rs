//! Loaders for Open To Close properties and property-contact links.

use crate::config::LoaderSettings;
use crate::sources::SourceSet;

/// The property loaders of one request.
pub struct PropertyLoaders {}

impl PropertyLoaders {
    pub fn new(_sources: &SourceSet, _settings: LoaderSettings) -> Self {
        Self {}
    }
}
