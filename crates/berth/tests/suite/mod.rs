mod blobs;
mod cli;
mod cluster;
mod recovery;
mod sdk;
mod secrets;
