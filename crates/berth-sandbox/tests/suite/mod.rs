//! Test modules of the `all` binary beyond the basics in `all.rs`.

mod kernel;
mod network;
mod secrets;
mod upstream;
