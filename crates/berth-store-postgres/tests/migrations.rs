//! Migrations applied to data an older schema holds (skips locally without
//! `BERTH_TEST_DATABASE_URL`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use berth_store::{SessionQuery, SessionRecords};
use berth_store_postgres::{PostgresOptions, PostgresStore, testing};

/// A fresh schema migrated up to `version`, holding tenant `t`; `None` without a database.
async fn schema_with_tenant_at(version: i64) -> Option<(PostgresOptions, deadpool_postgres::Pool)> {
    let options = testing::fresh_schema().await?;
    let pool = testing::migrated_to(&options, version).await.unwrap();
    pool.get()
        .await
        .unwrap()
        .execute(
            "INSERT INTO tenants (id, name, created_at) VALUES ('t', 't', 0)",
            &[],
        )
        .await
        .unwrap();
    Some((options, pool))
}

#[tokio::test]
#[cfg_attr(
    berth_no_postgres,
    ignore = "needs PostgreSQL: set BERTH_TEST_DATABASE_URL"
)]
async fn sessions_stored_before_the_relation_table_get_their_memory_stores() {
    let Some((options, pool)) = schema_with_tenant_at(8).await else {
        return;
    };
    let client = pool.get().await.unwrap();
    let body = |resources: &str| {
        format!(
            r#"{{"id":"x","title":"\"memory_store_id\":\"memstore_z\"","resources":{resources}}}"#
        )
    };
    for (id, resources) in [
        (
            "sesn_1",
            r#"[{"type":"memory_store","id":"r1","memory_store_id":"memstore_a"},
                {"type":"file","id":"r2","file_id":"file_1"},
                {"type":"memory_store","id":"r3","memory_store_id":"memstore_b"}]"#,
        ),
        ("sesn_2", "[]"),
        ("sesn_3", "null"),
    ] {
        client
            .execute(
                "INSERT INTO sessions (id, tenant_id, agent_id, agent_version, environment_id,
                     status, version, body, created_at, updated_at)
                 VALUES ($1, 't', 'a', 1, 'e', 'idle', 1, $2, 0, 0)",
                &[&id, &body(resources)],
            )
            .await
            .unwrap();
    }
    drop(client);

    let store = PostgresStore::open(&options).await.unwrap();
    let listed = |id: &str| SessionQuery {
        limit: 10,
        memory_store_id: Some(id.to_owned()),
        ..Default::default()
    };
    let ids =
        |rows: Vec<berth_store::SessionRow>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store
            .list_sessions("t", &listed("memstore_a"))
            .await
            .unwrap()),
        vec!["sesn_1".to_owned()]
    );
    assert_eq!(
        ids(store
            .list_sessions("t", &listed("memstore_b"))
            .await
            .unwrap()),
        vec!["sesn_1".to_owned()]
    );
    assert_eq!(
        store
            .list_sessions("t", &listed("memstore_z"))
            .await
            .unwrap(),
        vec![]
    );
}

#[tokio::test]
#[cfg_attr(
    berth_no_postgres,
    ignore = "needs PostgreSQL: set BERTH_TEST_DATABASE_URL"
)]
async fn model_card_previews_lose_their_ellipsis() {
    let Some((options, pool)) = schema_with_tenant_at(9).await else {
        return;
    };
    let client = pool.get().await.unwrap();
    let body = r#"{"id":"mdl_1","model_id":"m","provider":"ant","api_key_preview":"…WXYZ","custom_headers":{"x":"…abcd"}}"#;
    client
        .execute(
            "INSERT INTO model_cards (id, tenant_id, model_id, provider, version, created_at,
                 updated_at, body, sealed)
             VALUES ('mdl_1', 't', 'm', 'ant', 1, 0, 0, $1, '\\x00')",
            &[&body],
        )
        .await
        .unwrap();
    drop(client);
    let pool = testing::migrated_to(&options, i64::MAX).await.unwrap();
    let migrated: String = pool
        .get()
        .await
        .unwrap()
        .query_one("SELECT body FROM model_cards", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        migrated,
        r#"{"id":"mdl_1","model_id":"m","provider":"ant","api_key_preview":"WXYZ","custom_headers":{"x":"…abcd"}}"#
    );
}
