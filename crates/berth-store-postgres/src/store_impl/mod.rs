//! Inherent methods holding the bodies of the `Store` trait methods, grouped by area.

mod documents;
mod events;
mod files;
mod keys;
mod memories;
mod sessions;
mod vaults;

pub(crate) use keys::upsert_key;
