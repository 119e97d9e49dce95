//! The tests, one module per tool group; the shared fixture lives in the crate root.

mod bash;
mod files;
mod router;
mod search;
mod web;
