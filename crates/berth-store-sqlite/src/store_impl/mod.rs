//! Inherent methods holding the bodies of the `Store` trait methods, grouped by area.

mod documents;
mod events;
mod files;
mod keys;
mod memories;
mod model_cards;
mod sessions;
mod vaults;
