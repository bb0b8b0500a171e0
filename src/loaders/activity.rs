//! Loaders for contacts' activities (Winnerr activities, Django-CRM comments
//! and attachments).

use crate::config::LoaderSettings;
use crate::sources::SourceSet;

/// The activity loaders of one request.
pub struct ActivityLoaders {}

impl ActivityLoaders {
    pub fn new(_sources: &SourceSet, _settings: LoaderSettings) -> Self {
        Self {}
    }
}
