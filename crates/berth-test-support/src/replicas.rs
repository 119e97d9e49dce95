//! Several servers on one fresh PostgreSQL schema, as replicas behind a load balancer would be:
//! same database, same root secret and admin key, a data directory each.

use berth_server::ServerConfig;

use crate::server::{TestServer, spawn_server_with};

/// A root secret every replica of a test shares (64 hex characters).
const SHARED_ROOT_SECRET: &str = "5f0c3a9b7e1d2c4f6a8b0d2e4f6a8c0e1b3d5f7a9c0e2b4d6f8a0c2e4b6d8f0a";

/// `count` replicas on one fresh schema, or `None` when no test database is configured.
pub async fn spawn_replicas(
    count: usize,
    configure: impl Fn(&mut ServerConfig),
) -> Option<Vec<TestServer>> {
    let options = berth_store_postgres::testing::fresh_schema().await?;
    let schema = options.schema.clone().unwrap_or_default();
    let separator = if options.url.contains('?') { '&' } else { '?' };
    let url = format!(
        "{}{separator}options=-c%20search_path%3D{schema}",
        options.url
    );
    let mut replicas = Vec::with_capacity(count);
    for _ in 0..count {
        let url = url.clone();
        replicas.push(
            spawn_server_with(|config| {
                config.database_url = Some(url);
                config.db_max_connections = 8;
                config.root_secret = Some(SHARED_ROOT_SECRET.to_owned());
                configure(config);
            })
            .await,
        );
    }
    Some(replicas)
}
