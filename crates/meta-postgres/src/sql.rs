//! The catalogue operations in SQL, on a pooled client or inside a transaction.

use proxima_core::{Error, Result, now_unix_secs};
use proxima_meta::{AccessPattern, CollectionMetadata, ListFilter, ListPage, missing};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, Row};

const COLUMNS: &str = "name, id, dimension, distance_metric, indexing_algorithm, created_at, updated_at, \
    vector_count, total_size_bytes, config, access_pattern, description, tags, owner, version, expires_at";

/// Rows not past their expiry, with the current time as parameter `$1`.
const VISIBLE: &str = "(expires_at IS NULL OR expires_at > $1)";

/// Translates driver errors at the boundary, keeping the driver error as source.
pub fn db_error(e: tokio_postgres::Error) -> Error {
    match e.code() {
        Some(c) if *c == SqlState::UNIQUE_VIOLATION => {
            Error::already_exists("a collection with that name or id exists").with_source(e)
        }
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED => {
            Error::conflict("the transaction collided with another; retry").with_source(e)
        }
        Some(c) if c.code().starts_with("08") || c.code().starts_with("57") => {
            Error::unavailable("PostgreSQL is unavailable").with_source(e)
        }
        Some(_) => Error::internal("PostgreSQL refused the statement").with_source(e),
        // No SQLSTATE: the connection broke, timed out or was closed.
        None => Error::unavailable("PostgreSQL connection failed").with_source(e),
    }
}

fn now_secs() -> i64 {
    now_unix_secs() as i64
}

fn from_row(row: &Row) -> Result<CollectionMetadata> {
    let corrupt = |what: &str| Error::corrupted(format!("stored collection has a bad {what}"));
    let metric: String = row.get(3);
    let pattern: String = row.get(10);
    Ok(CollectionMetadata {
        name: row.get(0),
        id: row.get(1),
        dimension: u32::try_from(row.get::<_, i32>(2)).map_err(|_| corrupt("dimension"))?,
        distance_metric: serde_json::from_value(serde_json::Value::String(metric)).map_err(|_| corrupt("metric"))?,
        indexing_algorithm: row.get(4),
        created_at: row.get(5),
        updated_at: row.get(6),
        vector_count: row.get::<_, i64>(7) as u64,
        total_size_bytes: row.get::<_, i64>(8) as u64,
        config: row.get(9),
        access_pattern: AccessPattern::parse(&pattern)?,
        description: row.get(11),
        tags: row.get(12),
        owner: row.get(13),
        version: row.get::<_, i64>(14) as u64,
        expires_at: row.get::<_, Option<i64>>(15).map(|v| v as u64),
    })
}

fn metric_name(m: &CollectionMetadata) -> String {
    serde_json::to_value(m.distance_metric).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// Inserts `m`, or with `replacing = Some(version)` overwrites the row of that name
/// and version in place (an `UPDATE`, so concurrent row locks see the new version).
async fn write_row<C: GenericClient>(
    c: &C,
    table: &str,
    m: &CollectionMetadata,
    replacing: Option<u64>,
) -> Result<u64> {
    let sql = match replacing {
        None => format!(
            "INSERT INTO {table} ({COLUMNS}, search_text) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
        ),
        Some(_) => format!(
            "UPDATE {table} SET id = $2, dimension = $3, distance_metric = $4, indexing_algorithm = $5, \
             created_at = $6, updated_at = $7, vector_count = $8, total_size_bytes = $9, config = $10, \
             access_pattern = $11, description = $12, tags = $13, owner = $14, version = $15, \
             expires_at = $16, search_text = $17 WHERE name = $1 AND version = $18"
        ),
    };
    let old_version = replacing.map(|v| v as i64);
    let params: [&(dyn ToSql + Sync); 18] = [
        &m.name,
        &m.id,
        &(m.dimension as i32),
        &metric_name(m),
        &m.indexing_algorithm,
        &m.created_at,
        &m.updated_at,
        &(m.vector_count as i64),
        &(m.total_size_bytes as i64),
        &m.config,
        &m.access_pattern.as_str(),
        &m.description,
        &m.tags,
        &m.owner,
        &(m.version as i64),
        &m.expires_at.map(|v| v as i64),
        &m.search_words().join(" "),
        &old_version,
    ];
    let n = if replacing.is_some() { 18 } else { 17 };
    c.execute(&sql, &params[..n]).await.map_err(db_error)
}

async fn insert<C: GenericClient>(c: &C, table: &str, m: &CollectionMetadata) -> Result<()> {
    write_row(c, table, m, None).await.map(|_| ())
}

/// The visible entry named `name`; `lock` takes a row lock for the transaction.
pub(crate) async fn get<C: GenericClient>(
    c: &C,
    table: &str,
    name: &str,
    lock: bool,
) -> Result<Option<CollectionMetadata>> {
    let suffix = if lock { " FOR UPDATE" } else { "" };
    let sql = format!("SELECT {COLUMNS} FROM {table} WHERE name = $2 AND {VISIBLE}{suffix}");
    let row = c.query_opt(&sql, &[&now_secs(), &name]).await.map_err(db_error)?;
    row.as_ref().map(from_row).transpose()
}

pub(crate) async fn create<C: GenericClient>(c: &C, table: &str, m: &CollectionMetadata) -> Result<CollectionMetadata> {
    m.validate()?;
    // Expired entries give up their name and id.
    let sql = format!("DELETE FROM {table} WHERE (name = $2 OR id = $3) AND NOT {VISIBLE}");
    c.execute(&sql, &[&now_secs(), &m.name, &m.id]).await.map_err(db_error)?;
    let stored = m.as_created();
    insert(c, table, &stored).await.map_err(|e| match e.kind() {
        proxima_core::ErrorKind::AlreadyExists => {
            Error::already_exists(format!("collection `{}` or id `{}` already exists", m.name, m.id))
        }
        _ => e,
    })?;
    Ok(stored)
}

/// Must run in a transaction: the row lock orders concurrent updates.
pub(crate) async fn update<C: GenericClient>(c: &C, table: &str, m: &CollectionMetadata) -> Result<CollectionMetadata> {
    m.validate()?;
    let current = get(c, table, &m.name, true).await?.ok_or_else(|| missing(&m.name))?;
    let stored = m.as_update_of(&current)?;
    if write_row(c, table, &stored, Some(current.version)).await? == 0 {
        return Err(Error::conflict(format!("collection `{}` changed concurrently", m.name)));
    }
    Ok(stored)
}

pub(crate) async fn delete<C: GenericClient>(c: &C, table: &str, name: &str, expected: Option<u64>) -> Result<()> {
    get(c, table, name, true).await?.ok_or_else(|| missing(name))?.check_delete(expected)?;
    c.execute(&format!("DELETE FROM {table} WHERE name = $1"), &[&name]).await.map_err(db_error)?;
    Ok(())
}

/// Stores `m` verbatim, replacing any entry with its name or id.
pub(crate) async fn put_verbatim<C: GenericClient>(c: &C, table: &str, m: &CollectionMetadata) -> Result<()> {
    m.validate()?;
    c.execute(&format!("DELETE FROM {table} WHERE name = $1 OR id = $2"), &[&m.name, &m.id]).await.map_err(db_error)?;
    insert(c, table, m).await
}

pub(crate) async fn list<C: GenericClient>(c: &C, table: &str, filter: &ListFilter) -> Result<ListPage> {
    let limit = filter.page_size()?;
    let mut clauses = vec![VISIBLE.to_string()];
    let mut params: Vec<Box<dyn ToSql + Sync + Send>> = vec![Box::new(now_secs())];
    let mut arg = |v: Box<dyn ToSql + Sync + Send>| {
        params.push(v);
        format!("${}", params.len())
    };
    if let Some(token) = &filter.page_token {
        clauses.push(format!("name COLLATE \"C\" > {}", arg(Box::new(token.clone()))));
    }
    if let Some(prefix) = &filter.name_prefix {
        clauses.push(format!("starts_with(name, {})", arg(Box::new(prefix.clone()))));
    }
    if let Some(owner) = &filter.owner {
        clauses.push(format!("owner = {}", arg(Box::new(owner.clone()))));
    }
    if let Some(pattern) = filter.access_pattern {
        clauses.push(format!("access_pattern = {}", arg(Box::new(pattern.as_str().to_string()))));
    }
    if !filter.tags_any.is_empty() {
        clauses.push(format!("tags && {}::text[]", arg(Box::new(filter.tags_any.clone()))));
    }
    if !filter.tags_all.is_empty() {
        clauses.push(format!("tags @> {}::text[]", arg(Box::new(filter.tags_all.clone()))));
    }
    let terms = filter.terms();
    if !terms.is_empty() {
        let query = arg(Box::new(terms.join(" ")));
        clauses.push(format!("to_tsvector('simple', search_text) @@ plainto_tsquery('simple', {query})"));
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM {table} WHERE {} ORDER BY name COLLATE \"C\" LIMIT {}",
        clauses.join(" AND "),
        limit + 1
    );
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
    let rows = c.query(&sql, &refs).await.map_err(db_error)?;
    let items = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    Ok(ListPage::from_overfetch(items, limit))
}

/// Every stored entry, expired ones included (for backups).
pub(crate) async fn all<C: GenericClient>(c: &C, table: &str) -> Result<Vec<CollectionMetadata>> {
    let rows = c.query(&format!("SELECT {COLUMNS} FROM {table} ORDER BY name"), &[]).await.map_err(db_error)?;
    rows.iter().map(from_row).collect()
}

pub(crate) async fn count_visible<C: GenericClient>(c: &C, table: &str) -> Result<u64> {
    let row = c
        .query_one(&format!("SELECT count(*) FROM {table} WHERE {VISIBLE}"), &[&now_secs()])
        .await
        .map_err(db_error)?;
    Ok(row.get::<_, i64>(0) as u64)
}
