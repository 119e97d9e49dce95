//! Integration tests: a real server on 127.0.0.1:0 driven over HTTP, on SQLite and (when
//! `BERTH_TEST_DATABASE_URL` is set) on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

/// Runs each listed `async fn(&TestServer)` once on SQLite and once on PostgreSQL.
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let server = berth_test_support::spawn_server().await;
                    super::$case(&server).await;
                    server.stop().await;
                }
            )*
        }
        mod postgres {
            $(
                #[cfg_attr(berth_no_postgres, ignore = "needs PostgreSQL: set BERTH_TEST_DATABASE_URL")]
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(server) = berth_test_support::spawn_postgres_server().await else {
                        return;
                    };
                    super::$case(&server).await;
                    server.stop().await;
                }
            )*
        }
    };
}

/// Runs each listed `async fn(&TestServer, &FakeModel)` on both backends, with the server's
/// default model provider pointed at a fresh fake.
macro_rules! on_both_backends_with_model {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let model = berth_test_support::FakeModel::start().await;
                    let base = model.base_url.clone();
                    let server = berth_test_support::spawn_server_with(|c| {
                        berth_test_support::with_model(c, &base);
                        c.sse_keepalive = std::time::Duration::from_millis(300);
                    })
                    .await;
                    super::$case(&server, &model).await;
                    server.stop().await;
                }
            )*
        }
        mod postgres {
            $(
                #[cfg_attr(berth_no_postgres, ignore = "needs PostgreSQL: set BERTH_TEST_DATABASE_URL")]
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let model = berth_test_support::FakeModel::start().await;
                    let base = model.base_url.clone();
                    let Some(server) = berth_test_support::spawn_postgres_server_with(|c| {
                        berth_test_support::with_model(c, &base);
                        c.sse_keepalive = std::time::Duration::from_millis(300);
                    })
                    .await
                    else {
                        return;
                    };
                    super::$case(&server, &model).await;
                    server.stop().await;
                }
            )*
        }
    };
}

mod suite;
