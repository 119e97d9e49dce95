//! Files and skills.

use berth_store::{DocumentQuery, FileQuery, FileRow, SkillRow, SkillVersionRow, StoreResult};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use crate::connect::pg;
use crate::rows::{Param, push_filters, refs};

const FILE_COLUMNS: &str =
    "id, tenant_id, scope_id, output_path, created_at, expires_at, size_bytes, body";

fn file(row: &Row) -> FileRow {
    FileRow {
        id: row.get(0),
        tenant_id: row.get(1),
        scope_id: row.get(2),
        output_path: row.get(3),
        created_at: row.get(4),
        expires_at: row.get(5),
        size_bytes: row.get(6),
        body: row.get(7),
    }
}

pub async fn insert_file<C: GenericClient>(client: &C, f: &FileRow) -> StoreResult<()> {
    client
        .execute(
            &format!("INSERT INTO files ({FILE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"),
            &[
                &f.id,
                &f.tenant_id,
                &f.scope_id,
                &f.output_path,
                &f.created_at,
                &f.expires_at,
                &f.size_bytes,
                &f.body,
            ],
        )
        .await
        .map_err(pg)?;
    Ok(())
}

pub async fn get_file<C: GenericClient>(
    client: &C,
    tenant_id: &str,
    id: &str,
    now: i64,
) -> StoreResult<Option<FileRow>> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE id = $1 AND tenant_id = $2
                 AND (expires_at IS NULL OR expires_at > $3)"
        ))
        .await
        .map_err(pg)?;
    Ok(client
        .query_opt(&stmt, &[&id, &tenant_id, &now])
        .await
        .map_err(pg)?
        .as_ref()
        .map(file))
}

pub async fn list_files<C: GenericClient>(
    client: &C,
    tenant_id: &str,
    query: &FileQuery,
    now: i64,
) -> StoreResult<Vec<FileRow>> {
    let mut sql = format!(
        "SELECT {FILE_COLUMNS} FROM files WHERE tenant_id = $1 AND (expires_at IS NULL OR expires_at > $2)"
    );
    let mut params: Vec<Param> = vec![Box::new(tenant_id.to_owned()), Box::new(now)];
    if let Some(scope) = &query.scope_id {
        params.push(Box::new(scope.clone()));
        sql.push_str(&format!(" AND scope_id = ${}", params.len()));
    }
    if let Some(ids) = &query.ids {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        params.push(Box::new(ids.clone()));
        sql.push_str(&format!(" AND id = ANY(${})", params.len()));
    }
    push_filters(&mut sql, &mut params, &query.page, "id", false, false);
    let rows = client.query(&sql, &refs(&params)).await.map_err(pg)?;
    Ok(rows.iter().map(file).collect())
}

pub async fn scoped_files<C: GenericClient>(
    client: &C,
    tenant_id: &str,
    scope_id: &str,
) -> StoreResult<Vec<FileRow>> {
    let rows = client
        .query(
            &format!("SELECT {FILE_COLUMNS} FROM files WHERE tenant_id = $1 AND scope_id = $2 ORDER BY id"),
            &[&tenant_id, &scope_id],
        )
        .await
        .map_err(pg)?;
    Ok(rows.iter().map(file).collect())
}

pub async fn replace_file<C: GenericClient>(client: &C, f: &FileRow) -> StoreResult<bool> {
    let n = client
        .execute(
            "UPDATE files SET scope_id = $3, output_path = $4, created_at = $5, expires_at = $6,
                 size_bytes = $7, body = $8
             WHERE id = $1 AND tenant_id = $2",
            &[
                &f.id,
                &f.tenant_id,
                &f.scope_id,
                &f.output_path,
                &f.created_at,
                &f.expires_at,
                &f.size_bytes,
                &f.body,
            ],
        )
        .await
        .map_err(pg)?;
    Ok(n > 0)
}

pub async fn delete_file<C: GenericClient>(
    client: &C,
    tenant_id: &str,
    id: &str,
) -> StoreResult<bool> {
    let n = client
        .execute(
            "DELETE FROM files WHERE id = $1 AND tenant_id = $2",
            &[&id, &tenant_id],
        )
        .await
        .map_err(pg)?;
    Ok(n > 0)
}

pub async fn expired_files<C: GenericClient>(
    client: &C,
    now: i64,
    limit: u32,
) -> StoreResult<Vec<FileRow>> {
    let rows = client
        .query(
            &format!(
                "SELECT {FILE_COLUMNS} FROM files WHERE expires_at IS NOT NULL AND expires_at <= $1
                 ORDER BY expires_at LIMIT {limit}"
            ),
            &[&now],
        )
        .await
        .map_err(pg)?;
    Ok(rows.iter().map(file).collect())
}

// ------------------------------------------------------------------ skills

const SKILL_COLUMNS: &str = "id, tenant_id, name, created_at, updated_at, version, body";
const VERSION_COLUMNS: &str = "skill_id, id, tenant_id, created_at, body, manifest";

fn skill(row: &Row) -> SkillRow {
    SkillRow {
        id: row.get(0),
        tenant_id: row.get(1),
        name: row.get(2),
        created_at: row.get(3),
        updated_at: row.get(4),
        version: row.get(5),
        body: row.get(6),
    }
}

fn skill_version(row: &Row) -> SkillVersionRow {
    SkillVersionRow {
        skill_id: row.get(0),
        id: row.get(1),
        tenant_id: row.get(2),
        created_at: row.get(3),
        body: row.get(4),
        manifest: row.get(5),
    }
}

async fn insert_version<C: GenericClient>(client: &C, v: &SkillVersionRow) -> StoreResult<()> {
    client
        .execute(
            &format!(
                "INSERT INTO skill_versions ({VERSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
            ),
            &[
                &v.skill_id,
                &v.id,
                &v.tenant_id,
                &v.created_at,
                &v.body,
                &v.manifest,
            ],
        )
        .await
        .map_err(pg)?;
    Ok(())
}

async fn update_skill<C: GenericClient>(
    client: &C,
    s: &SkillRow,
    expected: i64,
) -> StoreResult<bool> {
    let n = client
        .execute(
            "UPDATE skills SET updated_at = $3, version = $4, body = $5
             WHERE id = $1 AND tenant_id = $2 AND version = $6",
            &[
                &s.id,
                &s.tenant_id,
                &s.updated_at,
                &s.version,
                &s.body,
                &expected,
            ],
        )
        .await
        .map_err(pg)?;
    Ok(n > 0)
}

pub async fn insert_skill<C: GenericClient>(
    client: &C,
    s: &SkillRow,
    first: &SkillVersionRow,
) -> StoreResult<()> {
    client
        .execute(
            &format!("INSERT INTO skills ({SKILL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"),
            &[
                &s.id,
                &s.tenant_id,
                &s.name,
                &s.created_at,
                &s.updated_at,
                &s.version,
                &s.body,
            ],
        )
        .await
        .map_err(pg)?;
    insert_version(client, first).await
}

pub async fn get_skill<C: GenericClient>(
    client: &C,
    tenant_id: &str,
    id: &str,
) -> StoreResult<Option<SkillRow>> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {SKILL_COLUMNS} FROM skills WHERE id = $1 AND tenant_id = $2"
        ))
        .await
        .map_err(pg)?;
    Ok(client
        .query_opt(&stmt, &[&id, &tenant_id])
        .await
        .map_err(pg)?
        .as_ref()
        .map(skill))
}

pub async fn list_skills<C: GenericClient>(
    client: &C,
    tenant_id: &str,
    query: &DocumentQuery,
) -> StoreResult<Vec<SkillRow>> {
    let mut sql = format!("SELECT {SKILL_COLUMNS} FROM skills WHERE tenant_id = $1");
    let mut params: Vec<Param> = vec![Box::new(tenant_id.to_owned())];
    push_filters(&mut sql, &mut params, query, "id", false, false);
    let rows = client.query(&sql, &refs(&params)).await.map_err(pg)?;
    Ok(rows.iter().map(skill).collect())
}

pub async fn add_skill_version<C: GenericClient>(
    client: &C,
    s: &SkillRow,
    v: &SkillVersionRow,
    expected: i64,
) -> StoreResult<bool> {
    if !update_skill(client, s, expected).await? {
        return Ok(false);
    }
    insert_version(client, v).await?;
    Ok(true)
}

pub async fn get_skill_version<C: GenericClient>(
    client: &C,
    tenant_id: &str,
    skill_id: &str,
    version_id: &str,
) -> StoreResult<Option<SkillVersionRow>> {
    let row = client
        .query_opt(
            &format!("SELECT {VERSION_COLUMNS} FROM skill_versions WHERE skill_id = $1 AND id = $2 AND tenant_id = $3"),
            &[&skill_id, &version_id, &tenant_id],
        )
        .await
        .map_err(pg)?;
    Ok(row.as_ref().map(skill_version))
}

pub async fn list_skill_versions<C: GenericClient>(
    client: &C,
    tenant_id: &str,
    skill_id: &str,
    query: &DocumentQuery,
) -> StoreResult<Vec<SkillVersionRow>> {
    let mut sql = format!(
        "SELECT {VERSION_COLUMNS} FROM skill_versions WHERE tenant_id = $1 AND skill_id = $2"
    );
    let mut params: Vec<Param> = vec![
        Box::new(tenant_id.to_owned()),
        Box::new(skill_id.to_owned()),
    ];
    push_filters(&mut sql, &mut params, query, "id", false, false);
    let rows = client.query(&sql, &refs(&params)).await.map_err(pg)?;
    Ok(rows.iter().map(skill_version).collect())
}

pub async fn delete_skill_version<C: GenericClient>(
    client: &C,
    s: &SkillRow,
    version_id: &str,
    expected: i64,
) -> StoreResult<bool> {
    if !update_skill(client, s, expected).await? {
        return Ok(false);
    }
    client
        .execute(
            "DELETE FROM skill_versions WHERE skill_id = $1 AND id = $2 AND tenant_id = $3",
            &[&s.id, &version_id, &s.tenant_id],
        )
        .await
        .map_err(pg)?;
    Ok(true)
}

pub async fn delete_skill<C: GenericClient>(
    client: &C,
    tenant_id: &str,
    id: &str,
) -> StoreResult<bool> {
    let n = client
        .execute(
            "DELETE FROM skills WHERE id = $1 AND tenant_id = $2",
            &[&id, &tenant_id],
        )
        .await
        .map_err(pg)?;
    if n > 0 {
        client
            .execute(
                "DELETE FROM skill_versions WHERE skill_id = $1 AND tenant_id = $2",
                &[&id, &tenant_id],
            )
            .await
            .map_err(pg)?;
    }
    Ok(n > 0)
}
