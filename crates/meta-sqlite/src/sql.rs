//! The catalogue operations in SQL, on a connection or inside a transaction.

use proxima_core::{DistanceMetric, Error, Result, now_unix_secs};
use proxima_meta::{AccessPattern, CollectionMetadata, ListFilter, ListPage, missing};
use rusqlite::types::Value;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, params};

const COLUMNS: &str = "name, id, dimension, distance_metric, indexing_algorithm, created_at, updated_at, \
    vector_count, total_size_bytes, config, access_pattern, description, tags, owner, version, expires_at";

/// A visible row: not past its expiry.
const VISIBLE: &str = "(expires_at IS NULL OR expires_at > ?1)";

/// Translates driver errors at the boundary, keeping the driver error as source.
pub(crate) fn db_error(e: rusqlite::Error) -> Error {
    let kind = match e.sqlite_error_code() {
        Some(ErrorCode::ConstraintViolation) => {
            return Error::already_exists("a collection with that name or id exists").with_source(e);
        }
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Error::unavailable("the SQLite database is busy"),
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
            Error::corrupted("the SQLite database is damaged")
        }
        _ => Error::internal("SQLite call failed"),
    };
    kind.with_source(e)
}

fn metric_name(m: DistanceMetric) -> String {
    serde_json::to_value(m).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn corrupt<E: std::error::Error + Send + Sync + 'static>(column: usize) -> impl FnOnce(E) -> rusqlite::Error {
    move |e| rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, Box::new(e))
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<CollectionMetadata> {
    let metric: String = row.get(3)?;
    let config: String = row.get(9)?;
    let pattern: String = row.get(10)?;
    let tags: String = row.get(12)?;
    Ok(CollectionMetadata {
        name: row.get(0)?,
        id: row.get(1)?,
        dimension: row.get(2)?,
        distance_metric: serde_json::from_value(serde_json::Value::String(metric)).map_err(corrupt(3))?,
        indexing_algorithm: row.get(4)?,
        created_at: row.get(5)?,
        updated_at: row.get(6)?,
        vector_count: row.get::<_, i64>(7)? as u64,
        total_size_bytes: row.get::<_, i64>(8)? as u64,
        config: serde_json::from_str(&config).map_err(corrupt(9))?,
        access_pattern: AccessPattern::parse(&pattern).map_err(corrupt(10))?,
        description: row.get(11)?,
        tags: serde_json::from_str(&tags).map_err(corrupt(12))?,
        owner: row.get(13)?,
        version: row.get::<_, i64>(14)? as u64,
        expires_at: row.get::<_, Option<i64>>(15)?.map(|v| v as u64),
    })
}

fn insert(conn: &Connection, m: &CollectionMetadata) -> Result<()> {
    conn.execute(
        &format!("INSERT INTO collections ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"),
        params![
            m.name,
            m.id,
            m.dimension,
            metric_name(m.distance_metric),
            m.indexing_algorithm,
            m.created_at,
            m.updated_at,
            m.vector_count as i64,
            m.total_size_bytes as i64,
            m.config.to_string(),
            m.access_pattern.as_str(),
            m.description,
            serde_json::to_string(&m.tags).unwrap_or_else(|_| "[]".into()),
            m.owner,
            m.version as i64,
            m.expires_at.map(|v| v as i64),
        ],
    )
    .map_err(db_error)?;
    Ok(())
}

/// The visible entry named `name`.
pub(crate) fn get(conn: &Connection, name: &str) -> Result<Option<CollectionMetadata>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM collections WHERE name = ?2 AND {VISIBLE}"),
        params![now_unix_secs() as i64, name],
        from_row,
    )
    .optional()
    .map_err(db_error)
}

pub(crate) fn create(conn: &Connection, m: &CollectionMetadata) -> Result<CollectionMetadata> {
    m.validate()?;
    // Expired entries give up their name and id.
    conn.execute(
        &format!("DELETE FROM collections WHERE (name = ?2 OR id = ?3) AND NOT {VISIBLE}"),
        params![now_unix_secs() as i64, m.name, m.id],
    )
    .map_err(db_error)?;
    let stored = m.as_created();
    insert(conn, &stored).map_err(|e| match e.kind() {
        proxima_core::ErrorKind::AlreadyExists => {
            Error::already_exists(format!("collection `{}` or id `{}` already exists", m.name, m.id))
        }
        _ => e,
    })?;
    Ok(stored)
}

pub(crate) fn update(conn: &Connection, m: &CollectionMetadata) -> Result<CollectionMetadata> {
    m.validate()?;
    let current = get(conn, &m.name)?.ok_or_else(|| missing(&m.name))?;
    let stored = m.as_update_of(&current)?;
    // The version condition makes the write itself the check, whatever runs concurrently.
    let changed = conn
        .execute("DELETE FROM collections WHERE name = ?1 AND version = ?2", params![m.name, current.version as i64])
        .map_err(db_error)?;
    if changed == 0 {
        return Err(Error::conflict(format!("collection `{}` changed concurrently", m.name)));
    }
    insert(conn, &stored)?;
    Ok(stored)
}

pub(crate) fn delete(conn: &Connection, name: &str, expected_version: Option<u64>) -> Result<()> {
    get(conn, name)?.ok_or_else(|| missing(name))?.check_delete(expected_version)?;
    conn.execute("DELETE FROM collections WHERE name = ?1", params![name]).map_err(db_error)?;
    Ok(())
}

/// Stores `m` verbatim, replacing any entry with its name or id.
pub(crate) fn put_verbatim(conn: &Connection, m: &CollectionMetadata) -> Result<()> {
    m.validate()?;
    conn.execute("DELETE FROM collections WHERE name = ?1 OR id = ?2", params![m.name, m.id]).map_err(db_error)?;
    insert(conn, m)
}

/// An FTS5 query requiring every term, each quoted so no term is read as syntax.
fn fts_query(terms: &[String]) -> String {
    terms.iter().map(|t| format!("\"{}\"", t.replace('"', "\"\""))).collect::<Vec<_>>().join(" AND ")
}

pub(crate) fn list(conn: &Connection, filter: &ListFilter) -> Result<ListPage> {
    let limit = filter.page_size()?;
    let mut clauses = vec![VISIBLE.to_string()];
    let mut args: Vec<Value> = vec![Value::Integer(now_unix_secs() as i64)];
    let arg = |v: Value, args: &mut Vec<Value>| {
        args.push(v);
        format!("?{}", args.len())
    };
    if let Some(token) = &filter.page_token {
        clauses.push(format!("name > {}", arg(Value::Text(token.clone()), &mut args)));
    }
    if let Some(prefix) = &filter.name_prefix {
        let escaped = prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        clauses.push(format!("name LIKE {} ESCAPE '\\'", arg(Value::Text(format!("{escaped}%")), &mut args)));
    }
    if let Some(owner) = &filter.owner {
        clauses.push(format!("owner = {}", arg(Value::Text(owner.clone()), &mut args)));
    }
    if let Some(pattern) = filter.access_pattern {
        clauses.push(format!("access_pattern = {}", arg(Value::Text(pattern.as_str().into()), &mut args)));
    }
    if !filter.tags_any.is_empty() {
        let list: Vec<String> = filter.tags_any.iter().map(|t| arg(Value::Text(t.clone()), &mut args)).collect();
        clauses.push(format!("EXISTS (SELECT 1 FROM json_each(tags) WHERE value IN ({}))", list.join(", ")));
    }
    for tag in &filter.tags_all {
        clauses.push(format!(
            "EXISTS (SELECT 1 FROM json_each(tags) WHERE value = {})",
            arg(Value::Text(tag.clone()), &mut args)
        ));
    }
    let terms = filter.terms();
    if !terms.is_empty() {
        let query = arg(Value::Text(fts_query(&terms)), &mut args);
        clauses.push(format!("rowid IN (SELECT rowid FROM collections_fts WHERE collections_fts MATCH {query})"));
    }
    let sql =
        format!("SELECT {COLUMNS} FROM collections WHERE {} ORDER BY name LIMIT {}", clauses.join(" AND "), limit + 1);
    let mut stmt = conn.prepare(&sql).map_err(db_error)?;
    let items = stmt
        .query_map(rusqlite::params_from_iter(args), from_row)
        .map_err(db_error)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_error)?;
    Ok(ListPage::from_overfetch(items, limit))
}

pub(crate) fn count_visible(conn: &Connection) -> Result<u64> {
    conn.query_row(&format!("SELECT count(*) FROM collections WHERE {VISIBLE}"), params![now_unix_secs() as i64], |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| n as u64)
    .map_err(db_error)
}
