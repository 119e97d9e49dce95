//! Row decoding and the dynamic parts of list queries.

use berth_store::{ApiKeyRow, Document, DocumentQuery, SortOrder, TenantRow};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

pub type Param = Box<dyn ToSql + Sync + Send>;

pub const DOC_COLUMNS: &str = "id, tenant_id, version, created_at, updated_at, archived_at, body";
pub const KEY_COLUMNS: &str =
    "id, tenant_id, name, prefix, hash, is_admin, source, created_at, last_used_at";

pub fn document(row: &Row) -> Document {
    Document {
        id: row.get(0),
        tenant_id: row.get(1),
        version: row.get(2),
        created_at: row.get(3),
        updated_at: row.get(4),
        archived_at: row.get(5),
        body: row.get(6),
    }
}

pub fn api_key(row: &Row) -> ApiKeyRow {
    ApiKeyRow {
        id: row.get(0),
        tenant_id: row.get(1),
        name: row.get(2),
        prefix: row.get(3),
        hash: row.get(4),
        is_admin: row.get(5),
        source: row.get(6),
        created_at: row.get(7),
        last_used_at: row.get(8),
    }
}

pub fn tenant(row: &Row) -> TenantRow {
    TenantRow {
        id: row.get(0),
        name: row.get(1),
        created_at: row.get(2),
    }
}

/// Appends archive, creation-time and cursor conditions plus ORDER/LIMIT, binding in order.
/// `numeric_key` says whether the cursor is a number (versions) rather than an id.
pub fn push_filters(
    sql: &mut String,
    params: &mut Vec<Param>,
    query: &DocumentQuery,
    key: &str,
    numeric_key: bool,
    has_archive_column: bool,
) {
    if has_archive_column && query.only_archived {
        sql.push_str(" AND archived_at IS NOT NULL");
    } else if has_archive_column && !query.include_archived {
        sql.push_str(" AND archived_at IS NULL");
    }
    if let Some(from) = query.created_from {
        params.push(Box::new(from));
        sql.push_str(&format!(" AND created_at >= ${}", params.len()));
    }
    if let Some(until) = query.created_until {
        params.push(Box::new(until));
        sql.push_str(&format!(" AND created_at < ${}", params.len()));
    }
    let (cmp, order) = match query.order {
        SortOrder::Asc => (">", "ASC"),
        SortOrder::Desc => ("<", "DESC"),
    };
    if let Some(after) = &query.after {
        if numeric_key {
            params.push(Box::new(after.parse::<i64>().unwrap_or(0)));
        } else {
            params.push(Box::new(after.clone()));
        }
        sql.push_str(&format!(" AND {key} {cmp} ${}", params.len()));
    }
    sql.push_str(&format!(" ORDER BY {key} {order} LIMIT {}", query.limit));
}

pub fn refs(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect()
}
