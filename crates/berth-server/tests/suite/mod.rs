mod agents;
mod conventions;
mod environments;
mod openapi;
mod startup;
mod tenants;
