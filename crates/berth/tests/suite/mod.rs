mod blobs;
mod cli;
mod recovery;
mod sdk;
mod secrets;
