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

mod suite;
