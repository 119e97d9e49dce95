//! Memory rows as stored: the columns reads select and how a row becomes a [`MemoryRow`].

use berth_store::MemoryRow;
use rusqlite::Row;

pub(crate) const COLUMNS: &str = "id, tenant_id, store_id, path, content, content_sha256, size_bytes, \
                       version_id, created_at, updated_at";
/// [`COLUMNS`] with the content left out (read as `''`).
pub(crate) const COLUMNS_NO_CONTENT: &str = "id, tenant_id, store_id, path, '', content_sha256, size_bytes, \
                                  version_id, created_at, updated_at";

pub(crate) fn memory(row: &Row<'_>) -> rusqlite::Result<MemoryRow> {
    Ok(MemoryRow {
        id: row.get(0)?,
        tenant_id: row.get(1)?,
        store_id: row.get(2)?,
        path: row.get(3)?,
        content: row.get(4)?,
        content_sha256: row.get(5)?,
        size_bytes: row.get(6)?,
        version_id: row.get(7)?,
        created_at: row.get(8)?,
        updated_at: row.get(9)?,
    })
}
