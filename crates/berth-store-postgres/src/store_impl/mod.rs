//! The `Store` trait's methods, grouped by area: inherent methods holding their bodies, except
//! memories, which implement `MemoryRecords` directly.

mod documents;
mod events;
mod files;
mod keys;
mod memories;
mod sessions;
mod vaults;

pub(crate) use keys::upsert_key;
