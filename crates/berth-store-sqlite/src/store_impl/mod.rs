//! The storage traits, one file per area: each implements its area's trait over the queries in
//! the crate's area modules.

mod documents;
mod events;
mod files;
mod keys;
mod memories;
mod model_cards;
mod runner;
mod sessions;
mod vaults;
