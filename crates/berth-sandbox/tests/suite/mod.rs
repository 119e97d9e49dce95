//! Test modules of the `all` binary beyond the basics in `all.rs`.

mod secrets;
mod upstream;
