//! The in-memory store each emulator keeps its records in.
//!
//! One lock per source makes every operation linearizable: a write that has
//! returned is visible to every later read, whichever connection sends it. The
//! lock is never held across an `.await`, so a plain `std` lock is right here.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Something the sandbox can put back into its seeded state.
pub trait Resettable: Send + Sync {
    /// Discards every change since seeding.
    fn reset(&self);
}

/// A source's data plus the seeded copy that `reset` restores.
#[derive(Debug)]
pub struct Store<T> {
    seeded: T,
    live: RwLock<T>,
}

impl<T: Clone> Store<T> {
    /// Wraps freshly seeded data.
    pub fn new(seeded: T) -> Self {
        let live = RwLock::new(seeded.clone());
        Self { seeded, live }
    }

    /// Shared access for reads.
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        // A panic while holding the lock cannot leave half-written records that
        // matter to an emulator, so a poisoned lock is simply taken over.
        self.live
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Exclusive access for writes.
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.live
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<T: Clone + Send + Sync> Resettable for Store<T> {
    fn reset(&self) {
        *self.write() = self.seeded.clone();
    }
}
