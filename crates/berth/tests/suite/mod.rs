mod cli;
mod recovery;
mod sdk;
