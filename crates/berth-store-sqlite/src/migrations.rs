//! Schema migrations, embedded in the binary and applied in order at start-up.

use berth_store::StoreResult;
use rusqlite::Connection;

use crate::pool::backend;

/// Every migration, in order. Never edit one that has shipped; add a new one.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/0001_init.sql")),
    (
        2,
        "sessions",
        include_str!("../migrations/0002_sessions.sql"),
    ),
    (
        3,
        "model_cards",
        include_str!("../migrations/0003_model_cards.sql"),
    ),
    (
        4,
        "files_and_skills",
        include_str!("../migrations/0004_files_and_skills.sql"),
    ),
    (5, "vaults", include_str!("../migrations/0005_vaults.sql")),
    (6, "memory", include_str!("../migrations/0006_memory.sql")),
    (
        7,
        "memory search",
        include_str!("../migrations/0007_memory_search.sql"),
    ),
    (
        8,
        "security",
        include_str!("../migrations/0008_security.sql"),
    ),
    (
        9,
        "session memory stores",
        include_str!("../migrations/0009_session_memory_stores.sql"),
    ),
    (
        10,
        "model card key preview",
        include_str!("../migrations/0010_model_card_key_preview.sql"),
    ),
    (
        11,
        "model card defaults",
        include_str!("../migrations/0011_model_card_defaults.sql"),
    ),
];

/// Applies every migration the database has not seen yet; returns how many ran.
pub fn migrate(conn: &mut Connection) -> StoreResult<usize> {
    migrate_to(conn, i64::MAX)
}

/// Applies the unseen migrations up to and including `last`.
fn migrate_to(conn: &mut Connection, last: i64) -> StoreResult<usize> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             name       TEXT NOT NULL,
             applied_at INTEGER NOT NULL
         )",
    )
    .map_err(backend)?;
    let current: i64 = conn
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |row| row.get(0),
        )
        .map_err(backend)?;
    let newest = MIGRATIONS.last().map_or(0, |m| m.0);
    if current > newest {
        return Err(berth_store::StoreError::Corrupt(format!(
            "the database is at schema version {current}, newer than this build knows ({newest}); \
             run a newer berth"
        )));
    }
    let mut applied = 0;
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current && m.0 <= last) {
        let tx = conn.transaction().map_err(backend)?;
        tx.execute_batch(sql).map_err(backend)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, strftime('%s','now'))",
            rusqlite::params![version, name],
        )
        .map_err(backend)?;
        tx.commit().map_err(backend)?;
        tracing::info!(version, name, "applied SQLite migration");
        applied += 1;
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_stored_before_the_relation_table_get_their_memory_stores() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, 8).unwrap();
        conn.execute(
            "INSERT INTO tenants (id, name, created_at) VALUES ('t', 't', 0)",
            [],
        )
        .unwrap();
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
            conn.execute(
                "INSERT INTO sessions (id, tenant_id, agent_id, agent_version, environment_id,
                     status, version, body, created_at, updated_at)
                 VALUES (?1, 't', 'a', 1, 'e', 'idle', 1, ?2, 0, 0)",
                rusqlite::params![id, body(resources)],
            )
            .unwrap();
        }
        assert_eq!(migrate(&mut conn).unwrap(), MIGRATIONS.len() - 8);
        let mut rows: Vec<(String, String)> = conn
            .prepare("SELECT session_id, memory_store_id FROM session_memory_stores")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows.sort();
        assert_eq!(
            rows,
            vec![
                ("sesn_1".to_owned(), "memstore_a".to_owned()),
                ("sesn_1".to_owned(), "memstore_b".to_owned()),
            ]
        );
    }

    #[test]
    fn model_card_previews_lose_their_ellipsis() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, 9).unwrap();
        conn.execute(
            "INSERT INTO tenants (id, name, created_at) VALUES ('t', 't', 0)",
            [],
        )
        .unwrap();
        let body = r#"{"id":"mdl_1","model_id":"m","provider":"ant","api_key_preview":"…WXYZ","custom_headers":{"x":"…abcd"}}"#;
        conn.execute(
            "INSERT INTO model_cards (id, tenant_id, model_id, provider, version, created_at,
                 updated_at, body, sealed)
             VALUES ('mdl_1', 't', 'm', 'ant', 1, 0, 0, ?1, x'00')",
            rusqlite::params![body],
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let migrated: String = conn
            .query_row("SELECT body FROM model_cards", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            migrated,
            r#"{"id":"mdl_1","model_id":"m","provider":"ant","api_key_preview":"WXYZ","custom_headers":{"x":"…abcd"}}"#
        );
    }
}
