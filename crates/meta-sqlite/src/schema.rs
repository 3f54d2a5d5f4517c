//! Versioned schema migrations, tracked in `PRAGMA user_version`.

use rusqlite::Connection;

/// Migration `i` takes the schema from version `i` to `i + 1`. Append only.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE collections (
    name               TEXT PRIMARY KEY,
    id                 TEXT NOT NULL UNIQUE,
    dimension          INTEGER NOT NULL,
    distance_metric    TEXT NOT NULL,
    indexing_algorithm TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    vector_count       INTEGER NOT NULL,
    total_size_bytes   INTEGER NOT NULL,
    config             TEXT NOT NULL,
    access_pattern     TEXT NOT NULL,
    description        TEXT,
    tags               TEXT NOT NULL,
    owner              TEXT,
    version            INTEGER NOT NULL,
    expires_at         INTEGER
);
CREATE INDEX collections_owner ON collections(owner);
CREATE INDEX collections_access_pattern ON collections(access_pattern);
CREATE VIRTUAL TABLE collections_fts USING fts5(
    name, description, tags, owner, content = 'collections', content_rowid = 'rowid'
);
CREATE TRIGGER collections_fts_insert AFTER INSERT ON collections BEGIN
    INSERT INTO collections_fts(rowid, name, description, tags, owner)
    VALUES (new.rowid, new.name, new.description, new.tags, new.owner);
END;
CREATE TRIGGER collections_fts_delete AFTER DELETE ON collections BEGIN
    INSERT INTO collections_fts(collections_fts, rowid, name, description, tags, owner)
    VALUES ('delete', old.rowid, old.name, old.description, old.tags, old.owner);
END;
CREATE TRIGGER collections_fts_update AFTER UPDATE ON collections BEGIN
    INSERT INTO collections_fts(collections_fts, rowid, name, description, tags, owner)
    VALUES ('delete', old.rowid, old.name, old.description, old.tags, old.owner);
    INSERT INTO collections_fts(rowid, name, description, tags, owner)
    VALUES (new.rowid, new.name, new.description, new.tags, new.owner);
END;
"#];

/// The schema version this build writes.
pub(crate) const CURRENT: usize = MIGRATIONS.len();

/// Applies the migrations the database has not seen, each in its own transaction.
/// Returns the version found; a newer schema than this build knows is left untouched.
pub(crate) fn migrate(conn: &mut Connection) -> rusqlite::Result<usize> {
    let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    if version > CURRENT {
        return Ok(version);
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_fts5_is_compiled_in() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), 0);
        assert_eq!(migrate(&mut conn).unwrap(), CURRENT);
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE name IN ('collections', 'collections_fts')", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(tables, 2);
    }
}
