mod cli;
mod recovery;
mod sdk;
mod secrets;
