//! Test modules of the `all` binary beyond the basics in `all.rs`.

mod kernel;
mod secrets;
mod upstream;
