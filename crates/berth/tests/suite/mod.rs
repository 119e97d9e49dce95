mod cli;
mod sdk;
